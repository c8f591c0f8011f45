"""The dashboard: one self-contained HTML page of a DashboardRun (`civic-kpi report`). It formats; it never computes.

Every number reads as in the terminal table (formatting.py); every chart is inline SVG with its data beside it as a
table and a CSV download (a data: URI), so the page opens offline, from an email attachment or a USB stick.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import quote

from civic_kpi.report.charts import Drawing
from civic_kpi.report.formatting import STATUS_TEXT, amount, change_text, count_text, plain, span_text, value_text
from civic_kpi.report.records import safe_cell
from civic_kpi.results import DashboardRun, KpiCard, KpiResult, ReviewRun, ScorecardRun, Status, moment_text

# Failing groups first in a drill-down: those a director must act on, then the ones to watch.
_STATUS_ORDER = {
    Status.FAIL: 0,
    Status.WARN: 1,
    Status.NOT_COMPARABLE: 2,
    Status.NO_DATA: 3,
    Status.PASS: 4,
    Status.NO_TARGET: 5,
}
SUMMARY = (Status.PASS, Status.WARN, Status.FAIL, Status.NO_DATA, Status.NOT_COMPARABLE)


@dataclass
class Table:
    """A chart's data as the page shows it (a table) and as it offers it (a CSV file)."""

    caption: str
    headings: list[str]
    rows: list[list[str]]
    csv_name: str
    csv_uri: str

    @property
    def text_columns(self) -> list[bool]:
        """Per column, whether it holds words (set left, as text reads) rather than numbers (set right, so that
        digits line up): a column is numbers when every filled cell starts like one (87.7%, $3.42, ▲ +0.9%)."""
        return [
            not all(_NUMBER_START.match(row[i]) for row in self.rows if i < len(row) and row[i])
            for i in range(len(self.headings))
        ]


_NUMBER_START = re.compile(r"[-+−▲▼=]?\s*[-+]?[$\d.]")


@dataclass
class Chart:
    spec: dict[str, Any]
    label: str
    table: Table
    svg: str = ""  # where the page puts the chart's SVG: a marker that to_html replaces with it (draw_charts)


@dataclass
class CardView:
    card: KpiCard
    overall: KpiResult | None
    value: str
    status: str
    status_class: str
    prior: str
    year_ago: str
    n: str
    notes: list[str]
    trend: Chart | None = None
    breakdowns: list[Chart] = field(default_factory=list)


@dataclass
class DomainView:
    name: str
    anchor: str
    cards: list[CardView]


