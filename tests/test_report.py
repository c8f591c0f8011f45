"""`civic-kpi report`: the dashboard page (issue 13), read back with the standard library's HTML parser.

The page must show what `compute --format json` says for the same period, card by card; keep every chart's data
(a table and a CSV download) equal to the numbers drawn; hold nothing fetched from a server; show hostile text
as text; and draw a month without data as a gap, never as a zero.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from typer.testing import CliRunner

from civic_kpi.cli import app
from tests.conftest import CATALOG, SAMPLE_DATA
from tests.test_kpis_by_hand import sr, write_311

PERIOD = "2026-10"


class Page(HTMLParser):
    """The parts of the dashboard a test reads: each card's fields, headings, links, resource URLs, scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cards: dict[str, dict[str, str]] = {}
        self.card_domain: dict[str, str] = {}
        self.h2: list[str] = []
        self.nav: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._card: str | None = None
        self._field: str | None = None
        self._capture: str | None = None  # "h2", "h3" or "nav"
        self._buffer: list[str] = []
        self._domain = ""
        self._in_nav = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if tag == "nav":
            self._in_nav = True
        if tag == "article" and found.get("data-kpi"):
            self._card = found["data-kpi"]
            self.cards[self._card] = {}
            self.card_domain[self._card] = self._domain
        if self._card and found.get("data-field"):
            self._field = found["data-field"]
            self._buffer = []
            if found.get("data-status"):
                self.cards[self._card]["status-key"] = found["data-status"] or ""
        if tag == "h3" and self._card:
            self._capture, self._buffer = "h3", []
        if tag == "h2":
            self._capture, self._buffer = "h2", []
        if tag == "a" and self._in_nav:
            self._capture, self._buffer = "nav", []

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._buffer).strip()
        if tag == "nav":
            self._in_nav = False
        if self._field and tag in ("p", "dd"):
            assert self._card is not None
            self.cards[self._card][self._field] = text
            self._field = None
        elif self._capture == "h3" and tag == "h3":
            assert self._card is not None
            self.cards[self._card]["name"] = text
            self._capture = None
        elif self._capture == "h2" and tag == "h2":
            self.h2.append(re.sub(r"\s+", " ", text))
            self._domain = self.h2[-1]
            self._capture = None
        elif self._capture == "nav" and tag == "a":
            self.nav.append(text)
            self._capture = None
        if tag == "article":
            self._card = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._field or self._capture:
            self._buffer.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def csv_links(page: Page) -> dict[str, list[dict[str, str]]]:
    """Every CSV download: its file name and its rows, decoded from the data: URI."""
    found = {}
    for tag, attrs in page.tags:
        href = attrs.get("href") or ""
        if tag == "a" and href.startswith("data:"):
            head, _, body = href.partition(",")
            assert head == "data:text/csv;charset=utf-8"
            found[attrs["download"] or ""] = list(csv.DictReader(io.StringIO(unquote(body))))
    return found


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, str, dict]:
    """The bundled sample's dashboard for 2026-10 through the CLI, and compute's JSON for the same period."""
    runner = CliRunner()
    out = tmp_path_factory.mktemp("report") / "dashboard.html"
    result = runner.invoke(app, ["report", "-c", str(CATALOG), "--period", PERIOD, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote the dashboard of 37 KPIs for 2026-10" in result.stderr
    computed = runner.invoke(app, ["compute", "-c", str(CATALOG), "--period", PERIOD, "--format", "json"])
    assert computed.exit_code == 0, computed.output
    return out, out.read_text(encoding="utf-8"), json.loads(computed.stdout)


def test_every_card_shows_what_compute_json_says(sample):
    from civic_kpi.report.formatting import STATUS_TEXT, value_text
    from civic_kpi.results import Status

    _, html, doc = sample
    page = parse(html)
    overall = [r for r in doc["results"] if not r["group"]]
    assert [r["kpi_id"] for r in overall] == list(page.cards)  # every KPI, in catalog order, nothing else
    for record in overall:
        card = page.cards[record["kpi_id"]]
        assert card["name"] == record["name"]
        assert card["value"] == value_text(record["value"], record["unit"], record["decimals"])
        assert card["status-key"] == record["status"]
        assert card["status"] == STATUS_TEXT[Status(record["status"])]
        assert card["target"] == (record["target"] or "none")
    # The same text as the terminal table of this period (read off `civic-kpi compute` by hand).
    by_id = page.cards
    assert by_id["sla_compliance"]["value"] == "87.7%"
    assert by_id["sla_compliance"]["status"] == "✘ fail"
    assert by_id["sla_compliance"]["target"] == ">= 90%"
    assert by_id["sla_compliance"]["prior"] == "▼ -1.4 pp"
    assert by_id["sla_compliance"]["n"] == "872/994"
    assert by_id["first_contact_resolution"]["status"] == "▲ warn"
    assert by_id["first_contact_resolution"]["target"] == ">= 80% (warn >= 70%)"
    assert by_id["cost_per_call"]["value"] == "$3.42"
    assert by_id["open_data_utilization_per_1k"]["value"] == "195.1 per 1k residents"
    assert by_id["calls_handled"]["status"] == "· no target"


def test_header_counts_statuses_and_names_the_periods(sample):
    _, html, doc = sample
    page = parse(html)
    text = re.sub(r"\s+", " ", "".join(page.text))
    counted = {status: sum(r["status"] == status for r in doc["results"]) for status in
               ("pass", "warn", "fail", "no_data", "not_comparable")}  # fmt: skip
    words = {"pass": "✔ pass", "warn": "▲ warn", "fail": "✘ fail", "no_data": "– no data",
             "not_comparable": "≠ not comparable"}  # fmt: skip
    for status, count in counted.items():
        assert f"{count} {words[status]}" in text
    assert sum(counted.values()) > 0
    assert doc["catalog"]["title"] in text
    assert "2026-10 (2026-10-01 to 2026-10-31) · data as of 2026-11-14 16:44:44" in text
    assert "compared with 2026-09 (prior period) and 2025-10 (a year earlier)" in text


def test_a_section_per_domain_in_catalog_order_with_its_kpi_count(sample):
    _, html, doc = sample
    page = parse(html)
    domains: dict[str, set[str]] = {}
    for record in doc["results"]:
        domains.setdefault(record["domain"], set()).add(record["kpi_id"])
    expected = [f"{name} · {len(ids)} KPI{'s' if len(ids) != 1 else ''}" for name, ids in domains.items()]
    programs = ["Monthly performance review", "Fiscal-year scorecard"]  # after the domains (see below)
    assert page.h2 == expected + programs
    assert page.h2[:3] == [
        "311 Customer Service · 6 KPIs",
        "Public Records & Open Data · 6 KPIs",
        "Public Meetings & Engagement · 5 KPIs",
    ]
    assert page.nav == list(domains) + programs
    for record in doc["results"]:
        assert page.card_domain[record["kpi_id"]].startswith(record["domain"] + " ·")
    tags = [tag for tag, _ in page.tags]
    for landmark in ("header", "nav", "main", "footer", "section", "h1"):
        assert landmark in tags
    assert tags.count("h1") == 1


def test_the_page_loads_nothing_from_a_server_and_stays_small(sample):
    path, html, _ = sample
    page = parse(html)
    for tag, attrs in page.tags:
        for name in ("src", "href", "action", "poster", "data", "xlink:href"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), f"<{tag} {name}={value}>"
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
        assert not (tag == "script" and attrs.get("src"))
    assert "@import" not in html and "url(" not in html
    assert "http://" not in html and "https://" not in html
    assert path.stat().st_size < 2_000_000


def test_breakdown_csv_and_table_hold_the_groups_numbers_failing_first(sample):
    _, html, doc = sample
    links = csv_links(parse(html))
    rows = links["sla_compliance_by_priority.csv"]
    groups = {r["group"]["priority"]: r for r in doc["results"] if r["kpi_id"] == "sla_compliance" and r["group"]}
    assert {row["group"] for row in rows} == set(groups)
    for row in rows:
        record = groups[row["group"]]
        assert float(row["value"]) == record["value"]
        assert row["status"] == record["status"]
        assert int(row["sample_size"]) == record["sample_size"]
    # Critical has its own target of 95 (the catalog's by_group), the others the KPI's 90.
    assert {row["group"]: float(row["target"]) for row in rows} == {
        "Critical": 95.0, "High": 90.0, "Low": 90.0, "Standard": 90.0,
    }  # fmt: skip
    statuses = [row["status"] for row in rows]
    assert statuses == sorted(statuses, key=lambda s: s != "fail")  # failing groups first
    assert statuses[0] == "fail" and statuses[-1] == "pass"


def test_trend_csv_ends_with_the_cards_period_and_carries_prior_and_year_ago(sample):
    _, html, doc = sample
    links = csv_links(parse(html))
    record = next(r for r in doc["results"] if r["kpi_id"] == "sla_compliance" and not r["group"])
    rows = links["sla_compliance_trend.csv"]
    assert [row["period"] for row in rows[:2]] == ["2024-11", "2024-12"]
    assert len(rows) == 24 and rows[-1]["period"] == "2026-10"
    assert float(rows[-1]["value"]) == record["value"]
    assert float(rows[-2]["value"]) == record["prior"]["value"]
    assert float(rows[-1]["year_ago_value"]) == record["year_ago"]["value"]
    assert float(rows[-1]["target"]) == 90.0


def test_session_report_returns_and_writes_the_same_page(tmp_path):
    import civic_kpi

    out = tmp_path / "board.html"
    session = civic_kpi.open(CATALOG)
    text = session.report(period=PERIOD, kpis=["reopen_rate"], output=out)
    assert out.read_text(encoding="utf-8") == text
    page = parse(text)
    assert list(page.cards) == ["reopen_rate"]
    assert page.cards["reopen_rate"]["value"] == "3.3%"
    assert page.cards["reopen_rate"]["target"] == "< 5%"


# ---------------------------------------------------------------------------------------------- hand-made data

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
# Quotes and '&' inside the CSV, and '=' starting a cell: a spreadsheet must not run it.
FORMULA = '=HYPERLINK("http://evil","x")'


@pytest.fixture
def hostile_catalog(catalog: Path, data: Path) -> Path:
    write_311(
        data,
        [
            sr("2026-10-05 09:00:00", "2026-10-09 12:00:00", channel=HOSTILE),
            sr("2026-10-06 09:00:00", "2026-10-06 12:00:00", channel=FORMULA),
        ],
    )
    text = catalog.read_text(encoding="utf-8")
    text = text.replace("name: SLA Compliance", f"name: {json.dumps('SLA ' + HOSTILE)}", 1)
    catalog.write_text(text, encoding="utf-8")
    return catalog


def test_hostile_names_stay_text_and_csv_cells_cannot_run(cli, hostile_catalog, tmp_path):
    out = tmp_path / "d.html"
    args = ["report", "-c", hostile_catalog, "--period", PERIOD, "--kpi", "sla_compliance", "--by", "channel"]
    result = cli(*args, "--as-of", "2026-11-01", "-o", out)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    page = parse(html)
    # Only the page's own theme script; no element or handler comes from the data.
    assert [tag for tag, _ in page.tags].count("script") == 1
    assert "img" not in [tag for tag, _ in page.tags]
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert page.cards["sla_compliance"]["name"] == "SLA " + HOSTILE  # still readable, as text
    text = "".join(page.text)
    assert HOSTILE in text  # the group's row in the drill-down table
    assert "<text" in html and '>✘ &lt;script&gt;alert("x")&lt;/script&gt;' in html  # its bar label in the SVG
    rows = csv_links(page)["sla_compliance_by_channel.csv"]
    assert {row["group"] for row in rows} == {HOSTILE, "'" + FORMULA}


def sla_dashboard(cli, catalog: Path, data: Path, tmp_path: Path, days: tuple[tuple[int, int], ...]) -> str:
    """The sla_compliance dashboard of 2026-10 over one request per (month, day) of 2026, each closed three hours
    after it came in (within its 1-day SLA)."""
    write_311(data, [sr(f"2026-{m:02d}-{d:02d} 09:00:00", f"2026-{m:02d}-{d:02d} 12:00:00") for m, d in days])
    out = tmp_path / "d.html"
    args = ["report", "-c", catalog, "--period", PERIOD, "--kpi", "sla_compliance", "--as-of", "2026-11-01"]
    result = cli(*args, "-o", out)
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def test_a_month_without_data_is_a_gap_not_a_zero(cli, catalog, data, tmp_path):
    # Requests in June, July, September and October 2026, none in August: all closed in time (SLA 1 day). The
    # export starts on June 1st, so June is covered whole.
    html = sla_dashboard(cli, catalog, data, tmp_path, ((6, 1), (7, 5), (9, 5), (10, 5)))
    page = parse(html)
    rows = {row["period"]: row for row in csv_links(page)["sla_compliance_trend.csv"]}
    assert len(rows) == 24
    assert [period for period, row in rows.items() if row["value"]] == ["2026-06", "2026-07", "2026-09", "2026-10"]
    assert rows["2026-08"]["value"] == ""  # null, not 0
    assert all(float(rows[p]["value"]) == 100.0 for p in ("2026-06", "2026-07", "2026-09", "2026-10"))
    # The drawn line: two pieces (June-July, September-October), each a move and one line-to; a zero in August
    # would make one piece of four segments.
    value_line = re.findall(r'<path[^>]* d="([^"]*)" stroke="#2f9e5b" stroke-width="2.5"', html)
    assert len(value_line) == 1
    assert value_line[0].count("M") == 2 and value_line[0].count("L") == 2
    # The data table says so too.
    assert "2026-08–" in re.sub(r"<[^>]+>|\s+", "", html[html.index("<caption>SLA") :])[:2000]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--kpi", "no_such_kpi"], "unknown KPI 'no_such_kpi'"),
        (["--domain", "Parks"], "unknown domain 'Parks'"),
        (["--period", "2026-13"], "2026-13"),
        (["--by", "no_such_column"], "no_such_column"),
    ],
)
def test_bad_input_exits_2_and_leaves_the_file_as_it_was(cli, tmp_path, extra, message):
    out = tmp_path / "dashboard.html"
    out.write_text("the old page", encoding="utf-8")
    result = cli("report", "-c", CATALOG, *extra, "-o", out)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert out.read_text(encoding="utf-8") == "the old page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dashboard.html"]  # no temporary file left


