"""`--engine duckdb` and `--engine postgres`: the same plan's aggregations compiled to SQL (formula/sql.py,
engine/sql/) and run by an embedded DuckDB or a real PostgreSQL server the tests start (tests/servers.py) give the
Polars engine's results: every KPI of the bundled catalog, for a month, a series with its
breakdowns and the programs, and small exports built to sit on the edges (a stamp on a period's bound, a duration
across the daylight-saving change, a negative duration, a missing value). Counts and ratios agree exactly,
a mean or a percentile to 1e-9 (DuckDB sums and interpolates in another order)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

import civic_kpi
from civic_kpi.engine import compute
from civic_kpi.errors import UsageError
from tests.conftest import CATALOG, write_csv
from tests.test_snapshot_series import _write_requests

pytest.importorskip("duckdb", reason="the SQL engine's tests need DuckDB (pip install 'civic-kpi[duckdb]')")

SQL_ENGINES = ["duckdb", "postgres", "spark"]


def _use_engine(name: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make an engine ready: PostgreSQL's own server, named where the engine looks for it; Spark's local session."""
    if name == "postgres":
        monkeypatch.setenv("CIVIC_KPI_POSTGRES", request.getfixturevalue("postgres_url"))
    if name == "spark":
        request.getfixturevalue("spark_ready")
    return name


