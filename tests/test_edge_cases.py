"""Regressions for edge cases found in review: each builds a tiny catalog and export and checks the outcome."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

import civic_kpi
from civic_kpi.time.periods import parse_period
from tests.conftest import CATALOG, write_csv


def small_catalog(tmp_path: Path, kpis: str, *, columns: str = "", header: str = "", extra: str = "") -> Path:
    """A one-dataset catalog over events.csv: ts (datetime), grp, a, b (floats) plus any extra columns."""
    catalog = tmp_path / "cat.yaml"
    catalog.write_text(
        textwrap.dedent(
            f"""\
            title: Edge cases
            data_dir: data
            {header}
            datasets:
              events:
                path: events*.csv
                date_column: ts
                columns:
                  ts: {{type: datetime, format: "%Y-%m-%d %H:%M"}}
                  grp: grp
                  a: {{type: float}}
                  b: {{type: float}}
            {columns}
            kpis:
            """
        )
        + textwrap.indent(textwrap.dedent(kpis), "  ")
        + extra
    )
    (tmp_path / "data").mkdir(exist_ok=True)
    return catalog


def events(tmp_path: Path, rows: list[list[object]], name: str = "events.csv", header=("ts", "grp", "a", "b")):
    write_csv(tmp_path / "data" / name, list(header), rows)


def overall(run: civic_kpi.ComputeRun, kpi_id: str):
    return next(r for r in run.results if r.kpi_id == kpi_id and not r.group)


RATIO = """\
- id: ratio
  name: Ratio
  domain: D
  unit: count
  dataset: events
  value: sum(a) / sum(b)
  target: {at_least: 1}
- id: pct
  name: Pct
  domain: D
  unit: percent
  dataset: events
  numerator: sum(a)
  denominator: sum(b)
  target: {at_least: 1}
