"""`order`: records whose second timestamp is earlier than the first (closed before created)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure

if TYPE_CHECKING:
    import polars as pl


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


KIND = Order()
