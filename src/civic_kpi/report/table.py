"""The terminal table: one section per domain, status by color and by mark and word, so it reads without color too."""

from __future__ import annotations

import io
import re
import textwrap
from dataclasses import dataclass, replace

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from civic_kpi.report.formatting import (
    STATUS_STYLE,
    Ranking,
    change_headings,
    change_text,
    compared_with,
    count_text,
    not_comparable_notes,
    plain,
    rankings,
    span_text,
    status_words,
    value_text,
)
from civic_kpi.report.series_table import (
    MARKS,
    SeriesRow,
    label,
    met_text,
    name_text,
    periods_of,
    series_rows,
    sparkline,
    status_cell,
    targets_text,
    value_cell,
)
from civic_kpi.results import Comparison, ComputeRun, KpiResult, moment_text

TABLE_WIDTH = 100  # every fitted table (compute, review, scorecard, check, list) in a pipe without COLUMNS
PLAIN_WIDTH = 150  # text that is not a fitted table (explain, inspect) in a file or a pipe
# A longer word of a name is shortened with an ellipsis where room is short: first to NAME_WORD (the comparisons
# fold away before a name is cut shorter), then, when nothing is left to fold, to WORD_LIMIT (60 columns).
NAME_WORD, WORD_LIMIT = 16, 8
WIDE_WORD = 40  # where there is room, a column widens to show words up to this long whole
# Folded away, in this order, when the table would not fit otherwise (a footnote says which): n, then the comparisons.
FOLDS = ("n", "year_ago", "prior")


@dataclass
class _Column:
    key: str
    heading: str
    cells: list[Text]  # the whole run's, so that every domain's table gets the same columns
    wrap: bool = True  # wrap at spaces (a word too long for the column ends in an ellipsis); else one line
    right: bool = False
    max_width: int | None = None
    label: bool = False  # a name: a long word may be shortened with an ellipsis (NAME_WORD, WORD_LIMIT)
    long_heading: bool = False  # a heading from the catalog (a ranking's): its long words may be shortened too
    heading_wraps: bool = False  # unwrapped cells under a heading that may wrap at its spaces ('FY2025 / Actual')
    # Kept on one line while anything else can give up room (a series' values, whose mark would wrap away from
    # them); wrapped at its spaces only when nothing else can ('19.8 per 10k / residents ✘').
    shrink_last: bool = False

    def minimum(self, name_word: int = WORD_LIMIT) -> int:
        """The narrowest the column gets without breaking a word of its heading or cells (or any at all, unwrapped)."""
        if (not self.wrap and not self.heading_wraps) or (self.shrink_last and name_word >= NAME_WORD):
            return self._widest_line()  # one line each: the heading too
        if not self.wrap:  # one line each cell; the heading at its spaces
            cells = max((cell_len(line) for cell in self.cells for line in cell.plain.splitlines() or [""]), default=1)
            return max(cells, max((cell_len(word) for word in self.heading.split()), default=1))
        words = [cell_len(word) for cell in self.cells for word in cell.plain.split()]
        heading = max((cell_len(word) for word in self.heading.split()), default=1)
        heading = min(heading, name_word) if self.long_heading else heading
        # A name (of a KPI, a group) may end in an ellipsis where room is short; a value, a target or a status
        # never: it keeps its longest word whole.
        return max(heading, min(max(words, default=1), name_word) if self.label else max(words, default=1))

    def natural(self) -> int:
        """The width that shows every cell on one line (at most max_width) and every word whole (at most
        WIDE_WORD): what the column takes where there is room."""
        widest = self._widest_line()
        texts = [self.heading, *(cell.plain for cell in self.cells)]
        longest = max((cell_len(word) for text in texts for word in text.split()), default=1)
        return max(self.minimum(), min(widest, self.max_width or widest), min(longest, WIDE_WORD))

    def _widest_line(self) -> int:
        texts = [self.heading, *(cell.plain for cell in self.cells)]
        return max(cell_len(line) for text in texts for line in text.splitlines() or [""])


def _change_style(result: KpiResult, comparison: Comparison | None) -> str:
    if comparison is None or not comparison.change or result.better is None:
        return ""
    improving = (comparison.change > 0) == (result.better == "higher")
    return "green" if improving else "red"


