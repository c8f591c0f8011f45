"""The optional packages of the SQL engines: imported when an engine is asked for, or a UsageError that says what to
install (never an ImportError's traceback)."""

from __future__ import annotations

import importlib
from types import ModuleType

from civic_kpi.errors import Problem, UsageError


def required(what: str, extra: str, *modules: str, note: str = "") -> list[ModuleType]:
    """Import `modules` (SQLGlot is always among them) for `what` (e.g. "--engine duckdb"), or raise."""
    found = []
    for name in (*modules, "sqlglot"):
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            raise UsageError(
                Problem(
                    f"{what} needs the {name.split('.')[0]} package, which is not installed",
                    hint=f"install it with: pip install 'civic-kpi[{extra}]'{note}",
                )
            ) from None
    return found