def test_output_is_required(cli, tmp_path):
    result = cli("report", "-c", CATALOG)
    assert result.exit_code == 2
    assert "--output" in result.output


# ------------------------------------------------------------------------------------------------------ programs


def _program_rows(html: str, program: str) -> list[list[str]]:
    """The rows of a program section's table, each cell's text."""
    table = html[html.index(f'data-program="{program}">') :]
    table = table[: table.index("</table>")]
    body = table[table.index("<tbody") :]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    cells = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S) for row in rows]
    from html import unescape

    return [[unescape(cell) for cell in row] for row in cells]


def test_houston_review_section_lists_what_review_lists(sample, cli):
    _, html, _ = sample
    result = cli("review", "-c", CATALOG, "--month", PERIOD, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    rows = _program_rows(html, "performance-review")
    assert len(rows) == len(doc["items"]) == 14
    for row, item in zip(rows, doc["items"], strict=True):
        assert row[0] == (item["owner"] or "")
        assert row[2] == item["rule"]
    assert rows[0] == ["Animal Services", "Dead Animal Pickup", "on-time performance under 90%", "89.5%", "17 of 19"]
    assert "reviews due by 2026-11-15" in html
    assert '<a href="#performance-review">Monthly performance review</a>' in html  # in the menu


def test_kansas_city_scorecard_section_shows_what_scorecard_shows(sample, cli):
    _, html, _ = sample
    result = cli("scorecard", "-c", CATALOG, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    rows = _program_rows(html, "scorecard")
    assert [row[0] for row in rows] == [r["measure"] for r in doc["rows"]]
    words = {"pass": "✔ pass", "warn": "▲ warn", "fail": "✘ fail", "no_data": "– no data",
             "not_comparable": "≠ not comparable", "no_target": "· no target"}  # fmt: skip
    assert [row[4] for row in rows] == [words[r["status"]] for r in doc["rows"]]
    # Read off `civic-kpi scorecard` by hand: FY2025 89.6%, FY2026 target >= 90%, actual 87.4%, FY2027 >= 92%.
    assert rows[0] == ["SLA Compliance", "89.6%", ">= 90%", "87.4%", "✘ fail", ">= 92%"]
    links = csv_links(parse(html))
    assert [r["measure"] for r in links["scorecard_FY2026.csv"]] == [r["measure"] for r in doc["rows"]]


def test_no_scorecard_without_fiscal_year_targets_and_no_review_for_a_quarter(tmp_path):
    import civic_kpi

    session = civic_kpi.open(CATALOG)
    board = session.dashboard(period="2026-Q3", kpis=["reopen_rate"])  # reopen_rate has no target.by_period
    assert board.review is None and board.scorecard is None
    assert board.run.period.label == "2026-Q3"
    assert [r.period.label for r in board.trend.results][-1] == "2026-09"
    assert len(board.trend.results) == 24


def test_every_quarter_draws_the_series_and_the_cards_show_its_last_quarter():
    import civic_kpi

    session = civic_kpi.open(CATALOG)
    board = session.dashboard(period="FY2026", every="quarter", kpis=["reopen_rate"])
    # FY2026 runs July 2025 to June 2026 (fiscal_year_start_month: 7): four calendar quarters.
    assert [r.period.label for r in board.trend.results] == ["2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"]
    assert board.run.period.label == "2026-Q2"
    assert board.run.results[0].value == board.trend.results[-1].value
    single = session.compute("2026-Q2", kpis=["reopen_rate"])
    assert board.run.results[0].value == single.results[0].value


def test_words_are_set_left_and_numbers_right_in_every_table(sample):
    # The review's owner, group and standard are words; its value and "behind it" are numbers, which line up right.
    _, html, _ = sample
    table = html[html.index('data-program="performance-review"') :]
    head = re.search(r"<thead[^>]*><tr[^>]*>(.*?)</tr></thead>", table, re.S).group(1)
    aligned = re.findall(r'<th scope="col" role="columnheader"( class="text")?>([^<]*)</th>', head)
    assert [(name, bool(text)) for text, name in aligned] == [
        ("Owner", True),
        ("Group", True),
        ("Standard missed", True),
        ("Value", False),
        ("Behind it", False),
    ]
    assert (
        '<td role="cell" data-label="Group" class="text">Dead Animal Pickup</td><td role="cell" '
        'data-label="Standard missed" class="text">on-time performance under 90%</td><td role="cell" '
        'data-label="Value">89.5%</td>' in (re.sub(r"\s+", " ", table))
    )
    assert "td.text, th.text { text-align: left; }" in html


# ------------------------------------------------------------------------------------- one run, drawn cheaply


def test_the_dashboard_is_one_series_read_once_and_its_cards_are_its_last_month(monkeypatch):
    """The page is built from one `compute --every month` run over the 24 months (breakdowns included), with the
    review and the scorecard at the same moment: three runs of the engine, and the data's moment found once."""
    import civic_kpi
    from civic_kpi.engine import polars_executor

    runs, spans = [], []
    execute, span = polars_executor.PolarsExecutor.execute, polars_executor.catalog_span

    def counted_execute(self, plan):
        runs.append((plan.period.label, plan.request.every))
        return execute(self, plan)

    def counted_span(*args, **kwargs):
        spans.append(1)
        return span(*args, **kwargs)

    monkeypatch.setattr(polars_executor.PolarsExecutor, "execute", counted_execute)
    monkeypatch.setattr(polars_executor, "catalog_span", counted_span)
    # engine/compute.py imported it by name (the package's `compute` is the function, hence import_module).
    monkeypatch.setattr(importlib.import_module("civic_kpi.engine.compute"), "catalog_span", counted_span)
    session = civic_kpi.open(CATALOG)
    board = session.dashboard()
    assert runs == [("2024-11-01..2026-10-31", "month"), ("2026-10", None), ("FY2026", None)]
    assert len(spans) == 1
    assert board.run.period.label == "2026-10" and board.run.every is None
    assert board.run.as_of == board.trend.as_of == board.scorecard.as_of

    series = session.compute("2024-11-01..2026-10-31", every="month")
    last = [r for r in series.results if r.period.label == "2026-10"]
    assert [r.model_dump() for r in board.run.results] == [r.model_dump() for r in last]
    # The page draws no group of an earlier month, so the series judges none: its groups are the cards' month's.
    shown = [r for r in series.results if not r.group or r.period.label == "2026-10"]
    assert [r.model_dump() for r in board.trend.results] == [r.model_dump() for r in shown]
    assert board.run.prior_period.label == "2026-09" and board.run.year_ago_period.label == "2025-10"


def test_the_stored_chart_templates_are_what_altair_builds_today():
    # The package ships the Vega templates compiled (report/templates/charts.vega.json) so that a report does not
    # import Altair; if this fails, run `python -m civic_kpi.report.chart_templates` and commit the file.
    from civic_kpi.report import chart_templates

    assert chart_templates.text(chart_templates.build()) == chart_templates.text(chart_templates.stored())


def _axis_labels(svg: str) -> list[str]:
    """The time axis's labels of a drawn trend chart: the texts that are no number."""
    texts = [unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
    return [text for text in texts if not re.fullmatch(r"[−\-\d.,%$]+", text)]


@pytest.mark.parametrize(
    ("kind", "periods", "named"),
    [
        # 24 months name January and July: 8 quarter-months at 11 px would overlap on a 320 px plot.
        (
            "month",
            [(2024 + (10 + m) // 12, (10 + m) % 12 + 1) for m in range(24)],
            ["Jan 25", "Jul 25", "Jan 26", "Jul 26"],
        ),
        ("month", [(2025, m) for m in range(1, 13)], ["Jan 25", "Apr 25", "Jul 25", "Oct 25"]),
        ("month", [(2025, m) for m in range(2, 7)], ["Feb 25", "Mar 25", "Apr 25", "May 25", "Jun 25"]),  # 5 fit
        ("month", [(2025, 2), (2025, 3)], ["Feb 25", "Mar 25"]),
        ("month", [(2025, 2)], ["Feb 25"]),
        ("quarter", [(2025, 7), (2025, 10), (2026, 1), (2026, 4)], ["Q3 25", "Q4 25", "Q1 26", "Q2 26"]),
        (
            "quarter",
            [(2021 + q // 4, q % 4 * 3 + 1) for q in range(12)],
            ["Q1 21", "Q3 21", "Q1 22", "Q3 22", "Q1 23", "Q3 23"],
        ),
        ("year", [(y, 1) for y in range(2015, 2027)], ["2016", "2018", "2020", "2022", "2024", "2026"]),
        # Named for the year they end in: May 2015 to April 2016 is FY16.
        ("fiscal_year", [(y, 5) for y in range(2015, 2026)], ["FY16", "FY18", "FY20", "FY22", "FY24", "FY26"]),
        ("fiscal_year", [(y, 5) for y in range(2023, 2026)], ["FY24", "FY25", "FY26"]),
    ],
)
def test_the_time_axis_names_round_periods_that_fit_side_by_side(kind, periods, named):
    from datetime import date

    from civic_kpi.report import ticks
    from civic_kpi.time.periods import period_starting

    series = [period_starting(kind, date(y, m, 1), 5) for y, m in periods]
    assert [ticks.label(kind, p) for p in ticks.choose(kind, series)] == named


def test_a_trend_chart_names_the_chosen_periods_and_reads_the_same_in_every_time_zone():
    # The starts are dates, read as midnight UTC. Drawn on a local time scale in Chicago, each point sat on the
    # evening before its month and the axis lost "Oct 26" (its tick fell after the last point): the scale is UTC.
    from civic_kpi.report import charts

    rows = [{"start": f"{2024 + (10 + m) // 12}-{(10 + m) % 12 + 1:02d}-01", "value": float(m), "year_ago": None}
            for m in range(24)]  # fmt: skip
    starts = ["2025-01-01", "2025-07-01", "2026-01-01", "2026-07-01"]
    named = [(int(datetime.fromisoformat(f"{s}T00:00+00:00").timestamp() * 1000), f"label {s}") for s in starts]
    spec = charts.trend_spec(rows, goal=5.0, warn=None, description="d", ticks=named)
    script = "import json, sys; from civic_kpi.report import charts; print(charts._draw(json.load(sys.stdin)))"
    drawn = {
        zone: subprocess.run([sys.executable, "-c", script], input=json.dumps(spec), capture_output=True,
                             text=True, check=True, env={**os.environ, "TZ": zone}).stdout
        for zone in ("UTC", "America/Chicago", "Asia/Tokyo")
    }  # fmt: skip
    assert _axis_labels(drawn["UTC"]) == [f"label {s}" for s in starts]
    assert drawn["America/Chicago"] == drawn["UTC"] == drawn["Asia/Tokyo"]
    # Without ticks Vega chooses its own, in UTC too: the last month keeps its label.
    vega_chosen = charts._draw(charts.trend_spec(rows, goal=5.0, warn=None, description="d"))
    assert "Oct 26" in _axis_labels(vega_chosen)


def test_every_quarter_names_its_quarters_on_the_page(cli, tmp_path):
    out = tmp_path / "q.html"
    result = cli("report", "-c", CATALOG, "--period", "FY2026", "--every", "quarter", "--kpi", "reopen_rate", "-o", out)
    assert result.exit_code == 0, result.output
    svg = out.read_text(encoding="utf-8")
    svg = svg[svg.index("<svg ") : svg.index("</svg>")]
    assert _axis_labels(svg) == ["Q3 25", "Q4 25", "Q1 26", "Q2 26"]


def test_a_long_group_name_is_cut_at_a_word_and_two_cut_alike_stay_apart():
    from civic_kpi.report.charts import LABEL_CHARACTERS, short_label

    used: set[str] = set()
    assert short_label("Streets", "✔", used) == "✔ Streets"
    long = "Opportunity to engage and provide input into decisions made by the city"
    cut = short_label(long, "·", used)
    assert cut == "· Opportunity to engage and provide…"
    assert len(cut[2:]) <= LABEL_CHARACTERS
    again = short_label(long.replace("city", "county"), "·", used)
    assert again == "· Opportunity to engage and provide… [2]"  # one bar each, not one for both
    assert short_label("x" * 50, "✘", used) == "✘ " + "x" * (LABEL_CHARACTERS - 1) + "…"  # no space: cut
    assert short_label("(missing)", "✘", used) == "✘ (missing)"
    assert short_label("(missing)", "✘", used) == "✘ (missing) [2]"  # a null and a literal "(missing)"
    assert short_label("Foo 2", "✘", used) == "✘ Foo 2"  # a real name never collides with a [2]
    assert short_label("  ", "✔", used) == "✔ (blank)"


def test_a_breakdown_draws_its_first_20_groups_and_its_table_lists_all(cli, catalog, data, tmp_path):
    # 25 channels with long names, one request each in October 2026; the odd ones closed late (SLA: 1 day).
    channels = [f"Channel {n:02d} of the city's very long list of intake channels" for n in range(25)]
    write_311(
        data,
        [
            sr("2026-10-05 09:00:00", "2026-10-08 12:00:00" if n % 2 else "2026-10-05 12:00:00", channel=name)
            for n, name in enumerate(channels)
        ],
    )
    out = tmp_path / "d.html"
    args = ["report", "-c", catalog, "--period", PERIOD, "--kpi", "sla_compliance", "--by", "channel"]
    result = cli(*args, "--as-of", "2026-11-01", "-o", out)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    rows = csv_links(parse(html))["sla_compliance_by_channel.csv"]
    assert len(rows) == 25 and {row["group"] for row in rows} == set(channels)
    figure = html[html.index("SLA Compliance by channel: 25 groups") :]
    figure = figure[: figure.index("</svg>")]
    assert figure.startswith("SLA Compliance by channel: 25 groups, 12 failing, failing groups first (the first 20 "
                             "drawn; the table lists all 25)")  # fmt: skip
    bar_labels = re.findall(r"<text[^>]*>(. Channel \d\d of the city[^<]*)</text>", figure)
    assert len(bar_labels) == 20
    # Failing first: the 12 late ones (odd numbers), then the first 8 on time; each label cut at a word.
    assert bar_labels[0] == "✘ Channel 01 of the city's very…"
    assert sum(label.startswith("✘ ") for label in bar_labels) == 12
    assert bar_labels[-1] == "✔ Channel 14 of the city's very…"


def test_a_period_the_data_covers_in_part_is_no_point_on_the_line_and_the_table_says_so(cli, catalog, data, tmp_path):
    # The export starts on 2026-07-16: July is covered from its 16th (16 of 31 days), August to October whole.
    html = sla_dashboard(cli, catalog, data, tmp_path, ((7, 16), (8, 5), (9, 5), (10, 5)))
    rows = {row["period"]: row for row in csv_links(parse(html))["sla_compliance_trend.csv"]}
    assert rows["2026-07"]["value"] == "100.0"  # the number stays in the data, with why it is partial
    assert rows["2026-07"]["partial"] == (
        "the period 2026-07 is covered only from 2026-07-16 (16 of 31 days) in dataset service_requests"
    )
    assert [p for p, row in rows.items() if row["partial"]] == ["2026-07"]
    assert "not drawn, the data covering only part of the period: 2026-07." in html
    # The drawn line: August to October only, one piece of three points (two line-tos).
    value_line = re.findall(r'<path[^>]* d="([^"]*)" stroke="#2f9e5b" stroke-width="2.5"', html)
    assert len(value_line) == 1 and value_line[0].count("M") == 1 and value_line[0].count("L") == 2
    table = unescape(re.sub(r"<[^>]+>|\s+", " ", html[html.index("<caption>SLA Compliance by month") :]))
    assert "2026-07 100.0% – >= 90% ✔ pass value: part of the period" in re.sub(r" +", " ", table)


def test_a_between_target_is_a_shaded_range_between_two_lines(cli, catalog, data, tmp_path):
    # 4 requests a month, June to October 2026, 3 closed within a day (75%) and 1 late: 75% every month, inside a
    # target range of 70% to 80%.
    requests = []
    for month in (6, 7, 8, 9, 10):
        for day, closed in ((1, 1), (2, 2), (3, 3), (4, 9)):
            requests.append(sr(f"2026-{month:02d}-0{day} 09:00:00", f"2026-{month:02d}-0{closed} 12:00:00"))
    write_311(data, requests)
    text = catalog.read_text(encoding="utf-8")
    old = "    target:\n      at_least: 90\n      text: ≥ 90% overall; critical classes ≥ 95%\n"
    assert old in text
    text = text.replace(old, "    target:\n      between: [70, 80]\n      text: between 70% and 80%\n", 1)
    catalog.write_text(text.replace("          Critical: {at_least: 95}", "          Critical: {between: [70, 80]}"))
    out = tmp_path / "d.html"
    args = ["report", "-c", catalog, "--period", PERIOD, "--kpi", "sla_compliance", "--by", "", "--as-of", "2026-11-01"]
    result = cli(*args, "-o", out)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert parse(html).cards["sla_compliance"]["value"] == "75.0%"
    assert "against the target range 70.0% to 80.0%" in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    # The two dashed target lines and the shaded range between them, in the goal's color.
    rules = re.findall(r'<line[^>]*stroke="#d9822b"[^>]*stroke-dasharray="6,3"', svg)
    assert len(rules) == 2
    assert len(re.findall(r'<path[^>]*fill="#d9822b" opacity="0.12"', svg)) == 1
    assert '<span class="key key-goal"></span> target' in html


def test_a_dataset_the_chosen_kpis_do_not_read_may_be_unreadable_as_for_compute(cli, tmp_path):
    # The public-records export is gone: compute --kpi of a 311 KPI does not need it, and neither does report
    # (the data's moment is found over the datasets the chosen KPIs read).
    shutil.copytree(SAMPLE_DATA, tmp_path / "sample_data")
    shutil.copy(CATALOG, tmp_path / "kpi_definitions.yaml")
    (tmp_path / "sample_data" / "records" / "public_records_requests.csv").unlink()
    catalog = tmp_path / "kpi_definitions.yaml"
    for kpi in ("first_contact_resolution", "sla_compliance"):  # sla_compliance also makes the scorecard
        computed = cli("compute", "-c", catalog, "--kpi", kpi, "-f", "json")
        assert computed.exit_code == 0, computed.output
        result = cli("report", "-c", catalog, "--kpi", kpi, "-o", tmp_path / "d.html")
        assert result.exit_code == 0, result.output
        assert f"wrote the dashboard of 1 KPIs for {json.loads(computed.stdout)['period']['label']}" in result.stderr
    # A KPI that reads it says which file is missing, as compute does.
    result = cli("report", "-c", catalog, "--kpi", "records_on_time", "-o", tmp_path / "d.html")
    assert result.exit_code == 2 and "public_records_requests.csv" in result.stderr


def test_a_data_folder_that_does_not_exist_is_named_as_compute_names_it(cli, tmp_path):
    result = cli("report", "-c", CATALOG, "-d", tmp_path / "nowhere", "-o", tmp_path / "d.html")
    assert result.exit_code == 2
    assert "data directory not found" in result.stderr and not (tmp_path / "d.html").exists()


def test_every_month_without_a_period_draws_the_24_months_as_the_default_does():
    import civic_kpi

    session = civic_kpi.open(CATALOG)
    board = session.dashboard(every="month", kpis=["reopen_rate"])
    assert board.trend.period.label == "2024-11-01..2026-10-31" and len(board.trend.results) == 24
    assert board.run.period.label == "2026-10"


def test_a_card_says_once_when_a_change_rests_on_a_period_covered_in_part(cli, tmp_path):
    # survey_satisfaction (no target) counts the fiscal year to date; the survey export starts in 2024-11, so the
    # year-ago value of 2025-11 (FY2025 to date, July to November 2024) is covered in 1 of its 5 months: the card
    # shows a change against it and must say so, once, though each of its groups rests on the same part.
    out = tmp_path / "d.html"
    result = cli("report", "-c", CATALOG, "-p", "2025-11", "--kpi", "survey_satisfaction", "-o", out)
    assert result.exit_code == 0, result.output
    notes = re.findall(r"<li>(covered in part[^<]*)</li>", out.read_text(encoding="utf-8"))
    assert notes == [
        "covered in part: the year-ago period 2024-11 is covered only from 2024-11-01 (1 of 5 months) in dataset "
        "resident_survey"
    ]


def test_the_drawing_thread_draws_the_charts_and_the_page_is_the_same():
    # report hands a page's charts to a thread of their own, a few at a time (vl-convert lets go of the GIL while
    # it draws): the SVGs come back in order, the same as drawn one by one here (a count that is not a multiple
    # of the chunk: the last chunk is short).
    from civic_kpi.report import charts

    specs = [
        charts.trend_spec(
            [{"start": f"2026-{m:02d}-01", "value": float(m * n), "year_ago": None} for m in range(1, 7)],
            goal=float(n),
            warn=None,
            description=f"chart {n}",
        )
        for n in range(10)
    ]
    assert len(specs) % charts.CHUNK
    charts.prepare()
    assert charts._shared_pool() is not None
    drawing = charts.Drawing(specs)
    assert len(drawing.tasks) == -(-len(specs) // charts.CHUNK)  # every chart sent before any is asked for
    shared = drawing.svgs()
    assert shared == [charts._draw(spec) for spec in specs]
    assert len(set(shared)) == len(specs)  # each its own chart, in its place


def test_report_draws_its_charts_on_the_drawing_thread(cli, monkeypatch, tmp_path):
    # The CLI's report starts the drawing thread before compute reads the data; every chart is drawn there, none on
    # the thread that computes.
    import threading

    from civic_kpi.report import charts

    real, drawn_on = charts._draw, []
    monkeypatch.setattr(charts, "_draw", lambda spec: (drawn_on.append(threading.current_thread().name), real(spec))[1])
    result = cli("report", "-c", CATALOG, "-p", PERIOD, "--kpi", "reopen_rate", "-o", tmp_path / "d.html")
    assert result.exit_code == 0, result.output
    assert drawn_on and all(name.startswith("civic-kpi-charts") for name in drawn_on), drawn_on


def test_one_drawing_thread_however_many_threads_start_it(monkeypatch):
    import threading

    from civic_kpi.report import charts

    def drawing_threads() -> set[int]:
        return {t.ident or 0 for t in threading.enumerate() if t.name.startswith("civic-kpi-charts")}

    before = drawing_threads()
    monkeypatch.setattr(charts, "_pool", None)
    warm = charts._warm_spec
    monkeypatch.setattr(charts, "_warm_spec", lambda: (time.sleep(0.1), warm())[1])  # a slow start, for a race
    started = threading.Barrier(4)
    threads = [threading.Thread(target=lambda: (started.wait(), charts.prepare())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert charts._shared_pool() is not None
    assert len(drawing_threads() - before) == 1


def test_a_report_made_while_the_interpreter_shuts_down_draws_its_own_charts(tmp_path):
    # A thread that makes its first report after the main thread returned can start no drawing thread any more: it
    # draws the charts itself.
    code = f"""
import threading, time, civic_kpi
session = civic_kpi.open({str(CATALOG)!r})
session.compute({PERIOD!r}, kpis=["reopen_rate"])  # what it imports, imported before the main thread returns
def late():
    time.sleep(0.5)
    session.report({PERIOD!r}, kpis=["reopen_rate"], output={str(tmp_path / "d.html")!r})
threading.Thread(target=late).start()
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert (tmp_path / "d.html").read_text(encoding="utf-8").count("<svg") >= 1


def test_charts_still_queued_when_the_process_leaves_are_not_drawn(tmp_path):
    # A page that failed (or a Ctrl-C) after its charts were sent: the interpreter would join the drawing thread,
    # which would first draw every chart still queued. They are dropped: only those already begun are drawn.
    drawn = tmp_path / "drawn"
    code = f"""
import pathlib, civic_kpi.report.charts as charts
real = charts._draw
def counted(spec):
    with pathlib.Path({str(drawn)!r}).open("a") as log:
        log.write("x")
    return real(spec)
charts._draw = counted
charts.prepare()
charts.Drawing([charts.trend_spec([], goal=1.0, warn=None, description=str(n)) for n in range(90)])
"""
    from civic_kpi.report import charts

    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert 0 < len(drawn.read_text()) <= 1 + charts.CHUNK  # the warming chart and the chunk begun, at most


def test_the_charts_are_started_before_the_review_and_the_scorecard_are_computed(monkeypatch):
    # The charts need only the series and the cards: `early` hands the page over before the programs are computed,
    # so that their drawing overlaps them; the page it hands over is the one finally drawn, without the programs.
    import civic_kpi

    said: list[object] = []
    for program in ("review", "scorecard"):
        method = getattr(civic_kpi.Session, program)
        monkeypatch.setattr(
            civic_kpi.Session,
            program,
            lambda self, *a, _m=method, _p=program, **k: (said.append(_p), _m(self, *a, **k))[1],
        )
    board = civic_kpi.open(CATALOG).dashboard(PERIOD, early=said.append)
    early = said[0]
    assert said[1:] == ["review", "scorecard"]
    assert early.review is None and early.scorecard is None
    assert (early.run, early.trend, early.cards) == (board.run, board.trend, board.cards)
    assert board.review is not None and board.scorecard is not None


def test_a_forked_child_does_not_wait_on_the_charts_it_inherited():
    # A child forked after the charts were sent inherits their futures but not the thread that finishes them: it
    # must not wait on them (it would for ever). The fork is simulated: vl-convert itself cannot draw in a child
    # forked after it drew (see charts.prepare), which is why a report is not made there.
    from civic_kpi.report import charts

    waited: list[int] = []

    class Inherited:
        def result(self) -> list[str]:
            waited.append(1)
            return []

    specs = [charts.trend_spec([], goal=None, warn=None, description=str(n)) for n in range(8)]
    drawing = charts.Drawing(specs)
    drawing.tasks = {start: Inherited() for start in range(0, len(specs), charts.CHUNK)}
    drawing.pid += 1  # as in a child forked after the drawing began
    assert drawing.svgs() == [charts._draw(spec) for spec in specs] and not waited


def test_a_page_rendered_twice_from_one_drawing_is_the_same_page():
    import civic_kpi
    from civic_kpi.report.html import draw_charts, to_html

    board = civic_kpi.open(CATALOG).dashboard(PERIOD, kpis=["reopen_rate", "sla_compliance"])
    page = draw_charts(board)
    first = to_html(board, page)
    assert to_html(board, page) == first == to_html(board)
    assert 'href="#performance-review"' in first
    # The page is rendered around a marker per chart while they are drawn; each SVG lands in its own figure.
    drawn = page.drawing.svgs()
    assert re.findall(r'<div class="plot"[^>]*>(<svg.*?</svg>)</div>', first, re.S) == drawn
    assert len(drawn) == len(set(drawn)) > 2 and "<!--chart" not in first
    # Rendering changes nothing of the drawn page: two threads (a web app's) may render it at once.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as threads:
        assert set(threads.map(lambda _: to_html(board, page), range(8))) == {first}


def test_another_process_leaves_the_pool_alone_and_the_library_draws_on_a_thread(monkeypatch, tmp_path):
    import os

    import civic_kpi
    from civic_kpi.report import charts

    # A child forked after prepare inherits the pool but not its thread: waiting on it would hang for ever. The
    # pool of another process id (an object that would fail if used) is not used.
    monkeypatch.setattr(charts, "_pool", (os.getpid() + 1, object()))
    specs = [charts.trend_spec([], goal=None, warn=None, description=str(n)) for n in range(8)]
    assert charts.svgs(specs) == [charts._draw(spec) for spec in specs]
    # Session.report starts its own drawing thread, as the CLI does, and no process (which would import the caller's
    # script again).
    monkeypatch.setattr(charts, "_pool", None)
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    before = set(children.read_text().split())
    civic_kpi.open(CATALOG).report(PERIOD, kpis=["reopen_rate"], output=tmp_path / "d.html")
    assert charts._shared_pool() is not None
    assert set(children.read_text().split()) <= before
