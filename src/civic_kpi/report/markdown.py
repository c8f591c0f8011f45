"""Markdown: the table as a page for a wiki, a pull request or a council memo."""

from __future__ import annotations

from civic_kpi.report.formatting import (
    change_headings,
    change_text,
    compared_with,
    count_text,
    markdown_cell,
    markdown_row,
    not_comparable_notes,
    rankings,
    span_text,
    status_words,
    value_text,
)
from civic_kpi.results import ComputeRun, moment_text


def to_markdown(run: ComputeRun) -> str:
    lines = [
        f"# {markdown_cell(run.catalog.title)}: {run.period.label}",
        "",
        f"Period {span_text(run)}; {compared_with(run)}."
        + (f" Data as of {moment_text(run.as_of)}." if run.as_of else ""),
        "",
    ]
    prior, year_ago = change_headings(run)
    for domain in dict.fromkeys(r.domain for r in run.results):
        lines += [
            f"## {markdown_cell(domain)}",
            "",
            f"| KPI |{' Period |' if run.every else ''} Group | Value | Target | Status | n | {prior} | {year_ago} |",
            f"|---|{'---|' if run.every else ''}---|--:|---|---|--:|--:|--:|",
        ]
        previous = None
        for result in (r for r in run.results if r.domain == domain):
            name = result.name if result.kpi_id != previous else ""
            previous = result.kpi_id
            cells = [
                name,
                *([result.period.label] if run.every else []),
                result.group_label,
                value_text(result.value, result.unit, result.decimals),
                result.target or "",
                status_words(result, run),
                count_text(result),
                change_text(result),
                change_text(result, result.year_ago),
            ]
            lines.append(markdown_row(cells))
        lines.append("")
    for ranking in rankings(run):
        lines += [
            f"### {markdown_cell(ranking.title)}",
            "",
            markdown_row(ranking.headings),
            "|---|" + "--:|" * (len(ranking.headings) - 1),
            *(markdown_row(row) for row in ranking.rows),
            "",
        ]
    counts = run.counts()
    lines.append(
        f"{counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail, "
        + (f"{counts['not_comparable']} not comparable, " if counts["not_comparable"] else "")
        + f"{counts['no_data']} no data. "
        f"Percentiles: {run.percentile_definition}."
    )
    lines += [f"\n> note: {markdown_cell(note)}" for note in [*not_comparable_notes(run), *run.notes]]
    return "\n".join(lines) + "\n"
