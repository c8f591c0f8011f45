"""compute: request -> moment -> plan -> execute -> judge, one stage per module.

request = resolve(catalog, period=..., by=...)       engine/request.py: options checked against the catalog
executor = PolarsExecutor(request)                   engine/polars_executor.py: the datasets scanned once
moment = fix_moment(request, executor)               the user's --as-of, else the newest record
plan = build_plan(request, moment, ...)              engine/plan.py: a value you can print
execution = executor.execute(plan)                   values, row counts, notes
run = assemble(plan, execution)                      engine/judge.py: targets, comparisons, the run document
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

from civic_kpi.catalog.graph import inputs, with_inputs
from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.catalog.model import KPI
from civic_kpi.data.tables import source_name
from civic_kpi.engine.coverage import first_days
from civic_kpi.engine.judge import GroupRows, coverage_notes, covers, kpi_results, percentile_method, period_info
from civic_kpi.engine.plan import PART_ROWS, Plan, build_plan
from civic_kpi.engine.polars_executor import Execution, PolarsExecutor, catalog_span
from civic_kpi.engine.request import MAX_GROUPS, Request, resolve, select_kpis
from civic_kpi.errors import DataError
from civic_kpi.formula import PERCENTILE_METHOD_TEXT
from civic_kpi.results import CatalogInfo, ComputeRun, DataFileInfo, KpiResult
from civic_kpi.time.moment import Moment
from civic_kpi.time.periods import Period, SeriesKind

__all__ = [
    "MAX_GROUPS",
    "PART_ROWS",
    "compute",
    "compute_stream",
    "data_as_of",
    "execute",
    "plan_compute",
    "select_kpis",
]


def compute(
    catalog: LoadedCatalog | str | Path,
    *,
    period: Period | str | None = None,
    every: SeriesKind | None = None,
    by: list[str] | list[list[str]] | None = None,
    kpis: list[str] | None = None,
    domains: list[str] | None = None,
    data_dir: str | Path | None = None,
    as_of: Moment | datetime | str | None = None,
    progress: Callable[[str], None] | None = None,
    part_rows: int = PART_ROWS,
    max_groups: int = MAX_GROUPS,
    engine: str = "polars",
    group_rows: GroupRows = "every period",
) -> ComputeRun:
    """Compute the catalog's KPIs for one period (default: the latest complete month at the as-of moment).

    Each result carries its value, numerator/denominator or sample size, target and status, and the prior period's
    and the year-earlier period's values. `as_of` (default: the newest stamp of the catalog's data) is the one moment
    the results describe: it picks the default period, caps snapshots, decides which follow-up windows have
    elapsed, and anything stamped after it is treated as not yet happened.

    `every` ("month", "quarter", "year", "fiscal_year") makes a series: the period (default: the last 12 months,
    4 quarters or 3 years) is cut into periods of that kind and every KPI is computed for each, each compared with
    its own prior and year-ago period. `by` is a list of columns (one breakdown by all of them) or a list of lists
    (several breakdowns); None uses each KPI's catalog group_by. `progress`, if given, hears what is being read.
    A series over a dataset of more than twice `part_rows` records is computed about `part_rows` records at a time.
    A breakdown with more than `max_groups` distinct groups (default 10,000) is refused before any value is
    computed: every group is a result row per KPI and period. `engine` runs the aggregations on Polars (the
    default) or as SQL on DuckDB, PostgreSQL or Spark ("duckdb", "postgres", "spark": engine/sql).
    `group_rows="last period"` lists a series' breakdowns for its last period alone, beside every period's overall
    row (what the dashboard shows: trends of the overall value, groups for the cards' period); the groups' values
    are computed all the same, and the last period's rows compare with their prior and year-ago groups as usual.
    Raises a CivicKpiError subclass for any user mistake.
    """
    run, results = compute_stream(
        catalog,
        period=period,
        every=every,
        by=by,
        kpis=kpis,
        domains=domains,
        data_dir=data_dir,
        as_of=as_of,
        progress=progress,
        part_rows=part_rows,
        max_groups=max_groups,
        engine=engine,
        group_rows=group_rows,
    )
    return run.model_copy(update={"results": list(results)})


def compute_stream(
    catalog: LoadedCatalog | str | Path,
    *,
    period: Period | str | None = None,
    every: SeriesKind | None = None,
    by: list[str] | list[list[str]] | None = None,
    kpis: list[str] | None = None,
    domains: list[str] | None = None,
    data_dir: str | Path | None = None,
    as_of: Moment | datetime | str | None = None,
    progress: Callable[[str], None] | None = None,
    part_rows: int = PART_ROWS,
    max_groups: int = MAX_GROUPS,
    engine: str = "polars",
    group_rows: GroupRows = "every period",
) -> tuple[ComputeRun, Iterator[KpiResult]]:
    """`compute`, for a file output: the run document without its rows (`results` is empty), and the rows, in the
    order `compute` lists them, each judged when asked for, so that a writer can write each and let it go. The
    values are computed (and a breakdown over `max_groups` refused) before this returns."""
    request = resolve(
        catalog,
        period=period,
        every=every,
        by=by,
        kpis=kpis,
        domains=domains,
        data_dir=data_dir,
        as_of=as_of,
        max_groups=max_groups,
    )
    plan, executor = plan_compute(request, progress, part_rows, engine)
    return assemble_stream(plan, executor.execute(plan), group_rows)


def execute(plan: Plan, progress: Callable[[str], None] | None = None) -> ComputeRun:
    """Run a plan on Polars and judge it: the same plan gives the same results every time."""
    files = {name: dataset.files for name, dataset in plan.datasets.items()}
    return assemble(plan, PolarsExecutor(plan.request, progress, files).execute(plan))


def plan_compute(
    request: Request,
    progress: Callable[[str], None] | None = None,
    part_rows: int = PART_ROWS,
    engine: str = "polars",
) -> tuple[Plan, PolarsExecutor]:
    """The plan of a request, and the executor of `engine` holding the datasets' scans it will run on."""
    from civic_kpi.engine.sql import executor_class

    executor = executor_class(engine)(request, progress)
    return plan_on(request, executor, part_rows), executor


def plan_on(request: Request, executor: PolarsExecutor, part_rows: int = PART_ROWS) -> Plan:
    """The plan of a request over the datasets an executor has scanned (its moment: the request's, else the data's)."""
    moment = request.as_of or fix_moment(request, executor)
    return build_plan(request, moment, executor.files(), executor.size, part_rows)


def fix_moment(request: Request, executor: PolarsExecutor) -> Moment:
    """The newest stamp over the catalog's datasets: the moment the data describes. Datasets without a dated
    record describe no moment: a period asked for is then computed as of its end (and reports no data)."""
    newest, _ = executor.data_span()
    known = [moment for moment in newest.values() if moment is not None]
    if known:
        return Moment.of_data(max(known))
    if request.period is None:
        raise DataError("the datasets hold no dated records, so there is no latest month; pass --period")
    return Moment(request.period.end_dt, "period")


def assemble(plan: Plan, execution: Execution) -> ComputeRun:
    """Judge every value and write the run document."""
    run, results = assemble_stream(plan, execution)
    return run.model_copy(update={"results": list(results)})


def assemble_stream(
    plan: Plan, execution: Execution, group_rows: GroupRows = "every period"
) -> tuple[ComputeRun, Iterator[KpiResult]]:
    """The run document without its result rows (`results` is empty), and the rows, each judged when asked for:
    a file output writes them one at a time instead of holding a breakdown's every group at once. `group_rows`:
    as in compute."""
    request, loaded = plan.request, plan.request.loaded
    cat, fy = loaded.catalog, loaded.catalog.fiscal_year_start_month
    notes = list(request.notes)
    # Where the export starts: the first record's day, or the day the catalog says the export covers from.
    oldest = {
        name: first
        if first is None or cat.datasets[name].covers_from is None
        else datetime.combine(cat.datasets[name].covers_from, time())
        for name, first in execution.oldest.items()
    }
    notes += coverage_notes(plan.series, oldest)
    notes += execution.notes
    notes += _moment_notes(plan, execution)
    by_id = {kpi.id: kpi for kpi in request.computed}
    # A KPI computed from to-date KPIs counts what they count (the I-S rating: the fiscal year to date).
    to_date = {
        kpi.id: next((k.window.to_date for k in with_inputs(cat, [kpi]) if k.window.to_date), None)
        for kpi in request.chosen
    }
    # Coverage is per KPI: a KPI reading only a dataset that starts early is comparable while another is not.
    datasets = {kpi.id: {k.dataset for k in with_inputs(cat, [kpi]) if k.dataset} for kpi in request.chosen}
    results = (
        result
        for kpi in request.chosen
        for result in kpi_results(
            kpi,
            request.own_dims[kpi.id],
            plan.series,
            execution.values,
            percentile_method(request.formulas[kpi.id]),
            [by_id[i] for i in inputs(kpi)],
            fy,
            to_date[kpi.id],
            first_days(datasets[kpi.id], oldest),
            plan.moment.at,
            None if group_rows == "every period" else plan.series[-1],
        )
    )
    spans = {kpi_id: covers(kind, plan.series[-1], fy) for kpi_id, kind in to_date.items()}
    for span in dict.fromkeys(c for c in spans.values() if c is not None):
        ids = [kpi_id for kpi_id, found in spans.items() if found == span]
        notes.append(f"{', '.join(ids)}: {plan.series[-1].label} counts the {span.label}, {span.start} to {span.end}")
    data_files = [
        DataFileInfo(dataset=name, path=source_name(path), rows=rows)
        for name, dataset in plan.datasets.items()
        for path, rows in zip(dataset.files, execution.file_rows[name], strict=True)
    ]
    breakdowns = request.breakdowns or ()
    run = ComputeRun(
        catalog=CatalogInfo(path=str(loaded.path), sha256=loaded.sha256, title=cat.title),
        data_dir=str(request.root),
        data_files=data_files,
        as_of=None if plan.moment.source == "period" else plan.moment.at,
        period=period_info(plan.period),
        every=request.every,
        prior_period=period_info(plan.series[-1].prior()),
        year_ago_period=period_info(plan.series[-1].year_ago()),
        group_by=list(dict.fromkeys(d for dims in breakdowns for d in dims)),
        breakdowns=[list(dims) for dims in breakdowns],
        percentile_definition=PERCENTILE_METHOD_TEXT,
        results=[],
        notes=notes,
    )
    return run, results


def _moment_notes(plan: Plan, execution: Execution) -> list[str]:
    """Say when the last period runs past the moment, and when the moment is after everything the data holds."""
    notes = []
    moment, last = plan.moment, plan.series[-1]
    # As for the latest complete month: data through the last second of the period completes it.
    if moment.at < last.end_dt - timedelta(seconds=1):
        notes.append(f"the period {last.label} runs past the as-of time ({moment}); it is not complete")
    known = [stamp for stamp in execution.newest.values() if stamp is not None]
    if moment.source == "given" and known and max(known) < moment.at and not execution.cut_at_moment:
        notes.append(
            f"the as-of moment ({moment}) is after the newest record ({Moment.of_data(max(known))}): "
            "nothing after that is in the data"
        )
    return notes


def data_as_of(
    catalog: LoadedCatalog | str | Path,
    data_dir: str | Path | None = None,
    needed: set[str] | None = None,
    engine: str = "polars",
) -> datetime | None:
    """The newest stamp over all datasets of the catalog: the moment compute takes when no --as-of is given.
    `needed` (default: every dataset): the datasets whose files must be readable, as for compute's chosen KPIs;
    another dataset that cannot be read is left out of the moment instead of stopping the run. On an `engine` that
    reads tables in place, their stamps are read there (engine/sql/executor.table_spans), not through a snapshot."""
    loaded = catalog if isinstance(catalog, LoadedCatalog) else load_catalog(catalog)
    needed = set(loaded.catalog.datasets) if needed is None else needed
    today, root = Moment.now(loaded.catalog.timezone).at, loaded.data_dir(data_dir)
    if engine != "polars" and any(dataset.source for dataset in loaded.catalog.datasets.values()):
        from civic_kpi.engine.sql import sql_engine
        from civic_kpi.engine.sql.executor import span_with_tables

        tables = set(loaded.catalog.datasets)
        newest, _ = span_with_tables(sql_engine(engine), loaded, root, tables, needed, today)
    else:
        newest, _ = catalog_span(loaded, root, needed, today)
    known = [moment for moment in newest.values() if moment is not None]
    return max(known) if known else None


def moment_of_data(
    loaded: LoadedCatalog, data_dir: str | Path | None, kpis: list[KPI], engine: str = "polars"
) -> Moment | None:
    """The moment a run of these KPIs describes when none is given: the newest record's (data_as_of), with only
    their datasets required to be readable, as for compute; None when the data holds no dated record. Found once
    for a run made of several (the dashboard's series, review and scorecard)."""
    from civic_kpi.catalog.graph import datasets_under

    needed = {name for kpi in kpis for name in datasets_under(loaded.catalog, kpi)}
    newest = data_as_of(loaded, data_dir, needed, engine)
    return Moment.of_data(newest) if newest is not None else None
