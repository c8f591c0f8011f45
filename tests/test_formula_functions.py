"""Time and text in formulas (issue 12): a timestamp against a date deadline, calendar fields, text functions.

Each case is a tiny export written to tmp_path and computed through the library session or the real CLI; the
expected numbers are worked out by hand in the comments next to them.
"""

from __future__ import annotations

import importlib.util
import json
import textwrap
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

import civic_kpi
from civic_kpi.errors import CatalogError, ExitCode
from tests.conftest import write_csv

PERIOD = "2026-03"

# ----------------------------------------------------------------------------------------------- helpers

REQUESTS = """\
    path: requests.csv
    date_column: opened
    columns:
      opened: {type: datetime, format: "%Y-%m-%d %H:%M:%S"}
      closed: {type: datetime, format: "%Y-%m-%d %H:%M:%S"}
      closed_utc: {type: datetime, format: "%Y-%m-%d %H:%M:%S", timezone: UTC}
      closed_z: {type: datetime, format: "%Y-%m-%dT%H:%M:%S%z"}
      due: {type: date, format: "%Y-%m-%d"}
      priority: {type: integer}
"""

TEXTS = """\
    path: texts.parquet
    date_column: opened
    columns:
      opened: {type: datetime}
      status: {type: string}
      note: {type: string}
      code: {type: integer}
"""


def make_catalog(tmp_path: Path, kpis: dict[str, str], dataset: str = REQUESTS) -> Path:
    """One dataset `d` and one count KPI per formula; the catalog's zone is New York (UTC-4 in late March 2026)."""
    lines = [
        "title: Functions",
        "data_dir: data",
        "timezone: America/New_York",
        "datasets:",
        "  d:",
        textwrap.indent(textwrap.dedent(dataset), "    ").rstrip(),
        "kpis:",
    ]
    for kpi_id, formula in kpis.items():
        lines.append(
            f"  - {{id: {kpi_id}, name: {kpi_id}, domain: D, unit: count, dataset: d, value: {json.dumps(formula)}}}"
        )
    path = tmp_path / "cat.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "data").mkdir(exist_ok=True)
    return path


def values(catalog: Path) -> dict[str, float | None]:
    run = civic_kpi.open(catalog).compute(period=PERIOD)
    return {r.kpi_id: r.value for r in run.results}


# Closed against a due date, around the due day's midnight. Every record opened on 1 March 2026.
#   row  closed                due         the closing day vs the due day
#   1    2026-03-10 15:00:00   2026-03-10  same day (on time; read as midnight it was late)
#   2    2026-03-10 23:59:59   2026-03-10  same day, last second (on time)
#   3    2026-03-11 00:00:00   2026-03-10  the next day's first second (late)
#   4    2026-03-09 08:00:00   2026-03-10  the day before (on time)
#   5    (open)                2026-03-10  no closing: every comparison with it is false
# closed_utc is UTC without an offset, closed_z carries one; New York is UTC-4 after 8 March 2026:
#   row  closed_utc / closed_z   local (New York)
#   1    2026-03-11 02:30:00     2026-03-10 22:30 (the due day locally, the next day in UTC: on time)
#   2    2026-03-11 03:59:59     2026-03-10 23:59:59 (on time)
#   3    2026-03-11 04:00:00     2026-03-11 00:00:00 (late)
#   4    2026-03-10 03:30:00     2026-03-09 23:30 (on time)
#   5    (open)
ROWS = [
    ["2026-03-01 09:00:00", "2026-03-10 15:00:00", "2026-03-11 02:30:00", "2026-03-11T02:30:00Z", "2026-03-10", 1],
    ["2026-03-01 09:00:00", "2026-03-10 23:59:59", "2026-03-11 03:59:59", "2026-03-11T03:59:59Z", "2026-03-10", 2],
    ["2026-03-01 09:00:00", "2026-03-11 00:00:00", "2026-03-11 04:00:00", "2026-03-11T04:00:00Z", "2026-03-10", 3],
    ["2026-03-01 09:00:00", "2026-03-09 08:00:00", "2026-03-10 03:30:00", "2026-03-10T03:30:00Z", "2026-03-10", 4],
    ["2026-03-01 09:00:00", None, None, None, "2026-03-10", 5],
]


