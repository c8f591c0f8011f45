"""`allowed_values`: records whose value is not in a list, written out or read from a reference table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure

if TYPE_CHECKING:
    import polars as pl


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


KIND = AllowedValues()
