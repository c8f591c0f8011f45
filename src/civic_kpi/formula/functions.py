"""The one registry of the functions a formula may call: each declared once, read by the parser and the compiler.

An entry says what the function is called, how it is called (positional arguments, keywords), what it gives (one
line, which the docs' formula reference is generated from), whether it aggregates records or works on one
record, and how it becomes a Polars expression.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol
from typing import Literal as Choice

from civic_kpi.formula.cadence import refresh_days
from civic_kpi.formula.context import NO_PERIOD, Context, both, instant_column, moment_literal
from civic_kpi.formula.tree import BinaryOp, Call, Column, Formula, Literal, Node, Ref, UnaryOp, walk

if TYPE_CHECKING:
    import polars as pl

Kind = Choice["aggregate", "row"]

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


class Lowering(Protocol):
    """What a function's compile step may ask of the compiler that is turning the whole formula into Polars."""

    @property
    def ctx(self) -> Context: ...

    def visit(self, node: Node) -> pl.Expr:
        """An argument as a Polars expression."""
        ...

    def values(self, node: Node) -> list[Any]:
        """The values of a list literal, params.NAME or ref.NAME."""
        ...

    def records(self, call: Call) -> pl.Expr | None:
        """The records an aggregate sees: the period's, narrowed by its where=; None: every record."""
        ...

    def sampled(self, rows: pl.Expr | None, value: pl.Expr | None = None) -> pl.Expr:
        """Note `rows` (None: every record) as the records an aggregate was computed from, and `value` as what each
        fed it (None for a count); return how many they are."""
        ...

    def picked(self, call: Call) -> pl.Expr:
        """An aggregate's first argument over the records that feed it (present, and not a negative duration)."""
        ...


Compile = Callable[[Call, Lowering], "pl.Expr"]
# What is wrong with an argument that must be written as a literal (a number, a text, ref.NAME), or None. It sees
# the argument as written: a Literal, Param, Ref or KpiRef node, or None for any other expression.
LiteralRule = Callable[[Node | None], str | None]


@dataclass(frozen=True)
class Function:
    name: str
    kind: Kind
    args: tuple[str, ...]  # the positional parameters, named as the signature shows them
    doc: str  # one line: what it gives
    compile: Compile
    min_args: int = -1  # -1: all of `args`
    max_args: int = -1  # -1: all of `args`; more than len(args): the last ones repeat (coalesce(a, b, ...))
    keywords: Mapping[str, str] = field(default_factory=dict)  # name -> what the signature shows as its value
    # Arguments (positional, by their name in `args`, or keywords) that must be written as literals: checked
    # before the other arguments, so `len(status)` says what len() takes rather than where columns may appear.
    literals: Mapping[str, LiteralRule] = field(default_factory=dict)
    duration: bool = False  # its value is a span of time: aggregates leave out (and count) negative ones
    # The kinds of value (catalog column types: 'string', 'date', 'datetime', ...) each positional argument may
    # have, by its name in `args`; an argument not named here takes any. Checked when the catalog loads (kinds.py),
    # so `lower(priority)` on an integer column is an error that names the column, not a Polars message.
    takes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    gives: str | None = None  # the kind of value it gives, where it is always the same
    percentile_method: str | None = None  # the percentile definition it applies unless method= names another

    def __post_init__(self) -> None:
        if self.min_args < 0:
            object.__setattr__(self, "min_args", len(self.args))
        if self.max_args < 0:
            object.__setattr__(self, "max_args", len(self.args))

    @property
    def signature(self) -> str:
        """How it is called, e.g. `percentile(x, p, where=condition, method='inclusive')`; [optional], ... repeats."""
        shown = [arg if i < self.min_args else f"[{arg}]" for i, arg in enumerate(self.args)]
        if self.max_args > len(self.args):
            shown.append("...")
        shown += [f"{name}={value}" for name, value in self.keywords.items()]
        return f"{self.name}({', '.join(shown)})"

    @property
    def usage(self) -> str:
        return f"{self.signature}: {self.doc}"


