"""Independent, standard-library-only calculator of the 16 civic-kpi KPIs.

This module is a *test oracle*: it re-implements the KPI definitions from the
sample-data spec with nothing but the Python standard library (plus
``pyarrow.parquet`` to read the one Parquet file), so that the polars engine in
``src/civic_kpi`` can be checked against a second, unrelated implementation.
It deliberately shares no code with the engine or with the data generator.

Arithmetic is exact: durations are kept as ``fractions.Fraction`` and decimal
hours as ``decimal.Decimal`` until the very end, then converted to ``float``
once. The engine works in float64, so compare with a small relative tolerance.

Conventions of the returned dicts (``value``, ``numerator``, ``denominator``,
``sample_size``):

* ratio KPIs: numerator / denominator are the raw counts or sums before the
  x100 (or the per-1k / per-10k population scaling, whose denominator is
  652.0 or 65.2); sample_size = number of rows (or distinct datasets,
  for datasets_on_schedule) in the base population.
* percentile KPIs: numerator / denominator are None, sample_size = number
  of values.
* records_backlog_over_30_days: value = sample_size = the count.
* value is None when the base population is empty.
"""

from __future__ import annotations

import csv
import math
import pathlib
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

POPULATION = 652_000
NOTICE_WINDOW_HOURS = 72
N_NEIGHBORHOODS = 24
DIGITAL_CHANNELS = {"Web", "App", "Chat", "Email"}

KPI_IDS = [
    "sla_compliance",
    "time_to_close_p90",
    "first_contact_resolution",
    "reopen_rate",
    "digital_channel_adoption",
    "records_on_time",
    "records_fulfillment_median_days",
    "records_fulfillment_p90_days",
    "records_backlog_over_30_days",
    "datasets_on_schedule",
    "open_data_utilization_per_1k",
    "agenda_on_time",
    "minutes_p90_days",
    "participation_per_10k",
    "geographic_coverage",
    "livestream_availability",
]


# --------------------------------------------------------------------------- helpers


def percentile_inc(values: list, p: Fraction) -> Fraction | None:
    """Excel PERCENTILE.INC: h = (n-1)*p, linear interpolation between order stats."""
    if not values:
        return None
    xs = sorted(Fraction(v) for v in values)
    h = (len(xs) - 1) * Fraction(p)
    lo = math.floor(h)
    if lo + 1 >= len(xs):
        return xs[lo]
    return xs[lo] + (h - lo) * (xs[lo + 1] - xs[lo])


def _f(x) -> float | None:
    return None if x is None else float(x)


def _ratio(num, den, sample_size: int, scale=100) -> dict:
    """Ratio KPI result; value = scale * num / den (exact, then float)."""
    if not den or num is None:
        return {"value": None, "numerator": _f(num), "denominator": _f(den), "sample_size": sample_size}
    value = Fraction(num) * Fraction(scale) / Fraction(den)
    return {"value": float(value), "numerator": _f(num), "denominator": _f(den), "sample_size": sample_size}


def _pct_result(values: list, p: Fraction) -> dict:
    return {
        "value": _f(percentile_inc(values, p)),
        "numerator": None,
        "denominator": None,
        "sample_size": len(values),
    }


def _read_csv(path: pathlib.Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _dt(s: str, fmt: str) -> datetime | None:
    s = (s or "").strip()
    return datetime.strptime(s, fmt) if s else None


def _mdy(s: str) -> date | None:
    s = (s or "").strip()
    return datetime.strptime(s, "%m/%d/%Y").date() if s else None


def _month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1)
    end = datetime(year + (month == 12), month % 12 + 1, 1)
    return start, end


def _seconds(td: timedelta) -> int:
    # all source timestamps have whole-second resolution
    return td.days * 86400 + td.seconds


CITY_ZONE = ZoneInfo("America/Chicago")  # the catalog's timezone: exports hold local wall-clock time


