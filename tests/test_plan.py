"""The plan is a value: it can be held, printed and run, it runs the same every time, and it holds nothing of
Polars (so that another executor, SQL on DuckDB or PostgreSQL, can run it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pytest

import civic_kpi
from civic_kpi.catalog.loader import load_catalog
from civic_kpi.engine import execute
from civic_kpi.time.moment import Moment
from tests.conftest import CATALOG, write_csv

LOADED = load_catalog(CATALOG)


@pytest.fixture(scope="module")
def session():
    return civic_kpi.open(LOADED)


def _values(run):
    return [(r.kpi_id, r.period.label, tuple(r.group.items()), r.value, r.numerator, r.status) for r in run.results]


def test_a_plan_runs_the_same_every_time_and_as_compute(session):
    plan = session.plan("2026-10", by=[["priority"], ["channel"]], domains=["311 Customer Service"])
    first, second = execute(plan), execute(plan)
    assert _values(first) == _values(second)
    assert _values(first) == _values(session.compute("2026-10", by=[["priority"], ["channel"]],
                                                     domains=["311 Customer Service"]))  # fmt: skip


def test_a_series_plan_runs_the_same_every_time(session):
    plan = session.plan("2026-Q3", every="month", kpis=["sla_compliance", "time_to_close_p90"])
    assert [p.label for p in plan.series] == ["2026-07", "2026-08", "2026-09"]
    assert any(query.keyed for query in plan.queries)
    assert _values(execute(plan)) == _values(execute(plan))


def test_the_in_memory_and_the_streaming_engine_give_the_same_results(session, monkeypatch):
    """Small exports run on Polars' in-memory engine, big ones streaming, and the biggest without shared subplans
    (data.sources.query_options): the sample, a series with a breakdown, is the same to the last digit each way."""
    from civic_kpi.data import sources

    plan = session.plan("2026-Q3", every="month", by=[["priority"], ["channel"]])
    files = plan.datasets["service_requests"].files
    assert sources.polars_engine((f, "csv") for f in files) == "in-memory"
    in_memory = _values(execute(plan))
    monkeypatch.setattr(sources, "IN_MEMORY_ROWS", 0)
    assert sources.polars_engine((f, "csv") for f in files) == "auto"
    assert _values(execute(plan)) == in_memory
    # Past SHARED_ROWS, queries stop sharing the subplans they have in common (memory over time).
    monkeypatch.setattr(sources, "SHARED_ROWS", 0)
    assert not sources.query_options((f, "csv") for f in files)[1].comm_subplan_elim
    assert _values(execute(plan)) == in_memory


def _everything(run):
    return [r.model_dump(mode="json") for r in run.results], run.notes


@pytest.mark.parametrize(
    ("period", "every"), [("2026-10", None), ("2026-Q3", "month")], ids=["one month", "a series by month"]
)
def test_breakdowns_rolled_up_from_one_grouping_equal_groupings_of_the_records(session, monkeypatch, period, every):
    """The Polars executor puts the breakdowns and the overall row of the KPIs made of counts together from one
    grouping by the finest breakdown (engine/rollup.py). Every result of the catalog, its counts and notes included,
    is the one grouping the records once per breakdown gives."""
    from civic_kpi.engine import rollup

    by = [["priority"], ["channel"], ["priority", "channel"]]
    plan = session.plan(period, every=every, by=by)
    dp = plan.datasets["service_requests"]
    direct, rollups = rollup.arrange(plan, dp, dict.fromkeys(by_dims := [q.dims for q in dp.queries if q.dims], 5))
    assert rollups and set(rollups[0].fine.dims) == {"priority", "channel"}, "the sample's counts are rolled up"
    assert {m.dims for m in rollups[0].members} == {(), *by_dims}
    assert any(k.id == "time_to_close_p90" for q in direct for k in q.kpis), "a percentile is not"
    rolled = _everything(execute(plan))
    monkeypatch.setattr(rollup, "ROLLUP_GROUPS", 0)
    assert rollup.arrange(plan, dp, {})[1] == []
    assert _everything(execute(plan)) == rolled


def _write_tickets(folder: Path, fmt: str = "csv") -> Path:
    """Six tickets and three KPIs by team and by kind (see the test below for the values)."""
    import polars as pl

    rows = [
        ["1", "A", "x", "2026-10-01 08:00", "2026-10-01 10:00"],
        ["2", "A", "x", "2026-10-02 08:00", "2026-10-02 18:00"],
        ["3", "A", "y", "2026-10-03 08:00", "2026-10-03 07:00"],
        ["4", "B", "x", "2026-10-04 08:00", "2026-10-04 13:00"],
        ["5", "", "y", "2026-10-05 08:00", "2026-10-05 09:00"],
        ["6", "B", "y", "2026-09-05 08:00", "2026-09-05 20:00"],  # the month before: in no October value
    ]
    path = write_csv(folder / "data" / "tickets.csv", ["id", "team", "kind", "opened", "closed"], rows)
    if fmt == "parquet":  # the same records, typed: the catalog's formats only apply to text
        frame = pl.read_csv(path, schema_overrides={"team": pl.String}).with_columns(
            pl.col("opened", "closed").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M")
        )
        frame.write_parquet(path.with_suffix(".parquet"))
        path.unlink()
    text = """version: 1
