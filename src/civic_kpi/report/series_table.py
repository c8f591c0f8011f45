"""A series on the terminal: one row per KPI and group, its periods as columns and a sparkline, like a small multiple.

The long form (a row per KPI, period and group) stays for CSV and JSON; on screen a year of months by three
breakdowns would otherwise run to thousands of lines. Each value keeps its status in color and, when it is not a
pass, in a mark beside it, so the table reads without color too; the last period's status is also in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from civic_kpi.report.formatting import STATUS_STYLE, plain, value_text
from civic_kpi.results import ComputeRun, KpiResult, Status

BARS = "▁▂▃▄▅▆▇█"
# Beside a value that is not a pass; a pass needs no mark (STATUS_TEXT's marks, one character each).
MARKS = {Status.WARN: "▲", Status.FAIL: "✘", Status.NOT_COMPARABLE: "≠"}


@dataclass(frozen=True)
class SeriesRow:
    """One KPI and group over the run's periods: its rows by period label (a period without a row is missing)."""

    first: KpiResult  # for the name, domain, unit and group
    by_period: dict[str, KpiResult]

    @property
    def last(self) -> KpiResult:
        return list(self.by_period.values())[-1]


def series_rows(run: ComputeRun) -> list[SeriesRow]:
    """The run's rows gathered per KPI and group, in the order they first appear (catalog order, overall first)."""
    gathered: dict[tuple[str, tuple], dict[str, KpiResult]] = {}
    for result in run.results:
        key = (result.kpi_id, tuple(result.group.items()))
        gathered.setdefault(key, {})[result.period.label] = result
    return [SeriesRow(next(iter(found.values())), found) for found in gathered.values()]


def periods_of(run: ComputeRun) -> list[str]:
    return list(dict.fromkeys(result.period.label for result in run.results))


def sparkline(row: SeriesRow, periods: list[str]) -> Text:
    """A bar per period, scaled from the row's lowest value to its highest, colored by its status; a period
    without a value is a gap, never a zero."""
    values = [row.by_period[p].value if p in row.by_period else None for p in periods]
    known = [v for v in values if v is not None]
    low, high = (min(known), max(known)) if known else (0.0, 0.0)
    text = Text()
    for period, value in zip(periods, values, strict=True):
        if value is None:
            text.append(" ")
            continue
        level = (len(BARS) - 1) // 2 if high == low else round((value - low) / (high - low) * (len(BARS) - 1))
        text.append(BARS[level], style=STATUS_STYLE[row.by_period[period].status].replace("bold ", ""))
    return text


def value_cell(result: KpiResult | None) -> Text:
    if result is None:
        return Text("")
    mark = MARKS.get(result.status)
    text = value_text(result.value, result.unit, result.decimals)
    style = STATUS_STYLE[result.status] if result.status != Status.PASS else "green"
    return Text(f"{text} {mark}" if mark and result.value is not None else text, style=style)


def met_text(row: SeriesRow) -> str:
    """How many periods met the target, of those judged: '5 of 12'."""
    judged = [r for r in row.by_period.values() if r.status in (Status.PASS, Status.WARN, Status.FAIL)]
    if not judged:
        return "–"
    return f"{sum(r.status == Status.PASS for r in judged)} of {len(judged)}"


def status_cell(result: KpiResult) -> Text:
    from civic_kpi.report.formatting import STATUS_TEXT

    return Text(STATUS_TEXT[result.status], style=STATUS_STYLE[result.status])


def label(row: SeriesRow) -> str:
    return plain(row.first.group_label)
