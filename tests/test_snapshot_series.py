"""A snapshot KPI in a series is computed from its records grouped once (engine/snapshots.py): each timestamp the
formula only compares with a period's bound is replaced by a stand-in for the gap between bounds it falls in. The
results are the ones an aggregation of every record per period gives, and DuckDB's, to the record, at the bounds
themselves (a request closed exactly at a month's end, created exactly at the moment, due exactly at midnight)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

import civic_kpi
from civic_kpi.engine import execute, rollup, snapshots
from civic_kpi.formula import parse_formula

MOMENT = "2026-03-15 12:00:00"  # March is cut at the moment: its snapshot is taken then, not at its end
# The ends of the series' months, April 2025 to March 2026 (March's is after the moment).
MONTH_ENDS = [datetime(2025, m, 1) for m in range(5, 13)] + [datetime(2026, m, 1) for m in range(1, 5)]


def _everything(run):
    return [r.model_dump(mode="json") for r in run.results], run.notes


def _write_requests(folder: Path, fmt: str) -> Path:
    """2,000 requests over a year and a half: a third of their stamps on a bound (a month's start, the moment, a
    midnight), some never closed, some with no due date; in Parquet or CSV."""
    import random

    import polars as pl

    generator = random.Random(11)
    bounds = [*MONTH_ENDS, datetime(2026, 3, 15, 12), datetime(2026, 3, 15)]

    def stamp(after: datetime) -> datetime:
        if generator.random() < 0.35:
            later = [b for b in bounds if b >= after]
            if later:
                return generator.choice(later[:3])
        return after + timedelta(seconds=generator.randrange(0, 80 * 86400))

    rows = []
    for i in range(2000):
        opened = datetime(2024, 12, 1) + timedelta(seconds=generator.randrange(0, 470 * 86400))
        opened = generator.choice(bounds) if i % 9 == 0 else opened
        closed = None if generator.random() < 0.2 else stamp(opened)
        due = None if i % 13 == 0 else stamp(opened)
        priority, state = generator.choice(["High", "Low", None]), generator.choice(["open", "void"])
        rows.append((i, priority, state, opened, closed, due))
    frame = pl.DataFrame(rows, schema=["id", "priority", "state", "opened", "closed", "due"], orient="row")
    frame = frame.with_columns(pl.col("opened", "closed", "due").dt.cast_time_unit("us"))
    frame = frame.filter(pl.col("opened") <= datetime(2026, 3, 15, 12))  # nothing after the moment to leave out
    (folder / "data").mkdir(parents=True)
    if fmt == "parquet":
        frame.write_parquet(folder / "data" / "requests.parquet")
    else:
        frame.with_columns(pl.col("opened", "closed", "due").dt.strftime("%Y-%m-%d %H:%M:%S")).write_csv(
            folder / "data" / "requests.csv"
        )
    stamp_type = "{type: datetime}" if fmt == "parquet" else '{type: datetime, format: "%Y-%m-%d %H:%M:%S"}'
    (folder / "kpis.yaml").write_text(
        f"""version: 1
title: snapshots by hand
data_dir: data
datasets:
  requests:
    path: requests.{fmt}
    date_column: opened
    columns: {{id: {{type: integer}}, priority: priority, state: state, opened: {stamp_type}, closed: {stamp_type},
      due: {stamp_type}}}
kpis:
  - id: overdue_open
    name: Overdue open
    domain: D
    unit: count
    dataset: requests
    window: {{snapshot: true}}
    value: count(opened < as_of and (closed is None or closed >= as_of) and due < as_of)
    group_by: [[priority]]
  - id: share_open
    name: Share open
    domain: D
    unit: percent
    dataset: requests
    window: {{snapshot: true}}
    numerator: count(opened <= as_of and (closed is None or closed > as_of), where=state != 'void')
    denominator: count(opened <= as_of, where=state != 'void')
    group_by: [[priority]]
  - id: newest_id
    name: Newest id
    domain: D
    unit: count
    dataset: requests
    window: {{snapshot: true}}
    value: max(id)