def csv_uri(headings: list[str], rows: list[list[Any]]) -> str:
    """A CSV file as a data: URI; each cell is made safe from spreadsheet formulas as compute's CSV output is."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headings)
    writer.writerows([[safe_cell(cell) for cell in row] for row in rows])
    return "data:text/csv;charset=utf-8," + quote(buffer.getvalue(), safe="")


def _number(value: float | None) -> str:
    # The CSV keeps full precision, as compute's CSV does; an empty cell is a period without data.
    return "" if value is None else repr(value)


def _slug(text: str, used: set[str]) -> str:
    base = "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-") or "section"
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}-{n}", n + 1
    used.add(slug)
    return slug


def _partial_note(row: KpiResult) -> str:
    """Which of a trend row's values the data covers only in part, in a table cell's few words."""
    parts = (["value: part of the period"] if row.partial and row.value is not None else []) + (
        ["year ago: part of the period"] if row.year_ago and row.year_ago.partial else []
    )
    return "; ".join(parts)


def _trend(card: KpiCard, rows: list[KpiResult], kind: str) -> Chart:
    from civic_kpi.report import ticks
    from civic_kpi.report.charts import trend_spec

    every = kind.replace("_", " ")
    # A value the data covers only in part (the export starts inside its period, or the period is not over) is no
    # point on a line of whole periods: the line leaves a gap there, and the table says why.
    points = [
        {
            "start": row.period.start.isoformat(),
            "value": None if row.partial else row.value,
            "year_ago": row.year_ago.value if row.year_ago and not row.year_ago.partial else None,
        }
        for row in rows
    ]
    missing = [row.period.label for row in rows if row.value is None]
    partial = [row.period.label for row in rows if row.partial and row.value is not None]
    partial_then = [row.period.label for row in rows if row.year_ago and row.year_ago.partial]
    label = (
        f"Trend of {plain(card.name)} by {every}, {rows[0].period.label} to {rows[-1].period.label}"
        + (f", against the target {value_text(card.goal, card.unit, card.decimals)}" if card.goal is not None else "")
        + (
            f", against the target range {value_text(card.band[0], card.unit, card.decimals)} to "
            f"{value_text(card.band[1], card.unit, card.decimals)}"
            if card.band is not None
            else ""
        )
        + ", with the year-ago value dashed"
        + (f"; no data for {', '.join(missing)}" if missing else "")
        + (f"; not drawn, the data covering only part of the period: {', '.join(partial)}" if partial else "")
        + (f"; year-ago value not drawn, covered only in part: {', '.join(partial_then)}" if partial_then else "")
        + "."
    )
    named = [(ticks.epoch_ms(p.start), ticks.label(kind, p)) for p in ticks.choose(kind, [r.period for r in rows])]
    spec = trend_spec(points, goal=card.goal, warn=card.warn, band=card.band, description=label, ticks=named)
    headings = ["Period", "Value", "Year ago", "Target", "Status", "Note"]
    shown = [
        [
            row.period.label,
            value_text(row.value, row.unit, row.decimals),
            value_text(row.year_ago.value if row.year_ago else None, row.unit, row.decimals),
            plain(row.target or ""),
            STATUS_TEXT[row.status],
            _partial_note(row),
        ]
        for row in rows
    ]
    if not any(row[-1] for row in shown):  # a Note column only where a period has one
        headings, shown = headings[:-1], [row[:-1] for row in shown]
    data = [
        [
            row.period.label,
            row.period.start.isoformat(),
            _number(row.value),
            _number(row.year_ago.value if row.year_ago else None),
            _number(card.goal),
            row.status.value,
            "; ".join([*row.partial, *(row.year_ago.partial if row.year_ago else [])]),
        ]
        for row in rows
    ]
    table = Table(
        caption=f"{plain(card.name)} by {every} ({plain(card.unit)})",
        headings=headings,
        rows=shown,
        csv_name=f"{card.id}_trend.csv",
        csv_uri=csv_uri(["period", "period_start", "value", "year_ago_value", "target", "status", "partial"], data),
    )
    return Chart(spec=spec, label=label, table=table)


# Bars drawn per breakdown: more would make a chart taller than a screen (60 categories: 1,320 px) and cost
# vl-convert about 5 ms per bar; the table below the chart lists every group.
MAX_BARS = 20


def _breakdown(card: KpiCard, columns: list[str], rows: list[KpiResult]) -> Chart:
    from civic_kpi.report.charts import breakdown_spec

    ordered = sorted(rows, key=lambda row: (_STATUS_ORDER[row.status], row.group_label))
    dims = ", ".join(plain(column) for column in columns)
    bars = [
        {
            "label": plain(row.group_label),
            "mark": STATUS_TEXT[row.status].split(" ", 1)[0],
            "value": row.value,
            "goal": card.group_goals.get(row.group_label),
            "status": row.status.value,
        }
        for row in ordered[:MAX_BARS]
    ]
    failing = sum(row.status == Status.FAIL for row in ordered)
    label = (
        f"{plain(card.name)} by {dims}: {len(ordered)} groups, {failing} failing, failing groups first"
        + (f" (the first {MAX_BARS} drawn; the table lists all {len(ordered)})" if len(ordered) > MAX_BARS else "")
        + "; the tick is each group's own target."
    )
    spec = breakdown_spec(bars, description=label)
    table = Table(
        caption=f"{plain(card.name)} by {dims} ({plain(card.unit)})",
        headings=[dims, "Value", "Target", "Status", "n"],
        rows=[
            [
                plain(row.group_label),
                value_text(row.value, row.unit, row.decimals),
                plain(row.target or ""),
                STATUS_TEXT[row.status],
                count_text(row),
            ]
            for row in ordered
        ],
        csv_name=f"{card.id}_by_{'_'.join(columns)}.csv",
        csv_uri=csv_uri(
            ["group", "value", "target", "status", "sample_size"],
            [
                [
                    row.group_label,
                    _number(row.value),
                    _number(card.group_goals.get(row.group_label)),
                    row.status.value,
                    "" if row.sample_size is None else row.sample_size,
                ]
                for row in ordered
            ],
        ),
    )
    return Chart(spec=spec, label=label, table=table)


@dataclass
class ProgramView:
    """A program's list as its own section: the Houston monthly review, the Kansas City scorecard."""

    name: str
    anchor: str
    lede: str
    table: Table
    notes: list[str]
    empty: str | None = None  # said instead of the table when it has no row


