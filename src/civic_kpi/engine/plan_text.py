"""A plan in words: what `print(plan)` shows, so a plan can be read before it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.catalog.graph import inputs

if TYPE_CHECKING:
    from civic_kpi.engine.plan import DatasetPlan, Plan, Query


def plan_text(plan: Plan) -> str:
    request = plan.request
    source = {"given": "--as-of", "data": "the newest record", "period": "no data: the period's end"}
    lines = [
        f"Plan: {plan.period.label} ({plan.period.start} to {plan.period.last_day})"
        + (f" by {request.every.replace('_', ' ')}" if request.every else ""),
        f"  moment: {plan.moment} ({source.get(plan.moment.source, plan.moment.source)}); every formula sees it",
        f"  periods computed: {', '.join(p.label for p in plan.needed)}",
        "  breakdowns: "
        + ("each KPI's catalog group_by" if request.breakdowns is None else _dims_text(request.breakdowns)),
        f"  KPIs: {', '.join(k.id for k in request.chosen)}",
    ]
    for dataset in plan.datasets.values():
        lines += _dataset_text(dataset, plan)
    computed = [k for k in request.computed if k.from_kpis]
    if computed:
        lines.append("  computed from other KPIs' values:")
        lines += [f"    {kpi.id} <- {', '.join(inputs(kpi))}" for kpi in computed]
    lines += [f"  note: {note}" for note in request.notes]
    return "\n".join(lines)


def _dims_text(breakdowns: tuple[tuple[str, ...], ...]) -> str:
    return "; ".join(" x ".join(dims) for dims in breakdowns) or "overall only"


def _reading_text(dp: DatasetPlan) -> str:
    if dp.in_parts:
        return ", read a few periods at a time"
    if dp.dataset.file_format == "parquet":  # cheaper to read again than to hold (PolarsExecutor.frame)
        return ", each query reading the columns it needs"
    return ", read once for all its queries"


def _dataset_text(dp: DatasetPlan, plan: Plan) -> list[str]:
    dataset = dp.dataset
    formats = {p.suffix.lstrip(".") or dataset.file_format for p in dp.files}
    lines = [
        f"  dataset {dp.name}: {len(dp.files)} {'/'.join(sorted(formats))} file{'s' if len(dp.files) != 1 else ''}"
        + _reading_text(dp)
    ]
    read = []
    for name in sorted(dp.columns):
        spec = dataset.columns[name]
        how = spec.type + (f" {' | '.join(spec.formats)}" if spec.formats else "")
        read.append(f"{name} <- '{' + '.join(dataset.source_names(name))}' ({how})")
    lines.append("    columns: " + "; ".join(read))
    events = sorted((dataset.event_columns & dp.columns) - {dataset.date_column})
    exists = f"{dataset.date_column} <= {plan.moment}" if dataset.date_column in dataset.event_columns else "all"
    lines.append(
        f"    known at the moment: records with {exists}"
        + (f"; stamps after it read as missing: {', '.join(events)}" if events else "")
    )
    for name in sorted(dp.deadlines):
        deadline = dataset.deadlines[name]
        key = f" per {deadline.key}" if deadline.key else ""
        lines.append(f"    deadline {name} = {deadline.start} + SLA policy '{deadline.policy}'{key}")
    lines += [f"    derived {name} = {dataset.derived[name]}" for name in sorted(dp.derived)]
    lines += [f"    {_query_text(query, plan)}" for query in dp.queries]
    return lines


def _query_text(query: Query, plan: Plan) -> str:
    by = "overall" if not query.dims else "by " + " x ".join(query.dims)
    kpis = ", ".join(k.id for k in query.kpis)
    if query.keyed:
        return f"query {query.key} ({by}): {kpis}; records grouped by the {plan.request.every} of {query.window}"
    return f"query {query.key} ({by}): {kpis}; one aggregate per KPI and period, each filtering its own records"
