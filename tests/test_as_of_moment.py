"""The one as-of moment of a run, tested at its exact boundaries with tiny hand-made exports.

The rules under test (time/moment.py, data/known.py, engine/compute.py, engine/polars_executor.py):

- One moment per run. A date-only --as-of is midnight of that day in the catalog's zone (America/Chicago). The moment
  printed (`ComputeRun.as_of`, JSON `as_of`) is, to the microsecond, the `as_of` every formula sees, capped at the
  period's end for earlier periods. Without --as-of it is the newest stamp of the catalog's data.
- Ages involving a `date` column are spreadsheet day arithmetic (2014-05-01 minus 2014-04-01 is 30 days); durations
  between timestamps are elapsed time, DST-aware.
- "As of" is the data as known then: a record whose date column is after the moment did not exist yet; an event stamp
  after it had not happened yet and reads as missing; `scheduled: true` columns are kept. A stamp equal to the moment
  is known; a date d is midnight of d.
- Follow-up windows are judged only once closed_at + 30 days <= the moment.
- Notes say when the moment is after the newest record and when the period runs past the moment.

Every expected value is worked out by hand in the comment beside it. The SLA table of the hand-worked tests gives a
Pothole 1 calendar day (due at created + 1 day, same clock time) and a Streetlight 5 calendar days.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

import civic_kpi
from civic_kpi.results import ComputeRun, KpiResult
from tests.test_kpis_by_hand import rec, sr, write_311, write_records

# ----------------------------------------------------------------------------------------------- helpers

# Probe KPIs added to the copy of the bundled catalog, so a test can read the formula's `as_of` itself:
# - the age in seconds, at the moment, of the newest request that existed then (0 when one was created exactly at
#   it); a snapshot, so its `as_of` is the moment capped at the period's end;
# - the records backlog's formula on the 311 timestamp column instead of the records' date column.
PROBES = """
  - id: newest_request_age_seconds
    name: Age of the newest request
    domain: Test probes
    unit: seconds
    dataset: service_requests
    window: {snapshot: true}
    value: min(seconds_between(created_at, as_of))

  - id: requests_open_over_30_days
    name: Open requests older than 30 days
    domain: Test probes
    unit: count
    dataset: service_requests
    window: {snapshot: true}
    value: count(created_at < as_of and (closed_at is None or closed_at >= as_of)
      and days_between(created_at, as_of) > 30)
