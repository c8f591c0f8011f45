"""A series on the terminal: one row per KPI and group, its periods as columns and a sparkline, like a small multiple.

The long form (a row per KPI, period and group) stays for CSV and JSON; on screen a year of months by three
breakdowns would otherwise run to thousands of lines. Each value keeps its status in color and, when it is not a
pass, in a mark beside it, so the table reads without color too; the last period's status is also in words.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from civic_kpi.report.formatting import STATUS_STYLE, STATUS_TEXT, plain, value_text
from civic_kpi.results import ComputeRun, KpiResult, Status
from civic_kpi.units import PREFIX, SUFFIX

BARS = "▁▂▃▄▅▆▇█"
# Beside a value that did not pass, so the table reads without color (STATUS_TEXT's marks, one character each): a
# value judged against nothing (no year-ago value to compare with, no target) is marked too, never taken for a pass.
MARKS = {
    Status.FAIL: "✘",
    Status.WARN: "▲",
    Status.NOT_COMPARABLE: "≠",
    Status.NO_DATA: "–",
    Status.NO_TARGET: "·",
}


@dataclass(frozen=True)
class SeriesRow:
    """One KPI and group over the run's periods: its rows by period label (a period without a row is missing)."""

    first: KpiResult  # for the name, domain, unit and group
    by_period: dict[str, KpiResult]

    @property
    def last(self) -> KpiResult:
        return max(self.by_period.values(), key=lambda result: result.period.start)


def series_rows(run: ComputeRun) -> list[SeriesRow]:
    """The run's rows gathered per KPI and group, in the order they first appear (catalog order, overall first)."""
    gathered: dict[tuple[str, tuple], dict[str, KpiResult]] = {}
    for result in run.results:
        key = (result.kpi_id, tuple(result.group.items()))
        gathered.setdefault(key, {})[result.period.label] = result
    return [SeriesRow(next(iter(found.values())), found) for found in gathered.values()]


def periods_of(run: ComputeRun) -> list[str]:
    """The series' periods in time order (a KPI's first rows need not start with the first period)."""
    starts = {result.period.label: result.period.start for result in run.results}
    return sorted(starts, key=starts.__getitem__)


def targets_text(row: SeriesRow) -> str:
    """The row's target, or each one in turn where it changed over the periods (a fiscal year's own target)."""
    in_order = sorted(row.by_period.values(), key=lambda result: result.period.start)
    return ", then ".join(dict.fromkeys(result.target for result in in_order if result.target))


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


def word_unit(unit: str) -> bool:
    """A unit written in words ('per 1k residents'): said once beside the KPI's name, not in every period's cell."""
    return unit not in SUFFIX and unit not in PREFIX


def name_text(result: KpiResult) -> str:
    return f"{result.name} ({result.unit})" if word_unit(result.unit) else result.name


def value_cell(result: KpiResult | None) -> Text:
    if result is None:
        return Text("")
    mark = MARKS.get(result.status)
    if word_unit(result.unit) and result.value is not None:  # the unit is beside the name (name_text)
        text = f"{result.value:,.{result.decimals}f}"
    else:
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
    return Text(STATUS_TEXT[result.status], style=STATUS_STYLE[result.status])


def label(row: SeriesRow) -> str:
    return plain(row.first.group_label)
