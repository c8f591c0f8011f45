"""The restricted formula language of the catalog, compiled to Polars expressions.

Formulas look like Python expressions but are never run as Python: they are parsed with `ast` and every node is
checked against a short whitelist (literals, column names, `params.X`, `ref.X`, arithmetic, comparisons, `and`
/ `or` / `not`, `in`, and the functions in FUNCTIONS). Anything else, an attribute of anything but params/ref,
a subscript, a lambda, a call of an unknown name, is rejected before any data is read.

A KPI formula is an aggregate formula: every column reference sits inside one aggregate call, for example
`count(status in ['Resolved', 'Cancelled'] and closed_at <= due_at)` or
`percentile(hours_between(created_at, closed_at), 90, where=closed_at is not None)`.
Aggregates only see the records of the period being computed (the engine passes that mask in).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

# name -> (min args, max args, allowed keywords, description)
AGGREGATES: dict[str, tuple[int, int, frozenset[str], str]] = {
    "count": (0, 1, frozenset({"where"}), "count(condition) counts the records where it holds; count() all"),
    "sum": (1, 1, frozenset({"where"}), "sum(x) adds x over the records"),
    "mean": (1, 1, frozenset({"where"}), "mean(x), nulls ignored"),
    "median": (1, 1, frozenset({"where"}), "median(x) = percentile(x, 50)"),
    "percentile": (2, 2, frozenset({"where", "method"}), "percentile(x, p): PERCENTILE.INC by default"),
    "n_unique": (1, 1, frozenset({"where"}), "n_unique(x): number of distinct non-null values"),
    "min": (1, 1, frozenset({"where"}), "min(x)"),
    "max": (1, 1, frozenset({"where"}), "max(x)"),
}
ROW_FUNCTIONS: dict[str, tuple[int, int, str]] = {
    "hours_between": (2, 2, "hours_between(start, end): fractional hours from start to end"),
    "days_between": (2, 2, "days_between(start, end): fractional days from start to end"),
    "minutes_between": (2, 2, "minutes_between(start, end)"),
    "seconds_between": (2, 2, "seconds_between(start, end): e.g. a call's wait from offered to answered"),
    "days": (1, 1, "days(n): a duration of n days, e.g. closed_at + days(30)"),
    "hours": (1, 1, "hours(n): a duration of n hours"),
    "is_null": (1, 1, "is_null(x): x is missing"),
    "not_null": (1, 1, "not_null(x): x is present"),
    "coalesce": (2, 8, "coalesce(a, b, ...): the first present value"),
    "if_else": (3, 3, "if_else(condition, a, b)"),
    "lower": (1, 1, "lower(text)"),
    "upper": (1, 1, "upper(text)"),
    "abs": (1, 1, "abs(x)"),
    "len": (1, 1, "len(ref.NAME): number of values in a reference table"),
    "refresh_days": (1, 1, "refresh_days(x): days between updates for 'R/P1M', 'R/P0.5W', 'weekly', 'Daily'..."),
    "date": (1, 1, "date('2026-01-31'): a date literal"),
    "datetime": (1, 1, "datetime('2026-01-31 17:00'): a date-and-time literal, in the catalog's time zone"),
}
FUNCTIONS = {**{k: v[3] for k, v in AGGREGATES.items()}, **{k: v[2] for k, v in ROW_FUNCTIONS.items()}}
SPECIAL_NAMES = {
    "as_of": "the end of the period (snapshot KPIs count records as they stood then)",
    "period_start": "the first instant of the period",
    "period_end": "the first instant after the period",
}
PERCENTILE_METHODS = {
    "inclusive": "linear",  # PERCENTILE.INC: linear interpolation between order statistics
    "linear": "linear",
    "lower": "lower",
    "higher": "higher",
    "nearest": "nearest",
    "midpoint": "midpoint",
}
DEFAULT_PERCENTILE_METHOD = "inclusive"
PERCENTILE_METHOD_TEXT = "PERCENTILE.INC (linear interpolation between order statistics)"


class FormulaError(ValueError):
    """A formula that is not part of the language; `offset` is the 0-based character it starts at."""

    def __init__(self, message: str, offset: int | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint


@dataclass
class Formula:
    """A parsed, whitelisted formula and the names it uses."""

    text: str
    tree: ast.expr
    columns: set[str] = field(default_factory=set)
    params: set[str] = field(default_factory=set)
    refs: set[str] = field(default_factory=set)
    aggregate_count: int = 0
    percentile_methods: set[str] = field(default_factory=set)
    specials: set[str] = field(default_factory=set)  # as_of, period_start, period_end: the value needs the period
    kpis: set[str] = field(default_factory=set)  # the KPIs a KPI without a dataset is computed from
    over_kpis: bool = False  # a KPI without a dataset has no records: columns and aggregates are errors


_OVER_KPIS = "name other KPIs as kpi.ID, or give this KPI a dataset"

# The names before a dot, and the Formula field collecting what follows it. `kpi.` only means another KPI in a KPI
# without a dataset; elsewhere the checks say so, rather than calling it an unknown column.
NAMESPACES = {"params": "params", "ref": "refs", "kpi": "kpis"}

_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot)
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def parse_formula(text: str, row: bool = False, over_kpis: bool = False) -> Formula:
    """Parse and whitelist a formula; raises FormulaError naming the first construct that is not allowed.

    A KPI formula aggregates (`row=False`); a derived column's formula works on one record at a time (`row=True`)
    and may not aggregate; the formula of a KPI without a dataset (`over_kpis`) reads other KPIs' values (kpi.ID)
    and no records.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except RecursionError:
        raise FormulaError("formula is nested too deeply", hint="split it into simpler parts") from None
    except SyntaxError as exc:
        raise FormulaError(
            f"syntax error: {exc.msg}",
            offset=(exc.offset - 1) if exc.offset else None,
            hint="formulas are expressions such as count(status == 'Open') / count()",
        ) from None
    formula = Formula(text=text, tree=tree, over_kpis=over_kpis)
    try:
        _check(tree, formula, in_aggregate=row)
    except RecursionError:
        raise FormulaError("formula is nested too deeply", hint="split it into simpler parts") from None
    if row:
        if formula.kpis:
            raise FormulaError("kpi.ID is a KPI's value; a row formula works on one record's columns")
        return formula
    if formula.aggregate_count == 0 and formula.columns:
        raise FormulaError("a KPI formula must aggregate its records", hint="wrap columns in count(), sum(), ...")
    return formula


