"""The limit on groups per breakdown, checked before any value is computed.

A breakdown's cost is in its groups, not its records: Polars groups a million records in a moment, but every group
becomes a value per KPI and period, a judged result row and a line of the output. A breakdown by a column with a
value per record (a request id, an address) asks for a million rows nobody reads; it once took 342 s and 20 GB.
So, before the aggregation queries run, one cheap query per dataset counts the distinct groups of each of its
breakdowns (reading only the breakdown columns), and a breakdown with more than the request's `max_groups` is
refused with what to do instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.engine.plan import Plan
from civic_kpi.engine.request import Dims
from civic_kpi.errors import Problem, UsageError

if TYPE_CHECKING:
    import polars as pl


def group_count_queries(plan: Plan, records: dict[str, pl.LazyFrame]) -> dict[str, pl.LazyFrame]:
    """Per dataset with a breakdown: one row, a column per breakdown holding its number of distinct groups (a
    missing value is a group of its own, as the aggregation makes it). `records`: each dataset's known records (a
    dataset left out is counted by the engine: engine_group_counts)."""
    import polars as pl

    queries = {}
    for name, dp in plan.datasets.items():
        breakdowns = list(dict.fromkeys(query.dims for query in dp.queries if query.dims))
        if not breakdowns or name not in records:
            continue
        # A grouping per breakdown, not n_unique: that holds every value (1 GB for two text columns at 30M records,
        # against 0.18 GB).
        counts = [
            records[name].group_by(list(dims)).len().select(pl.len().alias(str(i))) for i, dims in enumerate(breakdowns)
        ]
        queries[f"groups:{name}"] = pl.concat(counts, how="horizontal")
    return queries


def refuse_too_many_groups(plan: Plan, collected: dict[str, pl.DataFrame]) -> dict[str, dict[Dims, int]]:
    """Raise a UsageError (exit 2) for the first breakdown with more distinct groups than the limit; else return
    each dataset's breakdowns with their numbers of groups."""
    limit = plan.request.max_groups
    counts: dict[str, dict[Dims, int]] = {}
    for name, dp in plan.datasets.items():
        found = collected.get(f"groups:{name}")
        if found is None:
            continue
        breakdowns = list(dict.fromkeys(query.dims for query in dp.queries if query.dims))
        for index, dims in enumerate(breakdowns):
            count = int(found[str(index)][0])
            if count > limit:
                raise UsageError(_problem(plan, name, dims, count, limit))
            counts.setdefault(name, {})[dims] = count
    return counts


def _problem(plan: Plan, dataset: str, dims: Dims, count: int, limit: int) -> Problem:
    request = plan.request
    what = f"column '{dims[0]}'" if len(dims) == 1 else "columns " + " and ".join(f"'{d}'" for d in dims)
    values = "it has" if len(dims) == 1 else "they have"
    values += f" {count:,} distinct {'values' if len(dims) == 1 else 'combinations'} in dataset '{dataset}'"
    if request.breakdowns is not None and dims in request.breakdowns:
        source = "asked for with --by"
    else:
        kpis = [kpi.id for kpi in request.computed if dims in request.own_dims.get(kpi.id, ())]
        source = f"the catalog's group_by of {', '.join(kpis) or 'a KPI'}"
    return Problem(
        f"cannot break down by {what} ({source}): {values}, more than the limit of {limit:,} groups per "
        "breakdown (each group is a result row per KPI and period)",
        hint="break down by a coarser column, raise the limit with --max-groups "
        f"(--max-groups {count} allows this one), or list the records themselves with `civic-kpi rows`",
    )
