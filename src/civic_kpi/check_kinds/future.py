"""`future`: records dated later than the moment of the check (--now)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure

if TYPE_CHECKING:
    import polars as pl


class Future(RowKind):
    name = "future"
    position = 40
    needs = ("column",)
    date_fields = ("column",)

    def measure(self, spec: CheckSpec, rows: pl.Expr, inputs: Inputs) -> RowMeasure:
        import polars as pl

        return self.counted(spec, rows, rows & (pl.col(spec.column) > pl.lit(inputs.now)).fill_null(False))


KIND = Future()
