"""The formula language's own syntax tree: what a checked formula is made of, and the parsed formula itself.

Every node is frozen and carries `offset`, the 0-based *character* (not byte) it starts at in the formula text
as written with its surrounding blanks stripped, so an error can point at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal as Choice

# A literal's value: what `ast` constants the language lets through.
Value = int | float | str | bool | None

SPECIAL_NAMES = {
    "as_of": "the end of the period (snapshot KPIs count records as they stood then)",
    "period_start": "the first instant of the period",
    "period_end": "the first instant after the period",
}

ArithmeticOp = Choice["+", "-", "*", "/"]
UnaryOperator = Choice["-", "+", "not"]
BoolOperator = Choice["and", "or"]
CompareOp = Choice["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not"]


class FormulaError(ValueError):
    """A formula that is not part of the language; `offset` is the 0-based character it starts at."""

    def __init__(self, message: str, offset: int | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint


@dataclass(frozen=True)
class Literal:
    """A number, text, True, False or None."""

    value: Value
    offset: int


@dataclass(frozen=True)
class Column:
    """A bare name: a column of the dataset (or a derived or deadline column)."""

    name: str
    offset: int


@dataclass(frozen=True)
class Param:
    """params.NAME: a catalog parameter."""

    name: str
    offset: int


@dataclass(frozen=True)
class Ref:
    """ref.NAME: a reference table's values, only meaningful after `in` or inside len()."""

    name: str
    offset: int


@dataclass(frozen=True)
class KpiRef:
    """kpi.ID: another KPI's value, in the formula of a KPI without a dataset."""

    name: str
    offset: int


@dataclass(frozen=True)
class Special:
    """as_of, period_start or period_end: a moment of the period being computed."""

    name: str
    offset: int


@dataclass(frozen=True)
class ListLiteral:
    """[...] or (...) of literals; only meaningful on the right of `in`."""

    values: tuple[Literal, ...]
    offset: int


@dataclass(frozen=True)
class BinaryOp:
    op: ArithmeticOp
    left: Node
    right: Node
    offset: int


@dataclass(frozen=True)
class UnaryOp:
    op: UnaryOperator
    operand: Node
    offset: int


@dataclass(frozen=True)
class BoolOp:
    op: BoolOperator
    values: tuple[Node, ...]
    offset: int


@dataclass(frozen=True)
class Compare:
    """A chain such as `a <= b < c`: each op compares the operand before it with its comparator."""

    left: Node
    ops: tuple[CompareOp, ...]
    comparators: tuple[Node, ...]
    offset: int


@dataclass(frozen=True)
class Keyword:
    name: str
    value: Node
    offset: int


@dataclass(frozen=True)
class Call:
    """A call of a function of the registry (functions.REGISTRY); arity and keywords are checked already."""

    name: str
    args: tuple[Node, ...]
    keywords: tuple[Keyword, ...]
    offset: int

    def keyword(self, name: str) -> Node | None:
        return next((k.value for k in self.keywords if k.name == name), None)


Node = Literal | Column | Param | Ref | KpiRef | Special | ListLiteral | BinaryOp | UnaryOp | BoolOp | Compare | Call


def children(node: Node) -> tuple[Node, ...]:
    """A node's direct sub-expressions, in the order they are written."""
    if isinstance(node, BinaryOp):
        return (node.left, node.right)
    if isinstance(node, UnaryOp):
        return (node.operand,)
    if isinstance(node, BoolOp):
        return node.values
    if isinstance(node, Compare):
        return (node.left, *node.comparators)
    if isinstance(node, Call):
        return (*node.args, *(k.value for k in node.keywords))
    if isinstance(node, ListLiteral):
        return node.values
    return ()


def walk(node: Node) -> Iterator[Node]:
    """Every node of a tree, parents before children (iteratively: a deep formula must not hit the stack limit)."""
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(reversed(children(current)))


@dataclass(frozen=True)
class Formula:
    """A parsed, whitelisted formula and the names it uses. Immutable: parse_formula hands out one per text and mode."""

    text: str
    tree: Node
    columns: frozenset[str] = frozenset()
    params: frozenset[str] = frozenset()
    refs: frozenset[str] = frozenset()
    aggregate_count: int = 0
    percentile_methods: frozenset[str] = frozenset()
    specials: frozenset[str] = frozenset()  # as_of, period_start, period_end: the value needs the period
    kpis: frozenset[str] = frozenset()  # the KPIs a KPI without a dataset is computed from
    over_kpis: bool = False  # a KPI without a dataset has no records: columns and aggregates are errors
    row: bool = False  # a row formula (a derived column, a where): one value per record, no aggregates
