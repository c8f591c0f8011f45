"""Houston-style SLA policy, follow-up windows, review and scorecard, on tiny exports worked out by hand.

The bundled catalog's calendar: US federal holidays plus the city's closures (2026-11-27, the day after
Thanksgiving, among them), weekends Saturday and Sunday. Business-day deadlines follow the spreadsheet's WORKDAY.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

import civic_kpi
from tests.conftest import write_csv
from tests.test_kpis_by_hand import SR_HEADER, sr


@pytest.fixture(autouse=True)
def _clock_after_the_exports(monkeypatch):
    """Some exports here run to 2027-06-30, past the machine's clock: the run's "today" (which the default moment never
    passes) is set after them."""
    monkeypatch.setattr("civic_kpi.time.moment.wall_clock", lambda timezone=None: datetime(2027, 7, 1))


SLA_HEADER = ["request_type", "category", "agency", "sla_days", "day_type", "explanation"]
SLA = [
    ["Pothole", "Streets", "Public Works", 2, "business", ""],
    ["Sidewalk", "Streets", "Public Works", 45, "calendar", "Concrete work is batched by contractor"],
]


def write_requests(data, requests: list[dict], sla: list[list] = SLA) -> None:
    """311 rows with each request's type and agency; the SLA table beside them."""
    by_month: dict[str, list[list[object]]] = {}
    for n, r in enumerate(requests, start=1):
        agency = "Public Works" if r["rtype"] != "Noise" else "Police"
        row = [
            f"SR-{n:05d}",
            r["created"],
            r["closed"],
            r["status"],
            r["priority"],
            r["rtype"],
            "Streets",
            agency,
            r["channel"],
            r["fcr"],
            r["reopened"],
            r["due"],
            "Downtown",
            r.get("rating"),
        ]
        by_month.setdefault(r["created"][:7], []).append(row)
    for month, rows in by_month.items():
        write_csv(data / "311" / f"service_requests_{month}.csv", SR_HEADER, rows)
    write_csv(data / "reference" / "sla_by_type.csv", SLA_HEADER, sla)


def rated(request: dict, rating: int) -> dict:
    return {**request, "rating": rating}


THANKSGIVING_WEEK = [
    # A-C: created Wed 2026-11-25 10:00, Pothole = 2 business days. Thu 11-26 is Thanksgiving (federal),
    # Fri 11-27 a city closure, Sat/Sun weekend: Mon 11-30 is business day 1, Tue 12-01 day 2 -> due 12-01 10:00.
    sr("2026-11-25 10:00:00", "2026-12-01 10:00:00"),  # A: closed exactly at the deadline: on time
    sr("2026-11-25 10:00:00", "2026-12-01 10:01:00"),  # B: one minute late
    sr("2026-11-25 10:00:00", "2026-11-30 16:00:00", "Cancelled"),  # C: cancelled before the deadline: on time
    # D: created Sat 11-28 09:00: WORKDAY counts Mon 11-30 (1), Tue 12-01 (2) -> due 12-01 09:00; closed 09:30: late
    sr("2026-11-28 09:00:00", "2026-12-01 09:30:00"),
    # E: Sidewalk, 45 calendar days from 2026-03-02 08:00 -> due 2026-04-16 08:00; closed 04-10: on time (FY2026)
    sr("2026-03-02 08:00:00", "2026-04-10 12:00:00", rtype="Sidewalk"),
    # F: still open at the end of December, deadline 2026-12-16 09:00 (Mon 12-14 + 2 business days) -> overdue
    sr("2026-12-14 09:00:00", None, "Open"),
]


def test_business_day_deadlines_skip_weekends_holidays_and_closures(catalog, data):
    write_requests(data, THANKSGIVING_WEEK)
    deadlines = civic_kpi.sla_deadlines(catalog, "service_requests").sort("request_id")["sla_due_at"].to_list()
    assert deadlines == [
        datetime(2026, 12, 1, 10, 0),
        datetime(2026, 12, 1, 10, 0),
        datetime(2026, 12, 1, 10, 0),
        datetime(2026, 12, 1, 9, 0),
        datetime(2026, 4, 16, 8, 0),
        datetime(2026, 12, 16, 9, 0),
    ]