# ---------------------------------------------------------------- aggregates


def _count(call: Call, low: Lowering) -> pl.Expr:

    rows = low.records(call)
    if call.args:
        rows = both(rows, low.visit(call.args[0]).fill_null(False))
    return low.sampled(rows)


def _sum(call: Call, low: Lowering) -> pl.Expr:
    return low.picked(call).sum()


def _mean(call: Call, low: Lowering) -> pl.Expr:
    return low.picked(call).mean()


def _min(call: Call, low: Lowering) -> pl.Expr:
    return low.picked(call).min()


def _max(call: Call, low: Lowering) -> pl.Expr:
    return low.picked(call).max()


def _n_unique(call: Call, low: Lowering) -> pl.Expr:
    return low.picked(call).drop_nulls().n_unique()


def _quantile(call: Call, low: Lowering, quantile: float) -> pl.Expr:
    method = call.keyword("method")
    name = method.value if isinstance(method, Literal) else DEFAULT_PERCENTILE_METHOD
    return low.picked(call).quantile(quantile, interpolation=PERCENTILE_METHODS[str(name)])  # type: ignore[arg-type]


def _median(call: Call, low: Lowering) -> pl.Expr:
    return _quantile(call, low, 0.5)


def _percentile(call: Call, low: Lowering) -> pl.Expr:
    p = call.args[1]
    assert isinstance(p, Literal) and isinstance(p.value, (int, float))  # checked when parsed
    return _quantile(call, low, float(p.value) / 100.0)


def _percent(arg: Node | None) -> str | None:
    if isinstance(arg, Literal) and isinstance(arg.value, (int, float)) and 0 <= arg.value <= 100:
        return None
    return "percentile(x, p) needs a number p from 0 to 100"


def _method(arg: Node | None) -> str | None:
    if isinstance(arg, Literal) and arg.value in PERCENTILE_METHODS:
        return None
    return "method must be one of " + ", ".join(repr(m) for m in PERCENTILE_METHODS)


# ---------------------------------------------------------------- row functions


def _between(per_unit: float) -> Compile:
    def compile_between(call: Call, low: Lowering) -> pl.Expr:
        import polars as pl

        start, end = (low.visit(arg) for arg in call.args)
        # Between two timestamps: elapsed time, DST-aware. With a date on either side: calendar days, so the days
        # between 2026-03-01 and 2026-04-01 stay 31 whatever the clocks did in between.
        zone = low.ctx.timezone
        if zone is not None and not any(is_date(arg, low.ctx) for arg in call.args):
            start, end = (_instant(arg, value, low.ctx) for arg, value in zip(call.args, (start, end), strict=True))
        else:
            start, end = start.cast(pl.Datetime("us")), end.cast(pl.Datetime("us"))
        return (end - start).dt.total_microseconds() / per_unit

    return compile_between


def _instant(node: Node, value: pl.Expr, ctx: Context) -> pl.Expr:
    """A wall-clock time as an instant in the catalog's zone (rules: time/zones.py), read from the frame where it
    holds the column's instant."""
    import polars as pl

    from civic_kpi.time.zones import utc

    if isinstance(node, Column) and node.name in ctx.instants:
        return pl.col(instant_column(node.name))
    assert ctx.timezone is not None
    return utc(value, ctx.timezone)


def instant_columns(formulas: Iterable[Formula], date_columns: frozenset[str]) -> set[str]:
    """The timestamp columns these formulas measure durations between, as columns named outright (the instants a
    frame can hold once for every KPI and period that reads them)."""
    ctx = Context(None, NO_PERIOD, NO_PERIOD, NO_PERIOD, {}, {}, date_columns=date_columns)
    found = set()
    for formula in formulas:
        for node in walk(formula.tree):
            # The between functions are the durations (duration=True); with a date on either side none converts.
            if isinstance(node, Call) and REGISTRY[node.name].duration and not any(is_date(a, ctx) for a in node.args):
                found |= {arg.name for arg in node.args if isinstance(arg, Column)}
    return found


