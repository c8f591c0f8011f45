"""How a KPI's unit prints beside a number: the same in values ('87.7%', '$3.42', '41 s') and in targets."""

from __future__ import annotations

SUFFIX = {"percent": "%", "hours": " h", "days": " d", "seconds": " s", "count": "", "index": ""}
PREFIX = {"dollars": "$"}


def with_unit(number: str, unit: str) -> str:
    """A formatted number with its unit: known units by their symbol, any other unit as text after it."""
    if unit in PREFIX:
        sign, digits = ("-", number[1:]) if number.startswith("-") else ("", number)
        return f"{sign}{PREFIX[unit]}{digits}"
    return f"{number}{SUFFIX.get(unit, f' {unit}')}"