"""
    )
    return folder / "kpis.yaml"


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_snapshot_series_from_reduced_records_equals_duckdb_at_every_bound(tmp_path, monkeypatch, fmt):
    """Each month's overdue-open count, its share of open requests and the newest id, overall and by priority, as
    an aggregation of every record per period gives them (all results and notes) and as DuckDB counts them."""
    import polars as pl

    duckdb = pytest.importorskip("duckdb")
    session = civic_kpi.open(_write_requests(tmp_path, fmt), as_of=MOMENT)
    plan = session.plan("2025-04-01..2026-03-31", every="month")
    dp = plan.datasets["requests"]
    stamp = pl.Datetime("us")
    schema = {"id": pl.Int64, "priority": pl.String, "state": pl.String, "opened": stamp, "closed": stamp, "due": stamp}
    reduce = snapshots.reducible(plan, dp, pl.LazyFrame(schema=schema))
    assert reduce == {"overdue_open", "share_open", "newest_id"}
    _, rollups = rollup.arrange(plan, dp, {("priority",): 3}, snapshots=reduce)
    assert [r.reduced for r in rollups] == [True]
    reduced = _everything(execute(plan))
    monkeypatch.setattr(snapshots, "REDUCE_FROM_PERIODS", 10**6)
    assert _everything(execute(plan)) == reduced

    path = tmp_path / "data" / f"requests.{fmt}"
    source = f"read_parquet('{path}')"
    if fmt == "csv":
        source = f"read_csv('{path}', timestampformat='%Y-%m-%d %H:%M:%S')"
    got = {(r["kpi_id"], r["period"]["label"], r["group"].get("priority", "*")): r for r in reduced[0]}
    checked = 0
    for month_end in MONTH_ENDS:
        as_of = min(month_end, datetime.fromisoformat(MOMENT))
        label = (month_end - timedelta(days=1)).strftime("%Y-%m")
        for priority, (overdue, open_, valid, newest) in _duckdb_snapshot(duckdb, source, as_of).items():
            assert got[("overdue_open", label, priority)]["value"] == overdue, (label, priority)
            share = got[("share_open", label, priority)]
            assert (share["numerator"], share["denominator"]) == (open_, valid), (label, priority)
            if priority == "*":
                assert got[("newest_id", label, "*")]["value"] == newest, label
            checked += 1
    assert checked == 12 * 4


def _duckdb_snapshot(duckdb, source: str, as_of: datetime) -> dict[str | None, tuple]:
    """Per priority (None: missing; '*': all): overdue open, open (not void) and existing (not void) at `as_of`, and
    the newest id (a snapshot's formula sees every record known at the moment: it says which existed then)."""
    query = f"""
        select coalesce(priority, '-'),
          count(*) filter (where opened < $1 and (closed is null or closed >= $1) and due < $1),
          count(*) filter (where state != 'void' and opened <= $1 and (closed is null or closed > $1)),
          count(*) filter (where state != 'void' and opened <= $1),
          max(id)
        from {source} group by rollup (coalesce(priority, '-'))"""
    rows = duckdb.connect().execute(query, [as_of]).fetchall()
    return {("*" if r[0] is None else None if r[0] == "-" else r[0]): r[1:] for r in rows}


def test_the_columns_a_formula_only_compares_with_a_bound():
    """A timestamp compared only with as_of, period_start or period_end (or tested for a missing value) can stand in
    for its gap between bounds; one measured, or compared with anything else, cannot."""
    formulas = [
        parse_formula("count(opened < as_of and (closed is None or closed >= as_of) and as_of > due)"),
        parse_formula("count(period_start <= reopened < period_end)"),
        parse_formula("count(days_between(received, as_of) > 30 and escalated < as_of and escalated > opened)"),
    ]
    bounded, other = snapshots.bounded_columns(formulas)
    assert bounded == {"closed", "due", "reopened"}
    assert other == {"received", "escalated", "opened"}


def test_a_stand_in_compares_with_every_bound_as_its_value_does():
    """Values on a bound (a midnight, or a moment inside a day), a tick either side of one, between bounds, before
    and after them all, and missing: each stand-in is as early, equal or late as its value against every bound, and
    a date column's too; values the bounds cannot tell apart share their stand-in."""
    import polars as pl

    moments = snapshots.bounds_of([datetime(2026, 2, 1), datetime(2026, 3, 1), datetime(2026, 3, 15, 12)])
    assert datetime(2026, 3, 15) in moments  # the moment's midnight: a date column meets that
    tick = timedelta(microseconds=1)
    values = [None, datetime(1960, 1, 1), datetime(2030, 1, 1), datetime(2026, 2, 20, 8), datetime(2026, 2, 20, 9)]
    values += [m + d for m in moments for d in (-tick, timedelta(0), tick, timedelta(hours=5), -timedelta(days=1))]
    frame = pl.DataFrame({"at": values}, schema={"at": pl.Datetime("us")}).with_columns(day=pl.col("at").dt.date())
    stood = frame.select(
        snapshots.StandIn(column, frame.schema[column], tuple(moments)).code() for column in ("at", "day")
    ).select(snapshots.StandIn(column, frame.schema[column], tuple(moments)).value() for column in ("at", "day"))
    assert stood.schema == frame.schema
    assert stood["at"].n_unique() < frame["at"].n_unique()
    assert stood["at"].null_count() == 1
    for column in ("at", "day"):
        for moment in moments:
            for bound in (pl.lit(moment), pl.lit(moment).dt.date()):
                for compare in (pl.Expr.lt, pl.Expr.eq, pl.Expr.gt):
                    before = frame.select(compare(pl.col(column), bound))[column]
                    after = stood.select(compare(pl.col(column), bound))[column]
                    assert before.to_list() == after.to_list(), (column, moment, compare)


def test_the_samples_snapshots_in_a_series_are_reduced_where_their_formulas_allow(monkeypatch):
    """The bundled catalog's overdue-open count is computed from reduced records; the records backlog measures each
    request's age (days_between), so it is aggregated per period. Every result and note is the same either way."""
    from civic_kpi.engine.polars_executor import PolarsExecutor
    from tests.conftest import CATALOG

    session = civic_kpi.open(CATALOG)
    plan = session.plan("2026-Q3", every="month")
    found = set()
    for dp in plan.datasets.values():
        found |= snapshots.reducible(plan, dp, PolarsExecutor(plan.request).frame(dp, plan))
    assert found == {"sla_overdue_open"}
    reduced = _everything(execute(plan))
    monkeypatch.setattr(snapshots, "REDUCE_FROM_PERIODS", 10**6)
    assert _everything(execute(plan)) == reduced
