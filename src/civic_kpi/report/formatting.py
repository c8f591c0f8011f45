"""How numbers, statuses and changes read, shared by the table and Markdown reporters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from civic_kpi.results import Comparison, ComputeRun, KpiResult, Status
from civic_kpi.units import with_unit

STATUS_TEXT = {
    Status.PASS: "✔ pass",
    Status.WARN: "▲ warn",
    Status.FAIL: "✘ fail",
    Status.NOT_COMPARABLE: "≠ not comparable",
    Status.NO_DATA: "– no data",
    Status.NO_TARGET: "· no target",
}
STATUS_STYLE = {
    Status.PASS: "bold green",
    Status.WARN: "bold yellow",
    Status.FAIL: "bold red",
    Status.NOT_COMPARABLE: "bold magenta",
    Status.NO_DATA: "dim",
    Status.NO_TARGET: "dim",
}


def value_text(value: float | None, unit: str, decimals: int) -> str:
    if value is None:
        return "–"
    digits = 0 if unit == "count" and float(value).is_integer() else decimals
    return with_unit(f"{value:,.{digits}f}", unit)


def amount(number: float) -> str:
    # Counts print as integers; sums of hours or dollars keep their decimals (86.5/86.72, not 86/87).
    return f"{number:,.0f}" if float(number).is_integer() else f"{number:,.2f}".rstrip("0").rstrip(".")


def count_text(result: KpiResult) -> str:
    ratio = result.numerator is not None and result.denominator is not None
    if ratio and (result.unit == "percent" or result.sample_size is None):  # None: computed from other KPIs
        return f"{amount(result.numerator)}/{amount(result.denominator)}"  # type: ignore[arg-type]
    if result.sample_size is not None:
        return f"{result.sample_size:,}"
    return ""


def change_text(result: KpiResult, prior: Comparison | Literal[False] | None = False) -> str:
    """Change against the prior period (or the comparison given, such as `result.year_ago`): percentage points for
    percents, relative change otherwise."""
    prior = result.prior if prior is False else prior
    if prior is None or prior.change is None:
        return "–"
    arrow = "▲" if prior.change > 0 else "▼" if prior.change < 0 else "="
    if result.unit == "percent":
        return f"{arrow} {prior.change:+.{result.decimals}f} pp"
    if prior.change_pct is None:
        return f"{arrow} {prior.change:+,.{result.decimals}f}"
    return f"{arrow} {prior.change_pct:+.1f}%"


def _rows_text(periods: dict[str, list[str]]) -> str:
    """'2026-11: all, Critical; 2026-12: all' (a series), or the groups alone ('all, Critical')."""
    said = [f"{period}: {', '.join(groups)}" if period else ", ".join(groups) for period, groups in periods.items()]
    return "; ".join(said)


def not_comparable_notes(run: ComputeRun) -> list[str]:
    """One line per reason a row is not comparable, naming the rows it holds for: 'Participation Rate (all):
    not comparable: the year-ago period FY2025 is covered only from 2024-10-01 (9 of 12 months) in dataset
    meetings'. Rows sharing a reason (every group of a KPI, the KPIs of one dataset) share a line."""
    by_reason: dict[str, dict[str, dict[str, list[str]]]] = {}  # reason → KPI → period → groups
    for result in run.results:
        if result.status == Status.NOT_COMPARABLE:
            periods = by_reason.setdefault(result.status_reason or "", {}).setdefault(result.name, {})
            periods.setdefault(result.period.label if run.every else "", []).append(result.group_label)
    notes = []
    for reason, rows in by_reason.items():
        named = ", ".join(f"{name} ({_rows_text(periods)})" for name, periods in rows.items())
        notes.append(f"{named}: not comparable: {reason}")
    return notes


@dataclass(frozen=True)
class Ranking:
    """A ranked KPI's groups in the last period, laid out as cities publish such a ranking: each group with the
    values it was computed from, its own value and its rank (Kansas City's importance-satisfaction table)."""

    title: str
    headings: list[str]
    rows: list[list[str]]


