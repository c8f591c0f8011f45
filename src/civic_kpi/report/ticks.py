"""Which periods a trend chart's time axis names, and the words it names them with.

The axis names a few whole periods, chosen here rather than by Vega: its own ticks fall on calendar intervals that
know no fiscal year or quarter label, and a chart of 24 months got 8 labels of which its overlap rule then hid 4,
each measured on the way (vl-convert shapes every label's text: half of a trend chart's drawing time). Labels fall
on round periods (January and July, the first quarter, every fifth year), the same in every chart of a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Protocol


class Period(Protocol):
    """A period of a series as a result names it (results.PeriodInfo)."""

    @property
    def label(self) -> str: ...
    @property
    def start(self) -> date: ...


PLOT_WIDTH = 320  # the trend chart's plot, in pixels (chart_templates._trend)
_CHARACTER, _GAP = 6.5, 16  # an 11 px label's mean character width and the space between two labels, in pixels
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# The steps, in periods, a labelled axis may take: each divides the next round period (a year, a decade).
_STEPS = {
    "month": (1, 2, 3, 6, 12, 24, 60, 120),
    "quarter": (1, 2, 4, 8, 20, 40),
    "year": (1, 2, 5, 10, 20, 50, 100),
    "fiscal_year": (1, 2, 5, 10, 20, 50, 100),
}


def label(kind: str, period: Period) -> str:
    """A period's short name on the axis: "Jan 25", "Q3 25", "2025", "FY26" (the table beside it has the long)."""
    start = period.start
    if kind == "month":
        return f"{_MONTHS[start.month - 1]} {start.year % 100:02d}"
    if kind == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year % 100:02d}"
    if kind == "fiscal_year":
        return f"FY{period.label[-2:]}"  # named for the year it ends in: FY2026 -> FY26, as budgets write it
    return period.label


def _position(kind: str, period: Period) -> int:
    """The period's place in a count of its kind from year 0, so that a step's multiples are round periods."""
    start = period.start
    if kind == "month":
        return start.year * 12 + start.month - 1
    if kind == "quarter":
        return start.year * 4 + (start.month - 1) // 3
    if kind == "fiscal_year":
        return int(period.label.removeprefix("FY"))  # the year it ends in, as it is named
    return start.year


def choose(kind: str, periods: Sequence[Period]) -> list[Period]:
    """The periods of a series of `kind` (month, quarter, year, fiscal_year) the axis names: every step-th, on round
    periods, with the smallest step whose labels fit side by side in the plot's width. A series too short to hold
    one round period names its first."""
    if not periods:
        return []
    widest = max(len(label(kind, period)) for period in periods)
    fits = max(2, int(PLOT_WIDTH // (widest * _CHARACTER + _GAP)))
    chosen: list[Period] = list(periods)
    for step in _STEPS.get(kind, (1,)):
        chosen = [period for period in periods if _position(kind, period) % step == 0]
        if len(chosen) <= fits:
            break
    return chosen or [periods[0]]


def epoch_ms(day: date) -> int:
    """Midnight UTC of the day, as Vega holds a time: the charts' time scale is UTC, so that a chart drawn on a
    machine west of Greenwich does not place the 1st of a month on the evening before."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
