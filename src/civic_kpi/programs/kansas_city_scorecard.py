"""A fiscal-year scorecard as Kansas City publishes its measures of success.

Per measure: last year's actual, this year's target, this year's actual (with its status), and next year's target.
The targets are the catalog's, with `target.by_period` entries (FY2027: ...) where a year has its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.catalog.model import KPI
from civic_kpi.engine import compute, moment_of_data, select_kpis
from civic_kpi.errors import Problem, UsageError
from civic_kpi.results import ScorecardRow, ScorecardRun
from civic_kpi.targets import describe, resolve_target
from civic_kpi.time.moment import Moment
from civic_kpi.time.periods import Period, fiscal_year_containing, parse_period


def _fiscal_year(value: str | None, loaded: LoadedCatalog, moment: Moment | None) -> Period:
    start_month = loaded.catalog.fiscal_year_start_month
    if value is not None:
        period = parse_period(value, start_month)
        if period.kind != "fiscal_year":
            raise UsageError(Problem(f"'{value}' is not a fiscal year", hint="write it as FY2026"))
        return period
    # Default: the latest fiscal year that had ended at the as-of moment.
    if moment is None:
        raise UsageError("the data holds no dated records; pass --fiscal-year")
    year = fiscal_year_containing(moment.at.date(), start_month)
    return year if _ended(year, moment.at) else year.prior()


def _moment(
    loaded: LoadedCatalog,
    fiscal_year: str | None,
    data_dir: str | Path | None,
    as_of: Moment | datetime | str | None,
    chosen: list[KPI],
    engine: str = "polars",
) -> Moment | None:
    """The run's one moment, fixed here when the default fiscal year depends on it, so that compute does not read
    the data a second time to find it."""
    if isinstance(as_of, Moment):
        return as_of
    if as_of is not None:
        return Moment.given(as_of, loaded.catalog.timezone)
    if fiscal_year is not None:
        return None  # compute fixes it from the data, as for any period asked for
    return moment_of_data(loaded, data_dir, chosen, engine)


def _ended(period: Period, moment: datetime) -> bool:
    """Data through the last second of its last day completes a period (as for the latest complete month)."""
    return moment >= period.end_dt - timedelta(seconds=1)


def scorecard(
    catalog: LoadedCatalog | str | Path,
    *,
    fiscal_year: str | None = None,
    kpis: list[str] | None = None,
    domains: list[str] | None = None,
    data_dir: str | Path | None = None,
    as_of: Moment | datetime | str | None = None,
    progress: Callable[[str], None] | None = None,
    engine: str = "polars",
) -> ScorecardRun:
    """The scorecard of one fiscal year (default: the latest one that has ended at `as_of`, which defaults to the
    newest record); `as_of`, `progress` and `engine` as in compute."""
    loaded = catalog if isinstance(catalog, LoadedCatalog) else load_catalog(catalog)
    chosen = select_kpis(loaded.catalog, kpis, domains)
    moment = _moment(loaded, fiscal_year, data_dir, as_of, chosen, engine)
    year = _fiscal_year(fiscal_year, loaded, moment)
    next_label = year.shifted(12).label
    run = compute(
        loaded,
        period=year,
        kpis=[k.id for k in chosen],
        data_dir=data_dir,
        by=[],
        as_of=moment,
        progress=progress,
        engine=engine,
    )
    overall = {result.kpi_id: result for result in run.results if not result.group}
    rows = []
    for kpi in chosen:
        result = overall[kpi.id]
        this_target = resolve_target(kpi.target, {}, year.label) if kpi.target else None
        next_target = resolve_target(kpi.target, {}, next_label) if kpi.target else None
        rows.append(
            ScorecardRow(
                kpi_id=kpi.id,
                measure=kpi.name,
                domain=kpi.domain,
                unit=kpi.unit,
                decimals=kpi.decimals,
                last_year_actual=result.prior.value if result.prior else None,
                this_year_target=describe(this_target, kpi.unit) if this_target else None,
                this_year_actual=result.value,
                status=result.status,
                status_reason=result.status_reason,
                next_year_target=describe(next_target, kpi.unit) if next_target else None,
            )
        )
    return ScorecardRun(
        catalog=run.catalog,
        fiscal_year=run.period,
        last_year=run.prior_period,
        next_year=next_label,
        as_of=run.as_of,
        complete=run.as_of is None or _ended(year, run.as_of),
        rows=rows,
        notes=run.notes,
    )