def is_date(node: Node, ctx: Context) -> bool:
    """Whether a value is known to be a date without a time: a date column or deadline, date(...), or one of these
    moved by whole days (due + days(1) is a date to Polars too)."""
    if isinstance(node, Column):
        return node.name in ctx.date_columns
    if isinstance(node, BinaryOp) and node.op in ("+", "-"):
        pairs = [(node.left, node.right)] + ([(node.right, node.left)] if node.op == "+" else [])
        return any(is_date(start, ctx) and isinstance(shift, Call) and shift.name == "days" for start, shift in pairs)
    if isinstance(node, Call) and node.name in _CHOOSERS:
        # coalesce(due2, due) or if_else(c, due2, due) is a date when every value it picks from is one (a date
        # mixed with a timestamp is a timestamp to Polars).
        return all(is_date(arg, ctx) for arg in chosen_values(node))
    return isinstance(node, Call) and node.name == "date"


_CHOOSERS = ("coalesce", "if_else")


def chosen_values(call: Call) -> list[Node]:
    """The arguments coalesce() or if_else() may give back (not if_else's condition)."""
    return list(call.args[1:] if call.name == "if_else" else call.args)


def _days(call: Call, low: Lowering) -> pl.Expr:
    import polars as pl

    return pl.duration(days=low.visit(call.args[0]))


def _hours(call: Call, low: Lowering) -> pl.Expr:
    import polars as pl

    return pl.duration(hours=low.visit(call.args[0]))


def _is_null(call: Call, low: Lowering) -> pl.Expr:
    return low.visit(call.args[0]).is_null()


def _not_null(call: Call, low: Lowering) -> pl.Expr:
    return low.visit(call.args[0]).is_not_null()


def _coalesce(call: Call, low: Lowering) -> pl.Expr:
    import polars as pl

    return pl.coalesce([low.visit(arg) for arg in call.args])


def _if_else(call: Call, low: Lowering) -> pl.Expr:
    import polars as pl

    condition, then, otherwise = (low.visit(arg) for arg in call.args)
    return pl.when(condition).then(then).otherwise(otherwise)


def _lower(call: Call, low: Lowering) -> pl.Expr:
    return low.visit(call.args[0]).str.to_lowercase()


def _upper(call: Call, low: Lowering) -> pl.Expr:
    return low.visit(call.args[0]).str.to_uppercase()


def _part(name: str) -> Compile:
    """A calendar field of a date or timestamp (year, month, weekday, hour), as a plain integer."""

    def compile_part(call: Call, low: Lowering) -> pl.Expr:
        import polars as pl

        return getattr(low.visit(call.args[0]).dt, name)().cast(pl.Int64)

    return compile_part


# ---------------------------------------------------------------- text

# Text predicates are conditions, and like a comparison they are false for a missing text (two-valued logic), so
# `count(contains(x, 'a')) + count(not contains(x, 'a'))` stays `count()`. Text functions that give text or a
# number keep a missing value missing.


def _strip(call: Call, low: Lowering) -> pl.Expr:
    return low.visit(call.args[0]).str.strip_chars()


def _length(call: Call, low: Lowering) -> pl.Expr:
    import polars as pl

    return low.visit(call.args[0]).str.len_chars().cast(pl.Int64)  # characters, not bytes: 'Café' is 4


def _contains(call: Call, low: Lowering) -> pl.Expr:
    text, part = (low.visit(arg) for arg in call.args)
    return text.str.contains(part, literal=True).fill_null(False)


def _starts_with(call: Call, low: Lowering) -> pl.Expr:
    text, part = (low.visit(arg) for arg in call.args)
    return text.str.starts_with(part).fill_null(False)


def _ends_with(call: Call, low: Lowering) -> pl.Expr:
    text, part = (low.visit(arg) for arg in call.args)
    return text.str.ends_with(part).fill_null(False)


