"""`duplicates`: records repeating a key, counted as the records too many (two alike: one too many)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds._kind import RowKind
from civic_kpi.check_kinds._spec import CheckSpec, Inputs, RowMeasure

if TYPE_CHECKING:
    import polars as pl


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


KIND = Duplicates()
