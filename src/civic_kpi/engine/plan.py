"""The plan: a value you can hold, print and run.

A plan says, for one request at one moment, which periods are computed and, per dataset, which files and columns
are read, which deadlines and derived columns are added, and which aggregation queries run: each a breakdown
(the columns it groups by), the KPIs it answers, and either the periods each KPI is filtered to (a masked query)
or the window column whose period key groups the records (a keyed query, for a series). It holds catalog objects,
parsed formulas, dates and file paths, and nothing of Polars: an executor (engine/polars_executor.py today, a SQL
one tomorrow) turns it into queries. Executing the same plan twice gives the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

from civic_kpi.catalog.model import KPI, Dataset
from civic_kpi.engine.request import Dims, Request
from civic_kpi.formula import Formula, splits, walk
from civic_kpi.formula.tree import Call
from civic_kpi.time.moment import Moment
from civic_kpi.time.periods import (
    Period,
    default_series_span,
    latest_complete_month,
    period_index,
    split,
    to_date_start,
)

# Records per part of a series over a big CSV or JSON export. Its records are parsed once and held for all its
# queries, and Polars holds the values of a grouped percentile with their group keys, so a series over more than
# twice this many records is computed a few periods at a time: every part reads the export again (a cost in
# time), but memory stays flat as the export grows. A Parquet export is never held (it is cheaper to read again)
# and its series' percentiles take two passes whose memory grows with groups, not records (engine/percentiles.py):
# it is read in one pass at any size.
PART_ROWS = 6_000_000


@dataclass(frozen=True)
class Query:
    """One aggregation over one dataset: a breakdown and the KPIs it answers.

    Masked (window None): one row per group, each KPI aggregated once per period of `periods`, each aggregate
    filtering its own period's records. Keyed (a series): one row per period and group, the period being the key
    of the window column's date; `periods` are the series' periods it answers.
    """

    key: str
    dataset: str
    dims: Dims
    kpis: tuple[KPI, ...]
    periods: tuple[Period, ...]
    window: str | None = None

    @property
    def keyed(self) -> bool:
        return self.window is not None


@dataclass(frozen=True)
class DatasetPlan:
    """What is read from one dataset and which queries run over it."""

    name: str
    dataset: Dataset
    files: tuple[Path, ...]
    columns: frozenset[str]  # KPI-side names of the export columns read
    deadlines: frozenset[str]
    derived: frozenset[str]
    in_parts: bool  # a series over a big export: read a few periods at a time
    queries: tuple[Query, ...]


@dataclass(frozen=True)
class Plan:
    request: Request
    moment: Moment
    period: Period  # the period asked for (a series covers it period by period)
    series: tuple[Period, ...]
    needed: tuple[Period, ...]  # the series' periods, their prior and their year-ago periods
    datasets: Mapping[str, DatasetPlan]

    @cached_property
    def by_key(self) -> dict[int, Period]:
        """A series' periods by their period key (year * 12 + month, or the quarter or fiscal year it makes)."""
        every, fy = self.request.every, self.request.catalog.fiscal_year_start_month
        return {period_index(every, p.start, fy): p for p in self.needed} if every is not None else {}

    @property
    def holiday_years(self) -> range:
        """The years whose public holidays a business-day deadline skips: those of the periods computed, and three
        on either side for records started earlier and deadlines reaching later."""
        return range(min(p.start.year for p in self.needed) - 3, max(p.end.year for p in self.needed) + 3)

    @property
    def queries(self) -> list[Query]:
        return [query for dataset in self.datasets.values() for query in dataset.queries]

    def formulas(self, kpi_id: str) -> Mapping[str, Formula]:
        return self.request.formulas[kpi_id]

    def __str__(self) -> str:
        from civic_kpi.engine.plan_text import plan_text

        return plan_text(self)


def periods_at(request: Request, moment: Moment) -> tuple[Period, tuple[Period, ...], tuple[Period, ...]]:
    """The period asked for (default: the latest complete month at the moment, or a series' default span), the
    series' periods, and every period a value is needed for (their prior and year-ago periods too)."""
    fy = request.catalog.fiscal_year_start_month
    current = request.period
    if current is None:
        current = latest_complete_month(moment.at)
        if request.every is not None:
            current = default_series_span(request.every, current, fy)
    series = tuple(split(current, request.every, fy)) if request.every is not None else (current,)
    needed = tuple(dict.fromkeys(p for s in series for p in (s, s.prior(), s.year_ago())))
    return current, series, needed


