"""A checked formula tree -> one Polars expression for the period a Context describes.

Aggregates only see the records of the period being computed (the engine passes that mask in), narrowed by their
where=. Each function's own step comes from the registry (functions.py); this module owns what every aggregate
shares: which records it sees, and how many fed it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from civic_kpi.formula.context import NO_PERIOD, Context, all_rows, both, kpi_column, moment_literal
from civic_kpi.formula.functions import (
    DEFAULT_PERCENTILE_METHOD,
    PERCENTILE_METHODS,
    REGISTRY,
    is_date,
    measures_duration,
)
from civic_kpi.formula.parse import parse_formula
from civic_kpi.formula.tree import (
    BinaryOp,
    BoolOp,
    Call,
    Column,
    Compare,
    Formula,
    FormulaError,
    KpiRef,
    ListLiteral,
    Literal,
    Node,
    Param,
    Ref,
    Special,
    UnaryOp,
    walk,
)

if TYPE_CHECKING:
    import polars as pl


@dataclass
class Compiled:
    expr: pl.Expr
    # Per aggregate, in formula order: how many records of the period fed it (its `where`, non-null input).
    # The engine reports the first one as the KPI's sample size.
    samples: list[pl.Expr]
    # Per aggregate of a duration: how many records it left out because the duration was negative.
    invalid: list[pl.Expr] = field(default_factory=list)
    # Per aggregate, record by record (for `explain` and `rows`): whether the record fed it, the value it fed (None
    # for a count), and whether it was left out for a negative duration.
    feeds: list[pl.Expr] = field(default_factory=list)
    inputs: list[pl.Expr | None] = field(default_factory=list)
    negative: list[pl.Expr] = field(default_factory=list)


# The aggregates whose value over a set of records follows exactly from their values over its parts: a count is the
# sum of the parts' counts, a min the min of their mins. (A sum of decimals is left out: added in another order its
# last digit can differ. A mean, percentile or distinct count cannot be put together from its parts' values.)
_ROLLUP = {"count": "sum", "min": "min", "max": "max"}
_QUANTILES = ("percentile", "median")


def splits(formula: Formula, percentiles: bool = False) -> bool:
    """Whether a formula's value can be put together from partial totals over parts of its records (`Partials`).
    With `percentiles`, a formula that is one percentile or median (of a value with no aggregate in it) splits too:
    its value is left to the executor (`Partials.quantiles`), its counts are totals."""
    calls = [n for n in walk(formula.tree) if isinstance(n, Call) and REGISTRY[n.name].kind == "aggregate"]
    if percentiles and calls and calls[0] is formula.tree and calls[0].name in _QUANTILES:
        calls = calls[1:]
    return all(call.name in _ROLLUP for call in calls)


@dataclass(frozen=True)
class Quantile:
    """A percentile a split formula asks for: of `value` over the records where `rows` holds."""

    value: pl.Expr
    rows: pl.Expr
    quantile: float  # 0 to 1
    method: str  # Polars' name (functions.PERCENTILE_METHODS)
    fed_count: str  # the partial total counting the records that feed it (its sample)


class Partials:
    """The partial totals a formula is split into: each aggregate is computed per fine group (the finest breakdown)
    as a column of its own, and the formula reads their totals. Compiled with one, a formula's expression (and its
    samples and invalid counts) aggregate a frame of partial totals instead of the records: a breakdown's rows, and
    the overall row, are rolled up from one grouping of the records instead of each grouping them again."""

    def __init__(self, prefix: str, weight: str | None = None) -> None:
        """`weight`: the column of a frame whose rows stand for that many records each (a snapshot's reduced
        records, engine/snapshots.py); its counts are sums of the weights."""
        self.prefix = prefix
        self.weight = weight
        self.columns: dict[str, pl.Expr] = {}  # name -> aggregate over the records of a fine group
        self.quantiles: list[Quantile] = []  # percentiles the executor computes (the formula's value: a placeholder)

    def count(self, rows: pl.Expr | None) -> pl.Expr:
        """Register the count of the records where `rows` holds (None: all); the expression of their total."""
        import polars as pl

        if self.weight is None:
            return self.total(pl.len() if rows is None else rows.sum())
        weights = pl.col(self.weight)
        return self.total(weights.sum() if rows is None else weights.filter(rows).sum())

    def total(self, aggregate: pl.Expr, how: str = "sum") -> pl.Expr:
        """Register a partial aggregate; the expression that combines the partials (sum of counts, min of mins)."""
        import polars as pl

        name = f"{self.prefix}{len(self.columns)}"
        # Int64: a count is a UInt32 in Polars, and the totals of a big export's parts could pass its limit.
        self.columns[name] = (aggregate.cast(pl.Int64) if how == "sum" else aggregate).alias(name)
        column = pl.col(name)
        return column.sum() if how == "sum" else column.min() if how == "min" else column.max()


def count_rows(rows: pl.Expr | None, partials: Partials | None = None) -> pl.Expr:
    """How many records `rows` holds for (None: all), as an aggregate; given `partials`, the total of its parts."""
    import polars as pl

    if partials is not None:
        return partials.count(rows)
    return pl.len() if rows is None else rows.sum()


def compile_formula(formula: Formula, ctx: Context, partials: Partials | None = None) -> Compiled:
    """Turn a parsed formula into one Polars aggregate expression for the period in `ctx` (given `partials`, over
    the partial totals it collects; the formula must split, see `splits`)."""
    compiler = _Compiler(ctx, partials)
    expr = compiler.visit(formula.tree)
    return Compiled(
        expr=expr,
        samples=compiler.samples,
        invalid=compiler.invalid,
        feeds=compiler.feeds,
        inputs=compiler.inputs,
        negative=compiler.negative,
    )


def compile_row(formula: Formula, ctx: Context) -> pl.Expr:
    """A derived column's formula (one value per record)."""
    return _Compiler(ctx).visit(formula.tree)