def _describe(node: ast.AST) -> str:
    return {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripts ([...])",
        ast.Lambda: "lambda",
        ast.ListComp: "comprehensions",
        ast.GeneratorExp: "generators",
        ast.DictComp: "comprehensions",
        ast.SetComp: "comprehensions",
        ast.Dict: "dict literals",
        ast.Set: "set literals",
        ast.JoinedStr: "f-strings",
        ast.NamedExpr: "assignment (:=)",
        ast.IfExp: "inline if (use if_else(condition, a, b))",
        ast.Starred: "star arguments",
        ast.Await: "await",
    }.get(type(node), type(node).__name__)


def _check(node: ast.AST, formula: Formula, in_aggregate: bool) -> None:
    offset = getattr(node, "col_offset", None)
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float, str, bool, type(None))):
            raise FormulaError(f"literal {node.value!r} is not allowed", offset)
        return
    if isinstance(node, ast.Name):
        if node.id in SPECIAL_NAMES:
            if formula.over_kpis:
                raise FormulaError(f"'{node.id}' needs a dataset's period; this KPI has none", offset, _OVER_KPIS)
            formula.specials.add(node.id)
            return
        # A bare name is a column even where a function has the same name: exports have columns called 'days'.
        if node.id in NAMESPACES and (node.id != "kpi" or formula.over_kpis):  # a column may be called 'kpi'
            raise FormulaError(f"'{node.id}' needs a name: {node.id}.NAME", offset)
        if formula.over_kpis:
            raise FormulaError(
                f"a KPI without a dataset has no records, so it cannot use column '{node.id}'", offset, _OVER_KPIS
            )
        if not in_aggregate:
            raise FormulaError(
                f"column '{node.id}' is used outside an aggregate",
                offset,
                hint=f"aggregate it, e.g. sum({node.id}) or count({node.id} is not None)",
            )
        formula.columns.add(node.id)
        return
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id in NAMESPACES:
            getattr(formula, NAMESPACES[node.value.id]).add(node.attr)
            return
        raise FormulaError(
            "attribute access is not allowed",
            offset,
            hint="only params.NAME (a catalog parameter), ref.NAME (a reference table) and kpi.ID (another KPI's "
            "value) use a dot",
        )
    if isinstance(node, (ast.List, ast.Tuple)):
        for element in node.elts:
            if not isinstance(element, ast.Constant) or isinstance(element.value, (bytes, complex)):
                raise FormulaError("lists may only hold literal values, e.g. ['Web', 'App']", offset)
        return
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, _BINOPS):
            raise FormulaError(f"operator {type(node.op).__name__} is not allowed; use + - * /", offset)
        _check(node.left, formula, in_aggregate)
        _check(node.right, formula, in_aggregate)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
            raise FormulaError(f"operator {type(node.op).__name__} is not allowed", offset)
        _check(node.operand, formula, in_aggregate)
        return
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, formula, in_aggregate)
        return
    if isinstance(node, ast.Compare):
        _check(node.left, formula, in_aggregate)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if not isinstance(op, _COMPARE):
                raise FormulaError(f"comparison {type(op).__name__} is not allowed", offset)
            if isinstance(op, (ast.Is, ast.IsNot)) and not (isinstance(right, ast.Constant) and right.value is None):
                raise FormulaError("'is' only compares with None: x is None, x is not None", offset)
            if isinstance(op, (ast.In, ast.NotIn)):
                named_list = (
                    isinstance(right, ast.Attribute)
                    and isinstance(right.value, ast.Name)
                    and right.value.id in ("ref", "params")
                )
                if not (isinstance(right, (ast.List, ast.Tuple)) or named_list):
                    raise FormulaError("'in' needs a list of values, params.NAME or ref.NAME on its right", offset)
            if not (isinstance(right, ast.Constant) and right.value is None):
                _check(right, formula, in_aggregate)
        return
    if isinstance(node, ast.Call):
        _check_call(node, formula, in_aggregate)
        return
    raise FormulaError(
        f"{_describe(node)} is not allowed in formulas",
        offset,
        hint="formulas may use columns, literals, params.NAME, ref.NAME, + - * /, comparisons, "
        "and/or/not, in, and the functions " + ", ".join(sorted(FUNCTIONS)),
    )


