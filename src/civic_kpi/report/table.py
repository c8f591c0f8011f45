"""The terminal table: one section per domain, status by color and by mark and word, so it reads without color too."""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from civic_kpi.report.formatting import (
    STATUS_STYLE,
    STATUS_TEXT,
    change_heading,
    change_text,
    compared_with,
    count_text,
    not_comparable_notes,
    plain,
    rankings,
    span_text,
    value_text,
)
from civic_kpi.results import ComputeRun, KpiResult, moment_text

PLAIN_WIDTH = 150  # wide enough that a file or a pipe gets one line per row


def _change_style(result: KpiResult) -> str:
    prior = result.prior
    if prior is None or not prior.change or result.better is None:
        return ""
    improving = (prior.change > 0) == (result.better == "higher")
    return "green" if improving else "red"


def _domain_table(domain: str, results: list[KpiResult], run: ComputeRun) -> Table:
    table = Table(title=Text(plain(domain), style="bold"), title_justify="left", expand=False, show_lines=False)
    table.add_column("KPI", overflow="fold", max_width=36)
    if run.every:
        table.add_column("Period", no_wrap=True)
    table.add_column("Group", overflow="fold", max_width=24)
    table.add_column("Value", justify="right", no_wrap=True)
    table.add_column("Target", overflow="fold", max_width=30)
    table.add_column("Status", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column(change_heading(run), justify="right", no_wrap=True)
    previous = previous_period = None
    for result in results:
        first = result.kpi_id != previous
        new_period = first or result.period.label != previous_period
        previous, previous_period = result.kpi_id, result.period.label
        table.add_row(
            Text(plain(result.name), style="bold") if first else "",
            *([result.period.label if new_period else ""] if run.every else []),
            plain(result.group_label),
            value_text(result.value, result.unit, result.decimals),
            plain(result.target or ""),
            Text(STATUS_TEXT[result.status], style=STATUS_STYLE[result.status]),
            count_text(result),
            Text(change_text(result), style=_change_style(result)),
            end_section=False,
        )
    return table


def render_table(run: ComputeRun) -> Group:
    as_of = f" · data as of {moment_text(run.as_of)}" if run.as_of else ""
    header = Text.assemble(
        (plain(run.catalog.title), "bold"),
        f" · {span_text(run)}",
        f" · {compared_with(run)}{as_of}",
    )
    parts: list = [header, Text("")]
    domains = list(dict.fromkeys(r.domain for r in run.results))
    for domain in domains:
        parts.append(_domain_table(domain, [r for r in run.results if r.domain == domain], run))
        parts.append(Text(""))
    for ranking in rankings(run):
        table = Table(title=Text(plain(ranking.title), style="bold"), title_justify="left", expand=False)
        for number, heading in enumerate(ranking.headings):
            table.add_column(plain(heading), overflow="fold", justify="left" if number == 0 else "right", max_width=60)
        for row in ranking.rows:
            table.add_row(*(plain(cell) for cell in row))
        parts += [table, Text("")]
    counts = run.counts()
    summary = Text.assemble(
        (f"{counts['pass']} pass", "bold green"),
        " · ",
        (f"{counts['warn']} warn", "bold yellow"),
        " · ",
        (f"{counts['fail']} fail", "bold red"),
        " · ",
        # Only when there are any: the usual line stays within the width a file or a pipe gets.
        *([(f"{counts['not_comparable']} not comparable", "bold magenta"), " · "] if counts["not_comparable"] else []),
        (f"{counts['no_data']} no data", "dim"),
        f"  (rows: overall and per group)   Percentiles: {run.percentile_definition}.",
    )
    parts.append(summary)
    for result in run.results:
        if result.excluded:
            parts.append(
                Text(
                    plain(
                        f"note: {result.name} ({result.group_label}): {result.excluded} records of "
                        f"{result.period.label} left out: {result.excluded_reason}"
                    ),
                    style="dim",
                )
            )
    for note in not_comparable_notes(run):
        parts.append(Text(plain(f"note: {note}"), style="dim"))
    for note in run.notes:
        parts.append(Text(plain(f"note: {note}"), style="dim"))
    return Group(*parts)


def to_text(run: ComputeRun, *, color: bool, width: int | None = None) -> str:
    return console_text(render_table(run), color, width)


def console_text(renderable: RenderableType, color: bool, width: int | None = None) -> str:
    """Render to a string: ANSI-colored for a terminal, plain for files and pipes."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        color_system="auto" if color else None,
        width=width or PLAIN_WIDTH,
        highlight=False,
        emoji=False,
        markup=False,  # values from exports and catalogs are text, never Rich markup ("[/]" in a name is data)
    )
    console.print(renderable)
    return buffer.getvalue()
