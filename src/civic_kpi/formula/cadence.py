"""refresh_days(): how often a dataset is meant to be updated, from the cadence text open-data portals publish.

A catalog holds few distinct cadences (a few dozen in a data.json of thousands of datasets), so each distinct text
is read once in Python (ISO 8601 durations by isodate) and the days are put back on the records by Polars; no
Python runs per record.

Lengths: a year is 365.25 days and a month a twelfth of that, 30.4375 days (isodate keeps years and months apart
from days, since their length depends on the calendar; a cadence needs one number).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import polars as pl

YEAR_DAYS = 365.25
MONTH_DAYS = YEAR_DAYS / 12  # 30.4375
SHORTEST_DAYS = 1.0  # a cadence shorter than a day is a data error: no KPI counts datasets updated hourly as late

# The Project Open Data (DCAT-US v1.1) accrualPeriodicity values and their labels, as the schema lists them:
# https://resources.data.gov/resources/dcat-us/#accrualPeriodicity and the schema's enumeration in
# https://project-open-data.cio.gov/v1.1/schema/dataset.json (also R/P0.5W, which the schema accepts unlabelled).
# No data.json sample ships with the project's shared data, so the list is checked against the schema only.
POD_LABELS = {
    "decennial": "R/P10Y", "quadrennial": "R/P4Y", "annual": "R/P1Y", "bimonthly": "R/P2M", "semiweekly": "R/P3.5D",
    "daily": "R/P1D", "biweekly": "R/P2W", "semiannual": "R/P6M", "biennial": "R/P2Y", "triennial": "R/P3Y",
    "three times a week": "R/P0.33W", "three times a month": "R/P0.33M", "continuously updated": "R/PT1S",
    "monthly": "R/P1M", "quarterly": "R/P3M", "semimonthly": "R/P0.5M", "three times a year": "R/P4M",
    "weekly": "R/P1W", "hourly": "R/PT1H",
}  # fmt: skip
# Other words portals use (Socrata's custom "Update Frequency" fields, free text in data.json), as durations.
OTHER_WORDS = {
    "annually": "R/P1Y", "yearly": "R/P1Y", "every year": "R/P1Y", "biannually": "R/P6M", "semiannually": "R/P6M",
    "twice a year": "R/P6M", "2 to 4 times per year": "R/P6M", "triannually": "R/P4M", "every two years": "R/P2Y",
    "every three years": "R/P3Y", "every four years": "R/P4Y", "every five years": "R/P5Y", "every ten years":
    "R/P10Y", "fortnightly": "R/P2W", "every two weeks": "R/P2W", "twice a month": "R/P0.5M", "twice a week":
    "R/P0.5W", "weekdays": "R/P1D", "every day": "R/P1D", "nightly": "R/P1D", "several times per day": "R/PT12H",
    "continuously": "R/PT1S", "continual": "R/PT1S", "real time": "R/PT1S", "realtime": "R/PT1S",
}  # fmt: skip
# Values that say there is no fixed cadence: not a cadence to check, and not a value the tool failed to read.
NO_CADENCE = {
    "irregular", "as needed", "historical data", "historical", "never", "not planned", "unknown", "one time",
    "none", "not updated", "static", "archived", "ad hoc",
}  # fmt: skip

Kind = Literal["days", "none", "sub-day", "unmapped"]


@dataclass(frozen=True)
class Cadence:
    kind: Kind  # days: a cadence; none: says there is none; sub-day: shorter than a day; unmapped: not understood
    days: float | None = None


def _normal(text: str) -> str:
    """Case, runs of spaces and the hyphen of 'bi-weekly' or 'semi-annual' do not change a cadence."""
    text = re.sub(r"\s+", " ", text.strip().lower())
    return re.sub(r"(?<=[a-z])-(?=[a-z])", "", text).rstrip(".")


def _iso_days(text: str) -> float | None:
    """An ISO 8601 duration or repeating interval (R/P1M, R5/P1W, P1D, R/P1Y2M) in days; None if it is not one."""
    import isodate

    match = re.fullmatch(r"(?:r\d*/)?(p[0-9.,ymwdths]+)", text.lower())
    if match is None:
        return None
    try:
        duration = isodate.parse_duration(match.group(1).upper())
    except (isodate.ISO8601Error, ValueError, ArithmeticError):
        return None
    if isinstance(duration, isodate.Duration):
        months = float(duration.years) * 12 + float(duration.months)
        days = months * MONTH_DAYS + duration.tdelta.total_seconds() / 86400
    else:
        days = duration.total_seconds() / 86400
    # 'PT' or 'R/P0Y' has no length: not a cadence at all, rather than one shorter than a day.
    return days if days > 0 else None


def _one(text: str) -> Cadence | None:
    """A cadence written one way (a duration, a label, a word), or None when it is none of them."""
    if text in NO_CADENCE:
        return Cadence("none")
    days = _iso_days(POD_LABELS.get(text) or OTHER_WORDS.get(text) or text)
    if days is None:
        return None
    return Cadence("days", days) if days >= SHORTEST_DAYS else Cadence("sub-day", days)


@functools.lru_cache(maxsize=4096)
def read_cadence(text: str) -> Cadence:
    """One cadence text: 'R/P1M', 'Monthly', ' annual (R/P1Y) ', 'R/P1Y (Annual)', 'irregular'. A label and its
    duration written together must agree ('Monthly (R/P1Y)' is not read)."""
    normal = _normal(text)
    if not normal:
        return Cadence("none")
    found = _one(normal)
    if found is not None:
        return found
    wrapped = re.fullmatch(r"(.*?)\s*\(([^()]*)\)\s*(.*?)", normal)
    if wrapped is None:
        return Cadence("unmapped")
    outside = " ".join(part for part in (wrapped.group(1), wrapped.group(3)) if part)
    readings = {_one(_normal(part)) for part in (outside, wrapped.group(2)) if _normal(part)}
    return readings.pop() if len(readings) == 1 and None not in readings else Cadence("unmapped")


def cadence_days(values: pl.Series) -> pl.Series:
    """Days between updates for each cadence text (null where there is no cadence, a sub-day one, or text that
    is not a cadence): the distinct texts are read in Python, the records mapped by Polars."""
    import polars as pl

    text = values.cast(pl.String)
    readings = {value: read_cadence(value) for value in text.drop_nulls().unique().to_list()}
    days = {value: found.days for value, found in readings.items() if found.kind == "days"}
    return text.replace_strict(days, default=None, return_dtype=pl.Float64)


def refresh_days(text: pl.Expr) -> pl.Expr:
    """Days between updates for a refresh cadence: ISO 8601 durations (DCAT-US accrualPeriodicity 'R/P1M',
    'R/P0.5W'), the Project Open Data labels ('Monthly', 'Three times a week'), common words, and the two written
    together ('Annual (R/P1Y)'). Null for 'irregular', 'As needed' and the like, for a cadence shorter than a day
    (a data error, which the run's notes count) and for text that is not a cadence (also noted)."""
    import polars as pl

    # Elementwise: a streaming or partitioned read may map the records in chunks, each with its own distinct values.
    return text.map_batches(cadence_days, return_dtype=pl.Float64, is_elementwise=True)


def cadence_note(where: str, counts: Mapping[str, int], limit: int = 20) -> list[str]:
    """The run's notes on the cadences it could not use: sub-day ones (a data error) and unmapped ones, each
    distinct value with how many records hold it (most first)."""
    notes = []
    for kind, what in (
        ("sub-day", "a cadence shorter than a day, which is a data error, not a cadence"),
        ("unmapped", "a cadence that is not an ISO 8601 duration or a known frequency label"),
    ):
        found = sorted(
            ((value, count) for value, count in counts.items() if read_cadence(value).kind == kind),
            key=lambda item: (-item[1], item[0]),
        )
        if not found:
            continue
        total = sum(count for _, count in found)
        listed = ", ".join(f"'{value}' ({count})" for value, count in found[:limit])
        more = f" and {len(found) - limit} more" if len(found) > limit else ""
        notes.append(
            f"{where}: {total} record{'s' if total != 1 else ''} {'has' if total == 1 else 'have'} {what}: "
            f"{listed}{more}; {'it has' if total == 1 else 'they have'} no refresh_days, so no update is due for them"
        )
    return notes