def with_derived(
    frame: pl.LazyFrame,
    derived: Mapping[str, str],
    names: set[str],
    ctx_values: dict[str, Any],
    date_columns: frozenset[str] = frozenset(),
) -> pl.LazyFrame:
    """Add the derived (row formula) columns `names`, out of `derived` (name -> formula text), to a lazy frame."""
    if not names:
        return frame
    ctx = Context(all_rows(), NO_PERIOD, NO_PERIOD, NO_PERIOD, **ctx_values, date_columns=date_columns)
    return frame.with_columns(
        compile_row(parse_formula(derived[name], row=True), ctx).alias(name) for name in sorted(names)
    )


def cadence_inputs(
    formulas: Mapping[str, Formula], ctx_values: dict[str, Any], date_columns: frozenset[str] = frozenset()
) -> dict[str, pl.Expr]:
    """The texts refresh_days() reads in these formulas (named by their formula's name), as row expressions: the
    run counts the values it could not use, so that a cadence that is not one never looks like 'no cadence'."""
    ctx = Context(all_rows(), NO_PERIOD, NO_PERIOD, NO_PERIOD, **ctx_values, date_columns=date_columns)
    found: dict[str, pl.Expr] = {}
    for name, formula in formulas.items():
        for node in walk(formula.tree):
            if not (isinstance(node, Call) and node.name == "refresh_days"):
                continue
            argument = node.args[0]
            if any(isinstance(n, Call) and REGISTRY[n.name].kind == "aggregate" for n in walk(argument)):
                continue  # not a record's text (the parser refuses it; nothing to count)
            label = argument.name if isinstance(argument, Column) else f"refresh_days() in {name}"
            found.setdefault(label, _Compiler(ctx).visit(argument))
    return found


