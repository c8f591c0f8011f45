"""`freshness`: days from the newest record to the moment of the check: is the export stale?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure, SqlMeasure
from civic_kpi.results import Status

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp


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

    def sql_measure(self, spec: CheckSpec, rows: exp.Expression | None, inputs: Inputs) -> SqlMeasure:
        from sqlglot import exp

        from civic_kpi.formula.sql import column, literal

        assert spec.column is not None
        stamp = exp.cast(column(spec.column), exp.DataType.build("TIMESTAMP"))
        newest: exp.Expression = exp.Max(this=stamp)
        if rows is not None:
            newest = exp.Filter(this=newest, expression=exp.Where(this=rows))
        micros = exp.TimestampDiff(this=literal(inputs.now), expression=newest, unit=exp.var("MICROSECOND"))
        days = exp.Div(this=exp.cast(micros, exp.DataType.build("DOUBLE")), expression=literal(86_400e6))
        return SqlMeasure(days)


KIND = Freshness()
