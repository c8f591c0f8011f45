"""Reporting periods: months, quarters, calendar and fiscal years, date ranges; their prior and year-ago twins."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from civic_kpi.errors import UsageError

PeriodKind = Literal["month", "quarter", "year", "fiscal_year", "range"]

PERIOD_FORMATS = "2026-10 (month), 2026-Q3 (quarter), 2026 (year), FY2026 (fiscal year), 2026-01-01..2026-03-31"


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = _month_end(year, month).day
    return date(year, month, min(day.day, last))


def _month_end(year: int, month: int) -> date:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


FIRST_YEAR, LAST_YEAR = 1900, 2999  # the years a period or an as-of moment may fall in (docs/reference/exit-codes.md)


def _year(value: str | int, text: str | None = None) -> int:
    """A year an analyst could mean; beyond it, prior and year-ago periods would leave the calendar."""
    year = int(value)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        where = f"period '{text}': " if text else ""
        raise UsageError(f"{where}year {year} is out of range ({FIRST_YEAR} to {LAST_YEAR})")
    return year


@dataclass(frozen=True)
class Period:
    """A half-open span of days [start, end) with the label an analyst would write."""

    kind: PeriodKind
    start: date
    end: date  # exclusive
    label: str
    fiscal_year_start_month: int = 1

    @property
    def start_dt(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day)

    @property
    def end_dt(self) -> datetime:
        return datetime(self.end.year, self.end.month, self.end.day)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def _months(self) -> int | None:
        return {"month": 1, "quarter": 3, "year": 12, "fiscal_year": 12}.get(self.kind)

    def shifted(self, months: int) -> Period:
        """The same kind of period `months` months away (negative: earlier)."""
        try:
            if self.kind == "range":
                # Shift the last day, not the exclusive end: 2024-01-01..2024-02-28 a year earlier ends on 02-28.
                start = _add_months(self.start, months)
                end = _add_months(self.last_day, months) + timedelta(days=1)
                return Period("range", start, end, _range_label(start, end))
            start = _add_months(self.start, months)
            end = _add_months(self.end, months)
        except (OverflowError, ValueError):
            raise UsageError(f"period {self.label} is too close to the calendar's limits to compare") from None
        return Period(
            self.kind,
            start,
            end,
            _label(self.kind, start, self.fiscal_year_start_month),
            self.fiscal_year_start_month,
        )

    def prior(self) -> Period:
        """The period just before: last month, last quarter, last year; a range of the same length before."""
        months = self._months()
        if months is not None:
            return self.shifted(-months)
        length = self.end - self.start
        try:
            start = self.start - length
        except OverflowError:
            raise UsageError(f"period {self.label} is too close to the calendar's limits to compare") from None
        return Period("range", start, self.start, _range_label(start, self.start))

    def year_ago(self) -> Period:
        return self.shifted(-12)


def _range_label(start: date, end: date) -> str:
    return f"{start.isoformat()}..{(end - timedelta(days=1)).isoformat()}"


def _label(kind: PeriodKind, start: date, fiscal_year_start_month: int) -> str:
    if kind == "month":
        return f"{start.year:04d}-{start.month:02d}"
    if kind == "quarter":
        return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
    if kind == "year":
        return f"{start.year:04d}"
    # Fiscal years are named for the calendar year they end in (FY2016 = May 2015 - April 2016 in Kansas City).
    end_year = start.year + (1 if fiscal_year_start_month != 1 else 0)
    return f"FY{end_year:04d}"


def month(year: int, month_number: int) -> Period:
    start = date(year, month_number, 1)
    return Period("month", start, _add_months(start, 1), _label("month", start, 1))


def parse_period(text: str, fiscal_year_start_month: int = 1) -> Period:
    """Parse a period as an analyst writes it; raises UsageError with the accepted forms."""
    value = text.strip()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})", value):
            return month(_year(m[1], text), int(m[2]))
        if m := re.fullmatch(r"(\d{4})-?Q([1-4])", value, re.IGNORECASE):
            start = date(_year(m[1], text), 3 * (int(m[2]) - 1) + 1, 1)
            return Period("quarter", start, _add_months(start, 3), _label("quarter", start, 1))
        if m := re.fullmatch(r"(\d{4})", value):
            start = date(_year(m[1], text), 1, 1)
            return Period("year", start, date(start.year + 1, 1, 1), m[1])
        if m := re.fullmatch(r"FY(\d{4})", value, re.IGNORECASE):
            end_year = _year(m[1], text)
            first = fiscal_year_start_month
            start = date(end_year - (1 if first != 1 else 0), first, 1)
            return Period("fiscal_year", start, _add_months(start, 12), f"FY{end_year}", first)
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*(?:\.\.|/)\s*(\d{4}-\d{2}-\d{2})", value):
            start, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            for day in (start, last):
                _year(day.year, text)
            if last < start:
                raise UsageError(f"period '{text}' ends before it starts")
            end = last + timedelta(days=1)
            return Period("range", start, end, _range_label(start, end))
    except ValueError as exc:
        raise UsageError(f"period '{text}' is not a real date: {exc}") from None
    raise UsageError(f"cannot read period '{text}'; use one of: {PERIOD_FORMATS}")


def fiscal_year_containing(day: date, fiscal_year_start_month: int = 1) -> Period:
    """The fiscal year a day falls in (named for the calendar year it ends in)."""
    end_year = day.year + (1 if fiscal_year_start_month != 1 and day.month >= fiscal_year_start_month else 0)
    return parse_period(f"FY{end_year}", fiscal_year_start_month)


def date_range(start: str, end: str) -> Period:
    """A --from/--to range; both days are included."""
    return parse_period(f"{start}..{end}")


def latest_complete_month(as_of: datetime) -> Period:
    """The last calendar month that had fully ended at `as_of`."""
    this_month = date(as_of.year, as_of.month, 1)
    end_of_day = as_of.date() + timedelta(days=1)
    # A month is complete once its last day is over: data ending at 23:59:59 on the 31st completes it.
    if end_of_day == _add_months(this_month, 1) and as_of.time() >= datetime.max.time().replace(microsecond=0):
        start = this_month
    else:
        start = _add_months(this_month, -1)
    return Period("month", start, _add_months(start, 1), _label("month", start, 1))


SeriesKind = Literal["month", "quarter", "year", "fiscal_year"]
SERIES_KINDS: tuple[SeriesKind, ...] = ("month", "quarter", "year", "fiscal_year")
_SERIES_MONTHS = {"month": 1, "quarter": 3, "year": 12, "fiscal_year": 12}
_DEFAULT_SPAN = {"month": 12, "quarter": 4, "year": 3, "fiscal_year": 3}  # how many periods a default series holds


def period_starting(kind: SeriesKind, start: date, fiscal_year_start_month: int = 1) -> Period:
    """The period of `kind` that starts on `start` (which must be the first day of one)."""
    fy = fiscal_year_start_month if kind == "fiscal_year" else 1
    return Period(kind, start, _add_months(start, _SERIES_MONTHS[kind]), _label(kind, start, fy), fy)


def _first_month(kind: SeriesKind, fiscal_year_start_month: int) -> int:
    """Which month of the year a period of `kind` may start in: 1 (month: any), 1/4/7/10, 1, the fiscal start."""
    return {"month": 1, "quarter": 1, "year": 1, "fiscal_year": fiscal_year_start_month}[kind]


def period_number(kind: SeriesKind, year: Any, month: Any, fiscal_year_start_month: int = 1) -> Any:
    """The number of the period holding (year, month) on a running scale (month: year*12+month-1, quarter: that
    // 3, ...). Plain arithmetic, so it works on ints and on Polars expressions alike: the engine numbers each
    record with the same formula that numbers the periods asked for."""
    return (year * 12 + month - _first_month(kind, fiscal_year_start_month)) // _SERIES_MONTHS[kind]


def period_index(kind: SeriesKind, day: date, fiscal_year_start_month: int = 1) -> int:
    """The number of the period of `kind` a day falls in (see period_number)."""
    return period_number(kind, day.year, day.month, fiscal_year_start_month)


def to_date_start(kind: SeriesKind, period: Period, fiscal_year_start_month: int = 1) -> date:
    """Where a 'to date' window of `kind` starts for `period`: the first day of the quarter, year or fiscal year
    holding the period's last day, or the period's own start if that is earlier (a period longer than `kind`)."""
    number = period_index(kind, period.last_day, fiscal_year_start_month)
    months = number * _SERIES_MONTHS[kind] + _first_month(kind, fiscal_year_start_month) - 1  # year * 12 + month - 1
    return min(period.start, date(months // 12, months % 12 + 1, 1))


def split(period: Period, every: SeriesKind, fiscal_year_start_month: int = 1) -> list[Period]:
    """Cut a period into consecutive periods of `every`, e.g. FY2026 into its 12 months.

    The period must start and end on boundaries of `every`: a series of partial months would compare unlike spans.
    """
    from civic_kpi.errors import Problem

    fy = fiscal_year_start_month
    step = _SERIES_MONTHS[every]
    first = _first_month(every, fy)
    aligned = [day.day == 1 and (day.month - first) % step == 0 for day in (period.start, period.end)]
    if not all(aligned):
        name = every.replace("_", " ")
        example = {
            "month": "2026, 2026-Q3 or FY2026",
            "quarter": "2026 or 2025-01-01..2026-12-31",
            "year": "2024-01-01..2026-12-31",
            "fiscal_year": f"FY2026, or a range from the 1st of month {fy} (the catalog's fiscal_year_start_month)",
        }[every]
        raise UsageError(
            Problem(
                f"period {period.label} does not split into whole {name}s",
                hint=f"give a period that starts and ends on {name} boundaries, e.g. {example}",
            )
        )
    parts = []
    day = period.start
    while day < period.end:
        parts.append(period_starting(every, day, fy))
        day = _add_months(day, step)
    return parts


def default_series_span(every: SeriesKind, latest_complete: Period, fiscal_year_start_month: int = 1) -> Period:
    """The periods a series shows when none is asked for: the last 12 months, 4 quarters or 3 (fiscal) years
    that are complete by the latest complete month."""
    step = _SERIES_MONTHS[every]
    first = _first_month(every, fiscal_year_start_month)
    end = latest_complete.end
    while (end.month - first) % step:  # back to the end of the last complete period of `every`
        end = _add_months(end, -1)
    start = _add_months(end, -step * _DEFAULT_SPAN[every])
    return Period("range", start, end, _range_label(start, end), fiscal_year_start_month)
