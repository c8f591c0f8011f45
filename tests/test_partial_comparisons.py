"""Comparisons with a partial period: a target judged against a prior or year-ago period that the data covers only in
part, or on a current period that is not complete, is `not_comparable` with the reason, in every output.

The hand-made export below counts events per quarter; every expected value is worked out in the comments.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path

import pytest

import civic_kpi
from civic_kpi.catalog.model import Target
from civic_kpi.results import Status
from tests.conftest import CATALOG, SAMPLE_DATA, write_csv

SMALL = """
datasets:
  events:
    path: events.csv
    date_column: day
    columns: {day: {type: date, format: "%Y-%m-%d"}, on_time: {type: integer}}
  visits:
    path: visits.csv
    date_column: day
    columns: {day: {type: date, format: "%Y-%m-%d"}}
kpis:
  - {id: events, name: Events, domain: D, unit: count, dataset: events, value: count(),
     target: {compare_to: year_ago, at_least: 10}}
  - {id: on_time, name: On time, domain: D, unit: percent, dataset: events, numerator: sum(on_time),
     denominator: count(), target: {at_least: 50}}
  - {id: events_qtd, name: Events QTD, domain: D, unit: count, dataset: events, value: count(),
     window: {to_date: quarter}, target: {compare_to: year_ago, at_least: 10}}
  - {id: backlog, name: Backlog, domain: D, unit: count, dataset: events, value: count(), target: {trend_to_zero: true}}
  - {id: visits, name: Visits, domain: D, unit: count, dataset: visits, value: count(),
     target: {compare_to: year_ago, at_least: 10}}
  - {id: events_per_visit, name: Events per visit, domain: D, unit: ratio, value: kpi.events / kpi.visits,
     target: {compare_to: year_ago, at_least: 0}}