def test_on_time_counts_resolved_and_cancelled_closures(catalog, data):
    write_requests(data, THANKSGIVING_WEEK)
    december = civic_kpi.compute(catalog, period="2026-12", kpis=["sla_compliance", "sla_overdue_open"])
    sla = next(r for r in december.results if r.kpi_id == "sla_compliance" and not r.group)
    # Closed in December: A (on time), B (late), D (late) -> 1 of 3; November: C only, cancelled on time -> 1 of 1
    assert (sla.numerator, sla.denominator) == (1, 3)
    assert sla.value == pytest.approx(100 / 3)
    assert sla.prior.value == pytest.approx(100.0)
    overdue = next(r for r in december.results if r.kpi_id == "sla_overdue_open")
    # As of the data's newest record (F, created 12-14 09:00), F's deadline 12-16 is not yet past: 0 overdue.
    assert overdue.value == 0
    later = civic_kpi.compute(catalog, period="2026-12", kpis=["sla_overdue_open"], as_of="2026-12-20")
    assert later.results[0].value == 1  # at 12-20, F is open and past its 12-16 deadline


def test_fiscal_year_across_two_calendar_years_and_its_own_target(catalog, data):
    write_requests(data, [*THANKSGIVING_WEEK, sr("2027-01-05 08:00:00", "2027-01-05 12:00:00")])  # G: on time
    run = civic_kpi.scorecard(catalog, fiscal_year="FY2027", kpis=["sla_compliance"])
    row = run.rows[0]
    # FY2027 = 2026-07-01 .. 2027-06-30: closures A, B, C, D and G (January 2027) -> on time A, C, G = 3 of 5
    assert (run.fiscal_year.start.isoformat(), run.fiscal_year.end.isoformat()) == ("2026-07-01", "2027-06-30")
    assert row.this_year_actual == pytest.approx(60.0)
    # FY2026 = 2025-07-01 .. 2026-06-30: E only, on time -> 100
    assert row.last_year_actual == pytest.approx(100.0)
    assert row.this_year_target == ">= 92%"  # the catalog's by_period FY2027 target
    assert row.next_year_target == ">= 90%"  # FY2028 has none of its own: the KPI's target
    assert row.status.value == "fail"


def test_reopen_window_not_yet_elapsed_is_left_out_and_reported(catalog, data, cli):
    write_requests(
        data,
        [
            sr(
                "2026-11-02 08:00:00", "2026-11-10 08:00:00", reopened="2026-11-25 08:00:00"
            ),  # window ends 12-10: judged
            sr("2026-11-03 08:00:00", "2026-11-20 08:00:00"),  # window ends 12-20: still open at as-of 12-15, left out
            sr("2026-12-01 08:00:00", None, "Open"),
        ],
    )
    result = civic_kpi.compute(catalog, period="2026-11", kpis=["reopen_rate"], as_of="2026-12-15").results[0]
    # judged: the 11-10 closure only, reopened after 15 days -> 1 of 1 = 100%; one closure left out
    assert (result.numerator, result.denominator, result.excluded) == (1, 1, 1)
    assert "30-day follow-up window" in result.excluded_reason
    table = cli("compute", "-c", catalog, "--period", "2026-11", "--kpi", "reopen_rate", "--as-of", "2026-12-15")
    assert "1 records of 2026-11 left out" in table.stdout
    # With the data's own as-of (12-01 08:00) neither window has elapsed: no data, and it says why
    result = civic_kpi.compute(catalog, period="2026-11", kpis=["reopen_rate"]).results[0]
    assert result.value is None and result.excluded == 2
    assert "follow-up window" in result.status_reason