class _Compiler:
    """Implements functions.Lowering: the registry's compile steps call back into it for their arguments."""

    def __init__(self, ctx: Context, partials: Partials | None = None) -> None:
        self._ctx = ctx
        self._partials = partials
        self.samples: list[pl.Expr] = []
        self.invalid: list[pl.Expr] = []
        self.feeds: list[pl.Expr] = []
        self.inputs: list[pl.Expr | None] = []
        self.negative: list[pl.Expr] = []

    @property
    def ctx(self) -> Context:
        return self._ctx

    def visit(self, node: Node) -> pl.Expr:
        import polars as pl

        if isinstance(node, Literal):
            return pl.lit(node.value)
        if isinstance(node, Column):
            return pl.col(node.name)
        if isinstance(node, Special):  # as_of, period_start, period_end: each is a field of the Context
            return moment_literal(getattr(self.ctx, node.name))
        if isinstance(node, Param):
            value = self.ctx.params[node.name]
            if isinstance(value, list):
                raise FormulaError(f"params.{node.name} is a list; use it after 'in'", node.offset)
            return pl.lit(value)
        if isinstance(node, KpiRef):
            return pl.col(kpi_column(node.name))
        if isinstance(node, Ref):
            raise FormulaError("ref.NAME can only be used after 'in' or in len()", node.offset)
        if isinstance(node, ListLiteral):
            raise FormulaError("a list can only be used after 'in'", node.offset)
        if isinstance(node, BinaryOp):
            left, right = self.visit(node.left), self.visit(node.right)
            if node.op == "+":
                return left + right
            if node.op == "-":
                return left - right
            if node.op == "*":
                return left * right
            return left.cast(pl.Float64) / right
        if isinstance(node, UnaryOp):
            operand = self.visit(node.operand)
            if node.op == "not":
                return ~operand
            return -operand if node.op == "-" else operand
        if isinstance(node, BoolOp):
            values = [self.visit(value) for value in node.values]
            result = values[0]
            for value in values[1:]:
                result = (result & value) if node.op == "and" else (result | value)
            return result
        if isinstance(node, Compare):
            return self._compare(node)
        assert isinstance(node, Call)
        if self._partials is not None and node.name in _QUANTILES:
            return self._quantile(node, self._partials)
        compiled = REGISTRY[node.name].compile(node, self)
        if self._partials is not None and node.name in ("min", "max"):  # count() is a total already (sampled)
            return self._partials.total(compiled, node.name)
        return compiled

    def values(self, node: Node) -> list[Any]:
        if isinstance(node, ListLiteral):
            return [element.value for element in node.values]
        if isinstance(node, Param):
            value = self.ctx.params[node.name]
            return list(value) if isinstance(value, list) else [value]
        assert isinstance(node, Ref)
        return self.ctx.refs[node.name]

    def _compare(self, node: Compare) -> pl.Expr:
        import polars as pl

        result: pl.Expr | None = None
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            left = self.visit(left_node)
            if op in ("is", "is not"):
                part = left.is_null() if op == "is" else left.is_not_null()
            elif op in ("in", "not in"):
                values = self.values(right_node)
                if isinstance(right_node, Ref):
                    left = left.cast(pl.String)  # reference tables hold text; an integer code column compares as text
                part = left.is_in(values)
                part = ~part if op == "not in" else part
            else:
                right = self.visit(right_node)
                left, right = self._days_if_deadline(left_node, left, right_node, right)
                part = {
                    "==": lambda a, b: a == b,
                    "!=": lambda a, b: a != b,
                    "<": lambda a, b: a < b,
                    "<=": lambda a, b: a <= b,
                    ">": lambda a, b: a > b,
                    ">=": lambda a, b: a >= b,
                }[op](left, right)
            # A comparison with a missing value is false, not null, so `not` and `count(A) + count(not A)` behave
            # the way an analyst expects (two-valued logic, not SQL's three-valued one).
            part = part.fill_null(False)
            result = part if result is None else (result & part)
            left_node = right_node
        assert result is not None
        return result

    def _days_if_deadline(
        self, left_node: Node, left: pl.Expr, right_node: Node, right: pl.Expr
    ) -> tuple[pl.Expr, pl.Expr]:
        """A date is a whole day: against a timestamp (a column, as_of, datetime(...)), compare the timestamp's
        calendar day, so a request closed at 15:00 on its due date is on time (Polars would read the date as
        midnight). Timestamps are wall-clock time in the catalog's zone once read (data/sources.py), so the day is
        the local one. A literal or parameter on the other side is left as it was."""
        left_day, right_day = is_date(left_node, self.ctx), is_date(right_node, self.ctx)
        if left_day and not right_day and not isinstance(right_node, (Literal, Param)):
            right = right.dt.date()
        elif right_day and not left_day and not isinstance(left_node, (Literal, Param)):
            left = left.dt.date()
        return left, right

    def records(self, call: Call) -> pl.Expr | None:
        where = call.keyword("where")
        if where is None:
            return self.ctx.mask
        return both(self.ctx.mask, self.visit(where).fill_null(False))

    def sampled(self, rows: pl.Expr | None, value: pl.Expr | None = None) -> pl.Expr:
        import polars as pl

        count = count_rows(rows, self._partials)
        self.samples.append(count)
        self.feeds.append(pl.lit(True) if rows is None else rows)
        self.inputs.append(value)
        return count

    def picked(self, call: Call) -> pl.Expr:
        value, rows = self.fed(call)
        return value.filter(rows)

    def _quantile(self, call: Call, partials: Partials) -> pl.Expr:
        """A percentile of a split formula: its counts as totals, its value left to the executor (a missing value
        here, which the executor replaces)."""
        import polars as pl

        value, rows = self.fed(call)
        counted = list(partials.columns)[-1]  # fed() registered the sample last
        quantile = 0.5 if call.name == "median" else float(call.args[1].value) / 100.0  # type: ignore[attr-defined]
        method = call.keyword("method")
        name = method.value if isinstance(method, Literal) else DEFAULT_PERCENTILE_METHOD
        partials.quantiles.append(Quantile(value, rows, quantile, PERCENTILE_METHODS[str(name)], counted))
        return pl.lit(None, dtype=pl.Float64)

    def fed(self, call: Call) -> tuple[pl.Expr, pl.Expr]:
        """An aggregate's first argument, and the records that feed it (registered as its sample)."""
        rows = self.records(call)
        value = self.visit(call.args[0])
        if measures_duration(call.args[0]):
            # A negative time to close or to publish is a data error (end before start): leave it out, and count
            # it so the output can say how many records were left out and why. (A filter, not a when/then to
            # null: that would compute the duration once more for every aggregate of it.)
            negative = both(rows, (value < 0).fill_null(False))
            self.invalid.append(count_rows(negative, self._partials))
            self.negative.append(negative)
            rows = both(rows, (value >= 0).fill_null(False))
        else:
            rows = both(rows, value.is_not_null())
        self.sampled(rows, value)
        return value, rows
