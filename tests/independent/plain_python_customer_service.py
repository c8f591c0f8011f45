"""Independent, standard-library-only calculator of the "311 Contact Center" and "Customer Satisfaction" KPIs.

This module is a *test oracle* like ``plain_python_kpis.py``: it re-implements the catalog's definitions of the
contact-center, post-closure-survey and resident-survey KPIs with nothing but the Python standard library, so
that the polars engine in ``src/civic_kpi`` can be checked against a second, unrelated implementation. It shares
no code with the engine or with the data generator.

Arithmetic is exact: counts are ints, money and FTE are read as ``decimal.Decimal``, and means and ratios are
kept as ``fractions.Fraction`` until they are converted to ``float`` once, at the very end. The engine works in
float64, so compare with a small relative tolerance.

What the catalog defines (parameters: ``service_level_seconds: 30``, ``satisfied_ratings: [3]``):

* calls (window: ``Offered`` in the period; durations are elapsed seconds between local America/Chicago
  wall-clock times, correct across daylight-saving changes):
  calls_handled = answered calls; average_speed_of_answer = mean(Answered - Offered) over answered calls;
  service_level = answered within 30 s / offered x 100; abandonment_rate = abandoned / offered x 100;
  average_talk_time / average_hold_time / average_after_call_work = means over answered calls whose cell is not
  empty; average_handle_time = the sum of those three means.
* contact_center_staffing (window: ``month`` in the period): agents_on_staff = mean(agent_fte),
  contact_center_cost = sum(operating_cost); calls_per_agent = calls_handled / agents_on_staff,
  cost_per_call = contact_center_cost / calls_handled.
* service_requests (window: ``Closed Date`` in the period, status Resolved or Cancelled):
  customer_satisfaction = mean(Satisfaction) overall and per request type; satisfied_with_311_service =
  count(Satisfaction == 3) / count(Satisfaction present) x 100.
* resident_survey (window: fiscal year to date, from July 1 of the fiscal year the period ends in up to the end
  of the period, by ``completed_on``; satisfied = 4 or 5 among the answers 1..5, 9 = don't know left out):
  employee_service_satisfaction and communication_satisfaction (one question each, overall and per council
  district), survey_satisfaction (overall, per question, per council district), communication_importance
  (category Communication: share of rows with top_three Y, overall and per question) and
  importance_satisfaction = importance / 100 x (1 - satisfaction / 100), per question ranked highest first
  (competition ranking: ties share a rank, the next one is skipped) and overall.

Conventions of the returned rows (one dict per KPI and group; the group key is a tuple of (column, value)
pairs, ``()`` for the overall row):

* ``value``: float, or None when the period has no records of the group (or a denominator is 0, or a mean has
  no values, or an input of a derived KPI has no value).
* ``numerator`` / ``denominator``: for ratio KPIs, the raw counts or sums before the x100.
* ``sample_size``: the records behind the value: the rows counted for ``count(...)``, the non-empty values of a
  mean, the denominator's rows of a ratio of counts, the staffing rows; None for derived KPIs.
* ``inputs``: for derived KPIs, ``[(kpi_id, value), ...]`` in formula order.
* ``rank``: for importance_satisfaction per question.
* ``prior`` / ``year_ago``: the value of the same KPI and group in the prior period and the year-ago period.
"""

from __future__ import annotations

import csv
import pathlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

SERVICE_LEVEL_SECONDS = 30
SATISFIED_RATINGS = {3}  # post-closure survey, 1..3
CLOSED_STATUSES = {"Resolved", "Cancelled"}
SURVEY_SATISFIED = {4, 5}
SURVEY_ANSWERS = {1, 2, 3, 4, 5}  # 9 = don't know
FISCAL_YEAR_START_MONTH = 7
EMPLOYEE_QUESTION = "Customer service from city employees"
COMMUNICATION_QUESTION = "Effectiveness of city communication with the public"
CITY_ZONE = ZoneInfo("America/Chicago")

CONTACT_CENTER_KPIS = [
    "calls_handled",
    "average_speed_of_answer",
    "service_level",
    "abandonment_rate",
    "agents_on_staff",
    "calls_per_agent",
    "average_talk_time",
    "average_hold_time",
    "average_after_call_work",
    "average_handle_time",
    "contact_center_cost",
    "cost_per_call",
]
SATISFACTION_KPIS = [
    "customer_satisfaction",
    "satisfied_with_311_service",
    "employee_service_satisfaction",
    "communication_satisfaction",
    "survey_satisfaction",
    "communication_importance",
    "communication_items_satisfaction",
    "importance_satisfaction",
]
KPI_IDS = CONTACT_CENTER_KPIS + SATISFACTION_KPIS
# KPIs computed from other KPIs: no records of their own, so no sample size.
_NO_SAMPLE_SIZE = {"calls_per_agent", "cost_per_call", "average_handle_time", "importance_satisfaction"}

