"""Breakdowns rolled up from one grouping: which queries of a plan an executor may answer from partial totals.

A KPI broken down by priority and by category, with its overall row, is three groupings of the same records. When
every aggregate of the KPI is a count, a min or a max (`formula.splits`), one grouping by priority and category
gives partial totals (a few thousand rows) from which each breakdown and the overall row follow exactly: a count is
the sum of its parts' counts. On 10M records a series of the four count KPIs of the benchmark took 3.7 s grouping
the records three times per window column, and 2.1 s grouping them once.

In a series over Parquet, a KPI that is one percentile joins the rollup as well: its counts are totals, and its
value comes from engine/percentiles.py's two passes, whose first pass is one more grouping by the finest breakdown.

The plan stays as it was (a query per breakdown); this is how the Polars executor runs it. A KPI that does not
split (a mean, a distinct count, a percentile over a CSV) keeps its own queries, as does a breakdown whose finest
grouping could hold more than ROLLUP_GROUPS groups (it would cost more than the groupings it replaces).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from math import prod

from civic_kpi.engine.plan import DatasetPlan, Plan, Query
from civic_kpi.engine.request import Dims
from civic_kpi.formula import splits

ROLLUP_GROUPS = 100_000  # groups of the finest grouping (per period), at most


@dataclass(frozen=True)
class Rollup:
    """Queries answered from one grouping of the records by `fine.dims` (and the period key in a series)."""

    fine: Query  # the grouping of the records: its KPIs are those of the members, its dims the finest breakdown
    members: tuple[Query, ...]  # the plan's queries (only their KPIs that split), each rolled up from `fine`
    reduced: bool = False  # snapshot KPIs grouped over their reduced records (engine/snapshots.py)


def arrange(
    plan: Plan,
    dp: DatasetPlan,
    group_counts: Mapping[Dims, int],
    percentiles: bool = False,
    snapshots: frozenset[str] = frozenset(),
) -> tuple[list[Query], list[Rollup]]:
    """The dataset's queries as the executor runs them: those computed from the records, and the rollups.

    `group_counts`: the distinct groups of each breakdown (the group limit's count); a breakdown not counted is
    never rolled up. `percentiles`: a series' KPI that is one percentile joins its rollup too, its value computed
    by engine/percentiles.py (the executor says where that pays). `snapshots`: KPIs rolled up from their reduced
    records, apart from the others (engine/snapshots.py)."""

    def split(query: Query) -> set[str]:
        keyed = percentiles and query.keyed
        return {
            k.id
            for k in query.kpis
            if all(splits(f, keyed and name == "value") for name, f in plan.formulas(k.id).items())
        }

    def two_passes(kpi_id: str) -> bool:  # a percentile: it splits only as one
        return not all(splits(formula) for formula in plan.formulas(kpi_id).values())

    direct: list[Query] = []
    rollups: list[Rollup] = []
    windows = dict.fromkeys(query.window for query in dp.queries)
    for window in windows:
        queries = [query for query in dp.queries if query.window == window]
        reduced = [replace(q, key=f"{q.key}~s", kpis=tuple(k for k in q.kpis if k.id in snapshots)) for q in queries]
        reduced = [m for m in reduced if m.kpis]
        if reduced and prod(group_counts.get(m.dims, ROLLUP_GROUPS + 1) for m in reduced if m.dims) <= ROLLUP_GROUPS:
            rollups.append(Rollup(_fine(dp, len(rollups), reduced, queries[0]), tuple(reduced), reduced=True))
            queries = [replace(q, kpis=tuple(k for k in q.kpis if k.id not in snapshots)) for q in queries]
            queries = [q for q in queries if q.kpis]
            if not queries:
                continue
        # Renamed: the KPIs of the query that do not split are still computed under its own key.
        members = [replace(q, key=f"{q.key}~", kpis=tuple(k for k in q.kpis if k.id in split(q))) for q in queries]
        members = [m for m in members if m.kpis]
        bound = prod(group_counts.get(m.dims, ROLLUP_GROUPS + 1) for m in members if m.dims)
        if len(members) >= 2 and bound <= ROLLUP_GROUPS:
            groups = [members]
        else:  # a percentile's query still takes two passes: alone, its finest grouping is its own breakdown
            groups = [[m] for m in members if any(two_passes(k.id) for k in m.kpis)]
        rolled = {m.key for group in groups for m in group}
        for group in groups:
            rollups.append(Rollup(_fine(dp, len(rollups), group, queries[0]), tuple(group)))
        for query in queries:
            rest = tuple(k for k in query.kpis if k.id not in split(query)) if f"{query.key}~" in rolled else query.kpis
            if rest:
                direct.append(replace(query, kpis=rest))
    return direct, rollups


def _fine(dp: DatasetPlan, number: int, group: list[Query], first: Query) -> Query:
    """The grouping a rollup's members are put together from: their KPIs by their finest breakdown."""
    kpis = tuple({k.id: k for m in group for k in m.kpis}.values())
    dims = tuple(dict.fromkeys(d for m in group for d in m.dims))
    return Query(f"{dp.name}~{number}", dp.name, dims, kpis, first.periods, first.window)
