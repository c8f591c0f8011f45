"""What a check kind reads and what it hands back: the types between the kinds, the catalog and the runner."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp


class CheckSpec(Protocol):
    """One check as the catalog wrote it (`civic_kpi.catalog.model.Check`).

    A protocol rather than the model itself: the catalog sits above the kinds, so the kinds read its fields
    without importing it. A test keeps these names in step with the model's fields.
    """

    check: str
    name: str | None
    column: str | None
    columns: list[str]
    first: str | None
    then: str | None
    values: list[str | int | float] | None
    ref: str | None
    where: str | None
    share: bool
    warn: float | None
    fail: float | None
    min: int | None
    max: int | None
    warn_min: int | None
    warn_max: int | None


class FileProblems(NamedTuple):
    """Declared columns missing from the files and values that do not parse, with a few examples."""

    count: int
    examples: list[dict[str, Any]]


@dataclass(frozen=True)
class Inputs:
    """What the runner knows beyond the records, handed down so that no kind reaches up into the data layer."""

    now: datetime  # the moment `future` and `freshness` compare with (--now)
    reference: Callable[[str], list[Any]]  # a reference table's values, by the table's name
    file_problems: Callable[[], FileProblems]  # read on demand: it parses every typed column of every file
    types: Mapping[str, str] = field(default_factory=dict)  # the catalog's type of each declared column


@dataclass(frozen=True)
class RowMeasure:
    """A check measured inside the dataset's one aggregate over its records."""

    metric: pl.Expr  # one aggregate value: a count, a share, days
    offending: pl.Expr | None = None  # the records shown as examples when it does not pass; None: none to show


@dataclass(frozen=True)
class SqlMeasure:
    """RowMeasure's twin for a SQL engine (--engine duckdb, postgres, spark): SQLGlot expressions over the relation
    `records`, measured in the dataset's one SELECT."""

    metric: exp.Expression  # one aggregate value
    offending: exp.Expression | None = None  # a condition on a record; None: no examples to show


@dataclass(frozen=True)
class Measured:
    """A check measured outside the aggregate, from the files themselves."""

    metric: float
    examples: list[dict[str, Any]] = field(default_factory=list)