def _elapsed(start: datetime, end: datetime) -> timedelta:
    """Elapsed time between two local wall-clock timestamps, across daylight-saving changes.

    Both are placed in the city's zone (fold=0: the first of a repeated autumn hour; a spring-gap time reads as
    the hour after) and converted to UTC before subtracting: subtracting two aware datetimes that share one
    tzinfo would give the wall-clock difference again.
    """
    utc = UTC
    return end.replace(tzinfo=CITY_ZONE).astimezone(utc) - start.replace(tzinfo=CITY_ZONE).astimezone(utc)


# --------------------------------------------------------------------------- 311


def _load_311(sample_dir: pathlib.Path) -> list[dict]:
    rows = []
    fmt = "%Y-%m-%d %H:%M:%S"
    for path in sorted((sample_dir / "311").glob("service_requests_*.csv")):
        for r in _read_csv(path):
            rows.append(
                {
                    "created": _dt(r["Created Date"], fmt),
                    "closed": _dt(r["Closed Date"], fmt),
                    "status": r["Status"],
                    "priority": r["Priority"],
                    "channel": r["Channel"],
                    "fcr": r["First Contact Resolution"],
                    "reopened": _dt(r["Reopened Date"], fmt),
                    "due": _dt(r["Due Date"], fmt),
                }
            )
    return rows


def _kpis_311(rows: list[dict], start: datetime, end: datetime) -> dict:
    out: dict = {}
    closed = [
        r
        for r in rows
        if r["status"] in ("Resolved", "Cancelled") and r["closed"] is not None and start <= r["closed"] < end
    ]
    created = [r for r in rows if start <= r["created"] < end]

    # 1. SLA compliance, overall and per priority
    def on_time(r: dict) -> bool:
        return r["closed"] <= r["due"]

    out["sla_compliance"] = _ratio(sum(on_time(r) for r in closed), len(closed), len(closed))
    by_prio = {}
    for prio in sorted({r["priority"] for r in closed}):
        sub = [r for r in closed if r["priority"] == prio]
        res = _ratio(sum(on_time(r) for r in sub), len(sub), len(sub))
        by_prio[prio] = {
            "value": res["value"],
            "numerator": res["numerator"],
            "denominator": res["denominator"],
        }
    out["sla_compliance_by_priority"] = by_prio

    # 2. time to close, P90 in fractional hours
    hours = [Fraction(_seconds(_elapsed(r["created"], r["closed"])), 3600) for r in closed]
    out["time_to_close_p90"] = _pct_result(hours, Fraction(9, 10))

    # 3. first contact resolution over requests created in M
    out["first_contact_resolution"] = _ratio(sum(r["fcr"] == "Y" for r in created), len(created), len(created))

    # 4. reopen rate: reopened within 30 days of the closure, over closed in M
    reopened = sum(1 for r in closed if r["reopened"] is not None and r["reopened"] <= r["closed"] + timedelta(days=30))
    out["reopen_rate"] = _ratio(reopened, len(closed), len(closed))

    # 5. digital channel adoption over created in M
    out["digital_channel_adoption"] = _ratio(
        sum(r["channel"] in DIGITAL_CHANNELS for r in created), len(created), len(created)
    )
    return out


# --------------------------------------------------------------------------- public records


def _load_records(sample_dir: pathlib.Path) -> list[dict]:
    rows = []
    for r in _read_csv(sample_dir / "records" / "public_records_requests.csv"):
        rows.append(
            {
                "received": _mdy(r["Received Date"]),
                "complete": _mdy(r["Complete Date"]),
                "statutory_due": _mdy(r["Statutory Due Date"]),
                "extended_due": _mdy(r["Extended Due Date"]),
                "closed": _mdy(r["Closed Date"]),
                "status": r["Status"],
            }
        )
    return rows


