"""Text from the data never acts on the reader (issue 12).

Exports are written by other systems and catalogs by other people; a request type, a channel or a KPI name is
shown to whoever runs a report. In the terminal it must not move the cursor, recolor the screen, ring the bell,
plant a hyperlink or reorder what is seen; in a Markdown page it must not become HTML, a link, a tracking image,
emphasis, a code span or an extra table column. It is still shown, as the text it is.

Every test writes one hostile value into hand-made exports (or the catalog) and renders it through the real CLI.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from civic_kpi.report.formatting import markdown_cell, plain
from tests.conftest import write_csv
from tests.test_kpis_by_hand import SLA_TABLE, sr, write_311

# Each part is a different way text can act: raw HTML and an event handler, a link, a tracking image, a table
# pipe, a code span, emphasis, a backslash that would eat the next escape, Rich markup, an SGR color, a clear
# screen, the bell, an OSC 8 hyperlink, a carriage return that overwrites the line, a right-to-left override,
# a C1 control (CSI) and a newline that would end a Markdown row.
HOSTILE = (
    "<img src=x onerror=alert(1)> [click](http://evil) ![x](http://evil/track.png) a|b `c` *e* _u_ ~~s~~ "
    "back\\slash [red]markup[/red] \x1b[5;45mBLINK\x1b[0m \x1b[2J bell\x07 \x1b]8;;http://evil\x07link\x1b]8;;\x07 "
    "over\rwrite \u202eesrever c1\x9b\nnext line"
)
HOSTILE_BYTES = ["\x1b[5;45m", "\x1b[2J", "\x1b]", "\x07", "\r", "\u202e", "\x9b"]
VISIBLE = plain(HOSTILE)  # what the reader should still be able to read, in order
PERIOD = "2026-10"
SGR = re.compile(r"\x1b\[[0-9;]*m")  # Rich's own colors and weights


@pytest.fixture
def hostile_data(data: Path) -> Path:
    """A 311 export whose channel, request type and status carry HOSTILE; the hostile type misses its SLA, so the
    monthly review lists it, and its status is not an allowed one, so `check` quotes it."""
    write_311(
        data,
        [
            sr("2026-10-05 09:00:00", "2026-10-09 12:00:00", channel=HOSTILE, rtype=HOSTILE),
            sr("2026-10-06 09:00:00", "2026-10-06 12:00:00"),
            sr("2026-10-07 09:00:00", None, status=HOSTILE),
        ],
    )
    write_csv(
        data / "reference" / "sla_by_type.csv",
        ["request_type", "category", "agency", "sla_days", "day_type", "explanation"],
        [*SLA_TABLE, [HOSTILE, "Streets", "Public Works", 1, "calendar", ""]],
    )
    return data


@pytest.fixture
def hostile_catalog(catalog: Path, hostile_data: Path) -> Path:
    """The catalog's title, a domain and a KPI name carrying HOSTILE too: a catalog is text someone else wrote.
    A JSON string is a YAML double-quoted string, escapes included."""
    text = catalog.read_text(encoding="utf-8")
    text = text.replace("title: Sample City civic KPIs", f"title: {json.dumps('City ' + HOSTILE)}", 1)
    text = text.replace("name: SLA Compliance", f"name: {json.dumps('SLA ' + HOSTILE)}", 1)
    catalog.write_text(text, encoding="utf-8")
    return catalog


def _compute(cli, catalog: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    args = ["compute", "-c", catalog, "--period", PERIOD, "--kpi", "sla_compliance", "--by", "channel", *extra]
    result = cli(*args, env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _review(cli, catalog: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    result = cli("review", "-c", catalog, "--month", PERIOD, *extra, env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _scorecard(cli, catalog: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    result = cli("scorecard", "-c", catalog, "-y", "FY2027", "--kpi", "sla_compliance", *extra, env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def _column(table: str, index: int) -> str:
    """One column of a Rich box table, its wrapped lines joined and all spaces dropped, so that a value folded
    over several lines reads as one string again."""
    cells = [line.split("│")[index] for line in table.splitlines() if line.count("│") > index]
    return re.sub(r"\s+", "", "".join(cells))


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ------------------------------------------------------------------------ the terminal gets no control characters

COLOR = {"off": {"NO_COLOR": "1"}, "on": {"FORCE_COLOR": "1"}}


def _assert_terminal_safe(out: str, color: str) -> None:
    for sequence in HOSTILE_BYTES:
        assert sequence not in out
    if color == "off":
        assert "\x1b" not in out
    else:
        # Colors stay on (the run is colored), but the only escapes are the SGR codes Rich writes itself.
        assert SGR.search(out)
        assert "\x1b" not in SGR.sub("", out)


@pytest.mark.parametrize("color", COLOR)
def test_compute_table_shows_a_hostile_group_as_text(cli, catalog, hostile_data, color):
    out = _compute(cli, catalog, env=COLOR[color])
    _assert_terminal_safe(out, color)
    assert _squash(VISIBLE) in _column(SGR.sub("", out), 2)


@pytest.mark.parametrize("color", COLOR)
def test_compute_table_shows_a_hostile_catalog_title_and_kpi_name_as_text(cli, hostile_catalog, color):
    out = _compute(cli, hostile_catalog, env=COLOR[color])
    _assert_terminal_safe(out, color)
    text = SGR.sub("", out)
    assert _squash("SLA " + VISIBLE) in _column(text, 1)
    assert _squash("City " + VISIBLE) in _squash(text.split(" · ")[0])


@pytest.mark.parametrize("color", COLOR)
def test_review_table_shows_a_hostile_request_type_as_text(cli, catalog, hostile_data, color):
    out = _review(cli, catalog, env=COLOR[color])
    _assert_terminal_safe(out, color)
    assert _squash(VISIBLE) in _column(SGR.sub("", out), 2)


@pytest.mark.parametrize("color", COLOR)
def test_scorecard_table_shows_a_hostile_catalog_as_text(cli, hostile_catalog, color):
    out = _scorecard(cli, hostile_catalog, env=COLOR[color])
    _assert_terminal_safe(out, color)
    assert _squash("SLA " + VISIBLE) in _column(SGR.sub("", out), 1)


@pytest.mark.parametrize("color", COLOR)
def test_check_table_quotes_a_hostile_value_as_text(cli, catalog, hostile_data, color):
    write_csv(hostile_data / "reference" / "neighborhoods.csv", ["neighborhood"], [["Downtown"]])
    result = cli("check", "-c", catalog, "--dataset", "service_requests", "--fail-on", "never", env=COLOR[color])
    assert result.exit_code == 0, result.stderr
    _assert_terminal_safe(result.stdout, color)
    # The example row quotes the status as it is, on one line after the table.
    assert _squash(VISIBLE) in _squash(SGR.sub("", result.stdout))


@pytest.mark.parametrize("color", COLOR)
def test_kpi_list_shows_a_hostile_kpi_name_as_text(cli, hostile_catalog, color):
    result = cli("list", "-c", hostile_catalog, env=COLOR[color])
    assert result.exit_code == 0, result.stderr
    _assert_terminal_safe(result.stdout, color)
    assert _squash("SLA " + VISIBLE) in _column(SGR.sub("", result.stdout), 2)


@pytest.mark.parametrize("color", COLOR)
def test_inspect_shows_hostile_names_and_examples_as_text(cli, tmp_path, color):
    # inspect shows a file before any catalog reads it: its header and examples are the rawest text the tool prints.
    short = "\x1b[5mBLINK\x07 \x1b[2J \u202eesrever"  # no ';' or ',': the file stays one comma-separated table
    export = write_csv(tmp_path / "export.csv", ["id", f"note {short}"], [[1, short], [2, "ok"]])
    result = cli("inspect", export, env=COLOR[color])
    assert result.exit_code == 0, result.stderr
    _assert_terminal_safe(result.stdout, color)
    assert SGR.sub("", result.stdout).count("[5mBLINK") >= 2  # the column's name and its example


def test_plain_keeps_the_text_around_what_it_removes():
    # Only the control characters go: the letters of an escape sequence are left for the reader to see.
    assert plain("a\x1b[31mb\x07c\u202ed\ne\tf\x85\x00") == "a[31mbcd\ne\tf"


# ------------------------------------------------------------------------ Markdown shows data as literal text


def _assert_markdown_literal(page: str) -> None:
    for sequence in [*HOSTILE_BYTES, "\x1b"]:
        assert sequence not in page
    assert "<img" not in page and "<" not in page
    assert not re.search(r"(?<!\\)[\[\]`*_~]", page.replace("\\\\", ""))  # every bracket, tick, star... escaped
    for line in page.splitlines():
        if line.startswith("|"):
            assert line.endswith("|")


def _html(page: str) -> str:
    """The page as a Markdown renderer (CommonMark with GFM tables) turns it into HTML."""
    markdown_it = pytest.importorskip("markdown_it")  # installed with Rich
    return markdown_it.MarkdownIt("commonmark").enable("table").render(page)


def _assert_renders_as_text(page: str, columns: int) -> None:
    html = _html(page)
    for tag in ("<img", "<a ", "<em>", "<strong>", "<code>", "<s>", "<del>"):
        assert tag not in html
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        assert len(re.findall(r"<t[hd]", row)) == columns  # no '|' from the data added a column
    # The reader sees the text: after the renderer's own escaping, every part of the value is there.
    assert "&lt;img src=x onerror=alert(1)&gt; [click](http://evil) ![x](http://evil/track.png) a|b `c`" in html
    assert "*e* _u_ ~~s~~ back\\slash [red]markup[/red]" in html


def test_compute_markdown_shows_a_hostile_group_as_text(cli, catalog, hostile_data):
    page = _compute(cli, catalog, "-f", "markdown")
    _assert_markdown_literal(page)
    _assert_renders_as_text(page, columns=8)  # KPI, group, value, target, status, n and the two changes
    assert "next line" in page  # the newline became a space: the row goes on


def test_compute_markdown_shows_a_hostile_catalog_in_headings_and_cells(cli, hostile_catalog):
    page = _compute(cli, hostile_catalog, "-f", "markdown")
    _assert_markdown_literal(page)
    _assert_renders_as_text(page, columns=8)  # KPI, group, value, target, status, n and the two changes
    heading = _html(page).splitlines()[0]
    assert heading.startswith("<h1>City &lt;img src=x") and heading.endswith("</h1>")


def test_review_markdown_shows_a_hostile_request_type_as_text(cli, catalog, hostile_data):
    page = _review(cli, catalog, "-f", "markdown")
    _assert_markdown_literal(page)
    _assert_renders_as_text(page, columns=5)


def test_scorecard_markdown_shows_a_hostile_catalog_as_text(cli, hostile_catalog):
    page = _scorecard(cli, hostile_catalog, "-f", "markdown")
    _assert_markdown_literal(page)
    _assert_renders_as_text(page, columns=6)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Parks & Recreation", "Parks & Recreation"),  # a plain ampersand is text already
        ("&lt;b&gt; &#60;i&#62;", "&amp;lt;b&amp;gt; &amp;#60;i&amp;#62;"),  # an entity in the data stays as written
        ("a\\|b", "a\\\\\\|b"),  # the data's backslash cannot escape the pipe's escape
        ("5 > 3 (ok)", "5 > 3 (ok)"),  # nothing to escape where nothing could start
    ],
)
def test_markdown_cell_escapes_only_what_could_act(text, shown):
    assert markdown_cell(text) == shown
