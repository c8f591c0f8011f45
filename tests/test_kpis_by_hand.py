"""Every KPI of the bundled catalog against tiny hand-made exports whose answers were worked out by hand.

Each test writes a few rows (in the exact headers and date formats of kpi_definitions.yaml) into an empty data
folder beside a copy of the bundled catalog, computes one month (2026-10, so the prior month is 2026-09 and the
year-ago month 2025-10), and checks value, numerator/denominator or sample size, and status against literals
derived in the comments. Rows just outside the month (prior month, next month's first instant, a year earlier)
are there so that a leaky period filter changes the answer.

Percentiles are PERCENTILE.INC: for n sorted values x[0..n-1] and p, h = (n-1)*p, result = x[floor h] +
(h - floor h) * (x[floor h + 1] - x[floor h]).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

import civic_kpi
from civic_kpi import Status
from tests.conftest import write_csv


@pytest.fixture(autouse=True)
def _clock_after_the_exports(monkeypatch):
    """Some exports here run to 2026-12-15, past the machine's clock: the run's "today" (which the default moment never
    passes) is set after them."""
    monkeypatch.setattr("civic_kpi.time.moment.wall_clock", lambda timezone=None: datetime(2027, 1, 1))


PERIOD = "2026-10"

# ----------------------------------------------------------------------------------------------- helpers


def results(catalog: Path, kpi: str, period: str = PERIOD, by: list[str] | None = None):
    return civic_kpi.compute(catalog, period=period, kpis=[kpi], by=by).results


def overall(catalog: Path, kpi: str, period: str = PERIOD):
    rows = [r for r in results(catalog, kpi, period) if r.group == {}]
    assert len(rows) == 1
    return rows[0]


def after(start: str, hours: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """The timestamp `hours` after `start` (both in `fmt`): a way to write a known duration into the data."""
    return (datetime.strptime(start, fmt) + timedelta(hours=hours)).strftime(fmt)


# 311 service requests: one CSV per month of creation, as the glob 311/service_requests_*.csv expects.
SR_HEADER = [
    "Request ID", "Created Date", "Closed Date", "Status", "Priority", "Request Type", "Category", "Agency",
    "Channel", "First Contact Resolution", "Reopened Date", "Due Date", "Neighborhood", "Satisfaction",
]


def sr(created, closed=None, status="Resolved", *, priority="Medium", due=None, reopened=None, channel="Web",
       fcr="Y", rtype="Pothole", sat=None) -> dict:
    return {"created": created, "closed": closed, "status": status, "priority": priority, "due": due,
            "reopened": reopened, "channel": channel, "fcr": fcr, "rtype": rtype, "sat": sat}


# The SLA policy table the catalog's deadlines come from: calendar days keep these hand calculations simple
# (business days, holidays and closures are worked out by hand in test_sla_policy_by_hand.py).
SLA_TABLE = [["Pothole", "Streets", "Public Works", 1, "calendar", ""],
             ["Streetlight", "Streets", "Public Works", 5, "calendar", ""]]


def write_311(data: Path, requests: list[dict]) -> None:
    by_month: dict[str, list[list[object]]] = {}
    for n, r in enumerate(requests, start=1):
        row = [f"SR-{n:05d}", r["created"], r["closed"], r["status"], r["priority"], r["rtype"], "Streets",
               "Public Works", r["channel"], r["fcr"], r["reopened"], r["due"], "Downtown", r["sat"]]
        by_month.setdefault(r["created"][:7], []).append(row)
    for month, rows in by_month.items():
        write_csv(data / "311" / f"service_requests_{month}.csv", SR_HEADER, rows)
    write_csv(data / "reference" / "sla_by_type.csv",
              ["request_type", "category", "agency", "sla_days", "day_type", "explanation"], SLA_TABLE)


# Public records requests: dates as %m/%d/%Y.
RECORDS_HEADER = [
    "Request Number", "Department", "Request Category", "Received Date", "Complete Date", "Statutory Due Date",
    "Extension Basis", "Extended Due Date", "Closed Date", "Status",
]


def rec(received, *, complete=None, due=None, basis=None, extended=None, closed=None, status=None) -> dict:
    return {"received": received, "complete": complete or received, "due": due, "basis": basis,
            "extended": extended, "closed": closed, "status": status or ("Closed" if closed else "Open")}


def write_records(data: Path, requests: list[dict]) -> None:
    rows = [
        [f"PRR-{n:05d}", "City Clerk", "Contracts", r["received"], r["complete"], r["due"], r["basis"],
         r["extended"], r["closed"], r["status"]]
        for n, r in enumerate(requests, start=1)
    ]
    write_csv(data / "records" / "public_records_requests.csv", RECORDS_HEADER, rows)


def write_refreshes(data: Path, refreshes: list[tuple[str, str, str | None]]) -> None:
    """(dataset_id, due_at, refreshed_at) in %Y-%m-%dT%H:%M:%S."""
    write_csv(
        data / "open_data" / "dataset_refreshes.csv",
        ["dataset_id", "dataset_name", "agency", "cadence", "due_at", "refreshed_at"],
        [[ds, f"Dataset {ds}", "IT", "weekly", due, done] for ds, due, done in refreshes],
    )


def write_portal_usage(data: Path, rows: list[tuple[date, str, int | None, int | None]]) -> None:
    import polars as pl

    path = data / "open_data" / "portal_usage.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        rows,
        schema={"month": pl.Date, "dataset_id": pl.String, "api_calls": pl.Int64, "downloads": pl.Int64},
        orient="row",
    ).write_parquet(path)


# Meetings: timestamps as %Y-%m-%d %H:%M.
MEETINGS_HEADER = [
    "meeting_id", "body", "body_type", "topic", "scheduled_start", "status", "agenda_posted_at",
    "minutes_posted_at", "in_person_attendees", "virtual_attendees", "livestream_scheduled_hours",
    "livestream_accessible_hours",
]


def mtg(start, status="Held", *, agenda=None, minutes=None, in_person=None, virtual=None, stream=None,
        accessible=None) -> dict:
    return {"start": start, "status": status, "agenda": agenda, "minutes": minutes, "in_person": in_person,
            "virtual": virtual, "stream": stream, "accessible": accessible}


def write_meetings(data: Path, meetings: list[dict]) -> None:
    rows = [
        [f"MTG-{n:05d}", "City Council", "council", "Budget", m["start"], m["status"],
         m["agenda"] or after(m["start"], -96, "%Y-%m-%d %H:%M"), m["minutes"], m["in_person"], m["virtual"],
         m["stream"], m["accessible"]]
        for n, m in enumerate(meetings, start=1)
    ]
    write_csv(data / "meetings" / "meetings.csv", MEETINGS_HEADER, rows)


def write_participants(data: Path, rows: list[tuple[str, str | None]], neighborhoods: list[str]) -> None:
    """(meeting_date %Y-%m-%d, neighborhood) sign-ins, plus the reference table of the city's neighborhoods."""
    write_csv(
        data / "meetings" / "participants.csv",
        ["meeting_id", "meeting_date", "neighborhood", "attendance_mode"],
        [[f"MTG-{day}", day, hood, "in_person"] for day, hood in rows],
    )
    write_csv(
        data / "reference" / "neighborhoods.csv",
        ["neighborhood", "council_district"],
        [[hood, i] for i, hood in enumerate(neighborhoods, start=1)],
    )


