"""A checked formula tree -> SQL (SQLGlot expressions), the twin of compile.py for the SQL executors.

The same meaning as the Polars compiler, written as standard SQL that SQLGlot prints in each engine's dialect:

- an aggregate sees the records of the period (the executor's mask) narrowed by its `where=`, as a filtered
  aggregate (`COUNT(*) FILTER (WHERE ...)`), and registers how many records fed it (its sample) the same way;
- a comparison with a missing value is false, not unknown (`COALESCE(a < b, FALSE)`), as in compile.py;
- a duration is the microseconds between two instants divided by the unit's (DST-aware through the instant
  columns the records hold), a negative one is left out of its aggregate and counted;
- a percentile is PERCENTILE.INC (`QUANTILE_CONT` in DuckDB, `PERCENTILE_CONT` in standard SQL, which
  engine/sql/dialects.py writes as `PERCENTILE` for Spark), never an approximation;
- operands keep their brackets, a float literal is a DOUBLE and a None in an `in` list matches nothing, as in Polars.

What the SQL executors cannot run yet is refused with a clear message (SqlUnsupported), never computed otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from civic_kpi.formula.context import instant_column
from civic_kpi.formula.functions import DEFAULT_PERCENTILE_METHOD, REGISTRY, is_date, measures_duration
from civic_kpi.formula.kinds import kind_of
from civic_kpi.formula.tree import (
    BinaryOp,
    BoolOp,
    Call,
    Column,
    Compare,
    Formula,
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
    from sqlglot import exp

DOUBLE = "DOUBLE"  # SQLGlot's name of the IEEE double every dialect has (DOUBLE PRECISION in PostgreSQL)
_MICROSECONDS = {"days_between": 86_400e6, "hours_between": 3_600e6, "minutes_between": 60e6, "seconds_between": 1e6}
_LINEAR = ("inclusive", "linear")  # the percentile methods SQL computes exactly (PERCENTILE.INC)


RECORDS = "records"  # the relation each statement reads: a dataset's records as the plan knows them


class SqlUnsupported(ValueError):
    """A formula (or a part of one) the SQL executors do not run yet: `what` names it."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not supported on the SQL engines yet; run it with --engine polars")
        self.what = what


@dataclass(frozen=True)
class SqlContext:
    """What a formula's free names mean in one period, for SQL (formula.Context's twin)."""

    mask: exp.Expression | None  # the period's records; None: all
    period_start: datetime
    period_end: datetime
    as_of: datetime
    params: dict[str, Any]
    refs: dict[str, list[Any]]
    timezone: str | None = None
    date_columns: frozenset[str] = frozenset()
    instants: frozenset[str] = frozenset()
    divided: frozenset[str] = frozenset()  # derived columns whose formula divides: a 0 / 0 there is NaN
    kinds: Mapping[str, str] = field(default_factory=dict)  # each column's kind (Dataset.column_kinds)
    # A naive wall-clock moment of the catalog's zone as naive UTC (time/zones.py's rule), for as_of and the
    # period's bounds in a duration.
    to_utc: Callable[[datetime], datetime] = field(default=lambda moment: moment)


@dataclass
class SqlCompiled:
    expr: exp.Expression  # the formula's value (an aggregate)
    samples: list[exp.Expression]  # per aggregate: how many records fed it
    invalid: list[exp.Expression]  # per aggregate of a duration: how many negative durations it left out


def bracketed(node: exp.Expression) -> exp.Expression:
    """A node as the operand of an operator: bracketed unless it is one word (a column, a literal, a function call).
    SQLGlot prints nodes built by hand as they are, so (y + z) as a divisor would lose its brackets."""
    from sqlglot import exp

    if isinstance(node, exp.Column | exp.Literal | exp.Null | exp.Boolean | exp.Paren | exp.Cast):
        return node
    # OR, AND, = and NOT are Funcs to SQLGlot too: only a call written as name(...) is one word.
    if isinstance(node, exp.Func) and not isinstance(node, exp.Binary | exp.Unary | exp.Predicate):
        return node
    return exp.Paren(this=node)


def column(name: str) -> exp.Expression:
    from sqlglot import exp

    return exp.column(name, quoted=True)


