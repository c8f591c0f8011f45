"""explain: how one KPI's number was made, step by step, from the same plan and expressions compute runs.

The formula as written and as resolved (dataset, files, the export columns behind each name and how they are
parsed), the window with its dates and the moment, the records left after each step (read, known at the moment,
in the window, matching `where`, left out and why, numerator / denominator / sample), for a percentile the two
order statistics it interpolated between, the target chosen and why, the comparison periods, and the Polars plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from civic_kpi.catalog.graph import inputs
from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.catalog.model import KPI, Dataset, Target
from civic_kpi.data.known import KNOWN, known_records
from civic_kpi.data.tables import source_name
from civic_kpi.engine.compute import compute
from civic_kpi.engine.judge import period_info
from civic_kpi.engine.records import (
    EXCLUDED,
    IN_DENOMINATOR,
    IN_NUMERATOR,
    IN_PERIOD,
    IN_SAMPLE,
    IN_WHERE,
    MEASURE,
    KpiRecords,
    adds_records,
    kpi_records,
    plain_group,
)
from civic_kpi.engine.request import MAX_GROUPS, select_kpis
from civic_kpi.formula import PERCENTILE_METHOD_TEXT, Formula, walk
from civic_kpi.formula.tree import Call, Literal
from civic_kpi.results import (
    CatalogInfo,
    DataFileInfo,
    ExplainColumn,
    ExplainStep,
    Explanation,
    GroupTarget,
    KpiResult,
    OrderStatistics,
    moment_text,
)
from civic_kpi.time.moment import Moment
from civic_kpi.time.periods import Period

if TYPE_CHECKING:
    import polars as pl


def explain(
    catalog: LoadedCatalog | str | Path,
    kpi_id: str,
    *,
    period: Period | str | None = None,
    by: list[str] | None = None,
    group: dict[str, str | None] | None = None,
    data_dir: str | Path | None = None,
    as_of: Moment | datetime | str | None = None,
    max_groups: int = MAX_GROUPS,
    engine: str = "polars",
) -> Explanation:
    """Explain one KPI for one period (default: the latest complete month) and group (default: overall). `by`
    adds every group of those columns with the target it was judged against and why (at most `max_groups` of
    them per column, as compute allows)."""
    loaded = catalog if isinstance(catalog, LoadedCatalog) else load_catalog(catalog)
    kpi = select_kpis(loaded.catalog, [kpi_id])[0]
    group = plain_group(group)  # '(missing)' is the group without a value, as compute labels it: None
    if kpi.from_kpis:
        return _from_kpis(loaded, kpi, period, by, group, data_dir, as_of, max_groups, engine)
    records = kpi_records(loaded, kpi.id, period=period, group=group, data_dir=data_dir, as_of=as_of)
    plan = records.plan
    run = compute(
        loaded,
        period=plan.period,
        kpis=[kpi.id],
        by=_breakdowns(group, by),
        data_dir=data_dir,
        as_of=plan.moment,
        max_groups=max_groups,
        engine=engine,
    )
    result = next((r for r in run.results if r.group == group), None)
    counts = _counts(records)
    return Explanation(
        catalog=CatalogInfo(path=str(loaded.path), sha256=loaded.sha256, title=loaded.catalog.title),
        **_about(kpi),
        dataset=kpi.dataset,
        files=[
            DataFileInfo(dataset=records.dataset.name, path=source_name(path), rows=rows)
            for path, rows in zip(records.dataset.files, counts.pop("__file_rows"), strict=True)
        ],
        columns=_columns(records.dataset.dataset, plan.request.formulas[kpi.id], kpi, group),
        as_of=plan.moment.at,
        as_of_source=plan.moment.source,
        period=period_info(plan.period),
        window=_window_text(kpi, records),
        group=group,
        steps=_steps(kpi, records, counts, result),
        result=result,
        target_reason=_target_reason(kpi.target, group, plan.period.label) if kpi.target else None,
        order_statistics=_order_statistics(records, result),
        groups=[_group_target(kpi, r, plan.period.label) for r in run.results if r.group and r.group != group],
        engine=engine,
        query_plan=_query_plan(records) if engine == "polars" else _sql(records, engine),
        notes=run.notes,
    )


def _breakdowns(group: dict[str, str | None], by: list[str] | None) -> list[list[str]]:
    """What compute is asked to break down by: the group's columns together, then each --by column alone."""
    breakdowns = [list(group)] if group else []
    return breakdowns + [[column] for column in by or [] if [column] not in breakdowns]


