"""Wall-clock time in a zone as an instant, for durations that stay true across a daylight-saving change.

The rules for the times a change makes ambiguous or impossible: in the autumn's repeated hour the first occurrence;
a spring-gap time (02:30 on the night clocks jump) does not exist and is read one hour on (03:30), as Python's
zoneinfo reads it (fold=0) for a one-hour gap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl


def utc(value: pl.Expr, zone: str) -> pl.Expr:
    """Naive wall-clock time in `zone` as naive UTC.

    Polars looks the zone up once per record, which is slow (about 50 ns a record, twice here for the gap rule):
    the engine converts each timestamp column a formula measures durations on once per record, in the dataset's
    frame, instead of once per KPI and period (see PolarsExecutor.frame)."""
    import polars as pl

    moment = value.cast(pl.Datetime("us"))
    exact = moment.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
    shifted = (moment + pl.duration(hours=1)).dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
    return pl.coalesce(exact, shifted).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
