"""The tables fit the reader's terminal: words whole at any width from 60 columns, columns folded away
(n, then the comparisons) with a footnote, piped output as wide as COLUMNS says (100 without it), and the year-ago
change beside the prior one, with the status naming the comparison its target judged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from civic_kpi.report.table import WORD_LIMIT
from tests.conftest import CATALOG, ROOT
from tests.test_cli_compute import _in_a_terminal

NAMES = json.loads(
    subprocess.run(
        [sys.executable, "-c", "import civic_kpi, json; print(json.dumps([k.name for k in "
         "civic_kpi.load_catalog('kpi_definitions.yaml').catalog.kpis]))"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
)  # fmt: skip


def _terminal(width: int, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(COLUMNS=str(width), NO_COLOR="1", TERM="xterm-256color")
    return _in_a_terminal(["compute", *args], env, (2, os.devnull)).decode().replace("\r\n", "\n")


def _cells(table: str) -> list[str]:
    """Every cell's text on every line of the table's body."""
    return [cell.strip() for line in table.splitlines() if line.startswith("│") for cell in line.strip("│").split("│")]


@pytest.mark.parametrize("width", [60, 80, 100, 160])
def test_the_table_fits_the_terminal_and_breaks_no_word(width):
    table = _terminal(width)
    assert max(len(line) for line in table.splitlines()) <= width
    words = {word for cell in _cells(table) for word in cell.split()}
    # Every word of every KPI name is on one line (a name wraps at its spaces, never inside a word): whole, or a
    # word longer than the column can hold shortened with an ellipsis (never below WORD_LIMIT characters).
    for name in NAMES:
        for word in name.split():
            shortened = {w for w in words if w.endswith("…") and word.startswith(w[:-1]) and len(w) >= WORD_LIMIT}
            assert word in words or (len(word) > WORD_LIMIT and shortened), (word, width)
    for heading in ("KPI", "Group", "Value", "Target", "Status"):
        assert re.search(rf"┃\s*{heading}\s", table), heading


def test_narrow_terminals_fold_n_then_the_comparisons_and_say_so():
    domain = ("--domain", "Public Records & Open Data")
    wide, medium, narrow = _terminal(160, *domain), _terminal(80, *domain), _terminal(60, *domain)
    assert "┃ n ┃" in wide.replace(" ", "").replace("┃n┃", "┃ n ┃") and "left out to fit" not in wide
    assert "vs 2026-09" in medium and "vs 2025-10" in medium
    said = "n left out to fit 80 columns: a wider terminal or COLUMNS shows them; -f csv has them all."
    assert said in re.sub(r"\s+", " ", medium)
    assert "┃ vs 2026-09" not in narrow and "┃ vs 2025-10" not in narrow
    assert "n, vs 2026-09 and vs 2025-10 left out to fit 60 columns" in re.sub(r"\s+", " ", narrow)


def test_the_year_ago_change_is_shown_and_the_status_names_the_comparison_the_target_judged(cli):
    # time_to_close_p90's target is "lower than a year ago": it passes on the year-ago change (-5.1%), while the
    # change against the prior month is up (+0.9%); both are on screen, and the status says which one counted.
    doc = json.loads(cli("compute", "-c", CATALOG, "--kpi", "time_to_close_p90", "-f", "json").stdout)
    row = next(r for r in doc["results"] if not r["group"])
    assert row["judged_against"] == "year_ago" and row["status"] == "pass"
    year_change = 100 * (row["value"] - row["year_ago"]["value"]) / row["year_ago"]["value"]
    table = cli("compute", "-c", CATALOG, "--kpi", "time_to_close_p90", env={"COLUMNS": "120"}).stdout
    line = next(line for line in table.splitlines() if line.startswith("│ Time to Close P90"))
    cells = [cell.strip() for cell in line.strip("│").split("│")]
    assert cells[4:] == ["✔ pass vs 2025-10", str(row["sample_size"]), "▲ +0.9%", f"▼ {year_change:+.1f}%"]
    assert "┃ vs 2026-09 ┃ vs 2025-10 ┃" in table
    # A target on the value itself judges no comparison.
    reopen = json.loads(cli("compute", "-c", CATALOG, "--kpi", "reopen_rate", "-f", "json").stdout)
    assert {r["judged_against"] for r in reopen["results"]} == {None}


def test_piped_output_honours_columns_and_is_100_wide_without_it(cli, tmp_path):
    assert max(len(line) for line in cli("compute", "-c", CATALOG, env={"COLUMNS": "72"}).stdout.splitlines()) == 72
    script = Path(sys.executable).with_name("civic-kpi")
    if not script.exists():
        pytest.skip("civic-kpi script not installed next to this Python")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run([str(script), "compute"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert max(len(line) for line in done.stdout.splitlines()) == 100
    # A COLUMNS under 60 is read as 60: narrower, a word would have to break.
    assert max(len(line) for line in cli("compute", "-c", CATALOG, env={"COLUMNS": "40"}).stdout.splitlines()) == 60


def test_a_series_at_60_columns_goes_compact_and_cuts_no_value_period_or_status(cli):
    # A month series with a not-comparable row needs more than 60 columns with rules between cells: the table drops
    # its rules instead of cutting a value ('87.…'), a period ('2026-…') or a status ('comparab…').
    table = cli("compute", "-c", CATALOG, "--every", "month", "--period", "2026-Q4", env={"COLUMNS": "60"}).stdout
    assert max(len(line) for line in table.splitlines()) <= 60
    assert "comparable" in table and "┃" not in table.split("Public Records")[0]  # compact: no rules
    cut = {word for word in table.split() if word.endswith("…")}
    assert not [word for word in cut if re.match(r"[\d(<>=+-]|comparab|Stat|Val|Perio|Targ", word)], cut


def test_the_ranking_tables_fit_too_and_only_their_names_are_shortened(cli):
    table = cli("compute", "-c", CATALOG, env={"COLUMNS": "62"}).stdout
    ranking = table.split("ranked", 1)[1]
    assert max(len(line) for line in table.splitlines()) <= 62
    assert "Rank" in ranking and not re.search(r"\d…", ranking)


def test_a_row_without_a_value_was_judged_against_nothing(cli):
    # 2026-12 is after the data's moment: no value, so its target compared nothing, whatever it would compare.
    doc = json.loads(cli("compute", "-c", CATALOG, "--every", "month", "--period", "2026-Q4", "-f", "json").stdout)
    empty = [r for r in doc["results"] if r["value"] is None]
    assert empty and {r["judged_against"] for r in empty} == {None}
    assert {r["judged_against"] for r in doc["results"] if r["value"] is not None} >= {"prior", "year_ago"}


OTHER_TABLES = {  # each command's table, and texts from its JSON that must show whole (never cut inside)
    "review": (("review", "--month", "2026-10"), lambda doc: [i["rule"].split()[-1] for i in doc["items"]]),
    "scorecard": (("scorecard", "-y", "FY2026"), lambda doc: [r["status"].replace("_", " ") for r in doc["rows"]]),
    "check": (("check",), lambda doc: [r["status"] for r in doc["results"]]),
    "list": (("list",), lambda doc: [k["id"] for k in doc]),
}  # fmt: skip


@pytest.mark.parametrize("width", [60, 80, 100])
@pytest.mark.parametrize("command", list(OTHER_TABLES))
def test_the_other_commands_tables_fit_too_and_keep_values_whole(cli, command, width):
    args, whole = OTHER_TABLES[command]
    table = cli(*args, "-c", CATALOG, env={"COLUMNS": str(width)}).stdout
    assert max(len(line) for line in table.splitlines()) <= width, command
    doc = json.loads(cli(*args, "-c", CATALOG, "-f", "json").stdout)
    words = set(table.split())
    for text in whole(doc):
        assert all(word in words for word in text.split()), (command, width, text)
    assert not re.search(r"\d…|…\d", table), "a number was cut"


def test_the_list_folds_unit_then_dataset_and_says_so(cli):
    wide = cli("list", "-c", CATALOG, env={"COLUMNS": "160"}).stdout
    narrow = cli("list", "-c", CATALOG, env={"COLUMNS": "80"}).stdout
    assert "┃ unit" in wide and "┃ dataset" in wide and "left out" not in wide
    assert "┃ unit" not in narrow and "┃ dataset" not in narrow
    assert "unit and dataset left out to fit 80 columns" in re.sub(r"\s+", " ", narrow)


def test_piped_tables_are_100_wide_without_columns_and_no_columns_value_crashes(tmp_path):
    script = Path(sys.executable).with_name("civic-kpi")
    if not script.exists():
        pytest.skip("civic-kpi script not installed next to this Python")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    for args in (["list"], ["review", "--month", "2026-10"], ["check"]):
        done = subprocess.run([str(script), *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        assert max(len(line) for line in done.stdout.splitlines()) <= 100, args
    for value in ("²", "abc", "0", ""):
        env = {**os.environ, "COLUMNS": value, "LINES": value}
        done = subprocess.run([str(script), "list"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0 and "internal error" not in done.stderr, (value, done.stderr)


# ---------------------------------------------------------------- a series on screen: periods as columns


FY2026_MONTHS = [f"2025-{m:02d}" for m in range(7, 13)] + [f"2026-{m:02d}" for m in range(1, 7)]


def _series(cli, *args: str, width: str = "200") -> tuple[str, dict]:
    common = ("compute", "-c", CATALOG, "--every", "month", *args)
    table = cli(*common, env={"COLUMNS": width}).stdout
    return table, json.loads(cli(*common, "-f", "json").stdout)


def _bars(values: list[float | None]) -> str:
    """The sparkline worked out here: each value's place between the row's lowest and highest, in 8 steps."""
    known = [v for v in values if v is not None]
    low, high = min(known), max(known)
    return "".join(
        " " if v is None else "▄" if high == low else "▁▂▃▄▅▆▇█"[round((v - low) / (high - low) * 7)] for v in values
    )


def test_a_series_is_one_row_per_kpi_and_group_with_its_periods_as_columns(cli):
    table, doc = _series(cli, "--period", "FY2026", "--kpi", "sla_compliance", "--by", "priority")
    periods = [
        f"{year}-{month:02d}" for year, month in [(2025, m) for m in range(7, 13)] + [(2026, m) for m in range(1, 7)]
    ]
    heading = next(line for line in table.splitlines() if line.startswith("┃ KPI"))
    assert [cell.strip() for cell in heading.strip("┃").split("┃")] == [
        "KPI", "Group", "Target", *periods, "Trend", "Met", "Latest"
    ]  # fmt: skip
    body = [
        [cell.strip() for cell in line.strip("│").split("│")] for line in table.splitlines() if line.startswith("│")
    ]
    assert [row[1] for row in body] == ["all", "Critical", "High", "Low", "Standard"]  # 5 rows, not 60
    marks = {"pass": "", "fail": " ✘", "warn": " ▲", "not_comparable": " ≠", "no_data": " –", "no_target": " ·"}
    for row in body:
        group = {} if row[1] == "all" else {"priority": row[1]}
        results = {r["period"]["label"]: r for r in doc["results"] if r["group"] == group}
        assert row[3:15] == [f"{results[p]['value']:.1f}%{marks[results[p]['status']]}" for p in periods], row[1]
        assert row[15] == _bars([results[p]["value"] for p in periods])
        passed = sum(results[p]["status"] == "pass" for p in periods)
        assert row[16] == f"{passed} of 12"
        assert row[17].endswith(results["2026-06"]["status"])
    assert [row[2] for row in body] == [">= 90%", ">= 95%", ">= 90%", ">= 90%", ">= 90%"]


def test_a_period_without_data_is_a_gap_in_the_trend_not_a_zero(cli):
    # The sample starts in October 2024: the months of 2024 before it have no value.
    table, doc = _series(cli, "--period", "2024", "--kpi", "sla_compliance", "--by", "")
    line = next(line for line in table.splitlines() if line.startswith("│ SLA"))
    cells = [cell.strip("│ ") for cell in line.split("│")[1:-1]]
    values = [r["value"] for r in doc["results"]]
    assert values[:9] == [None] * 9 and None not in values[9:]
    trend = line.split("│")[-4]  # Trend, Met, Latest, then the line's end
    assert trend.strip("│ ") == _bars(values).strip() and trend.startswith(" " * 10)
    assert cells[3:12] == ["–"] * 9


def test_a_narrow_series_keeps_the_latest_periods_and_says_which_are_only_in_the_trend(cli):
    table, _ = _series(cli, "--period", "FY2026", "--kpi", "sla_compliance", "--by", "priority", width="100")
    assert max(len(line) for line in table.splitlines()) <= 100
    heading = next(line for line in table.splitlines() if line.startswith("┃ KPI"))
    shown = re.findall(r"\d{4}-\d{2}", heading)
    assert shown[-2:] == ["2026-05", "2026-06"] and "2025-07" not in shown
    last_hidden = FY2026_MONTHS[FY2026_MONTHS.index(shown[0]) - 1]
    flat = re.sub(r"\s+", " ", table)
    assert f"2025-07 to {last_hidden} shown only in the trend, to fit 100 columns" in flat


@pytest.mark.parametrize("width", [60, 80])
def test_a_series_in_a_terminal_fits_and_breaks_no_value(width):
    table = _terminal(width, "--period", "FY2026", "--every", "month", "--by", "priority")
    assert max(len(line) for line in table.splitlines()) <= width
    assert "2026-06" in table and not re.search(r"\d…", table)


def test_a_big_series_says_each_note_once(cli):
    """FY2026 by month and by three columns printed 3,112 lines, 78 of them one note per KPI and column."""
    args = ("--period", "FY2026", "--by", "priority", "--by", "channel", "--by", "category")
    table, doc = _series(cli, *args, width="100")
    lines = table.splitlines()
    assert len(lines) < 500, len(lines)  # a row per KPI and group (each with its target), not per period
    notes = [line for line in lines if line.startswith("note: not broken down")]
    datasets = {re.search(r"dataset '(\w+)'", note).group(1) for note in notes}
    assert len(notes) == len(datasets) == 8, notes
    # Every KPI left without a breakdown is still named, in the run's notes as in the table's.
    named = " ".join(doc["notes"])
    assert "records_on_time" in named and "cost_per_call" in named


def test_records_left_out_are_one_note_per_kpi_with_each_groups_total(cli):
    table, doc = _series(cli, "--period", "2026-Q4", "--kpi", "reopen_rate", "--by", "priority", width="200")
    left_out: dict[str, int] = {}
    for row in doc["results"]:
        if row["excluded"]:
            label = row["group"].get("priority", "all")
            left_out[label] = left_out.get(label, 0) + row["excluded"]
    periods = sorted({row["period"]["label"] for row in doc["results"] if row["excluded"]})
    assert len(periods) == 2 and len(left_out) == 5, "two periods of five groups each, gathered into one line"
    groups = ", ".join(f"{group} {left_out[group]:,}" for group in ("Critical", "High", "Low", "Standard"))
    said = (
        f"note: Reopen Rate: {left_out['all']:,} records of {periods[0]} to {periods[1]} left out ({groups}): "
        "inside their 30-day follow-up window at the as-of time"
    )
    assert [line for line in table.splitlines() if line.startswith("note: Reopen Rate")] == [said]


def test_a_value_judged_against_nothing_is_marked_never_taken_for_a_pass(cli):
    # A year-over-year target over 2025: the first quarters have no year-ago value, so they are not judged.
    table, doc = _series(cli, "--period", "2025-01-01..2025-12-31", "--kpi", "time_to_close_p90", "--by", "")
    statuses = [row["status"] for row in doc["results"]]
    assert statuses[:3] == ["no_data"] * 3 and all(row["value"] is not None for row in doc["results"])
    line = next(line for line in table.splitlines() if line.startswith("│ Time to"))
    cells = [cell.strip() for cell in line.strip("│").split("│")]
    assert all(cell.endswith(" –") for cell in cells[3:6]), cells


def test_a_target_that_changes_over_the_periods_is_shown_in_turn(cli):
    # sla_compliance has FY2027 >= 92% of its own: a fiscal-year series shows both lines, in order.
    table = cli("compute", "-c", CATALOG, "--every", "fiscal_year", "--period", "2024-07-01..2027-06-30", "--by", "",
                "--kpi", "sla_compliance", env={"COLUMNS": "160"}).stdout  # fmt: skip
    assert ">= 90%, then >= 92%" in table


def test_periods_are_columns_in_time_order_even_when_a_kpi_starts_late():
    from datetime import date

    from civic_kpi.report.series_table import SeriesRow, periods_of, series_rows
    from civic_kpi.report.table import to_text
    from civic_kpi.session import Session

    run = Session(CATALOG).compute("2026-07-01..2026-10-31", every="month", kpis=["sla_compliance", "reopen_rate"],
                                   by=[])  # fmt: skip
    late = [r for r in run.results if r.kpi_id != "sla_compliance" or r.period.start >= date(2026, 9, 1)]
    run = run.model_copy(update={"results": late})
    assert periods_of(run) == ["2026-07", "2026-08", "2026-09", "2026-10"]
    first: SeriesRow = series_rows(run)[0]
    assert first.last.period.label == "2026-10"
    heading = next(line for line in to_text(run, color=False, width=200).splitlines() if line.startswith("┃ KPI"))
    assert re.findall(r"\d{4}-\d{2}", heading) == ["2026-07", "2026-08", "2026-09", "2026-10"]


@pytest.mark.parametrize("width", ["60", "66"])
def test_a_narrow_series_cuts_neither_a_mark_nor_the_trend(cli, width):
    table = cli("compute", "-c", CATALOG, "--every", "month", env={"COLUMNS": width}).stdout
    assert not re.search(r"[\d▁▂▃▄▅▆▇█]…", table), "a value, a mark or the trend was cut"
    assert "left out, to fit" in re.sub(r"\s+", " ", table) or "left out to fit" in re.sub(r"\s+", " ", table)
