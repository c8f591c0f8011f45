"""`row_count`: the number of records, between `min` and `max` (fail) and `warn_min` and `warn_max` (warn)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure, SqlMeasure
from civic_kpi.results import Status

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp


class RowCount(RowKind):
    name = "row_count"
    position = 70

    def fields_problem(self, spec: CheckSpec) -> str | None:
        if all(v is None for v in (spec.min, spec.max, spec.warn_min, spec.warn_max)):
            return "a row_count check needs min, max, warn_min or warn_max"
        return None

    def subject(self, spec: CheckSpec) -> str:
        return "rows"

    def unit(self, spec: CheckSpec) -> str:
        return "records"

    def threshold(self, spec: CheckSpec) -> str:
        bounds = [("fail <", spec.min), ("fail >", spec.max), ("warn <", spec.warn_min), ("warn >", spec.warn_max)]
        return ", ".join(f"{sign} {value}" for sign, value in bounds if value is not None)

    def judge(self, spec: CheckSpec, metric: float) -> Status:
        if (spec.min is not None and metric < spec.min) or (spec.max is not None and metric > spec.max):
            return Status.FAIL
        if (spec.warn_min is not None and metric < spec.warn_min) or (
            spec.warn_max is not None and metric > spec.warn_max
        ):
            return Status.WARN
        return Status.PASS

    def finding(self, spec: CheckSpec, metric: float) -> str:
        return f"{metric:,.0f} records"

    def measure(self, spec: CheckSpec, rows: pl.Expr, inputs: Inputs) -> RowMeasure:
        import polars as pl

        return RowMeasure(rows.sum().cast(pl.Float64))

    def sql_measure(self, spec: CheckSpec, rows: exp.Expression | None, inputs: Inputs) -> SqlMeasure:
        from sqlglot import exp

        from civic_kpi.formula.sql import count_where

        return SqlMeasure(exp.cast(count_where(rows), exp.DataType.build("DOUBLE")))


KIND = RowCount()
