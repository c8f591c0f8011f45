"""What kind of value each part of a formula is, where the catalog says: so a function given the wrong kind of value
is an error naming the argument (`lower(priority)`: 'priority' is an integer column), not a Polars message.

Kinds are the catalog's column types ('string', 'integer', 'float', 'boolean', 'date', 'datetime'). A part whose
kind cannot be known without the data (arithmetic, if_else, coalesce) is let through; compiling the formula against
an empty frame of the declared types still catches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from civic_kpi.formula.functions import REGISTRY, chosen_values
from civic_kpi.formula.tree import (
    BinaryOp,
    BoolOp,
    Call,
    Column,
    Compare,
    Formula,
    FormulaError,
    Literal,
    Node,
    Param,
    Special,
    UnaryOp,
    walk,
)

_SPOKEN = {
    "string": "text",
    "integer": "a number",
    "float": "a number",
    "boolean": "true/false",
    "date": "a date",
    "datetime": "a timestamp",
}


def kind_of(node: Node, columns: Mapping[str, str], params: Mapping[str, Any]) -> str | None:
    """The kind of value `node` gives, or None where it is not known before the data is read."""
    if isinstance(node, Column):
        return columns.get(node.name)
    if isinstance(node, Literal):
        return _kind_of_value(node.value)
    if isinstance(node, Param):
        return _kind_of_value(params.get(node.name))
    if isinstance(node, Special):
        return "datetime"
    if isinstance(node, (Compare, BoolOp)) or (isinstance(node, UnaryOp) and node.op == "not"):
        return "boolean"
    if isinstance(node, BinaryOp) and node.op in ("+", "-"):
        # A date moved by whole days is still a date (due + days(1)); Polars keeps its type too.
        pairs = [(node.left, node.right)] + ([(node.right, node.left)] if node.op == "+" else [])
        for start, shift in pairs:
            if isinstance(shift, Call) and shift.name == "days" and kind_of(start, columns, params) == "date":
                return "date"
        return None
    if isinstance(node, Call):
        function = REGISTRY[node.name]
        if node.name == "date" and isinstance(node.args[0], Literal):
            return "date"
        if node.name in ("coalesce", "if_else"):
            kinds = {kind_of(arg, columns, params) for arg in chosen_values(node)}
            return kinds.pop() if len(kinds) == 1 else None
        return function.gives
    return None


def _kind_of_value(value: object) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return None


def argument_problems(formula: Formula, columns: Mapping[str, str], params: Mapping[str, Any]) -> list[FormulaError]:
    """Every argument, in the order written, whose kind the function does not take."""
    problems = []
    for node in walk(formula.tree):
        if not isinstance(node, Call):
            continue
        function = REGISTRY[node.name]
        for name, arg in zip(function.args, node.args, strict=False):
            allowed = function.takes.get(name)
            if allowed is None or (name in function.literals and isinstance(arg, Literal)):
                continue  # a literal there is checked by its own rule when parsed (date('2026-01-31'))
            kind = kind_of(arg, columns, params)
            if kind is not None and kind not in allowed:
                first = name == function.args[0]
                problems.append(FormulaError(_message(function.name, name, first, allowed, arg, kind), arg.offset))
    return problems


def _message(function: str, name: str, first: bool, allowed: frozenset[str], arg: Node, kind: str) -> str:
    wanted = " or ".join(sorted({_SPOKEN[k] for k in allowed}, key=lambda s: (s != "text", s)))
    if isinstance(arg, Column):
        what = f"column '{arg.name}' is {_SPOKEN[kind]}"
    elif isinstance(arg, Param):
        what = f"params.{arg.name} is {_SPOKEN[kind]}"
    else:
        what = f"it is given {_SPOKEN[kind]}"
    hint = " (a date has no time of day)" if kind == "date" and allowed == {"datetime"} else ""
    takes = f"works on {wanted}" if first else f"takes {wanted} as its {name}"
    return f"{function}() {takes}, but {what}{hint}"
