"""Business days: which dates a calendar works (weekend days, public holidays, the city's closures).

Public holidays come from the maintained `holidays` package; a calendar names its country and subdivision.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from civic_kpi.errors import DataError, Problem

if TYPE_CHECKING:
    from civic_kpi.catalog.model import Calendar

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def holiday_dates(calendar: Calendar, years: range, name: str = "") -> list[date]:
    """Every non-business date of the calendar other than weekends, for the given years."""
    days: set[date] = set(calendar.closures)
    if calendar.holidays is not None:
        import holidays

        source = calendar.holidays
        try:
            found = holidays.country_holidays(
                source.country,
                subdiv=source.subdivision,
                years=years,
                categories=tuple(source.categories) if source.categories else None,
            )
        except (NotImplementedError, KeyError, ValueError) as exc:
            raise DataError(
                Problem(
                    f"the holidays package does not know {source.country}"
                    + (f"/{source.subdivision}" if source.subdivision else "")
                    + f": {exc}",
                    field=f"calendars.{name}.holidays" if name else "calendars.holidays",
                    hint="use an ISO country code (US) and, optionally, a state code (TX)",
                )
            ) from None
        days.update(found.keys())
    return sorted(days)


def week_mask(calendar: Calendar | None) -> tuple[bool, ...]:
    weekend = set(calendar.weekend) if calendar else {"Sat", "Sun"}
    return tuple(day not in weekend for day in WEEKDAYS)
