"""`allowed_values`: records whose value is not in a list, written out or read from a reference table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure, SqlMeasure

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp


class AllowedValues(RowKind):
    name = "allowed_values"
    position = 60
    needs = ("column",)

    def fields_problem(self, spec: CheckSpec) -> str | None:
        if (spec.values is None) == (spec.ref is None):
            return "an allowed_values check needs either 'values' or 'ref'"
        return None

    def measure(self, spec: CheckSpec, rows: pl.Expr, inputs: Inputs) -> RowMeasure:
        import polars as pl

        if spec.values is not None:
            allowed = spec.values
        else:
            assert spec.ref is not None  # fields_problem: one of the two
            allowed = inputs.reference(spec.ref)
        value = pl.col(spec.column)
        # Compared as text: YAML reads `values: [1, 2]` as numbers, and a reference table is read as text.
        outside = value.is_not_null() & ~value.cast(pl.String).is_in([str(v) for v in allowed])
        return self.counted(spec, rows, rows & outside)

    def sql_measure(self, spec: CheckSpec, rows: exp.Expression | None, inputs: Inputs) -> SqlMeasure:
        from sqlglot import exp

        from civic_kpi.formula.sql import SqlUnsupported, column, literal

        assert spec.column is not None
        kind = inputs.types.get(spec.column)
        # Compared as text, as `measure` does: a string, a whole number, a boolean or a date reads the same in
        # every engine; a float or a timestamp does not (1.0 is "1" in PostgreSQL), nor a derived column's value.
        if kind not in ("string", "integer", "boolean", "date"):
            raise SqlUnsupported(f"an allowed_values check on a {kind or 'derived'} column")
        allowed = spec.values if spec.values is not None else inputs.reference(spec.ref or "")
        value = column(spec.column)
        text = value if kind == "string" else exp.cast(value, exp.DataType.build("VARCHAR"))
        # An empty list allows nothing; PostgreSQL and Spark refuse `IN ()`.
        listed = exp.In(this=text, expressions=[literal(str(v)) for v in allowed]) if allowed else exp.false()
        outside = exp.and_(exp.Not(this=exp.Is(this=value.copy(), expression=exp.null())), exp.Not(this=listed))
        return self.counted_sql(spec, rows, outside)


KIND = AllowedValues()