def _about(kpi: KPI) -> dict:
    return {
        "kpi_id": kpi.id,
        "name": kpi.name,
        "domain": kpi.domain,
        "unit": kpi.unit,
        "description": kpi.description,
        "reference": kpi.reference,
        "formulas": {**kpi.formulas, **({"where": kpi.where} if kpi.where else {})},
    }


def _from_kpis(
    loaded: LoadedCatalog,
    kpi: KPI,
    period: Period | str | None,
    by: list[str] | None,
    group: dict[str, str | None],
    data_dir: str | Path | None,
    as_of: Moment | datetime | str | None,
    max_groups: int,
    engine: str,
) -> Explanation:
    """A KPI of KPIs has no records: its formula, its inputs' values, and which KPIs to explain instead."""
    by_groups = _breakdowns(group, by)
    run = compute(
        loaded,
        period=period,
        kpis=[kpi.id],
        by=by_groups,
        data_dir=data_dir,
        as_of=as_of,
        max_groups=max_groups,
        engine=engine,
    )
    result = next((r for r in run.results if r.group == group), None)
    names = list(inputs(kpi))
    return Explanation(
        catalog=CatalogInfo(path=str(loaded.path), sha256=loaded.sha256, title=loaded.catalog.title),
        **_about(kpi),
        computed_from=names,
        as_of=run.as_of,
        as_of_source="given" if as_of is not None else "data" if run.as_of is not None else "period",
        period=run.period,
        window="the values of the KPIs it is computed from, for the same period and group",
        group=group,
        result=result,
        target_reason=_target_reason(kpi.target, group, run.period.label) if kpi.target else None,
        groups=[_group_target(kpi, r, run.period.label) for r in run.results if r.group and r.group != group],
        notes=[
            f"{kpi.id} is computed from {', '.join(names)}: explain those for the records behind them",
            *run.notes,
        ],
    )


def _counts(records: KpiRecords) -> dict:
    """Every count of the steps in one pass over the group's records."""
    import polars as pl

    from civic_kpi.data.sources import FILE_INDEX

    frame, kpi = records.frame, records.kpi
    flags = [IN_PERIOD, IN_WHERE, *([IN_NUMERATOR, IN_DENOMINATOR] if kpi.is_ratio else [IN_SAMPLE])]
    excluded = pl.col(EXCLUDED)
    found = frame.select(
        pl.len().alias("read"),
        pl.col(KNOWN).sum().alias("known"),
        *(pl.col(flag).sum().alias(flag) for flag in flags),
        excluded.str.starts_with("its ").sum().alias("follow_up"),
        excluded.str.starts_with("negative").sum().alias("negative"),
        pl.col(FILE_INDEX).value_counts(sort=False).implode().alias("files"),
    ).collect()
    counts = {name: int(found[name][0] or 0) for name in found.columns if name != "files"}
    per_file = {row[FILE_INDEX]: row["count"] for row in found["files"][0]}
    counts["__file_rows"] = [int(per_file.get(index, 0)) for index in range(len(records.dataset.files))]
    return counts


def _steps(kpi: KPI, records: KpiRecords, counts: Mapping[str, int], result: KpiResult | None) -> list[ExplainStep]:
    group = ", ".join(f"{k} = {v}" for k, v in records.group.items())
    steps = [ExplainStep(step=f"records read{f' ({group})' if group else ''}", records=counts["read"])]
    if counts["known"] != counts["read"]:
        steps.append(
            ExplainStep(
                step="existing at the as-of moment",
                records=counts["known"],
                note=f"{counts['read'] - counts['known']} dated after {records.plan.moment} are left out",
            )
        )
    what = "existing at the snapshot's moment" if kpi.window.snapshot else "in the period's window"
    steps.append(ExplainStep(step=what, records=counts[IN_PERIOD]))
    if kpi.where is not None:
        steps.append(ExplainStep(step=f"matching where: {kpi.where}", records=counts[IN_WHERE]))
    if counts["follow_up"]:
        steps.append(
            ExplainStep(
                step="left out: follow-up window still open",
                records=counts["follow_up"],
                note=f"{kpi.window.date or records.dataset.dataset.date_column} less than "
                f"{kpi.window.follow_up_days} days before the as-of moment",
            )
        )
    if counts["negative"]:
        steps.append(ExplainStep(step="left out: negative duration (end before start)", records=counts["negative"]))
    formulas = records.plan.request.formulas[kpi.id]
    if kpi.is_ratio:
        for field, flag in (("denominator", IN_DENOMINATOR), ("numerator", IN_NUMERATOR)):
            if adds_records(formulas[field]):
                steps.append(ExplainStep(step=f"{field}: {formulas[field].text}", records=counts[flag]))
        summed = [f for f in ("numerator", "denominator") if adds_records(formulas[f]) and "sum(" in formulas[f].text]
        if summed and result is not None:
            steps.append(
                ExplainStep(
                    step=f"the {' and '.join(summed)} add values, not records",
                    records=counts[IN_DENOMINATOR] if "denominator" in summed else counts[IN_NUMERATOR],
                    note=f"numerator {result.numerator:g}, denominator {result.denominator:g}"
                    if result.numerator is not None and result.denominator is not None
                    else None,
                )
            )
    else:
        steps.append(ExplainStep(step=f"sample of: {kpi.value}", records=counts[IN_SAMPLE]))
    return steps