def _check_call(node: ast.Call, formula: Formula, in_aggregate: bool) -> None:
    offset = node.col_offset
    if not isinstance(node.func, ast.Name):
        raise FormulaError(
            "only the built-in functions can be called",
            offset,
            hint="available: " + ", ".join(sorted(FUNCTIONS)),
        )
    name = node.func.id
    if name not in FUNCTIONS:
        from civic_kpi.errors import did_you_mean

        raise FormulaError(
            f"function '{name}' is not allowed",
            offset,
            hint=did_you_mean(name, list(FUNCTIONS)) or "available: " + ", ".join(sorted(FUNCTIONS)),
        )
    if name in AGGREGATES:
        low, high, keywords, usage = AGGREGATES[name]
    else:
        low, high, usage = ROW_FUNCTIONS[name]
        keywords = frozenset()
    if any(isinstance(arg, ast.Starred) for arg in node.args) or any(kw.arg is None for kw in node.keywords):
        raise FormulaError("star arguments are not allowed", offset)
    if not low <= len(node.args) <= high:
        raise FormulaError(f"{name}() takes {low if low == high else f'{low} to {high}'} arguments", offset, usage)
    for keyword in node.keywords:
        if keyword.arg not in keywords:
            raise FormulaError(
                f"{name}() has no keyword '{keyword.arg}'",
                offset,
                hint=f"allowed: {', '.join(sorted(keywords))}" if keywords else usage,
            )
    if name in AGGREGATES:
        if formula.over_kpis:
            raise FormulaError(
                f"a KPI without a dataset has no records, so it cannot use an aggregate ({name})", offset, _OVER_KPIS
            )
        if in_aggregate:
            raise FormulaError(
                f"aggregate {name}() inside another aggregate, or in a derived column (which works on one record)",
                offset,
            )
        formula.aggregate_count += 1
        if name == "percentile":
            p = node.args[1]
            if not (isinstance(p, ast.Constant) and isinstance(p.value, (int, float)) and 0 <= p.value <= 100):
                raise FormulaError("percentile(x, p) needs a number p from 0 to 100", offset)
        method = DEFAULT_PERCENTILE_METHOD if name in ("percentile", "median") else None
        for keyword in node.keywords:
            if keyword.arg == "method":
                if not (isinstance(keyword.value, ast.Constant) and keyword.value.value in PERCENTILE_METHODS):
                    raise FormulaError(
                        "method must be one of " + ", ".join(repr(m) for m in PERCENTILE_METHODS), offset
                    )
                method = keyword.value.value
            else:
                _check(keyword.value, formula, in_aggregate=True)
        if method:
            formula.percentile_methods.add(method)
        for arg in node.args:
            _check(arg, formula, in_aggregate=True)
        return
    if name == "len":
        arg = node.args[0]
        if not (isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "ref"):
            raise FormulaError("len() takes a reference table: len(ref.NAME)", offset)
    if name in ("date", "datetime"):
        _literal_moment(node, name)
        return
    for arg in node.args:
        _check(arg, formula, in_aggregate)


