"""`missing`: records without a value in a column, as a share of the records (`where` narrows which)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure

if TYPE_CHECKING:
    import polars as pl


class Missing(RowKind):
    name = "missing"
    position = 10
    needs = ("column",)

    def measures_share(self, spec: CheckSpec) -> bool:
        return True  # "5 blank neighborhoods" means little without the total; 0.2% of the records does

    def measure(self, spec: CheckSpec, rows: pl.Expr, inputs: Inputs) -> RowMeasure:
        import polars as pl

        return self.counted(spec, rows, rows & pl.col(spec.column).is_null())


KIND = Missing()
