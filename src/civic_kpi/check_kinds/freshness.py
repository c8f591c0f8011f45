"""`freshness`: days from the newest record to the moment of the check: is the export stale?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure
from civic_kpi.results import Status

if TYPE_CHECKING:
    import polars as pl


class Freshness(RowKind):
    name = "freshness"
    position = 50
    needs = ("column",)
    date_fields = ("column",)
    no_records = Status.FAIL  # an export with no records at all is as stale as it gets

    def unit(self, spec: CheckSpec) -> str:
        return "days"

    def finding(self, spec: CheckSpec, metric: float) -> str:
        return f"newest {spec.column} is {metric:.1f} days old"

    def measure(self, spec: CheckSpec, rows: pl.Expr, inputs: Inputs) -> RowMeasure:
        import polars as pl

        newest = pl.col(spec.column).filter(rows).max().cast(pl.Datetime("us"))
        return RowMeasure((pl.lit(inputs.now) - newest).dt.total_microseconds() / 86_400e6)


KIND = Freshness()