"""
MARKER = "\n# Houston 311 policy 5.2"
FOLLOW_UP_PENDING = "all {} records of the period are still inside their follow-up window"
WIDE = {"COLUMNS": "200"}  # the table's header on one line


@pytest.fixture
def probed(catalog: Path) -> Path:
    """The bundled catalog with the probe KPIs appended to its list of KPIs."""
    text = catalog.read_text(encoding="utf-8")
    assert text.count(MARKER) == 1  # the probes go right after the last KPI
    catalog.write_text(text.replace(MARKER, PROBES + MARKER), encoding="utf-8")
    return catalog


def run_at(catalog: Path, kpis: list[str], as_of: str | None, period: str | None = None) -> ComputeRun:
    return civic_kpi.compute(catalog, period=period, kpis=kpis, as_of=as_of, by=[])


def overall(run: ComputeRun, kpi: str) -> KpiResult:
    rows = [r for r in run.results if r.kpi_id == kpi and r.group == {}]
    assert len(rows) == 1
    return rows[0]


def left_out_note(dataset: str, column: str, count: int, moment: str) -> str:
    return (
        f"{dataset}: {count} record{'s' if count != 1 else ''} whose {column} is after the as-of moment ({moment}) "
        f"did not exist yet and {'are' if count != 1 else 'is'} left out"
    )


def missing_part(listed: str) -> str:
    return (
        f"stamps after the moment had not happened yet and read as missing ({listed}; a column planned ahead, such "
        "as a due date, is marked scheduled: true)"
    )


# How the notes print a moment: to the minute, with the seconds only when there are any (written out by hand for the
# --as-of values below that are not already in that form).
PRINTED = {
    "2026-03-08": "2026-03-08 00:00",
    "2026-03-08 03:00:00": "2026-03-08 03:00",
    "2026-11-01": "2026-11-01 00:00",
}


def printed(as_of: str) -> str:
    return PRINTED.get(as_of, as_of)


def runs_past_note(period: str, moment: str) -> str:
    return f"the period {period} runs past the as-of time ({moment}); it is not complete"


def moment_notes(run: ComputeRun) -> list[str]:
    """The notes about the moment (left out, read as missing, runs past, after the newest record)."""
    words = ("as-of moment", "as-of time", "read as missing")
    return [note for note in run.notes if any(word in note for word in words)]


def json_run(cli, catalog: Path, *options: str) -> dict:
    done = cli("compute", "-c", catalog, *options, "-f", "json")
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def json_overall(document: dict, kpi: str) -> dict:
    rows = [r for r in document["results"] if r["kpi_id"] == kpi and r["group"] == {}]
    assert len(rows) == 1
    return rows[0]


# ----------------------------------------------------------------------------------------------- 1. exactly N days


# fmt: off
OVERDUE = [
    sr("2026-10-10 09:30:00", None, "Open", rtype="Streetlight"),   # 1: due 10-15 09:30:00 (5 calendar days)
    sr("2026-10-01 08:00:00", None, "Open"),                        # 2: due 10-02 08:00, overdue at every moment
    sr("2026-10-01 08:00:00", "2026-10-01 09:00:00"),               # 3: closed long before: never overdue
]
# fmt: on


@pytest.mark.parametrize(
    ("as_of", "overdue"),
    [
        # sla_overdue_open: created_at < as_of and still open and sla_due_at < as_of (strictly past the deadline).
        # 09:29:59: row 1 is 5 d - 1 s old, its deadline still ahead -> only row 2 -> 1
        ("2026-10-15 09:29:59", 1),
        # 09:30:00: row 1 exactly 5 d old, due == as_of is not past it -> 1
        ("2026-10-15 09:30:00", 1),
        # 09:30:01: 5 d + 1 s, past the deadline -> rows 1, 2 -> 2
        ("2026-10-15 09:30:01", 2),
    ],
)
def test_an_open_request_is_overdue_one_second_after_its_deadline_not_at_it(catalog, data, as_of, overdue):
    write_311(data, OVERDUE)
    run = run_at(catalog, ["sla_overdue_open"], as_of, "2026-10")
    assert run.as_of == datetime.fromisoformat(as_of)
    result = overall(run, "sla_overdue_open")
    assert result.value == overdue
    assert result.sample_size == overdue


# fmt: off
BACKLOG = [
    rec("04/01/2014"),                         # 1: open
    rec("03/31/2014"),                         # 2: open
    rec("04/02/2014"),                         # 3: open
    rec("03/01/2014", closed="04/15/2014"),    # 4: closed before every moment below
]
# fmt: on


@pytest.mark.parametrize(
    ("as_of", "period", "backlog"),
    [
        # 2014-05-01 00:00: row 1 is 30 d old (04-01 + 30 d = 05-01), not older than 30; row 2 is 31 d -> 1
        ("2014-05-01", "2014-04", 1),
        # one second later (the May snapshot, so as_of is not capped at April's end): row 1 is 30 d + 1 s > 30,
        # row 2 31 d + 1 s; row 3 29 d + 1 s -> 2
        ("2014-05-01 00:00:01", "2014-05", 2),
        # one second earlier: row 2 is 30 d 23:59:59 > 30, row 1 29 d 23:59:59 -> 1
        ("2014-04-30 23:59:59", "2014-04", 1),
    ],
)
def test_a_date_column_backlog_older_than_30_days_at_30_days_and_one_second_either_side(
    catalog, data, as_of, period, backlog
):
    write_records(data, BACKLOG)
    result = overall(run_at(catalog, ["records_backlog_over_30_days"], as_of, period), "records_backlog_over_30_days")
    assert result.value == backlog


def test_the_issue_example_as_of_2014_05_01_through_the_cli(cli, catalog, data):
    write_records(data, BACKLOG)
    document = json_run(cli, catalog, "--as-of", "2014-05-01", "-k", "records_backlog_over_30_days")
    # A date-only --as-of is midnight; the latest month complete at 2014-05-01 00:00 is April.
    assert document["as_of"] == "2014-05-01T00:00:00"
    assert document["period"]["label"] == "2014-04"
    # 04/01 is 30 days old (not older than 30), 03/31 is 31 (counted) -> 1
    assert json_overall(document, "records_backlog_over_30_days")["value"] == 1
    table = cli("compute", "-c", catalog, "--as-of", "2014-05-01", "-k", "records_backlog_over_30_days", env=WIDE)
    assert "data as of 2014-05-01 00:00" in table.stdout


# ----------------------------------------------------------------------------------------------- 2. date vs timestamp


def test_a_date_and_a_timestamp_at_the_same_instant_are_known_alike(catalog, data):
    # fmt: off
    write_311(data, [
        sr("2026-10-14 08:00:00", "2026-10-15 00:00:00"),    # a: Pothole due 10-15 08:00, closed at 10-15 00:00
        sr("2026-10-15 00:00:00", None, "Open"),             # b: created at 10-15 00:00
        sr("2026-10-15 00:00:01", None, "Open"),             # c: one second later
    ])
    write_records(data, [
        rec("09/01/2026", closed="10/15/2026", due="10/01/2026"),   # d: closed on 10/15 (midnight), late
        rec("10/15/2026"),                                          # e: received on 10/15
        rec("10/16/2026"),                                          # f: received on 10/16
    ])
    # fmt: on
    kpis = ["sla_compliance", "digital_channel_adoption", "records_on_time"]

    # As of 2026-10-15 00:00: the timestamp 10-15 00:00:00 and the date 10/15 are both the moment itself: known.
    at_midnight = run_at(catalog, kpis, "2026-10-15", "2026-10")
    # sla_compliance: closures in Oct known: a (closed exactly at the moment), on time -> 1/1 = 100
    sla = overall(at_midnight, "sla_compliance")
    assert (sla.numerator, sla.denominator) == (1, 1)
    # digital_channel_adoption: requests created in Oct that existed: a, b (c is 1 s later) -> 2/2
    assert (overall(at_midnight, "digital_channel_adoption").denominator) == 2
    # records_on_time: d closed 10/15 = the moment -> known, after its due 10/01 -> 0/1
    on_time = overall(at_midnight, "records_on_time")
    assert (on_time.numerator, on_time.denominator) == (0, 1)
    assert moment_notes(at_midnight) == [  # in the catalog's order of datasets
        left_out_note("service_requests", "created_at", 1, "2026-10-15 00:00"),  # c
        left_out_note("records_requests", "received_date", 1, "2026-10-15 00:00"),  # f
        runs_past_note("2026-10", "2026-10-15 00:00"),
    ]

    # One second earlier, both 10-15 values lie after the moment, the date exactly like the timestamp.
    before = run_at(catalog, kpis, "2026-10-14 23:59:59", "2026-10")
    # a's closure had not happened yet -> no closure in Oct -> no data
    assert overall(before, "sla_compliance").value is None
    assert overall(before, "sla_compliance").status_reason == "no records in the period"
    # only a existed -> 1
    assert overall(before, "digital_channel_adoption").denominator == 1
    # d's closure on 10/15 had not happened -> no data
    assert overall(before, "records_on_time").value is None
    assert overall(before, "records_on_time").status_reason == "no records in the period"
    assert moment_notes(before) == [
        # b, c did not exist; a's closed_at is blanked
        left_out_note("service_requests", "created_at", 2, "2026-10-14 23:59:59") + "; " + missing_part("1 closed_at"),
        # e, f did not exist; d's closed_date is blanked
        left_out_note("records_requests", "received_date", 2, "2026-10-14 23:59:59")
        + "; "
        + missing_part("1 closed_date"),
        runs_past_note("2026-10", "2026-10-14 23:59:59"),
    ]


@pytest.mark.parametrize(
    ("as_of", "period", "dates", "timestamps"),
    [
        # 2014-05-01 00:00: date 04/01 and timestamp 2014-04-01 00:00:00 are both exactly 30 d old: neither counts;
        # date 03/31 and 2014-03-31 00:00:00 are 31 d old: both count (no clock change between them) -> 1 and 1.
        ("2014-05-01", "2014-04", 1, 1),
        # 12:00 (the May snapshot): 04/01 -> 30.5 d (spreadsheet: 2014-05-01 12:00 - 2014-04-01 = 30.5) and 03/31
        # -> 31.5 d count, 04/02 -> 29.5 d does not; the timestamps are the same instants -> 2 and 2.
        ("2014-05-01 12:00", "2014-05", 2, 2),
    ],
)
def test_an_age_from_a_date_column_and_from_a_timestamp_column_agree_away_from_dst(
    probed, data, as_of, period, dates, timestamps
):
    write_records(data, [rec("04/01/2014"), rec("03/31/2014"), rec("04/02/2014")])
    write_311(
        data,
        [
            sr("2014-04-01 00:00:00", None, "Open"),
            sr("2014-03-31 00:00:00", None, "Open"),
            sr("2014-04-02 00:00:00", None, "Open"),
        ],
    )
    run = run_at(probed, ["records_backlog_over_30_days", "requests_open_over_30_days"], as_of, period)
    assert overall(run, "records_backlog_over_30_days").value == dates
    assert overall(run, "requests_open_over_30_days").value == timestamps


# ----------------------------------------------------------------------------------------------- 3. daylight saving
# America/Chicago, 2026: clocks spring forward on 2026-03-08 at 02:00 (to 03:00) and fall back on 2026-11-01 at
# 02:00 (to 01:00; 01:00-01:59 happen twice, read as the first time, CDT).


def test_time_to_close_across_either_clock_change_is_elapsed_hours(catalog, data):
    # fmt: off
    write_311(data, [
        sr("2026-03-07 22:00:00", "2026-03-08 04:00:00"),    # 6 wall-clock hours, 5 elapsed (02:00 skipped)
        sr("2026-10-31 22:00:00", "2026-11-01 04:00:00"),    # 6 wall-clock hours, 7 elapsed (01:00 repeated)
    ])
    # fmt: on
    march = overall(run_at(catalog, ["time_to_close_p90"], "2026-04-01", "2026-03"), "time_to_close_p90")
    assert (march.value, march.sample_size) == (pytest.approx(5.0), 1)  # P90 of one value is that value
    november = overall(run_at(catalog, ["time_to_close_p90"], "2026-12-01", "2026-11"), "time_to_close_p90")
    assert (november.value, november.sample_size) == (pytest.approx(7.0), 1)


@pytest.mark.parametrize(
    ("created", "counted"),
    [
        # As of 2026-11-14 00:00 (across the fall-back night): the date 10/15 is 30 calendar days old -> not > 30.
        # The timestamp 2026-10-15 00:00:00 (CDT) to 2026-11-14 00:00 (CST) is 30 d + 1 h elapsed -> > 30, counts.
        ("10-15", (0, 1)),
        # 10/16: 29 calendar days; 29 d + 1 h elapsed -> neither counts
        ("10-16", (0, 0)),
        # 10/14: 31 calendar days; 31 d + 1 h elapsed -> both count
        ("10-14", (1, 1)),
    ],
)
def test_across_the_fall_back_night_a_date_age_is_calendar_days_a_timestamp_age_is_elapsed(
    probed, data, created, counted
):
    month, day = created.split("-")
    write_records(data, [rec(f"{month}/{day}/2026")])
    write_311(data, [sr(f"2026-{created} 00:00:00", None, "Open")])
    run = run_at(probed, ["records_backlog_over_30_days", "requests_open_over_30_days"], "2026-11-14", "2026-11")
    assert (
        overall(run, "records_backlog_over_30_days").value,
        overall(run, "requests_open_over_30_days").value,
    ) == counted


@pytest.mark.parametrize(
    ("as_of", "left_out", "overdue", "age"),
    [
        # Date only: midnight, before the jump. Known: a (created 03-07 03:00); b, c left out. a is due 03-08 03:00,
        # not yet past -> 0. Newest known request a: 03-07 03:00 -> 03-08 00:00 = 21 h = 75600 s.
        ("2026-03-08", 2, 0, 75600.0),
        # 01:59:59: b created exactly at the moment -> known, age 0; c left out; a not yet due -> 0
        ("2026-03-08 01:59:59", 1, 0, 0.0),
        # 03:00:00 is ONE elapsed second after 01:59:59: b's age is 1 s (wall clock would say 3601 s); c (03:00:01)
        # left out; a's deadline 03:00:00 == as_of is not past it -> 0
        ("2026-03-08 03:00:00", 1, 0, 1.0),
        # 03:00:01: c created exactly now -> 0 s; a is past its deadline -> 1
        ("2026-03-08 03:00:01", 0, 1, 0.0),
    ],
)
def test_an_as_of_on_the_spring_forward_night(probed, data, as_of, left_out, overdue, age):
    # fmt: off
    write_311(data, [
        sr("2026-03-07 03:00:00", None, "Open"),                       # a: Pothole, due 2026-03-08 03:00:00
        sr("2026-03-08 01:59:59", None, "Open", rtype="Streetlight"),  # b: the last second before the jump
        sr("2026-03-08 03:00:01", None, "Open", rtype="Streetlight"),  # c: the second second after it
    ])
    # fmt: on
    run = run_at(probed, ["sla_overdue_open", "newest_request_age_seconds"], as_of, "2026-03")
    assert run.as_of == datetime.fromisoformat(as_of)
    assert overall(run, "sla_overdue_open").value == overdue
    assert overall(run, "newest_request_age_seconds").value == pytest.approx(age)
    shown = printed(as_of)
    expected = [left_out_note("service_requests", "created_at", left_out, shown)] if left_out else []
    assert moment_notes(run) == [*expected, runs_past_note("2026-03", shown)]


@pytest.mark.parametrize(
    ("as_of", "left_out", "overdue", "age"),
    [
        # 01:29:59 (first time round): c, d left out; a due 01:30:00 not yet; newest known b: 00:30 -> 01:29:59 =
        # 3599 s
        ("2026-11-01 01:29:59", 2, 0, 3599.0),
        # 01:30 (the ambiguous wall time, read as the first 01:30): c created exactly now -> known, 0 s; d left out;
        # a's deadline 01:30:00 == as_of is not past it
        ("2026-11-01 01:30", 1, 0, 0.0),
        # 01:30:01: d created exactly now; a overdue
        ("2026-11-01 01:30:01", 0, 1, 0.0),
        # 02:00 (CST, after the repeated hour): d at 01:30:01 CDT is 1 h 29 min 59 s = 5399 s old (wall clock: 1799);
        # the moment is after the newest record, d (said in a note, checked below)
        ("2026-11-01 02:00", 0, 1, 5399.0),
    ],
)
def test_an_as_of_on_the_fall_back_night(probed, data, as_of, left_out, overdue, age):
    # fmt: off
    write_311(data, [
        sr("2026-10-31 01:30:00", None, "Open"),                       # a: Pothole, due 2026-11-01 01:30:00
        sr("2026-11-01 00:30:00", None, "Open", rtype="Streetlight"),  # b
        sr("2026-11-01 01:30:00", None, "Open", rtype="Streetlight"),  # c
        sr("2026-11-01 01:30:01", None, "Open", rtype="Streetlight"),  # d
    ])
    # fmt: on
    run = run_at(probed, ["sla_overdue_open", "newest_request_age_seconds"], as_of, "2026-11")
    assert run.as_of == datetime.fromisoformat(as_of)
    assert overall(run, "sla_overdue_open").value == overdue
    assert overall(run, "newest_request_age_seconds").value == pytest.approx(age)
    shown = printed(as_of)
    expected = [left_out_note("service_requests", "created_at", left_out, shown)] if left_out else []
    expected.append(runs_past_note("2026-11", shown))
    if as_of == "2026-11-01 02:00":
        expected.append(
            "the as-of moment (2026-11-01 02:00) is after the newest record (2026-11-01 01:30:01): nothing after "
            "that is in the data"
        )
    assert moment_notes(run) == expected


@pytest.mark.parametrize(
    ("as_of", "overdue"),
    [
        # created 03-07 12:00 (CST), due 1 calendar day later at the same clock time, 03-08 12:00 (CDT): 23 elapsed
        # hours. At 12:00:00 the deadline is not past -> 0; one second later -> 1.
        ("2026-03-08 12:00:00", 0),
        ("2026-03-08 12:00:01", 1),
    ],
)
def test_a_calendar_day_deadline_across_spring_forward_is_the_same_clock_time(catalog, data, as_of, overdue):
    write_311(data, [sr("2026-03-07 12:00:00", None, "Open")])
    assert overall(run_at(catalog, ["sla_overdue_open"], as_of, "2026-03"), "sla_overdue_open").value == overdue


@pytest.mark.parametrize(
    ("as_of", "counts", "excluded", "reason"),
    [
        # closed 10-15 10:00 (CDT); closed_at + 30 days = 11-14 10:00 (CST), 30 d + 1 h elapsed. Judged only once
        # that wall-clock time is reached, the same arithmetic as the formula's `closed_at + days(30)`.
        # 09:59:59: not elapsed -> excluded 1, nothing judged: no value (the reopen at 10:00 has not happened either)
        ("2026-11-14 09:59:59", (None, None, None), 1, FOLLOW_UP_PENDING.format(1)),
        # 10:00:00: elapsed; reopened at 11-14 10:00 <= closed_at + days(30) -> reopened within -> 1/1 = 100
        ("2026-11-14 10:00:00", (pytest.approx(100.0), 1, 1), 0, None),
    ],
)
def test_a_follow_up_window_across_the_fall_back_night(catalog, data, as_of, counts, excluded, reason):
    write_311(data, [sr("2026-10-15 08:00:00", "2026-10-15 10:00:00", reopened="2026-11-14 10:00:00")])
    result = overall(run_at(catalog, ["reopen_rate"], as_of, "2026-10"), "reopen_rate")
    assert (result.value, result.numerator, result.denominator) == counts
    assert result.excluded == excluded
    if reason is not None:
        assert result.status_reason == reason


# ----------------------------------------------------------------------------------------------- 4. date-only vs timed


# fmt: off
MORNING = [
    sr("2026-09-30 23:00:00", "2026-10-01 08:00:00"),                # p: September's newest request
    sr("2026-10-14 21:30:00", None, "Open", rtype="Streetlight"),    # q
    sr("2026-10-15 09:30:00", None, "Open", rtype="Streetlight"),    # r: created at 09:30 exactly
    sr("2026-10-15 09:30:01", None, "Open", rtype="Streetlight"),    # s: one second later
]
# fmt: on


@pytest.mark.parametrize(
    ("as_of", "shown", "iso", "age", "created", "left_out"),
    [
        # Date only: midnight. Newest existing request q: 10-14 21:30 -> 10-15 00:00 = 2.5 h = 9000 s.
        # Created in Oct and existing: q -> 1; r, s left out.
        ("2026-10-15", "2026-10-15 00:00", "2026-10-15T00:00:00", 9000.0, 1, 2),
        # 09:29:59: r not yet; q is 12 h - 1 s = 43199 s old
        ("2026-10-15 09:29:59", "2026-10-15 09:29:59", "2026-10-15T09:29:59", 43199.0, 1, 2),
        # 09:30: r created exactly at the moment exists (0 s old); s does not
        ("2026-10-15 09:30", "2026-10-15 09:30", "2026-10-15T09:30:00", 0.0, 2, 1),
        # 09:30:01: s exists too
        ("2026-10-15 09:30:01", "2026-10-15 09:30:01", "2026-10-15T09:30:01", 0.0, 3, 0),
    ],
)
def test_a_date_only_and_a_timed_as_of_and_the_moment_printed_is_the_formulas(
    cli, probed, data, as_of, shown, iso, age, created, left_out
):
    write_311(data, MORNING)
    run = run_at(probed, ["newest_request_age_seconds", "digital_channel_adoption"], as_of, "2026-10")
    assert run.as_of == datetime.fromisoformat(iso)
    probe = overall(run, "newest_request_age_seconds")
    assert probe.value == pytest.approx(age)
    # September's snapshot sees as_of capped at its end, 10-01 00:00: p is 1 h = 3600 s old then
    assert probe.prior.value == pytest.approx(3600.0)
    assert overall(run, "digital_channel_adoption").denominator == created
    expected = [left_out_note("service_requests", "created_at", left_out, shown)] if left_out else []
    assert moment_notes(run) == [*expected, runs_past_note("2026-10", shown)]

    # The CLI prints the same moment and the same value.
    document = json_run(cli, probed, "--as-of", as_of, "-p", "2026-10", "-k", "newest_request_age_seconds")
    assert document["as_of"] == iso
    assert json_overall(document, "newest_request_age_seconds")["value"] == pytest.approx(age)


@pytest.mark.parametrize(
    ("as_of", "shown"), [("2026-10-15", "2026-10-15 00:00"), ("2026-10-15 09:30", "2026-10-15 09:30")]
)
def test_the_table_prints_a_date_only_as_of_as_midnight(cli, catalog, data, as_of, shown):
    write_311(data, MORNING)
    table = cli("compute", "-c", catalog, "--as-of", as_of, "-p", "2026-10", "-k", "digital_channel_adoption", env=WIDE)
    assert table.exit_code == 0, table.output
    assert f"data as of {shown}" in table.stdout.splitlines()[0]


# ------------------------------------------------------------------------------------------- 5. the period's last day


# fmt: off
MONTH_END = [
    sr("2026-10-31 23:59:59", None, "Open", rtype="Streetlight"),                   # R1: Web
    sr("2026-11-01 00:00:00", None, "Open", rtype="Streetlight"),                   # R2: Web, November
    sr("2026-10-30 23:59:59", None, "Open", channel="Phone"),                       # R3: Pothole, due 10-31 23:59:59
    sr("2026-10-05 08:00:00", "2026-10-05 09:00:00"),                               # R4: Web, closed on time
]
# fmt: on


@pytest.mark.parametrize(
    ("as_of", "default_period", "digital", "overdue", "left_out", "runs_past"),
    [
        # 2026-11-01 00:00: October has ended exactly at the moment -> complete, and the default period.
        # R2 (created at the moment) exists but is November's. Oct: R1, R3, R4 -> digital R1, R4 = 2 of 3.
        # Overdue at as_of = min(11-01 00:00, Oct's end 11-01 00:00): R3's deadline 10-31 23:59:59 is past -> 1.
        ("2026-11-01", "2026-10", (2, 3), 1, 0, False),
        # 23:59:59: data through the last second of October completes it (as time/periods.latest_complete_month
        # says, pinned in test_periods_and_targets.py), so no "not complete" note and October is the default period;
        # its snapshot is still taken at 23:59:59, the moment. R1 created at the moment exists -> still 2 of 3; R2
        # left out. R3's deadline 23:59:59 == as_of is not past -> 0 (1 at the end of October, above).
        ("2026-10-31 23:59:59", "2026-10", (2, 3), 0, 1, False),
        # 23:59:58: R1 does not exist yet either -> R3, R4: 1 of 2; R1, R2 left out.
        ("2026-10-31 23:59:58", "2026-09", (1, 2), 0, 2, True),
    ],
)
def test_a_period_that_ends_on_the_as_of_day(
    catalog, data, as_of, default_period, digital, overdue, left_out, runs_past
):
    write_311(data, MONTH_END)
    kpis = ["digital_channel_adoption", "sla_overdue_open"]
    run = run_at(catalog, kpis, as_of, "2026-10")
    result = overall(run, "digital_channel_adoption")
    assert (result.numerator, result.denominator) == digital
    assert overall(run, "sla_overdue_open").value == overdue
    shown = printed(as_of)
    expected = [left_out_note("service_requests", "created_at", left_out, shown)] if left_out else []
    expected += [runs_past_note("2026-10", shown)] if runs_past else []
    assert moment_notes(run) == expected
    # Without --period: the latest month complete at the moment
    assert run_at(catalog, kpis, as_of).period.label == default_period


# ----------------------------------------------------------------------------------------------- 6. known then


def test_a_closure_after_the_moment_reads_as_open_and_a_later_record_is_left_out(catalog, data):
    # As of 2026-10-15 09:30. Pothole deadlines: created + 1 day.
    # fmt: off
    write_311(data, [
        # 1: closed 10-01 10:00, 2 h, on time (due 10-02 08:00); reopened 10-20, after the moment
        sr("2026-10-01 08:00:00", "2026-10-01 10:00:00", reopened="2026-10-20 10:00:00"),
        # 2: closed 10-20 08:00, after the moment: still open then, and overdue since 10-06 08:00
        sr("2026-10-05 08:00:00", "2026-10-20 08:00:00"),
        # 3: created 1 s after the moment (and closed after it): did not exist
        sr("2026-10-15 09:30:01", "2026-10-15 10:00:00"),
        # 4: closed 10-15 08:00, 72 h, late (due 10-13 08:00)
        sr("2026-10-12 08:00:00", "2026-10-15 08:00:00"),
    ])
    # fmt: on
    kpis = ["sla_compliance", "time_to_close_p90", "sla_overdue_open", "reopen_rate"]
    run = run_at(catalog, kpis, "2026-10-15 09:30", "2026-10")
    # Closed in Oct as known: 1 (on time), 4 (late) -> 1/2 = 50. (Reading 2's and 3's closures: 2/4.)
    sla = overall(run, "sla_compliance")
    assert (sla.numerator, sla.denominator, sla.value) == (1, 2, pytest.approx(50.0))
    # Hours to close of 1, 4: [2, 72]; P90: h = (2-1)*0.9 = 0.9 -> 2 + 0.9 * 70 = 65.0. (With 2 and 3: [0.5, 2, 72,
    # 360] -> 72 + 0.7 * 288 = 273.6.)
    p90 = overall(run, "time_to_close_p90")
    assert (p90.value, p90.sample_size) == (pytest.approx(65.0), 2)
    # Open at the moment and past the deadline: 2 only (1 and 4 closed before, 3 did not exist) -> 1
    assert overall(run, "sla_overdue_open").value == 1
    # No closure's 30 days have elapsed by 10-15: 1 and 4 are excluded (2's closure is not a closure yet), nothing
    # judged
    reopen = overall(run, "reopen_rate")
    assert (reopen.value, reopen.excluded, reopen.status_reason) == (None, 2, FOLLOW_UP_PENDING.format(2))
    # Left out: 3. Blanked stamps of the records that existed: 2's closed_at, 1's reopened_at (3's closure is not
    # counted: its record is left out as a whole).
    assert moment_notes(run) == [
        left_out_note("service_requests", "created_at", 1, "2026-10-15 09:30")
        + "; "
        + missing_part("1 closed_at, 1 reopened_at"),
        runs_past_note("2026-10", "2026-10-15 09:30"),
    ]


def test_a_scheduled_due_date_after_the_moment_is_kept(catalog, data):
    # fmt: off
    write_records(data, [
        rec("10/01/2026", closed="10/10/2026", due="10/20/2026"),                     # d: on time; due after
        rec("10/02/2026", closed="10/12/2026", due="10/05/2026", basis="Volume",
            extended="10/25/2026"),                                                   # e: on time by its extension
        rec("10/03/2026", closed="10/16/2026", due="10/31/2026"),                     # f: closed after the moment
    ])
    # fmt: on
    run = run_at(catalog, ["records_on_time"], "2026-10-15 09:30", "2026-10")
    # Closed in Oct as known: d, e. Both due dates (statutory 10/20, extended 10/25) lie after the moment but are
    # scheduled: kept, so both are on time -> 2/2 = 100. (Blanked, coalesce(None, None) fails both: 0/2.)
    result = overall(run, "records_on_time")
    assert (result.numerator, result.denominator, result.value) == (2, 2, pytest.approx(100.0))
    # Only f's closure is read as missing; the scheduled due dates are not counted
    assert moment_notes(run) == [
        "records_requests: " + missing_part("1 closed_date"),
        runs_past_note("2026-10", "2026-10-15 09:30"),
    ]


@pytest.mark.parametrize(
    ("as_of", "counts", "excluded"),
    [
        # Closures 10-01 10:00:00 (reopened 10-05), 10-01 10:00:01, 10-20 10:00; judged once closed_at + 30 d <= as_of
        # 10-31 09:59:59: none elapsed -> all 3 excluded, nothing judged: no value
        ("2026-10-31 09:59:59", (None, None, None), 3),
        # 10-31 10:00:00: the first exactly elapsed -> judged, reopened -> 1/1 = 100; 2 excluded
        ("2026-10-31 10:00:00", (pytest.approx(100.0), 1, 1), 2),
        # 10-31 10:00:01: the second too -> 1/2 = 50; 1 excluded
        ("2026-10-31 10:00:01", (pytest.approx(50.0), 1, 2), 1),
    ],
)
def test_a_follow_up_window_is_judged_from_the_second_it_has_fully_elapsed(catalog, data, as_of, counts, excluded):
    # fmt: off
    write_311(data, [
        sr("2026-10-01 08:00:00", "2026-10-01 10:00:00", reopened="2026-10-05 10:00:00"),
        sr("2026-10-01 08:00:00", "2026-10-01 10:00:01"),
        sr("2026-10-20 08:00:00", "2026-10-20 10:00:00"),
    ])
    # fmt: on
    result = overall(run_at(catalog, ["reopen_rate"], as_of, "2026-10"), "reopen_rate")
    assert (result.value, result.numerator, result.denominator) == counts
    assert result.excluded == excluded
    if counts[0] is None:
        assert result.status_reason == FOLLOW_UP_PENDING.format(3)


# ----------------------------------------------------------------------------------------------- 7. after the newest


# fmt: off
NEWEST = [
    sr("2026-10-18 08:00:00", "2026-10-20 10:00:00"),    # the newest stamp: a closure, newer than any creation
    sr("2026-10-10 08:00:00", "2026-10-10 09:00:00"),
]
# fmt: on


@pytest.mark.parametrize(
    ("as_of", "after", "closures"),
    [
        # At the newest stamp exactly: nothing is after the data, nothing is cut; both Oct closures known -> 2
        ("2026-10-20 10:00:00", None, 2),
        # One second later: allowed, and said (the newest record is the 10-20 10:00 closure)
        ("2026-10-20 10:00:01", "2026-10-20 10:00:01", 2),
        # Much later: the same note
        ("2026-12-31", "2026-12-31 00:00", 2),
    ],
)
def test_a_moment_after_the_newest_record_is_allowed_and_noted(catalog, data, as_of, after, closures):
    write_311(data, NEWEST)
    run = run_at(catalog, ["sla_compliance"], as_of, "2026-10")
    assert run.as_of == datetime.fromisoformat(as_of)
    assert overall(run, "sla_compliance").denominator == closures
    said = [note for note in run.notes if "is after the newest record" in note]
    expected = (
        f"the as-of moment ({after}) is after the newest record (2026-10-20 10:00): nothing after that is in the data"
    )
    assert said == ([expected] if after else [])


def test_a_moment_between_creation_and_a_later_closure_cuts_and_is_not_after_the_data(catalog, data):
    write_311(data, NEWEST)
    # 10-19: after the newest creation (10-18 08:00) but before the closure of 10-20: the closure is blanked, so the
    # moment is inside the data, not after it. Oct closures known: 10-10 only -> 1.
    run = run_at(catalog, ["sla_compliance"], "2026-10-19", "2026-10")
    assert overall(run, "sla_compliance").denominator == 1
    assert moment_notes(run) == [
        "service_requests: " + missing_part("1 closed_at"),
        runs_past_note("2026-10", "2026-10-19 00:00"),
    ]


def test_a_date_only_dataset_newest_record_is_midnight_of_its_day(catalog, data):
    write_records(data, [rec("10/15/2026"), rec("09/01/2026")])
    at_newest = run_at(catalog, ["records_backlog_over_30_days"], "2026-10-15", "2026-10")
    assert not [note for note in at_newest.notes if "newest record" in note]  # 10/15 is 2026-10-15 00:00 itself
    later = run_at(catalog, ["records_backlog_over_30_days"], "2026-10-15 00:00:01", "2026-10")
    assert (
        "the as-of moment (2026-10-15 00:00:01) is after the newest record (2026-10-15 00:00): nothing after that is "
        "in the data" in later.notes
    )
    # 09/01 -> 10-15 00:00:01 is 44 d + 1 s > 30; 10/15 is 1 s old -> 1
    assert overall(later, "records_backlog_over_30_days").value == 1


# ----------------------------------------------------------------------------------------------- 8. to the microsecond


@pytest.mark.parametrize(
    ("as_of", "iso", "overdue", "age"),
    [
        # Row 1 of OVERDUE is due at 10-15 09:30:00 exactly: at 09:30:00 not past it (row 2 only -> 1) ...
        ("2026-10-15 09:30:00", "2026-10-15T09:30:00", 1, 0.0),
        # ... one microsecond later past it (-> 2). The probe's newest request (t, created 09:30:00) is 1 µs old.
        ("2026-10-15 09:30:00.000001", "2026-10-15T09:30:00.000001", 2, 0.000001),
    ],
)
def test_the_json_as_of_is_the_formulas_as_of_to_the_microsecond(cli, probed, data, as_of, iso, overdue, age):
    write_311(data, [*OVERDUE, sr("2026-10-15 09:30:00", None, "Open", rtype="Streetlight")])  # t
    document = json_run(
        cli, probed, "--as-of", as_of, "-p", "2026-10", "-k", "sla_overdue_open,newest_request_age_seconds"
    )
    assert document["as_of"] == iso
    assert json_overall(document, "sla_overdue_open")["value"] == overdue
    assert json_overall(document, "newest_request_age_seconds")["value"] == pytest.approx(age, abs=1e-9)
    assert civic_kpi.compute(probed, period="2026-10", kpis=["sla_overdue_open"], as_of=as_of).as_of == (
        datetime.fromisoformat(iso)
    )


def test_an_as_of_with_an_offset_is_converted_to_the_catalogs_zone_not_dropped(cli, probed, data):
    write_311(data, [*OVERDUE, sr("2026-10-15 09:30:00", None, "Open", rtype="Streetlight")])
    # 14:30:00.000001 UTC is 09:30:00.000001 in Chicago (CDT, UTC-5): the same moment as above
    document = json_run(
        cli, probed, "--as-of", "2026-10-15T14:30:00.000001+00:00", "-p", "2026-10", "-k", "sla_overdue_open"
    )
    assert document["as_of"] == "2026-10-15T09:30:00.000001"
    assert json_overall(document, "sla_overdue_open")["value"] == 2


# ----------------------------------------------------------------------------------------------- without --as-of


def test_without_as_of_the_moment_is_the_newest_stamp_of_the_catalogs_data(catalog, data):
    # fmt: off
    write_311(data, [
        sr("2026-10-20 09:30:00", "2026-11-02 10:00:00", rtype="Streetlight"),   # closed in Nov, late (due 10-25)
        sr("2026-10-01 08:00:00", "2026-10-01 09:00:00"),
    ])
    # fmt: on
    # sla_compliance reads closed_at: the newest stamp is the closure 11-02 10:00, newer than any creation.
    run = run_at(catalog, ["sla_compliance"], None)
    assert run.as_of == datetime(2026, 11, 2, 10, 0)
    assert run.period.label == "2026-10"  # the latest month complete at 11-02 10:00
    # The moment's own stamp is known: in November (which runs past it) the closure at 11-02 10:00 counts, late
    # (due 10-25 09:30) -> 0/1
    november = run_at(catalog, ["sla_compliance"], None, "2026-11")
    result = overall(november, "sla_compliance")
    assert (result.numerator, result.denominator, result.value) == (0, 1, pytest.approx(0.0))
    assert moment_notes(november) == [runs_past_note("2026-11", "2026-11-02 10:00")]
    # digital_channel_adoption reads created_at only, but the moment is the data's, whichever KPIs are asked for:
    # the closure at 11-02 10:00 still fixes it, and October is still the latest complete month.
    created_only = run_at(catalog, ["digital_channel_adoption"], None)
    assert created_only.as_of == datetime(2026, 11, 2, 10, 0)
    assert created_only.period.label == "2026-10"
    assert moment_notes(created_only) == []