@pytest.fixture(params=SQL_ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each SQL engine in turn."""
    return _use_engine(request.param, request, monkeypatch)


def _key(result) -> tuple:
    return result.kpi_id, result.period.label, tuple(sorted((result.group or {}).items()))


def _differences(left, right, path: str = "") -> list[str]:
    """Where two dumped results differ: floats beyond 1e-9 (relative), anything else at all."""
    if isinstance(left, dict) and isinstance(right, dict):
        return [
            d for k in sorted(set(left) | set(right)) for d in _differences(left.get(k), right.get(k), f"{path}.{k}")
        ]
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [d for i, (a, b) in enumerate(zip(left, right, strict=True)) for d in _differences(a, b, f"{path}[{i}]")]
    if isinstance(left, float) and isinstance(right, float):
        return [] if left == right or math.isclose(left, right, rel_tol=1e-9) else [f"{path}: {left} != {right}"]
    return [] if left == right else [f"{path}: {left!r} != {right!r}"]


def assert_same_results(polars_run, duckdb_run) -> None:
    """Every row of both runs, field by field: counts, sample sizes, statuses and notes exactly, a float to 1e-9
    (a mean or a percentile summed or interpolated in another order can differ in its last digit)."""
    ours = {_key(r): r.model_dump(mode="json") for r in polars_run.results}
    theirs = {_key(r): r.model_dump(mode="json") for r in duckdb_run.results}
    assert ours.keys() == theirs.keys()
    assert [f"{key}{d}" for key, row in ours.items() for d in _differences(row, theirs[key])] == []
    assert polars_run.notes == duckdb_run.notes
    assert polars_run.as_of == duckdb_run.as_of


# ---------------------------------------------------------------- the bundled catalog, every KPI


@pytest.fixture(scope="module")
def sample():
    from civic_kpi.catalog.loader import load_catalog

    return load_catalog(CATALOG)


SHAPES = {
    "month": {},  # the latest complete month, with every KPI's catalog breakdowns
    "monthly-series": {"every": "month"},  # a series: keyed queries, snapshots per period
    "quarterly-overall": {"every": "quarter", "by": []},
    "quarter-by": {"period": "2026-Q3", "by": [["priority"], ["channel"]]},
    "fiscal-years": {"every": "fiscal_year"},
    "date-range": {"period": "2026-01-01..2026-02-14"},
}
# Spark takes seconds per query even on the sample: it runs the two shapes that hold every kind of query (masked
# with the comparison periods, keyed with the snapshots and breakdowns); DuckDB and PostgreSQL run them all.
ENGINE_SHAPES = [
    pytest.param(shape, name, id=f"{shape}-{name}", marks=[pytest.mark.slow] if name == "spark" else [])
    for shape in SHAPES
    for name in SQL_ENGINES
    if name != "spark" or shape in ("month", "monthly-series")
]


@pytest.mark.parametrize(("shape", "engine_name"), ENGINE_SHAPES)
def test_every_kpi_of_the_bundled_catalog_agrees(sample, shape: str, engine_name: str, request, monkeypatch) -> None:
    options = SHAPES[shape]
    engine = _use_engine(engine_name, request, monkeypatch)
    polars_run = compute(sample, **options)
    duckdb_run = compute(sample, engine=engine, **options)
    assert {r.kpi_id for r in duckdb_run.results} == {k.id for k in sample.catalog.kpis}
    assert_same_results(polars_run, duckdb_run)


def test_review_scorecard_and_dashboard_run_on_sql(sample, engine: str) -> None:
    polars, duckdb = civic_kpi.Session(sample), civic_kpi.Session(sample, engine=engine)
    assert duckdb.review("2026-10").model_dump(exclude={"generated_at"}) == polars.review("2026-10").model_dump(
        exclude={"generated_at"}
    )
    ours, theirs = polars.scorecard(), duckdb.scorecard()
    assert (
        _differences([r.model_dump(mode="json") for r in ours.rows], [r.model_dump(mode="json") for r in theirs.rows])
        == []
    )
    board = duckdb.dashboard(kpis=["sla_compliance", "time_to_close_p90"])
    expected = polars.dashboard(kpis=["sla_compliance", "time_to_close_p90"])
    assert_same_results(expected.trend, board.trend)


# ---------------------------------------------------------------- edges, built by hand


@pytest.mark.parametrize(
    ("fmt", "engine_name"),
    # The records reach every SQL engine the same way whatever the format: Parquet's run covers Spark.
    [(fmt, name) for fmt in ("parquet", "csv") for name in SQL_ENGINES if name != "spark" or fmt == "parquet"],
)
def test_stamps_on_the_bounds_agree_in_a_series(
    tmp_path: Path, fmt: str, engine_name: str, request, monkeypatch
) -> None:
    """The snapshot tests' requests: a third of their stamps exactly on a month's start, the moment or a midnight."""
    engine = _use_engine(engine_name, request, monkeypatch)
    catalog = _write_requests(tmp_path, fmt)
    options = {"every": "month", "period": "2025-04-01..2026-03-31", "as_of": "2026-03-15 12:00:00"}
    polars_run = compute(catalog, **options)
    duckdb_run = compute(catalog, engine=engine, **options)
    assert len(duckdb_run.results) == len(polars_run.results) > 40
    assert_same_results(polars_run, duckdb_run)


DST_CATALOG = """version: 1
title: durations across the clock change
data_dir: data
timezone: America/Chicago
datasets:
  calls:
    path: calls.csv
    date_column: opened
    columns:
      id: {type: integer}
      team: team
      opened: {type: datetime, format: "%Y-%m-%d %H:%M:%S"}
      closed: {type: datetime, format: "%Y-%m-%d %H:%M:%S"}
      due: {type: date, format: "%Y-%m-%d"}
kpis:
  - id: hours_to_close
    name: Hours to close
    domain: D
    unit: hours
    dataset: calls
    value: mean(hours_between(opened, closed))
    group_by: [[team]]
  - id: p50_hours
    name: Median hours
    domain: D
    unit: hours
    dataset: calls
    value: percentile(hours_between(opened, closed), 50)
  - id: closed_by_due
    name: Closed by the due day
    domain: D
    unit: percent
    dataset: calls
    numerator: count(closed <= due)
    denominator: count(closed is not None and team in ['A', 'B'])
  - id: not_by_due
    name: Not closed by the due day
    domain: D
    unit: count
    dataset: calls
    value: count(not (closed <= due))
  - id: hours_per_team_z
    name: Hours per request of team Z (there are none)
    domain: D
    unit: hours
    dataset: calls
    value: sum(hours_between(opened, closed)) / count(team == 'Z')
  - id: days_late
    name: Days late
    domain: D
    unit: days
    dataset: calls
    value: sum(days_between(due, closed), where=closed > due + days(1))
"""


def test_durations_across_the_clock_change_and_missing_values(tmp_path: Path, engine: str) -> None:
    """2026-03-08 02:00 does not exist in Chicago: 01:30 to 03:30 that night is one hour, not two. A close before
    its open is left out and counted; a missing close or team feeds nothing; a close on the due day, at any hour,
    is on time (a date compares by day)."""
    (tmp_path / "kpis.yaml").write_text(DST_CATALOG, encoding="utf-8")
    rows = [
        [1, "A", "2026-03-08 01:30:00", "2026-03-08 03:30:00", "2026-03-08"],  # 1 hour across the change
        [2, "A", "2026-03-07 22:00:00", "2026-03-08 22:00:00", "2026-03-08"],  # 23 hours; closed on the due day
        [3, "B", "2026-03-10 08:00:00", "2026-03-10 07:00:00", "2026-03-11"],  # negative: left out, counted
        [4, "B", "2026-03-11 00:00:00", None, "2026-03-12"],  # never closed
        [5, None, "2026-03-12 09:00:00", "2026-03-16 09:00:00", "2026-03-13"],  # no team; 3 days late
        [6, "B", "2026-03-31 23:59:59", "2026-04-01 00:00:00", "2026-04-01"],  # the month's last second
        [7, "A", "2026-04-01 00:00:00", "2026-04-02 00:00:00", "2026-04-01"],  # April's first: not in March
    ]
    write_csv(tmp_path / "data" / "calls.csv", ["id", "team", "opened", "closed", "due"], rows)
    catalog = tmp_path / "kpis.yaml"
    polars_run = compute(catalog, period="2026-03", as_of="2026-04-30")
    duckdb_run = compute(catalog, period="2026-03", as_of="2026-04-30", engine=engine)
    assert_same_results(polars_run, duckdb_run)
    overall = {r.kpi_id: r for r in duckdb_run.results if not r.group}
    # By hand: 1, 23, 96 and 1/3600 hours close (the negative one is left out); their mean and median.
    hours = [1.0, 23.0, 96.0, 1 / 3600]
    assert overall["hours_to_close"].value == pytest.approx(sum(hours) / 4, rel=1e-12)
    assert overall["p50_hours"].value == pytest.approx((1.0 + 23.0) / 2, rel=1e-12)
    assert overall["hours_to_close"].excluded == 1 and "negative" in overall["hours_to_close"].excluded_reason
    # Closed by the due day: 1, 2 (at 22:00 on it), 3 and 6 (at midnight on it); 5 was late but has no team, so
    # the denominator (closed, team A or B) is 1, 2, 3 and 6.
    assert (overall["closed_by_due"].numerator, overall["closed_by_due"].denominator) == (4, 4)
    # A division by zero is not a number, on every engine (PostgreSQL would raise instead: the SQL guards it).
    assert overall["hours_per_team_z"].value is None and "not finite" in overall["hours_per_team_z"].status_reason
    # Not closed by the due day: 4 (never closed: a comparison with a missing value is false, so its `not` is
    # true) and 5 (late).
    assert overall["not_by_due"].value == 2
    assert overall["days_late"].value == pytest.approx(3.375, rel=1e-12)  # 2026-03-13 00:00 to 03-16 09:00


GROUPS_CATALOG = """version: 1
title: breakdowns with missing values
data_dir: data
datasets:
  calls:
    path: calls.csv
    date_column: opened
    columns:
      id: {type: integer}
      team: team
      zone: zone
      opened: {type: datetime, format: "%Y-%m-%d %H:%M:%S"}
      closed: {type: datetime, format: "%Y-%m-%d %H:%M:%S"}
kpis:
  - id: calls
    name: Calls
    domain: D
    unit: count
    dataset: calls
    value: count()
    group_by: [[team], [zone], [team, zone]]
  - id: p50_hours
    name: Median hours
    domain: D
    unit: hours
    dataset: calls
    value: percentile(hours_between(opened, closed), 50)
    group_by: [[team], [zone], [team, zone]]
"""


@pytest.mark.parametrize("every", [None, "month"], ids=["month", "monthly-series"])
def test_breakdowns_in_one_statement_keep_a_missing_value_as_its_own_group(
    tmp_path: Path, engine: str, every: str | None
) -> None:
    """The breakdowns of the same KPIs are grouping sets of one statement. A missing team is a group of its own,
    never mistaken for the row over all teams that a grouping set leaves the team column empty in."""
    (tmp_path / "kpis.yaml").write_text(GROUPS_CATALOG, encoding="utf-8")
    rows = [
        [1, "A", "N", "2026-03-02 08:00:00", "2026-03-02 09:00:00"],  # 1 hour
        [2, None, "N", "2026-03-03 08:00:00", "2026-03-03 11:00:00"],  # 3 hours
        [3, None, "S", "2026-03-04 08:00:00", "2026-03-04 13:00:00"],  # 5 hours
        [4, "B", None, "2026-03-05 08:00:00", "2026-03-05 15:00:00"],  # 7 hours
        [5, "A", "N", "2026-02-27 08:00:00", "2026-02-27 10:00:00"],  # February: 2 hours
    ]
    write_csv(tmp_path / "data" / "calls.csv", ["id", "team", "zone", "opened", "closed"], rows)
    catalog = tmp_path / "kpis.yaml"
    options = {"period": "2026-02-01..2026-03-31", "every": "month"} if every else {"period": "2026-03"}
    polars_run = compute(catalog, as_of="2026-04-30", **options)
    sql_run = compute(catalog, as_of="2026-04-30", engine=engine, **options)
    assert_same_results(polars_run, sql_run)
    march = {
        (r.kpi_id, tuple(sorted((r.group or {}).items()))): r.value
        for r in sql_run.results
        if r.period.label == "2026-03"
    }
    # By hand, March: four calls; teams A, B and missing (two); zones N (two), S and missing.
    expected_counts = {
        (): 4,
        (("team", "A"),): 1, (("team", "B"),): 1, (("team", None),): 2,
        (("zone", "N"),): 2, (("zone", "S"),): 1, (("zone", None),): 1,
        (("team", "A"), ("zone", "N")): 1, (("team", None), ("zone", "N")): 1,
        (("team", None), ("zone", "S")): 1, (("team", "B"), ("zone", None)): 1,
    }  # fmt: skip
    assert {group: value for (kpi, group), value in march.items() if kpi == "calls"} == expected_counts
    # The medians: 1, 3, 5 and 7 hours overall (4); the missing team's 3 and 5 (4); zone N's 1 and 3 (2).
    assert march[("p50_hours", ())] == pytest.approx(4.0, rel=1e-12)
    assert march[("p50_hours", (("team", None),))] == pytest.approx(4.0, rel=1e-12)
    assert march[("p50_hours", (("zone", "N"),))] == pytest.approx(2.0, rel=1e-12)


def test_a_text_like_a_missing_value_marker_stays_a_group_of_its_own(tmp_path: Path, engine: str) -> None:
    """PostgreSQL's COPY reads an unquoted \\N as a missing value: the staged records quote text, so a team named
    \\N (a MySQL export's habit) stays a team, apart from the records without one."""
    (tmp_path / "kpis.yaml").write_text(GROUPS_CATALOG, encoding="utf-8")
    rows = [
        [1, "\\N", "N", "2026-03-02 08:00:00", "2026-03-02 09:00:00"],
        [2, None, "N", "2026-03-03 08:00:00", "2026-03-03 11:00:00"],
        [3, "A", "S", "2026-03-04 08:00:00", "2026-03-04 13:00:00"],
    ]
    write_csv(tmp_path / "data" / "calls.csv", ["id", "team", "zone", "opened", "closed"], rows)
    polars_run = compute(tmp_path / "kpis.yaml", period="2026-03", as_of="2026-04-30")
    sql_run = compute(tmp_path / "kpis.yaml", period="2026-03", as_of="2026-04-30", engine=engine)
    assert_same_results(polars_run, sql_run)
    teams = {
        r.group["team"]: r.value for r in sql_run.results if r.kpi_id == "calls" and list(r.group or {}) == ["team"]
    }
    assert teams == {"\\N": 1, None: 1, "A": 1}


TYPED_CATALOG = """version: 1
title: a typed Parquet export
data_dir: data
datasets:
  calls:
    path: calls.parquet
    date_column: opened
    columns:
      id: {type: integer}
      team: team
      wait: {type: float}
      urgent: {type: boolean}
      resolved: {source: first_contact, type: boolean, true_values: ["Y"]}
      due: {type: date}
      opened: {type: datetime}
      closed: {type: datetime}
    derived:
      late: closed > due + days(1)
kpis:
  - {id: calls, name: Calls, domain: D, unit: count, dataset: calls, value: count(), group_by: [[team]]}
  - {id: waited, name: Waited, domain: D, unit: minutes, dataset: calls, value: sum(wait)}
  - {id: urgent, name: Urgent, domain: D, unit: count, dataset: calls, value: count(urgent)}
  - {id: resolved, name: Resolved, domain: D, unit: percent, dataset: calls, numerator: count(resolved),
     denominator: count(resolved is not None)}
  - {id: open, name: Open, domain: D, unit: count, dataset: calls, value: count(closed is None)}
  - {id: late, name: Late, domain: D, unit: count, dataset: calls, value: count(late)}
  - {id: hours, name: Hours, domain: D, unit: hours, dataset: calls,
     value: "percentile(hours_between(opened, closed), 50)"}
"""


NOTES_CATALOG = """version: 1
title: notes counted by the engine
data_dir: data
calendars:
  city: {holidays: {country: US}}
sla_policies:
  by_type:
    key: kind
    days: days
    day_type: day_type
    calendar: city
    rows: [{kind: Pothole, days: 2, day_type: calendar}]
datasets:
  calls:
    path: 'calls_*.parquet'
    date_column: opened
    columns:
      opened: {type: datetime}
      closed: {type: datetime}
      kind: {type: string}
      team: {type: string}
      wait: {type: float}
      status: {type: string}
    flags:
      done: {column: status, true_for: [Closed], false_for: [Open]}
    deadlines:
      due: {policy: by_type, start: opened, key: kind}
kpis:
  - {id: calls, name: Calls, domain: D, unit: count, dataset: calls, value: count(), group_by: [[team]]}
  - {id: waited, name: Waited, domain: D, unit: minutes, dataset: calls, value: sum(wait)}
  - {id: done, name: Done, domain: D, unit: count, dataset: calls, value: count(done)}
  - {id: late, name: Late, domain: D, unit: count, dataset: calls, value: count(closed > due)}
"""
# Two files (3 and 4 records), the moment 2026-04-01 00:00, today the clock's: every note the run can write.
NOTES_FILES = {
    "calls_1.parquet": [
        (datetime(2026, 3, 2, 8), datetime(2026, 3, 3, 9), "Pothole", "A", 1.0, "Closed"),
        # closed after the moment (blanked); a key the table does not list; NaN
        (datetime(2026, 3, 5, 10), datetime(2026, 4, 3), "Sign", "B", float("nan"), "Closed"),
        # dated before 1900; infinity; a code neither list knows
        (datetime(1850, 1, 1), None, "Alley", None, float("inf"), "Pending"),
    ],
    "calls_2.parquet": [
        # closed after today, a mistyped year: after the moment too
        (datetime(2026, 3, 20), datetime(2099, 1, 1), "Zebra", "A", 3.0, "pending"),
        # opened after the moment: it did not exist yet, its unknown key and code are not counted
        (datetime(2026, 4, 5), None, "Bus", "C", 2.0, "Kept"),
        (datetime(2026, 3, 31, 23, 59, 59), None, "Curb", "A", None, "Pending"),
        (None, None, None, "B", None, "Open"),
    ],
}


def _notes_case(tmp_path: Path) -> Path:
    import polars as pl

    (tmp_path / "data").mkdir()
    names = ("opened", "closed", "kind", "team", "wait", "status")
    for file, rows in NOTES_FILES.items():
        records = [dict(zip(names, row, strict=True)) for row in rows]
        pl.DataFrame(records, schema_overrides={"wait": pl.Float64}).write_parquet(tmp_path / "data" / file)
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(NOTES_CATALOG, encoding="utf-8")
    return catalog


def test_duckdb_counts_the_notes_of_an_export_it_reads_itself(tmp_path: Path, monkeypatch) -> None:
    """Where DuckDB reads a typed Parquet export itself, it also counts what the run's notes say (engine/sql/notes.py):
    the records the moment leaves out, the stamps it blanks, a stamp after today, a date before 1900, NaN and
    infinity, the keys the SLA table does not list, the codes a flag does not know, the rows of each file, the
    newest and oldest stamps and the groups of a breakdown. Polars then reads none of the records; the notes are
    those of the Polars engine, word for word."""
    from civic_kpi.engine import polars_executor

    catalog = _notes_case(tmp_path)
    polars_run = compute(catalog, period="2026-03", as_of="2026-04-01 00:00")
    read_by_polars: list[str] = []
    collect = polars_executor.collect
    monkeypatch.setattr(polars_executor, "collect", lambda q, *a: read_by_polars.extend(q) or collect(q, *a))
    sql_run = compute(catalog, period="2026-03", as_of="2026-04-01 00:00", engine="duckdb")
    assert read_by_polars == []
    assert_same_results(polars_run, sql_run)
    assert [(f.path.rsplit("/", 1)[1], f.rows) for f in sql_run.data_files] == [
        ("calls_1.parquet", 3),
        ("calls_2.parquet", 4),
    ]
    notes = " | ".join(sql_run.notes)
    # By hand: Bus opened after the moment; Sign and Zebra closed after it; Zebra's 2099 after today; 1850
    for said in (
        "1 record whose opened is after the as-of moment",
        "(2 closed;",
        "1 closed is dated after today",
        "1 record is dated before 1900 (opened)",
        "2 values of wait were NaN or infinite",
        # Sign, Alley, Zebra and Curb among the records known at the moment; the first three in order
        "4 records have a kind the SLA table 'by_type' does not list (Alley, Curb, Sign ...)",
        "status values 'Pending' (2 records), 'pending' (1 record) are in neither",
    ):
        assert said in notes
    # The oldest date from 1900 on is 03-02, not 1850: the month is covered from then.
    assert "the period 2026-03 starts before the first record of calls (2026-03-02)" in notes
    # The moment from the data (the newest stamp up to today: 2026-04-05 00:00, not 2099) gives both the same run.
    assert_same_results(compute(catalog, period="2026-03"), compute(catalog, period="2026-03", engine="duckdb"))


def test_the_notes_over_every_record_are_one_statement_saying_what_each_said_alone(tmp_path: Path) -> None:
    """The notes counted over every record read (the moment's cuts, NaN values, the newest and oldest stamps) are one
    statement, so that the engine reads the records once for them: each says what its own statement over its own
    relation says. The newest and oldest are over the records known at the moment, said over every record: a
    stamp after the moment blanked, a record opened after it left out, even one whose closing (a data error) is
    recorded before the moment and after every known stamp."""
    from datetime import datetime

    import duckdb
    import polars as pl

    from civic_kpi.engine.sql import executor_class
    from civic_kpi.engine.sql.direct import direct_read
    from civic_kpi.engine.sql.notes import FusedNotes, _after_moment, _nonfinite, _span, dataset_notes

    catalog = _notes_case(tmp_path)
    pl.DataFrame(
        [{"opened": datetime(2026, 4, 5), "closed": datetime(2026, 3, 31, 23, 59, 59, 900_000), "kind": "Pothole",
          "team": "A", "wait": 1.0, "status": "Closed"}]
    ).write_parquet(tmp_path / "data" / "calls_3.parquet")  # fmt: skip
    plan = civic_kpi.Session(catalog, as_of="2026-04-01 00:00").plan("2026-03")
    executor = executor_class("duckdb")(plan.request, files={n: d.files for n, d in plan.datasets.items()})
    dp = plan.datasets["calls"]
    read = direct_read(executor, plan, dp)
    assert read is not None
    fused = (dataset_notes(executor, plan, dp, read) or [])[0]
    assert isinstance(fused, FusedNotes) and len(fused.selects) == 1
    counted = ["opened", "closed"]
    alone = {
        "moment:calls": _after_moment(executor, plan, dp, read, counted),
        "nonfinite:calls": _nonfinite(read, ["wait"]),
        "span:calls": _span(executor, dp, read),
    }
    with duckdb.connect() as connection:
        together = fused.frames([connection.sql(executor.sql(fused.selects[0], "calls")).pl()])
        assert set(together) == set(alone)
        for key, select in alone.items():
            assert together[key].to_dicts() == connection.sql(executor.sql(select, "calls")).pl().to_dicts(), key
    # By hand: Curb opened 03-31 23:59:59 is the newest known stamp (Sign's 04-03 closing is blanked, the record
    # opened 04-05 did not exist); 1850 is before 1900, so the oldest is 03-02.
    assert together["span:calls"].to_dicts() == [
        {"newest": datetime(2026, 3, 31, 23, 59, 59), "oldest": datetime(2026, 3, 2, 8)}
    ]
    assert together["nonfinite:calls"].to_dicts() == [{"wait": 2}]


def test_the_newest_stamp_skips_a_column_without_any(tmp_path: Path) -> None:
    """No request closed by the moment: the newest stamp is the newest opening, and the note that the moment is
    after it is written on DuckDB too (a maximum of none once made the newest missing, and the note silent)."""
    import polars as pl

    catalog = _notes_case(tmp_path)
    for file in NOTES_FILES:
        (tmp_path / "data" / file).unlink()
    rows = {"opened": [datetime(2026, 3, 2, 8), datetime(2026, 3, 9, 17)], "closed": [None, None],
            "kind": ["Pothole"] * 2, "team": ["A", "B"], "wait": [1.0, 2.0], "status": ["Open", "Open"]}  # fmt: skip
    pl.DataFrame(rows, schema_overrides={"closed": pl.Datetime("us")}).write_parquet(
        tmp_path / "data" / "calls_1.parquet"
    )
    runs = [compute(catalog, period="2026-03", as_of="2026-04-01 00:00", engine=e) for e in ("polars", "duckdb")]
    assert_same_results(*runs)
    assert "is after the newest record (2026-03-09 17:00)" in " | ".join(runs[1].notes)


def test_duckdb_refuses_too_many_groups_before_it_aggregates(tmp_path: Path) -> None:
    """The group limit is checked on the records DuckDB reads itself: the same refusal, word for word."""
    catalog = _notes_case(tmp_path)
    errors = []
    for engine in ("polars", "duckdb"):
        with pytest.raises(UsageError) as raised:
            compute(catalog, period="2026-03", as_of="2026-04-01 00:00", max_groups=2, engine=engine)
        errors.append(str(raised.value))
    # A, B and the missing team among the records known at the moment (C opened after it): three groups.
    assert errors[0] == errors[1] and "3 distinct values in dataset 'calls'" in errors[0]


@pytest.mark.parametrize("unit", ["ms", "ns"])
def test_a_typed_parquet_export_read_by_the_engine_itself(tmp_path: Path, engine: str, unit: str) -> None:
    """DuckDB reads a Parquet export whose columns are typed as the catalog reads them itself, preparing the records
    in SQL (engine/sql/direct.py) as the data layer would: a blank text missing, a text kept as stored, NaN and
    infinity missing, a text boolean, a stamp after the moment blanked, a record after it left out, a derived
    column. A nanosecond timestamp, which SQL would round another way, is prepared by Polars instead."""
    from datetime import date, datetime

    import polars as pl

    from civic_kpi.engine.sql import executor_class
    from civic_kpi.engine.sql.direct import direct_records

    (tmp_path / "kpis.yaml").write_text(TYPED_CATALOG, encoding="utf-8")
    stamp = pl.Datetime(unit)
    frame = pl.DataFrame(
        {
            "id": pl.Series([1, 2, 3, 4, 5], dtype=pl.Int32),
            "team": ["A", "A ", "", None, "A"],
            "wait": pl.Series([1.5, float("nan"), float("inf"), 2.0, 4.0], dtype=pl.Float32),
            "urgent": [True, False, None, True, True],
            "first_contact": ["Y", "N", "", None, "Y"],
            "due": [date(2026, 3, 2), date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 30), date(2026, 3, 30)],
            "opened": pl.Series(
                [datetime(2026, 3, 1, 8), datetime(2026, 3, 2, 8), datetime(2026, 3, 3, 8), datetime(2026, 3, 29, 8),
                 datetime(2026, 4, 2, 8)],  # the last one after the moment: it did not exist yet
                dtype=stamp,
            ),
            "closed": pl.Series(
                [datetime(2026, 3, 1, 10), datetime(2026, 3, 4, 8), None, datetime(2026, 4, 1, 9),  # after the moment
                 datetime(2026, 4, 3, 8)],
                dtype=stamp,
            ),
        }
    )  # fmt: skip
    (tmp_path / "data").mkdir()
    frame.write_parquet(tmp_path / "data" / "calls.parquet")
    catalog = tmp_path / "kpis.yaml"
    polars_run = compute(catalog, period="2026-03", as_of="2026-04-01 00:00")
    sql_run = compute(catalog, period="2026-03", as_of="2026-04-01 00:00", engine=engine)
    assert_same_results(polars_run, sql_run)
    values = {(r.kpi_id, tuple((r.group or {}).items())): r.value for r in sql_run.results}
    # By hand, the four records opened by the moment: teams "A", "A " (as stored), blank and missing (one group).
    assert {k[1]: v for k, v in values.items() if k[0] == "calls"} == {
        (): 4,
        (("team", "A"),): 1,
        (("team", "A "),): 1,
        (("team", None),): 2,
    }
    assert values[("waited", ())] == 3.5  # 1.5 and 2.0: NaN and infinity are missing
    assert values[("urgent", ())] == 2 and values[("resolved", ())] == 50.0  # Y of Y and N (blank is missing)
    assert values[("open", ())] == 2  # never closed, and closed after the moment (blanked)
    assert values[("late", ())] == 1  # closed 03-04 08:00, after its due day 03-02 + 1 day
    assert values[("hours", ())] == 25.0  # the median of 2 and 48 hours
    if engine in ("duckdb", "spark"):  # the engines that read this machine's files (Spark: a local session)
        plan = civic_kpi.Session(catalog, as_of="2026-04-01 00:00").plan("2026-03")
        executor = executor_class(engine)(plan.request, files={n: d.files for n, d in plan.datasets.items()})
        direct = direct_records(executor, plan, plan.datasets["calls"])
        assert (direct is not None) == (unit == "ms")


@pytest.mark.parametrize(("folder", "direct"), [("exports #2, Q1", True), ("100% sample", False)])
def test_spark_reads_typed_parquet_files_by_column_name_or_leaves_them_to_polars(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, folder: str, direct: bool
) -> None:
    """A local Spark reads a typed Parquet export itself, file by file, each file's columns taken by name (the
    second file orders them its own way; Spark SQL has no union by name). Hadoop takes a path's % as an escape, so
    a folder named "100% sample" is prepared by Polars instead: the same numbers either way."""
    from datetime import datetime

    import polars as pl

    from civic_kpi.engine.sql import executor_class
    from civic_kpi.engine.sql.direct import direct_records

    _use_engine("spark", request, monkeypatch)
    catalog_text = TYPED_CATALOG.replace("data_dir: data", f"data_dir: '{folder}'").replace(
        "path: calls.parquet", "path: 'calls *.parquet'"
    )
    (tmp_path / "kpis.yaml").write_text(catalog_text, encoding="utf-8")
    (tmp_path / folder).mkdir()
    march = pl.DataFrame(
        {
            "id": [1, 2, 3],
            "team": ["A", "B", ""],
            "wait": [1.5, float("nan"), 3.0],
            "urgent": [True, False, None],
            "first_contact": ["Y", "N", None],
            "due": [datetime(2026, 3, 2).date()] * 3,
            "opened": [datetime(2026, 3, 1, 8), datetime(2026, 3, 2, 9), datetime(2026, 3, 31, 23, 59, 59)],
            "closed": [datetime(2026, 3, 1, 10), datetime(2026, 3, 5, 9), None],
        }
    )
    april = march.with_columns(pl.col("opened", "closed").dt.offset_by("1mo"), pl.col("id") + 3)
    march.write_parquet(tmp_path / folder / "calls 2026-03.parquet")
    april.select(reversed(april.columns)).write_parquet(tmp_path / folder / "calls 2026-04.parquet")
    catalog = tmp_path / "kpis.yaml"
    options = {"period": "2026-01-01..2026-06-30", "every": "month", "as_of": "2026-05-01 00:00"}
    assert_same_results(compute(catalog, **options), compute(catalog, engine="spark", **options))
    plan = civic_kpi.Session(catalog, as_of=options["as_of"]).plan("2026-03")
    executor = executor_class("spark")(plan.request, files={n: d.files for n, d in plan.datasets.items()})
    assert (direct_records(executor, plan, plan.datasets["calls"]) is not None) is direct


def test_without_a_timezone_durations_are_wall_clock_time(tmp_path: Path, engine: str) -> None:
    """A catalog that names no zone: no instants are made, and 01:30 to 03:30 on the night of the change is the two
    hours the clock shows, on every engine."""
    (tmp_path / "kpis.yaml").write_text(DST_CATALOG.replace("timezone: America/Chicago\n", ""), encoding="utf-8")
    rows = [[1, "A", "2026-03-08 01:30:00", "2026-03-08 03:30:00", "2026-03-08"]]
    write_csv(tmp_path / "data" / "calls.csv", ["id", "team", "opened", "closed", "due"], rows)
    polars_run = compute(tmp_path / "kpis.yaml", period="2026-03", as_of="2026-04-30", kpis=["hours_to_close"])
    sql_run = compute(
        tmp_path / "kpis.yaml", period="2026-03", as_of="2026-04-30", kpis=["hours_to_close"], engine=engine
    )
    assert_same_results(polars_run, sql_run)
    assert next(r for r in sql_run.results if not r.group).value == 2.0


ARITHMETIC = {  # formulas whose SQL once said something else: brackets, None in a list, 0.1, a division by zero
    "bracketed_divisor": "sum(x / (y + z))",
    "ratio_of_sums": "sum(x) / (count() + 1)",
    "condition_compared": "count((b or x > 1) == False)",
    "nulls_compared": "count((s is None) == (x is None))",
    "none_in_list": "count(team in ['A', None])",
    "none_not_in_list": "count(team not in ['A', None])",
    "decimal_literal": "count(score * 0.1 > 0.3)",
    "min_of_division": "min(x / y)",
    "max_of_division": "max(x / y)",
    "max_of_nan": "max(x / (y - y))",
    "division_compared": "count(x / y < 1)",
    "date_and_hours": "count(d + hours(1) > o)",
    "date_and_days": "count(d + days(1) > o)",
    "sum_of_fractions": "sum(2 / (y + 1))",
    "max_of_derived_division": "max(ratio)",  # a derived column that divides: its 0 / 0 is NaN too
    "min_of_derived_division": "min(ratio)",
}


def test_arithmetic_and_lists_mean_the_same_in_sql(tmp_path: Path, engine: str) -> None:
    """Formulas in every shape the SQL writer got wrong once (a reviewer's cases, each once a silent wrong number):
    the same value, or the same 'not finite', on every engine."""
    kpis = "".join(
        f"""  - {{id: {name}, name: {name}, domain: D, unit: count, dataset: things, value: "{formula}"}}\n"""
        for name, formula in ARITHMETIC.items()
    )
    (tmp_path / "kpis.yaml").write_text(
        f"""version: 1
title: arithmetic
data_dir: data
datasets:
  things:
    path: things.csv
    date_column: o
    columns:
      x: {{type: float}}
      y: {{type: integer}}
      z: {{type: integer}}
      b: {{type: boolean, true_values: ["T"]}}
      s: s
      team: team
      score: {{type: float}}
      d: {{type: date, format: "%Y-%m-%d"}}
      o: {{type: datetime, format: "%Y-%m-%d %H:%M:%S"}}
    derived:
      ratio: x / y
kpis:
{kpis}""",
        encoding="utf-8",
    )
    header = ["x", "y", "z", "b", "s", "team", "score", "d", "o"]
    rows = [
        [10.0, 1, 3, "T", None, "A", 1.0, "2026-01-01", "2026-01-01 00:30:00"],
        [20.0, 2, 5, "F", "a", None, 2.0, "2026-01-01", "2026-01-01 00:30:00"],
        [0.0, 0, 0, None, "b", "B", 3.0, "2026-01-01", "2026-01-01 00:30:00"],
        [-1.0, 0, 0, "T", None, "A", 4.0, "2026-01-01", "2026-01-01 00:30:00"],
    ]
    write_csv(tmp_path / "data" / "things.csv", header, rows)
    polars_run = compute(tmp_path / "kpis.yaml", period="2026-01", as_of="2026-02-01")
    sql_run = compute(tmp_path / "kpis.yaml", period="2026-01", as_of="2026-02-01", engine=engine)
    assert_same_results(polars_run, sql_run)
    values = {r.kpi_id: r.value for r in sql_run.results}
    # By hand: (b or x > 1) is true, true, missing, true: never equal to False; a None in a list matches nothing;
    # 0.1 * 3 and 0.1 * 4 exceed 0.3 in floating point, 0.1 * 3 by its last bit.
    assert (values["condition_compared"], values["none_in_list"], values["none_not_in_list"]) == (0, 2, 1)
    assert values["decimal_literal"] == 2 and values["bracketed_divisor"] is None  # 0 / 0 makes the sum NaN
    assert values["min_of_division"] is None and values["max_of_division"] == 10.0  # -inf is not finite
    # The derived ratio is 10, 10, NaN and -inf: its max skips the NaN as Polars does; its min is -inf.
    assert values["max_of_derived_division"] == 10.0 and values["min_of_derived_division"] is None


# ---------------------------------------------------------------- the SQL itself


def test_the_sql_is_exact_filtered_aggregates(sample) -> None:
    """Filtered aggregates, the breakdowns of the same KPIs as grouping sets of one SELECT: the two-valued
    comparisons, PERCENTILE.INC and no approximate function anywhere in the bundled catalog's SQL."""
    from civic_kpi.engine.request import resolve
    from civic_kpi.engine.sql import executor_class
    from civic_kpi.engine.sql.executor import SqlExecutor
    from civic_kpi.engine.sql.grouping import statements

    request = resolve(sample, every="month")
    executor = executor_class("duckdb")(request)
    assert isinstance(executor, SqlExecutor)
    plan = civic_kpi.Session(sample).plan(every="month")
    grouped = [(dp, queries) for dp in plan.datasets.values() for queries in statements(dp)]
    # Fewer statements than queries: the breakdowns share a reading of the records.
    assert len(grouped) < len(plan.queries)
    assert sorted(q.key for _, queries in grouped for q in queries) == sorted(q.key for q in plan.queries)
    texts = [executor.statement(plan, dp, queries).sql("duckdb") for dp, queries in grouped]
    sql = "\n".join(texts)
    assert "GROUPING SETS (" in sql and "GROUPING(" in sql
    assert "FILTER(WHERE" in sql and "QUANTILE_CONT(" in sql and "COALESCE(" in sql
    assert "APPROX" not in sql.upper() and "RESERVOIR" not in sql.upper()
    assert all(text.startswith("SELECT ") and " FROM records" in text for text in texts)


# ---------------------------------------------------------------- what it refuses, and how


def test_a_percentile_method_sql_does_not_compute_is_refused_by_name(tmp_path: Path, cli) -> None:
    (tmp_path / "kpis.yaml").write_text(
        DST_CATALOG.replace(
            "percentile(hours_between(opened, closed), 50)",
            "percentile(hours_between(opened, closed), 50, method='nearest')",
        ),
        encoding="utf-8",
    )
    write_csv(tmp_path / "data" / "calls.csv", ["id", "team", "opened", "closed", "due"],
              [[1, "A", "2026-03-02 08:00:00", "2026-03-02 09:00:00", "2026-03-03"]])  # fmt: skip
    result = cli("compute", "-c", tmp_path / "kpis.yaml", "--period", "2026-03", "--engine", "duckdb")
    assert result.exit_code == 2
    assert "KPI 'p50_hours'" in result.stderr and "'nearest'" in result.stderr
    assert "--engine polars" in result.stderr and "Traceback" not in result.stderr
    assert cli("compute", "-c", tmp_path / "kpis.yaml", "--period", "2026-03").exit_code == 0


def test_an_unknown_engine_a_missing_package_or_server_say_what_to_do(sample, monkeypatch) -> None:
    with pytest.raises(UsageError, match="unknown engine 'oracle'"):
        compute(sample, engine="oracle")
    for engine, module, extra in (("duckdb", "duckdb", "duckdb"), ("postgres", "psycopg", "postgres"),
                                  ("spark", "pyspark", "spark")):  # fmt: skip
        for name in (module, *(["pyspark.sql"] if module == "pyspark" else [])):  # not installed, even if imported
            monkeypatch.setitem(sys.modules, name, None)
        with pytest.raises(UsageError, match=rf"(?s)needs the {module} package.*pip install 'civic-kpi\[{extra}\]'"):
            compute(sample, engine=engine)
    monkeypatch.delenv("CIVIC_KPI_POSTGRES", raising=False)
    monkeypatch.delitem(sys.modules, "psycopg")
    with pytest.raises(UsageError, match="CIVIC_KPI_POSTGRES is not set"):
        compute(sample, engine="postgres")
    monkeypatch.setenv("CIVIC_KPI_POSTGRES", "host=/nonexistent/socket/folder dbname=kpis")
    with pytest.raises(UsageError, match=r"cannot connect to PostgreSQL \(CIVIC_KPI_POSTGRES\)"):
        compute(sample, engine="postgres")


def test_the_cli_gives_the_same_json_on_either_engine(cli) -> None:
    documents = []
    for engine in ("polars", "duckdb"):
        result = cli("compute", "--every", "quarter", "-f", "json", "--engine", engine)
        assert result.exit_code == 0, result.stderr
        document = json.loads(result.stdout)
        document.pop("generated_at")
        documents.append(document)
    polars_doc, duckdb_doc = documents
    assert _differences(polars_doc, duckdb_doc) == []


def test_the_installed_script_takes_the_engine_option(tmp_path: Path) -> None:
    out = tmp_path / "review.csv"
    done = subprocess.run(
        [sys.executable, "-m", "civic_kpi.cli", "review", "--engine", "duckdb", "-f", "csv", "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        cwd=CATALOG.parent,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8").startswith("month,")


@pytest.mark.slow
def test_a_local_spark_keeps_its_log_to_itself(tmp_path: Path, spark_ready) -> None:
    """A process of its own (Spark's JVM starts with it): Spark's start-up warnings (a loopback hostname, no native
    Hadoop, its default logging profile) stay out of a quiet run's stderr."""
    out = tmp_path / "month.json"
    command = [sys.executable, "-m", "civic_kpi.cli", "compute", "--engine", "spark", "--kpi", "sla_compliance"]
    done = subprocess.run(
        [*command, "-f", "json", "-o", str(out), "-q"], capture_output=True, text=True, cwd=CATALOG.parent, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["results"]
    assert " WARN " not in done.stderr and "log4j" not in done.stderr, done.stderr
    # A query Spark refuses is one line naming the dataset, without PySpark's JSON log of the JVM's stack trace.
    script = (
        "from civic_kpi.engine.sql import sql_engine\n"
        "engine = sql_engine('spark')\n"
        "with engine.connect() as session:\n"
        "    try:\n"
        "        engine.run(session, 'SELECT no_such_column FROM (SELECT 1 AS a)', 'calls')\n"
        "    except Exception as error:\n"
        "        print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.stdout.startswith("dataset calls: spark refused a query: [UNRESOLVED_COLUMN"), done.stdout
    assert "SQLQueryContextLogger" not in done.stderr and "Py4JJavaError" not in done.stderr, done.stderr


SPARK_CONNECT = """
from pyspark.sql import SparkSession

from civic_kpi.engine import compute
from civic_kpi.engine.sql.spark_engine import _local
from tests.conftest import CATALOG
from tests.test_sql_engine import assert_same_results

session = SparkSession.builder.remote("local[2]").getOrCreate()
session.conf.set("spark.sql.session.timeZone", "America/New_York")  # not the catalog's zone, nor UTC
assert not _local(session)
polars_run = compute(CATALOG, every="month")
spark_run = compute(CATALOG, every="month", engine="spark")
assert_same_results(polars_run, spark_run)
print("agree", len(spark_run.results))
"""


@pytest.mark.slow
def test_a_spark_connect_session_gets_the_records_through_the_driver(spark_connect_ready) -> None:
    """A job's Spark Connect session (a cluster's server cannot read this machine's temporary files): civic-kpi uses
    it as it finds it, sends the records it stages through the driver as Arrow, and gives the Polars engine's
    results for every KPI of the bundled catalog's monthly series, the deadlines' view included, in a session whose
    zone is neither the catalog's nor UTC. A process of its own: the local Connect server is a JVM of its own."""
    done = subprocess.run(
        [sys.executable, "-c", SPARK_CONNECT], capture_output=True, text=True, cwd=CATALOG.parent, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("agree "), done.stdout


# ---------------------------------------------------------------- civic-kpi sql, and explain's SQL


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark", "snowflake", "bigquery", "trino"])
def test_sql_prints_each_dialect_with_what_records_must_hold(cli, dialect: str) -> None:
    result = cli("sql", "sla_compliance", "records_on_time", "--period", "2026-10", "--dialect", dialect)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.startswith("-- civic-kpi 2026-10, as of ")
    # The SLA deadlines are added to the records as known at the moment by a view, on a calendar table.
    assert "-- dataset service_requests: `known_records` is its records as known at the moment" in text
    assert "-- `records` adds sla_due_at, the SLA policy's deadlines" in text
    # temporary where the dialect has temporary views: nothing left in the warehouse
    temporary = "" if dialect in ("bigquery", "trino") else "TEMPORARY "
    assert text.count(f"CREATE OR REPLACE {temporary}VIEW") == 1
    assert "-- dataset records_requests: `records` is its records as known at the moment" in text
    # The view, then one statement per dataset and breakdown (sla_compliance overall and by its catalog's priority),
    # each named.
    statements = [part for part in text.split(";\n") if part.strip()]
    assert len(statements) == 4
    assert text.count("\n-- sla_compliance") + text.count("\n-- records_on_time") == 3
    assert text.rstrip().endswith(";")
    if dialect == "postgres":
        assert "TIMESTAMPDIFF" not in text.upper()


def test_sql_refuses_a_dialect_that_cannot_say_a_kpi_exactly(cli) -> None:
    for dialect in ("trino", "bigquery"):
        result = cli("sql", "time_to_close_p90", "--dialect", dialect)
        assert result.exit_code == 2
        assert "KPI 'time_to_close_p90'" in result.stderr and "exact percentile" in result.stderr
        assert result.stdout == ""
    result = cli("sql", "sla_compliance", "--dialect", "oracle")
    assert result.exit_code == 2 and "oracle" in result.stderr


@pytest.mark.parametrize("kpi", ["first_contact_resolution", "sla_compliance"])
def test_the_postgres_sql_that_sql_prints_is_what_the_engine_runs(
    cli, postgres_url, monkeypatch, tmp_path, kpi: str
) -> None:
    """Run the printed PostgreSQL statements on the server over the records the engine would load: the numbers
    compute --engine postgres reports come out of them. For sla_compliance, the records come without their SLA
    deadlines (`known_records`), and the printed view adds them on its calendar table."""
    import psycopg

    from civic_kpi.data.known import known_records
    from civic_kpi.engine.sql import executor_class
    from civic_kpi.engine.sql.dialects import RECORDS, STAGED

    monkeypatch.setenv("CIVIC_KPI_POSTGRES", postgres_url)
    printed = cli("sql", kpi, "--period", "2026-10", "--by", "priority", "--dialect", "postgres")
    assert printed.exit_code == 0, printed.stderr
    assert ("CREATE OR REPLACE TEMPORARY VIEW" in printed.stdout) is (kpi == "sla_compliance")
    session = civic_kpi.Session(CATALOG, engine="postgres")
    plan = session.plan("2026-10", by=[["priority"]], kpis=[kpi])
    executor = executor_class("postgres")(plan.request, files={n: d.files for n, d in plan.datasets.items()})
    dp = next(iter(plan.datasets.values()))
    view = executor.records_view(plan, dp)
    records = known_records(executor.frame(dp, plan)).select(executor.staged_columns(plan, dp, view))
    assert "sla_due_at" not in records.collect_schema()  # for sla_compliance, the printed view adds it
    engine = executor.sql_engine
    engine.stage(records, tmp_path / "records.csv").collect()
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        staged = RECORDS if view is None else STAGED
        engine.load(connection, tmp_path / "records.csv", records.collect_schema(), dp.name, staged)
        found = []
        for statement in (part for part in printed.stdout.split(";\n") if "SELECT" in part):
            if "CREATE OR REPLACE TEMPORARY VIEW" in statement:
                connection.execute(statement)
            else:
                found.append(engine.run(connection, statement, dp.name))
    by_priority = next(frame for frame in found if "priority" in frame.columns)
    run = session.compute("2026-10", by=[["priority"]], kpis=[kpi])
    assert [r for r in run.results if r.group]
    for result in (r for r in run.results if r.group):
        row = by_priority.filter(by_priority["priority"] == result.group["priority"]).row(0, named=True)
        assert row["0|2026-10|sample"] == result.sample_size
        if kpi == "sla_compliance":
            assert 100 * row["0|2026-10|numerator"] / row["0|2026-10|denominator"] == pytest.approx(result.value)


def test_explain_shows_the_sql_a_sql_engine_ran(cli) -> None:
    ours = cli("explain", "sla_compliance", "--period", "2026-10", "-f", "json")
    theirs = cli("explain", "sla_compliance", "--period", "2026-10", "-f", "json", "--engine", "duckdb")
    assert ours.exit_code == theirs.exit_code == 0
    polars_doc, duckdb_doc = json.loads(ours.stdout), json.loads(theirs.stdout)
    assert (polars_doc["engine"], duckdb_doc["engine"]) == ("polars", "duckdb")
    assert duckdb_doc["result"]["value"] == polars_doc["result"]["value"]
    # The view adding the SLA deadlines, then the statement
    assert duckdb_doc["query_plan"].startswith("-- records: ") and "\n\nSELECT" in duckdb_doc["query_plan"]
    assert "FILTER(WHERE" in duckdb_doc["query_plan"]
    text = cli("explain", "sla_compliance", "--period", "2026-10", "--engine", "duckdb").stdout
    assert "SQL run by duckdb" in text and "Polars plan" not in text
    assert "read from the files" not in text  # a CSV export: the records were prepared by Polars and staged
    # and DuckDB added the SLA deadlines, on the calendar table its view makes
    assert "-- records: the records Polars prepared (known_records) with their SLA deadlines, added by duckdb" in text
    assert "AS workday" in text
    typed = cli("explain", "open_data_utilization_per_1k", "--period", "2026-10", "--engine", "duckdb").stdout
    assert "records: read from the files by duckdb itself" in typed and "READ_PARQUET(" in typed


# ---------------------------------------------------------------- what DuckDB would read otherwise than Polars


def _parquet_case(tmp_path: Path, files: dict[str, dict], columns: str, kpis: str, path: str = "*.parquet") -> Path:
    import polars as pl

    for name, data in files.items():
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame(data).write_parquet(tmp_path / "data" / name)
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(
        "version: 1\ntitle: t\ndata_dir: data\ndatasets:\n  calls:\n"
        f"    path: '{path}'\n    date_column: opened\n    columns:\n      opened: {{type: datetime}}\n{columns}"
        f"kpis:\n{kpis}",
        encoding="utf-8",
    )
    return catalog


def _direct(catalog: Path, period: str = "2026-03", as_of: str = "2026-04-01") -> bool:
    """Whether DuckDB reads the dataset `calls` itself (direct.py), rather than the records Polars prepared."""
    from civic_kpi.engine.sql import executor_class
    from civic_kpi.engine.sql.direct import direct_records

    plan = civic_kpi.Session(catalog, as_of=as_of).plan(period)
    executor = executor_class("duckdb")(plan.request, files={n: d.files for n, d in plan.datasets.items()})
    return direct_records(executor, plan, plan.datasets["calls"]) is not None


OPENED = [datetime(2026, 3, 2, 8), datetime(2026, 3, 3, 8)]


@pytest.mark.parametrize(
    ("case", "direct"),
    [("folder named like a partition", True), ("brackets in a file name", False), ("columns differing in case", False),
     ("a flag folding case", False), ("texts joined", False), ("a NaN's column in a condition", True)],
)  # fmt: skip
def test_what_duckdb_would_read_otherwise_is_read_as_polars_reads_it(tmp_path: Path, case: str, direct: bool) -> None:
    """Each once gave DuckDB other numbers than Polars, or an error (a reviewer's cases): the records are then read by
    the data layer and staged, or the SQL says what Polars does."""
    count = "  - {id: n, name: N, domain: D, unit: count, dataset: calls, value: count(), group_by: [[team]]}\n"
    if case == "folder named like a partition":  # team=7/: DuckDB would read a column team = 7 from the folder
        files = {"team=7/calls.parquet": {"opened": OPENED, "team": [1, 2]}}
        catalog = _parquet_case(tmp_path, files, "      team: {type: integer}\n", count, "team=7/*.parquet")
    elif case == "brackets in a file name":  # m[1].parquet: a pattern to DuckDB, which matches m1.parquet
        files = {
            "m1.parquet": {"opened": OPENED, "team": ["A", "A"]},
            "m[1].parquet": {"opened": OPENED[:1], "team": ["B"]},
        }
        catalog = _parquet_case(tmp_path, files, "      team: team\n", count)
    elif case == "columns differing in case":  # a quoted "team" is Team to DuckDB
        files = {"calls.parquet": {"opened": OPENED, "Team": ["x", "y"], "team": ["A", "B"]}}
        catalog = _parquet_case(tmp_path, files, "      team: team\n", count)
    elif case == "a flag folding case":  # upper('Straße') is STRASSE in Polars, STRAẞE in DuckDB
        files = {"calls.parquet": {"opened": OPENED + OPENED[:1], "team": ["Straße", "strasse", "other"]}}
        flags = (
            "    flags:\n      on_street: {column: team, true_for: [STRASSE], false_for: [OTHER], ignore_case: true}\n"
        )
        kpi = "  - {id: n, name: N, domain: D, unit: count, dataset: calls, value: count(on_street)}\n"
        catalog = _parquet_case(tmp_path, files, "      team: team\n" + flags, kpi)
    elif case == "texts joined":  # first + last joins texts in Polars; SQL's + adds numbers
        files = {"calls.parquet": {"opened": OPENED, "team": ["a", "c"], "unit": ["b", "d"]}}
        derived = "      team: team\n      unit: unit\n    derived:\n      both: team + unit\n"
        kpi = "  - {id: n, name: N, domain: D, unit: count, dataset: calls, value: \"count(both == 'ab')\"}\n"
        catalog = _parquet_case(tmp_path, files, derived, kpi)
    else:  # the max of a timestamp chosen by a condition on a ratio: no NaN test on a timestamp (isnan fails)
        files = {"calls.parquet": {"opened": OPENED, "a": [1.0, 0.0], "b": [2.0, 0.0]}}
        derived = "      a: {type: float}\n      b: {type: float}\n    derived:\n      ratio: a / b\n"
        value = 'days_between(date("2026-03-01"), max(if_else(ratio > 0, opened, opened)))'
        kpi = f"  - {{id: n, name: N, domain: D, unit: days, dataset: calls, value: '{value}'}}\n"
        catalog = _parquet_case(tmp_path, files, derived, kpi)
    polars_run = compute(catalog, period="2026-03", as_of="2026-04-01")
    sql_run = compute(catalog, period="2026-03", as_of="2026-04-01", engine="duckdb")
    assert_same_results(polars_run, sql_run)
    assert _direct(catalog) is direct
    values = {tuple((r.group or {}).items()): r.value for r in sql_run.results}
    by_hand = {
        "folder named like a partition": {(): 2, (("team", "1"),): 1, (("team", "2"),): 1},
        "brackets in a file name": {(): 3, (("team", "A"),): 2, (("team", "B"),): 1},
        "columns differing in case": {(): 2, (("team", "A"),): 1, (("team", "B"),): 1},
        "a flag folding case": {(): 2},
        "texts joined": {(): 1},
        "a NaN's column in a condition": {(): pytest.approx(2 + 8 / 24)},  # 03-01 to 03-03 08:00
    }
    assert values == by_hand[case]


# ---------------------------------------------------------------- SLA deadlines through a calendar table

DEADLINE_CATALOG = """\
version: 1
title: t
data_dir: data
calendars:
  city: {holidays: {country: US}, closures: [2026-11-27]}
sla_policies:
  by_type:
    key: request_type
    days: sla_days
    day_type: day_type
    calendar: city
    rows:
      - {request_type: Pothole, sla_days: 2, day_type: business}
      - {request_type: Sign, sla_days: 10, day_type: business}
      - {request_type: Graffiti, sla_days: 0, day_type: business}
      - {request_type: Sidewalk, sla_days: 45, day_type: calendar}
      - {request_type: ' Noise ', sla_days: 1, day_type: calendar}
  records_law:
    key: rule
    days: days
    day_type: kind
    calendar: city
    rows: [{rule: every request, days: 3, kind: business}]
datasets:
  calls:
    path: calls.parquet
    date_column: created
    columns:
      id: {type: string}
      created: {type: datetime}
      received: {type: date}
      request_type: KEY_TYPE
    deadlines:
      due: {policy: by_type, start: created, key: request_type}
      answer_by: {policy: records_law, start: received}
kpis:
  - {id: hours_to_due, name: Hours, domain: D, unit: hours, dataset: calls,
     value: "max(hours_between(created, due))", group_by: [[id]]}
  - {id: days_to_answer, name: Days, domain: D, unit: days, dataset: calls,
     value: "max(days_between(received, answer_by))", group_by: [[id]]}
  - {id: no_deadline, name: None, domain: D, unit: count, dataset: calls, value: "count(due is None)"}
"""
# id: start, request type, received; the deadline worked out on a calendar: US federal holidays (Veterans Day Wed
# 11-11, Thanksgiving Thu 11-26, Christmas Fri 12-25, New Year Fri 01-01) and the city's closure Fri 11-27.
DEADLINE_RECORDS = {
    # a Sunday: WORKDAY counts Mon 11-02 (1), Tue 11-03 (2): 48 h
    "a": (datetime(2026, 11, 1, 12), "Pothole", (2026, 11, 1)),
    # Tue 11-10 23:59:59, over Veterans Day: Thu 11-12 (1), Fri 11-13 (2) at the same second: 72 h
    "b": (datetime(2026, 11, 10, 23, 59, 59), "Pothole", (2026, 11, 10)),
    # Wed 11-25 at midnight, over Thanksgiving and the closure: Mon 11-30 (1), Tue 12-01 (2): 6 days
    "c": (datetime(2026, 11, 25), "Pothole", (2026, 11, 25)),
    # a Saturday with zero business days: the start itself
    "d": (datetime(2026, 11, 28, 9), "Graffiti", (2026, 11, 28)),
    # the earliest start, a Saturday (the calendar table's first day: answered by Wed 03-11); calendar days (the
    # table's key ' Noise ' is trimmed): 24 h, over the clock change in naive wall-clock time
    "e": (datetime(2026, 3, 7, 12), "Noise", (2026, 3, 7)),
    # 45 calendar days from the last second of a month
    "f": (datetime(2026, 11, 30, 23, 59, 59), "Sidewalk", (2026, 11, 30)),
    # no rule for this type, and no type at all: no deadline
    "g": (datetime(2026, 11, 24), "Unknown", (2026, 11, 24)),
    "h": (datetime(2026, 11, 20, 8), None, (2026, 11, 20)),
    # the latest start, 10 business days over Christmas and New Year: 12-28..31 (4), 01-04..08 (9), 01-11 (10)
    "i": (datetime(2026, 12, 24, 15), "Sign", (2026, 12, 24)),
    # after the moment: it did not exist yet
    "j": (datetime(2027, 1, 2, 10), "Pothole", (2027, 1, 2)),
    # outside the period, and the calendar's first day: decades before the Monday its weekdays are counted from
    "k": (datetime(1999, 6, 1, 9), "Pothole", (1999, 6, 1)),
}
HOURS_TO_DUE = {"a": 48, "b": 72, "c": 144, "d": 0, "e": 24, "f": 45 * 24, "g": None, "h": None, "i": 18 * 24}
# received + 3 business days: a Sunday 11-01 -> Wed 11-04; Tue 11-10 -> Mon 11-16 (over Veterans Day); Wed 11-25 ->
# Wed 12-02; Sat 11-28 -> Wed 12-02; Sat 03-07 -> Wed 03-11; Mon 11-30 -> Thu 12-03; Tue 11-24 -> Tue 12-01 (over
# Thanksgiving and the closure); Fri 11-20 -> Wed 11-25; Thu 12-24 -> Wed 12-30
DAYS_TO_ANSWER = {"a": 3, "b": 6, "c": 7, "d": 4, "e": 4, "f": 3, "g": 7, "h": 5, "i": 6}


def _deadline_case(tmp_path: Path, key_type: str) -> Path:
    from datetime import date

    import polars as pl

    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(DEADLINE_CATALOG.replace("KEY_TYPE", key_type), encoding="utf-8")
    (tmp_path / "data").mkdir()
    records = DEADLINE_RECORDS.items()
    pl.DataFrame(
        {
            "id": [id_ for id_, _ in records],
            "created": [start for _, (start, _, _) in records],
            "received": [date(*day) for _, (_, _, day) in records],
            "request_type": [kind for _, (_, kind, _) in records],
        }
    ).write_parquet(tmp_path / "data" / "calls.parquet")
    return catalog


def test_sla_deadlines_on_a_calendar_table_agree_with_the_workday_rule(tmp_path: Path, engine: str) -> None:
    """DuckDB reads a typed export with SLA deadlines itself, counting business days on the calendar table its query
    makes (engine/sql/deadlines.py): weekends, federal holidays and a city closure skipped, a weekend start, zero
    days, calendar days, the last second, the earliest and the latest start, a key without a rule, and a deadline
    without a key from a date. Worked out by hand above, and the same as Polars' on every engine."""
    catalog = _deadline_case(tmp_path, "request_type")
    options = {"period": "2026-01-01..2026-12-31", "as_of": "2027-01-01 23:59:59"}
    polars_run = compute(catalog, **options)
    sql_run = compute(catalog, engine=engine, **options)
    assert_same_results(polars_run, sql_run)
    values = {(r.kpi_id, (r.group or {}).get("id")): r.value for r in sql_run.results}
    assert {id_: values[("hours_to_due", id_)] for id_ in HOURS_TO_DUE} == HOURS_TO_DUE
    assert {id_: values[("days_to_answer", id_)] for id_ in DAYS_TO_ANSWER} == DAYS_TO_ANSWER
    assert values[("no_deadline", None)] == 2
    # The key without a rule is named, from the key alone (the engine, not Polars, computed the deadlines).
    unlisted = "1 records have a request_type the SLA table 'by_type' does not list (Unknown)"
    assert any(unlisted in note for note in sql_run.notes)
    # The engine computed the deadlines, not Polars: DuckDB reading the export itself, the others over the records
    # Polars staged without them.
    assert _direct(catalog, **options) if engine == "duckdb" else _deadlines_in_sql(catalog, engine, **options)


def _deadlines_in_sql(catalog: Path, engine: str, period: str, as_of: str) -> bool:
    from civic_kpi.engine.sql import executor_class

    plan = civic_kpi.Session(catalog, as_of=as_of).plan(period)
    executor = executor_class(engine)(plan.request, files={n: d.files for n, d in plan.datasets.items()})
    return executor.records_view(plan, plan.datasets["calls"]) is not None


def test_an_empty_policy_table_gives_no_deadline_on_every_engine(tmp_path: Path, engine: str) -> None:
    """A policy file with its header alone: no record has a deadline, on Polars as in SQL (where an empty VALUES
    list would be a syntax error)."""
    catalog = _deadline_case(tmp_path, "request_type")
    (tmp_path / "data" / "sla.csv").write_text("request_type,sla_days,day_type\n", encoding="utf-8")
    text = catalog.read_text(encoding="utf-8")
    start, end = text.index("    rows:\n      - {request_type: Pothole"), text.index("  records_law:")
    catalog.write_text(text[:start] + "    path: sla.csv\n" + text[end:], encoding="utf-8")
    options = {"period": "2026-01-01..2026-12-31", "as_of": "2027-01-01 23:59:59"}
    polars_run, sql_run = compute(catalog, **options), compute(catalog, engine=engine, **options)
    assert_same_results(polars_run, sql_run)
    assert next(r.value for r in sql_run.results if r.kpi_id == "no_deadline") == 9


def test_a_deadline_without_a_key_takes_one_rule_in_the_printed_sql_too(tmp_path: Path, cli) -> None:
    """A deadline without a key over a policy of five rows: compute refuses it, and so does `civic-kpi sql`, whose
    view would otherwise give every record five times."""
    catalog = _deadline_case(tmp_path, "request_type")
    text = catalog.read_text(encoding="utf-8").replace("answer_by: {policy: records_law", "answer_by: {policy: by_type")
    catalog.write_text(text, encoding="utf-8")
    for command in (["compute", "--kpi", "days_to_answer"], ["sql", "days_to_answer"]):
        result = cli(*command, "-c", catalog, "--period", "2026-11")
        assert result.exit_code == 2, (command, result.stdout[:500])
        assert "deadline 'answer_by' has no key, so its policy table must have exactly one row" in result.stderr


def test_a_key_whose_text_sql_would_write_otherwise_leaves_deadlines_to_polars(tmp_path: Path) -> None:
    """A float key is the text 2.0 to Polars, and may be 2.0 or 2 to an SQL engine: such records are prepared by
    Polars and staged, with the same deadlines (the rule keyed '2.0' matches)."""
    import polars as pl

    catalog = _deadline_case(tmp_path, "{type: float}")
    catalog.write_text(catalog.read_text(encoding="utf-8").replace("request_type: Sign,", "request_type: '2.0',"))
    frame = pl.read_parquet(tmp_path / "data" / "calls.parquet")
    frame.with_columns(request_type=pl.lit(2.0)).write_parquet(tmp_path / "data" / "calls.parquet")
    options = {"period": "2026-01-01..2026-12-31", "as_of": "2027-01-01 23:59:59"}
    assert not _direct(catalog, **options) and not _deadlines_in_sql(catalog, "duckdb", **options)
    polars_run, sql_run = compute(catalog, **options), compute(catalog, engine="duckdb", **options)
    assert_same_results(polars_run, sql_run)
    assert next(r.value for r in sql_run.results if r.kpi_id == "no_deadline") == 0


def test_names_differing_only_in_case_are_refused_on_sql(tmp_path: Path) -> None:
    """Late and late are two columns to Polars, one to every SQL engine: refused, never merged."""
    files = {"calls.parquet": {"opened": OPENED, "late": [1, 9]}}
    derived = "      late: {type: integer}\n    derived:\n      Late: late > 5\n"
    kpi = "  - {id: n, name: N, domain: D, unit: count, dataset: calls, value: count(Late)}\n"
    catalog = _parquet_case(tmp_path, files, derived, kpi)
    assert compute(catalog, period="2026-03", as_of="2026-04-01").results[0].value == 1
    with pytest.raises(UsageError, match=r"'(Late|late)' and '(late|Late)' differ only in case"):
        compute(catalog, period="2026-03", as_of="2026-04-01", engine="duckdb")


def test_a_change_of_case_is_refused_on_sql(tmp_path: Path) -> None:
    files = {"calls.parquet": {"opened": OPENED, "team": ["Straße", "x"]}}
    kpi = "  - {id: n, name: N, domain: D, unit: count, dataset: calls, value: \"count(upper(team) == 'STRASSE')\"}\n"
    catalog = _parquet_case(tmp_path, files, "      team: team\n", kpi)
    assert compute(catalog, period="2026-03", as_of="2026-04-01").results[0].value == 1
    with pytest.raises(UsageError, match=r"upper\(\) \(SQL engines change the case"):
        compute(catalog, period="2026-03", as_of="2026-04-01", engine="duckdb")
