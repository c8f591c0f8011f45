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
        days.update(public_holidays(calendar, years, name))
    return sorted(days)


def public_holidays(calendar: Calendar, years: range, name: str = "") -> list[date]:
    """The calendar's public holidays in the given years, from the user's cache where an earlier run kept them
    (holiday_cache), else from the `holidays` package."""
    from civic_kpi.time import holiday_cache

    assert calendar.holidays is not None
    source = calendar.holidays
    categories = tuple(source.categories) if source.categories else None
    key = holiday_cache.key_of(source.country, source.subdivision, categories, years)
    kept = holiday_cache.read(key)
    if kept is not None:
        return kept
    import holidays

    try:
        found = holidays.country_holidays(source.country, subdiv=source.subdivision, years=years, categories=categories)
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
    dates = sorted(found.keys())
    holiday_cache.write(key, dates)
    return dates


def week_mask(calendar: Calendar | None) -> tuple[bool, ...]:
    weekend = set(calendar.weekend) if calendar else {"Sat", "Sun"}
    return tuple(day not in weekend for day in WEEKDAYS)
