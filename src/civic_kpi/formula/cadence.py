"""refresh_days(): how often a dataset is meant to be updated, from the cadence text open-data portals publish."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

# Average lengths, for turning ISO 8601 periods into days: a month is 365.25 / 12 days.
_UNIT_DAYS = {"Y": 365.25, "M": 30.4375, "W": 7.0, "D": 1.0}
_TIME_DAYS = {"H": 1 / 24, "M": 1 / 1440, "S": 1 / 86400}
# Words portals use for update frequency (Socrata's "Update Frequency", data.json free text), in days.
FREQUENCY_WORDS = {
    "hourly": 1 / 24, "several times per day": 0.5, "daily": 1.0, "weekdays": 1.0, "semiweekly": 3.5,
    "weekly": 7.0, "biweekly": 14.0, "semimonthly": 15.22, "monthly": 30.4375, "bimonthly": 60.875,
    "quarterly": 91.3125, "triannually": 121.75, "three times a year": 121.75, "semiannual": 182.625,
    "biannually": 182.625, "2 to 4 times per year": 182.625, "annual": 365.25, "annually": 365.25,
    "yearly": 365.25, "biennial": 730.5, "every four years": 1461.0, "quadrennial": 1461.0, "decennial": 3652.5,
}  # fmt: skip


def refresh_days(text: pl.Expr) -> pl.Expr:
    """Days between updates for a refresh cadence: ISO 8601 repeating durations (DCAT-US accrualPeriodicity,
    'R/P1M', 'R/P0.5W', 'R/PT1H') or common words ('Weekly', 'Monthly'); null for 'irregular', 'As needed' and
    anything else without a fixed cadence."""
    import polars as pl

    value = text.cast(pl.String).str.strip_chars()
    period = value.str.extract(r"^(?:R\d*/)?P((?:[\d.]+[YMWD])*)(?:T((?:[\d.]+[HMS])*))?$", 1)
    clock = value.str.extract(r"^(?:R\d*/)?P(?:[\d.]+[YMWD])*T((?:[\d.]+[HMS])*)$", 1)
    parts = [
        period.str.extract(rf"([\d.]+){unit}", 1).cast(pl.Float64, strict=False).fill_null(0) * days
        for unit, days in _UNIT_DAYS.items()
    ] + [
        clock.str.extract(rf"([\d.]+){unit}", 1).cast(pl.Float64, strict=False).fill_null(0) * days
        for unit, days in _TIME_DAYS.items()
    ]
    iso = pl.when(period.is_not_null() | clock.is_not_null()).then(pl.sum_horizontal(parts))
    words = value.str.to_lowercase().replace_strict(FREQUENCY_WORDS, default=None, return_dtype=pl.Float64)
    return pl.coalesce(iso.replace(0.0, None), words)
