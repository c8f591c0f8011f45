"""`order`: records whose second timestamp is earlier than the first (closed before created)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure, SqlMeasure

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp


class Order(RowKind):
    name = "order"
    position = 30
    needs = ("first", "then")

    def subject(self, spec: CheckSpec) -> str:
        return f"{spec.then} before {spec.first}"

    def measure(self, spec: CheckSpec, rows: pl.Expr, inputs: Inputs) -> RowMeasure:
        import polars as pl

        # A missing timestamp is the `missing` check's business, not an order problem.
        return self.counted(spec, rows, rows & (pl.col(spec.then) < pl.col(spec.first)).fill_null(False))

    def sql_measure(self, spec: CheckSpec, rows: exp.Expression | None, inputs: Inputs) -> SqlMeasure:
        from sqlglot import exp

        from civic_kpi.formula.sql import column, false_if_null

        assert spec.first is not None and spec.then is not None
        before = exp.LT(this=column(spec.then), expression=column(spec.first))
        return self.counted_sql(spec, rows, false_if_null(before))


KIND = Order()