# ----------------------------------------------------------------------------------------------- 311


def test_sla_compliance_by_priority_critical_override_passes_while_overall_fails(catalog, data):
    # Deadlines come from the SLA table: Pothole 1 calendar day (created + 24 h), Streetlight 5 calendar days.
    write_311(data, [
        # Critical, closed in October
        sr("2026-10-01 08:00:00", "2026-10-01 11:00:00", priority="Critical"),               # 1 on time (due 10-02)
        sr("2026-10-05 09:00:00", "2026-10-06 09:00:00", priority="Critical"),               # 2 exactly at due
        sr("2026-10-10 08:00:00", "2026-10-10 10:00:00", "Cancelled", priority="Critical"),  # 3 on time, cancelled
        sr("2026-10-20 08:00:00", None, "Open", priority="Critical"),                        # 4 open
        # High
        sr("2026-10-02 08:00:00", "2026-10-04 08:00:00", priority="High"),      # 5 late (due 10-03 08:00)
        sr("2026-10-03 08:00:00", "2026-10-03 20:00:00", priority="High"),      # 6 on time
        # Medium
        sr("2026-10-06 08:00:00", "2026-10-09 08:00:00", priority="Medium"),    # 7 late (due 10-07 08:00)
        sr("2026-10-07 08:00:00", "2026-10-08 08:00:00", priority="Medium"),    # 8 exactly at due: on time
        sr("2026-10-11 08:00:00", "2026-10-12 09:00:00", "Cancelled", priority="Medium"),  # 9 late by 1 h
        sr("2026-09-29 08:00:00", "2026-10-02 08:00:00", priority="Medium", rtype="Streetlight"),  # 10 on time (10-04)
        # outside October's closures
        sr("2026-09-28 08:00:00", "2026-09-30 23:59:59", priority="Critical"),  # 11 Sep, late (due 09-29 08:00)
        sr("2026-10-30 08:00:00", "2026-11-01 00:00:00", priority="Medium"),    # 12 closed in Nov
        sr("2025-10-05 08:00:00", "2025-10-05 18:00:00", priority="High"),      # 13 2025-10, on time
    ])
    rows = {r.group.get("priority", "ALL"): r for r in results(catalog, "sla_compliance", by=["priority"])}
    assert set(rows) == {"ALL", "Critical", "High", "Medium"}

    # Closed (Resolved or Cancelled) in Oct: rows 1,2,3,5,6,7,8,9,10 -> 9 (4 is open, 11 closed in Sep,
    # 12 closed 2026-11-01 00:00 = first instant after the month, 13 a year ago; row 10 was created in Sep but
    # closed in Oct, so it counts). On time (closed <= deadline): 1, 2 (exactly at it), 3, 6, 8, 10 -> 6.
    # 6/9*100 = 66.67 < 90 -> fail.
    everyone = rows["ALL"]
    assert (everyone.numerator, everyone.denominator, everyone.sample_size) == (6, 9, 9)
    assert everyone.value == pytest.approx(600 / 9)
    assert everyone.status is Status.FAIL
    # Sep: row 11 only, late -> 0/1 = 0.0; Oct 2025: row 13, on time -> 1/1 = 100.0
    assert everyone.prior.value == pytest.approx(0.0)
    assert everyone.year_ago.value == pytest.approx(100.0)

    # Critical: rows 1,2,3 closed, all on time -> 3/3*100 = 100 >= 95 (group override) -> pass
    critical = rows["Critical"]
    assert (critical.numerator, critical.denominator, critical.value) == (3, 3, pytest.approx(100.0))
    assert critical.status is Status.PASS
    # High: rows 5 (late), 6 (on time) -> 1/2 = 50 < 90 -> fail
    assert (rows["High"].numerator, rows["High"].denominator) == (1, 2)
    assert rows["High"].value == pytest.approx(50.0) and rows["High"].status is Status.FAIL
    # Medium: rows 7 (late), 8 (on time), 9 (cancelled, late), 10 (on time) -> 2/4 = 50 -> fail
    assert (rows["Medium"].numerator, rows["Medium"].denominator) == (2, 4)
    assert rows["Medium"].value == pytest.approx(50.0) and rows["Medium"].status is Status.FAIL


# October closures, hours from creation to closure: 2, 4, 6, 10, 20, 40 (the 40 h one created in September).
TTC_OCTOBER = [
    sr("2026-10-01 08:00:00", after("2026-10-01 08:00:00", 2)),
    sr("2026-10-02 08:00:00", after("2026-10-02 08:00:00", 4), "Cancelled"),
    sr("2026-10-03 08:00:00", after("2026-10-03 08:00:00", 6)),
    sr("2026-10-04 08:00:00", after("2026-10-04 08:00:00", 10)),
    sr("2026-10-05 08:00:00", after("2026-10-05 08:00:00", 20)),
    sr("2026-09-30 08:00:00", "2026-10-02 00:00:00"),                   # 40 h
    sr("2026-10-07 08:00:00", None, "Open"),                            # open: no duration
    sr("2026-09-01 00:00:00", "2026-09-21 20:00:00"),                   # 500 h, closed in September
    sr("2026-10-31 00:00:00", "2026-11-01 00:00:00"),                   # 24 h, closed at November's first instant
]


@pytest.mark.parametrize(
    ("year_ago_hours", "year_ago_p90", "status"),
    [
        # 2025-10: 10,20,30,40,50: h = 4*0.9 = 3.6 -> 40 + 0.6*(50-40) = 46; 30 vs 46 = -34.8% < 0 -> pass
        ([10, 20, 30, 40, 50], 46.0, Status.PASS),
        # 2025-10: 4,8,12,16,20: h = 3.6 -> 16 + 0.6*(20-16) = 18.4; 30 vs 18.4 = +63.0% -> not lower -> fail
        ([4, 8, 12, 16, 20], 18.4, Status.FAIL),
    ],
)
def test_time_to_close_p90_interpolates_and_must_be_lower_than_a_year_ago(
    catalog, data, year_ago_hours, year_ago_p90, status
):
    year_ago = [sr(f"2025-10-0{i} 08:00:00", after(f"2025-10-0{i} 08:00:00", h)) for i, h in
                enumerate(year_ago_hours, start=1)]
    write_311(data, TTC_OCTOBER + year_ago)
    result = overall(catalog, "time_to_close_p90")
    # Oct sorted: 2, 4, 6, 10, 20, 40 (n=6; open excluded, 500 h Sep and 24 h Nov closures excluded).
    # PERCENTILE.INC: h = (6-1)*0.9 = 4.5 -> x[4] + 0.5*(x[5]-x[4]) = 20 + 0.5*(40-20) = 30.0
    # (nearest rank would be x[ceil(0.9*6)-1] = x[5] = 40; with the Nov row leaking in it would be 30.4).
    assert result.value == pytest.approx(30.0)
    assert result.sample_size == 6
    assert result.year_ago.value == pytest.approx(year_ago_p90)
    assert result.prior.value == pytest.approx(500.0)  # Sep: one closure of 500 h
    assert result.year_ago.change_pct == pytest.approx((30.0 - year_ago_p90) / year_ago_p90 * 100)
    assert result.status is status


