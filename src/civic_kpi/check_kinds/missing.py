"""`missing`: records without a value in a column, as a share of the records (`where` narrows which)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure, SqlMeasure

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp


class Missing(RowKind):
    name = "missing"
    position = 10
    needs = ("column",)

    def measures_share(self, spec: CheckSpec) -> bool:
        return True  # "5 blank neighborhoods" means little without the total; 0.2% of the records does

    def measure(self, spec: CheckSpec, rows: pl.Expr, inputs: Inputs) -> RowMeasure:
        import polars as pl

        return self.counted(spec, rows, rows & pl.col(spec.column).is_null())

    def sql_measure(self, spec: CheckSpec, rows: exp.Expression | None, inputs: Inputs) -> SqlMeasure:
        from sqlglot import exp

        from civic_kpi.formula.sql import column

        assert spec.column is not None
        return self.counted_sql(spec, rows, exp.Is(this=column(spec.column), expression=exp.null()))


KIND = Missing()
