"""How numbers, statuses and changes read, shared by the table and Markdown reporters."""

from __future__ import annotations

from civic_kpi.results import ComputeRun, KpiResult, Status

UNIT_SUFFIX = {"percent": "%", "hours": " h", "days": " d", "count": ""}

STATUS_TEXT = {
    Status.PASS: "✔ pass",
    Status.WARN: "▲ warn",
    Status.FAIL: "✘ fail",
    Status.NO_DATA: "– no data",
    Status.NO_TARGET: "· no target",
}
STATUS_STYLE = {
    Status.PASS: "bold green",
    Status.WARN: "bold yellow",
    Status.FAIL: "bold red",
    Status.NO_DATA: "dim",
    Status.NO_TARGET: "dim",
}


def value_text(value: float | None, unit: str, decimals: int) -> str:
    if value is None:
        return "–"
    digits = 0 if unit == "count" and float(value).is_integer() else decimals
    suffix = UNIT_SUFFIX.get(unit, f" {unit}")
    return f"{value:,.{digits}f}{suffix}"


def _amount(number: float) -> str:
    # Counts print as integers; sums of hours or dollars keep their decimals (86.5/86.72, not 86/87).
    return f"{number:,.0f}" if float(number).is_integer() else f"{number:,.2f}".rstrip("0").rstrip(".")


def count_text(result: KpiResult) -> str:
    if result.numerator is not None and result.denominator is not None and result.unit == "percent":
        return f"{_amount(result.numerator)}/{_amount(result.denominator)}"
    if result.sample_size is not None:
        return f"{result.sample_size:,}"
    return ""


def change_text(result: KpiResult) -> str:
    """Change against the prior period: percentage points for percents, relative change otherwise."""
    prior = result.prior
    if prior is None or prior.change is None:
        return "–"
    arrow = "▲" if prior.change > 0 else "▼" if prior.change < 0 else "="
    if result.unit == "percent":
        return f"{arrow} {prior.change:+.{result.decimals}f} pp"
    if prior.change_pct is None:
        return f"{arrow} {prior.change:+,.{result.decimals}f}"
    return f"{arrow} {prior.change_pct:+.1f}%"


def markdown_cell(text: str) -> str:
    """A value as one Markdown table cell: a '|' or a newline inside it would break the table."""
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(markdown_cell(cell) for cell in cells) + " |"


def compared_with(run: ComputeRun) -> str:
    """What the change column compares with: a fixed period, or in a series each period's own prior period."""
    if run.every:
        return f"compared with the {run.every.replace('_', ' ')} before and a year earlier"
    return f"compared with {run.prior_period.label} and {run.year_ago_period.label}"


def change_heading(run: ComputeRun) -> str:
    return "vs prior" if run.every else f"vs {run.prior_period.label}"


def span_text(run: ComputeRun) -> str:
    span = run.period.label
    if ".." not in span:  # a range's label already says its days
        span += f" ({run.period.start} to {run.period.end})"
    return f"{span} by {run.every.replace('_', ' ')}" if run.every else span
