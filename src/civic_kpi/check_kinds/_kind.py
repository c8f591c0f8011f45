"""The base of every check kind. Its defaults are the common case: a count (or share) of offending records,
judged against `warn` / `fail` ceilings; a kind overrides only where it differs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from civic_kpi.check_kinds._spec import CheckSpec, Inputs, Measured, RowMeasure, SqlMeasure
from civic_kpi.results import Status

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp


def _with_article(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} '{word}'"


class Kind(ABC):
    """One kind of check. A kind subclasses RowKind or FileKind, in a module of this package that ends with
    `KIND = TheKind()`."""

    name: ClassVar[str]  # what `check:` says in the catalog
    # Where the kind is listed in the catalog's JSON Schema and in the message for an unknown kind. Modules are
    # found in file-name order; this keeps the order the catalog has always listed them in.
    position: ClassVar[int]
    needs: ClassVar[tuple[str, ...]] = ()  # fields it cannot do without
    date_fields: ClassVar[tuple[str, ...]] = ()  # fields that must name a date or datetime column
    no_records: ClassVar[Status] = Status.PASS  # the status when there is nothing to measure

    def problem(self, spec: CheckSpec) -> str | None:
        """The first thing wrong with a check's fields for this kind, or None."""
        for needed in self.needs:
            if not getattr(spec, needed):
                return f"{_with_article(self.name)} check needs '{needed}'"
        own = self.fields_problem(spec)
        if own:
            return own
        if self.measures_share(spec) and any(t is not None and t > 1 for t in (spec.warn, spec.fail)):
            return "a share is a fraction: write 5% as 0.05"
        return None

    def fields_problem(self, spec: CheckSpec) -> str | None:
        """A rule between fields that `needs` cannot say (one of two, at least one of several)."""
        return None

    def column_type_problems(self, spec: CheckSpec, types: Mapping[str, str]) -> list[str]:
        """Date fields that name a column of another type (`types`: the dataset's column -> type; a derived column
        is not in it, as its type is not known before the data is read)."""
        problems = []
        for field_name in self.date_fields:
            column = getattr(spec, field_name)
            found = types.get(column) if column else None
            if found not in (None, "date", "datetime"):
                needs = f"{_with_article(self.name)} check needs a date or datetime column"
                problems.append(f"{needs}; '{column}' is {found}")
        return problems

    def measures_share(self, spec: CheckSpec) -> bool:
        return spec.share

    def subject(self, spec: CheckSpec) -> str:
        """What the check looks at, for its default name: `missing: closed_at`."""
        return spec.column or ""

    def label(self, spec: CheckSpec) -> str:
        return spec.name or f"{self.name}: {self.subject(spec)}"

    def columns(self, spec: CheckSpec) -> list[str]:
        """The columns the check's fields name. A field its kind ignores still counts, so a typo there is still
        reported as an unknown column rather than silently dropped."""
        named = [spec.column, spec.first, spec.then, *spec.columns]
        return list(dict.fromkeys(c for c in named if c))

    def example_columns(self, spec: CheckSpec, where_columns: list[str]) -> list[str]:
        """The columns shown beside each example record."""
        return list(dict.fromkeys([*self.columns(spec), *where_columns]))

    def unit(self, spec: CheckSpec) -> str:
        return "share" if self.measures_share(spec) else "records"

    def threshold(self, spec: CheckSpec) -> str:
        if spec.warn is None and spec.fail is None:
            return "fail > 0"
        lines = [("warn >", spec.warn), ("fail >", spec.fail)]
        share = self.unit(spec) == "share"
        return ", ".join(
            f"{sign} {value:.2%}" if share else f"{sign} {value:g}" for sign, value in lines if value is not None
        )

    def status(self, spec: CheckSpec, metric: float | None) -> Status:
        return self.no_records if metric is None else self.judge(spec, metric)

    def judge(self, spec: CheckSpec, metric: float) -> Status:
        if spec.warn is None and spec.fail is None:
            return Status.FAIL if metric > 0 else Status.PASS
        if spec.fail is not None and metric > spec.fail:
            return Status.FAIL
        if spec.warn is not None and metric > spec.warn:
            return Status.WARN
        return Status.PASS

    def message(self, spec: CheckSpec, metric: float | None) -> str:
        return "no records to measure" if metric is None else self.finding(spec, metric)

    def finding(self, spec: CheckSpec, metric: float) -> str:
        if self.unit(spec) == "share":
            return f"{metric:.2%} of the records"
        return f"{metric:,.0f} record{'s' if metric != 1 else ''}"


class RowKind(Kind):
    """A kind measured by Polars expressions inside the dataset's one aggregate, so every such check of a dataset
    costs one pass over its files; on a SQL engine, by SQL expressions inside one SELECT."""

    @abstractmethod
    def measure(self, spec: CheckSpec, rows: pl.Expr, inputs: Inputs) -> RowMeasure:
        """The metric over `rows` (the records the check's `where` keeps), and which of them offend."""

    def sql_measure(self, spec: CheckSpec, rows: exp.Expression | None, inputs: Inputs) -> SqlMeasure:
        """`measure` as SQL over the relation `records` (`rows`: None for every record), for a SQL engine. Raises
        formula.sql.SqlUnsupported where SQL would not give the same metric: by default, a kind without its SQL is
        refused there by name (a new kind works on Polars first)."""
        from civic_kpi.formula.sql import SqlUnsupported

        raise SqlUnsupported(f"a '{self.name}' check")

    def counted_sql(
        self,
        spec: CheckSpec,
        rows: exp.Expression | None,
        offending: exp.Expression,
        count: exp.Expression | None = None,
    ) -> SqlMeasure:
        """`counted` as SQL."""
        from sqlglot import exp

        from civic_kpi.formula.sql import both, count_where, literal

        double = exp.DataType.build("DOUBLE")
        offending = both(rows, offending)
        count = exp.cast(count_where(offending) if count is None else count, double)
        if self.measures_share(spec):
            total = exp.cast(count_where(rows), double)
            some = exp.GT(this=total.copy(), expression=literal(0))
            metric: exp.Expression = exp.Case(ifs=[exp.If(this=some, true=exp.Div(this=count, expression=total))])
        else:
            metric = count
        return SqlMeasure(metric, offending)

    def counted(self, spec: CheckSpec, rows: pl.Expr, offending: pl.Expr, count: pl.Expr | None = None) -> RowMeasure:
        """The count of offending records (or `count`, when one record too many is not one offending record), or
        their share of `rows` for a share check."""
        import polars as pl

        count = offending.sum() if count is None else count
        if self.measures_share(spec):
            metric = pl.when(rows.sum() > 0).then(count.cast(pl.Float64) / rows.sum())  # no records: no share
        else:
            metric = count.cast(pl.Float64)
        return RowMeasure(metric, offending)


class FileKind(Kind):
    """A kind measured from the files themselves rather than from their records; `where` does not apply."""

    @abstractmethod
    def measure(self, spec: CheckSpec, inputs: Inputs) -> Measured: ...