def rankings(run: ComputeRun) -> list[Ranking]:
    last = run.results[-1].period.label if run.results else None
    found: dict[tuple[str, tuple[str, ...]], list[KpiResult]] = {}
    for result in run.results:
        if result.rank is not None and result.period.label == last:
            found.setdefault((result.kpi_id, tuple(result.group)), []).append(result)
    tables = []
    for (_, dims), results in found.items():
        first = results[0]
        headings = [", ".join(dims), *(read.name for read in first.inputs), first.name, "Rank"]
        rows = [
            [
                result.group_label,
                *(value_text(read.value, read.unit, read.decimals) for read in result.inputs),
                value_text(result.value, result.unit, result.decimals),
                str(result.rank),
            ]
            for result in sorted(results, key=lambda r: r.rank or 0)
        ]
        tables.append(Ranking(f"{first.name} by {', '.join(dims)}, {last}: ranked", headings, rows))
    return tables


# One pass, so the backslashes added are not escaped again. '<' becomes an entity, not '\\<', so that no raw tag or
# autolink is left even for a reader that ignores backslash escapes; without a '<' a '>' starts nothing. Escaped
# brackets are enough to stop a link or an image: '(' after them is plain text. Tabs and newlines would end the row.
_MARKDOWN = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "~": "\\~",
        "[": "\\[",
        "]": "\\]",
        "<": "&lt;",
        "\n": " ",
        "\t": " ",
    }
)
# Only an '&' that starts an entity needs escaping ('&lt;' in the data must read '&lt;', not '<'); 'Parks & Rec' stays.
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")


def markdown_cell(text: str) -> str:
    """Text from a catalog or the data as literal Markdown, for a table cell, a heading or a note: no HTML, link,
    image, emphasis or code span in a value is rendered, no '|' or newline breaks the table, and no control
    character reaches a terminal that shows the page."""
    return _ENTITY.sub("&amp;", plain(text)).translate(_MARKDOWN)


def markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(markdown_cell(cell) for cell in cells) + " |"


def compared_with(run: ComputeRun) -> str:
    """What the change column compares with: a fixed period, or in a series each period's own prior period."""
    if run.every:
        return f"compared with the {run.every.replace('_', ' ')} before and a year earlier"
    return f"compared with {run.prior_period.label} and {run.year_ago_period.label}"


def change_headings(run: ComputeRun) -> tuple[str, str]:
    """The headings of the changes against the prior and the year-ago period: 'vs 2026-09', 'vs 2025-10' (in a
    series, where each period has its own, 'vs prior', 'vs year ago')."""
    if run.every:
        return "vs prior", "vs year ago"
    return f"vs {run.prior_period.label}", f"vs {run.year_ago_period.label}"


def status_words(result: KpiResult, run: ComputeRun) -> str:
    """The status, and for a target on a change the comparison it judged: '✔ pass vs 2025-10'."""
    if result.judged_against is None:
        return STATUS_TEXT[result.status]
    prior, year_ago = change_headings(run)
    return f"{STATUS_TEXT[result.status]} {prior if result.judged_against == 'prior' else year_ago}"


def span_text(run: ComputeRun) -> str:
    span = run.period.label
    if ".." not in span:  # a range's label already says its days
        span += f" ({run.period.start} to {run.period.end})"
    return f"{span} by {run.every.replace('_', ' ')}" if run.every else span


# C0 and C1 controls (ESC starts terminal escape sequences, BEL rings, CR overwrites a line) and the bidirectional
# overrides and isolates, which make a terminal show text in another order than it is. Newline and tab stay.
# Characters that can act on a terminal (all C0 but tab and newline, DEL, C1) or reorder what it shows (the
# bidirectional overrides and isolates), as inclusive ranges: one list for plain() and for Polars (CONTROL_PATTERN).
_CONTROL_RANGES = ((0x00, 0x08), (0x0B, 0x1F), (0x7F, 0x9F), (0x202A, 0x202E), (0x2066, 0x2069))
_CONTROL = dict.fromkeys(c for low, high in _CONTROL_RANGES for c in range(low, high + 1))
CONTROL_PATTERN = "[" + "".join(f"\\x{{{low:X}}}-\\x{{{high:X}}}" for low, high in _CONTROL_RANGES) + "]"


def plain(text: str) -> str:
    """Text from a catalog or the data with control characters removed, so that an escape sequence in a value
    cannot act on the reader's terminal. Every reporter passes such text through here before showing it."""
    return text.translate(_CONTROL)