def _kpis_records(rows: list[dict], start: datetime, end: datetime) -> dict:
    out: dict = {}
    d0, d1 = start.date(), end.date()
    closed = [r for r in rows if r["status"] == "Closed" and r["closed"] is not None and d0 <= r["closed"] < d1]

    # 6. on time against the extended deadline when there is one
    on_time = sum(
        1 for r in closed if r["closed"] <= (r["extended_due"] if r["extended_due"] is not None else r["statutory_due"])
    )
    out["records_on_time"] = _ratio(on_time, len(closed), len(closed))

    # 7./8. fulfillment time from perfection (Complete Date) to closure, in days
    days = [(r["closed"] - r["complete"]).days for r in closed]
    out["records_fulfillment_median_days"] = _pct_result(days, Fraction(1, 2))
    out["records_fulfillment_p90_days"] = _pct_result(days, Fraction(9, 10))

    # 9. backlog snapshot at the first instant of the next month
    as_of = d1
    backlog = sum(
        1
        for r in rows
        if r["received"] < as_of and (r["closed"] is None or r["closed"] >= as_of) and (as_of - r["received"]).days > 30
    )
    out["records_backlog_over_30_days"] = {
        "value": float(backlog),
        "numerator": None,
        "denominator": None,
        "sample_size": backlog,
    }
    return out


# --------------------------------------------------------------------------- open data


def _kpis_open_data(sample_dir: pathlib.Path, start: datetime, end: datetime) -> dict:
    out: dict = {}
    fmt = "%Y-%m-%dT%H:%M:%S"

    # 10. datasets on schedule: a dataset counts as late if ANY of its refreshes
    #     due in M landed late or never landed
    due_in_month: set[str] = set()
    late: set[str] = set()
    for r in _read_csv(sample_dir / "open_data" / "dataset_refreshes.csv"):
        due = _dt(r["due_at"], fmt)
        if not (start <= due < end):
            continue
        due_in_month.add(r["dataset_id"])
        refreshed = _dt(r["refreshed_at"], fmt)
        if refreshed is None or refreshed > due:
            late.add(r["dataset_id"])
    n = len(due_in_month)
    out["datasets_on_schedule"] = _ratio(n - len(late), n, n)

    # 11. utilization per 1,000 residents
    import pyarrow.parquet as pq  # only used to read the file

    table = pq.read_table(sample_dir / "open_data" / "portal_usage.parquet").to_pylist()
    rows = [r for r in table if r["month"] is not None and start.date() <= r["month"] < end.date()]
    total = sum((r["api_calls"] or 0) + (r["downloads"] or 0) for r in rows)
    den = Fraction(POPULATION, 1000)
    res = _ratio(total, den, len(rows), scale=1) if rows else _ratio(None, den, 0, scale=1)
    out["open_data_utilization_per_1k"] = res
    return out


# --------------------------------------------------------------------------- meetings


def _kpis_meetings(sample_dir: pathlib.Path, start: datetime, end: datetime) -> dict:
    out: dict = {}
    fmt = "%Y-%m-%d %H:%M"
    meetings = []
    for r in _read_csv(sample_dir / "meetings" / "meetings.csv"):
        s = _dt(r["scheduled_start"], fmt)
        if start <= s < end:
            meetings.append(
                {
                    **r,
                    "start": s,
                    "agenda": _dt(r["agenda_posted_at"], fmt),
                    "minutes": _dt(r["minutes_posted_at"], fmt),
                }
            )

    # 12. agenda posted at least 72 hours before the start (missing agenda = late)
    not_cancelled = [m for m in meetings if m["status"] != "Cancelled"]
    ok = sum(
        1
        for m in not_cancelled
        if m["agenda"] is not None and _elapsed(m["agenda"], m["start"]) >= timedelta(hours=NOTICE_WINDOW_HOURS)
    )
    out["agenda_on_time"] = _ratio(ok, len(not_cancelled), len(not_cancelled))

    held = [m for m in meetings if m["status"] == "Held"]

    # 13. minutes lag in fractional days, P90
    lags = [Fraction(_seconds(_elapsed(m["start"], m["minutes"])), 86400) for m in held if m["minutes"] is not None]
    out["minutes_p90_days"] = _pct_result(lags, Fraction(9, 10))

    # 14. participation per 10,000 residents
    att = sum(int(m["in_person_attendees"]) + int(m["virtual_attendees"]) for m in held)
    den = Fraction(POPULATION, 10000)
    out["participation_per_10k"] = _ratio(att, den, len(held), scale=1) if held else _ratio(None, den, 0, scale=1)

    # 16. livestream availability (decimal hours summed exactly)
    acc = sum((Decimal(m["livestream_accessible_hours"]) for m in held), Decimal(0))
    sch = sum((Decimal(m["livestream_scheduled_hours"]) for m in held), Decimal(0))
    out["livestream_availability"] = _ratio(Fraction(acc), Fraction(sch), len(held))

    # 15. geographic coverage of sign-in cards
    known = {r["neighborhood"] for r in _read_csv(sample_dir / "reference" / "neighborhoods.csv")}
    d0, d1 = start.date(), end.date()
    cards = [
        r
        for r in _read_csv(sample_dir / "meetings" / "participants.csv")
        if d0 <= datetime.strptime(r["meeting_date"], "%Y-%m-%d").date() < d1
    ]
    seen = {r["neighborhood"] for r in cards if r["neighborhood"] in known}
    out["geographic_coverage"] = _ratio(len(seen), N_NEIGHBORHOODS, len(cards))
    return out