def build_plan(
    request: Request,
    moment: Moment,
    files: Mapping[str, tuple[Path, ...]],
    size_of: Callable[[str], int],
    part_rows: int = PART_ROWS,
) -> Plan:
    """Plan every query of the request at the moment. `files` and `size_of` (a dataset's estimated records) come
    from the data sources; a series over more than twice `part_rows` records is computed in parts."""
    current, series, needed = periods_at(request, moment)
    datasets = {}
    for name in request.columns:
        dataset = request.catalog.datasets[name]
        kpis = [k for k in request.from_records if k.dataset == name]
        keyed = [k for k in kpis if request.every is not None and keyable(k, request.formulas[k.id])]
        masked = [k for k in kpis if k not in keyed]
        queries: list[Query] = []
        for dims in sorted({d for k in kpis for d in request.dims_of[k.id]} | {()}, key=len):
            members = tuple(k for k in masked if dims == () or dims in request.dims_of[k.id])
            if members:
                queries.append(Query(f"{name}#{len(queries)}", name, dims, members, needed))
            # A series groups each window column's records by their period: one query per window column.
            for window in sorted({k.window.date or dataset.date_column for k in keyed}):
                members = tuple(
                    k
                    for k in keyed
                    if (k.window.date or dataset.date_column) == window
                    and (dims == () or dims in request.dims_of[k.id])
                )
                if members:
                    queries.append(Query(f"{name}#{len(queries)}", name, dims, members, needed, window))
        datasets[name] = DatasetPlan(
            name=name,
            dataset=dataset,
            files=tuple(files[name]),
            columns=request.columns[name],
            deadlines=request.deadlines.get(name, frozenset()),
            derived=request.derived.get(name, frozenset()),
            in_parts=bool(keyed) and size_of(name) > 2 * part_rows and not streams_in_one_pass(dataset, keyed, request),
            queries=tuple(queries),
        )
    return Plan(request, moment, current, series, needed, MappingProxyType(datasets))


def streams_in_one_pass(dataset: Dataset, keyed: list[KPI], request: Request) -> bool:
    """Whether a series over a Parquet export needs no parts: every percentile of its KPIs is a whole value formula,
    which takes two passes in bounded memory (see PART_ROWS)."""
    if dataset.file_format != "parquet":
        return False
    for kpi in keyed:
        for name, formula in request.formulas[kpi.id].items():
            percentile = any(isinstance(n, Call) and n.name in ("percentile", "median") for n in walk(formula.tree))
            if percentile and not (name == "value" and splits(formula, percentiles=True)):
                return False
    return True


@dataclass(frozen=True)
class Window:
    """A KPI's window in one period: the records whose `column` is in [start, end)."""

    column: str
    start: date | datetime
    end: date | datetime  # the first instant (or day) after the window


def window_bounds(dp: DatasetPlan, kpi: KPI, period: Period, fiscal_year_start_month: int) -> Window | None:
    """Which records a KPI's window holds in a period: its column and the bounds [start, end), as dates for a date
    column (a to-date window starts at the quarter's or (fiscal) year's start); None for a snapshot, which sees every
    record. Each executor writes the comparison its own way."""
    if kpi.window.snapshot:
        return None
    column = kpi.window.date or dp.dataset.date_column
    is_date = dp.dataset.columns[column].type == "date"
    if kpi.window.to_date is not None:
        period = replace(period, start=to_date_start(kpi.window.to_date, period, fiscal_year_start_month))
    if is_date:
        return Window(column, period.start, period.end)
    return Window(column, period.start_dt, period.end_dt)


def keyable(kpi: KPI, formulas: Mapping[str, Formula]) -> bool:
    """Whether a series can group this KPI by period: not a snapshot or to-date window, and no formula (its
    `where` included) naming the period's bounds."""
    return not (kpi.window.snapshot or kpi.window.to_date) and not any(f.specials for f in formulas.values())