"""


def test_division_by_zero_is_no_data_not_inf(tmp_path, cli):
    catalog = small_catalog(tmp_path, RATIO)
    events(tmp_path, [["2026-01-05 10:00", "x", 3, 0], ["2026-01-06 10:00", "x", 1, 0]])
    run = civic_kpi.compute(catalog, period="2026-01")
    for kpi_id in ("ratio", "pct"):
        result = overall(run, kpi_id)
        assert result.value is None and result.status.value == "no_data"
        assert "zero" in result.status_reason
    csv_out = cli("compute", "-c", catalog, "--period", "2026-01", "-f", "csv").stdout
    assert "inf" not in csv_out and "nan" not in csv_out


def test_snapshot_is_capped_at_the_newest_record(cli):
    # The records export ends on 2026-11-14 (a date): a November snapshot is taken at the end of that day, not on
    # 30 November, so it equals a range ending on the 14th.
    def backlog(*args: str) -> float:
        doc = json.loads(
            cli("compute", "-c", CATALOG, "--kpi", "records_backlog_over_30_days", "-f", "json", *args).stdout
        )
        return doc["results"][0]["value"]

    assert backlog("--period", "2026-11") == backlog("--from", "2026-11-01", "--to", "2026-11-14")
    early = json.loads(
        cli(
            "compute", "-c", CATALOG, "--kpi", "records_backlog_over_30_days", "--period", "2020-01", "-f", "json"
        ).stdout
    )
    assert early["results"][0]["status"] == "no_data"


def test_fiscal_year_follows_the_catalog(tmp_path):
    catalog = small_catalog(tmp_path, RATIO, header="fiscal_year_start_month: 7")
    events(
        tmp_path, [["2025-07-01 00:00", "x", 1, 2], ["2026-06-30 23:00", "x", 1, 2], ["2026-07-01 00:00", "x", 9, 1]]
    )
    run = civic_kpi.compute(catalog, period="FY2026")
    assert (run.period.start.isoformat(), run.period.end.isoformat()) == ("2025-07-01", "2026-06-30")
    assert run.prior_period.label == "FY2025"
    assert overall(run, "pct").value == pytest.approx(50.0)  # 2 / 4, the July 2026 row is FY2027


def test_year_ago_of_a_range_keeps_its_last_day_across_february_29():
    period = parse_period("2024-01-01..2024-02-28")
    assert period.year_ago().label == "2023-01-01..2023-02-28"
    assert parse_period("2024-02-29..2024-02-29").year_ago().label == "2023-02-28..2023-02-28"


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--period", "0001-01"], "out of range"),
        (["-o", "/proc/civic-kpi-test.json"], "cannot write"),
    ],
)
def test_more_user_errors_exit_2(cli, args, phrase):
    result = cli("compute", "-c", CATALOG, "--kpi", "reopen_rate", *args)
    assert result.exit_code == 2, result.output
    assert phrase in result.stderr


def test_deeply_nested_formula_is_a_user_error(tmp_path, cli):
    formula = " + ".join(["count()"] * 3000)
    catalog = small_catalog(
        tmp_path, f"- {{id: k, name: K, domain: D, unit: count, dataset: events, value: '{formula}'}}\n"
    )
    result = cli("validate", catalog, "--no-data")
    assert result.exit_code == 2 and "nested too deeply" in result.stderr


def test_yaml_alias_bomb_is_fast(tmp_path, cli):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 9):
        prev = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([prev] * 9)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\ndatasets: {}\nkpis: []\n")
    started = time.perf_counter()
    result = cli("validate", path, "--no-data")
    assert result.exit_code == 2  # unknown fields a0..a8, no KPIs: refused, and quickly
    assert time.perf_counter() - started < 30


def test_offsets_are_converted_to_the_catalog_time_zone(tmp_path):
    kpis = "- {id: n, name: N, domain: D, unit: count, dataset: events, value: count()}\n"
    catalog = small_catalog(tmp_path, kpis, header="timezone: America/Chicago")
    text = catalog.read_text().replace('format: "%Y-%m-%d %H:%M"', 'format: "%Y-%m-%dT%H:%M:%S%z"')
    catalog.write_text(text)
    events(
        tmp_path,
        [
            ["2026-10-31T23:30:00-05:00", "x", 1, 1],  # 23:30 in Chicago (CDT): October
            ["2026-11-01T04:30:00+0000", "x", 1, 1],  # the same instant in UTC: still October in Chicago
            ["2026-11-01T06:00:00+0000", "x", 1, 1],  # 01:00 on 1 November in Chicago
        ],
    )
    assert overall(civic_kpi.compute(catalog, period="2026-10"), "n").value == 2


def test_durations_across_daylight_saving_are_elapsed_time(tmp_path):
    kpis = "- {id: h, name: H, domain: D, unit: hours, dataset: events, value: 'sum(hours_between(ts, ts2))'}\n"
    catalog = small_catalog(tmp_path, kpis, header="timezone: America/Chicago")
    text = catalog.read_text().replace(
        "      b: {type: float}", '      b: {type: float}\n      ts2: {type: datetime, format: "%Y-%m-%d %H:%M"}'
    )
    catalog.write_text(text)
    # Clocks sprang forward at 02:00 on 2026-03-08: 01:00 to 03:00 local is one hour; fell back 2026-11-01:
    # 00:30 to 01:30 (first) is one hour, 00:30 to 02:30 is three.
    events(
        tmp_path,
        [["2026-03-08 01:00", "x", 0, 0, "2026-03-08 03:00"], ["2026-03-09 01:00", "x", 0, 0, "2026-03-09 03:00"]],
        header=("ts", "grp", "a", "b", "ts2"),
    )
    assert overall(civic_kpi.compute(catalog, period="2026-03"), "h").value == pytest.approx(1 + 2)


def _two_timestamps(tmp_path: Path, kpis: str) -> Path:
    catalog = small_catalog(tmp_path, kpis, header="timezone: America/Chicago")
    text = catalog.read_text().replace(
        "      b: {type: float}", '      b: {type: float}\n      ts2: {type: datetime, format: "%Y-%m-%d %H:%M"}'
    )
    catalog.write_text(text)
    return catalog


# Worked out with zoneinfo by hand (America/Chicago): 2026-03-08 02:30 does not exist and reads as 03:30 CDT;
# 2026-11-01 01:30 happens twice and reads as the first (CDT, 06:30 UTC); 02:30 that night is CST (08:30 UTC).
AROUND_DST = [
    ["2026-03-08 01:00", "x", 0, 0, "2026-03-08 03:00"],  # 1 h
    ["2026-03-08 02:30", "x", 0, 0, "2026-03-08 04:30"],  # 03:30 to 04:30 CDT: 1 h
    ["2026-11-01 00:30", "x", 0, 0, "2026-11-01 01:30"],  # CDT to the first 01:30: 1 h
    ["2026-11-01 01:30", "x", 0, 0, "2026-11-01 02:30"],  # 06:30 UTC to 08:30 UTC: 2 h
]


def test_a_duration_between_columns_and_between_expressions_reads_dst_alike(tmp_path):
    # A column's instant is converted once in the dataset's frame; an expression's where the formula uses it.
    kpis = """\
    - {id: cols, name: C, domain: D, unit: hours, dataset: events, value: 'sum(hours_between(ts, ts2))'}
    - {id: exprs, name: E, domain: D, unit: hours, dataset: events,
       value: 'sum(hours_between(coalesce(ts, ts2), coalesce(ts2, ts)))'}
    """
    catalog = _two_timestamps(tmp_path, kpis)
    events(tmp_path, AROUND_DST, header=("ts", "grp", "a", "b", "ts2"))
    run = civic_kpi.compute(catalog, period="2026")
    assert overall(run, "cols").value == pytest.approx(5)
    assert overall(run, "exprs").value == pytest.approx(5)


def test_each_timestamp_column_is_converted_to_an_instant_once_for_every_kpi_and_period(tmp_path):
    # Three KPIs over the year and its two comparison periods measure the same two columns: a time-zone lookup per
    # record is slow, so the plan converts each column once (two lookups each: as written, and an hour on for the
    # spring gap), not once per KPI and period.
    kpis = """\
    - {id: total, name: T, domain: D, unit: hours, dataset: events, value: 'sum(hours_between(ts, ts2))'}
    - {id: mean, name: M, domain: D, unit: hours, dataset: events, value: 'mean(hours_between(ts, ts2))'}
    - {id: long, name: L, domain: D, unit: count, dataset: events, value: 'count(hours_between(ts, ts2) > 1.5)'}
    """
    catalog = _two_timestamps(tmp_path, kpis)
    events(tmp_path, AROUND_DST, header=("ts", "grp", "a", "b", "ts2"))
    session = civic_kpi.Session(catalog)
    plan = session.explain("total", "2026").query_plan
    assert plan is not None and plan.count('replace_time_zone(["earliest"])') == 2 * 2
    run = session.compute("2026")
    assert [overall(run, k).value for k in ("total", "mean", "long")] == pytest.approx([5, 1.25, 1])


def test_monthly_files_with_drifting_columns(tmp_path):
    catalog = small_catalog(tmp_path, RATIO)
    events(tmp_path, [["2026-01-05 10:00", "x", 1, 2]], name="events_2026-01.csv")
    events(
        tmp_path,
        [[9, "2026-02-05 10:00", 1, "y", 3]],
        name="events_2026-02.csv",
        header=("b", "ts", "a", "grp", "note"),
    )
    run = civic_kpi.compute(catalog, period="2026-01-01..2026-02-28")
    assert overall(run, "pct").value == pytest.approx(100 * 2 / 11)
    assert [f.rows for f in run.data_files] == [1, 1]


def test_integer_codes_against_a_reference_table(tmp_path):
    kpis = "- {id: k, name: K, domain: D, unit: count, dataset: events, value: 'count(code in ref.codes)'}\n"
    catalog = small_catalog(
        tmp_path,
        kpis,
        columns="      code: {type: integer}\n",
        header="reference_tables: {codes: {path: codes.csv, key: code}}",
    )
    text = catalog.read_text().replace("      code: {type: integer}\n", "")
    text = text.replace("      b: {type: float}\n", "      b: {type: float}\n      code: {type: integer}\n")
    catalog.write_text(text)
    write_csv(tmp_path / "data" / "codes.csv", ["code"], [[1], [3]])
    events(
        tmp_path,
        [["2026-01-05 10:00", "x", 1, 1, 1], ["2026-01-06 10:00", "x", 1, 1, 2], ["2026-01-07 10:00", "x", 1, 1, 3]],
        header=("ts", "grp", "a", "b", "code"),
    )
    assert overall(civic_kpi.compute(catalog, period="2026-01"), "k").value == 2


def test_missing_values_make_comparisons_false_not_null(tmp_path):
    kpis = """\
    - {id: hit, name: Y, domain: D, unit: count, dataset: events, value: 'count(a <= b)'}
    - {id: miss, name: N, domain: D, unit: count, dataset: events, value: 'count(not (a <= b))'}
    - {id: dated, name: T, domain: D, unit: count, dataset: events, value: "count(ts >= datetime('2026-01-06 00:00'))"}
    """
    catalog = small_catalog(tmp_path, kpis)
    events(
        tmp_path, [["2026-01-05 10:00", "x", 1, 2], ["2026-01-06 10:00", "x", None, 2], ["2026-01-07 10:00", "x", 3, 2]]
    )
    run = civic_kpi.compute(catalog, period="2026-01")
    assert (overall(run, "hit").value, overall(run, "miss").value, overall(run, "dated").value) == (1, 2, 2)


def test_yaml_booleans_get_a_hint(tmp_path, cli):
    result = cli("validate", small_catalog(tmp_path, RATIO.replace("id: pct", "id: no")), "--no-data")
    assert result.exit_code == 2 and "put the text in quotes" in result.stderr


def test_catalog_mistakes_that_used_to_pass(tmp_path, cli):
    bad_group = RATIO.replace(
        "target: {at_least: 1}\n- id: pct", "target: {at_least: 1, by_group: {gpr: {x: {at_least: 2}}}}\n- id: pct"
    )
    result = cli("validate", small_catalog(tmp_path, bad_group), "--no-data")
    assert result.exit_code == 2 and "by_group names 'gpr'" in result.stderr and "did you mean 'grp'?" in result.stderr
    text_as_of = (
        small_catalog(tmp_path, RATIO).read_text().replace("date_column: ts", "date_column: ts\n    as_of_column: grp")
    )
    (tmp_path / "cat2.yaml").write_text(text_as_of)
    result = cli("validate", tmp_path / "cat2.yaml", "--no-data")
    assert result.exit_code == 2 and "as_of_column 'grp' must have type date or datetime" in result.stderr
    bad_date = RATIO.replace("value: sum(a) / sum(b)", "value: \"count(ts > date('2026-02-30'))\"")
    result = cli("validate", small_catalog(tmp_path, bad_date), "--no-data")
    assert result.exit_code == 2 and "is not a valid date" in result.stderr


def test_directory_path_and_tsv_default(tmp_path, cli):
    catalog = small_catalog(tmp_path, RATIO)
    catalog.write_text(catalog.read_text().replace("path: events*.csv", "path: folder"))
    (tmp_path / "data" / "folder").mkdir()
    result = cli("compute", "-c", catalog, "--period", "2026-01")
    assert result.exit_code == 2 and "is a directory" in result.stderr and "folder/*.csv" in result.stderr
    catalog.write_text(catalog.read_text().replace("path: folder", "path: events.tsv"))
    (tmp_path / "data" / "events.tsv").write_text("ts\tgrp\ta\tb\n2026-01-05 10:00\tx\t1\t4\n")
    assert overall(civic_kpi.compute(catalog, period="2026-01"), "pct").value == pytest.approx(25.0)


def test_bad_date_value_names_file_row_and_column(tmp_path, cli):
    catalog = small_catalog(tmp_path, RATIO)
    events(tmp_path, [["2026-01-05 10:00", "x", 1, 1], ["2026-01-32 10:00", "x", 1, 1]])
    result = cli("compute", "-c", catalog, "--period", "2026-01")
    assert result.exit_code == 2
    assert "events.csv" in result.stderr and "row 2 (line 3)" in result.stderr
    assert "'2026-01-32 10:00' is not a valid datetime" in result.stderr and "Traceback" not in result.output


def test_library_functions_stay_functions_after_first_use():
    """A submodule named like a lazily exported function would replace it on first import."""
    import subprocess
    import sys

    code = (
        "import civic_kpi, types\n"
        "for name in ('review', 'scorecard', 'compute', 'sla_deadlines', 'load_catalog'):\n"
        "    getattr(civic_kpi, name)\n"
        "    assert not isinstance(getattr(civic_kpi, name), types.ModuleType), name\n"
        "    assert callable(getattr(civic_kpi, name)), name\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