def literal(value: Any) -> exp.Expression:
    """A Python value as an SQL literal, dates and timestamps typed (a naive timestamp, as the records hold)."""
    from sqlglot import exp

    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, datetime):
        text = value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return exp.cast(exp.Literal.string(text), exp.DataType.build("TIMESTAMP"), copy=False)
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, float):
        # A float literal is a DOUBLE, as in Polars: SQL would read 0.1 as an exact decimal, and 3 * 0.1 > 0.3
        # would differ in the last bit.
        text = repr(value) if value == value and value not in (float("inf"), float("-inf")) else str(value)
        return exp.cast(exp.Literal.string(text) if "n" in text else exp.Literal.number(text), DOUBLE)
    if isinstance(value, int):
        return exp.Literal.number(str(value))
    return exp.Literal.string(str(value))


def false_if_null(condition: exp.Expression) -> exp.Expression:
    """A condition that is false, not unknown, where a value is missing (compile.py's two-valued logic)."""
    from sqlglot import exp

    if _never_null(condition):
        return condition
    return exp.Coalesce(this=condition, expressions=[exp.false()])


def _never_null(condition: exp.Expression) -> bool:
    """Whether a condition is true or false for every record: made false where missing already, a test for NULL,
    or AND, OR and NOT of such conditions. (Wrapping it again would only lengthen the SQL.)"""
    from sqlglot import exp

    if isinstance(condition, exp.Coalesce):
        return condition.expressions == [exp.false()]
    if isinstance(condition, exp.Is | exp.Boolean):
        return True
    if isinstance(condition, exp.Paren | exp.Not):
        return _never_null(condition.this)
    if isinstance(condition, exp.And | exp.Or):
        return _never_null(condition.this) and _never_null(condition.expression)
    return False


def both(mask: exp.Expression | None, condition: exp.Expression) -> exp.Expression:
    from sqlglot import exp

    return condition if mask is None else exp.and_(mask, condition, wrap=True, copy=False)


def count_where(rows: exp.Expression | None) -> exp.Expression:
    """How many records `rows` holds for (None: all), as an aggregate."""
    from sqlglot import exp

    count = exp.Count(this=exp.Star())
    return count if rows is None else exp.Filter(this=count, expression=exp.Where(this=rows))


_NOT_NUMBERS = ("string", "boolean", "date", "datetime")  # kinds whose min or max never meets a NaN


def divides(formula: Formula) -> bool:
    """Whether a formula divides anywhere: a 0 / 0 there is NaN, which Polars' min and max skip."""
    return any(isinstance(n, BinaryOp) and n.op == "/" for n in walk(formula.tree))


def compile_sql(formula: Formula, ctx: SqlContext) -> SqlCompiled:
    """A parsed formula as one SQL aggregate for the period in `ctx`."""
    compiler = _SqlCompiler(ctx)
    expr = compiler.visit(formula.tree)
    return SqlCompiled(expr, compiler.samples, compiler.invalid)


def compile_sql_row(formula: Formula, ctx: SqlContext) -> exp.Expression:
    """A row formula (a KPI's `where`) as one SQL expression per record."""
    return _SqlCompiler(ctx).visit(formula.tree)