title: rollup by hand
data_dir: data
datasets:
  tickets:
    path: tickets.csv
    date_column: opened
    columns:
      id: {type: integer}
      team: team
      kind: kind
      opened: {type: datetime, format: "%Y-%m-%d %H:%M"}
      closed: {type: datetime, format: "%Y-%m-%d %H:%M"}
kpis:
  - {id: fastest, name: Fastest, domain: D, unit: hours, dataset: tickets, value: "min(hours_between(opened, closed))",
     group_by: [[team], [kind]]}
  - {id: slowest, name: Slowest, domain: D, unit: hours, dataset: tickets, value: "max(hours_between(opened, closed))",
     group_by: [[team], [kind]]}
  - {id: quick, name: Quick, domain: D, unit: percent, dataset: tickets,
     numerator: "count(hours_between(opened, closed) <= 2)", denominator: count(), group_by: [[team], [kind]]}
"""
    (folder / "kpis.yaml").write_text(text.replace("tickets.csv", f"tickets.{fmt}"))
    return folder / "kpis.yaml"


@pytest.mark.parametrize("rolled_up", [True, False], ids=["rolled up", "grouped once per breakdown"])
def test_a_min_and_a_max_roll_up_with_missing_groups_and_negative_durations(tmp_path, monkeypatch, rolled_up):
    """Worked out by hand. Team A: 2 h, 10 h and -1 h (closed before it opened: left out, counted as excluded);
    team B: 5 h; no team: 1 h. Kinds: x holds A's 2 h and 10 h and B's 5 h; y holds A's -1 h and the 1 h."""
    from civic_kpi.engine import rollup

    if not rolled_up:
        monkeypatch.setattr(rollup, "ROLLUP_GROUPS", 0)
    run = civic_kpi.compute(_write_tickets(tmp_path), period="2026-10")
    got = {(r.kpi_id, tuple(r.group.items())): (r.value, r.sample_size, r.excluded, r.numerator) for r in run.results}
    assert got[("fastest", ())] == (1.0, 4, 1, None)
    assert got[("slowest", ())] == (10.0, 4, 1, None)
    assert got[("fastest", (("team", "A"),))] == (2.0, 2, 1, None)
    assert got[("slowest", (("team", "B"),))] == (5.0, 1, 0, None)
    assert got[("slowest", (("team", None),))] == (1.0, 1, 0, None)
    assert got[("fastest", (("kind", "y"),))] == (1.0, 1, 1, None)
    assert got[("slowest", (("kind", "x"),))] == (10.0, 3, 0, None)
    # -1 h <= 2 h: a count of a condition keeps the negative duration (only aggregates of the duration leave it out)
    assert got[("quick", ())][3] == 3.0 and got[("quick", (("team", "A"),))][3] == 2.0


def test_a_parquet_dataset_is_read_by_each_query_and_gives_the_csv_values(tmp_path):
    """A CSV dataset is parsed once for all its queries; Parquet is cheaper to read again than to hold in memory
    (PolarsExecutor.frame), and the plan says which."""
    results = {}
    for fmt in ("csv", "parquet"):
        session = civic_kpi.open(_write_tickets(tmp_path / fmt, fmt))
        text = str(session.plan("2026-10"))
        read = "read once for all its queries" if fmt == "csv" else "each query reading the columns it needs"
        assert f"dataset tickets: 1 {fmt} file, {read}" in text
        results[fmt] = _everything(session.compute("2026-10"))
    assert results["parquet"] == results["csv"]


