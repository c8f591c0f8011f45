"""The kinds of data-quality check, one module each, behind one registry: a new kind is one new module here.

A kind says everything about itself: its name, the fields it needs, its label, unit, thresholds and finding, the
columns it reads, and how it is measured (Polars expressions, or from the files). The catalog asks the registry
which kinds exist and whether a check's fields suit its kind; `civic_kpi.quality` runs them. This package sits
below the catalog, so it never imports the catalog, the data layer or the engine: what a kind needs from them
arrives as `Inputs`.

Every module here whose name does not start with `_` is one kind, found by `registry()` and ending with
`KIND = TheKind()`.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from civic_kpi.check_kinds._kind import FileKind, Kind, RowKind
from civic_kpi.check_kinds._spec import CheckSpec, FileProblems, Inputs, Measured, RowMeasure, SqlMeasure

__all__ = [
    "CheckSpec",
    "FileKind",
    "FileProblems",
    "Inputs",
    "Kind",
    "Measured",
    "RowKind",
    "RowMeasure",
    "SqlMeasure",
    "kind_named",
    "kind_names",
    "registry",
]


@cache
def registry() -> dict[str, Kind]:
    """Every kind by name, in the order the catalog lists them. Found once, on first use."""
    found: list[Kind] = []
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        kind = getattr(module, "KIND", None)
        # A programming mistake, not a user's: fail loudly at import rather than lose a kind quietly.
        if not isinstance(kind, RowKind | FileKind):
            raise TypeError(f"{module.__name__} must define KIND, an instance of a RowKind or FileKind subclass")
        found.append(kind)
    for attribute in ("name", "position"):
        values = [getattr(kind, attribute) for kind in found]
        if len(set(values)) != len(values):
            raise TypeError(f"two check kinds share a {attribute}: {sorted(values)}")
    return {kind.name: kind for kind in sorted(found, key=lambda kind: kind.position)}


def kind_names() -> tuple[str, ...]:
    return tuple(registry())


def kind_named(name: str) -> Kind:
    """The kind a check's `check:` names; the catalog model has already rejected any other name."""
    return registry()[name]
