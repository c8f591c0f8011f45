"""The records behind one KPI's number: every record of its dataset in one group, with the KPI's own flags.

`explain` counts these flags step by step; `rows` writes the records of one part. Both are built from the same
expressions as the aggregates `compute` runs (PolarsExecutor.kpi_exprs), so the records of the numerator are, in
count, the numerator compute reports, and so on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from civic_kpi.catalog.graph import inputs
from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.catalog.model import KPI
from civic_kpi.data.known import KNOWN
from civic_kpi.data.sources import FILE_INDEX, columns_in_files
from civic_kpi.engine.compute import plan_compute
from civic_kpi.engine.plan import DatasetPlan, Plan
from civic_kpi.engine.polars_executor import KpiExprs, PolarsExecutor
from civic_kpi.engine.request import resolve
from civic_kpi.errors import Problem, UsageError, did_you_mean
from civic_kpi.formula import Formula, both
from civic_kpi.formula.tree import BinaryOp, Call
from civic_kpi.time.moment import Moment
from civic_kpi.time.periods import Period

if TYPE_CHECKING:
    from datetime import datetime

    import polars as pl

MISSING = "(missing)"  # how a group without a value is written, as the tables print it

# The flag columns of the records, in the order they are written after the data's own columns.
IN_PERIOD, IN_WHERE = "in_period", "matches_where"
IN_NUMERATOR, IN_DENOMINATOR, IN_SAMPLE = "in_numerator", "in_denominator", "in_sample"
EXCLUDED = "excluded_reason"
MEASURE = "measure"
SOURCE_FILE = "source_file"


@dataclass(frozen=True)
class KpiRecords:
    """Every record of the KPI's dataset in the group, as a lazy frame with the KPI's flags."""

    plan: Plan
    executor: PolarsExecutor
    kpi: KPI
    dataset: DatasetPlan
    group: dict[str, str | None]
    frame: pl.LazyFrame
    parts: KpiExprs
    measure: str | None  # what the MEASURE column holds ("hours_between(created_at, closed_at)"), if any

    @property
    def period(self) -> Period:
        return self.plan.period


def kpi_records(
    catalog: LoadedCatalog | str | Path,
    kpi_id: str,
    *,
    period: Period | str | None = None,
    group: dict[str, str | None] | None = None,
    data_dir: str | Path | None = None,
    as_of: Moment | datetime | str | None = None,
    every_column: bool = False,
) -> KpiRecords:
    """The records of one KPI for one period and group. `every_column` reads every column the dataset declares
    (for `rows`: a supervisor needs the request's id and address, not only what the formula reads)."""
    import polars as pl

    loaded = catalog if isinstance(catalog, LoadedCatalog) else load_catalog(catalog)
    kpi = _kpi(loaded, kpi_id)
    assert kpi.dataset is not None
    dataset = loaded.catalog.datasets[kpi.dataset]
    group = plain_group(group)
    for column in group:
        if column not in dataset.columns:
            raise UsageError(
                Problem(
                    f"dataset '{kpi.dataset}' of KPI '{kpi.id}' has no column '{column}' to pick a group by",
                    hint=did_you_mean(column, list(dataset.columns)) or f"columns: {', '.join(dataset.columns)}",
                )
            )
    by = [list(group)] if group else []
    request = resolve(loaded, period=period, kpis=[kpi.id], by=by, data_dir=data_dir, as_of=as_of)
    if every_column:  # every declared column the files have: a preset may declare one an older layout lacks
        extra = columns_in_files(kpi.dataset, dataset, request.root, set(dataset.columns))
        columns = {**request.columns, kpi.dataset: request.columns[kpi.dataset] | extra}
        request = replace(request, columns=MappingProxyType(columns))
    plan, executor = plan_compute(request)
    dp = plan.datasets[kpi.dataset]
    frame = executor.frame(dp, plan)
    if group:
        frame = frame.filter(_in_group(frame, group, executor))
    parts = executor.kpi_exprs(plan, dp, kpi, plan.period)
    flags, measure = _flags(kpi, parts)
    names = dict(enumerate(str(path) for path in dp.files))
    frame = frame.with_columns(
        *flags,
        pl.col(FILE_INDEX).replace_strict(names, return_dtype=pl.String).alias(SOURCE_FILE),
    )
    return KpiRecords(plan, executor, kpi, dp, group, frame, parts, measure)


def plain_group(group: Mapping[str, object] | None) -> dict[str, str | None]:
    """A group as compute labels it: each value as text, a missing one (written '(missing)') as None."""
    return {
        column: None if value is None or str(value).strip() == MISSING else str(value).strip()
        for column, value in (group or {}).items()
    }


def _in_group(frame: pl.LazyFrame, group: dict[str, str | None], executor: PolarsExecutor) -> pl.Expr:
    """The records of the group, matched on the labels compute gives groups (Python's str of each value: True,
    not true), so that a group compute printed is the group picked. An unknown value is a UsageError naming the
    values there are."""
    import polars as pl

    from civic_kpi.engine.polars_executor import collect

    scans = list(executor.scans.values())
    found = collect({c: frame.select(pl.col(c).unique()) for c in group}, scans, executor.request.catalog.timezone)
    condition = pl.lit(True)
    for column, value in group.items():
        values = found[column][column].to_list()
        labels = {None if v is None else str(v): v for v in values}
        if value not in labels:
            shown = sorted(label for label in labels if label is not None)
            raise UsageError(
                Problem(
                    f"column '{column}' has no group '{value if value is not None else MISSING}'",
                    hint=did_you_mean(value or "", shown)
                    or f"its groups: {', '.join(shown[:12])}{' ...' if len(shown) > 12 else ''}",
                )
            )
        typed = labels[value]
        condition = condition & (pl.col(column).is_null() if typed is None else pl.col(column) == pl.lit(typed))
    return condition


def adds_records(formula: Formula, only: tuple[str, ...] = ("count", "sum")) -> bool:
    """Whether a formula is records added up (count(...) or sum(...), or such terms joined by +), so that the
    records feeding it are its part of `rows`. n_unique(x) - n_unique(y), len(ref.X) or a parameter are not."""
    node = formula.tree

    def adds(node: object) -> bool:
        if isinstance(node, Call):
            return node.name in only
        return isinstance(node, BinaryOp) and node.op == "+" and adds(node.left) and adds(node.right)

    return adds(node)


def _kpi(loaded: LoadedCatalog, kpi_id: str) -> KPI:
    found = {k.id: k for k in loaded.catalog.kpis}
    if kpi_id not in found:
        raise UsageError(
            Problem(f"unknown KPI '{kpi_id}'", hint=did_you_mean(kpi_id, list(found)) or "see `civic-kpi list`")
        )
    kpi = found[kpi_id]
    if kpi.from_kpis:
        names = ", ".join(inputs(kpi))
        raise UsageError(
            Problem(
                f"it is computed from other KPIs ({names}), not from records of its own",
                kpi=kpi_id,
                hint=f"ask for the records of the KPIs it reads: {names}",
            )
        )
    return kpi


def _flags(kpi: KPI, parts: KpiExprs) -> tuple[list[pl.Expr], str | None]:
    """Per record: in the period (or, for a snapshot, existing by then), matching `where`, in the numerator and
    denominator (or the sample), why it was left out, and the value it fed (hours to close, ...)."""
    import polars as pl

    known = pl.col(KNOWN)
    period = parts.existing if parts.existing is not None else parts.window
    in_period = known if period is None else known & period
    in_where = in_period if parts.where is None else in_period & parts.where

    def fed(field: str) -> pl.Expr:
        feeds = parts.compiled[field].feeds
        return known & (pl.any_horizontal(feeds) if feeds else pl.lit(False))

    flags = [in_period.alias(IN_PERIOD), in_where.alias(IN_WHERE)]
    if kpi.is_ratio:
        flags += [fed("numerator").alias(IN_NUMERATOR), fed("denominator").alias(IN_DENOMINATOR)]
    else:
        feeds = parts.compiled["value"].feeds
        flags.append((known & feeds[0] if feeds else in_where).alias(IN_SAMPLE))
    reasons = pl.lit(None, dtype=pl.String)
    negative = [flag for compiled in parts.compiled.values() for flag in compiled.negative]
    if negative:
        reasons = pl.when(in_where & pl.any_horizontal(negative)).then(pl.lit("negative duration (end before start)"))
        reasons = reasons.otherwise(None)
    if parts.elapsed is not None:
        open_window = f"its {kpi.window.follow_up_days}-day follow-up window is still open at the as-of moment"
        reasons = pl.when(both(in_where, ~parts.elapsed)).then(pl.lit(open_window)).otherwise(reasons)
    flags.append(reasons.alias(EXCLUDED))
    field = "value" if not kpi.is_ratio else "numerator"
    values = [v for v in parts.compiled[field].inputs if v is not None]
    measure = None
    if values:
        flags.append(values[0].alias(MEASURE))
        measure = field  # the formula whose first aggregate's input MEASURE holds
    return flags, measure