def test_time_to_close_p90_matches_duckdb_quantile_cont(data):
    duckdb = pytest.importorskip("duckdb")
    write_311(data, TTC_OCTOBER)
    [(p90,)] = duckdb.sql(
        f"""
        select quantile_cont(date_diff('second', "Created Date"::timestamp, "Closed Date"::timestamp) / 3600.0, 0.9)
        from read_csv('{data}/311/service_requests_*.csv', all_varchar = true)
        where "Status" in ('Resolved', 'Cancelled')
          and "Closed Date"::timestamp >= timestamp '2026-10-01' and "Closed Date"::timestamp < timestamp '2026-11-01'
        """
    ).fetchall()
    assert p90 == pytest.approx(30.0)  # the same 20 + 0.5*(40-20) as the hand-worked PERCENTILE.INC above


def test_first_contact_resolution_warn_band(catalog, data):
    write_311(data, [
        sr("2026-10-01 00:00:00", fcr="Y"),
        sr("2026-10-03 10:00:00", fcr="Y"),
        sr("2026-10-05 10:00:00", fcr="Y"),
        sr("2026-10-09 10:00:00", fcr="N"),
        sr("2026-10-12 10:00:00", fcr="Y"),
        sr("2026-10-20 10:00:00", fcr="Y"),
        sr("2026-10-25 10:00:00", fcr=None),
        sr("2026-10-31 23:59:59", fcr="Y"),
        sr("2026-09-30 23:59:59", fcr="N"),  # September
        sr("2026-11-01 00:00:00", fcr="N"),  # November
        sr("2025-10-15 10:00:00", fcr="Y"),  # a year ago
    ])
    result = overall(catalog, "first_contact_resolution")
    # Created in Oct: rows 1-8 -> 8; "Y": rows 1,2,3,5,6,8 -> 6 (N and empty are not); 6/8*100 = 75.0
    # 70 <= 75 < 80 -> warn.  Sep: 0/1 = 0; Oct 2025: 1/1 = 100.
    assert (result.numerator, result.denominator, result.sample_size) == (6, 8, 8)
    assert result.value == pytest.approx(75.0)
    assert result.status is Status.WARN
    assert result.prior.value == pytest.approx(0.0)
    assert result.year_ago.value == pytest.approx(100.0)


def test_reopen_rate_30_days_counts_31_does_not(catalog, data):
    write_311(data, [
        sr("2026-10-01 08:00:00", "2026-10-01 10:00:00", reopened="2026-10-31 10:00:00"),  # 1: exactly 30 d
        sr("2026-10-02 08:00:00", "2026-10-02 10:00:00", reopened="2026-11-02 10:00:00"),  # 2: 31 d
        sr("2026-10-03 08:00:00", "2026-10-03 10:00:00", reopened="2026-10-05 09:00:00"),  # 3: 2 d
        sr("2026-10-04 08:00:00", "2026-10-04 10:00:00", reopened="2026-11-03 11:00:00"),  # 4: 30 d + 1 h
        sr("2026-10-05 08:00:00", "2026-10-06 10:00:00", "Cancelled"),                     # 5
        sr("2026-10-06 08:00:00", "2026-10-07 10:00:00"),                                  # 6
        sr("2026-10-07 08:00:00", "2026-10-08 10:00:00"),                                  # 7
        sr("2026-10-08 08:00:00", "2026-10-09 10:00:00"),                                  # 8
        sr("2026-10-09 08:00:00", None, "Open"),                                           # 9: open
        sr("2026-09-20 08:00:00", "2026-09-25 10:00:00", reopened="2026-10-03 10:00:00"),  # 10: closed in Sep
        sr("2025-10-10 08:00:00", "2025-10-11 10:00:00"),                                  # 11: a year ago
        # 12: the newest record of the export, so every 30-day window above has fully elapsed (as-of 12-15)
        sr("2026-12-15 08:00:00", None, "Open"),
    ])
    result = overall(catalog, "reopen_rate")
    # Closed in Oct: rows 1-8 -> 8. Reopened within closed + 30 days: 1 (10-01 10:00 + 30 d = 10-31 10:00, <=),
    # 3 -> 2; row 2 (10-02 + 31 d = 11-02) and row 4 (30 d 1 h) are outside. 2/8*100 = 25.0 >= 5 -> fail.
    # Sep: row 10 reopened after 8 d -> 1/1 = 100; Oct 2025: 0/1 = 0.
    assert (result.numerator, result.denominator, result.sample_size) == (2, 8, 8)
    assert result.value == pytest.approx(25.0)
    assert result.status is Status.FAIL
    assert result.prior.value == pytest.approx(100.0)
    assert result.year_ago.value == pytest.approx(0.0)
    assert result.excluded == 0


def test_digital_channel_adoption_passes(catalog, data):
    channels = ["Web", "App", "Chat", "Email", "Web", "App", "Web", "Phone"]
    october = [sr(f"2026-10-{day:02d} 09:00:00", channel=c) for day, c in zip(range(1, 30, 4), channels, strict=True)]
    write_311(data, [
        *october,
        sr("2026-09-30 23:59:59", channel="Phone"),
        sr("2026-09-12 09:00:00", channel="Walk-in"),
        sr("2026-11-01 00:00:00", channel="Phone"),
        sr("2025-10-10 09:00:00", channel="Phone"),
    ])
    result = overall(catalog, "digital_channel_adoption")
    # Created in Oct: 8 requests; Web/App/Chat/Email: all but the Phone one -> 7; 7/8*100 = 87.5 >= 85 -> pass
    # (with the Sep/Nov phone and walk-in rows leaking in it would be 7/11 = 63.6).  Sep: 0/2 = 0.
    assert (result.numerator, result.denominator, result.sample_size) == (7, 8, 8)
    assert result.value == pytest.approx(87.5)
    assert result.status is Status.PASS
    assert result.prior.value == pytest.approx(0.0)


# ----------------------------------------------------------------------------------------------- records


