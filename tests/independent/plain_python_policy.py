"""Independent, standard-library-only calculator of the issue-3 SLA policy KPIs and the monthly review list.

A test oracle for ``civic_kpi`` (no polars, nothing from the engine): business-day deadlines (spreadsheet
WORKDAY with US federal holidays from the ``holidays`` package plus the city's closure days), policy-based SLA
compliance, the reopen rate with its 30-day follow-up window, open-and-overdue requests, customer satisfaction,
and the monthly performance review (rows for request types below 90 % on time or below 2 of 3 satisfaction).

Arithmetic is exact (``fractions.Fraction``) until one final ``float``; compare with the engine at rel 1e-9.
"""

from __future__ import annotations

import pathlib
from collections import defaultdict
from datetime import date, datetime, timedelta
from fractions import Fraction

import holidays as _holidays

from tests.independent.plain_python_kpis import _dt, _month_bounds, _read_csv

CITY_CLOSURES = {
    date(2025, 11, 28),
    date(2025, 12, 24),
    date(2026, 2, 2),
    date(2026, 2, 3),
    date(2026, 11, 27),
    date(2026, 12, 24),
}
CLOSED_STATUSES = ("Resolved", "Cancelled")
REOPEN_WINDOW = timedelta(days=30)
SLA_THRESHOLD = Fraction(90)
SATISFACTION_THRESHOLD = Fraction(2)
_FMT = "%Y-%m-%d %H:%M:%S"


def business_days_calendar() -> set[date]:
    """Non-working weekdays (and weekend holidays, harmless): US federal holidays 2023-2028 + city closures."""
    return set(_holidays.country_holidays("US", years=range(2023, 2029))) | CITY_CLOSURES


def _is_business_day(d: date, holidays: set[date]) -> bool:
    return d.weekday() < 5 and d not in holidays


def workday(start: date, n: int, holidays: set[date]) -> date:
    """Spreadsheet WORKDAY(start, n, holidays): the nth business day after start (start itself never counts)."""
    step = timedelta(days=1 if n >= 0 else -1)
    d, left = start, abs(n)
    while left:
        d += step
        if _is_business_day(d, holidays):
            left -= 1
    return d


def load_sla_table(sample_dir) -> dict[str, tuple[int, str]]:
    """request_type -> (sla_days, day_type) from reference/sla_by_type.csv."""
    rows = _read_csv(pathlib.Path(sample_dir) / "reference" / "sla_by_type.csv")
    return {r["request_type"]: (int(r["sla_days"]), r["day_type"]) for r in rows}


def policy_deadline(
    created: datetime, request_type: str, sla_table: dict, holidays: set[date] | None = None
) -> datetime | None:
    """Policy 5.1.2 deadline: calendar = created + N days; business = WORKDAY(created day, N) at the same clock."""
    if request_type not in sla_table:
        return None
    n, day_type = sla_table[request_type]
    if day_type == "calendar":
        return created + timedelta(days=n)
    if day_type != "business":
        raise ValueError(f"unknown day_type {day_type!r}")
    hol = business_days_calendar() if holidays is None else holidays
    return datetime.combine(workday(created.date(), n, hol), created.time())


_CACHE: dict = {}