def write_requests(tmp_path: Path) -> None:
    header = ["opened", "closed", "closed_utc", "closed_z", "due", "priority"]
    write_csv(tmp_path / "data" / "requests.csv", header, ROWS)


# Text as stored (Parquet keeps the blanks CSV cells lose), all opened on 1 March 2026:
#   status                 note
#   "Closed"               "v1.2"
#   "CLOSED "              "v1x2"
#   "closed"               "Café"
#   " Open"                None
#   None                   "n/a"
#   "Closed - Duplicate"   "St. Louis"
STATUSES = ["Closed", "CLOSED ", "closed", " Open", None, "Closed - Duplicate"]
NOTES = ["v1.2", "v1x2", "Café", None, "n/a", "St. Louis"]


def write_texts(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)
    pl.DataFrame(
        {
            "opened": [datetime(2026, 3, 1, 9)] * len(STATUSES),
            "status": STATUSES,
            "note": NOTES,
            "code": list(range(len(STATUSES))),
        }
    ).write_parquet(tmp_path / "data" / "texts.parquet")


def catalog_error(catalog: Path) -> str:
    with pytest.raises(CatalogError) as info:
        civic_kpi.open(catalog)
    return str(info.value)


# ------------------------------------------------------------------------- a timestamp against a date deadline


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("count(closed <= due)", 3),  # rows 1, 2, 4 (midnight-cast: row 4 only)
        ("count(closed < due)", 1),  # row 4
        ("count(closed == due)", 2),  # rows 1, 2 (midnight-cast: none)
        ("count(closed != due)", 2),  # rows 3, 4 (midnight-cast: 1 to 4)
        ("count(closed > due)", 1),  # row 3 (midnight-cast: 1, 2, 3)
        ("count(closed >= due)", 3),  # rows 1, 2, 3
        ("count(due >= closed)", 3),  # the date on the left: rows 1, 2, 4
        ("count(due < closed)", 1),  # row 3
        ("count(not (closed <= due))", 2),  # row 3 and the open row 5
        # A date picked by coalesce() or if_else() is still a whole day (midnight-cast: row 4 only).
        ("count(closed <= coalesce(due, due))", 3),
        ("count(closed <= if_else(closed > closed, due, due))", 3),
    ],
)
def test_a_timestamp_against_a_date_compares_calendar_days(tmp_path, formula, expected):
    write_requests(tmp_path)
    assert values(make_catalog(tmp_path, {"k": formula})) == {"k": expected}


def test_both_sides_of_midnight_through_the_cli(tmp_path, cli):
    write_requests(tmp_path)
    catalog = make_catalog(tmp_path, {"on_time": "count(closed <= due)", "late": "count(closed > due)"})
    result = cli("compute", "-c", catalog, "--period", PERIOD, "-f", "json")
    assert result.exit_code == 0, result.stderr
    found = {r["kpi_id"]: r["value"] for r in json.loads(result.stdout)["results"]}
    # 23:59:59 on the due day (row 2) is on time, 00:00:00 the next day (row 3) is late.
    assert found == {"on_time": 3, "late": 1}


@pytest.mark.parametrize("column", ["closed_utc", "closed_z"])
def test_the_day_is_the_catalogs_local_day(tmp_path, column):
    write_requests(tmp_path)
    catalog = make_catalog(
        tmp_path,
        {
            "on_time": f"count({column} <= due)",  # rows 1, 2, 4: row 1 is 11 March in UTC, 10 March locally
            "late": f"count({column} > due)",  # row 3: 04:00 UTC is local midnight
            "on_the_day": f"count({column} == due)",  # rows 1, 2
        },
    )
    assert values(catalog) == {"on_time": 3, "late": 1, "on_the_day": 2}