def test_records_on_time_honours_extended_due_date(catalog, data):
    write_records(data, [
        rec("09/28/2026", due="10/10/2026", closed="10/05/2026"),                       # 1 on time
        rec("09/20/2026", due="10/15/2026", basis="Voluminous records", extended="10/29/2026",
            closed="10/20/2026"),                                                       # 2 late vs statute, in ext.
        rec("10/01/2026", due="10/15/2026", closed="10/15/2026"),                       # 3 on the due day
        rec("10/02/2026", due="10/16/2026", closed="10/22/2026"),                       # 4 late
        rec("09/17/2026", due="10/01/2026", basis="Third-party notice", extended="10/08/2026",
            closed="10/09/2026"),                                                       # 5 late even extended
        rec("10/10/2026", due="10/24/2026"),                                            # 6 open
        rec("09/01/2026", due="09/15/2026", closed="09/30/2026"),                       # 7 Sep, late
        rec("10/20/2026", due="11/03/2026", closed="11/01/2026"),                       # 8 Nov
        rec("10/01/2025", due="10/15/2025", closed="10/10/2025"),                       # 9 Oct 2025, on time
    ])
    result = overall(catalog, "records_on_time")
    # Closed in Oct: rows 1-5 -> 5. closed <= coalesce(extended, statutory): 1 (10/05<=10/10), 2 (10/20<=10/29),
    # 3 (10/15<=10/15) -> 3; 4 (10/22>10/16), 5 (10/09>10/08) late. 3/5*100 = 60 < 100 -> fail.
    # (Ignoring the extension it would be 2/5 = 40.)  Sep: 0/1 = 0; Oct 2025: 1/1 = 100.
    assert (result.numerator, result.denominator, result.sample_size) == (3, 5, 5)
    assert result.value == pytest.approx(60.0)
    assert result.status is Status.FAIL
    assert result.prior.value == pytest.approx(0.0)
    assert result.year_ago.value == pytest.approx(100.0)


def write_fulfillment(data: Path) -> None:
    write_records(data, [
        rec("10/01/2026", complete="10/01/2026", closed="10/03/2026"),  # 2 d
        rec("10/05/2026", complete="10/05/2026", closed="10/10/2026"),  # 5 d
        rec("09/24/2026", complete="09/25/2026", closed="10/04/2026"),  # 9 d (5 left in Sep + 4)
        rec("09/30/2026", complete="10/01/2026", closed="10/15/2026"),  # 14 d
        rec("07/10/2026", complete="07/12/2026", closed="10/20/2026", status="Withdrawn"),  # 100 d, not 'Closed'
        rec("10/10/2026", complete="10/10/2026"),                       # open
        rec("08/01/2026", complete="08/01/2026", closed="09/20/2026"),  # Sep: 31 + 19 = 50 d
        rec("10/25/2026", complete="10/25/2026", closed="11/01/2026"),  # Nov: 7 d
        rec("10/01/2025", complete="10/01/2025", closed="10/09/2025"),  # Oct 2025: 8 d
        rec("10/01/2025", complete="10/01/2025", closed="10/10/2025"),  # Oct 2025: 9 d
        rec("10/01/2025", complete="10/01/2025", closed="10/11/2025"),  # Oct 2025: 10 d
    ])


def test_records_fulfillment_median_days_shorter_than_a_year_ago(catalog, data):
    write_fulfillment(data)
    result = overall(catalog, "records_fulfillment_median_days")
    # Closed in Oct with status Closed: 2, 5, 9, 14 -> median = (5+9)/2 = 7.0 (sample 4)
    # Oct 2025: 8, 9, 10 -> 9.0; change (7-9)/9 = -22.2% < 0 -> pass.  Sep: 50.
    assert result.value == pytest.approx(7.0)
    assert result.sample_size == 4
    assert result.year_ago.value == pytest.approx(9.0)
    assert result.prior.value == pytest.approx(50.0)
    assert result.status is Status.PASS


def test_records_fulfillment_p90_days_longer_than_a_year_ago(catalog, data):
    write_fulfillment(data)
    result = overall(catalog, "records_fulfillment_p90_days")
    # Oct: 2, 5, 9, 14: h = 3*0.9 = 2.7 -> 9 + 0.7*(14-9) = 12.5 (sample 4)
    # Oct 2025: 8, 9, 10: h = 2*0.9 = 1.8 -> 9 + 0.8*(10-9) = 9.8; change +27.6% -> not shorter -> fail
    assert result.value == pytest.approx(12.5)
    assert result.sample_size == 4
    assert result.year_ago.value == pytest.approx(9.8)
    assert result.status is Status.FAIL


BACKLOG = [
    rec("10/01/2026"),                                     # 1: open; 10/01 -> 11/01 = 31 d > 30 -> counts
    rec("10/02/2026"),                                     # 2: open; 30 d, not > 30
    rec("08/15/2026"),                                     # 3: open; 16 + 30 + 31 = 78 d
    rec("09/01/2026", closed="10/15/2026"),                # 4: closed before 11/01
    rec("09/01/2026", closed="11/01/2026"),                # 5: closed on as_of itself -> still open then; 61 d
    rec("10/20/2026"),                                     # 6: 12 d
    rec("11/05/2026"),                                     # 7: received after the snapshot
    rec("06/01/2026", closed="09/15/2026"),                # 8: closed before both snapshots
]


@pytest.mark.parametrize(
    ("extra", "prior", "status"),
    [
        # Sep 30 snapshot (as_of 10/01 00:00): row 3 (08/15 -> 10/01 = 47 d) counts; rows 4 and 5 are open then
        # but 09/01 -> 10/01 is exactly 30 d, so they do not; row 8 is closed -> 1. Oct 3 > Sep 1 -> fail.
        ([], 1, Status.FAIL),
        # Three more requests open at the Sep snapshot and closed during October (10/10, 10/20, 10/31 < 11/01):
        # 07/01 -> 10/01 = 92 d, 07/15 -> 77 d, 08/01 -> 61 d, all > 30 -> Sep = 1 + 3 = 4. Oct 3 < 4 -> pass.
        ([rec("07/01/2026", closed="10/10/2026"), rec("07/15/2026", closed="10/20/2026"),
          rec("08/01/2026", closed="10/31/2026")], 4, Status.PASS),
    ],
)
def test_records_backlog_over_30_days_snapshot_and_trend_to_zero(catalog, data, extra, prior, status):
    write_records(data, BACKLOG + extra)
    result = overall(catalog, "records_backlog_over_30_days")
    # Snapshot at as_of = 2026-11-01 00:00: received before it, not closed before it, age > 30 d:
    # rows 1 (31 d), 3 (78 d), 5 (61 d) -> 3.  Row 2 is exactly 30 d; 4 and 8 closed; 6 is 12 d; 7 later.
    assert result.value == 3
    assert result.sample_size == 3
    assert result.prior.value == prior
    # Oct 2025 snapshot (as_of 2025-11-01): no record of the export existed yet, so the backlog then is
    # unknown -> no data (not 0: an export that starts later says nothing about 2025)
    assert result.year_ago.value is None
    assert result.status is status


# ----------------------------------------------------------------------------------------------- open data