def _load(sample_dir) -> list[dict]:
    """Every 311 request with its policy deadline (cached per file set)."""
    sample_dir = pathlib.Path(sample_dir)
    files = sorted((sample_dir / "311").glob("service_requests_*.csv"))
    key = (str(sample_dir.resolve()), *((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files))
    if key not in _CACHE:
        table, hol = load_sla_table(sample_dir), business_days_calendar()
        rows = []
        for path in files:
            for r in _read_csv(path):
                created = _dt(r["Created Date"], _FMT)
                sat = r["Satisfaction"].strip()
                rows.append(
                    {
                        "id": r["Request ID"],
                        "created": created,
                        "closed": _dt(r["Closed Date"], _FMT),
                        "reopened": _dt(r["Reopened Date"], _FMT),
                        "status": r["Status"],
                        "priority": r["Priority"],
                        "type": r["Request Type"],
                        "agency": r["Agency"],
                        "satisfaction": int(sat) if sat else None,
                        "deadline": policy_deadline(created, r["Request Type"], table, hol),
                    }
                )
        _CACHE.clear()
        _CACHE[key] = rows
    return _CACHE[key]


def deadlines(sample_dir) -> dict[str, datetime | None]:
    return {r["id"]: r["deadline"] for r in _load(sample_dir)}


def as_of(sample_dir) -> datetime:
    """The 311 data's as-of: its newest Created Date."""
    return max(r["created"] for r in _load(sample_dir))


def _value(num, den, scale=100) -> float | None:
    return None if not den else float(Fraction(scale) * Fraction(num) / Fraction(den))


def _sla(rows: list[dict]) -> dict:
    """On-time rate over closed rows that have a deadline (closed exactly at the deadline = on time)."""
    with_deadline = [r for r in rows if r["deadline"] is not None]
    on_time = sum(r["closed"] <= r["deadline"] for r in with_deadline)
    n = len(with_deadline)
    return {
        "value": _value(on_time, n),
        "numerator": on_time,
        "denominator": n,
        "exact": Fraction(100 * on_time, n) if n else None,
    }


def _satisfaction(rows: list[dict]) -> dict:
    scores = [r["satisfaction"] for r in rows if r["satisfaction"] is not None]
    n = len(scores)
    mean = Fraction(sum(scores), n) if n else None
    return {"value": None if mean is None else float(mean), "sample_size": n, "total": sum(scores), "exact": mean}


def _closed_in(rows: list[dict], start: datetime, end: datetime) -> list[dict]:
    return [
        r for r in rows if r["status"] in CLOSED_STATUSES and r["closed"] is not None and start <= r["closed"] < end
    ]


def policy_month(sample_dir, year: int, month: int) -> dict:
    rows = _load(sample_dir)
    start, end = _month_bounds(year, month)
    newest = as_of(sample_dir)
    closed = _closed_in(rows, start, end)

    sla = _sla(closed)
    sla["by_priority"] = {
        p: _sla([r for r in closed if r["priority"] == p]) for p in sorted({r["priority"] for r in closed})
    }

    elapsed = [r for r in closed if r["closed"] + REOPEN_WINDOW <= newest]
    reopened = sum(1 for r in elapsed if r["reopened"] is not None and r["reopened"] <= r["closed"] + REOPEN_WINDOW)
    reopen = {
        "value": _value(reopened, len(elapsed)),
        "numerator": reopened,
        "denominator": len(elapsed),
        "excluded": len(closed) - len(elapsed),
    }

    snap = min(end, newest)
    overdue = sum(
        1
        for r in rows
        if r["created"] < snap
        and (r["closed"] is None or r["closed"] >= snap)
        and r["deadline"] is not None
        and r["deadline"] < snap
    )
    return {
        "sla_compliance": sla,
        "reopen_rate": reopen,
        "sla_overdue_open": {"value": float(overdue), "as_of": snap},
        "customer_satisfaction": _satisfaction(closed),
    }


def review_due(year: int, month: int) -> date:
    return date(year + (month == 12), month % 12 + 1, 15)


def review_month(sample_dir, year: int, month: int) -> list[dict]:
    """One row per (request type, agency, failed rule) among requests closed in the month."""
    start, end = _month_bounds(year, month)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in _closed_in(_load(sample_dir), start, end):
        groups[(r["type"], r["agency"])].append(r)
    out = []
    for (rtype, agency), members in sorted(groups.items()):
        base = {"request_type": rtype, "agency": agency}
        sla = _sla(members)
        if sla["exact"] is not None and sla["exact"] < SLA_THRESHOLD:
            out.append(
                {
                    **base,
                    "kpi_id": "sla_compliance",
                    "threshold": 90.0,
                    "value": sla["value"],
                    "numerator": sla["numerator"],
                    "denominator": sla["denominator"],
                    "sample_size": None,
                }
            )
        sat = _satisfaction(members)
        if sat["exact"] is not None and sat["exact"] < SATISFACTION_THRESHOLD:
            out.append(
                {
                    **base,
                    "kpi_id": "customer_satisfaction",
                    "threshold": 2.0,
                    "value": sat["value"],
                    "numerator": None,
                    "denominator": None,
                    "sample_size": sat["sample_size"],
                }
            )
    return out


def main() -> None:
    sample_dir = pathlib.Path(__file__).resolve().parents[2] / "sample_data"
    for y, m in [(2026, 10), (2026, 2), (2025, 11)]:
        res = policy_month(sample_dir, y, m)
        sla = res["sla_compliance"]
        print(
            f"{y}-{m:02d}: sla {sla['value']:.4f} ({sla['numerator']}/{sla['denominator']}) "
            + " ".join(f"{p}={v['numerator']}/{v['denominator']}" for p, v in sla["by_priority"].items())
        )
        print(
            f"  reopen {res['reopen_rate']}  overdue_open {res['sla_overdue_open']}",
            f"csat {res['customer_satisfaction']}",
        )
        print(f"  review due {review_due(y, m)}")
        for row in review_month(sample_dir, y, m):
            counts = (
                f"{row['numerator']}/{row['denominator']}" if row["sample_size"] is None else f"n={row['sample_size']}"
            )
            print(f"    {row['request_type']:28} {row['agency']:22} {row['kpi_id']:22} {row['value']:.4f} {counts}")


if __name__ == "__main__":
    main()