def _columns(dataset: Dataset, formulas: Mapping[str, Formula], kpi: KPI, group: dict) -> list[ExplainColumn]:
    """Every column the KPI reads, resolved: the export column and parsing, or the derived formula / deadline."""
    used = set().union(*(f.columns for f in formulas.values())) | {kpi.window.date or dataset.date_column} | set(group)
    found: dict[str, ExplainColumn] = {}
    pending = sorted(used)
    while pending:
        name = pending.pop(0)
        if name in found:
            continue
        if name in dataset.derived:
            found[name] = ExplainColumn(name=name, role="derived", definition=dataset.derived[name])
            pending += sorted(_row_columns(dataset.derived[name]))
        elif name in dataset.deadlines:
            deadline = dataset.deadlines[name]
            rule = f"{deadline.start} + the days of SLA policy '{deadline.policy}'"
            rule += f" for its {deadline.key}" if deadline.key else ""
            found[name] = ExplainColumn(name=name, role="deadline", definition=rule)
            pending += [deadline.start, *([deadline.key] if deadline.key else [])]
        elif name in dataset.columns:
            spec = dataset.columns[name]
            found[name] = ExplainColumn(
                name=name,
                role="read",
                source=" + ".join(dataset.source_names(name)),
                type=spec.type,
                formats=spec.formats,
                timezone=spec.timezone,
                scheduled=spec.scheduled,
            )
    return sorted(found.values(), key=lambda c: (["read", "derived", "deadline"].index(c.role), c.name))


def _row_columns(text: str) -> set[str]:
    from civic_kpi.formula import parse_formula

    return set(parse_formula(text, row=True).columns)


def _window_text(kpi: KPI, records: KpiRecords) -> str:
    from civic_kpi.time.periods import to_date_start

    plan, dataset = records.plan, records.dataset.dataset
    period = plan.period
    if kpi.window.snapshot:
        as_of = records.parts.as_of
        return f"snapshot: every record as it stood at {moment_text(as_of)} (the period's end, capped at the moment)"
    column = kpi.window.date or dataset.date_column
    start = period.start
    if kpi.window.to_date:
        start = to_date_start(kpi.window.to_date, period, plan.request.catalog.fiscal_year_start_month)
    text = f"records whose {column} is from {start} 00:00 up to, not including, {period.end} 00:00"
    if kpi.window.follow_up_days:
        text += (
            f"; only those whose {kpi.window.follow_up_days}-day follow-up window has ended by the as-of moment "
            f"({plan.moment}) are judged"
        )
    return text


def _target_reason(target: Target, group: dict[str, str | None], period_label: str) -> str:
    for dimension, value in group.items():
        groups = (target.by_period.get(period_label) or target).by_group or target.by_group
        if value is not None and str(value) in groups.get(dimension, {}):
            return f"the target for {dimension} = {value} (target.by_group.{dimension})"
    if period_label in target.by_period:
        return f"the {period_label} target (target.by_period.{period_label})"
    return "the KPI's target" + (", no target of the group's own" if group else "")


def _group_target(kpi: KPI, result: KpiResult, period_label: str) -> GroupTarget:
    return GroupTarget(
        group=result.group,
        value=result.value,
        sample_size=result.sample_size,
        target=result.target,
        reason=_target_reason(kpi.target, result.group, period_label) if kpi.target else "no target",
        status=result.status,
    )


def _percentiles(formula: Formula) -> list[float]:
    """The p of every percentile() / median() the formula asks for, as fractions."""
    found = []
    for node in walk(formula.tree):
        if isinstance(node, Call) and node.name == "median":
            found.append(0.5)
        elif isinstance(node, Call) and node.name == "percentile" and isinstance(node.args[1], Literal):
            found.append(float(node.args[1].value) / 100)  # type: ignore[arg-type]
    return found