def test_datasets_on_schedule_one_late_refresh_spoils_the_dataset(catalog, data):
    write_refreshes(data, [
        ("ds-a", "2026-10-05T08:00:00", "2026-10-05T07:00:00"),  # on time
        ("ds-a", "2026-10-12T08:00:00", "2026-10-12T09:30:00"),  # late -> ds-a not on schedule
        ("ds-b", "2026-10-01T08:00:00", "2026-10-01T08:00:00"),  # exactly at due -> on time
        ("ds-c", "2026-10-07T08:00:00", "2026-10-06T22:00:00"),
        ("ds-c", "2026-10-14T08:00:00", "2026-10-14T07:59:59"),
        ("ds-d", "2026-10-20T08:00:00", None),                   # never refreshed
        ("ds-f", "2026-10-31T23:00:00", "2026-10-31T22:00:00"),
        ("ds-f", "2026-11-01T00:00:00", None),                   # due in November
        ("ds-e", "2026-09-28T08:00:00", "2026-09-29T08:00:00"),  # September only, late
        ("ds-b", "2025-10-01T08:00:00", "2025-10-02T08:00:00"),  # a year ago, late
    ])
    result = overall(catalog, "datasets_on_schedule")
    # Due in Oct: ds-a, ds-b, ds-c, ds-d, ds-f -> 5 datasets (from 7 refresh rows).
    # With a late/missing refresh: ds-a, ds-d -> 2; on schedule 5 - 2 = 3 (b, c, f). 3/5*100 = 60 < 95 -> fail.
    # Sep: ds-e late -> 0/1 = 0;  Oct 2025: ds-b late -> 0/1 = 0.
    assert (result.numerator, result.denominator) == (3, 5)
    assert result.sample_size == 7  # the refresh records behind it
    assert result.value == pytest.approx(60.0)
    assert result.status is Status.FAIL
    assert result.prior.value == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("year_ago_downloads", "year_ago_value", "status"),
    [
        # Oct 2025: 4000 + 1868 = 5868 / 652 = 9.0; (10 - 9) / 9 = +11.1% >= 10 -> pass
        (1868, 9.0, Status.PASS),
        # Oct 2025: 4000 + 2194 = 6194 / 652 = 9.5; (10 - 9.5) / 9.5 = +5.3% < 10 -> fail
        (2194, 9.5, Status.FAIL),
    ],
)
def test_open_data_utilization_per_1k_needs_ten_percent_yoy_growth(
    catalog, data, year_ago_downloads, year_ago_value, status
):
    write_portal_usage(data, [
        (date(2026, 10, 1), "ds-1", 3000, 1000),
        (date(2026, 10, 1), "ds-2", 1500, 500),
        (date(2026, 10, 1), "ds-3", 520, None),
        (date(2026, 9, 1), "ds-1", 99_999, 1),
        (date(2026, 11, 1), "ds-1", 99_999, 1),
        (date(2025, 10, 1), "ds-1", 4000, year_ago_downloads),
    ])
    result = overall(catalog, "open_data_utilization_per_1k")
    # Oct: api 3000+1500+520 = 5020, downloads 1000+500 (null skipped) = 1500 -> 6520; 652000/1000 = 652
    # 6520 / 652 = 10.0 per 1k residents (sample: 3 October rows)
    assert (result.numerator, result.denominator) == (6520, pytest.approx(652.0))
    assert result.sample_size == 3
    assert result.value == pytest.approx(10.0)
    assert result.year_ago.value == pytest.approx(year_ago_value)
    assert result.prior.value == pytest.approx(100_000 / 652)  # Sep: 99999 + 1
    assert result.status is status


# ----------------------------------------------------------------------------------------------- meetings


def test_agenda_on_time_72_hours_exactly_is_on_time(catalog, data):
    write_meetings(data, [
        mtg("2026-10-05 18:00", agenda="2026-10-02 18:00"),                 # 1: 72 h exactly -> on time
        mtg("2026-10-06 10:00", agenda="2026-10-03 10:01"),                 # 2: 71 h 59 min -> late
        mtg("2026-10-12 18:00", agenda="2026-10-01 09:00"),                 # 3: on time
        mtg("2026-10-15 18:00", "Cancelled", agenda="2026-10-14 18:00"),    # 4: cancelled, not counted
        mtg("2026-10-28 18:00", "Scheduled", agenda="2026-10-20 18:00"),    # 5: on time (not cancelled)
        mtg("2026-10-31 18:00", agenda="2026-10-30 18:00"),                 # 6: 24 h -> late
        mtg("2026-09-30 18:00", agenda="2026-09-30 09:00"),                 # Sep, late
        mtg("2026-11-01 00:00", agenda="2026-10-31 12:00"),                 # Nov, late
        mtg("2025-10-10 18:00", agenda="2025-10-01 18:00"),                 # Oct 2025, on time
    ])
    result = overall(catalog, "agenda_on_time")
    # Not cancelled in Oct: 1, 2, 3, 5, 6 -> 5; posted >= 72 h before: 1, 3, 5 -> 3; 3/5*100 = 60 < 100 -> fail
    # Sep: 0/1 = 0; Oct 2025: 1/1 = 100
    assert (result.numerator, result.denominator, result.sample_size) == (3, 5, 5)
    assert result.value == pytest.approx(60.0)
    assert result.status is Status.FAIL
    assert result.prior.value == pytest.approx(0.0)
    assert result.year_ago.value == pytest.approx(100.0)


def test_minutes_p90_days_interpolated_in_warn_band(catalog, data):
    write_meetings(data, [
        mtg("2026-10-01 18:00", minutes="2026-10-02 18:00"),           # 1 d
        mtg("2026-10-05 18:00", minutes="2026-10-08 18:00"),           # 3 d
        mtg("2026-10-08 10:00", minutes="2026-10-13 10:00"),           # 5 d
        mtg("2026-10-14 18:00", minutes="2026-10-20 18:00"),           # 6 d
        mtg("2026-10-21 18:00", minutes="2026-10-29 18:00"),           # 8 d
        mtg("2026-10-27 18:00"),                                       # held, no minutes yet
        mtg("2026-10-15 18:00", "Cancelled", minutes="2026-12-15 18:00"),  # not held
        mtg("2026-09-30 18:00", minutes="2026-10-30 18:00"),           # Sep: 30 d
        mtg("2025-10-10 18:00", minutes="2025-10-11 18:00"),           # Oct 2025: 1 d
    ])
    result = overall(catalog, "minutes_p90_days")
    # Held in Oct with minutes: 1, 3, 5, 6, 8 (n=5). h = 4*0.9 = 3.6 -> 6 + 0.6*(8-6) = 7.2
    # (nearest rank: x[ceil(4.5)-1] = 8).  7 < 7.2 <= 14 -> warn
    assert result.value == pytest.approx(7.2)
    assert result.sample_size == 5
    assert result.prior.value == pytest.approx(30.0)
    assert result.status is Status.WARN