def test_a_date_literal_and_a_deadline_shifted_by_days_are_whole_days_too(tmp_path):
    write_requests(tmp_path)
    catalog = make_catalog(
        tmp_path,
        {
            "by_literal": "count(closed <= date('2026-03-10'))",  # rows 1, 2, 4
            # due - days(1) is 9 March, still a date: row 4, closed at 08:00 that day (midnight-cast: none)
            "day_early": "count(closed <= due - days(1))",
            "grace": "count(closed <= days(1) + due)",  # 11 March: rows 1 to 4
        },
    )
    assert values(catalog) == {"by_literal": 3, "day_early": 1, "grace": 4}


def test_a_request_due_today_is_not_overdue_before_the_day_ends(tmp_path):
    # as_of is a timestamp too: at 15:00 on 10 March, the five requests due that day are not yet overdue
    # (midnight-cast: all five were), and all five are due by then.
    write_requests(tmp_path)
    catalog = make_catalog(tmp_path, {"overdue": "count(due < as_of)", "due_by": "count(due <= as_of)"})
    run = civic_kpi.open(catalog, as_of="2026-03-10 15:00").compute(period=PERIOD)
    assert {r.kpi_id: r.value for r in run.results} == {"overdue": 0, "due_by": 5}
    # At a midnight (an earlier period's end, a date-only --as-of) nothing changes: 11 March 00:00 is past them all.
    run = civic_kpi.open(catalog, as_of="2026-03-11").compute(period=PERIOD)
    assert {r.kpi_id: r.value for r in run.results} == {"overdue": 5, "due_by": 5}


def test_a_derived_date_is_a_whole_day_too(tmp_path):
    write_requests(tmp_path)
    derived = REQUESTS + "    derived:\n      day_before: due - days(1)\n      closed_day: date(closed)\n"
    catalog = make_catalog(
        tmp_path,
        {
            "early": "count(closed <= day_before)",  # 9 March: row 4, closed at 08:00 that day (midnight-cast: 0)
            "same_day": "count(closed_day == due)",  # rows 1, 2
        },
        derived,
    )
    assert values(catalog) == {"early": 1, "same_day": 2}


def test_durations_between_a_timestamp_and_a_date_are_unchanged(tmp_path):
    # Only comparisons read a date as a whole day; a duration still runs from the date's midnight: row 1 closed
    # 15 h after it, and only row 4 (16 h before it) closed by the due day's first instant.
    write_requests(tmp_path)
    catalog = make_catalog(
        tmp_path,
        {
            "h": "sum(hours_between(due, closed), where=priority == 1)",
            "by_midnight": "count(hours_between(due, closed) <= 0)",
        },
    )
    assert values(catalog) == {"h": pytest.approx(15.0), "by_midnight": 1}


# ------------------------------------------------------------------------------------------ calendar fields


def test_date_year_month_weekday_hour(tmp_path):
    write_requests(tmp_path)
    catalog = make_catalog(
        tmp_path,
        {
            "same_day": "count(date(closed) == due)",  # rows 1, 2
            "local_day": "count(date(closed_utc) == date('2026-03-10'))",  # rows 1, 2 (22:30 and 23:59:59 local)
            "years": "sum(year(closed))",  # four closings in 2026
            "due_years": "sum(year(due))",  # five due dates in 2026, on a date column
            "months": "sum(month(closed))",  # 3 each
            # 10 March 2026 is a Tuesday (2), 11 March a Wednesday (3), 9 March a Monday (1): 2 + 2 + 3 + 1
            "weekdays": "sum(weekday(closed))",
            "due_weekday": "max(weekday(due))",  # Tuesday
            "hours": "sum(hour(closed))",  # 15 + 23 + 0 + 8
            "local_hours": "sum(hour(closed_utc))",  # 22 + 23 + 0 + 23 (New York's clock, not UTC's)
        },
    )
    assert values(catalog) == {
        "same_day": 2,
        "local_day": 2,
        "years": 4 * 2026,
        "due_years": 5 * 2026,
        "months": 4 * 3,
        "weekdays": 8,
        "due_weekday": 2,
        "hours": 46,
        "local_hours": 68,
    }