def _write_durations(folder: Path) -> Path:
    """3,000 tickets over three months as Parquet, with a missing team, ties and negative durations; percentile
    KPIs (each method family, and one over other records) and a count, by team and by kind."""
    import random

    import polars as pl

    generator = random.Random(7)
    rows = []
    for i in range(3000):
        opened = datetime(2026, 8, 1) + (datetime(2026, 11, 1) - datetime(2026, 8, 1)) * generator.random()
        hours = round(generator.lognormvariate(2, 1.5), 1 if i % 3 else 0) * (-1 if i % 97 == 0 else 1)
        rows.append((i, generator.choice(["A", "B", None]), generator.choice("xyz"), opened, hours))
    frame = pl.DataFrame(rows, schema=["id", "team", "kind", "opened", "hours"], orient="row")
    frame = frame.with_columns(
        pl.col("opened").dt.cast_time_unit("us"),
        (pl.col("opened") + pl.duration(microseconds=(pl.col("hours") * 3.6e9).cast(pl.Int64))).alias("closed"),
    )
    (folder / "data").mkdir(parents=True)
    frame.drop("hours").write_parquet(folder / "data" / "tickets.parquet")
    kpis = {
        "p90": "percentile(hours_between(opened, closed), 90)",
        "middle": "median(hours_between(opened, closed))",
        "low_quartile": "percentile(hours_between(opened, closed), 25, method='lower')",
        "nearest_p95": "percentile(hours_between(opened, closed), 95, method='nearest')",
        # Other records than the four above (which share one histogram): a histogram of its own.
        "p90_of_kind_x": "percentile(hours_between(opened, closed), 90, where=kind == 'x')",
    }
    lines = [
        f'  - {{id: {kpi}, name: {kpi}, domain: D, unit: hours, dataset: tickets, value: "{formula}",\n'
        "     window: {date: closed}, group_by: [[team], [kind]]}"
        for kpi, formula in kpis.items()
    ]
    (folder / "kpis.yaml").write_text(
        """version: 1
title: percentiles by hand
data_dir: data
datasets:
  tickets:
    path: tickets.parquet
    date_column: opened
    columns: {id: {type: integer}, team: team, kind: kind, opened: {type: datetime}, closed: {type: datetime}}
kpis:
"""
        + "\n".join(lines)
        + "\n  - {id: closed, name: closed, domain: D, unit: count, dataset: tickets, value: count(),"
        " window: {date: closed}, group_by: [[team], [kind]]}\n"
    )
    return folder / "kpis.yaml"


@pytest.mark.parametrize("by", [None, []], ids=["by team and by kind", "overall only"])
def test_a_series_percentile_in_two_passes_equals_polars_quantile_and_duckdb(tmp_path, monkeypatch, by):
    """A series' percentile over Parquet joins the rollup (alone, when there is nothing to roll up with) and is
    computed in two passes (engine/percentiles.py): every result equals what Polars' own grouped quantile gives,
    and each month's overall P90 equals DuckDB's quantile_cont over the same closures."""
    from civic_kpi.engine import percentiles, rollup

    session = civic_kpi.open(_write_durations(tmp_path))
    plan = session.plan("2026-08-01..2026-10-31", every="month", by=by)
    dp = plan.datasets["tickets"]
    _, rollups = rollup.arrange(plan, dp, {("team",): 3, ("kind",): 3}, percentiles=True)
    assert {k.id for r in rollups for k in r.fine.kpis} >= {"p90", "middle", "low_quartile", "p90_of_kind_x"}
    two_pass = _everything(execute(plan))
    monkeypatch.setattr(percentiles, "ENABLED", False)
    assert _everything(execute(plan)) == two_pass

    duckdb = pytest.importorskip("duckdb")
    expected = dict(
        duckdb.sql(
            f"""select strftime(closed, '%Y-%m'), quantile_cont(epoch_us(closed - opened) / 3.6e9, 0.9)
            from '{tmp_path / "data" / "tickets.parquet"}' where closed >= opened
            and closed >= '2026-08-01' and closed < '2026-11-01' group by 1"""
        ).fetchall()
    )
    got = {r["period"]["label"]: r["value"] for r in two_pass[0] if r["kpi_id"] == "p90" and r["group"] == {}}
    assert got.keys() == expected.keys() and len(got) == 3
    for month, value in got.items():
        assert value == pytest.approx(expected[month], rel=1e-12, abs=1e-9)


