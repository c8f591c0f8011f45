"""Formula text -> a checked tree of our own (tree.py), once per text and mode.

Formulas look like Python expressions but are never run as Python: `ast` reads them (safe, and the syntax stays
familiar), and one conversion turns the `ast` nodes it allows into the language's own nodes, refusing everything
else: an attribute of anything but params / ref / kpi, a subscript, a lambda, a call of a name the function
registry does not hold. Nothing is read before a formula passes.

A KPI formula is an aggregate formula: every column reference sits inside one aggregate call, for example
`count(status in ['Resolved', 'Cancelled'] and closed_at <= due_at)` or
`percentile(hours_between(created_at, closed_at), 90, where=closed_at is not None)`.
"""

from __future__ import annotations

import ast
import re
import warnings
from functools import lru_cache

from civic_kpi.errors import did_you_mean
from civic_kpi.formula.functions import DEFAULT_PERCENTILE_METHOD, REGISTRY, Function
from civic_kpi.formula.tree import (
    SPECIAL_NAMES,
    ArithmeticOp,
    BinaryOp,
    BoolOp,
    BoolOperator,
    Call,
    Column,
    Compare,
    CompareOp,
    Formula,
    FormulaError,
    Keyword,
    KpiRef,
    ListLiteral,
    Literal,
    Node,
    Param,
    Ref,
    Special,
    UnaryOp,
    UnaryOperator,
)

# The names before a dot, and the Formula field collecting what follows it. `kpi.` only means another KPI in a KPI
# without a dataset; elsewhere the checks say so, rather than calling it an unknown column.
NAMESPACES = {"params": "params", "ref": "refs", "kpi": "kpis"}
_NAMESPACE_NODES: dict[str, type[Param | Ref | KpiRef]] = {"params": Param, "ref": Ref, "kpi": KpiRef}

_ARITHMETIC: dict[type[ast.operator], ArithmeticOp] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_UNARY: dict[type[ast.unaryop], UnaryOperator] = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not"}
_BOOL: dict[type[ast.boolop], BoolOperator] = {ast.And: "and", ast.Or: "or"}
_COMPARE: dict[type[ast.cmpop], CompareOp] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}  # fmt: skip
_LITERAL_TYPES = (int, float, str, bool, type(None))

_OVER_KPIS = "name other KPIs as kpi.ID, or give this KPI a dataset"
_TOO_DEEP = "formula is nested too deeply"
_SIMPLER = "split it into simpler parts"
# What Python's tokenizer counts as the end of a line, so `ast` line numbers map back to the text.
_NEWLINE = re.compile(r"\r\n|\r|\n")


def parse_formula(text: str, row: bool = False, over_kpis: bool = False) -> Formula:
    """Parse and whitelist a formula; raises FormulaError naming the first construct that is not allowed.

    A KPI formula aggregates (`row=False`); a derived column's formula works on one record at a time (`row=True`)
    and may not aggregate; the formula of a KPI without a dataset (`over_kpis`) reads other KPIs' values (kpi.ID)
    and no records. The same text and mode always give the same (immutable) Formula object: the catalog checks,
    the engine and the quality checks all ask for the same formulas, and parse them once.
    """
    return _parse(text, bool(row), bool(over_kpis))


@lru_cache(maxsize=4096)
def _parse(text: str, row: bool, over_kpis: bool) -> Formula:
    source = text.strip()
    positions = _Positions(source)
    try:
        with warnings.catch_warnings():
            # '\s' in a regular expression ('^\s*closed') is an unknown escape to Python, which keeps the
            # backslash (what the pattern means) but warns on stderr: a formula is not Python source.
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            body = ast.parse(source, mode="eval").body
    except RecursionError:
        raise FormulaError(_TOO_DEEP, hint=_SIMPLER) from None
    except SyntaxError as exc:
        if "assignment" in exc.msg or "'=='" in exc.msg:  # Python's words for '=' where it expects an expression
            raise FormulaError(
                "'=' is not a comparison: a formula compares with ==",
                offset=positions.of_syntax_error(exc),
                hint="write count(status == 'Closed'), not count(status = 'Closed')",
            ) from None
        raise FormulaError(
            f"syntax error: {exc.msg}",
            offset=positions.of_syntax_error(exc),
            hint="formulas are expressions such as count(status == 'Open') / count()",
        ) from None
    converter = _Converter(positions, over_kpis)
    try:
        tree = converter.convert(body, in_aggregate=row)
    except RecursionError:
        raise FormulaError(_TOO_DEEP, hint=_SIMPLER) from None
    if row and converter.names["kpis"]:
        raise FormulaError("kpi.ID is a KPI's value; a row formula works on one record's columns")
    if not row and converter.aggregate_count == 0 and converter.columns:
        raise FormulaError("a KPI formula must aggregate its records", hint="wrap columns in count(), sum(), ...")
    return Formula(
        text=text,
        tree=tree,
        columns=frozenset(converter.columns),
        params=frozenset(converter.names["params"]),
        refs=frozenset(converter.names["refs"]),
        aggregate_count=converter.aggregate_count,
        percentile_methods=frozenset(converter.percentile_methods),
        specials=frozenset(converter.specials),
        kpis=frozenset(converter.names["kpis"]),
        over_kpis=over_kpis,
        row=row,
    )


