"""The as-of moment: the one instant a run describes, and the one place that decides what was known by then.

Every command (compute, check, review, scorecard, explain, rows) fixes one `Moment` and hands the same value to
every formula (`as_of`), every snapshot, every follow-up window and every note, so the moment printed is, to the
microsecond, the moment the numbers were computed at. The moment is naive wall-clock time in the catalog's zone.

A date-only moment (`--as-of 2014-05-01`) is midnight at the start of that day. "Known by the moment" follows
spreadsheet arithmetic: a timestamp is known when it is at or before the moment; a date-only value d is read as
midnight of d, so a record dated on the as-of day is known at 00:00 of that day, and as-of 2014-05-01 minus
2014-04-01 is 30 days.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from civic_kpi.errors import Problem, UsageError
from civic_kpi.results import moment_text
from civic_kpi.time.periods import FIRST_YEAR, LAST_YEAR

if TYPE_CHECKING:
    import polars as pl

MomentSource = Literal["given", "data", "clock", "period"]  # "period": no data, so the end of the period asked for


def parse_moment(value: datetime | str, timezone: str | None = None, what: str = "as-of") -> datetime:
    """A moment as naive local time of the catalog's zone; an offset given with it is converted, not dropped."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UsageError(
                Problem(f"cannot read {what} '{value}'", hint="write it as 2026-11-14 or 2026-11-14 17:00")
            ) from None
    if moment.tzinfo is not None:
        from zoneinfo import ZoneInfo

        try:
            moment = moment.astimezone(ZoneInfo(timezone or "UTC"))
        except OverflowError:  # 9999-12-31 23:59-05:00 in UTC is in the year 10000
            raise _out_of_range(value, what) from None
    moment = moment.replace(tzinfo=None)
    # A moment's default period has a prior and a year-ago twin; keep all three inside the calendar periods use.
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise _out_of_range(value, what)
    return moment


def _out_of_range(value: datetime | str, what: str) -> UsageError:
    shown = value.isoformat(" ") if isinstance(value, datetime) else value.strip()
    return UsageError(
        Problem(f"{what} '{shown}' is out of range: the supported moments are {FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31")
    )


def wall_clock(timezone: str | None = None) -> datetime:
    """The time now as naive wall-clock time of the catalog's zone (local time when it names none): the one clock
    of a run, so that a test can set it."""
    if timezone:
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo(timezone)).replace(tzinfo=None)
    return datetime.now()


@dataclass(frozen=True, order=True)
class Moment:
    """The instant a run describes, and where it came from: the user's --as-of, the newest record, or the clock."""

    at: datetime
    source: MomentSource = "given"

    @classmethod
    def given(cls, value: datetime | str, timezone: str | None = None, what: str = "as-of") -> Moment:
        return cls(parse_moment(value, timezone, what), "given")

    @classmethod
    def of_data(cls, newest: datetime) -> Moment:
        """The newest record's stamp: a date-only stamp is midnight of its day, as it prints."""
        if not isinstance(newest, datetime):  # a date column's newest day
            newest = datetime(newest.year, newest.month, newest.day)
        return cls(newest, "data")

    @classmethod
    def now(cls, timezone: str | None = None) -> Moment:
        return cls(wall_clock(timezone), "clock")

    def __str__(self) -> str:
        return moment_text(self.at)

    def capped(self, end: datetime) -> datetime:
        """The earlier of the moment and `end` (a period's end): a snapshot never looks past what is known."""
        return min(self.at, end)

    def known(self, column: pl.Expr, at: datetime | None = None) -> pl.Expr:
        """Whether a date or timestamp column's value is known at the moment (or at `at`): at or before it.
        Missing stamps are not 'after' anything, so they stay as they are (true)."""
        import polars as pl

        return (column.cast(pl.Datetime("us")) <= datetime_literal(at or self.at)).fill_null(True)


@functools.lru_cache(maxsize=4096)
def datetime_literal(value: datetime) -> pl.Expr:
    """A naive µs datetime literal. Polars builds one through a Series (0.17 ms, 50 times a date's), and a run's
    KPIs and periods share a few bounds, each used thousands of times: an expression is immutable, so one serves
    every use."""
    import polars as pl

    return pl.lit(value, dtype=pl.Datetime("us"))
