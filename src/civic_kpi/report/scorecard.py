"""The fiscal-year scorecard, laid out as Kansas City publishes its measures of success."""

from __future__ import annotations

import csv
import io

from civic_kpi.report.formatting import STATUS_STYLE, STATUS_TEXT, markdown_cell, markdown_row, plain, value_text
from civic_kpi.report.records import safe_cell
from civic_kpi.results import ScorecardRun, Status


def _headers(run: ScorecardRun) -> list[str]:
    this = run.fiscal_year.label + ("" if run.complete else " YTD")
    return [
        "Measure",
        f"{run.last_year.label} Actual",
        f"{this} Target",
        f"{this} Actual",
        "",
        f"{run.next_year} Target",
    ]


def _cells(run: ScorecardRun) -> list[list[str]]:
    return [
        [
            row.measure,
            value_text(row.last_year_actual, row.unit, row.decimals),
            row.this_year_target or "",
            value_text(row.this_year_actual, row.unit, row.decimals),
            STATUS_TEXT[row.status],
            row.next_year_target or "",
        ]
        for row in run.rows
    ]


def _notes(run: ScorecardRun) -> list[str]:
    """The reason of each measure that is not comparable (its last year covered in part), then the run's notes."""
    reasons = [
        f"{row.measure}: not comparable: {row.status_reason}" for row in run.rows if row.status == Status.NOT_COMPARABLE
    ]
    return [*reasons, *run.notes]


def scorecard_table(run: ScorecardRun, *, color: bool, width: int | None = None) -> str:
    # Imported here: the dashboard imports this module for its CSV, and Rich costs it 20 ms it does not need.
    from rich.console import Group
    from rich.text import Text

    from civic_kpi.report.table import TABLE_WIDTH, column, console_text, fitted_sections

    width = width or TABLE_WIDTH
    year = run.fiscal_year
    title = f"{plain(run.catalog.title)}: measures of success, {year.label} ({year.start} to {year.end})"
    cells = _cells(run)
    headers = _headers(run)
    statuses = [Text(row[4], style=STATUS_STYLE[found.status]) for row, found in zip(cells, run.rows, strict=True)]
    columns = [
        column(plain(headers[0]), [plain(row[0]) for row in cells], label=True, max_width=40),
        column(plain(headers[1]), [row[1] for row in cells], right=True),  # "12.3 per 1k residents" may wrap
        column(plain(headers[2]), [plain(row[2]) for row in cells], max_width=30),
        column(plain(headers[3]), [row[3] for row in cells], right=True),
        column("Status", statuses),
        column(plain(headers[5]), [plain(row[5]) for row in cells], max_width=30),
    ]
    # A table per domain, as Kansas City groups its measures.
    domains = list(dict.fromkeys(row.domain for row in run.rows))
    sections = [(d, [i for i, row in enumerate(run.rows) if row.domain == d]) for d in domains]
    parts = fitted_sections(sections, columns, width, (plain(headers[5]),), "-f csv has them all")
    notes = [Text(plain(f"note: {note}"), style="dim") for note in _notes(run)]
    return console_text(Group(Text(title, style="bold"), Text(""), *parts, *notes), color, width)


def scorecard_csv(run: ScorecardRun) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "kpi_id",
            "measure",
            "domain",
            "unit",
            "last_year",
            "last_year_actual",
            "fiscal_year",
            "this_year_target",
            "this_year_actual",
            "status",
            "next_year",
            "next_year_target",
            "status_reason",
        ]
    )
    for row in run.rows:
        writer.writerow(
            [
                safe_cell(cell)
                for cell in (
                    row.kpi_id,
                    row.measure,
                    row.domain,
                    row.unit,
                    run.last_year.label,
                    row.last_year_actual,
                    run.fiscal_year.label,
                    row.this_year_target,
                    row.this_year_actual,
                    row.status.value,
                    run.next_year,
                    row.next_year_target,
                    row.status_reason,
                )
            ]
        )
    return buffer.getvalue()


def scorecard_markdown(run: ScorecardRun) -> str:
    headers = _headers(run)
    headers[4] = "Status"
    lines = [
        f"# {markdown_cell(run.catalog.title)}: measures of success, {run.fiscal_year.label}",
        "",
        markdown_row(headers),
        "|---|--:|---|--:|---|---|",
    ]
    lines += [markdown_row(cells) for cells in _cells(run)]
    lines += [f"\n> note: {markdown_cell(note)}" for note in _notes(run)]
    return "\n".join(lines) + "\n"


def render_scorecard(run: ScorecardRun, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    if fmt == "json":
        return run.model_dump_json(indent=2) + "\n"
    if fmt == "csv":
        return scorecard_csv(run)
    if fmt == "markdown":
        return scorecard_markdown(run)
    return scorecard_table(run, color=color, width=width)