GroupKey = tuple[tuple[str, str], ...]


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """A reporting period: [start, end) in dates (``end`` is the first day after it)."""

    label: str
    start: date
    end: date
    kind: str  # "month" or "fiscal_year"


def month(year: int, month_: int) -> Period:
    start = date(year, month_, 1)
    end = date(year + (month_ == 12), month_ % 12 + 1, 1)
    return Period(f"{year}-{month_:02d}", start, end, "month")


def fiscal_year(fy: int) -> Period:
    """FY2026 = 2025-07-01 .. 2026-06-30 (the fiscal year is named after the calendar year it ends in)."""
    return Period(
        f"FY{fy}", date(fy - 1, FISCAL_YEAR_START_MONTH, 1), date(fy, FISCAL_YEAR_START_MONTH, 1), "fiscal_year"
    )


def prior_period(period: Period) -> Period:
    if period.kind == "month":
        y, m = period.start.year, period.start.month
        return month(y - (m == 1), 12 if m == 1 else m - 1)
    return fiscal_year(period.end.year - 1)


def year_ago_period(period: Period) -> Period:
    if period.kind == "month":
        return month(period.start.year - 1, period.start.month)
    return fiscal_year(period.end.year - 1)


def fiscal_year_start(day: date) -> date:
    """July 1 of the fiscal year that ``day`` falls in."""
    year = day.year if day.month >= FISCAL_YEAR_START_MONTH else day.year - 1
    return date(year, FISCAL_YEAR_START_MONTH, 1)


def to_date_window(period: Period) -> tuple[date, date]:
    """``window: {to_date: fiscal_year}``: from the start of the fiscal year the period ends in to its end."""
    last_day = period.end - timedelta(days=1)
    return fiscal_year_start(last_day), period.end


# --------------------------------------------------------------------------- helpers


def _f(x) -> float | None:
    return None if x is None else float(x)


def _cell(s: str | None) -> str | None:
    """The engine trims CSV cells; an empty cell is missing."""
    s = (s or "").strip()
    return s or None


def _int(s: str | None) -> int | None:
    s = _cell(s)
    return None if s is None else int(s)


def _dt(s: str | None, fmt: str) -> datetime | None:
    s = _cell(s)
    return None if s is None else datetime.strptime(s, fmt)


