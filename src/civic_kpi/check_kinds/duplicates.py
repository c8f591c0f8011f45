"""`duplicates`: records repeating a key, counted as the records too many (two alike: one too many)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure, SqlMeasure

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp


class Duplicates(RowKind):
    name = "duplicates"
    position = 20
    needs = ("columns",)

    def subject(self, spec: CheckSpec) -> str:
        return ", ".join(spec.columns)

    def example_columns(self, spec: CheckSpec, where_columns: list[str]) -> list[str]:
        return list(spec.columns)  # the key is what repeats; the rest of the record would only hide it

    def measure(self, spec: CheckSpec, rows: pl.Expr, inputs: Inputs) -> RowMeasure:
        import polars as pl

        keyed = rows & pl.all_horizontal(pl.col(c).is_not_null() for c in spec.columns)  # a missing key repeats nothing
        too_many = keyed.sum() - pl.struct(spec.columns).filter(keyed).n_unique()
        # Every record of a repeated key is an example, the first one too: a supervisor needs to see both.
        repeated = keyed & (keyed.sum().over(spec.columns) > 1)
        return self.counted(spec, rows, repeated, count=too_many)

    def sql_measure(self, spec: CheckSpec, rows: exp.Expression | None, inputs: Inputs) -> SqlMeasure:
        """The records too many as a statement of its own (a count per key, then their sum), and as examples
        every record of a key that repeats."""
        from sqlglot import exp

        from civic_kpi.formula.sql import RECORDS, both, column, count_where, literal

        double, records = exp.DataType.build("DOUBLE"), exp.to_table(RECORDS, quoted=True)
        present = [exp.Not(this=exp.Is(this=column(c), expression=exp.null())) for c in spec.columns]
        keyed = both(rows, exp.and_(*present, wrap=True))
        keys = [column(c) for c in spec.columns]
        per_key = exp.select(exp.alias_(exp.Count(this=exp.Star()), "n")).from_(records).where(keyed).group_by(*keys)
        beyond_first = exp.Sub(this=exp.column("n"), expression=literal(1))
        too_many = exp.cast(exp.Coalesce(this=exp.Sum(this=beyond_first), expressions=[literal(0)]), double)
        metric = exp.select(exp.alias_(too_many, "metric")).from_(per_key.subquery("keys"))
        if self.measures_share(spec):
            total = exp.select(exp.alias_(exp.cast(count_where(rows), double), "total")).from_(records.copy())
            some = exp.GT(this=exp.column("total"), expression=literal(0))
            share = exp.Div(this=exp.column("metric"), expression=exp.column("total"))
            metric = (
                exp.select(exp.Case(ifs=[exp.If(this=some, true=share)]))
                .from_(metric.subquery("counted"))
                .join(total.subquery("everything"), join_type="cross")
            )
        repeats = per_key.copy().having(exp.GT(this=exp.Count(this=exp.Star()), expression=literal(1)))
        repeats.set("expressions", [column(c) for c in spec.columns])
        repeated = exp.and_(keyed.copy(), exp.In(this=exp.Tuple(expressions=keys), query=repeats.subquery()), wrap=True)
        return SqlMeasure(metric, repeated)


KIND = Duplicates()
