"""What a formula's free names mean while one period is computed, and the small Polars pieces every part shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from civic_kpi.time.moment import datetime_literal

if TYPE_CHECKING:
    import polars as pl

# The moment formulas are compiled with where the period cannot matter: row formulas, formulas over KPIs, type
# checks, and keyed plans (which hold only formulas that never read the period's bounds).
NO_PERIOD = datetime(2000, 1, 1)


@dataclass(frozen=True)
class Context:
    """What a formula's free names mean while one period is computed."""

    mask: pl.Expr | None  # the records in the period; None: all records (the frame is grouped by period)
    period_start: datetime
    period_end: datetime
    as_of: datetime
    params: dict[str, Any]
    refs: dict[str, list[Any]]
    timezone: str | None = None  # durations between timestamps are elapsed time in this zone (DST-aware)
    # Columns holding dates only: their differences are whole days, and a timestamp compared with one is compared
    # by its calendar day.
    date_columns: frozenset[str] = frozenset()
    # Timestamp columns whose instant (naive UTC) the frame already holds in instant_column(name): a duration reads
    # it there instead of converting the column again in every KPI and period.
    instants: frozenset[str] = frozenset()


def instant_column(column: str) -> str:
    """The frame's column holding a timestamp column's instant (see Context.instants)."""
    return f"__instant.{column}"


def kpi_column(kpi_id: str) -> str:
    """The column holding a KPI's values where a formula over KPIs (kpi.ID) is evaluated."""
    return f"kpi.{kpi_id}"


def both(mask: pl.Expr | None, condition: pl.Expr) -> pl.Expr:
    """`mask & condition`, where a mask of None means every record."""
    if mask is not None:
        return mask & condition
    if not condition.meta.root_names():  # a constant (params.x > 0): one value, so its sum() would be 1
        return all_rows() & condition
    return condition


def all_rows() -> pl.Expr:
    """A mask selecting every record. Not pl.lit(True): a literal is one value, so its sum() would be 1."""
    import polars as pl

    return pl.repeat(True, pl.len())


def moment_literal(value: Any) -> pl.Expr:
    """A literal whose dates and datetimes get the types the columns they meet have (a naive µs datetime)."""
    import polars as pl

    if isinstance(value, datetime):
        return datetime_literal(value)
    if isinstance(value, date):
        return pl.lit(value, dtype=pl.Date)
    return pl.lit(value)