def test_a_series_over_parquet_is_read_in_one_pass_when_its_percentiles_take_two(tmp_path):
    """A series over a big CSV is computed a few periods at a time (its records are held); over Parquet in one pass,
    unless a percentile is part of a bigger formula (Polars' grouped quantile holds its values)."""
    from civic_kpi.engine import plan_compute, resolve

    catalog = _write_durations(tmp_path)
    (tmp_path / "kpis.yaml").write_text(
        catalog.read_text()
        + "  - {id: p90_days, name: p90_days, domain: D, unit: days, dataset: tickets, window: {date: closed},\n"
        '     value: "percentile(hours_between(opened, closed), 90) / 24"}\n'
    )
    loaded = load_catalog(catalog)

    def in_parts(kpis: list[str]) -> bool:
        request = resolve(loaded, period="2026-08-01..2026-10-31", every="month", kpis=kpis)
        plan = plan_compute(request, None, 100)[0]  # parts of 100 records: 3,000 would take parts
        return plan.datasets["tickets"].in_parts

    assert not in_parts(["p90", "middle", "closed"])
    assert in_parts(["p90_days"])


def test_a_plan_cannot_be_changed(session):
    plan = session.plan("2026-10", kpis=["sla_compliance"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.moment = Moment(datetime(2020, 1, 1))  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.queries[0].dims = ("channel",)  # type: ignore[misc]


def test_a_plan_holds_nothing_of_polars(session):
    import polars as pl

    plan = session.plan("2026-10", every=None, by=[["priority"]])
    seen: set[int] = set()

    def walk(value: object, where: str) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        assert not isinstance(value, pl.LazyFrame | pl.DataFrame | pl.Expr | pl.Series), where
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for field in dataclasses.fields(value):
                walk(getattr(value, field.name), f"{where}.{field.name}")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, f"{where}[{key!r}]")
        elif isinstance(value, list | tuple | set | frozenset):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")

    walk(plan, "plan")


def test_a_printed_plan_says_what_will_be_read_and_run(session):
    text = str(session.plan("2026-10", kpis=["sla_compliance", "sla_overdue_open", "cost_per_call"], by=[]))
    for line in (
        "Plan: 2026-10 (2026-10-01 to 2026-10-31)",
        "moment: 2026-11-14 16:44:44 (the newest record); every formula sees it",
        "periods computed: 2026-10, 2026-09, 2025-10",
        "dataset service_requests: 26 csv files, read once for all its queries",
        "closed_at <- 'Closed Date' (datetime %Y-%m-%d %H:%M:%S)",
        "known at the moment: records with created_at <= 2026-11-14 16:44:44; stamps after it read as missing: "
        "closed_at",
        "deadline sla_due_at = created_at + SLA policy 'service_requests' per request_type",
        "query service_requests#0 (overall): sla_compliance, sla_overdue_open",
        "cost_per_call <- contact_center_cost, calls_handled",
    ):
        assert line in text, line


def test_the_moment_given_is_the_plans_moment(session, tmp_path: Path):
    plan = civic_kpi.open(LOADED, as_of="2026-10-15 09:30").plan(kpis=["sla_compliance"])
    assert plan.moment == Moment(datetime(2026, 10, 15, 9, 30), "given")
    assert plan.period.label == "2026-09"  # the latest month complete at the moment


def test_a_plans_mappings_cannot_be_changed_either(session):
    plan = session.plan("2026-10", kpis=["sla_compliance"])
    with pytest.raises(TypeError):
        plan.datasets["service_requests"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        plan.request.formulas["sla_compliance"]["numerator"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        plan.request.columns["service_requests"] = frozenset()  # type: ignore[index]


def test_a_plan_runs_on_the_files_it_was_made_with(tmp_path):
    import shutil

    from tests.conftest import SAMPLE_DATA

    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA, data)
    mine = civic_kpi.open(LOADED, data_dir=data, as_of="2026-11-14 16:44:44")
    plan = mine.plan("2026-10", kpis=["sla_compliance"])
    before = _values(execute(plan))
    extra = data / "311" / "service_requests_2026-10.csv"
    shutil.copy(extra, data / "311" / "service_requests_2026-10b.csv")  # a new file matching the glob
    assert _values(execute(plan)) == before  # the plan's files, not what the glob matches now
    assert _values(mine.compute("2026-10", kpis=["sla_compliance"])) != before