def _columns(run: ComputeRun, results: list[KpiResult]) -> list[_Column]:
    """The table's columns over the run's rows, widest view first. The status names the comparison its target
    judged ("pass vs 2025-10"), since a target on a change passes or fails on a column of its own."""
    prior_heading, year_heading = change_headings(run)
    names, periods, previous, previous_period = [], [], None, None
    for result in results:  # a KPI's name (and a series' period) once, on its first row
        first = result.kpi_id != previous
        names.append(Text(plain(result.name), style="bold") if first else Text(""))
        periods.append(Text(result.period.label if first or result.period.label != previous_period else ""))
        previous, previous_period = result.kpi_id, result.period.label
    return [
        _Column("kpi", "KPI", names, max_width=36, label=True),
        *([_Column("period", "Period", periods, wrap=False)] if run.every else []),
        _Column("group", "Group", [Text(plain(r.group_label)) for r in results], max_width=24, label=True),
        _Column("value", "Value", [Text(value_text(r.value, r.unit, r.decimals)) for r in results], right=True),
        _Column("target", "Target", [Text(plain(r.target or "")) for r in results], max_width=30),
        _Column("status", "Status", [Text(status_words(r, run), style=STATUS_STYLE[r.status]) for r in results]),
        _Column("n", "n", [Text(count_text(r)) for r in results], wrap=False, right=True),
        _Column(
            "prior",
            prior_heading,
            [Text(change_text(r), style=_change_style(r, r.prior)) for r in results],
            wrap=False,
            right=True,
        ),
        _Column(
            "year_ago",
            year_heading,
            [Text(change_text(r, r.year_ago), style=_change_style(r, r.year_ago)) for r in results],
            wrap=False,
            right=True,
        ),
    ]


def _series_columns(run: ComputeRun, rows: list[SeriesRow], periods: list[str]) -> list[_Column]:
    """A series' columns: a row per KPI and group, a column per period (oldest first), the sparkline over them all,
    how many periods met the target, and the latest status in words."""
    names, previous = [], None
    for row in rows:  # a KPI's name once, on its first row
        names.append(Text(plain(name_text(row.first)), style="bold") if row.first.kpi_id != previous else Text(""))
        previous = row.first.kpi_id
    latest = periods[-1] if periods else ""

    def latest_status(row: SeriesRow) -> Text:
        text = status_cell(row.last)
        return text if row.last.period.label == latest else text + Text(f" ({row.last.period.label})")

    return [
        _Column("kpi", "KPI", names, max_width=36, label=True),
        _Column("group", "Group", [Text(label(row)) for row in rows], max_width=24, label=True),
        _Column("target", "Target", [Text(plain(targets_text(row))) for row in rows], max_width=30),
        # A value wraps at its unit's spaces ('19.8 per 10k / residents ✘') rather than lose its mark.
        *(
            _Column(
                f"period:{period}",
                period,
                [value_cell(row.by_period.get(period)) for row in rows],
                right=True,
                shrink_last=True,
            )
            for period in periods
        ),
        _Column("trend", "Trend", [sparkline(row, periods) for row in rows], wrap=False),
        _Column("met", "Met", [Text(met_text(row)) for row in rows], wrap=False, right=True),
        _Column("status", "Latest", [latest_status(row) for row in rows]),
    ]


def fold_periods(columns: list[_Column], width: int) -> tuple[list[_Column], list[str], list[str], bool]:
    """The series' columns that fit `width`: the oldest periods leave first (the sparkline still draws them), then
    the count of periods met, then the target. Returns the columns shown, the periods and the other columns left
    out, and whether the table goes compact. The sparkline and the latest period are never cut."""
    shown, hidden = list(columns), []
    while not fits(shown, width, NAME_WORD) and sum(column.key.startswith("period:") for column in shown) > 1:
        oldest = next(column for column in shown if column.key.startswith("period:"))
        hidden.append(oldest.heading)
        shown.remove(oldest)
    keys = ("met", "target")
    shown, dropped, compact = fold(shown, width, keys, WORD_LIMIT, compact=True)
    return shown, hidden, [column.heading for column in sorted(dropped, key=lambda c: keys.index(c.key))], compact


def _series_tables(run: ComputeRun, width: int) -> list[RenderableType]:
    rows, periods = series_rows(run), periods_of(run)
    shown, hidden, dropped, compact = fold_periods(_series_columns(run, rows, periods), width)
    parts: list[RenderableType] = []
    for domain in dict.fromkeys(row.first.domain for row in rows):
        indices = [index for index, row in enumerate(rows) if row.first.domain == domain]
        parts += [_domain_table(domain, shown, indices, width, compact), Text("")]
    said = []
    if hidden:
        said.append(f"{hidden[0] if len(hidden) == 1 else f'{hidden[0]} to {hidden[-1]}'} shown only in the trend")
    if dropped:
        said.append(f"{' and '.join(dropped)} left out")
    if said:
        parts.append(
            Text(
                f"{', and '.join(said)}, to fit {width} columns: a wider terminal or COLUMNS shows them; -f csv has "
                "every value.",
                style="dim",
            )
        )
    if periods:
        marks = ", ".join(f"{mark} {status.value.replace('_', ' ')}" for status, mark in MARKS.items())
        parts.append(
            Text(
                f"Trend: {periods[0]} to {periods[-1]}, each row scaled to its own range; a gap is a period without "
                f"data. Beside a value: {marks}; a value without a mark passed.",
                style="dim",
            )
        )
    return parts