def test_participation_per_10k_grows_more_than_ten_percent(catalog, data):
    write_meetings(data, [
        mtg("2026-10-01 18:00", in_person=300, virtual=100),
        mtg("2026-10-08 18:00", in_person=150, virtual=62),
        mtg("2026-10-15 18:00", in_person=40),                              # virtual empty
        mtg("2026-10-22 18:00", "Cancelled", in_person=999, virtual=999),
        mtg("2026-10-29 18:00", "Scheduled", in_person=999, virtual=999),
        mtg("2026-09-30 18:00", in_person=5000, virtual=5000),              # September
        # Oct 2025. The export's first record, on the year-ago month's first day: a later one would leave that
        # month covered in part, and the comparison not comparable (tests/test_partial_comparisons.py).
        mtg("2025-10-01 18:00", in_person=400, virtual=152),
    ])
    # The newest stamp, the last agenda posting (10-25 18:00), leaves October not complete, and a month so far is
    # not comparable with a whole one: judged as of the month's end.
    assert overall(catalog, "participation_per_10k").status is Status.NOT_COMPARABLE
    run = civic_kpi.compute(catalog, period=PERIOD, kpis=["participation_per_10k"], as_of="2026-11-01")
    (result,) = [r for r in run.results if r.group == {}]
    # Held in Oct: in person 300+150+40 = 490, virtual 100+62 = 162 -> 652; 652000/10000 = 65.2
    # 652 / 65.2 = 10.0 per 10k. Oct 2025: 552 / 65.2 = 8.466; (652-552)/552 = +18.1% >= 10 -> pass
    assert (result.numerator, result.denominator) == (652, pytest.approx(65.2))
    assert result.sample_size == 3
    assert result.value == pytest.approx(10.0)
    assert result.year_ago.value == pytest.approx(552 / 65.2)
    assert result.status is Status.PASS


def test_geographic_coverage_ignores_unknown_and_empty_neighborhoods(catalog, data):
    write_participants(
        data,
        [
            ("2026-10-01", "Downtown"),
            ("2026-10-08", "Downtown"),
            ("2026-10-08", "Riverside"),
            ("2026-10-15", "Old Town"),
            ("2026-10-15", "Atlantis"),   # not a city neighborhood
            ("2026-10-22", None),         # left blank
            ("2026-10-31", "Atlantis"),
            ("2026-09-30", "Eastwood"),   # September
            ("2026-11-01", "Hillcrest"),  # November
            ("2025-10-10", "Hillcrest"),  # Oct 2025
        ],
        neighborhoods=["Downtown", "Riverside", "Old Town", "Eastwood", "Hillcrest"],
    )
    result = overall(catalog, "geographic_coverage")
    # Oct sign-ins in known neighborhoods: Downtown x2, Riverside, Old Town -> 4 records, 3 distinct
    # 3 / 5 neighborhoods in the reference file * 100 = 60 < 80 -> fail.  Sep: 1/5 = 20; Oct 2025: 1/5 = 20
    assert (result.numerator, result.denominator) == (3, 5)
    assert result.sample_size == 4
    assert result.value == pytest.approx(60.0)
    assert result.status is Status.FAIL
    assert result.prior.value == pytest.approx(20.0)
    assert result.year_ago.value == pytest.approx(20.0)


def test_livestream_availability_passes_at_99_5(catalog, data):
    write_meetings(data, [
        mtg("2026-10-01 18:00", stream=4.0, accessible=4.0),
        mtg("2026-10-08 18:00", stream=2.5, accessible=2.45),
        mtg("2026-10-15 18:00", stream=1.5, accessible=1.5),
        mtg("2026-10-22 18:00", stream=2.0, accessible=2.0),
        mtg("2026-10-29 18:00", "Cancelled", stream=2.0, accessible=0.0),
        mtg("2026-09-30 18:00", stream=3.0, accessible=0.0),   # September
        mtg("2025-10-10 18:00", stream=2.0, accessible=1.0),   # Oct 2025
    ])
    result = overall(catalog, "livestream_availability")
    # Held in Oct: accessible 4 + 2.45 + 1.5 + 2 = 9.95 of scheduled 4 + 2.5 + 1.5 + 2 = 10.0 -> 99.5 >= 99 -> pass
    # Sep: 0/3 = 0; Oct 2025: 1/2 = 50
    assert (result.numerator, result.denominator) == (pytest.approx(9.95), pytest.approx(10.0))
    assert result.sample_size == 4
    assert result.value == pytest.approx(99.5)
    assert result.status is Status.PASS
    assert result.prior.value == pytest.approx(0.0)
    assert result.year_ago.value == pytest.approx(50.0)


# ----------------------------------------------------------------------------------------------- no data


@pytest.mark.parametrize("kpi", ["sla_compliance", "time_to_close_p90", "first_contact_resolution"])
def test_month_without_records_is_no_data(catalog, data, kpi):
    write_311(data, TTC_OCTOBER)
    # 2027-03 (prior 2027-02, year ago 2026-03): no request was created or closed in any of them.
    result = overall(catalog, kpi, period="2027-03")
    assert result.value is None
    assert result.status is Status.NO_DATA
    assert result.prior.value is None and result.year_ago.value is None


# ----------------------------------------------------------------------------------------------- 311 contact center

CALLS_HEADER = ["Call ID", "Queue", "Offered", "Answered", "Abandoned", "Agent ID", "Talk Seconds", "Hold Seconds",
                "ACW Seconds"]
ACD = "%m/%d/%Y %H:%M:%S"


def call(offered: str, wait: float, *, answered=True, talk=None, hold=None, acw=None, queue="311 General") -> dict:
    """A call offered at `offered` (YYYY-MM-DD HH:MM:SS) and answered, or abandoned, `wait` seconds later."""
    start = datetime.strptime(offered, "%Y-%m-%d %H:%M:%S")
    end = (start + timedelta(seconds=wait)).strftime(ACD)
    return {"queue": queue, "offered": start.strftime(ACD), "answered": end if answered else None,
            "abandoned": None if answered else end, "agent": "AG01" if answered else None,
            "talk": talk, "hold": hold, "acw": acw}


def write_calls(data: Path, calls: list[dict], staffing: list[tuple[str, float, float]]) -> None:
    by_month: dict[str, list[list[object]]] = {}
    for n, c in enumerate(calls, start=1):
        month = datetime.strptime(c["offered"], ACD).strftime("%Y-%m")
        by_month.setdefault(month, []).append(
            [f"C{n:05d}", c["queue"], c["offered"], c["answered"], c["abandoned"], c["agent"], c["talk"], c["hold"],
             c["acw"]])
    for month, rows in by_month.items():
        write_csv(data / "contact_center" / f"calls_{month}.csv", CALLS_HEADER, rows)
    write_csv(data / "contact_center" / "staffing.csv", ["month", "agent_fte", "operating_cost"],
              [list(row) for row in staffing])