def _read_csv(path: pathlib.Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def elapsed_seconds(start: datetime, end: datetime) -> int:
    """Elapsed seconds between two local wall-clock times in the city's zone (DST-aware, via UTC)."""
    delta = end.replace(tzinfo=CITY_ZONE).astimezone(UTC) - start.replace(tzinfo=CITY_ZONE).astimezone(UTC)
    return delta.days * 86400 + delta.seconds  # whole-second timestamps


def _row(value=None, numerator=None, denominator=None, sample_size=None, inputs=None) -> dict:
    return {
        "value": _f(value),
        "numerator": _f(numerator),
        "denominator": _f(denominator),
        "sample_size": sample_size,
        "inputs": inputs or [],
        "rank": None,
        "exact": value,  # the exact Fraction, for derived KPIs
    }


def _no_data(sample_size: int | None = None) -> dict:
    return _row(sample_size=sample_size)


def _mean(values: list) -> dict:
    """mean(x): the non-empty values; None when there are none."""
    values = [v for v in values if v is not None]
    if not values:
        return _no_data(0)
    return _row(Fraction(sum(Fraction(v) for v in values), len(values)), sample_size=len(values))


def _percent_of_counts(num: int, den: int) -> dict:
    if den == 0:
        return _no_data(0)
    return _row(Fraction(100 * num, den), num, den, den)


def competition_ranks(values: dict, highest_first: bool = True) -> dict:
    """Spreadsheet RANK: 1 + the number of values strictly better; ties share a rank. None is not ranked."""
    present = {k: v for k, v in values.items() if v is not None}
    ranks = {}
    for key, v in present.items():
        better = sum(1 for w in present.values() if (w > v if highest_first else w < v))
        ranks[key] = 1 + better
    return ranks


def _grouped(rows: list[dict], breakdowns: Iterable[str], fn: Callable[[list[dict]], dict]) -> dict[GroupKey, dict]:
    """The overall row (always, even without records) and one row per value of each breakdown column."""
    out: dict[GroupKey, dict] = {(): fn(rows)}
    for column in breakdowns:
        by: dict = {}
        for r in rows:
            by.setdefault(r[column], []).append(r)
        for value in sorted(by, key=lambda v: (v is None, v or "")):
            out[((column, value),)] = fn(by[value])
    return out


# --------------------------------------------------------------------------- loading


def _load_calls(sample_dir: pathlib.Path) -> list[dict]:
    fmt = "%m/%d/%Y %H:%M:%S"
    rows = []
    for path in sorted((sample_dir / "contact_center").glob("calls_*.csv")):
        for r in _read_csv(path):
            rows.append(
                {
                    "offered": _dt(r["Offered"], fmt),
                    "answered": _dt(r["Answered"], fmt),
                    "abandoned": _dt(r["Abandoned"], fmt),
                    "talk": _int(r["Talk Seconds"]),
                    "hold": _int(r["Hold Seconds"]),
                    "acw": _int(r["ACW Seconds"]),
                }
            )
    return rows


def _load_staffing(sample_dir: pathlib.Path) -> list[dict]:
    return [
        {
            "month": datetime.strptime(_cell(r["month"]), "%Y-%m-%d").date(),
            "agents": Decimal(_cell(r["agent_fte"])),
            "cost": Decimal(_cell(r["operating_cost"])),
        }
        for r in _read_csv(sample_dir / "contact_center" / "staffing.csv")
    ]


def _load_311(sample_dir: pathlib.Path) -> list[dict]:
    fmt = "%Y-%m-%d %H:%M:%S"
    rows = []
    for path in sorted((sample_dir / "311").glob("service_requests_*.csv")):
        for r in _read_csv(path):
            rows.append(
                {
                    "closed": _dt(r["Closed Date"], fmt),
                    "status": _cell(r["Status"]),
                    "request_type": _cell(r["Request Type"]),
                    "satisfaction": _int(r["Satisfaction"]),
                }
            )
    return rows


def _load_survey(sample_dir: pathlib.Path) -> list[dict]:
    return [
        {
            "completed_on": datetime.strptime(_cell(r["completed_on"]), "%Y-%m-%d").date(),
            "council_district": _cell(r["council_district"]),
            "category": _cell(r["category"]),
            "question": _cell(r["question"]),
            "satisfaction": _int(r["satisfaction"]),
            "top_three": _cell(r["top_three"]) == "Y",
        }
        for r in _read_csv(sample_dir / "survey" / "resident_survey.csv")
    ]


_CACHE: dict = {}


def _fingerprint(sample_dir: pathlib.Path) -> tuple:
    files = [
        *sorted((sample_dir / "contact_center").glob("*.csv")),
        *sorted((sample_dir / "311").glob("*.csv")),
        sample_dir / "survey" / "resident_survey.csv",
    ]
    return (str(sample_dir.resolve()), *((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files))


def load(sample_dir: pathlib.Path) -> dict[str, list[dict]]:
    sample_dir = pathlib.Path(sample_dir)
    key = _fingerprint(sample_dir)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = {
            "calls": _load_calls(sample_dir),
            "staffing": _load_staffing(sample_dir),
            "service_requests": _load_311(sample_dir),
            "survey": _load_survey(sample_dir),
        }
    return _CACHE[key]


# --------------------------------------------------------------------------- one period, base KPIs


def _contact_center(data: dict, period: Period) -> dict[str, dict[GroupKey, dict]]:
    t0 = datetime.combine(period.start, datetime.min.time())
    t1 = datetime.combine(period.end, datetime.min.time())
    calls = [c for c in data["calls"] if t0 <= c["offered"] < t1]
    answered = [c for c in calls if c["answered"] is not None]
    out: dict[str, dict[GroupKey, dict]] = {}

    if not calls:  # a period without records has no data, rather than zeros
        for kpi in ("calls_handled", "average_speed_of_answer", "service_level", "abandonment_rate"):
            out[kpi] = {(): _no_data()}
        for kpi in ("average_talk_time", "average_hold_time", "average_after_call_work"):
            out[kpi] = {(): _no_data()}
    else:
        out["calls_handled"] = {(): _row(len(answered), sample_size=len(answered))}
        waits = [elapsed_seconds(c["offered"], c["answered"]) for c in answered]
        out["average_speed_of_answer"] = {(): _mean(waits)}
        within = sum(1 for w in waits if w <= SERVICE_LEVEL_SECONDS)
        out["service_level"] = {(): _percent_of_counts(within, len(calls))}
        abandoned = sum(1 for c in calls if c["abandoned"] is not None)
        out["abandonment_rate"] = {(): _percent_of_counts(abandoned, len(calls))}
        out["average_talk_time"] = {(): _mean([c["talk"] for c in answered])}
        out["average_hold_time"] = {(): _mean([c["hold"] for c in answered])}
        out["average_after_call_work"] = {(): _mean([c["acw"] for c in answered])}

    staffing = [s for s in data["staffing"] if period.start <= s["month"] < period.end]
    if staffing:
        agents = Fraction(sum((s["agents"] for s in staffing), Decimal(0))) / len(staffing)
        cost = Fraction(sum((s["cost"] for s in staffing), Decimal(0)))
        out["agents_on_staff"] = {(): _row(agents, sample_size=len(staffing))}
        out["contact_center_cost"] = {(): _row(cost, sample_size=len(staffing))}
    else:
        out["agents_on_staff"] = {(): _no_data()}
        out["contact_center_cost"] = {(): _no_data()}
    return out


def _post_closure(data: dict, period: Period) -> dict[str, dict[GroupKey, dict]]:
    t0 = datetime.combine(period.start, datetime.min.time())
    t1 = datetime.combine(period.end, datetime.min.time())
    window = [r for r in data["service_requests"] if r["closed"] is not None and t0 <= r["closed"] < t1]

    def mean_rating(rows: list[dict]) -> dict:
        if not rows:
            return _no_data()
        return _mean([r["satisfaction"] for r in rows if r["status"] in CLOSED_STATUSES])

    def satisfied(rows: list[dict]) -> dict:
        if not rows:
            return _no_data()
        rated = [r for r in rows if r["status"] in CLOSED_STATUSES and r["satisfaction"] is not None]
        return _percent_of_counts(sum(1 for r in rated if r["satisfaction"] in SATISFIED_RATINGS), len(rated))

    return {
        "customer_satisfaction": _grouped(window, ["request_type"], mean_rating),
        "satisfied_with_311_service": _grouped(window, [], satisfied),
    }


def _survey(data: dict, period: Period) -> dict[str, dict[GroupKey, dict]]:
    d0, d1 = to_date_window(period)
    window = [r for r in data["survey"] if d0 <= r["completed_on"] < d1]

    def share_satisfied(rows: list[dict]) -> dict:
        if not rows:
            return _no_data()
        num = sum(1 for r in rows if r["satisfaction"] in SURVEY_SATISFIED)
        den = sum(1 for r in rows if r["satisfaction"] in SURVEY_ANSWERS)
        return _percent_of_counts(num, den)

    def share_top_three(rows: list[dict]) -> dict:
        if not rows:
            return _no_data()
        return _percent_of_counts(sum(1 for r in rows if r["top_three"]), len(rows))

    employee = [r for r in window if r["question"] == EMPLOYEE_QUESTION]
    communication = [r for r in window if r["question"] == COMMUNICATION_QUESTION]
    comm_items = [r for r in window if r["category"] == "Communication"]
    return {
        "employee_service_satisfaction": _grouped(employee, ["council_district"], share_satisfied),
        "communication_satisfaction": _grouped(communication, ["council_district"], share_satisfied),
        "survey_satisfaction": _grouped(window, ["question", "council_district"], share_satisfied),
        "communication_importance": _grouped(comm_items, ["question"], share_top_three),
        "communication_items_satisfaction": _grouped(comm_items, ["question"], share_satisfied),
    }


# --------------------------------------------------------------------------- derived KPIs


def _derived(base: dict[str, dict[GroupKey, dict]], groups: dict[str, list[GroupKey]]) -> None:
    """Add the KPIs computed from other KPIs (same period, same group) to ``base``, for the given groups."""

    def get(kpi: str, key: GroupKey):
        row = base[kpi].get(key)
        return None if row is None else row["exact"]

    def ratio(num_kpi: str, den_kpi: str, key: GroupKey) -> dict:
        num, den = get(num_kpi, key), get(den_kpi, key)
        inputs = [(num_kpi, _f(num)), (den_kpi, _f(den))]
        if num is None or den is None or den == 0:
            row = _row(None, num, den, inputs=inputs)
        else:
            row = _row(Fraction(num) / Fraction(den), num, den, inputs=inputs)
        return row

    base["calls_per_agent"] = {(): ratio("calls_handled", "agents_on_staff", ())}
    base["cost_per_call"] = {(): ratio("contact_center_cost", "calls_handled", ())}

    parts = ["average_talk_time", "average_hold_time", "average_after_call_work"]
    values = [get(k, ()) for k in parts]
    handle = None if any(v is None for v in values) else sum(values, Fraction(0))
    base["average_handle_time"] = {(): _row(handle, inputs=[(k, _f(v)) for k, v in zip(parts, values, strict=True)])}

    out: dict[GroupKey, dict] = {}
    for key in groups["importance_satisfaction"]:
        imp, sat = get("communication_importance", key), get("communication_items_satisfaction", key)
        inputs = [("communication_importance", _f(imp)), ("communication_items_satisfaction", _f(sat))]
        value = None if imp is None or sat is None else imp / 100 * (1 - sat / 100)
        out[key] = _row(value, inputs=inputs)
    ranks = competition_ranks({k: r["exact"] for k, r in out.items() if k})
    for key, rank in ranks.items():
        out[key]["rank"] = rank
    base["importance_satisfaction"] = out


def _base_period(data: dict, period: Period) -> dict[str, dict[GroupKey, dict]]:
    base: dict[str, dict[GroupKey, dict]] = {}
    base.update(_contact_center(data, period))
    base.update(_post_closure(data, period))
    base.update(_survey(data, period))
    return base


# --------------------------------------------------------------------------- entry points


def compute(sample_dir: pathlib.Path, period: Period) -> dict[str, dict[GroupKey, dict]]:
    """Every KPI of the two domains for ``period``, with its prior and year-ago values.

    The groups of a KPI are those with records in the period, the prior period or the year-ago period (a group
    without records in the period itself has ``value`` None); importance_satisfaction lists the questions that
    have both an importance and a satisfaction in one of those periods.
    """
    data = load(sample_dir)
    periods = {"now": period, "prior": prior_period(period), "year_ago": year_ago_period(period)}
    bases = {name: _base_period(data, p) for name, p in periods.items()}

    groups: dict[str, list[GroupKey]] = {}
    for kpi in bases["now"]:
        keys: set[GroupKey] = set()
        for b in bases.values():
            keys |= set(b[kpi])
        groups[kpi] = sorted(keys, key=lambda k: (len(k), k))
    imp = set(groups["communication_importance"])
    sat = set(groups["communication_items_satisfaction"])
    groups["importance_satisfaction"] = sorted(imp & sat, key=lambda k: (len(k), k))
    for b in bases.values():
        _derived(b, groups)
    for kpi in ("calls_per_agent", "cost_per_call", "average_handle_time"):
        groups[kpi] = [()]

    out: dict[str, dict[GroupKey, dict]] = {}
    for kpi in KPI_IDS:
        rows: dict[GroupKey, dict] = {}
        for key in groups[kpi]:
            row = dict(bases["now"][kpi].get(key) or _no_data(0 if kpi not in _NO_SAMPLE_SIZE else None))
            if kpi in _NO_SAMPLE_SIZE:
                row["sample_size"] = None
            prior_row = bases["prior"][kpi].get(key)
            year_ago_row = bases["year_ago"][kpi].get(key)
            row["prior"] = None if prior_row is None else prior_row["value"]
            row["year_ago"] = None if year_ago_row is None else year_ago_row["value"]
            row.pop("exact")
            rows[key] = row
        out[kpi] = rows
    return out


def _num(x) -> str:
    if x is None:
        return "-"
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def _describe(kpi: str, key: GroupKey, row: dict) -> str:
    group = ", ".join(f"{v}" for _, v in key) or "all"
    value = "-" if row["value"] is None else f"{row['value']:.6f}"
    extra = f" ({_num(row['numerator'])}/{_num(row['denominator'])})" if row["numerator"] is not None else ""
    n = "" if row["sample_size"] is None else f" n={row['sample_size']}"
    rank = "" if row["rank"] is None else f" rank={row['rank']}"
    return (
        f"{kpi:30} {group[:48]:48} {value:>14}{extra}{n}{rank}  "
        f"prior={_num(row['prior'])} year_ago={_num(row['year_ago'])}"
    )


def main(argv: list[str]) -> None:
    here = pathlib.Path(__file__).resolve()
    sample_dir = pathlib.Path(argv[1]) if len(argv) > 1 else here.parents[2] / "sample_data"
    for period in (month(2026, 10), fiscal_year(2026)):
        print(f"== {period.label}")
        for kpi, rows in compute(sample_dir, period).items():
            for key, row in rows.items():
                print(_describe(kpi, key, row))


if __name__ == "__main__":
    main(sys.argv)