def test_weekday_counts_sunday_as_7(tmp_path):
    # 8 March 2026 is a Sunday (ISO 7), 9 March a Monday (ISO 1).
    write_csv(
        tmp_path / "data" / "requests.csv",
        ["opened", "closed", "closed_utc", "closed_z", "due", "priority"],
        [["2026-03-01 09:00:00", "2026-03-08 12:00:00", None, None, "2026-03-09", 1]],
    )
    catalog = make_catalog(tmp_path, {"sunday": "max(weekday(closed))", "monday": "max(weekday(due))"})
    assert values(catalog) == {"sunday": 7, "monday": 1}


@pytest.mark.parametrize(
    ("formula", "phrase"),
    [
        ("sum(hour(due))", "hour() works on a timestamp, but column 'due' is a date (a date has no time of day)"),
        ("sum(year(priority))", "year() works on a date or a timestamp, but column 'priority' is a number"),
        ("count(date(priority) == due)", "date() works on a date or a timestamp, but column 'priority' is a number"),
        ("count(lower(due) == 'x')", "lower() works on text, but column 'due' is a date"),
        ("count(contains(closed, 'x'))", "contains() works on text, but column 'closed' is a timestamp"),
    ],
)
def test_a_function_given_the_wrong_kind_of_column_is_a_catalog_error(tmp_path, cli, formula, phrase):
    write_requests(tmp_path)
    catalog = make_catalog(tmp_path, {"wrong": formula})
    message = catalog_error(catalog)
    assert phrase in message
    assert "wrong" in message  # the KPI
    result = cli("validate", catalog)
    assert result.exit_code == ExitCode.USER_ERROR
    assert phrase in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------------------------- text functions