# --------------------------------------------------------------------------- entry points

_CACHE: dict = {}


def _fingerprint(sample_dir: pathlib.Path) -> tuple:
    """Identifies the current contents of the CSVs that are cached (regenerated data = new key)."""
    files = [*sorted((sample_dir / "311").glob("*.csv")), sample_dir / "records" / "public_records_requests.csv"]
    return (str(sample_dir.resolve()), *((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files))


def compute_month(sample_dir: pathlib.Path, year: int, month: int) -> dict[str, dict]:
    """All 16 KPIs (+ ``sla_compliance_by_priority``) for calendar month year-month."""
    sample_dir = pathlib.Path(sample_dir)
    start, end = _month_bounds(year, month)
    key = _fingerprint(sample_dir)
    if key not in _CACHE:  # the CSV parsing is the slow part; reuse across months
        _CACHE.clear()
        _CACHE[key] = (_load_311(sample_dir), _load_records(sample_dir))
    rows_311, rows_records = _CACHE[key]
    out: dict = {}
    out.update(_kpis_311(rows_311, start, end))
    out.update(_kpis_records(rows_records, start, end))
    out.update(_kpis_open_data(sample_dir, start, end))
    out.update(_kpis_meetings(sample_dir, start, end))
    return out


def _num(x) -> str:
    if x is None:
        return "-"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _cell(r: dict) -> str:
    value = "-" if r["value"] is None else f"{r['value']:.4f}"
    if r.get("numerator") is not None:
        return f"{value} ({_num(r['numerator'])}/{_num(r['denominator'])})"
    return f"{value} (n={r.get('sample_size')})"


def main(argv: list[str]) -> None:
    here = pathlib.Path(__file__).resolve()
    sample_dir = pathlib.Path(argv[1]) if len(argv) > 1 else here.parents[2] / "sample_data"
    months = [(2026, 10), (2026, 9), (2025, 10)]
    results = {m: compute_month(sample_dir, *m) for m in months}
    width = 28
    header = f"{'KPI':34}" + "".join(f"{f'{y}-{m:02d}':>{width}}" for y, m in months)
    print(header)
    print("-" * len(header))
    for kpi in KPI_IDS:
        print(f"{kpi:34}" + "".join(f"{_cell(results[m][kpi]):>{width}}" for m in months))
    prios = [
        p
        for p in ("Critical", "High", "Standard", "Low")
        if any(p in results[m]["sla_compliance_by_priority"] for m in months)
    ]
    for prio in prios:
        cells = [
            _cell(results[m]["sla_compliance_by_priority"][prio])
            if prio in results[m]["sla_compliance_by_priority"]
            else "-"
            for m in months
        ]
        print(f"{'sla_compliance[' + prio + ']':34}" + "".join(f"{c:>{width}}" for c in cells))


if __name__ == "__main__":
    main(sys.argv)