def both(mask: pl.Expr | None, condition: pl.Expr) -> pl.Expr:
    """`mask & condition`, where a mask of None means every record."""
    if mask is not None:
        return mask & condition
    if not condition.meta.root_names():  # a constant (params.x > 0): one value, so its sum() would be 1
        return all_rows() & condition
    return condition


def all_rows() -> pl.Expr:
    """A mask selecting every record. Not pl.lit(True): a literal is one value, so its sum() would be 1."""
    import polars as pl

    return pl.repeat(True, pl.len())


def _literal_moment(node: ast.Call, name: str) -> date | datetime:
    """The value of date('...') / datetime('...'), checked when the formula is parsed."""
    arg = node.args[0]
    if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
        raise FormulaError(f"{name}() takes a text literal such as '2026-01-31'", node.col_offset)
    try:
        return date.fromisoformat(arg.value) if name == "date" else datetime.fromisoformat(arg.value)
    except ValueError:
        example = "'2026-01-31'" if name == "date" else "'2026-01-31 17:00'"
        raise FormulaError(
            f"{name}({arg.value!r}) is not a valid {name}; write it as {example}", node.col_offset
        ) from None


# Average lengths, for turning ISO 8601 periods into days: a month is 365.25 / 12 days.
_UNIT_DAYS = {"Y": 365.25, "M": 30.4375, "W": 7.0, "D": 1.0}
_TIME_DAYS = {"H": 1 / 24, "M": 1 / 1440, "S": 1 / 86400}
# Words portals use for update frequency (Socrata's "Update Frequency", data.json free text), in days.
FREQUENCY_WORDS = {
    "hourly": 1 / 24, "several times per day": 0.5, "daily": 1.0, "weekdays": 1.0, "semiweekly": 3.5,
    "weekly": 7.0, "biweekly": 14.0, "semimonthly": 15.22, "monthly": 30.4375, "bimonthly": 60.875,
    "quarterly": 91.3125, "triannually": 121.75, "three times a year": 121.75, "semiannual": 182.625,
    "biannually": 182.625, "2 to 4 times per year": 182.625, "annual": 365.25, "annually": 365.25,
    "yearly": 365.25, "biennial": 730.5, "every four years": 1461.0, "quadrennial": 1461.0, "decennial": 3652.5,
}  # fmt: skip