# October 2026: four answered calls and two abandoned ones; September and October 2025 one answered call each.
# The first call is offered on the last second of September: it belongs to September, however long it waits.
CALLS_OCTOBER = [
    call("2026-09-30 23:59:59", 12, talk=100, hold=0, acw=20),
    call("2026-10-01 08:00:00", 10, talk=100, hold=0, acw=20),
    call("2026-10-01 09:00:00", 30, talk=200, hold=30, acw=40),   # exactly 30 s: within the service level
    call("2026-10-02 08:00:00", 31, talk=300, hold=None, acw=60),  # 31 s: outside; no hold recorded
    call("2026-10-02 10:00:00", 5, talk=400, hold=90, acw=80, queue="Water & Sewer"),
    call("2026-10-03 11:00:00", 45, answered=False),
    call("2026-10-31 23:59:00", 3, answered=False),
    call("2025-10-15 12:00:00", 20, talk=150, hold=10, acw=30),
]
STAFFING = [("2025-10-01", 1.0, 30.0), ("2026-09-01", 1.5, 50.0), ("2026-10-01", 2.5, 9.0)]


def test_contact_center_call_measures(catalog, data):
    write_calls(data, CALLS_OCTOBER, STAFFING)
    got = {r.kpi_id: r for r in civic_kpi.compute(catalog, period=PERIOD, domains=["311 Contact Center"]).results}
    # Offered in October: 6 calls; answered 4 (waits 10, 30, 31, 5); abandoned 2.
    assert got["calls_handled"].value == 4
    assert got["calls_handled"].prior.value == 1 and got["calls_handled"].year_ago.value == 1
    # ASA = (10 + 30 + 31 + 5) / 4 = 19 s <= 50 -> pass; September's one call waited 12 s
    assert got["average_speed_of_answer"].value == pytest.approx(19.0)
    assert got["average_speed_of_answer"].sample_size == 4
    assert got["average_speed_of_answer"].status is Status.PASS
    assert got["average_speed_of_answer"].prior.value == pytest.approx(12.0)
    # Service level: answered within 30 s (10, 30, 5) over offered (6) = 50% < 95 -> fail
    assert (got["service_level"].numerator, got["service_level"].denominator) == (3, 6)
    assert got["service_level"].value == pytest.approx(50.0)
    assert got["service_level"].status is Status.FAIL
    # Abandonment: 2 of 6 offered; no target
    assert got["abandonment_rate"].value == pytest.approx(100 * 2 / 6)
    assert got["abandonment_rate"].status is Status.NO_TARGET
    # Talk (100 + 200 + 300 + 400) / 4 = 250; hold (0 + 30 + 90) / 3 = 40, the empty one left out;
    # after-call work (20 + 40 + 60 + 80) / 4 = 50; handle time 250 + 40 + 50 = 340
    assert got["average_talk_time"].value == pytest.approx(250.0)
    assert got["average_hold_time"].value == pytest.approx(40.0)
    assert got["average_hold_time"].sample_size == 3
    assert got["average_after_call_work"].value == pytest.approx(50.0)
    assert got["average_handle_time"].value == pytest.approx(340.0)
    # September: 100 + 0 + 20 = 120; October 2025: 150 + 10 + 30 = 190
    assert got["average_handle_time"].prior.value == pytest.approx(120.0)
    assert got["average_handle_time"].year_ago.value == pytest.approx(190.0)
    assert [i.kpi_id for i in got["average_handle_time"].inputs] == [
        "average_talk_time", "average_hold_time", "average_after_call_work"]


def test_cost_per_call_and_calls_per_agent_from_two_datasets(catalog, data):
    write_calls(data, CALLS_OCTOBER, STAFFING)
    got = {r.kpi_id: r for r in civic_kpi.compute(catalog, period=PERIOD, domains=["311 Contact Center"]).results}
    assert got["agents_on_staff"].value == pytest.approx(2.5)
    assert got["contact_center_cost"].value == pytest.approx(9.0)
    # Calls per agent: 4 handled / 2.5 FTE = 1.6; September 1 / 1.5; October 2025 1 / 1.0
    per_agent = got["calls_per_agent"]
    assert (per_agent.numerator, per_agent.denominator) == (4, 2.5)
    assert per_agent.value == pytest.approx(1.6)
    assert per_agent.prior.value == pytest.approx(1 / 1.5)
    assert per_agent.year_ago.value == pytest.approx(1.0)
    # Cost per call: $9 / 4 calls = $2.25 <= $3.52 -> pass; September $50 / 1 = $50
    cost = got["cost_per_call"]
    assert (cost.numerator, cost.denominator) == (9.0, 4)
    assert cost.value == pytest.approx(2.25)
    assert cost.status is Status.PASS
    assert cost.prior.value == pytest.approx(50.0)
    assert cost.sample_size is None


def test_calls_per_agent_over_a_fiscal_year_averages_the_monthly_staffing(catalog, data):
    # FY2026 = 2025-07 .. 2026-06: the year-ago call of 2025-10 is its only call; staffing 1.0 FTE in 2025-10.
    # Add two more months of staffing inside FY2026 (3.0 and 2.0): mean FTE (1 + 3 + 2) / 3 = 2; 1 call / 2 = 0.5
    write_calls(data, CALLS_OCTOBER, [*STAFFING, ("2025-11-01", 3.0, 10.0), ("2026-06-01", 2.0, 10.0)])
    result = overall(catalog, "calls_per_agent", period="FY2026")
    assert result.value == pytest.approx(0.5)
    assert overall(catalog, "cost_per_call", period="FY2026").value == pytest.approx(30 + 10 + 10)


# ----------------------------------------------------------------------------------------------- customer satisfaction


def test_customer_satisfaction_per_request_type_and_share_satisfied(catalog, data):
    write_311(data, [
        # Closed in October: potholes rated 3, 1, 1 (mean 1.67 < 2 -> fail), streetlights 3, 2 (2.5 -> pass).
        sr("2026-10-01 08:00:00", "2026-10-02 08:00:00", sat=3),
        sr("2026-10-01 09:00:00", "2026-10-03 08:00:00", sat=1),
        sr("2026-10-01 10:00:00", "2026-10-04 08:00:00", status="Cancelled", sat=1),
        sr("2026-10-02 08:00:00", "2026-10-05 08:00:00", rtype="Streetlight", sat=3),
        sr("2026-10-02 09:00:00", "2026-10-31 23:59:59", rtype="Streetlight", sat=2),
        sr("2026-10-03 08:00:00", "2026-10-06 08:00:00", rtype="Streetlight"),      # not rated
        sr("2026-09-28 08:00:00", "2026-11-01 00:00:00", sat=1),                   # closed in November
        sr("2026-10-05 08:00:00", None, status="Open", sat=3),                     # open: not counted
    ])
    rows = {r.group.get("request_type"): r for r in results(catalog, "customer_satisfaction")}
    # Overall (3 + 1 + 1 + 3 + 2) / 5 = 2.0 -> pass (at least 2)
    assert rows[None].value == pytest.approx(2.0) and rows[None].status is Status.PASS
    assert rows["Pothole"].value == pytest.approx(5 / 3) and rows["Pothole"].status is Status.FAIL
    assert rows["Streetlight"].value == pytest.approx(2.5) and rows["Streetlight"].status is Status.PASS
    assert rows["Streetlight"].sample_size == 2
    # Satisfied (3 of 3): 2 of the 5 rated -> 40% < 85 -> fail
    share = overall(catalog, "satisfied_with_311_service")
    assert (share.numerator, share.denominator) == (2, 5)
    assert share.status is Status.FAIL