def _review(run: ReviewRun, anchor: str) -> ProgramView:
    from civic_kpi.report.review import review_csv

    def group(item: Any) -> str:
        return ", ".join(str(v) for k, v in item.group.items() if v is not None and k != run.owner_key)

    def behind(item: Any) -> str:
        if item.numerator is not None and item.denominator is not None:
            return f"{amount(item.numerator)} of {amount(item.denominator)}"
        return f"{item.sample_size:,} answers" if item.sample_size is not None else ""

    rows = [
        [
            plain(item.owner or ""),
            plain(group(item)),
            plain(item.rule),
            value_text(item.value, item.unit, 1 if item.unit == "percent" else 2),
            behind(item),
        ]
        for item in run.items
    ]
    caption = f"Performance review for {run.month.label}"
    return ProgramView(
        name="Monthly performance review",
        anchor=anchor,
        lede=f"{caption}: {len(run.items)} finding(s) in {run.groups_checked} groups; reviews due by "
        f"{run.review_due:%Y-%m-%d} (Houston 311 policy 5.2).",
        table=Table(
            caption=caption,
            headings=["Owner", "Group", "Standard missed", "Value", "Behind it"],
            rows=rows,
            csv_name=f"review_{run.month.label}.csv",
            csv_uri="data:text/csv;charset=utf-8," + quote(review_csv(run), safe=""),
        ),
        notes=[plain(note) for note in run.notes],
        empty=None if rows else "No group fell short of a standard.",
    )


def _scorecard(run: ScorecardRun, anchor: str) -> ProgramView:
    from civic_kpi.report.scorecard import scorecard_csv

    this = run.fiscal_year.label + ("" if run.complete else " YTD")
    rows = [
        [
            plain(row.measure),
            value_text(row.last_year_actual, row.unit, row.decimals),
            plain(row.this_year_target or ""),
            value_text(row.this_year_actual, row.unit, row.decimals),
            STATUS_TEXT[row.status],
            plain(row.next_year_target or ""),
        ]
        for row in run.rows
    ]
    reasons = [f"{plain(row.measure)}: {plain(row.status_reason)}" for row in run.rows if row.status_reason]
    year = run.fiscal_year
    return ProgramView(
        name="Fiscal-year scorecard",
        anchor=anchor,
        lede=f"Measures of success, {year.label} ({year.start} to {year.end}), as Kansas City publishes them.",
        table=Table(
            caption=f"Scorecard {year.label}",
            headings=[
                "Measure",
                f"{run.last_year.label} Actual",
                f"{this} Target",
                f"{this} Actual",
                "Status",
                f"{run.next_year} Target",
            ],
            rows=rows,
            csv_name=f"scorecard_{year.label}.csv",
            csv_uri="data:text/csv;charset=utf-8," + quote(scorecard_csv(run), safe=""),
        ),
        notes=[*reasons, *(plain(note) for note in run.notes)],
    )


def _notes(rows: list[KpiResult]) -> list[str]:
    notes = []
    for row in rows:
        where = "" if not row.group else f" ({plain(row.group_label)})"
        if row.status_reason:
            notes.append(f"{STATUS_TEXT[row.status]}{where}: {plain(row.status_reason)}")
        # A value or a change resting on a period the data covers in part says so, target or not, once per card
        # (coverage is the KPI's, the same for each group; a status resting on it has said it already).
        said = row.status_reason or ""
        for reason in [*row.partial, *(c.partial[0] for c in (row.prior, row.year_ago) if c and c.partial)]:
            note = f"covered in part: {plain(reason)}"
            if reason not in said and note not in notes:
                notes.append(note)
        if row.excluded:
            notes.append(f"{row.excluded:,} records left out{where}: {plain(row.excluded_reason or '')}")
        if row.covers is not None and not row.group:
            notes.append(f"counts {row.covers.label} ({row.covers.start} to {row.covers.end})")
    return notes


def _card(card: KpiCard, board: DashboardRun) -> CardView:
    rows = [row for row in board.run.results if row.kpi_id == card.id]
    overall = next((row for row in rows if not row.group), None)
    trend_rows = [row for row in board.trend.results if row.kpi_id == card.id and not row.group]
    view = CardView(
        card=card,
        overall=overall,
        value=value_text(overall.value, overall.unit, overall.decimals) if overall else "–",
        status=STATUS_TEXT[overall.status] if overall else STATUS_TEXT[Status.NO_DATA],
        status_class=(overall.status if overall else Status.NO_DATA).value.replace("_", "-"),
        prior=change_text(overall) if overall else "–",
        year_ago=change_text(overall, overall.year_ago) if overall else "–",
        n=count_text(overall) if overall else "",
        notes=_notes(rows),
    )
    if trend_rows:
        view.trend = _trend(card, trend_rows, board.trend.every or "month")
    groups: dict[tuple[str, ...], list[KpiResult]] = {}
    for row in rows:
        if row.group:
            groups.setdefault(tuple(row.group), []).append(row)
    view.breakdowns = [_breakdown(card, list(columns), found) for columns, found in groups.items()]
    return view