def test_statuses_spelled_many_ways(tmp_path, cli):
    write_texts(tmp_path)
    formula = "count(lower(strip(status)) == 'closed')"
    catalog = make_catalog(
        tmp_path,
        {
            "closed": formula,  # "Closed", "CLOSED ", "closed"
            "without_strip": "count(lower(status) == 'closed')",  # "CLOSED " keeps its blank: 2
        },
        TEXTS,
    )
    assert values(catalog) == {"closed": 3, "without_strip": 2}
    result = cli("compute", "-c", catalog, "--period", PERIOD, "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert {r["kpi_id"]: r["value"] for r in json.loads(result.stdout)["results"]} == {"closed": 3, "without_strip": 2}
    explained = cli("explain", "closed", "-c", catalog, "--period", PERIOD)
    assert explained.exit_code == 0, explained.stderr
    assert formula in explained.stdout


def test_text_functions(tmp_path):
    write_texts(tmp_path)
    catalog = make_catalog(
        tmp_path,
        {
            "upper": "count(upper(status) == 'CLOSED')",  # "Closed", "closed" ("CLOSED " has its blank)
            "strip": "count(strip(status) == 'Open')",  # " Open"
            "contains": "count(contains(status, 'Closed'))",  # "Closed", "Closed - Duplicate" (case-sensitive)
            "contains_lower": "count(contains(lower(status), 'closed'))",  # the 3 spellings and the duplicate: 4
            "starts": "count(starts_with(status, ' '))",  # " Open"
            "ends": "count(ends_with(status, ' '))",  # "CLOSED "
            "matches": r"count(matches(status, '(?i)^\s*closed\s*$'))",  # the 3 spellings, not the duplicate
            "matches_anywhere": "count(matches(status, 'Dup'))",  # "Closed - Duplicate"
            # literal: "v1.2" -> "v12"; as a pattern, '.' would have removed every character (and counted 0)
            "replace": "count(replace(note, '.', '') == 'v12')",
            "replace_text": "count(replace(status, 'Closed - ', '') == 'Duplicate')",
            # 6 + 7 + 6 + 5 + 18 characters; the missing status adds nothing
            "length": "sum(length(status))",
            "length_chars": "sum(length(note), where=note == 'Café')",  # 4 characters (5 bytes in UTF-8)
            "coalesce": "count(coalesce(status, note) == 'n/a')",  # the missing status falls back to its note
            "coalesce_3": "count(coalesce(status, note, 'none') == 'none')",  # no record lacks both
        },
        TEXTS,
    )
    assert values(catalog) == {
        "upper": 2,
        "strip": 1,
        "contains": 2,
        "contains_lower": 4,
        "starts": 1,
        "ends": 1,
        "matches": 3,
        "matches_anywhere": 1,
        "replace": 1,
        "replace_text": 1,
        "length": 6 + 7 + 6 + 5 + 18,
        "length_chars": 4,
        "coalesce": 1,
        "coalesce_3": 0,
    }


def test_a_missing_text_stays_missing_and_is_counted_by_neither_predicate_nor_its_negation(tmp_path):
    write_texts(tmp_path)
    catalog = make_catalog(
        tmp_path,
        {
            "missing_lower": "count(is_null(lower(strip(status))))",  # the one missing status stays missing
            "missing_length": "count(is_null(length(status)))",
            "missing_replace": "count(is_null(replace(status, 'a', 'b')))",
            # A text predicate is a condition, false for a missing text like a comparison, so the missing status
            # is not counted by contains() and is counted by `not contains()`: together they make count().
            "contains": "count(contains(status, 'Closed'))",  # 2
            "not_contains": "count(not contains(status, 'Closed'))",  # "CLOSED ", "closed", " Open", missing: 4
            "all": "count()",
            "starts_missing": "count(starts_with(note, 'v'), where=is_null(note))",  # 0
        },
        TEXTS,
    )
    assert values(catalog) == {
        "missing_lower": 1,
        "missing_length": 1,
        "missing_replace": 1,
        "contains": 2,
        "not_contains": 4,
        "all": 6,
        "starts_missing": 0,
    }


@pytest.mark.parametrize(
    ("pattern", "phrase"),
    [
        ("(ab", "unclosed group (at character 1 of the pattern)"),
        ("ab[", "unclosed character class (at character 3 of the pattern)"),
        ("a)", "unopened group (at character 2 of the pattern)"),
    ],
)
def test_an_invalid_regular_expression_is_a_catalog_error(tmp_path, cli, pattern, phrase):
    write_texts(tmp_path)
    formula = f"count(matches(status, '{pattern}'))"
    catalog = make_catalog(tmp_path, {"bad_pattern": formula}, TEXTS)
    message = catalog_error(catalog)
    # the pattern's own position, then where the pattern starts in the formula (its quote: character 23)
    assert f"matches(): '{pattern}' is not a valid regular expression: {phrase} (at character 23) in formula" in message
    assert "bad_pattern" in message and "value" in message  # the KPI and the field
    result = cli("validate", catalog)
    assert result.exit_code == ExitCode.USER_ERROR
    assert phrase in result.stderr
    assert "Traceback" not in result.stderr


def test_a_word_boundary_needs_its_backslash_kept(tmp_path):
    # In a formula's text '\b' is a backspace, as in Python: a pattern holding one would silently match nothing.
    write_texts(tmp_path)
    wrong = make_catalog(tmp_path, {"k": r"count(matches(status, '(?i)\bclosed\b'))"}, TEXTS)
    assert "the pattern holds a control character" in catalog_error(wrong)
    # Written raw (or as '\\b'), it is a word boundary: "Closed", "CLOSED ", "closed", "Closed - Duplicate".
    raw = make_catalog(
        tmp_path,
        {"raw": r"count(matches(status, r'(?i)\bclosed\b'))", "doubled": r"count(matches(status, '(?i)\\bclosed'))"},
        TEXTS,
    )
    assert values(raw) == {"raw": 4, "doubled": 4}


def test_a_pattern_must_be_written_in_the_catalog(tmp_path):
    write_texts(tmp_path)
    catalog = make_catalog(tmp_path, {"k": "count(matches(status, note))"}, TEXTS)
    assert "takes the pattern as a text literal" in catalog_error(catalog)


@pytest.mark.parametrize(
    ("formula", "phrase"),
    [
        ("count(lower(code) == 'x')", "lower() works on text, but column 'code' is a number"),
        ("count(strip(code) == 'x')", "strip() works on text, but column 'code' is a number"),
        ("sum(length(opened))", "length() works on text, but column 'opened' is a timestamp"),
        ("count(contains(status, 1))", "contains() takes text as its part, but it is given a number"),
        ("count(starts_with(code, 'a'))", "starts_with() works on text, but column 'code' is a number"),
        ("count(ends_with(status, code))", "ends_with() takes text as its part, but column 'code' is a number"),
        ("count(matches(code, 'a'))", "matches() works on text, but column 'code' is a number"),
        ("count(replace(status, 'a', 1) == 'b')", "replace() takes text as its new, but it is given a number"),
        ("count(upper(opened) == 'x')", "upper() works on text, but column 'opened' is a timestamp"),
        ("count(lower(length(status)) == 'x')", "lower() works on text, but it is given a number"),
    ],
)
def test_text_functions_refuse_other_kinds_when_the_catalog_loads(tmp_path, cli, formula, phrase):
    write_texts(tmp_path)
    catalog = make_catalog(tmp_path, {"wrong": formula}, TEXTS)
    assert phrase in catalog_error(catalog)
    result = cli("validate", catalog)
    assert result.exit_code == ExitCode.USER_ERROR
    assert phrase in result.stderr


def test_a_derived_text_column_is_checked_and_computed(tmp_path):
    write_texts(tmp_path)
    derived = TEXTS + "    derived:\n      clean: lower(strip(status))\n      size: length(status)\n"
    catalog = make_catalog(tmp_path, {"closed": "count(clean == 'closed')"}, derived)
    assert values(catalog) == {"closed": 3}
    wrong = make_catalog(tmp_path, {"k": "count(lower(size) == 'x')"}, derived)
    assert "lower() works on text, but column 'size' is a number" in catalog_error(wrong)


def test_a_checks_where_is_checked_for_kinds_too(tmp_path):
    write_requests(tmp_path)
    dataset = REQUESTS + """    checks:\n      - {check: missing, column: closed, where: "lower(priority) == 'x'"}\n"""
    catalog = make_catalog(tmp_path, {"k": "count()"}, dataset)
    assert "lower() works on text, but column 'priority' is a number" in catalog_error(catalog)


def test_a_derived_column_may_name_a_reference_table(tmp_path):
    """`hood in ref.hoods` in a derived column or a check's `where`: the reference table is loaded for it as for a
    KPI's formula (it was not, and the run stopped with an internal error)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "calls.csv").write_text(
        "id,opened,hood\n1,2026-03-02 08:00:00,North\n2,2026-03-03 08:00:00,Nowhere\n3,2026-03-04 08:00:00,South\n",
        encoding="utf-8",
    )
    (tmp_path / "data" / "hoods.csv").write_text("hood\nNorth\nSouth\n", encoding="utf-8")
    catalog = tmp_path / "cat.yaml"
    catalog.write_text(
        textwrap.dedent(
            """\
            title: t
            data_dir: data
            reference_tables: {hoods: {path: hoods.csv, key: hood}}
            datasets:
              calls:
                path: calls.csv
                date_column: opened
                columns:
                  id: {type: integer}
                  opened: {type: datetime, format: "%Y-%m-%d %H:%M:%S"}
                  hood: hood
                derived:
                  known_hood: hood in ref.hoods
                checks:
                  - {check: row_count, where: "hood in ref.hoods", min: 3}
                  - {check: row_count, where: known_hood, min: 1}
            kpis:
              - {id: known, name: Known, domain: D, unit: count, dataset: calls, value: count(known_hood)}
            """
        ),
        encoding="utf-8",
    )
    engines = ["polars"] + (["duckdb"] if importlib.util.find_spec("duckdb") else [])
    for engine in engines:  # North and South are known, Nowhere is not
        session = civic_kpi.open(catalog, as_of="2026-04-01", engine=engine)
        assert [r.value for r in session.compute(period="2026-03").results] == [2], engine
        assert [(r.metric, r.status) for r in session.check().results] == [(2, "fail"), (2, "pass")], engine
