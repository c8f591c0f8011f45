"""`future`: records dated later than the moment of the check (--now)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure, SqlMeasure

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp


class Future(RowKind):
    name = "future"
    position = 40
    needs = ("column",)
    date_fields = ("column",)

    def measure(self, spec: CheckSpec, rows: pl.Expr, inputs: Inputs) -> RowMeasure:
        import polars as pl

        return self.counted(spec, rows, rows & (pl.col(spec.column) > pl.lit(inputs.now)).fill_null(False))

    def sql_measure(self, spec: CheckSpec, rows: exp.Expression | None, inputs: Inputs) -> SqlMeasure:
        from sqlglot import exp

        from civic_kpi.formula.sql import column, false_if_null, literal

        assert spec.column is not None
        later = exp.GT(this=column(spec.column), expression=literal(inputs.now))
        return self.counted_sql(spec, rows, false_if_null(later))


KIND = Future()