def test_review_list_worked_by_hand(catalog, data, cli):
    write_requests(
        data,
        [
            # October: Pothole (2 business days): one on time, one late -> 50% < 90 -> review
            sr("2026-10-05 08:00:00", "2026-10-06 08:00:00"),  # Mon -> due Wed 10-07: on time
            sr("2026-10-09 08:00:00", "2026-10-14 08:00:00"),  # Fri -> Mon 10-12 is Columbus Day
            # (a federal holiday): Tue 10-13 day 1, Wed 10-14 day 2 -> due 10-14 08:00: exactly on time!
            sr("2026-10-15 08:00:00", "2026-10-20 08:00:00"),  # Thu -> due Mon 10-19: late
            # Sidewalk: on time, but rated 1 and 2 -> average 1.5 < 2 -> review
            rated(sr("2026-10-01 08:00:00", "2026-10-02 08:00:00", rtype="Sidewalk"), 1),
            rated(sr("2026-10-01 09:00:00", "2026-10-03 08:00:00", rtype="Sidewalk"), 2),
            # Noise (not in the SLA table: no deadline, so no on-time rate), rated 3
            rated(sr("2026-10-07 22:00:00", "2026-10-07 23:00:00", rtype="Noise"), 3),
        ],
    )
    run = civic_kpi.review(catalog, month="2026-10")
    assert run.review_due.isoformat() == "2026-11-15"
    found = {(i.group["request_type"], i.owner, i.kpi_id): i for i in run.items}
    assert set(found) == {
        ("Pothole", "Public Works", "sla_compliance"),
        ("Sidewalk", "Public Works", "customer_satisfaction"),
    }
    pothole = found[("Pothole", "Public Works", "sla_compliance")]
    assert (pothole.numerator, pothole.denominator) == (2, 3)  # on time: 10-06 and 10-14 (exactly at due)
    assert pothole.value == pytest.approx(200 / 3)
    sidewalk = found[("Sidewalk", "Public Works", "customer_satisfaction")]
    assert (sidewalk.value, sidewalk.sample_size) == (1.5, 2)
    as_json = json.loads(cli("review", "-c", catalog, "--month", "2026-10", "-f", "json").stdout)
    assert len(as_json["items"]) == 2 and as_json["review_due"] == "2026-11-15"
    as_csv = cli("review", "-c", catalog, "--month", "2026-10", "-f", "csv").stdout.splitlines()
    assert as_csv[0].startswith("month,review_due,owner,group,kpi_id") and len(as_csv) == 3
    markdown = cli("review", "-c", catalog, "--month", "2026-10", "-f", "markdown").stdout
    assert "| Public Works | Pothole | on-time performance under 90% | 66.7% | 2 of 3 |" in markdown
    assert cli("review", "-c", catalog, "--month", "2026-Q4").exit_code == 2


@pytest.mark.parametrize(
    ("row", "warned"),
    [
        (["Tree", "Parks", "Parks", 60, "calendar", ""], True),  # 60 calendar days, no explanation
        (["Tree", "Parks", "Parks", 60, "calendar", "Crews batch it"], False),
        (["Tree", "Parks", "Parks", 23, "business", ""], True),  # 23 business days >= 4 weeks + 3 days = 31
        (["Tree", "Parks", "Parks", 22, "business", ""], False),  # 22 business days: at least 30 calendar days
        (["Tree", "Parks", "Parks", 30, "calendar", ""], False),  # exactly 30 is not over 30
    ],
)
def test_validate_warns_about_long_slas_without_explanation(catalog, data, cli, row, warned):
    from civic_kpi.data.validation import validate

    write_requests(data, [sr("2026-10-05 08:00:00")], sla=[*SLA, row])
    warnings = validate(catalog).warnings
    assert [w.message.split(" is ")[0] for w in warnings] == (["the SLA for 'Tree'"] if warned else [])
    # The CLI prints warnings even when other problems (here: the other datasets' missing files) fail the run.
    assert ("Houston policy 5.1.4" in cli("validate", catalog).stderr) == warned


def test_bad_sla_table_rows_are_named(catalog, data, cli):
    write_requests(data, [sr("2026-10-05 08:00:00")], sla=[*SLA, ["Tree", "Parks", "Parks", "ten", "weekly", ""]])
    result = cli("compute", "-c", catalog, "--period", "2026-10", "--kpi", "sla_compliance")
    assert result.exit_code == 2
    assert "line 4: 'ten' is not a whole number of days" in result.stderr
    assert "line 4: day type 'weekly' is neither calendar nor business" in result.stderr


def test_sla_table_inline_in_the_catalog(catalog, data):
    text = catalog.read_text().replace(
        "    path: reference/sla_by_type.csv\n",
        "    rows:\n"
        "      - {request_type: Pothole, sla_days: 2, day_type: business}\n"
        "      - {request_type: Sidewalk, sla_days: 45, day_type: calendar, explanation: Batched by contractor}\n",
    )
    catalog.write_text(text)
    write_requests(data, THANKSGIVING_WEEK, sla=[])  # the file is empty: the catalog's rows are used
    deadlines = civic_kpi.sla_deadlines(catalog, "service_requests").sort("request_id")["sla_due_at"].to_list()
    assert deadlines[0] == datetime(2026, 12, 1, 10, 0) and deadlines[4] == datetime(2026, 4, 16, 8, 0)
    catalog.write_text(text.replace("sla_days: 2, day_type: business", "sla_days: two, day_type: business"))
    with pytest.raises(civic_kpi.DataError, match="row 1: 'two' is not a whole number of days"):
        civic_kpi.sla_deadlines(catalog, "service_requests")
