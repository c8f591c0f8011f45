"""Records dated far in the future or the past (a mistyped year) through `civic-kpi compute`, on the bundled
catalog with tiny hand-made exports.

The rules under test (engine/polars_executor.py catalog_span and newest_query, data/known.py):
- The default moment is the newest stamp at or before today (the run's clock, in the catalog's zone): one record
  dated 9999-12-31 or 2099-06-01 neither ends the run in exit 3 nor moves every default period to 2099.
- Such a record is after the moment: it is left out, as any record after the moment is, and the note also says how
  many stamps of each column are dated after today.
- A record dated before 1900 falls in no period: it is counted in a note and is not the dataset's first record (as
  that, 0001-01-01 would hide that the data starts in October 2026).
- An explicit --as-of after today stays allowed.

The clock is fixed at 2026-12-03 10:00 (Chicago, the catalog's zone) for every test here.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.test_kpis_by_hand import rec, sr, write_311, write_records

TODAY = datetime(2026, 12, 3, 10, 0)


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr("civic_kpi.time.moment.wall_clock", lambda timezone=None: TODAY)


def compute(cli, catalog: Path, *options: str) -> dict:
    done = cli("compute", "-c", catalog, *options, "-f", "json")
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def overall(document: dict, kpi: str) -> dict:
    [row] = [r for r in document["results"] if r["kpi_id"] == kpi and r["group"] == {}]
    return row


def records_notes(document: dict) -> list[str]:
    return [n for n in document["notes"] if n.startswith("records_requests:")]


# Three real requests; the newest stamp is c's closure on 11/03/2026.
REAL = [
    rec("10/05/2026", closed="10/10/2026", due="10/20/2026"),  # a: closed in Oct, on time
    rec("10/06/2026", closed="10/25/2026", due="10/20/2026"),  # b: closed in Oct, late
    rec("11/02/2026", closed="11/03/2026", due="11/16/2026"),  # c: closed in Nov
]


@pytest.mark.parametrize("typo", ["12/31/9999", "06/01/2099"])
def test_one_record_dated_in_the_future_leaves_the_latest_month_as_it_was(cli, catalog, data, typo):
    write_records(data, [*REAL, rec(typo)])  # an open request received on the mistyped day
    # Before: 9999 ended in exit 3 (a date overflow); 2099 made the moment 2099-06-01 and the period 2099-05, empty.
    document = compute(cli, catalog, "-k", "records_on_time")
    # The moment is c's closure, the newest stamp up to today; the latest complete month at it is October.
    assert document["as_of"] == "2026-11-03T00:00:00"
    assert document["period"]["label"] == "2026-10"
    # records_on_time in October: a and b closed, a on time -> 1 / 2
    on_time = overall(document, "records_on_time")
    assert (on_time["numerator"], on_time["denominator"], on_time["value"]) == (1, 2, 50.0)
    assert records_notes(document) == [
        "records_requests: 1 record whose received_date is after the as-of moment (2026-11-03 00:00) did not exist "
        "yet and is left out; 1 received_date is dated after today (2026-12-03 10:00): check it for a mistyped year"
    ]


def test_future_stamps_are_counted_per_column(cli, catalog, data):
    write_records(
        data,
        [
            *REAL,
            rec("12/31/9999"),  # d: received in 9999
            rec("06/01/2099", closed="06/02/2099"),  # e: received and closed in 2099
            rec("10/07/2026", closed="10/07/2099", due="10/21/2026"),  # f: received in Oct, closed in 2099
        ],
    )
    document = compute(cli, catalog, "-k", "records_on_time")
    assert document["as_of"] == "2026-11-03T00:00:00"
    # f's closure had not happened at the moment: f is open, not in records_on_time's October -> still 1 / 2
    on_time = overall(document, "records_on_time")
    assert (on_time["numerator"], on_time["denominator"]) == (1, 2)
    assert records_notes(document) == [
        # d and e did not exist; f's closed_date is blanked
        "records_requests: 2 records whose received_date is after the as-of moment (2026-11-03 00:00) did not exist "
        "yet and are left out; stamps after the moment had not happened yet and read as missing (1 closed_date; a "
        "column planned ahead, such as a due date, is marked scheduled: true); "
        # closed_date: e, f; received_date: d, e
        "2 closed_date, 2 received_date are dated after today (2026-12-03 10:00): check them for a mistyped year"
    ]


def test_a_timestamp_in_9999_in_the_311_export(cli, catalog, data):
    write_311(
        data,
        [
            sr("2026-10-05 09:00:00", "2026-10-05 10:00:00", channel="Web"),
            sr("2026-10-06 09:00:00", "2026-10-06 10:00:00", channel="Phone"),
            sr("2026-11-02 09:00:00", "2026-11-02 12:30:00", channel="Web"),
            sr("9999-12-31 23:59:59", None, "Open", channel="Web"),
        ],
    )
    document = compute(cli, catalog, "-k", "digital_channel_adoption")
    assert document["as_of"] == "2026-11-02T12:30:00"  # the newest closure
    # October: two requests, one on the web -> 1 / 2
    adoption = overall(document, "digital_channel_adoption")
    assert (adoption["numerator"], adoption["denominator"]) == (1, 2)
    notes = [n for n in document["notes"] if n.startswith("service_requests:")]
    assert notes == [
        "service_requests: 1 record whose created_at is after the as-of moment (2026-11-02 12:30) did not exist yet "
        "and is left out; 1 created_at is dated after today (2026-12-03 10:00): check it for a mistyped year"
    ]


def test_when_every_record_is_after_today_the_moment_is_today(cli, catalog, data):
    write_records(data, [rec("06/01/2099", closed="06/02/2099", due="06/15/2099")])
    document = compute(cli, catalog, "-k", "records_on_time")
    assert document["as_of"] == "2026-12-03T10:00:00"
    assert document["period"]["label"] == "2026-11"  # the latest month complete today
    assert overall(document, "records_on_time")["value"] is None
    assert records_notes(document) == [
        "records_requests: 1 record whose received_date is after the as-of moment (2026-12-03 10:00) did not exist "
        "yet and is left out; 1 closed_date, 1 received_date are dated after today (2026-12-03 10:00): check them "
        "for a mistyped year"
    ]


def test_an_explicit_as_of_after_today_stays_allowed(cli, catalog, data):
    write_records(data, [*REAL, rec("06/01/2099")])
    document = compute(cli, catalog, "-k", "records_on_time", "--as-of", "2030-01-01")
    assert document["as_of"] == "2030-01-01T00:00:00"
    assert document["period"]["label"] == "2029-12"
    assert records_notes(document) == [
        "records_requests: 1 record whose received_date is after the as-of moment (2030-01-01 00:00) did not exist "
        "yet and is left out; 1 received_date is dated after today (2026-12-03 10:00): check it for a mistyped year"
    ]


def test_a_record_dated_0001_01_01_is_counted_and_is_not_the_first_record(cli, catalog, data):
    write_records(data, [*REAL, rec("01/01/0001")])
    document = compute(cli, catalog, "-k", "records_on_time")
    assert document["as_of"] == "2026-11-03T00:00:00"
    on_time = overall(document, "records_on_time")
    assert (on_time["numerator"], on_time["denominator"]) == (1, 2)
    assert records_notes(document) == [
        "records_requests: 1 record is dated before 1900 (received_date), before any period: check it for a "
        "mistyped year"
    ]
    # The first real record is a, on 2026-10-05, inside October: its values cover only part of it. With 0001-01-01
    # as the first record that note went missing.
    assert any("records_requests" in n and "(2026-10-05)" in n for n in document["notes"])
