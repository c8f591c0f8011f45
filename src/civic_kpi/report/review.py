"""The monthly performance review list (Houston 311 policy 5.2.4) as table, JSON, CSV or Markdown."""

from __future__ import annotations

import csv
import io

from civic_kpi.report.formatting import amount, markdown_cell, markdown_row, plain, value_text
from civic_kpi.report.records import safe_cell
from civic_kpi.results import ReviewItem, ReviewRun

COLUMNS = ["owner", "group", "kpi_id", "rule", "value", "threshold", "numerator", "denominator", "sample_size"]


def _group(item: ReviewItem, owner_key: str | None = None) -> str:
    return ", ".join(str(v) for k, v in item.group.items() if v is not None and k != owner_key)


def _counts(item: ReviewItem) -> str:
    if item.numerator is not None and item.denominator is not None:
        return f"{amount(item.numerator)} of {amount(item.denominator)}"
    return f"{item.sample_size:,} answers" if item.sample_size is not None else ""


def _heading(run: ReviewRun) -> str:
    return (
        f"Performance review for {run.month.label}: {len(run.items)} finding(s) in {run.groups_checked} groups; "
        f"reviews due by {run.review_due:%Y-%m-%d}"
    )


def review_table(run: ReviewRun, *, color: bool, width: int | None = None) -> str:
    # Imported here: the dashboard imports this module for its CSV, and Rich costs it 20 ms it does not need.
    from rich.console import Group
    from rich.text import Text

    from civic_kpi.report.table import TABLE_WIDTH, column, console_text, fitted_table

    width = width or TABLE_WIDTH
    owners, previous = [], None
    for item in run.items:  # an owner once, on its first row
        owners.append(plain(item.owner or "") if item.owner != previous else "")
        previous = item.owner
    values = [value_text(item.value, item.unit, 1 if item.unit == "percent" else 2) for item in run.items]
    columns = [
        column("Owner", owners, label=True, max_width=30),
        column("Group", [plain(_group(item, run.owner_key)) for item in run.items], label=True, max_width=30),
        column("Standard missed", [plain(item.rule) for item in run.items], max_width=50),
        column("Value", [Text(value, style="bold red") for value in values], wrap=False, right=True),
        column("Behind it", [_counts(item) for item in run.items], right=True),
    ]
    # The notes say when the month is not complete or the data covers it in part: its findings are so far.
    notes = [Text(plain(f"note: {note}"), style="dim") for note in run.notes]
    if not run.items:
        empty = Text(_heading(run) + "\nNo group fell short of a standard.", style="bold")
        return console_text(Group(empty, *notes), color, width)
    return console_text(Group(fitted_table(_heading(run), columns, width), *notes), color, width)


def review_csv(run: ReviewRun) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["month", "review_due", *COLUMNS], lineterminator="\n")
    writer.writeheader()
    for item in run.items:
        row = {"month": run.month.label, "review_due": run.review_due.isoformat(), "group": _group(item, run.owner_key)}
        row |= {name: getattr(item, name) for name in COLUMNS if name != "group"}
        writer.writerow({key: safe_cell(value) for key, value in row.items()})
    return buffer.getvalue()


def review_markdown(run: ReviewRun) -> str:
    lines = [
        f"# {markdown_cell(_heading(run))}",
        "",
        "| Owner | Group | Standard missed | Value | Behind it |",
        "|---|---|---|--:|--:|",
    ]
    for item in run.items:
        value = value_text(item.value, item.unit, 1 if item.unit == "percent" else 2)
        cells = [item.owner or "", _group(item, run.owner_key), item.rule, value, _counts(item)]
        lines.append(markdown_row(cells))
    lines += [f"\n> note: {markdown_cell(note)}" for note in run.notes]
    return "\n".join(lines) + "\n"


def render_review(run: ReviewRun, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    if fmt == "json":
        return run.model_dump_json(indent=2) + "\n"
    if fmt == "csv":
        return review_csv(run)
    if fmt == "markdown":
        return review_markdown(run)
    return review_table(run, color=color, width=width)
