"""Grouping sets: which of a dataset's queries one SQL statement answers, and its rows parted by query again.

A dataset's breakdowns would each read the records once more; as grouping sets of one statement
(`GROUP BY GROUPING SETS ((period), (period, priority), (period, category))`) the engine reads them once, and a
column `__set`, made of GROUPING() bits, says which breakdown a row belongs to (a missing value in a breakdown's
column is a group of its own, so the NULL of a column a set leaves out cannot say it). The statement aggregates
every KPI of its queries in every set; a query keeps its own KPIs' columns. An aggregate a breakdown did not ask
for costs the engine a little work, where another reading of the records costs a whole pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.formula.sql import column, literal

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp

    from civic_kpi.catalog.model import KPI
    from civic_kpi.engine.plan import DatasetPlan, Query

SET_KEY = "__set"  # which grouping set a row of a statement of several breakdowns belongs to


def statements(dp: DatasetPlan) -> list[tuple[Query, ...]]:
    """A dataset's queries as the statements that run them: the masked queries share one, and a series' queries of
    each window column one, a grouping set per breakdown, so the engine reads the records once for all of them.
    The masked query over all records stays alone: without GROUP BY it gives its one row even when no record is
    left, where Spark gives none for an empty grouping set."""
    families: dict[tuple[object, ...], list[Query]] = {}
    for query in dp.queries:
        family: tuple[object, ...] = (query.window, query.periods)
        members = families.get(family, [])
        # A set is told apart by which columns it groups by, not their order: (a, b) beside (b, a) starts another.
        if not (query.keyed or query.dims) or any(set(m.dims) == set(query.dims) for m in members):
            family = (query.key,)
        families.setdefault(family, []).append(query)
    return [tuple(queries) for queries in families.values()]


def by_query(queries: tuple[Query, ...], result: pl.DataFrame) -> list[tuple[Query, pl.DataFrame]]:
    """A statement's rows parted by the query (breakdown) each answers, with that breakdown's columns and its
    KPIs' aggregates only, numbered as in the query (`0|2026-10|value`: the query's first KPI)."""
    if len(queries) == 1:
        return [(queries[0], result)]
    import polars as pl

    dims, kpis = dims_of(queries), [kpi.id for kpi in kpis_of(queries)]
    parts = []
    for query in queries:
        rows = result.filter(pl.col(SET_KEY) == _set_id(query, dims))
        keys = [name for name in rows.columns if "|" not in name and name != SET_KEY and name not in dims]
        renamed = {
            name: f"{index}|{name.split('|', 1)[1]}"
            for index, kpi in enumerate(query.kpis)
            for name in rows.columns
            if name.startswith(f"{kpis.index(kpi.id)}|")
        }
        parts.append((query, rows.select(*keys, *query.dims, *renamed).rename(renamed)))
    return parts


def dims_of(queries: tuple[Query, ...]) -> list[str]:
    """The columns a statement's breakdowns group by, each once."""
    return list(dict.fromkeys(dim for query in queries for dim in query.dims))


def kpis_of(queries: tuple[Query, ...]) -> list[KPI]:
    """The KPIs a statement aggregates: its queries', each once, the first query's (all of them, for a series'
    overall query) first."""
    return list({kpi.id: kpi for query in queries for kpi in query.kpis}.values())


def _set_id(query: Query, dims: list[str]) -> int:
    """The number `grouping_id` gives a query's rows: a bit per column the query does not group by."""
    return sum(1 << (len(dims) - 1 - index) for index, dim in enumerate(dims) if dim not in query.dims)


def grouping_id(dims: list[str]) -> exp.Expression:
    """GROUPING(a) * 2 + GROUPING(b), for every dialect (Spark's GROUPING takes one column)."""
    from sqlglot import exp

    terms: list[exp.Expression] = [
        exp.Mul(
            this=exp.Grouping(expressions=[column(dim)]),
            expression=literal(1 << (len(dims) - 1 - index)),
        )
        for index, dim in enumerate(dims)
    ]
    total = terms[0]
    for term in terms[1:]:
        total = exp.Add(this=total, expression=term)
    return total