def _matches(call: Call, low: Lowering) -> pl.Expr:
    pattern = call.args[1]
    assert isinstance(pattern, Literal) and isinstance(pattern.value, str)  # checked when parsed
    return low.visit(call.args[0]).str.contains(pattern.value).fill_null(False)


def _replace(call: Call, low: Lowering) -> pl.Expr:
    text, old, new = (low.visit(arg) for arg in call.args)
    # Literal, not a regular expression: 'St.' must replace 'St.' and not 'Sta'; matches() is there for patterns.
    return text.str.replace_all(old, new, literal=True)


def _regex(arg: Node | None) -> str | None:
    """The pattern of matches(): a text literal that is a valid regular expression for Polars (Rust's regex)."""
    if not (isinstance(arg, Literal) and isinstance(arg.value, str)):
        return "matches(text, pattern) takes the pattern as a text literal, e.g. matches(status, '^clos')"
    if any(ord(character) < 9 for character in arg.value):
        # A formula's text reads escapes as Python does: '\b' is a backspace, not a word boundary, and '\1' is
        # character 1, not a back-reference. Such a pattern would silently match nothing.
        return (
            "matches(): the pattern holds a control character; in a formula's text '\\b' is a backspace, as in "
            "Python: write a word boundary as '\\\\b' or in a raw text, r'\\bclosed\\b'"
        )
    import polars as pl

    try:
        pl.select(pl.lit("").str.contains(arg.value))
    except pl.exceptions.PolarsError as exc:
        return f"matches(): {arg.value!r} is not a valid regular expression: {_regex_reason(str(exc), arg.value)}"
    return None


def _regex_reason(message: str, pattern: str) -> str:
    """Rust regex's own words, and where in the pattern it broke (its caret line) when it says."""
    lines = message.splitlines()
    reason = next((line.removeprefix("error: ") for line in lines if line.startswith("error: ")), None)
    if reason is None:  # e.g. the compiled pattern is too large: one line, no position
        return lines[0].removeprefix("regex error: ").strip() if lines else "invalid pattern"
    caret = next((line for line in lines if line.strip() and set(line.strip()) <= {"^"}), None)
    # The caret line is indented 4 spaces under the pattern; only a one-line pattern maps back to a character.
    if caret is not None and "\n" not in pattern and caret.index("^") >= 4:
        return f"{reason} (at character {caret.index('^') - 4 + 1} of the pattern)"
    return reason


def _abs(call: Call, low: Lowering) -> pl.Expr:
    return low.visit(call.args[0]).abs()


def _len(call: Call, low: Lowering) -> pl.Expr:
    import polars as pl

    return pl.lit(len(low.values(call.args[0])))


def _table(arg: Node | None) -> str | None:
    return None if isinstance(arg, Ref) else "len() takes a reference table: len(ref.NAME)"


def _refresh_days(call: Call, low: Lowering) -> pl.Expr:
    return refresh_days(low.visit(call.args[0]))


def _read_moment(name: str, text: str) -> date | datetime:
    return date.fromisoformat(text) if name == "date" else datetime.fromisoformat(text)


def _moment_text(name: str) -> LiteralRule:
    def rule(arg: Node | None) -> str | None:
        if name == "date" and arg is None:
            return None  # date(closed_at): the day of a timestamp, whose type kinds.py checks
        if not (isinstance(arg, Literal) and isinstance(arg.value, str)):
            if name == "date":
                return "date() takes a date or timestamp, or a text literal such as '2026-01-31'"
            return f"{name}() takes a text literal such as '2026-01-31'"
        try:
            _read_moment(name, arg.value)
        except ValueError:
            example = "'2026-01-31'" if name == "date" else "'2026-01-31 17:00'"
            return f"{name}({arg.value!r}) is not a valid {name}; write it as {example}"
        return None

    return rule