class _Positions:
    """`ast` gives a line and a UTF-8 *byte* column; errors point at a *character* of the (stripped) text."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.starts = [0] + [match.end() for match in _NEWLINE.finditer(source)]
        ends = [*self.starts[1:], len(source)]
        self.lines = [source[start:end].encode("utf-8") for start, end in zip(self.starts, ends, strict=True)]

    def of(self, node: ast.AST) -> int:
        line, column = node.lineno, node.col_offset  # type: ignore[attr-defined]
        return self.starts[line - 1] + len(self.lines[line - 1][:column].decode("utf-8", errors="ignore"))

    def of_syntax_error(self, exc: SyntaxError) -> int | None:
        if not exc.offset:
            return None
        # SyntaxError's offset already counts characters (1-based) within its line.
        start = self.starts[exc.lineno - 1] if exc.lineno and exc.lineno <= len(self.starts) else 0
        return start + exc.offset - 1


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


class _Converter:
    """One pass over the `ast` tree: whitelist, check, build our nodes, and collect the names the formula uses.

    The checks run in the order the nodes are met, so the first problem reported is the first one written.
    """

    def __init__(self, positions: _Positions, over_kpis: bool) -> None:
        self.positions = positions
        self.over_kpis = over_kpis
        self.columns: set[str] = set()
        self.specials: set[str] = set()
        self.names: dict[str, set[str]] = {field: set() for field in NAMESPACES.values()}
        self.aggregate_count = 0
        self.percentile_methods: set[str] = set()

    def convert(self, node: ast.AST, in_aggregate: bool) -> Node:
        offset = self.positions.of(node)
        if isinstance(node, ast.Constant):
            return self._literal(node, offset)
        if isinstance(node, ast.Name):
            return self._name(node.id, offset, in_aggregate)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id in NAMESPACES:
                self.names[NAMESPACES[node.value.id]].add(node.attr)
                return _NAMESPACE_NODES[node.value.id](node.attr, offset)
            raise FormulaError(
                "attribute access is not allowed",
                offset,
                hint="only params.NAME (a catalog parameter), ref.NAME (a reference table) and kpi.ID (another "
                "KPI's value) use a dot",
            )
        if isinstance(node, (ast.List, ast.Tuple)):
            values = []
            for element in node.elts:
                if not (isinstance(element, ast.Constant) and isinstance(element.value, _LITERAL_TYPES)):
                    raise FormulaError("lists may only hold literal values, e.g. ['Web', 'App']", offset)
                values.append(Literal(element.value, self.positions.of(element)))
            return ListLiteral(tuple(values), offset)
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _ARITHMETIC:
                raise FormulaError(f"operator {type(node.op).__name__} is not allowed; use + - * /", offset)
            left = self.convert(node.left, in_aggregate)
            return BinaryOp(_ARITHMETIC[type(node.op)], left, self.convert(node.right, in_aggregate), offset)
        if isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise FormulaError(f"operator {type(node.op).__name__} is not allowed", offset)
            return UnaryOp(_UNARY[type(node.op)], self.convert(node.operand, in_aggregate), offset)
        if isinstance(node, ast.BoolOp):
            values = tuple(self.convert(value, in_aggregate) for value in node.values)
            return BoolOp(_BOOL[type(node.op)], values, offset)
        if isinstance(node, ast.Compare):
            return self._compare(node, offset, in_aggregate)
        if isinstance(node, ast.Call):
            return self._call(node, offset, in_aggregate)
        raise FormulaError(
            f"{_describe(node)} is not allowed in formulas",
            offset,
            hint="formulas may use columns, literals, params.NAME, ref.NAME, + - * /, comparisons, "
            "and/or/not, in, and the functions " + ", ".join(sorted(REGISTRY)),
        )

    def _literal(self, node: ast.Constant, offset: int) -> Literal:
        if not isinstance(node.value, _LITERAL_TYPES):
            raise FormulaError(f"literal {node.value!r} is not allowed", offset)
        return Literal(node.value, offset)

    def _name(self, name: str, offset: int, in_aggregate: bool) -> Special | Column:
        if name in SPECIAL_NAMES:
            if self.over_kpis:
                raise FormulaError(f"'{name}' needs a dataset's period; this KPI has none", offset, _OVER_KPIS)
            self.specials.add(name)
            return Special(name, offset)
        # A bare name is a column even where a function has the same name: exports have columns called 'days'.
        if name in NAMESPACES and (name != "kpi" or self.over_kpis):  # a column may be called 'kpi'
            raise FormulaError(f"'{name}' needs a name: {name}.NAME", offset)
        if self.over_kpis:
            raise FormulaError(
                f"a KPI without a dataset has no records, so it cannot use column '{name}'", offset, _OVER_KPIS
            )
        if not in_aggregate:
            raise FormulaError(
                f"column '{name}' is used outside an aggregate",
                offset,
                hint=f"aggregate it, e.g. sum({name}) or count({name} is not None)",
            )
        self.columns.add(name)
        return Column(name, offset)

    def _compare(self, node: ast.Compare, offset: int, in_aggregate: bool) -> Compare:
        left = self.convert(node.left, in_aggregate)
        ops: list[CompareOp] = []
        comparators: list[Node] = []
        for op, right in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _COMPARE:
                raise FormulaError(f"comparison {type(op).__name__} is not allowed", offset)
            symbol = _COMPARE[type(op)]
            is_none = isinstance(right, ast.Constant) and right.value is None
            if symbol in ("is", "is not") and not is_none:
                raise FormulaError("'is' only compares with None: x is None, x is not None", offset)
            if symbol in ("in", "not in"):
                named_list = (
                    isinstance(right, ast.Attribute)
                    and isinstance(right.value, ast.Name)
                    and right.value.id in ("ref", "params")
                )
                if not (isinstance(right, (ast.List, ast.Tuple)) or named_list):
                    raise FormulaError("'in' needs a list of values, params.NAME or ref.NAME on its right", offset)
            ops.append(symbol)
            comparators.append(self.convert(right, in_aggregate))
        return Compare(left, tuple(ops), tuple(comparators), offset)

    def _call(self, node: ast.Call, offset: int, in_aggregate: bool) -> Call:
        if not isinstance(node.func, ast.Name):
            raise FormulaError(
                "only the built-in functions can be called", offset, hint="available: " + ", ".join(sorted(REGISTRY))
            )
        name = node.func.id
        function = REGISTRY.get(name)
        if function is None:
            raise FormulaError(
                f"function '{name}' is not allowed",
                offset,
                hint=did_you_mean(name, list(REGISTRY)) or "available: " + ", ".join(sorted(REGISTRY)),
            )
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(kw.arg is None for kw in node.keywords):
            raise FormulaError("star arguments are not allowed", offset)
        low, high = function.min_args, function.max_args
        if not low <= len(node.args) <= high:
            count = low if low == high else f"{low} to {high}"
            raise FormulaError(f"{name}() takes {count} arguments", offset, function.usage)
        for index, keyword in enumerate(node.keywords):
            if keyword.arg not in function.keywords:
                allowed = ", ".join(sorted(function.keywords))
                if keyword.arg is not None and not did_you_mean(keyword.arg, list(function.keywords)):
                    # count(status = 'Closed') reads as a keyword to Python: a comparison meant, unless the name is
                    # a keyword misspelt (count(x, were=...)).
                    value = ast.get_source_segment(self.positions.source, keyword.value) or "..."
                    raise FormulaError(
                        f"'=' is not a comparison: {name}() has no keyword '{keyword.arg}'",
                        offset,
                        hint=f"to compare, write {keyword.arg} == {value}"
                        + (f" ({name}()'s keywords: {allowed})" if allowed else ""),
                    )
                raise FormulaError(
                    f"{name}() has no keyword '{keyword.arg}'",
                    offset,
                    hint=f"allowed: {allowed}" if allowed else function.usage,
                )
            # `ast` lets a repeated keyword through (Python refuses it only when compiling): which one would count?
            if any(earlier.arg == keyword.arg for earlier in node.keywords[:index]):
                raise FormulaError(f"{name}() has the keyword '{keyword.arg}' twice", offset)
        inside = in_aggregate
        if function.kind == "aggregate":
            if self.over_kpis:
                raise FormulaError(
                    f"a KPI without a dataset has no records, so it cannot use an aggregate ({name})",
                    offset,
                    _OVER_KPIS,
                )
            if in_aggregate:
                raise FormulaError(
                    f"aggregate {name}() inside another aggregate, or in a derived column (which works on one record)",
                    offset,
                )
            self.aggregate_count += 1
            inside = True
        self._check_literals(function, node)
        keywords = tuple(
            Keyword(str(kw.arg), self.convert(kw.value, inside), self.positions.of(kw)) for kw in node.keywords
        )
        args = tuple(self.convert(arg, inside) for arg in node.args)
        call = Call(name, args, keywords, offset)
        if function.percentile_method is not None:
            method = call.keyword("method")
            self.percentile_methods.add(str(method.value) if isinstance(method, Literal) else DEFAULT_PERCENTILE_METHOD)
        return call

    def _check_literals(self, function: Function, node: ast.Call) -> None:
        written = [*zip(function.args, node.args, strict=False), *((kw.arg, kw.value) for kw in node.keywords)]
        for name, arg in written:
            rule = function.literals.get(str(name))
            problem = rule(self._as_written(arg)) if rule is not None else None
            if problem is not None:
                raise FormulaError(problem, self.positions.of(arg))  # at the argument, e.g. the bad pattern

    def _as_written(self, node: ast.AST) -> Node | None:
        """A literal or NAME.X argument as a node, without the checks of a full conversion; None for the rest."""
        if isinstance(node, ast.Constant) and isinstance(node.value, _LITERAL_TYPES):
            return Literal(node.value, self.positions.of(node))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in NAMESPACES:
            return _NAMESPACE_NODES[node.value.id](node.attr, self.positions.of(node))
        return None