def refresh_days(text: pl.Expr) -> pl.Expr:
    """Days between updates for a refresh cadence: ISO 8601 repeating durations (DCAT-US accrualPeriodicity,
    'R/P1M', 'R/P0.5W', 'R/PT1H') or common words ('Weekly', 'Monthly'); null for 'irregular', 'As needed' and
    anything else without a fixed cadence."""
    import polars as pl

    value = text.cast(pl.String).str.strip_chars()
    period = value.str.extract(r"^(?:R\d*/)?P((?:[\d.]+[YMWD])*)(?:T((?:[\d.]+[HMS])*))?$", 1)
    clock = value.str.extract(r"^(?:R\d*/)?P(?:[\d.]+[YMWD])*T((?:[\d.]+[HMS])*)$", 1)
    parts = [
        period.str.extract(rf"([\d.]+){unit}", 1).cast(pl.Float64, strict=False).fill_null(0) * days
        for unit, days in _UNIT_DAYS.items()
    ] + [
        clock.str.extract(rf"([\d.]+){unit}", 1).cast(pl.Float64, strict=False).fill_null(0) * days
        for unit, days in _TIME_DAYS.items()
    ]
    iso = pl.when(period.is_not_null() | clock.is_not_null()).then(pl.sum_horizontal(parts))
    words = value.str.to_lowercase().replace_strict(FREQUENCY_WORDS, default=None, return_dtype=pl.Float64)
    return pl.coalesce(iso.replace(0.0, None), words)


# The moment formulas are compiled with where the period cannot matter: row formulas, formulas over KPIs, type
# checks, and keyed plans (which hold only formulas that never read the period's bounds).
NO_PERIOD = datetime(2000, 1, 1)


def kpi_column(kpi_id: str) -> str:
    """The column holding a KPI's values where a formula over KPIs (kpi.ID) is evaluated."""
    return f"kpi.{kpi_id}"


def compile_row(formula: Formula, ctx: Context) -> pl.Expr:
    """A derived column's formula (one value per record)."""
    return _Compiler(ctx, []).visit(formula.tree)


@dataclass(frozen=True)
class Context:
    """What a formula's free names mean while one period is computed."""

    mask: pl.Expr | None  # the records in the period; None: all records (the frame is grouped by period)
    period_start: datetime
    period_end: datetime
    as_of: datetime
    params: dict[str, Any]
    refs: dict[str, list[Any]]
    timezone: str | None = None  # durations between timestamps are elapsed time in this zone (DST-aware)
    date_columns: frozenset[str] = frozenset()  # columns holding dates only: their differences are whole days


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


def compile_formula(formula: Formula, ctx: Context) -> Compiled:
    """Turn a parsed formula into one Polars aggregate expression for the period in `ctx`."""
    compiler = _Compiler(ctx, [])
    expr = compiler.visit(formula.tree)
    return Compiled(
        expr=expr,
        samples=compiler.samples,
        invalid=compiler.invalid,
        feeds=compiler.feeds,
        inputs=compiler.inputs,
        negative=compiler.negative,
    )


def _to_lit(value: Any) -> pl.Expr:
    import polars as pl

    if isinstance(value, datetime):
        return pl.lit(value, dtype=pl.Datetime("us"))
    if isinstance(value, date):
        return pl.lit(value, dtype=pl.Date)
    return pl.lit(value)


DURATIONS = {"hours_between": 3_600e6, "days_between": 86_400e6, "minutes_between": 60e6, "seconds_between": 1e6}