"""

# 2025-Q1 (the year-ago quarter of 2026-Q1): 5 events in February and 5 in March, none in January: the export
# starts on 2025-02-01's records, so it covers 2 of the quarter's 3 months. 2026-Q1: 4 + 4 + 3 = 11 events.
# 11 against 10 is +10%, which meets "grow at least 10%": the old code called that a pass.
PARTIAL = (
    [["2025-02-01", 1]]
    + [["2025-02-10", 1]] * 4
    + [["2025-03-10", 0]] * 5
    + [["2025-04-10", 1]] * 2
    + [["2026-01-10", 1]] * 4
    + [["2026-02-10", 1]] * 4
    + [["2026-03-10", 0]] * 3
)
# Visits start in 2024-01, so 2025-Q1 is whole: 10 visits (1 in January, 1 in February, 8 in March); 2026-Q1
# has 12 (+20%).
VISITS = [["2024-01-05"]] + [["2025-01-05"], ["2025-02-05"]] + [["2025-03-05"]] * 8 + [["2026-02-05"]] * 12
AFTER_THE_QUARTER = "2026-04-01"  # the whole of 2026-Q1 is known


def small(tmp_path: Path, events: list[list[object]]) -> Path:
    write_csv(tmp_path / "events.csv", ["day", "on_time"], events)
    write_csv(tmp_path / "visits.csv", ["day"], VISITS)
    path = tmp_path / "catalog.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def overall(run: civic_kpi.ComputeRun, kpi: str) -> civic_kpi.KpiResult:
    return next(r for r in run.results if r.kpi_id == kpi and not r.group)


def first_day(events: list[list[object]]) -> date:
    return min(date.fromisoformat(str(row[0])) for row in events)


# ---------------------------------------------------------------------------------------- the hand-made export


def test_a_partial_year_ago_period_is_not_comparable_and_a_whole_one_is_judged(tmp_path):
    (tmp_path / "partial").mkdir()
    run = civic_kpi.compute(small(tmp_path / "partial", PARTIAL), period="2026-Q1", as_of=AFTER_THE_QUARTER)
    events = overall(run, "events")
    assert (events.value, events.year_ago.value) == (11, 10)
    assert events.year_ago.change_pct == pytest.approx(10.0)  # would pass "at least +10%" on a full quarter
    assert events.status == Status.NOT_COMPARABLE
    assert first_day(PARTIAL) == date(2025, 2, 1)
    assert events.status_reason == (
        "the year-ago period 2025-Q1 is covered only from 2025-02-01 (2 of 3 months) in dataset events"
    )
    # One record in 2024 moves the export's start before 2025-Q1: the year-ago quarter is whole, with the same 10
    # events, and +10% passes.
    (tmp_path / "whole").mkdir()
    whole = small(tmp_path / "whole", [["2024-06-01", 1], *PARTIAL])
    events = overall(civic_kpi.compute(whole, period="2026-Q1", as_of=AFTER_THE_QUARTER), "events")
    assert (events.value, events.year_ago.value, events.status, events.status_reason) == (11, 10, Status.PASS, None)
    assert events.partial == events.year_ago.partial == []


def test_partial_names_the_part_covered_on_each_value_with_or_without_a_target(tmp_path):
    # backlog has no rule on a compared period (trend_to_zero) and visits start long before: still, each value
    # the export covers in part says so. 2025-Q1 starts before the first event (2025-02-01); 2026-Q1 is not over
    # at 2026-03-15 (the as-of moment), and its prior quarter 2025-Q4 is whole.
    run = civic_kpi.compute(small(tmp_path, PARTIAL), period="2026-Q1", as_of="2026-03-15")
    backlog, visits = overall(run, "backlog"), overall(run, "visits")
    late = "the period 2026-Q1 is not complete at the as-of moment (2026-03-15 00:00)"
    assert backlog.partial == visits.partial == [late]
    assert backlog.prior.partial == visits.prior.partial == []
    assert backlog.year_ago.partial == [
        "the year-ago period 2025-Q1 is covered only from 2025-02-01 (2 of 3 months) in dataset events"
    ]
    assert visits.year_ago.partial == []  # visits start in 2024


@pytest.mark.parametrize(
    ("covers_from", "status", "quarter_note"),
    [
        # The export is said to start on 2025-01-01: January simply had no events, the quarter is whole (+10% passes).
        ("2025-01-01", Status.PASS, False),
        # Said to start on 2025-01-02: one day of the quarter is missing, so it is still not comparable.
        ("2025-01-02", Status.NOT_COMPARABLE, True),
    ],
)
def test_covers_from_says_where_an_export_starts_when_its_first_record_comes_later(
    tmp_path, covers_from, status, quarter_note
):
    path = small(tmp_path, PARTIAL)
    text = path.read_text().replace("    path: events.csv\n", f"    path: events.csv\n    covers_from: {covers_from}\n")
    path.write_text(text)
    run = civic_kpi.compute(path, period="2026-Q1", as_of=AFTER_THE_QUARTER)
    events = overall(run, "events")
    assert (events.value, events.year_ago.value, events.status) == (11, 10, status)
    if quarter_note:
        assert events.status_reason == (
            "the year-ago period 2025-Q1 is covered only from 2025-01-02 (89 of 90 days) in dataset events"
        )
    assert any("2025-Q1" in note for note in run.notes) == quarter_note


def test_coverage_is_per_kpi_and_follows_the_kpis_a_kpi_reads(tmp_path):
    run = civic_kpi.compute(small(tmp_path, PARTIAL), period="2026-Q1", as_of=AFTER_THE_QUARTER)
    # Visits start in 2024: 12 against 10 is +20%, a plain pass in the same run.
    visits = overall(run, "visits")
    assert (visits.value, visits.year_ago.value, visits.status, visits.status_reason) == (12, 10, Status.PASS, None)
    # Events per visit reads the events dataset through kpi.events: 11/12 against 10/10, not comparable.
    ratio = overall(run, "events_per_visit")
    assert ratio.value == pytest.approx(11 / 12) and ratio.year_ago.value == pytest.approx(1.0)
    assert ratio.status == Status.NOT_COMPARABLE
    assert ratio.status_reason.endswith("(2 of 3 months) in dataset events")
    # A rule on the value itself is not a comparison: 8 of 11 on time in 2026-Q1 is 72.7%, a pass.
    on_time = overall(run, "on_time")
    assert (on_time.status, on_time.status_reason) == (Status.PASS, None)
    assert on_time.value == pytest.approx(800 / 11)


def test_the_first_day_of_the_compared_period_is_the_boundary(tmp_path):
    def events(first: str) -> civic_kpi.KpiResult:
        (tmp_path / first).mkdir()
        catalog = small(tmp_path / first, [[first, 1], *PARTIAL])
        return overall(civic_kpi.compute(catalog, period="2026-Q1", as_of=AFTER_THE_QUARTER), "events")

    # The export starts exactly on 2025-01-01: 2025-Q1 is whole, with 11 events; 11 against 11 is +0%: a fail.
    on_the_day = events("2025-01-01")
    assert (on_the_day.value, on_the_day.year_ago.value) == (11, 11)
    assert (on_the_day.status, on_the_day.status_reason) == (Status.FAIL, None)
    # One day later it is partial: of the quarter's 31 + 28 + 31 = 90 days, 89 are covered (in days: the
    # export does not start on a month's first day).
    day_after = events("2025-01-02")
    assert day_after.status == Status.NOT_COMPARABLE
    assert day_after.status_reason == (
        "the year-ago period 2025-Q1 is covered only from 2025-01-02 (89 of 90 days) in dataset events"
    )


def test_a_trend_against_a_partial_prior_period_is_not_comparable(tmp_path):
    # 2025-Q2 has 2 events; its prior quarter 2025-Q1 (10 events) is covered from February only.
    run = civic_kpi.compute(small(tmp_path, PARTIAL), period="2025-Q2", as_of=AFTER_THE_QUARTER)
    backlog = overall(run, "backlog")
    assert (backlog.value, backlog.prior.value) == (2, 10)  # "down from 10" would pass
    assert backlog.status == Status.NOT_COMPARABLE
    assert backlog.status_reason == (
        "the prior period 2025-Q1 is covered only from 2025-02-01 (2 of 3 months) in dataset events"
    )


def test_a_current_period_not_complete(tmp_path):
    catalog = small(tmp_path, [["2024-06-01", 1], *PARTIAL])  # the year-ago quarter is whole

    def judged(as_of: str) -> tuple[civic_kpi.KpiResult, civic_kpi.KpiResult]:
        run = civic_kpi.compute(catalog, period="2026-Q1", as_of=as_of)
        return overall(run, "events"), overall(run, "on_time")

    # Data through the period's last second completes it: judged as usual (+10% passes, 72.7% on time passes).
    events, on_time = judged("2026-03-31 23:59:59")
    assert (events.status, events.status_reason) == (Status.PASS, None)
    assert (on_time.status, on_time.status_reason) == (Status.PASS, None)
    for as_of, shown in (("2026-03-31 23:59:58", "2026-03-31 23:59:58"), ("2026-03-15", "2026-03-15 00:00")):
        events, on_time = judged(as_of)
        reason = f"the period 2026-Q1 is not complete at the as-of moment ({shown})"
        # A change from a quarter so far to a whole quarter says nothing of growth.
        assert (events.status, events.status_reason) == (Status.NOT_COMPARABLE, reason)
        # A share so far is still a share: the absolute target keeps its verdict (8 of the 11 events so far on
        # time, 72.7%, passes ">= 50"), and the reason says the period is not complete.
        assert (on_time.status, on_time.status_reason) == (Status.PASS, reason)
        assert (on_time.value, on_time.denominator) == (pytest.approx(800 / 11), 11)


def test_an_absolute_target_on_a_partly_covered_period_keeps_its_verdict_and_says_so(tmp_path):
    # 2025-Q1 itself starts before the export: 5 of its 10 events on time is 50%, which meets ">= 50".
    run = civic_kpi.compute(small(tmp_path, PARTIAL), period="2025-Q1", as_of=AFTER_THE_QUARTER)
    on_time = overall(run, "on_time")
    assert (on_time.value, on_time.status) == (50.0, Status.PASS)
    assert on_time.status_reason == (
        "the period 2025-Q1 is covered only from 2025-02-01 (2 of 3 months) in dataset events"
    )


def test_a_series_judges_each_period_with_its_own_comparisons(tmp_path):
    catalog = small(tmp_path, PARTIAL)
    run = civic_kpi.compute(catalog, period="2025-04-01..2026-03-31", every="quarter", as_of=AFTER_THE_QUARTER)
    statuses = {r.period.label: r.status for r in run.results if r.kpi_id == "events" and not r.group}
    # 2025-Q2..Q4's year-ago quarters are before the export (no data); 2026-Q1's is partial.
    assert statuses == {
        "2025-Q2": Status.NO_DATA,
        "2025-Q3": Status.NO_DATA,
        "2025-Q4": Status.NO_DATA,
        "2026-Q1": Status.NOT_COMPARABLE,
    }


def test_a_to_date_window_is_covered_from_where_its_records_start(tmp_path):
    run = civic_kpi.compute(small(tmp_path, PARTIAL), period="2026-02", as_of=AFTER_THE_QUARTER)
    # 2026-02 against 2025-02, which starts on the export's first day: 4 against 5 is -20%, judged (a fail).
    month = overall(run, "events")
    assert (month.value, month.year_ago.value, month.status, month.status_reason) == (4, 5, Status.FAIL, None)
    # Quarter to date, February counts from January: 4 + 4 = 8 against 2025's 0 + 5 = 5 (+60%), but the year-ago
    # window 2025-01-01..2025-02-28 is covered only from 2025-02-01.
    qtd = overall(run, "events_qtd")
    assert (qtd.value, qtd.year_ago.value, qtd.status) == (8, 5, Status.NOT_COMPARABLE)
    assert qtd.status_reason == (
        "the year-ago period 2025-02 is covered only from 2025-02-01 (1 of 2 months) in dataset events"
    )


@pytest.mark.parametrize(
    ("target", "value", "compared"),
    [
        ({"at_least": 90}, 80.0, None),
        ({"compare_to": "year_ago", "at_least": 10}, 1.0, "year_ago"),
        ({"compare_to": "prior", "below": 0}, 1.0, "prior"),
        ({"trend_to_zero": True}, 3.0, "prior"),
        ({"trend_to_zero": True}, 0.0, None),  # at zero passes whatever came before
    ],
)
def test_which_period_a_verdict_rests_on(target, value, compared):
    from civic_kpi.targets import compared_period

    assert compared_period(Target(**target), value) == compared


def test_qualify_leaves_no_data_and_no_target_alone():
    from civic_kpi.targets import Verdict, qualify

    gap = ["the year-ago period X is covered only from ..."]
    for verdict in (Verdict(Status.NO_DATA, "no records"), Verdict(Status.NO_TARGET)):
        assert qualify(verdict, True, gap, gap) == verdict
    assert qualify(Verdict(Status.WARN, "inside the warning band"), False, gap, []) == Verdict(
        Status.WARN, f"inside the warning band; {gap[0]}"
    )


# ------------------------------------------------------------------------------------------- every output


def partial_cli(cli, tmp_path: Path, *args: str):
    catalog = small(tmp_path, PARTIAL)
    return cli("compute", "-c", catalog, "--period", "2026-Q1", "--as-of", AFTER_THE_QUARTER, "--kpi", "events", *args)


REASON = "the year-ago period 2025-Q1 is covered only from 2025-02-01 (2 of 3 months) in dataset events"


def test_table_shows_a_mark_and_a_word_the_count_and_the_reason(cli, tmp_path):
    result = partial_cli(cli, tmp_path)
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if "Events" in line)
    assert "≠ not comparable" in row  # readable without colour: CliRunner's output is not a terminal
    assert "0 pass · 0 warn · 0 fail · 1 not comparable · 0 no data" in result.stdout
    assert f"note: Events (all): not comparable: {REASON}" in result.stdout
    # Without such rows the summary line is as it was: it stays within the width a file or a pipe gets.
    (tmp_path / "whole").mkdir()
    whole = small(tmp_path / "whole", [["2024-06-01", 1], *PARTIAL])
    plain = cli("compute", "-c", whole, "--period", "2026-Q1", "--as-of", AFTER_THE_QUARTER, "--kpi", "events")
    assert "1 pass · 0 warn · 0 fail · 0 no data" in plain.stdout and "not comparable" not in plain.stdout


def test_json_and_csv_carry_the_status_and_the_reason(cli, tmp_path):
    doc = json.loads(partial_cli(cli, tmp_path, "-f", "json").stdout)
    assert doc["schema_version"] == "1.4"
    (row,) = doc["results"]
    assert (row["status"], row["status_reason"]) == ("not_comparable", REASON)
    # `partial` says which value the data covers in part, whatever the target: the year-ago quarter, here.
    assert (row["partial"], row["year_ago"]["partial"], row["prior"]["partial"]) == ([], [REASON], [])
    records = list(csv.DictReader(io.StringIO(partial_cli(cli, tmp_path, "-f", "csv").stdout)))
    assert [(r["status"], r["status_reason"]) for r in records] == [("not_comparable", REASON)]
    assert [(r["partial"], r["prior_partial"], r["year_ago_partial"]) for r in records] == [("", "", REASON)]


def test_markdown_shows_the_status_the_count_and_the_reason(cli, tmp_path):
    text = partial_cli(cli, tmp_path, "-f", "markdown").stdout
    assert "| ≠ not comparable vs 2025-Q1 |" in text  # the comparison its target would have judged
    assert "0 pass, 0 warn, 0 fail, 1 not comparable, 0 no data." in text
    escaped = REASON.replace("_", "\\_")  # Markdown escapes the underscore of a dataset name
    assert f"> note: Events (all): not comparable: {escaped}" in text


@pytest.mark.parametrize("level", ["warn", "fail"])
def test_fail_on_neither_fails_nor_passes_a_row_not_comparable_silently(cli, tmp_path, level):
    result = partial_cli(cli, tmp_path, "--fail-on", level)
    assert result.exit_code == 0  # the data cannot judge it: not a failure...
    # ...and not a pass either: stderr says how many rows were not judged.
    assert "1 KPI row not comparable" in result.stderr
    # With a real failure beside it the run still fails: 2026-Q1 events on a whole year-ago quarter grow +0%.
    whole = small(tmp_path, [["2025-01-01", 1], *PARTIAL])
    args = ("--period", "2026-Q1", "--as-of", AFTER_THE_QUARTER, "--fail-on", level)
    assert cli("compute", "-c", whole, "--kpi", "events", *args).exit_code == 1


# ------------------------------------------------------------------------------------ the bundled sample data


def meetings_first_day() -> date:
    """The first scheduled meeting in the sample export, read with the csv module."""
    with (SAMPLE_DATA / "meetings" / "meetings.csv").open(encoding="utf-8", newline="") as handle:
        return min(datetime.strptime(row["scheduled_start"], "%Y-%m-%d %H:%M").date() for row in csv.DictReader(handle))


SAMPLE_REASON = "the year-ago period FY2025 is covered only from 2024-10-01 (9 of 12 months) in dataset meetings"


def test_the_sample_fy2026_participation_rate_is_not_comparable(cli):
    # FY2025 runs 2024-07-01 to 2025-06-30; the meetings export starts on 2024-10-01: 9 of its 12 months.
    assert meetings_first_day() == date(2024, 10, 1)
    result = cli("compute", "-c", CATALOG, "--period", "FY2026", "--kpi", "participation_per_10k", "-f", "json")
    (row,) = [r for r in json.loads(result.stdout)["results"] if not r["group"]]
    assert row["year_ago"]["change_pct"] > 10  # on a whole year it would have passed "grow at least 10%"
    assert (row["status"], row["status_reason"]) == ("not_comparable", SAMPLE_REASON)


def test_the_sample_scorecard_shows_it_in_every_format(cli):
    args = ("scorecard", "-c", CATALOG, "--fiscal-year", "FY2026", "--kpi", "participation_per_10k")
    table = cli(*args).stdout
    assert "≠ not comparable" in table
    assert f"note: Participation Rate: not comparable: {SAMPLE_REASON}" in table
    (row,) = json.loads(cli(*args, "-f", "json").stdout)["rows"]
    assert (row["status"], row["status_reason"]) == ("not_comparable", SAMPLE_REASON)
    (record,) = csv.DictReader(io.StringIO(cli(*args, "-f", "csv").stdout))
    assert (record["status"], record["status_reason"]) == ("not_comparable", SAMPLE_REASON)
    markdown = cli(*args, "-f", "markdown").stdout
    assert "| ≠ not comparable |" in markdown
    assert "> note: Participation Rate: not comparable: the year-ago period FY2025" in markdown


def test_the_review_of_a_month_not_complete_says_so(cli):
    # The sample data ends on 2026-11-14: a review of November so far lists findings of half a month.
    note = "the period 2026-11 runs past the as-of time"
    for fmt in ("table", "markdown"):
        result = cli("review", "-c", CATALOG, "--month", "2026-11", "-f", fmt)
        assert result.exit_code == 0
        assert note in result.stdout.replace("\n", " ")