@dataclass
class PageCharts:
    """The cards of a dashboard page by domain, with their charts being drawn (see `draw_charts`)."""

    domains: dict[str, DomainView]
    anchors: set[str]  # the page's anchors given so far
    drawing: Drawing
    marker: str  # the start of each chart's marker (Chart.svg), "<!--chart TOKEN N-->" for the N-th chart

    def charts(self) -> list[Chart]:
        return _charts(self.domains)


def _charts(domains: dict[str, DomainView]) -> list[Chart]:
    """The page's charts in page order: each card's trend, then its breakdowns."""
    return [
        chart
        for domain in domains.values()
        for view in domain.cards
        for chart in ([view.trend] if view.trend else []) + view.breakdowns
    ]


def draw_charts(board: DashboardRun) -> PageCharts:
    """The page's cards, and their charts' drawing started: from the series and the cards alone (the review and the
    scorecard have no chart), so that a caller can start it before those are computed (Session.dashboard's
    `early`)."""
    used: set[str] = set()
    domains: dict[str, DomainView] = {}
    for card in board.cards:
        if card.domain not in domains:
            domains[card.domain] = DomainView(plain(card.domain), _slug(card.domain, used), [])
        domains[card.domain].cards.append(_card(card, board))
    import secrets

    # A marker no catalog or data text can hold: it is random, and every text of theirs is escaped on the page.
    marker = f"<!--chart {secrets.token_hex(8)} "
    placed = _charts(domains)
    for number, chart in enumerate(placed):
        chart.svg = f"{marker}{number}-->"
    return PageCharts(domains, used, Drawing([chart.spec for chart in placed]), marker)


def to_html(board: DashboardRun, charts: PageCharts | None = None) -> str:
    """The dashboard page, as text (`charts`: drawn already, or being drawn, by `draw_charts` of this board). The
    page is rendered around each chart's marker while the charts are still being drawn, and their SVG is put in
    place last: on the sample the rendering then costs nothing on the way to the finished page. Nothing of `charts`
    changes, so two threads may render the same page."""
    page = charts if charts is not None else draw_charts(board)
    placed = page.charts()
    pieces = _page(board, page).split(page.marker)
    if len(pieces) != len(placed) + 1:
        raise AssertionError(f"the page holds {len(pieces) - 1} chart markers for {len(placed)} charts")
    out = [pieces[0]]
    for number, (piece, svg) in enumerate(zip(pieces[1:], page.drawing.svgs(), strict=True)):
        head, rest = piece.split("-->", 1)
        if head != str(number):
            raise AssertionError(f"chart marker {head} where chart {number} belongs")
        out += [svg, rest]
    return "".join(out)


def _page(board: DashboardRun, page: PageCharts) -> str:
    import jinja2

    run = board.run
    domains, used = page.domains, set(page.anchors)  # the page's own anchors stay as drawn: it may be rendered again
    programs = []
    if board.review is not None:
        programs.append(_review(board.review, _slug("performance review", used)))
    if board.scorecard is not None:
        programs.append(_scorecard(board.scorecard, _slug("scorecard", used)))
    counts = run.counts()
    summary = [(STATUS_TEXT[status], status.value.replace("_", "-"), counts[status.value]) for status in SUMMARY]
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("civic_kpi.report", "templates"),
        autoescape=True,  # every text from the catalog or the data is escaped; only our SVG and CSS are trusted
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["plain"] = lambda text: plain(str(text))
    assets = resources.files("civic_kpi.report") / "templates"
    return environment.get_template("dashboard.html.j2").render(
        title=plain(run.catalog.title),
        span=span_text(run),
        as_of=moment_text(run.as_of) if run.as_of else "no data",
        generated=moment_text(run.generated_at.replace(tzinfo=None)),
        prior_period=run.prior_period.label,
        year_ago_period=run.year_ago_period.label,
        summary=summary,
        domains=list(domains.values()),
        programs=programs,
        notes=[plain(note) for note in run.notes],
        percentiles=plain(run.percentile_definition),
        tool=f"{run.tool} {run.tool_version}",
        css=(assets / "dashboard.css").read_text(encoding="utf-8"),
        script=(assets / "dashboard.js").read_text(encoding="utf-8"),
    )
