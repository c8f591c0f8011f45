"""`explain` as text (for a person) or JSON (for a program). Formats only; the engine counted everything."""

from __future__ import annotations

from typing import Literal

from civic_kpi.report.formatting import amount, plain, value_text
from civic_kpi.results import Explanation, moment_text

ExplainFormat = Literal["text", "json"]


def render_explanation(explanation: Explanation, fmt: ExplainFormat, **_: object) -> str:
    if fmt == "json":
        return explanation.model_dump_json(indent=2) + "\n"
    return to_text(explanation)


def to_text(e: Explanation) -> str:
    lines: list[str] = []
    group = ", ".join(f"{k} = {v if v is not None else '(missing)'}" for k, v in e.group.items()) or "all"
    lines.append(f"{plain(e.name)} ({e.kpi_id}) · {e.period.label} ({e.period.start} to {e.period.end}) · {group}")
    moment = moment_text(e.as_of) if e.as_of else "none (no dated records)"
    source = {"given": "--as-of", "data": "the newest record", "period": "the period's end"}.get(e.as_of_source, "")
    lines.append(f"as of {moment} ({source}); every formula sees this moment")
    if e.description:
        lines.append(plain(e.description))
    lines += ["", "Formula"]
    lines += [f"  {name}: {plain(text)}" for name, text in e.formulas.items()]
    if e.computed_from:
        lines.append(f"  computed from the KPIs: {', '.join(e.computed_from)}")
    if e.dataset:
        lines += ["", f"Dataset {e.dataset}"]
        shown = e.files if len(e.files) <= 6 else [*e.files[:3], None, *e.files[-2:]]
        for f in shown:
            if f is None:
                hidden = e.files[3:-2]
                lines.append(f"  ... {len(hidden)} more files ({sum(h.rows for h in hidden):,} records)")
            else:
                lines.append(f"  {f.path}  ({f.rows:,} records)")
    if e.columns:
        lines += ["", "Columns"]
        for column in e.columns:
            if column.role == "read":
                how = f"{column.type}" + (f", format {' or '.join(column.formats)}" if column.formats else "")
                how += f", zone {column.timezone}" if column.timezone else ""
                how += ", scheduled (kept after the moment)" if column.scheduled else ""
                lines.append(f"  {column.name} <- '{plain(column.source or '')}' ({how})")
            else:
                lines.append(f"  {column.name} = {plain(column.definition or '')} ({column.role})")
    lines += ["", "Window", f"  {plain(e.window)}"]
    if e.steps:
        lines += ["", "Records, step by step"]
        width = max(len(f"{s.records:,}") for s in e.steps)
        for step in e.steps:
            note = f"  ({plain(step.note)})" if step.note else ""
            lines.append(f"  {step.records:>{width},}  {plain(step.step)}{note}")
    for stats in e.order_statistics:
        lines += ["", f"Percentile: {stats.definition}"]
        if stats.n == 0 or stats.rank is None:
            lines.append("  no records in the sample")
            continue
        lines.append(
            f"  n = {stats.n:,}, p = {stats.percentile:g}: rank (n - 1) × p + 1 = {stats.rank:.6g}, between the "
            f"value at rank {stats.lower_rank:,}, {stats.lower_value:.6g}, and the value at rank "
            f"{stats.upper_rank:,}, {stats.upper_value:.6g}"
        )
        lines.append(
            f"  {stats.lower_value:.6g} + {stats.rank - (stats.lower_rank or 0):.6g} × "
            f"({stats.upper_value:.6g} - {stats.lower_value:.6g}) = {stats.value:.10g}"
        )
    result = e.result
    lines += ["", "Result"]
    if result is None:
        lines.append("  no records of this group in the period or its comparisons")
    else:
        counts = ""
        if result.numerator is not None and result.denominator is not None:
            counts = f" = {amount(result.numerator)} / {amount(result.denominator)}"
        lines.append(f"  value {value_text(result.value, result.unit, result.decimals)}{counts}")
        if result.value is None and result.status_reason:
            lines.append(f"  {plain(result.status_reason)}")
        target = result.target or "none"
        lines.append(f"  target {target}: {e.target_reason or 'no target'} -> {result.status.value}")
        if result.value is not None and result.status_reason:
            lines.append(f"  {plain(result.status_reason)}")
        for label, comparison in (("prior", result.prior), ("year ago", result.year_ago)):
            if comparison is not None:
                shown = value_text(comparison.value, result.unit, result.decimals)
                lines.append(
                    f"  {label} {comparison.period.label} ({comparison.period.start} to "
                    f"{comparison.period.end}): {shown}"
                )
        for read in result.inputs:
            lines.append(f"  kpi.{read.kpi_id} = {value_text(read.value, read.unit, read.decimals)}")
    if e.groups:
        lines += ["", "Groups and their targets"]
        decimals = result.decimals if result is not None else 1
        for g in e.groups:
            label = ", ".join(f"{k} = {v if v is not None else '(missing)'}" for k, v in g.group.items())
            lines.append(
                f"  {plain(label)}: {value_text(g.value, e.unit, decimals)} vs {g.target or 'no target'} "
                f"({g.reason}) -> {g.status.value}"
            )
    if e.notes:
        lines += ["", "Notes"] + [f"  {plain(note)}" for note in e.notes]
    if e.query_plan:
        heading = "Polars plan (optimized)" if e.engine == "polars" else f"SQL run by {e.engine}"
        lines += ["", heading] + [f"  {line}" for line in e.query_plan.splitlines()]
    return "\n".join(lines) + "\n"
