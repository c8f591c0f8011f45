"""The records behind one KPI's number: every record of its dataset in one group, with the KPI's own flags.

`explain` counts these flags step by step; `rows` writes the records of one part. Both are built from the same
expressions as the aggregates `compute` runs (PolarsExecutor.kpi_exprs), so the records of the numerator are, in
count, the numerator compute reports, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from civic_kpi.catalog.graph import inputs
from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.catalog.model import KPI
from civic_kpi.data.known import KNOWN
from civic_kpi.data.sources import FILE_INDEX
from civic_kpi.engine.compute import plan_compute
from civic_kpi.engine.plan import DatasetPlan, Plan
from civic_kpi.engine.polars_executor import KpiExprs, PolarsExecutor
from civic_kpi.engine.request import resolve
from civic_kpi.errors import Problem, UsageError, did_you_mean
from civic_kpi.formula import both
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
    group = dict(group or {})
    assert kpi.dataset is not None
    dataset = loaded.catalog.datasets[kpi.dataset]
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
    if every_column:
        columns = {**request.columns, kpi.dataset: request.columns[kpi.dataset] | frozenset(dataset.columns)}
        request = replace(request, columns=columns)
    plan, executor = plan_compute(request)
    dp = plan.datasets[kpi.dataset]
    frame = executor.frame(dp, plan)
    for column, value in group.items():
        text = pl.col(column).cast(pl.String)
        frame = frame.filter(text.is_null() if value is None or value == MISSING else text == value)
    parts = executor.kpi_exprs(plan, dp, kpi, plan.period)
    flags, measure = _flags(kpi, parts)
    names = dict(enumerate(str(path) for path in dp.files))
    frame = frame.with_columns(
        *flags,
        pl.col(FILE_INDEX).replace_strict(names, return_dtype=pl.String).alias(SOURCE_FILE),
    )
    return KpiRecords(plan, executor, kpi, dp, group, frame, parts, measure)


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
                f"KPI '{kpi_id}' is computed from other KPIs ({names}), not from records of its own",
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