def room_for(count: int, compact: bool) -> int:
    """What a table of `count` columns spends besides its cells: one space each side of a cell and a rule between
    and around them; compact, no rules and no space at the edges (two spaces between cells)."""
    return 2 * (count - 1) if compact else 3 * count + 1


def fits(columns: list[_Column], width: int, name_word: int = WORD_LIMIT, compact: bool = False) -> bool:
    """Whether `columns` fit `width` with no word broken (a name's cut to `name_word`), with rules or without."""
    return sum(column.minimum(name_word) for column in columns) + room_for(len(columns), compact) <= width


def fold(
    columns: list[_Column], width: int, keys: tuple[str, ...] = FOLDS, name_word: int = NAME_WORD, compact: bool = False
) -> tuple[list[_Column], list[_Column], bool]:
    """The columns that fit `width`, those folded away (`keys`, in order, until the rest fits with names cut to
    `name_word`, with rules or not as `compact` says) to get there, and whether the table must also go compact (no
    rules: a series at 60 columns)."""
    shown, folded = list(columns), []
    for key in keys:
        if fits(shown, width, name_word, compact):
            break
        folded += [column for column in shown if column.key == key]
        shown = [column for column in shown if column.key != key]
    order = [column.key for column in columns]
    return shown, sorted(folded, key=lambda column: order.index(column.key)), not fits(shown, width)


def left_out_note(folded: list[_Column], width: int, whole: str) -> Text:
    """The line under a table saying which columns left to fit `width`, and where to find them (`whole`)."""
    names = [column.heading for column in folded]
    said = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return Text(
        f"{said} left out to fit {width} columns: a wider terminal or COLUMNS shows them; {whole}.", style="dim"
    )


def widths(columns: list[_Column], width: int, compact: bool = False) -> list[int]:
    """Each column's width within `width`: what its cells take on one line where there is room; else the wrapping
    columns give up room, the widest first, down to their minimum."""
    found = [column.natural() for column in columns]
    room = width - room_for(len(columns), compact)
    for name_word in (NAME_WORD, WORD_LIMIT):
        floors = [
            column.minimum(name_word) if column.wrap or column.heading_wraps else found[i]
            for i, column in enumerate(columns)
        ]
        while sum(found) > room:
            # The widest column that can still give up room gives one character, so that widths even out.
            can = [(w, i) for i, (w, floor) in enumerate(zip(found, floors, strict=True)) if w > floor]
            if not can:
                break  # narrower than every column's minimum (a value too long to fit): Rich shortens it
            found[max(can)[1]] -= 1
    return found


def _fitted_table(title: str, columns: list[_Column], width: int, compact: bool) -> Table:
    """A table of these columns within `width`: each column as wide as its own cells need, where there is room."""
    table = Table(
        title=Text(plain(title), style="bold"),
        title_justify="left",
        expand=False,
        show_lines=False,
        **({"box": None, "pad_edge": False, "header_style": "bold underline"} if compact else {}),
    )
    for column, room in zip(columns, widths(columns, width, compact), strict=True):
        heading = column.heading
        if not column.wrap and cell_len(heading) > room:  # the cells stay on one line; the heading wraps
            heading = "\n".join(textwrap.wrap(heading, room, break_long_words=False))
        table.add_column(
            heading,
            justify="right" if column.right else "left",
            no_wrap=not column.wrap,
            overflow="ellipsis",
            width=room,
        )
    for index in range(len(columns[0].cells) if columns else 0):
        table.add_row(*(column.cells[index] for column in columns), end_section=False)
    return table


def _domain_table(domain: str, columns: list[_Column], rows: list[int], width: int, compact: bool) -> Table:
    """One domain's rows: the run's columns, each as wide as this domain's own cells need."""
    own = [replace(column, cells=[column.cells[index] for index in rows]) for column in columns]
    return _fitted_table(domain, own, width, compact)


def _ranking_table(ranking: Ranking, width: int) -> Table:
    """A ranking (groups by rank, a column per KPI it reads) fitted like the KPI tables; its headings are KPI names,
    whose long words may be shortened where room is short."""
    columns = [
        _Column(
            f"c{number}",
            plain(heading),
            [Text(plain(row[number])) for row in ranking.rows],
            right=number > 0,
            max_width=60,
            label=number == 0,
            long_heading=True,
        )
        for number, heading in enumerate(ranking.headings)
    ]
    return fitted_table(ranking.title, columns, width)


