"""The as-of moment: the one instant a run describes, read from the user's text."""

from __future__ import annotations

from datetime import datetime

from civic_kpi.errors import Problem, UsageError


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

        moment = moment.astimezone(ZoneInfo(timezone or "UTC"))
    return moment.replace(tzinfo=None)