SURVEY_HEADER = ["respondent_id", "completed_on", "council_district", "category", "question", "satisfaction",
                 "top_three"]
ENGAGE = ("Communication", "Opportunity to engage and provide input into decisions made by the city")
INFO = ("Communication", "Availability of information about city programs and services")
EMPLOYEES = ("Customer Service", "Customer service from city employees")
EFFECTIVE = ("Communication Overall", "Effectiveness of city communication with the public")


def write_survey(data: Path, respondents: list[tuple[str, str, int, list[tuple[int, str | None]]]]) -> None:
    """Each respondent: id, date, district, and (satisfaction, top_three) for ENGAGE, INFO, EMPLOYEES, EFFECTIVE."""
    rows = [[rid, day, district, category, question, sat, top]
            for rid, day, district, answers in respondents
            for (category, question), (sat, top) in zip((ENGAGE, INFO, EMPLOYEES, EFFECTIVE), answers, strict=True)]
    write_csv(data / "survey" / "resident_survey.csv", SURVEY_HEADER, rows)


# FY2027 to date for 2026-10 is 2026-07-01 .. 2026-10-31: R1-R4 (August). R5 answered in June (FY2026) and R6 in
# November (after the period); R7 in August 2025 is the year-ago FY2026 to date. 9 = don't know.
SURVEY = [
    ("R1", "2026-08-03", 1, [(2, "Y"), (5, "Y"), (4, None), (3, None)]),
    ("R2", "2026-08-04", 1, [(9, "N"), (4, "Y"), (5, None), (4, None)]),
    ("R3", "2026-08-05", 2, [(1, "Y"), (3, "N"), (2, None), (9, None)]),
    ("R4", "2026-08-20", 2, [(4, "N"), (9, "Y"), (9, None), (5, None)]),
    ("R5", "2026-06-30", 1, [(5, "Y"), (5, "Y"), (5, None), (5, None)]),
    ("R6", "2026-11-01", 2, [(1, "Y"), (1, "Y"), (1, None), (1, None)]),
    ("R7", "2025-08-10", 1, [(5, "N"), (5, "Y"), (5, None), (1, None)]),
]


def test_resident_survey_satisfaction_per_question_and_district(catalog, data):
    write_survey(data, SURVEY)
    rows = {tuple(r.group.items()): r for r in results(catalog, "survey_satisfaction")}
    # Per question, satisfied (4-5) over answered 1-5: engage 4 of (2, 1, 4) = 1/3; information (5, 4) of
    # (5, 4, 3) = 2/3; employees (4, 5) of (4, 5, 2) = 2/3; effectiveness (4, 5) of (3, 4, 5) = 2/3
    assert rows[(("question", ENGAGE[1]),)].value == pytest.approx(100 / 3)
    assert rows[(("question", INFO[1]),)].value == pytest.approx(200 / 3)
    assert rows[(("question", EMPLOYEES[1]),)].value == pytest.approx(200 / 3)
    # Overall 7 of 12; district 1 (R1, R2): 5, 4, 4, 5, 4 of 2, 5, 4, 3, 4, 5, 4 = 5/7; district 2: 4, 5 of
    # 1, 3, 2, 4, 5 = 2/5
    assert (rows[()].numerator, rows[()].denominator) == (7, 12)
    assert (rows[(("council_district", "1"),)].numerator, rows[(("council_district", "1"),)].denominator) == (5, 7)
    assert rows[(("council_district", "2"),)].value == pytest.approx(40.0)
    # The prior month (FY2027 to 2026-09-30) holds the same four respondents; a year earlier only R7
    assert rows[()].prior.value == pytest.approx(700 / 12)
    assert rows[()].year_ago.value == pytest.approx(75.0)  # R7: 5, 5, 5 satisfied of 5, 5, 5, 1


def test_kansas_city_survey_measures_with_their_targets(catalog, data):
    write_survey(data, SURVEY)
    employees = {r.group.get("council_district"): r for r in results(catalog, "employee_service_satisfaction")}
    # 2 of 3 (4, 5, 2) -> 66.7% >= 52 pass; district 1: 2/2; district 2: 0 of 1 (the 9 is left out) -> fail
    assert employees[None].value == pytest.approx(200 / 3) and employees[None].status is Status.PASS
    assert employees["1"].value == pytest.approx(100.0)
    assert (employees["2"].value, employees["2"].status) == (pytest.approx(0.0), Status.FAIL)
    assert employees[None].year_ago.value == pytest.approx(100.0)
    covers = employees[None].covers
    assert (covers.label, covers.start, covers.end) == ("fiscal year to date", date(2026, 7, 1), date(2026, 10, 31))
    effective = overall(catalog, "communication_satisfaction")
    assert (effective.numerator, effective.denominator) == (2, 3)
    # FY2027 as a whole: same respondents (R6 answered in November, also FY2027: 1 is dissatisfied) -> 2 of 4 = 50%
    # against the FY2027 target of 54%
    fiscal = overall(catalog, "employee_service_satisfaction", period="FY2027")
    assert (fiscal.numerator, fiscal.denominator) == (2, 4)
    assert fiscal.status is Status.FAIL and fiscal.target == ">= 54%"


def test_importance_satisfaction_rating_is_ranked_as_kansas_city_publishes_it(catalog, data):
    write_survey(data, SURVEY)
    rows = [r for r in results(catalog, "importance_satisfaction") if r.group]
    # Importance: engage named by R1, R3 = 2 of 4; information by R1, R2, R4 = 3 of 4.
    # I-S: engage 0.50 x (1 - 1/3) = 0.3333, information 0.75 x (1 - 2/3) = 0.25 -> engage ranks first.
    assert [(r.group["question"], r.rank) for r in rows] == [(ENGAGE[1], 1), (INFO[1], 2)]
    assert rows[0].value == pytest.approx(0.5 * (1 - 1 / 3))
    assert rows[1].value == pytest.approx(0.75 * (1 - 2 / 3))
    assert [(i.kpi_id, i.value) for i in rows[0].inputs] == [
        ("communication_importance", pytest.approx(50.0)),
        ("communication_items_satisfaction", pytest.approx(100 / 3))]
    # Only the two communication items have an importance, so only they are rated.
    # The overall row is the formula over the inputs' overall rows, both over the communication items: importance
    # 5 of 8 answers, satisfaction 3 of the 6 answered 1-5 (engage 4; information 5, 4).
    overall_row = overall(catalog, "importance_satisfaction")
    assert overall_row.rank is None
    assert overall_row.value == pytest.approx(5 / 8 * (1 - 3 / 6))
    assert overall_row.covers.start == date(2026, 7, 1)