def _measures_duration(node: ast.AST) -> bool:
    """Whether an aggregate's value is a duration (possibly in arithmetic), not a condition about one."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in DURATIONS
    if isinstance(node, ast.BinOp):
        return _measures_duration(node.left) or _measures_duration(node.right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _measures_duration(node.operand)
    return False


class _Compiler:
    def __init__(self, ctx: Context, samples: list[pl.Expr]) -> None:
        self.ctx = ctx
        self.samples = samples
        self.invalid: list[pl.Expr] = []
        self.feeds: list[pl.Expr] = []
        self.inputs: list[pl.Expr | None] = []
        self.negative: list[pl.Expr] = []

    def visit(self, node: ast.AST) -> pl.Expr:
        import polars as pl

        if isinstance(node, ast.Constant):
            return pl.lit(node.value)
        if isinstance(node, ast.Name):
            if node.id == "as_of":
                return _to_lit(self.ctx.as_of)
            if node.id == "period_start":
                return _to_lit(self.ctx.period_start)
            if node.id == "period_end":
                return _to_lit(self.ctx.period_end)
            return pl.col(node.id)
        if isinstance(node, ast.Attribute):
            assert isinstance(node.value, ast.Name)
            if node.value.id == "params":
                value = self.ctx.params[node.attr]
                if isinstance(value, list):
                    raise FormulaError(f"params.{node.attr} is a list; use it after 'in'", node.col_offset)
                return pl.lit(value)
            if node.value.id == "kpi":
                return pl.col(kpi_column(node.attr))
            raise FormulaError("ref.NAME can only be used after 'in' or in len()", node.col_offset)
        if isinstance(node, ast.BinOp):
            left, right = self.visit(node.left), self.visit(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            return left.cast(pl.Float64) / right
        if isinstance(node, ast.UnaryOp):
            operand = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return ~operand
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BoolOp):
            values = [self.visit(v) for v in node.values]
            result = values[0]
            for value in values[1:]:
                result = (result & value) if isinstance(node.op, ast.And) else (result | value)
            return result
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise FormulaError(f"{_describe(node)} is not allowed in formulas", getattr(node, "col_offset", None))

    def _values(self, node: ast.AST) -> list[Any]:
        if isinstance(node, (ast.List, ast.Tuple)):
            return [element.value for element in node.elts]  # type: ignore[attr-defined]
        assert isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if node.value.id == "params":
            value = self.ctx.params[node.attr]
            return list(value) if isinstance(value, list) else [value]
        return self.ctx.refs[node.attr]

    def _compare(self, node: ast.Compare) -> pl.Expr:
        import polars as pl

        result: pl.Expr | None = None
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            left = self.visit(left_node)
            if isinstance(op, (ast.Is, ast.IsNot)):
                part = left.is_null() if isinstance(op, ast.Is) else left.is_not_null()
            elif isinstance(op, (ast.In, ast.NotIn)):
                values = self._values(right_node)
                if isinstance(right_node, ast.Attribute) and right_node.value.id == "ref":  # type: ignore[attr-defined]
                    left = left.cast(pl.String)  # reference tables hold text; an integer code column compares as text
                part = left.is_in(values)
                part = ~part if isinstance(op, ast.NotIn) else part
            else:
                right = self.visit(right_node)
                part = {
                    ast.Eq: lambda a, b: a == b,
                    ast.NotEq: lambda a, b: a != b,
                    ast.Lt: lambda a, b: a < b,
                    ast.LtE: lambda a, b: a <= b,
                    ast.Gt: lambda a, b: a > b,
                    ast.GtE: lambda a, b: a >= b,
                }[type(op)](left, right)
            # A comparison with a missing value is false, not null, so `not` and `count(A) + count(not A)` behave
            # the way an analyst expects (two-valued logic, not SQL's three-valued one).
            part = part.fill_null(False)
            result = part if result is None else (result & part)
            left_node = right_node
        assert result is not None
        return result

    def _call(self, node: ast.Call) -> pl.Expr:
        import polars as pl

        assert isinstance(node.func, ast.Name)
        name = node.func.id
        if name in AGGREGATES:
            return self._aggregate(node, name)
        if name == "len":
            return pl.lit(len(self._values(node.args[0])))
        if name in ("date", "datetime"):
            return _to_lit(_literal_moment(node, name))
        args = [self.visit(arg) for arg in node.args]
        if name in DURATIONS:
            per_unit = DURATIONS[name]
            # Between two timestamps: elapsed time, DST-aware. With a date on either side: calendar days, so the
            # days between 2026-03-01 and 2026-04-01 stay 31 whatever the clocks did in between.
            aware = self.ctx.timezone is not None and not any(self._is_date(arg) for arg in node.args)
            start, end = (self._instant(a) if aware else a.cast(pl.Datetime("us")) for a in args)
            return (end - start).dt.total_microseconds() / per_unit
        if name == "days":
            return pl.duration(days=args[0])
        if name == "hours":
            return pl.duration(hours=args[0])
        if name == "is_null":
            return args[0].is_null()
        if name == "not_null":
            return args[0].is_not_null()
        if name == "coalesce":
            return pl.coalesce(args)
        if name == "if_else":
            return pl.when(args[0]).then(args[1]).otherwise(args[2])
        if name == "lower":
            return args[0].str.to_lowercase()
        if name == "upper":
            return args[0].str.to_uppercase()
        if name == "abs":
            return args[0].abs()
        if name == "refresh_days":
            return refresh_days(args[0])
        raise FormulaError(f"function '{name}' is not allowed", node.col_offset)  # unreachable after parse

    def _is_date(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.ctx.date_columns
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "date"

    def _instant(self, value: pl.Expr) -> pl.Expr:
        """Wall-clock time as an instant in the catalog's zone, so a duration across a DST change is true."""
        import polars as pl

        moment = value.cast(pl.Datetime("us"))
        zone = self.ctx.timezone
        # In the autumn's repeated hour take the first occurrence. A spring-gap time (02:30 on the day clocks jump)
        # does not exist; like Python's zoneinfo (fold=0), read it one hour on (03:30).
        exact = moment.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        shifted = (moment + pl.duration(hours=1)).dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        return pl.coalesce(exact, shifted)

    def _aggregate(self, node: ast.Call, name: str) -> pl.Expr:
        import polars as pl

        keywords = {kw.arg: kw.value for kw in node.keywords}
        rows = self.ctx.mask
        if "where" in keywords:
            rows = both(rows, self.visit(keywords["where"]).fill_null(False))
        if name == "count":
            if node.args:
                rows = both(rows, self.visit(node.args[0]).fill_null(False))
            counted = pl.len() if rows is None else rows.sum()
            self.samples.append(counted)
            self.feeds.append(pl.lit(True) if rows is None else rows)
            self.inputs.append(None)
            return counted
        value = self.visit(node.args[0])
        if _measures_duration(node.args[0]):
            # A negative time to close or to publish is a data error (end before start): leave it out, and
            # count it so the output can say how many records were left out and why. (A filter, not a
            # when/then to null: that would compute the duration once more for every aggregate of it.)
            negative = both(rows, (value < 0).fill_null(False))
            self.invalid.append(negative.sum())
            self.negative.append(negative)
            rows = both(rows, (value >= 0).fill_null(False))
        else:
            rows = both(rows, value.is_not_null())
        self.samples.append(rows.sum())
        self.feeds.append(rows)
        self.inputs.append(value)
        picked = value.filter(rows)
        if name == "sum":
            return picked.sum()
        if name == "mean":
            return picked.mean()
        if name == "min":
            return picked.min()
        if name == "max":
            return picked.max()
        if name == "n_unique":
            return picked.drop_nulls().n_unique()
        method = DEFAULT_PERCENTILE_METHOD
        if "method" in keywords:
            method = keywords["method"].value  # type: ignore[attr-defined]
        quantile = 0.5 if name == "median" else float(node.args[1].value) / 100.0  # type: ignore[attr-defined]
        return picked.quantile(quantile, interpolation=PERCENTILE_METHODS[method])  # type: ignore[arg-type]


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
