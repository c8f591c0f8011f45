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
from tests.conftest import CATALOG

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
    """Small exports run on Polars' in-memory engine, big ones streaming (data.sources.polars_engine): the sample,
    a series with a breakdown, is the same to the last digit either way."""
    from civic_kpi.data import sources

    plan = session.plan("2026-Q3", every="month", by=[["priority"], ["channel"]])
    files = plan.datasets["service_requests"].files
    assert sources.polars_engine((f, "csv") for f in files) == "in-memory"
    in_memory = _values(execute(plan))
    monkeypatch.setattr(sources, "IN_MEMORY_ROWS", 0)
    assert sources.polars_engine((f, "csv") for f in files) == "auto"
    assert _values(execute(plan)) == in_memory


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