def _order_statistics(records: KpiRecords, result: KpiResult | None) -> list[OrderStatistics]:
    """For a percentile (PERCENTILE.INC): the 1-based rank (n - 1) * p + 1 in the sorted sample and the two values
    it interpolates between."""
    import polars as pl

    kpi = records.kpi
    if kpi.is_ratio or not records.measure:
        return []
    formula = records.plan.request.formulas[kpi.id]["value"]
    found = _percentiles(formula)
    # Only a formula that is the percentile itself: in arithmetic (P90 / 24) its order statistics are not the value.
    at_root = isinstance(formula.tree, Call) and formula.tree.name in ("percentile", "median")
    if len(found) != 1 or not at_root or not (result and result.percentile_method == PERCENTILE_METHOD_TEXT):
        return []
    p = found[0]
    sample = records.frame.filter(pl.col(IN_SAMPLE)).select(pl.col(MEASURE).cast(pl.Float64).sort())
    values = sample.collect()[MEASURE]
    n = values.len()
    if n == 0:
        return [OrderStatistics(definition=PERCENTILE_METHOD_TEXT, n=0, percentile=p)]
    rank = (n - 1) * p + 1
    low, high = int(rank), min(int(rank) + (0 if rank == int(rank) else 1), n)
    lower, upper = float(values[low - 1]), float(values[high - 1])
    return [
        OrderStatistics(
            definition=PERCENTILE_METHOD_TEXT,
            n=n,
            percentile=p,
            rank=rank,
            lower_rank=low,
            lower_value=lower,
            upper_rank=high,
            upper_value=upper,
            value=lower + (rank - low) * (upper - lower),
        )
    ]


def _sql(records: KpiRecords, engine: str) -> str | None:
    """The SQL a SQL engine ran for the KPI in this group's breakdown (its aggregates alone), in its dialect; and,
    where the engine read the records from the files itself (engine/sql/direct.py) or added their SLA deadlines
    (SqlExecutor.records_view), the view that did."""
    from dataclasses import replace

    from civic_kpi.engine.sql import executor_class
    from civic_kpi.engine.sql.dialects import RECORDS, STAGED, sql_of
    from civic_kpi.engine.sql.direct import direct_records
    from civic_kpi.engine.sql.executor import SqlExecutor, in_place_sql

    dims = tuple(records.group)
    query = next((q for q in records.dataset.queries if q.dims == dims and records.kpi in q.kpis), None)
    if query is None:
        return None
    # A table is looked at anew, as compute does: the engine may read it in place.
    table = records.dataset.dataset.source is not None
    executor = executor_class(engine)(records.plan.request, files=None if table else records.executor.files())
    assert isinstance(executor, SqlExecutor) and executor.sql_engine is not None
    statement = executor.statement(records.plan, records.dataset, (replace(query, kpis=(records.kpi,)),))
    text = sql_of(statement, executor.dialect, pretty=True)
    name = records.dataset.name
    reads = executor.sql_engine.reads_files() or executor.in_place(name)
    direct = direct_records(executor, records.plan, records.dataset) if reads else None
    if direct is not None and executor.in_place(name):
        view = in_place_sql(direct, executor.dialect, records.dataset.dataset.source)  # type: ignore[arg-type]
        what = f"read in place by {engine}, in a read-only transaction; nothing is created"
        return f'-- {RECORDS}: {what}\nWITH "{RECORDS}" AS (\n{view}\n)\n{text}'
    if direct is not None:
        what = f"read from the files by {engine} itself"
    else:
        direct = executor.records_view(records.plan, records.dataset)
        what = f"the records Polars prepared ({STAGED}) with their SLA deadlines, added by {engine}"
    if direct is None:
        return text
    view = sql_of(direct, executor.dialect, pretty=True)
    return f"-- {RECORDS}: {what}\nCREATE TEMPORARY VIEW {RECORDS} AS\n{view};\n\n{text}"


def _query_plan(records: KpiRecords) -> str | None:
    """The optimized Polars plan of the aggregation that computes the KPI for this group."""
    dims = tuple(records.group)
    query = next((q for q in records.dataset.queries if q.dims == dims and records.kpi in q.kpis), None)
    if query is None:
        return None
    frame: pl.LazyFrame = records.executor.frame(records.dataset, records.plan)
    return records.executor.masked_query(records.plan, records.dataset, query, known_records(frame)).explain()
