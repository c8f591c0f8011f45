"""How much of a period the data covers, for one KPI: nothing before the first record of a dataset it reads, and
nothing after the as-of moment. A comparison of two periods is only as good as the less covered of them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from civic_kpi.results import moment_text
from civic_kpi.time.periods import Period


def first_days(datasets: set[str], oldest: Mapping[str, datetime | None]) -> dict[str, date]:
    """The first day of records of each dataset a KPI reads (directly or through the KPIs it is computed from).
    A dataset without a dated record gives the KPI no value at all, which says more than a partial period."""
    return {name: first.date() for name, first in oldest.items() if name in datasets and first is not None}


def gaps(
    period: Period, first: Mapping[str, date], moment: datetime, role: str, start: date | None = None
) -> list[str]:
    """Why the data covers `period` only in part: the records it counts (from `start`, for a to-date window)
    begin before the first record of a dataset, or the period runs past the as-of moment. `role`: '', 'prior ' or
    'year-ago ', as the reason names the period. A period wholly before the first record has no data, not a part."""
    begin = start or period.start
    found = []
    late = {name: day for name, day in first.items() if begin < day < period.end}
    if late:
        day = max(late.values())
        names = sorted(name for name, found_day in late.items() if found_day == day)
        found.append(
            f"the {role}period {period.label} is covered only from {day} ({_share(begin, day, period.end)}) in "
            f"dataset{'s' if len(names) > 1 else ''} {', '.join(names)}"
        )
    # As for the latest complete month: data through the last second of the period completes it.
    if moment < period.end_dt - timedelta(seconds=1):
        found.append(f"the {role}period {period.label} is not complete at the as-of moment ({moment_text(moment)})")
    return found


def _share(begin: date, first: date, end: date) -> str:
    """How much of [begin, end) is covered from `first`: in months where all three start a month, else in days."""
    if begin.day == first.day == end.day == 1:
        months = _month_index(end) - _month_index(begin)
        return f"{_month_index(end) - _month_index(first)} of {months} month{'s' if months > 1 else ''}"
    return f"{(end - first).days} of {(end - begin).days} days"


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1