def _moment(call: Call, low: Lowering) -> pl.Expr:
    text = call.args[0]
    if call.name == "date" and not isinstance(text, Literal):
        # Timestamps are naive wall-clock time in the catalog's zone once read (data/sources.py converts zoned
        # values), so the date part is the local calendar day.
        return low.visit(text).dt.date()
    assert isinstance(text, Literal) and isinstance(text.value, str)  # checked when parsed
    return moment_literal(_read_moment(call.name, text.value))


# ---------------------------------------------------------------- the registry

WHERE = {"where": "condition"}
# Kinds of value (catalog column types) an argument may have: see Function.takes.
TEXT = frozenset({"string"})
MOMENT = frozenset({"date", "datetime"})
TIMESTAMP = frozenset({"datetime"})
_HOUR, _DAY, _MINUTE, _SECOND = 3_600e6, 86_400e6, 60e6, 1e6  # microseconds

# In the order hints list them ("did you mean" picks the first of equally close names).
_DECLARED = [
    Function("count", "aggregate", ("condition",), "the number of records where the condition holds; count() counts "
             "them all", _count, min_args=0, keywords=WHERE),
    Function("sum", "aggregate", ("x",), "the total of x", _sum, keywords=WHERE),
    Function("mean", "aggregate", ("x",), "the average of x, missing values left out", _mean, keywords=WHERE),
    Function("median", "aggregate", ("x",), "the middle value of x: percentile(x, 50)", _median, keywords=WHERE,
             percentile_method=DEFAULT_PERCENTILE_METHOD),
    Function("percentile", "aggregate", ("x", "p"), "the p-th percentile (0 to 100) of x: the spreadsheet's "
             "PERCENTILE.INC, or the definition method= names ('lower', 'higher', 'nearest', 'midpoint')",
             _percentile, keywords={**WHERE, "method": "'inclusive'"}, literals={"p": _percent, "method": _method},
             percentile_method=DEFAULT_PERCENTILE_METHOD),
    Function("n_unique", "aggregate", ("x",), "the number of distinct present values of x", _n_unique,
             keywords=WHERE),
    Function("min", "aggregate", ("x",), "the smallest x", _min, keywords=WHERE),
    Function("max", "aggregate", ("x",), "the largest x", _max, keywords=WHERE),
    Function("hours_between", "row", ("start", "end"), "fractional hours from start to end",
             _between(_HOUR), duration=True),
    Function("days_between", "row", ("start", "end"), "fractional days from start to end", _between(_DAY),
             duration=True),
    Function("minutes_between", "row", ("start", "end"), "fractional minutes from start to end",
             _between(_MINUTE), duration=True),
    Function("seconds_between", "row", ("start", "end"), "fractional seconds from start to end, e.g. a call's "
             "wait from offered to answered", _between(_SECOND), duration=True),
    Function("days", "row", ("n",), "a duration of n days, e.g. closed_at + days(30)", _days),
    Function("hours", "row", ("n",), "a duration of n hours", _hours),
    Function("is_null", "row", ("x",), "x is missing", _is_null, gives="boolean"),
    Function("not_null", "row", ("x",), "x is present", _not_null, gives="boolean"),
    Function("coalesce", "row", ("a", "b"), "the first present value", _coalesce, max_args=8),
    Function("if_else", "row", ("condition", "a", "b"), "a where the condition holds, otherwise b", _if_else),
    Function("lower", "row", ("text",), "the text in lower case", _lower, takes={"text": TEXT}, gives="string"),
    Function("upper", "row", ("text",), "the text in upper case", _upper, takes={"text": TEXT}, gives="string"),
    Function("strip", "row", ("text",), "the text without the blanks (spaces, tabs, line breaks) around it",
             _strip, takes={"text": TEXT}, gives="string"),
    Function("replace", "row", ("text", "old", "new"), "the text with every 'old' replaced by 'new', taken "
             "literally (not a pattern)", _replace, takes={"text": TEXT, "old": TEXT, "new": TEXT},
             gives="string"),
    Function("length", "row", ("text",), "the number of characters in the text", _length, takes={"text": TEXT},
             gives="integer"),
    Function("contains", "row", ("text", "part"), "the text contains part, taken literally and case-sensitive "
             "(false for a missing text)", _contains, takes={"text": TEXT, "part": TEXT}, gives="boolean"),
    Function("starts_with", "row", ("text", "part"), "the text starts with part (false for a missing text)",
             _starts_with, takes={"text": TEXT, "part": TEXT}, gives="boolean"),
    Function("ends_with", "row", ("text", "part"), "the text ends with part (false for a missing text)",
             _ends_with, takes={"text": TEXT, "part": TEXT}, gives="boolean"),
    Function("matches", "row", ("text", "pattern"), "the regular expression (Rust regex syntax) matches "
             "somewhere in the text; anchor it with ^ and $ to match the whole text (false for a missing text)",
             _matches, takes={"text": TEXT}, literals={"pattern": _regex}, gives="boolean"),
    Function("abs", "row", ("x",), "x without its sign", _abs),
    Function("len", "row", ("ref.NAME",), "the number of values in a reference table", _len,
             literals={"ref.NAME": _table}),
    Function("refresh_days", "row", ("cadence",), "days between updates for a cadence such as 'R/P1M', "
             "'R/P0.5W', 'Annual (R/P1Y)', 'weekly' or 'Daily' (a month is 30.4375 days, a year 365.25); missing for "
             "'irregular' and 'As needed', and missing with a note for a cadence under a day or text that is not "
             "one", _refresh_days),
    Function("date", "row", ("x",), "the calendar day of a timestamp, in the catalog's time zone; or a date "
             "written as text, e.g. date('2026-01-31')", _moment, literals={"x": _moment_text("date")},
             takes={"x": MOMENT}, gives="date"),
    Function("datetime", "row", ("text",), "a date and time in the catalog's time zone, e.g. "
             "datetime('2026-01-31 17:00')", _moment,
             literals={"text": _moment_text("datetime")}, gives="datetime"),
    Function("year", "row", ("x",), "the year of a date or timestamp", _part("year"), takes={"x": MOMENT},
             gives="integer"),
    Function("month", "row", ("x",), "the month (1 to 12) of a date or timestamp", _part("month"),
             takes={"x": MOMENT}, gives="integer"),
    Function("weekday", "row", ("x",), "the day of the week of a date or timestamp, ISO 8601: 1 = Monday to "
             "7 = Sunday", _part("weekday"), takes={"x": MOMENT}, gives="integer"),
    Function("hour", "row", ("x",), "the hour (0 to 23) of a timestamp, on the catalog's clock",
             _part("hour"), takes={"x": TIMESTAMP}, gives="integer"),
]  # fmt: skip
REGISTRY: dict[str, Function] = {function.name: function for function in _DECLARED}


def measures_duration(node: Node) -> bool:
    """Whether an aggregate's value is a duration (possibly in arithmetic), not a condition about one."""
    if isinstance(node, Call):
        return REGISTRY[node.name].duration
    if isinstance(node, BinaryOp):
        return measures_duration(node.left) or measures_duration(node.right)
    if isinstance(node, UnaryOp) and node.op in ("-", "+"):
        return measures_duration(node.operand)
    return False


# Views of the registry in the shapes the package exported before it had one: name -> one-line usage, and the
# (min args, max args[, keywords], usage) tuples.
FUNCTIONS: dict[str, str] = {function.name: function.usage for function in _DECLARED}
AGGREGATES: dict[str, tuple[int, int, frozenset[str], str]] = {
    f.name: (f.min_args, f.max_args, frozenset(f.keywords), f.usage) for f in _DECLARED if f.kind == "aggregate"
}
ROW_FUNCTIONS: dict[str, tuple[int, int, str]] = {
    f.name: (f.min_args, f.max_args, f.usage) for f in _DECLARED if f.kind == "row"
}