class _SqlCompiler:
    def __init__(self, ctx: SqlContext) -> None:
        self.ctx = ctx
        self.samples: list[exp.Expression] = []
        self.invalid: list[exp.Expression] = []

    def visit(self, node: Node) -> exp.Expression:
        from sqlglot import exp

        if isinstance(node, Literal):
            return literal(node.value)
        if isinstance(node, Column):
            return column(node.name)
        if isinstance(node, Special):
            return literal(getattr(self.ctx, node.name))
        if isinstance(node, Param):
            value = self.ctx.params[node.name]
            if isinstance(value, list):
                raise SqlUnsupported(f"params.{node.name} outside 'in'")
            return literal(value)
        if isinstance(node, KpiRef | Ref | ListLiteral):  # the parser keeps these where they mean something
            raise SqlUnsupported({KpiRef: "kpi.NAME here", Ref: "ref.NAME outside 'in' or len()"}.get(type(node),
                                 "a list outside 'in'"))  # fmt: skip
        if isinstance(node, BinaryOp):
            left, right = bracketed(self.visit(node.left)), bracketed(self.visit(node.right))
            if node.op == "/":
                return exp.Div(this=exp.cast(left, exp.DataType.build(DOUBLE), copy=False), expression=right)
            operator = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[node.op]
            result = operator(this=left, expression=right)
            # A date moved by a duration stays a date in Polars (by whole days, see functions.is_date; by hours,
            # the hours are dropped); SQL makes it a timestamp, which would compare unlike a day.
            return exp.cast(result, exp.DataType.build("DATE"), copy=False) if self._moved_date(node) else result
        if isinstance(node, UnaryOp):
            operand = self.visit(node.operand)
            if node.op == "not":
                return exp.Not(this=exp.Paren(this=operand))
            return exp.Neg(this=exp.Paren(this=operand)) if node.op == "-" else operand
        if isinstance(node, BoolOp):
            parts = [self.visit(value) for value in node.values]
            return (exp.and_ if node.op == "and" else exp.or_)(*parts, wrap=True, copy=False)
        if isinstance(node, Compare):
            return self._compare(node)
        assert isinstance(node, Call)
        return self._call(node)

    def _moved_date(self, node: BinaryOp) -> bool:
        """A date plus or minus days() or hours(): a date to Polars."""
        if node.op not in ("+", "-"):
            return False
        pairs = [(node.left, node.right)] + ([(node.right, node.left)] if node.op == "+" else [])
        shifts = ("days", "hours")
        return any(self._is_date(start) and isinstance(by, Call) and by.name in shifts for start, by in pairs)

    def _is_date(self, node: Node) -> bool:
        return is_date(node, self.ctx)  # type: ignore[arg-type]  # it reads only date_columns, which both have

    def _values(self, node: Node) -> list[Any]:
        if isinstance(node, ListLiteral):
            return [element.value for element in node.values]
        if isinstance(node, Param):
            value = self.ctx.params[node.name]
            return list(value) if isinstance(value, list) else [value]
        assert isinstance(node, Ref)
        return list(self.ctx.refs[node.name])

    def _compare(self, node: Compare) -> exp.Expression:
        from sqlglot import exp

        parts: list[exp.Expression] = []
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            left = bracketed(self.visit(left_node))
            if op in ("is", "is not"):
                part: exp.Expression = exp.Is(this=left, expression=exp.null())
                part = part if op == "is" else exp.Not(this=part)
            elif op in ("in", "not in"):
                values = self._values(right_node)
                if isinstance(right_node, Ref):  # reference tables hold text, as compile.py reads them
                    left = exp.cast(left, exp.DataType.build("VARCHAR"), copy=False)
                    values = [None if v is None else str(v) for v in values]
                # A None in the list matches nothing, in Polars (is_in never matches a missing value) as in SQL.
                known = [literal(v) for v in values if v is not None]
                part = exp.In(this=left, expressions=known) if known else exp.false()
                part = exp.Not(this=exp.Paren(this=part)) if op == "not in" else part
            else:
                right = bracketed(self.visit(right_node))
                left, right = self._days_if_deadline(left_node, left, right_node, right)
                operator = {"==": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[op]
                part = operator(this=left, expression=right)
            parts.append(false_if_null(part))
            left_node = right_node
        return exp.and_(*parts, wrap=True, copy=False) if len(parts) > 1 else parts[0]

    def _days_if_deadline(
        self, left_node: Node, left: exp.Expression, right_node: Node, right: exp.Expression
    ) -> tuple[exp.Expression, exp.Expression]:
        """A date against a timestamp compares the timestamp's calendar day (see compile.py)."""
        from sqlglot import exp

        day = exp.DataType.build("DATE")
        left_day, right_day = self._is_date(left_node), self._is_date(right_node)
        if left_day and not right_day and not isinstance(right_node, Literal | Param):
            right = exp.cast(right, day, copy=False)
        elif right_day and not left_day and not isinstance(left_node, Literal | Param):
            left = exp.cast(left, day, copy=False)
        return left, right

    def _call(self, call: Call) -> exp.Expression:
        from sqlglot import exp

        name = call.name
        if REGISTRY[name].kind == "aggregate":
            return self._aggregate(call)
        args = call.args
        if name in _MICROSECONDS:
            return self._between(call, _MICROSECONDS[name])
        if name in ("days", "hours"):
            # One unit times the count: the form every dialect reads (`INTERVAL (n) DAY` is DuckDB's alone).
            unit = exp.Interval(this=exp.Literal.string("1"), unit=exp.var(name[:-1].upper()))
            return exp.Paren(this=exp.Mul(this=unit, expression=exp.Paren(this=self.visit(args[0]))))
        if name == "coalesce":
            first, *rest = (self.visit(arg) for arg in args)
            return exp.Coalesce(this=first, expressions=rest)
        if name == "if_else":
            condition, then, otherwise = (self.visit(arg) for arg in args)
            return exp.Case(ifs=[exp.If(this=condition, true=then)], default=otherwise)
        if name == "is_null":
            return exp.Is(this=self.visit(args[0]), expression=exp.null())
        if name == "not_null":
            return exp.Not(this=exp.Is(this=self.visit(args[0]), expression=exp.null()))
        if name == "len":
            return literal(len(self._values(args[0])))
        if name == "abs":
            return exp.Abs(this=self.visit(args[0]))
        if name in ("lower", "upper"):
            # Beyond ASCII the engines change case otherwise than Polars (DuckDB's upper('Straße') is 'STRAẞE',
            # Polars' 'STRASSE'): a count over such text would differ, silently.
            raise SqlUnsupported(f"{name}() (SQL engines change the case of letters beyond ASCII otherwise)")
        if name in ("date", "datetime") and isinstance(args[0], Literal):
            text = str(args[0].value)
            return literal(date.fromisoformat(text) if name == "date" else datetime.fromisoformat(text))
        if name == "date":
            return exp.cast(self.visit(args[0]), exp.DataType.build("DATE"), copy=False)
        raise SqlUnsupported(f"{name}()")

    def _between(self, call: Call, per_unit: float) -> exp.Expression:
        """Elapsed time between two timestamps, DST-aware (their instants); with a date on either side, calendar
        days (see functions._between)."""
        from sqlglot import exp

        timestamp = exp.DataType.build("TIMESTAMP")
        ctx = self.ctx
        ends: list[exp.Expression] = []
        dated = any(self._is_date(arg) for arg in call.args)
        for arg in call.args:
            if ctx.timezone is None or dated:
                ends.append(exp.cast(self.visit(arg), timestamp, copy=False))
            elif isinstance(arg, Column) and arg.name in ctx.instants:
                ends.append(column(instant_column(arg.name)))
            elif isinstance(arg, Special):
                ends.append(literal(ctx.to_utc(getattr(ctx, arg.name))))
            else:
                raise SqlUnsupported(f"a duration from {type(arg).__name__.lower()} in {call.name}()")
        start, end = ends
        micros = exp.TimestampDiff(this=end, expression=start, unit=exp.var("MICROSECOND"))
        return exp.Div(this=exp.cast(micros, exp.DataType.build("DOUBLE"), copy=False), expression=literal(per_unit))

    def _aggregate(self, call: Call) -> exp.Expression:
        from sqlglot import exp

        name = call.name
        where = call.keyword("where")
        rows = self.ctx.mask if where is None else both(self.ctx.mask, false_if_null(self.visit(where)))
        if name == "count":
            if call.args:
                rows = both(rows, false_if_null(self.visit(call.args[0])))
            counted = count_where(rows)
            self.samples.append(counted)
            return counted
        value = self.visit(call.args[0])
        if measures_duration(call.args[0]):
            # A negative duration is a data error: left out of the aggregate, and counted (see compile.py).
            self.invalid.append(count_where(both(rows, false_if_null(exp.LT(this=value, expression=literal(0))))))
            rows = both(rows, false_if_null(exp.GTE(this=value, expression=literal(0))))
        else:
            rows = both(rows, exp.Not(this=exp.Is(this=value, expression=exp.null())))
        self.samples.append(count_where(rows))

        def filtered(aggregate: exp.Expression) -> exp.Expression:
            return exp.Filter(this=aggregate, expression=exp.Where(this=rows))

        if name == "sum":  # Polars' sum of no values is 0, SQL's is NULL
            return exp.Coalesce(this=filtered(exp.Sum(this=value)), expressions=[literal(0)])
        if name == "mean":
            return filtered(exp.Avg(this=value))
        if name in ("min", "max"):
            numeric = kind_of(call.args[0], self.ctx.kinds, self.ctx.params) not in _NOT_NUMBERS
            if numeric and any(
                (isinstance(n, BinaryOp) and n.op == "/") or (isinstance(n, Column) and n.name in self.ctx.divided)
                for n in walk(call.args[0])
            ):
                # Polars' min and max skip NaN (a 0/0 of the formula or of a derived column); SQL engines sort it
                # above every number.
                rows = both(rows, exp.Not(this=exp.IsNan(this=value)))
            return filtered(exp.Min(this=value) if name == "min" else exp.Max(this=value))
        if name == "n_unique":
            return filtered(exp.Count(this=exp.Distinct(expressions=[value])))
        if name in ("percentile", "median"):
            method = call.keyword("method")
            chosen = method.value if isinstance(method, Literal) else DEFAULT_PERCENTILE_METHOD
            if chosen not in _LINEAR:
                raise SqlUnsupported(f"the percentile method {chosen!r}")
            share = 0.5 if name == "median" else float(call.args[1].value) / 100.0  # type: ignore[attr-defined]
            return filtered(exp.PercentileCont(this=value, expression=literal(share)))
        raise SqlUnsupported(f"{name}()")