def column(
    heading: str,
    cells: list[Text | str],
    *,
    wrap: bool = True,
    right: bool = False,
    label: bool = False,
    max_width: int | None = None,
) -> _Column:
    """A column of another command's table (review, scorecard, check, list), fitted as compute's are."""
    texts = [cell if isinstance(cell, Text) else Text(plain(cell)) for cell in cells]
    return _Column(
        heading, heading, texts, wrap=wrap, right=right, label=label, max_width=max_width, heading_wraps=not wrap
    )


def fitted_table(title: str, columns: list[_Column], width: int) -> Table:
    """A table of `columns` within `width`: no word broken inside; without its rules where they would not fit."""
    return _fitted_table(title, columns, width, not fits(columns, width))


def fitted_sections(
    sections: list[tuple[str, list[int]]], columns: list[_Column], width: int, folds: tuple[str, ...], whole: str
) -> list[RenderableType]:
    """A table per section (its title and the indices of its rows) with the same columns, each within `width`.
    Where even a table without rules would break a word, the columns named in `folds` leave, in that order, and a
    line says which and where to find them (`whole`: '-f json has them all')."""
    shown, folded, compact = fold(columns, width, folds, WORD_LIMIT, compact=True)
    parts: list[RenderableType] = []
    for title, rows in sections:
        parts += [_domain_table(title, shown, rows, width, compact), Text("")]
    return [*parts, left_out_note(folded, width, whole)] if folded else parts


def render_table(run: ComputeRun, width: int = TABLE_WIDTH) -> Group:
    as_of = f" · data as of {moment_text(run.as_of)}" if run.as_of else ""
    header = Text.assemble(
        (plain(run.catalog.title), "bold"),
        f" · {span_text(run)}",
        f" · {compared_with(run)}{as_of}",
    )
    parts: list = [header, Text("")]
    if run.every:
        parts += _series_tables(run, width)
        folded = []
    else:
        shown, folded, compact = fold(_columns(run, run.results), width)
        for domain in dict.fromkeys(r.domain for r in run.results):
            rows = [index for index, result in enumerate(run.results) if result.domain == domain]
            parts.append(_domain_table(domain, shown, rows, width, compact))
            parts.append(Text(""))
    if folded and run.results:
        parts.append(left_out_note(folded, width, "-f csv has them all"))
    for ranking in rankings(run):
        parts += [_ranking_table(ranking, width), Text("")]
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
        *([" · ", (f"{counts['no_target']} no target", "dim")] if counts["no_target"] else []),
        f"  (rows: overall and per group)   Percentiles: {run.percentile_definition}.",
    )
    parts.append(summary)
    for note in excluded_notes(run):
        parts.append(Text(plain(f"note: {note}"), style="dim"))
    for note in not_comparable_notes(run):
        parts.append(Text(plain(f"note: {note}"), style="dim"))
    for note in run.notes:
        parts.append(Text(plain(f"note: {note}"), style="dim"))
    return Group(*parts)


def excluded_notes(run: ComputeRun) -> list[str]:
    """Records left out of values, one line per KPI and reason with the count of each group, and of a series'
    periods together: 'Reopen Rate: 969 records of 2026-10 to 2026-11 left out (Critical 65, High 213): inside
    their 30-day follow-up window at the as-of time', not a line per period and group."""
    gathered: dict[tuple[str, str], dict[str, int]] = {}
    periods: dict[tuple[str, str], list[str]] = {}
    for result in run.results:
        if result.excluded:
            # The reason's own counts ('539 inside their…') are the row's: the line adds them up per group.
            key = (result.name, re.sub(r"(^|; )\d[\d,]* ", r"\1", result.excluded_reason or ""))
            by_group = gathered.setdefault(key, {})
            # A group of several columns as Critical/App: its own commas would blur into the list's.
            group = "/".join("(missing)" if v is None else str(v) for v in result.group.values()) or "all"
            by_group[group] = by_group.get(group, 0) + result.excluded
            periods.setdefault(key, []).append(result.period.label)
    notes = []
    for (name, reason), by_group in gathered.items():
        labels = list(dict.fromkeys(periods[(name, reason)]))
        when = labels[0] if len(labels) == 1 else f"{labels[0]} to {labels[-1]}"
        groups = ", ".join(f"{group} {count:,}" for group, count in by_group.items() if group != "all")
        if "all" in by_group:
            said = f"{by_group['all']:,} records of {when} left out" + (f" ({groups})" if groups else "")
        else:
            said = f"records of {when} left out: {groups}"
        notes.append(f"{name}: {said}: {reason}")
    return notes


def to_text(run: ComputeRun, *, color: bool, width: int | None = None) -> str:
    return console_text(render_table(run, width or TABLE_WIDTH), color, width or TABLE_WIDTH)


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
