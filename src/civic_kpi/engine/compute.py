"""The engine: lazy Polars plans per dataset, every KPI of it computed in a single aggregation per breakdown.

For one period, the engine builds one aggregation per dataset and breakdown whose expressions cover every selected
KPI for the reported period, the prior period and the same period a year earlier; each aggregate only looks at
the records of its own period (a filter inside the aggregate, not a separate scan). For a series (`every`), KPIs
are grouped by a period key of their window date instead, one aggregation per window column and breakdown, and
each period's prior and year-ago values are looked up in the result (snapshots and formulas naming the period's
bounds keep the per-period filters). All queries of all datasets are collected together from one shared read of
each dataset, except a series over a big export, which is computed a few periods at a time to bound memory. The
engine never prints; it returns typed results.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civic_kpi.catalog.graph import datasets_under, inputs, with_inputs
from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.catalog.model import KPI, Catalog, Dataset, as_breakdowns
from civic_kpi.data.deadlines import with_deadlines
from civic_kpi.data.sources import (
    DatasetScan,
    diagnose,
    estimated_rows,
    load_reference,
    row_count_query,
    scan_dataset,
)
from civic_kpi.errors import DataError, Problem, UsageError, did_you_mean
from civic_kpi.formula import (
    NO_PERIOD,
    PERCENTILE_METHOD_TEXT,
    Context,
    Formula,
    all_rows,
    both,
    compile_formula,
    compile_row,
    kpi_column,
    parse_formula,
    with_derived,
)
from civic_kpi.results import (
    CatalogInfo,
    Comparison,
    ComputeRun,
    DataFileInfo,
    KpiInput,
    KpiResult,
    PeriodInfo,
)
from civic_kpi.targets import describe, judge, percent_change, resolve_target
from civic_kpi.time.moment import parse_moment
from civic_kpi.time.periods import (
    SERIES_KINDS,
    Period,
    SeriesKind,
    default_series_span,
    latest_complete_month,
    parse_period,
    period_index,
    period_number,
    split,
    to_date_start,
)

if TYPE_CHECKING:
    import polars as pl


PERIOD_KEY = "__period"


@dataclass(frozen=True)
class _Plan:
    """One aggregation query: a dataset, the dimensions it groups by, and the KPIs it answers.

    A masked plan has one row per group and a column per KPI and period (each aggregate filters its own period);
    a keyed plan (a series) has one row per period and group, the period being a key computed from the window
    date. A keyed plan's `query` is the frame with that key; `for_periods` filters and groups it, for all of the
    series' periods or, for a big export, for one part of them at a time.
    """

    dataset: str
    dims: tuple[str, ...]
    kpis: tuple[KPI, ...]
    query: pl.LazyFrame
    window: str | None = None  # keyed plans: the window date column
    exprs: tuple[pl.Expr, ...] = ()

    @property
    def keyed(self) -> bool:
        return self.window is not None

    def for_periods(self, keys: list[int], first: Period, last: Period, date_only: bool) -> pl.LazyFrame:
        import polars as pl

        assert self.window is not None
        start: date | datetime = first.start if date_only else first.start_dt
        end: date | datetime = last.end if date_only else last.end_dt
        # The range on the raw column lets a Parquet reader skip row groups; the key keeps only asked-for periods.
        column = pl.col(self.window)
        in_range = (column >= pl.lit(start)) & (column < pl.lit(end)) & pl.col(PERIOD_KEY).is_in(keys)
        return self.query.filter(in_range).group_by([PERIOD_KEY, *self.dims]).agg(self.exprs)


Group = tuple[tuple[str, str | None], ...]  # ((dimension, value), ...); () is the overall row


@lru_cache(maxsize=4096)
def _period_info(period: Period) -> PeriodInfo:
    return PeriodInfo(label=period.label, start=period.start, end=period.last_day)


def select_kpis(catalog: Catalog, kpi_ids: list[str] | None = None, domains: list[str] | None = None) -> list[KPI]:
    """The KPIs asked for, in catalog order; unknown ids or domains are a UsageError with a hint."""
    known = [k.id for k in catalog.kpis]
    for kpi_id in kpi_ids or []:
        if kpi_id not in known:
            raise UsageError(
                Problem(f"unknown KPI '{kpi_id}'", hint=did_you_mean(kpi_id, known) or "see `civic-kpi list`")
            )
    wanted_domains = {d.lower() for d in domains or []}
    for domain in domains or []:
        if domain.lower() not in {d.lower() for d in catalog.domains}:
            raise UsageError(
                Problem(
                    f"unknown domain '{domain}'",
                    hint=did_you_mean(domain, catalog.domains) or f"domains: {', '.join(catalog.domains)}",
                )
            )
    chosen = [
        kpi
        for kpi in catalog.kpis
        if (not kpi_ids or kpi.id in kpi_ids) and (not wanted_domains or kpi.domain.lower() in wanted_domains)
    ]
    if not chosen:
        raise UsageError("no KPI matches both --kpi and --domain")
    return chosen


def _dims_for(kpi: KPI, catalog: Catalog, by: list[tuple[str, ...]] | None, notes: list[str]) -> list[tuple[str, ...]]:
    """The KPI's breakdowns: the ones asked for whose columns every dataset under it has, else its group_by."""
    if by is None:
        return kpi.breakdowns
    kept = []
    for dims in by:
        lacking = {
            name: [d for d in dims if d not in catalog.datasets[name].columns] for name in datasets_under(catalog, kpi)
        }
        name, missing = next(((n, m) for n, m in lacking.items() if m), (None, []))
        if missing:
            notes.append(f"{kpi.id}: not broken down by {', '.join(missing)} (dataset '{name}' has no such column)")
        else:
            kept.append(dims)
    return kept


def _with_readers_dims(
    computed: list[KPI], dims_of: dict[str, list[tuple[str, ...]]]
) -> dict[str, list[tuple[str, ...]]]:
    """Each KPI's breakdowns plus those of every KPI computed from it: an I-S rating by question needs the
    importance and the satisfaction by question, whatever their own group_by. (`computed` lists inputs first.)"""
    dims = {kpi_id: list(found) for kpi_id, found in dims_of.items()}
    for kpi in reversed(computed):
        for name in inputs(kpi):
            dims[name] = list(dict.fromkeys([*dims[name], *dims[kpi.id]]))
    return dims


def data_as_of(catalog: LoadedCatalog | str | Path, data_dir: str | Path | None = None) -> datetime | None:
    """The newest record over all datasets of the catalog (their as_of_column or date column)."""
    loaded = catalog if isinstance(catalog, LoadedCatalog) else load_catalog(catalog)
    cat, root = loaded.catalog, loaded.data_dir(data_dir)
    scans = {
        name: scan_dataset(name, dataset, root, {dataset.freshness_column, dataset.date_column}, cat.timezone)
        for name, dataset in cat.datasets.items()
    }
    frames = _collect({name: _newest_query(scan) for name, scan in scans.items()}, list(scans.values()), cat.timezone)
    known = [frame["newest"][0] for frame in frames.values() if frame["newest"][0] is not None]
    return max(known) if known else None


def _unmatched_queries(deadline_frames: dict[str, tuple[Dataset, pl.LazyFrame]]) -> dict[str, pl.LazyFrame]:
    """Per deadline: records whose key the SLA table does not list (they have no deadline, so no on-time verdict)."""
    import polars as pl

    queries = {}
    for name, (dataset, frame) in deadline_frames.items():
        for column, deadline in dataset.deadlines.items():
            if deadline.key is None or column not in frame.collect_schema():
                continue
            missing = pl.col(deadline.key).is_not_null() & pl.col(column).is_null()
            keys = pl.col(deadline.key).filter(missing).unique().sort().head(3).implode()
            queries[f"unmatched:{name}:{column}"] = frame.select(missing.sum().alias("count"), keys.alias("keys"))
    return queries


def _unmatched_notes(
    scans: dict[str, DatasetScan], frames: dict[str, pl.DataFrame], queries: dict[str, pl.LazyFrame]
) -> list[str]:
    notes = []
    for key in queries:
        _, name, column = key.split(":")
        count, keys = frames[key]["count"][0], frames[key]["keys"][0]
        if count:
            policy = scans[name].dataset.deadlines[column].policy
            notes.append(
                f"{name}: {count} records have a {scans[name].dataset.deadlines[column].key} the SLA table "
                f"'{policy}' does not list ({', '.join(map(str, keys))}{' ...' if count > len(keys) else ''}); "
                f"they have no {column}, so no on-time verdict"
            )
    return notes


def _columns_needed(
    chosen: list[KPI], cat: Catalog, formulas: dict[str, dict[str, Formula]], dims_of: dict[str, list[tuple[str, ...]]]
) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    """Per dataset: the export columns to read, the deadline columns and the derived columns the KPIs use.

    Derived and deadline columns are not read from the files: the columns they are computed from are.
    """
    needed: dict[str, set[str]] = {}
    deadlines: dict[str, set[str]] = {}
    derived: dict[str, set[str]] = {}
    for kpi in chosen:
        dataset = cat.datasets[kpi.dataset]
        columns = needed.setdefault(kpi.dataset, {dataset.date_column, dataset.freshness_column})
        used = set().union(*(formula.columns for formula in formulas[kpi.id].values()))
        rows = derived.setdefault(kpi.dataset, set())
        rows |= used & set(dataset.derived)
        used = (used - set(dataset.derived)) | {
            c for name in rows for c in parse_formula(dataset.derived[name], row=True).columns
        }
        due = deadlines.setdefault(kpi.dataset, set())
        due |= used & set(dataset.deadlines)
        columns |= used - set(dataset.deadlines)
        for name in due:
            deadline = dataset.deadlines[name]
            columns |= {deadline.start} | ({deadline.key} if deadline.key else set())
        columns.add(kpi.window.date or dataset.date_column)
        columns |= {d for dims in dims_of[kpi.id] for d in dims}
    return needed, deadlines, derived


def _coverage_notes(series: list[Period], oldest: dict[str, datetime | None]) -> list[str]:
    """Say when a compared period starts before a dataset's first day of records: its values cover part of it."""
    notes: dict[str, str] = {}
    compared = [("", p) for p in series] + [("prior ", p.prior()) for p in series]
    compared += [("year-ago ", p.year_ago()) for p in series]
    for which, period in compared:
        late = {
            name: first.date()
            for name, first in oldest.items()
            if first is not None and period.start < first.date() < period.end
        }
        if late and period.label not in notes:
            notes[period.label] = (
                f"the {which}period {period.label} starts before the first record of {', '.join(sorted(late))} "
                f"({min(late.values())}): its values cover only part of it"
            )
    return list(notes.values())


def _newest_query(scan: DatasetScan) -> pl.LazyFrame:
    """The newest timestamp of a dataset (its as_of_column, else its date column): how fresh the export is."""
    import polars as pl

    return scan.frame.select(
        pl.col(scan.dataset.freshness_column).cast(pl.Datetime("us")).max().alias("newest"),
        pl.col(scan.dataset.date_column).cast(pl.Datetime("us")).min().alias("oldest"),
    )


def _collect(
    queries: dict[str, pl.LazyFrame], scans: list[DatasetScan], timezone: str | None
) -> dict[str, pl.DataFrame]:
    """Collect all queries in one go; a parse failure becomes a DataError that names file, row and column."""
    import polars as pl

    try:
        return dict(zip(queries, pl.collect_all(list(queries.values())), strict=True))
    except (pl.exceptions.PolarsError, OSError) as exc:  # OSError: a truncated gzip, a file gone mid-run
        for scan in scans:
            problem = diagnose(scan, timezone)
            if problem is not None:
                raise DataError(problem) from None
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        files = sorted({str(f) for scan in scans for f in scan.files})
        raise DataError(
            Problem(
                f"could not read the data: {message}",
                file=files[0] if len(files) == 1 else None,
                hint="check the datasets' formats, delimiters and column types in the catalog "
                "(`civic-kpi validate` checks the columns)",
            )
        ) from None


def _mask(scan: DatasetScan, kpi: KPI, period: Period, fiscal_year_start_month: int) -> pl.Expr:
    import polars as pl

    if kpi.window.snapshot:
        return all_rows()
    column = kpi.window.date or scan.dataset.date_column
    is_date = scan.dataset.columns[column].type == "date"
    if kpi.window.to_date is not None:
        period = replace(period, start=to_date_start(kpi.window.to_date, period, fiscal_year_start_month))
    start: date | datetime = period.start if is_date else period.start_dt
    end: date | datetime = period.end if is_date else period.end_dt
    return (pl.col(column) >= pl.lit(start)) & (pl.col(column) < pl.lit(end))


def _period_key(column: str, kind: SeriesKind, fiscal_year_start_month: int) -> pl.Expr:
    """The period a record falls in, numbered as the periods asked for are: the group key of a series."""
    import polars as pl

    value = pl.col(column)
    year, month = value.dt.year().cast(pl.Int32), value.dt.month().cast(pl.Int32)
    return period_number(kind, year, month, fiscal_year_start_month).alias(PERIOD_KEY)


def _keyable(kpi: KPI, formulas: dict[str, Formula]) -> bool:
    """Whether a series can group this KPI by period: not a snapshot or to-date window, and no formula (its
    `where` included) naming the period's bounds."""
    return not (kpi.window.snapshot or kpi.window.to_date) and not any(f.specials for f in formulas.values())


# Records per part of a series over a big export. Polars holds the records of a grouped percentile in memory
# (about 200 bytes each with their group keys), so a series over more than twice this many records is computed
# a few periods at a time: every part reads the export again (a cost in time), but memory stays flat as the
# export grows. Up to twice this many, one pass is faster and its memory still modest (2.8 GB at 10M records).
PART_ROWS = 6_000_000


def _parts(counts: dict[int, int], budget: int) -> list[list[int]]:
    """Consecutive period keys in groups of about `budget` records (a period bigger than that is a part alone)."""
    parts: list[list[int]] = [[]]
    held = 0
    for key in sorted(counts):
        if parts[-1] and held + counts[key] > budget:
            parts.append([])
            held = 0
        parts[-1].append(key)
        held += counts[key]
    return parts


def _aggregations(
    scan: DatasetScan,
    kpi: KPI,
    prefix: str,
    period: Period | None,
    ctx_values: dict[str, Any],
    newest: datetime | None,
    formulas: dict[str, Formula],
    fiscal_year_start_month: int = 1,
) -> list[pl.Expr]:
    """The aggregates of one KPI for one period (`period` None: for each group of a frame grouped by period)."""
    import polars as pl

    exprs: list[pl.Expr] = []
    follow_up = kpi.window.follow_up_days
    date_columns = scan.dataset.date_only_columns
    mask = None if period is None else _mask(scan, kpi, period, fiscal_year_start_month)
    start, end = (period.start_dt, period.end_dt) if period else (NO_PERIOD, NO_PERIOD)
    snapshot_at = end
    if kpi.window.snapshot and period is not None and newest is not None:
        # As things stood at the end of the period, but never past the newest record: after it we know nothing.
        # Just after the newest record (a whole day after a date-only one), so that record still counts.
        date_only = scan.dataset.columns[scan.dataset.freshness_column].type == "date"
        snapshot_at = min(snapshot_at, newest + (timedelta(days=1) if date_only else timedelta(microseconds=1)))
    where = None
    if "where" in formulas:
        row_ctx = Context(None, start, end, snapshot_at, **ctx_values, date_columns=date_columns)
        where = compile_row(formulas["where"], row_ctx).fill_null(False)
        mask = both(mask, where)
    if follow_up and newest is not None:
        # Only records whose follow-up window has fully elapsed by the as-of time can be judged; the rest are
        # counted as left out, so the output can say how many and why.
        column = pl.col(kpi.window.date or scan.dataset.date_column)
        elapsed = ((column.cast(pl.Datetime("us")) + pl.duration(days=follow_up)) <= pl.lit(newest)).fill_null(False)
        exprs.append(both(mask, ~elapsed).sum().cast(pl.Int64).alias(prefix + "excluded"))
        mask = both(mask, elapsed)
    rows = pl.len() if mask is None else mask.sum()
    if kpi.window.snapshot and period is not None:
        rows = both(where, pl.col(scan.dataset.date_column) < pl.lit(snapshot_at)).sum()  # records existing by then
    ctx = Context(mask, start, end, snapshot_at, **ctx_values, date_columns=date_columns)
    compiled = {field: compile_formula(formula, ctx) for field, formula in formulas.items() if field != "where"}
    if kpi.is_ratio:
        exprs.append(compiled["numerator"].expr.cast(pl.Float64).alias(prefix + "numerator"))
        exprs.append(compiled["denominator"].expr.cast(pl.Float64).alias(prefix + "denominator"))
        samples = compiled["denominator"].samples or compiled["numerator"].samples
    else:
        exprs.append(compiled["value"].expr.cast(pl.Float64).alias(prefix + "value"))
        samples = compiled["value"].samples
    sample = samples[0] if samples else (pl.len() if mask is None else mask.sum())
    exprs.append(sample.cast(pl.Int64).alias(prefix + "sample"))
    invalid = [flag for compiled_formula in compiled.values() for flag in compiled_formula.invalid]
    if invalid:
        exprs.append(pl.max_horizontal(invalid).cast(pl.Int64).alias(prefix + "invalid"))
    exprs.append(rows.cast(pl.Int64).alias(prefix + "rows"))
    return exprs


@dataclass(frozen=True)
class _Value:
    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    sample: int | None = None
    reason: str | None = None  # why there is no value
    excluded: int | None = None  # records of the period left out because their follow-up window is still open
    invalid: int | None = None  # records left out because a duration was negative
    rows: int = 0  # records in the period


_NO_RECORDS = _Value(None, reason="no records in the period")
_COUNTS = ("rows", "sample", "excluded", "invalid")  # the per-period counts an aggregation reports besides values


def _value(kpi: KPI, row: dict[str, Any], prefix: str) -> _Value:
    sample = row.get(prefix + "sample")
    excluded = row.get(prefix + "excluded")
    value = _judgeable(kpi, row, prefix, sample, excluded)
    return replace(value, invalid=row.get(prefix + "invalid"), rows=row.get(prefix + "rows") or 0)


def _judgeable(kpi: KPI, row: dict[str, Any], prefix: str, sample: int | None, excluded: int | None) -> _Value:
    if not row.get(prefix + "rows"):
        reason = "no records in the period"
        if excluded:
            reason = f"all {excluded} records of the period are still inside their follow-up window"
        return _Value(None, sample=sample, reason=reason, excluded=excluded)
    if kpi.is_ratio:
        numerator, denominator = row.get(prefix + "numerator"), row.get(prefix + "denominator")
        if denominator == 0:
            return _Value(None, numerator, denominator, sample, "the denominator is zero", excluded)
        value = None if numerator is None or denominator is None else numerator / denominator * kpi.effective_scale
    else:
        numerator = denominator = None
        value = row.get(prefix + "value")
    if value is not None and not math.isfinite(value):
        return _Value(None, numerator, denominator, sample, "the formula divides by zero", excluded)
    reason = None if value is not None else "no value: every input in the period is missing"
    return _Value(value, numerator, denominator, sample, reason, excluded)


class _Values:
    """Every computed value, looked up by KPI id, period and group; and each KPI breakdown's groups, in order."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str, Group], _Value] = {}
        self._groups: dict[tuple[str, tuple[str, ...]], dict[Group, None]] = {}
        # What a period with no records of a group is worth, per KPI: a keyed plan has no row for it, where a
        # masked plan has a row of zero counts; this is that row's value, so both paths report the same.
        self._empty: dict[str, _Value] = {}

    def add(self, kpi_id: str, dims: tuple[str, ...], group: Group, period: Period, value: _Value) -> None:
        self._values[(kpi_id, period.label, group)] = value
        self._groups.setdefault((kpi_id, dims), {})[group] = None

    def set_empty(self, kpi_id: str, value: _Value) -> None:
        self._empty[kpi_id] = value

    def get(self, kpi_id: str, period: Period, group: Group) -> _Value:
        return self._values.get((kpi_id, period.label, group), self._empty.get(kpi_id, _NO_RECORDS))

    def groups(self, kpi_id: str, dims: tuple[str, ...]) -> list[Group]:
        found = self._groups.get((kpi_id, dims), {})
        return list(found) if dims else [()]


def _from_kpis(
    kpi: KPI,
    breakdowns: list[tuple[str, ...]],
    periods: list[Period],
    values: _Values,
    formulas: dict[str, Formula],
    ctx_values: dict[str, Any],
) -> None:
    """Compute a KPI from its input KPIs' values, for every period and every group of any input; a group some
    input has no records of gets no records either, so `_results` leaves it out like any group without records."""
    import polars as pl

    names = inputs(kpi)
    ctx = Context(None, NO_PERIOD, NO_PERIOD, NO_PERIOD, **ctx_values)
    exprs = [compile_formula(formula, ctx).expr.cast(pl.Float64).alias(field) for field, formula in formulas.items()]
    for dims in [(), *breakdowns]:
        groups = list(dict.fromkeys(group for name in names for group in values.groups(name, dims)))
        cells = [(period, group) for period in periods for group in groups]
        got = {name: [values.get(name, period, group) for period, group in cells] for name in names}
        columns = {kpi_column(name): [value.value for value in got[name]] for name in names}
        frame = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.Float64)).select(exprs)
        for index, (row, (period, group)) in enumerate(zip(frame.iter_rows(named=True), cells, strict=True)):
            # The records behind a value are those of its scarcest input: a group some input has no records of
            # (a survey question without an importance) is left out like any group without records.
            rows = min(got[name][index].rows for name in names)
            missing = next((name for name in names if got[name][index].value is None), None)
            if missing is not None:  # a value needs every input: the first one missing says why there is none
                value = _Value(None, reason=f"kpi.{missing} has no value: {got[missing][index].reason}", rows=rows)
            else:
                value = _value(kpi, {**row, "rows": rows}, "")
            values.add(kpi.id, dims, group, period, value)


def _read_plan(
    plan: _Plan, frame: pl.DataFrame, needed: list[Period], by_key: dict[int, Period], values: _Values
) -> None:
    """File the values of one collected plan under their KPI, period and group (`by_key`: a series' periods by
    their period key)."""
    rows = frame.sort(list(plan.dims), nulls_last=True).to_dicts() if plan.dims else frame.to_dicts()
    if plan.keyed:
        for index, kpi in enumerate(plan.kpis):
            prefix = f"{index}||"
            counts = [c for c in frame.columns if c.startswith(prefix) and c.rsplit("|", 1)[1] in _COUNTS]
            values.set_empty(kpi.id, _value(kpi, dict.fromkeys(counts, 0), prefix))
    for row in rows:
        group: Group = tuple((dim, None if row[dim] is None else str(row[dim])) for dim in plan.dims)
        for index, kpi in enumerate(plan.kpis):
            if plan.keyed:
                values.add(kpi.id, plan.dims, group, by_key[row[PERIOD_KEY]], _value(kpi, row, f"{index}||"))
            else:
                for period in needed:
                    values.add(kpi.id, plan.dims, group, period, _value(kpi, row, f"{index}|{period.label}|"))


def _comparison(period: Period, value: float | None, base: float | None) -> Comparison:
    change = value - base if value is not None and base is not None else None
    # model_construct: the engine's own values need no validation, and a series makes tens of thousands of these.
    return Comparison.model_construct(
        period=_period_info(period), value=base, change=change, change_pct=percent_change(value, base)
    )


def _results(
    kpi: KPI,
    breakdowns: list[tuple[str, ...]],
    series: list[Period],
    values: _Values,
    method: str | None,
    reads: list[KPI],
    fiscal_year_start_month: int,
    to_date: str | None,
) -> list[KpiResult]:
    """The KPI's result rows: per period of the series, the overall row then each breakdown's groups (in rank
    order for a ranked KPI). `reads`: the KPIs it is computed from, whose values each row lists; `to_date`: the
    to-date window of the KPI or of the KPIs under it, which each row's `covers` spells out."""
    results: list[KpiResult] = []
    for period in series:
        prior, year_ago = period.prior(), period.year_ago()
        covers = _covers(to_date, period, fiscal_year_start_month)
        for dims in [(), *breakdowns]:
            rows = []
            for group in values.groups(kpi.id, dims):
                now = values.get(kpi.id, period, group)
                prior_value = values.get(kpi.id, prior, group)
                year_value = values.get(kpi.id, year_ago, group)
                if group and not (now.rows or prior_value.rows or year_value.rows):
                    continue  # a group with no records in any compared period is noise; one with records stays
                rows.append((group, now, prior_value, year_value))
            ranks = _ranks([now.value for _, now, _, _ in rows], kpi.rank) if kpi.rank and dims else {}
            order = sorted(range(len(rows)), key=lambda i: ranks.get(i, len(rows) + 1))
            for index in order:
                group, now, prior_value, year_value = rows[index]
                named = dict(group)
                target = resolve_target(kpi.target, named, period.label) if kpi.target else None
                verdict = judge(target, now.value, prior_value.value, year_value.value)
                results.append(
                    KpiResult.model_construct(
                        kpi_id=kpi.id,
                        name=kpi.name,
                        domain=kpi.domain,
                        unit=kpi.unit,
                        period=_period_info(period),
                        group=named,
                        value=now.value,
                        numerator=now.numerator,
                        denominator=now.denominator,
                        sample_size=now.sample,
                        target=describe(target, kpi.unit) if target else None,
                        status=verdict.status,
                        status_reason=now.reason if now.value is None else verdict.reason,
                        better=None if target is None else "higher" if target.higher_is_better else "lower",
                        prior=_comparison(prior, now.value, prior_value.value),
                        year_ago=_comparison(year_ago, now.value, year_value.value),
                        percentile_method=method,
                        decimals=kpi.decimals,
                        excluded=None
                        if now.excluded is None and now.invalid is None
                        else (now.excluded or 0) + (now.invalid or 0),
                        excluded_reason=_excluded_reason(kpi, now),
                        rank=ranks.get(index),
                        covers=covers,
                        inputs=[
                            KpiInput.model_construct(
                                kpi_id=read.id,
                                name=read.name,
                                unit=read.unit,
                                decimals=read.decimals,
                                value=values.get(read.id, period, group).value,
                            )
                            for read in reads
                        ],
                    )
                )
    return results


def _covers(kind: str | None, period: Period, fiscal_year_start_month: int) -> PeriodInfo | None:
    """The days whose records a to-date window of `kind` counts, when they are more than the period's."""
    if kind is None:
        return None
    start = to_date_start(kind, period, fiscal_year_start_month)  # type: ignore[arg-type]
    if start == period.start:
        return None
    return PeriodInfo(label=f"{kind.replace('_', ' ')} to date", start=start, end=period.last_day)


def _ranks(found: list[float | None], order: str) -> dict[int, int]:
    """Competition ranks ("1224", a spreadsheet's RANK) of the values present, by position; 1 is the highest
    value with highest_first, the lowest with lowest_first. Values within 1e-9 of each other tie, as targets
    treat them as equal, so 0.1 + 0.2 and 0.3 share a rank."""
    present = sorted(
        ((value, index) for index, value in enumerate(found) if value is not None),
        key=lambda pair: pair[0],
        reverse=order == "highest_first",
    )
    ranks: dict[int, int] = {}
    for position, (value, index) in enumerate(present):
        before = present[position - 1] if position else None
        tied = before is not None and math.isclose(value, before[0], rel_tol=1e-9, abs_tol=1e-12)
        ranks[index] = ranks[before[1]] if tied and before is not None else position + 1
    return ranks


def _excluded_reason(kpi: KPI, value: _Value) -> str | None:
    reasons = []
    if value.excluded:
        reasons.append(
            f"{value.excluded} inside their {kpi.window.follow_up_days}-day follow-up window at the as-of time"
        )
    if value.invalid:
        reasons.append(f"{value.invalid} with a negative duration (end before start)")
    return "; ".join(reasons) or None


def _percentile_method(formulas: dict[str, Formula]) -> str | None:
    methods: set[str] = set().union(*(formula.percentile_methods for formula in formulas.values()))
    if not methods:
        return None
    if methods <= {"inclusive", "linear"}:
        return PERCENTILE_METHOD_TEXT
    return ", ".join(sorted(methods))


def _breakdowns(by: list[str] | list[list[str]] | None) -> list[tuple[str, ...]] | None:
    """`by` as breakdowns (None: each KPI's catalog group_by; []: overall only)."""
    return None if by is None else as_breakdowns(by)


def compute(
    catalog: LoadedCatalog | str | Path,
    *,
    period: Period | str | None = None,
    every: SeriesKind | None = None,
    by: list[str] | list[list[str]] | None = None,
    kpis: list[str] | None = None,
    domains: list[str] | None = None,
    data_dir: str | Path | None = None,
    as_of: datetime | str | None = None,
    progress: Callable[[str], None] | None = None,
    part_rows: int = PART_ROWS,
) -> ComputeRun:
    """Compute the catalog's KPIs for one period (default: the latest complete month in the data).

    Each result carries its value, numerator/denominator or sample size, target and status, and the prior period's
    and the year-earlier period's values. `as_of` (default: the newest record of each dataset) is the moment the
    results describe: it picks the default period, caps snapshots and decides which follow-up windows have elapsed.

    `every` ("month", "quarter", "year", "fiscal_year") makes a series: the period (default: the last 12 months,
    4 quarters or 3 years) is cut into periods of that kind and every KPI is computed for each, each compared with
    its own prior and year-ago period. `by` is a list of columns (one breakdown by all of them) or a list of lists
    (several breakdowns); None uses each KPI's catalog group_by. `progress`, if given, hears what is being read.
    A series over a dataset of more than twice `part_rows` records (estimated from Parquet metadata or a CSV's
    size; JSON and gzip files are always one part) is computed about `part_rows` records at a time.
    Raises a CivicKpiError subclass for any user mistake.
    """
    import polars as pl

    loaded = catalog if isinstance(catalog, LoadedCatalog) else load_catalog(catalog)
    cat = loaded.catalog
    fy = cat.fiscal_year_start_month
    chosen = select_kpis(cat, kpis, domains)
    if every is not None and every not in SERIES_KINDS:
        raise UsageError(Problem(f"cannot make a series of '{every}'", hint=f"use one of: {', '.join(SERIES_KINDS)}"))
    if isinstance(period, str):  # a mistyped period is the user's first mistake to hear about, before any file
        period = parse_period(period, fy)
    if period is not None and every is not None:
        split(period, every, fy)  # refuses an unaligned period before any file is read
    root = loaded.data_dir(data_dir)
    if not root.is_dir():
        raise DataError(
            Problem(
                "data directory not found",
                file=str(root),
                hint="pass --data-dir, or set data_dir: in the catalog",
            )
        )
    breakdowns = _breakdowns(by)
    if breakdowns:
        all_columns = {c for k in chosen for name in datasets_under(cat, k) for c in cat.datasets[name].columns}
        for dimension in [d for dims in breakdowns for d in dims]:
            if dimension not in all_columns:
                raise UsageError(
                    Problem(
                        f"no selected KPI's dataset has a column '{dimension}' to group by",
                        hint=did_you_mean(dimension, sorted(all_columns))
                        or "group by a column declared under a dataset's columns",
                    )
                )
    notes: list[str] = []
    computed = with_inputs(cat, chosen)  # a KPI computed from other KPIs needs them, even when not asked for
    # Every formula of a KPI, its `where` included, so that the columns, reference tables and period names it
    # reads are found in one place.
    formulas = {
        kpi.id: {f: parse_formula(t, over_kpis=kpi.from_kpis) for f, t in kpi.formulas.items()}
        | ({"where": parse_formula(kpi.where, row=True)} if kpi.where is not None else {})
        for kpi in computed
    }
    own_dims = {kpi.id: _dims_for(kpi, cat, breakdowns, notes if kpi in chosen else []) for kpi in computed}
    dims_of = _with_readers_dims(computed, own_dims)  # what is computed; own_dims is what is reported
    from_records = [kpi for kpi in computed if not kpi.from_kpis]
    needed_columns, deadlines, row_columns = _columns_needed(from_records, cat, formulas, dims_of)
    tz = cat.timezone
    scans = {
        name: scan_dataset(name, cat.datasets[name], root, columns, tz) for name, columns in needed_columns.items()
    }
    used_refs = {r for f in formulas.values() for formula in f.values() for r in formula.refs}
    refs = {name: load_reference(name, cat.reference_tables[name], root) for name in sorted(used_refs)}
    if progress is not None:
        progress(_reading_text(scans))

    newest: dict[str, datetime | None] = {}
    oldest: dict[str, datetime | None] = {}
    if as_of is not None:
        moment = parse_moment(as_of, cat.timezone)
        newest = dict.fromkeys(scans, moment)
    elif period is None or any(kpi.window.snapshot or kpi.window.follow_up_days for kpi in from_records):
        # The default period and the snapshots' cut-off depend on the data, so this small query runs first.
        first = _collect({name: _newest_query(scan) for name, scan in scans.items()}, list(scans.values()), tz)
        newest = {name: frame["newest"][0] for name, frame in first.items()}
        oldest = {name: frame["oldest"][0] for name, frame in first.items()}
    if period is None:
        known = [moment for moment in newest.values() if moment is not None]
        if not known:
            raise DataError("the datasets hold no dated records, so there is no latest month; pass --period")
        current = latest_complete_month(max(known))
        if every is not None:
            current = default_series_span(every, current, fy)
    else:
        current = period
    series = split(current, every, fy) if every is not None else [current]
    needed = list(dict.fromkeys(p for s in series for p in (s, s.prior(), s.year_ago())))
    by_key = {period_index(every, p.start, fy): p for p in needed} if every is not None else {}

    ctx_values = {"params": dict(cat.parameters), "refs": refs, "timezone": tz}
    years = range(min(p.start.year for p in needed) - 3, max(p.end.year for p in needed) + 3)
    plans: dict[str, _Plan] = {}
    deadline_frames: dict[str, tuple[Dataset, pl.LazyFrame]] = {}
    in_parts: set[str] = set()  # datasets whose series is computed a few periods at a time
    for name, raw_scan in scans.items():
        scan = raw_scan
        if deadlines.get(name) or row_columns.get(name):
            frame = with_deadlines(raw_scan.frame, raw_scan.dataset, deadlines.get(name, set()), cat, root, years)
            frame = with_derived(
                frame,
                raw_scan.dataset.derived,
                row_columns.get(name, set()),
                ctx_values,
                raw_scan.dataset.date_only_columns,
            )
            scan = replace(raw_scan, frame=frame)
        dataset_kpis = [k for k in from_records if k.dataset == name]
        keyed = [k for k in dataset_kpis if every is not None and _keyable(k, formulas[k.id])]
        masked = [k for k in dataset_kpis if k not in keyed]
        if keyed and estimated_rows(raw_scan) > 2 * part_rows:
            in_parts.add(name)  # each part reads the files with its own filter: one cache of it all would not fit
        else:
            # Every query of the dataset (KPIs, breakdowns, row counts) shares one read of its files. Left to
            # itself, the optimizer projects each query differently and reads the files once per projection: on
            # 10M rows a series took 12.2 s instead of 7.7 s from CSV, 3.9 s instead of 3.6 s from Parquet (for
            # Parquet at the cost of 2.8 GB peak memory instead of 2.2 GB).
            scan = replace(scan, frame=scan.frame.cache())
        scans[name] = scan
        if deadlines.get(name):
            deadline_frames[name] = (raw_scan.dataset, scan.frame)
        for dims in sorted({d for k in dataset_kpis for d in dims_of[k.id]} | {()}, key=len):
            members = [k for k in masked if dims == () or dims in dims_of[k.id]]
            if members:
                exprs = [
                    expr
                    for i, k in enumerate(members)
                    for p in needed
                    for expr in _aggregations(
                        scan, k, f"{i}|{p.label}|", p, ctx_values, newest.get(name), formulas[k.id], fy
                    )
                ]
                query = scan.frame.group_by(list(dims)).agg(exprs) if dims else scan.frame.select(exprs)
                plans[f"plan:{len(plans)}"] = _Plan(name, dims, tuple(members), query)
            # A series groups each window column's records by their period: one query per window column.
            for window in sorted({k.window.date or scan.dataset.date_column for k in keyed}):
                members = [
                    k
                    for k in keyed
                    if (k.window.date or scan.dataset.date_column) == window and (dims == () or dims in dims_of[k.id])
                ]
                if not members or every is None:
                    continue
                exprs = [
                    expr
                    for i, k in enumerate(members)
                    for expr in _aggregations(scan, k, f"{i}||", None, ctx_values, newest.get(name), formulas[k.id])
                ]
                frame = scan.frame.with_columns(_period_key(window, every, fy))
                plans[f"plan:{len(plans)}"] = _Plan(name, dims, tuple(members), frame, window, tuple(exprs))
    queries = {key: plan.query for key, plan in plans.items() if not plan.keyed}
    unmatched = _unmatched_queries(deadline_frames)
    queries |= unmatched
    queries |= {f"rows:{name}": row_count_query(scan) for name, scan in scans.items()}
    if not oldest:
        queries |= {f"newest:{name}": _newest_query(scan) for name, scan in scans.items()}
    keyed_parts = _series_parts(plans, scans, in_parts, by_key, every, fy, part_rows, tz) if every else []
    if progress is not None and len(keyed_parts) > 1:
        progress(f"{_reading_text(scans)}: part 1 of {len(keyed_parts)}")
    frames = _collect(queries | (keyed_parts[0] if keyed_parts else {}), list(scans.values()), tz)
    for number, part in enumerate(keyed_parts[1:], start=2):
        if progress is not None:
            progress(f"{_reading_text(scans)}: part {number} of {len(keyed_parts)}")
        frames |= _collect(part, list(scans.values()), tz)
    for key, plan in plans.items():
        if plan.keyed:
            found = [frames.pop(f"{key}#{n}") for n in range(len(keyed_parts)) if f"{key}#{n}" in frames]
            frames[key] = pl.concat(found, how="vertical")
    if not oldest:
        oldest = {name: frames[f"newest:{name}"]["oldest"][0] for name in scans}
        newest = newest or {name: frames[f"newest:{name}"]["newest"][0] for name in scans}
    notes += _coverage_notes(series, oldest)
    notes += _unmatched_notes(scans, frames, unmatched)
    notes += [note for scan in scans.values() for note in scan.notes]
    known = [moment for moment in newest.values() if moment is not None]
    described_at = max(known) if known else None
    if described_at is not None and described_at < series[-1].end_dt:
        notes.append(
            f"the period {series[-1].label} runs past the as-of time ({described_at:%Y-%m-%d %H:%M}); "
            "it is not complete"
        )

    values = _Values()
    for key, plan in plans.items():
        _read_plan(plan, frames[key], needed, by_key, values)
    by_id = {kpi.id: kpi for kpi in computed}
    for kpi in computed:
        if kpi.from_kpis:
            _from_kpis(kpi, dims_of[kpi.id], needed, values, formulas[kpi.id], ctx_values)
    # A KPI computed from to-date KPIs counts what they count (the I-S rating: the fiscal year to date).
    to_date = {
        kpi.id: next((k.window.to_date for k in with_inputs(cat, [kpi]) if k.window.to_date), None) for kpi in chosen
    }
    results = [
        result
        for kpi in chosen
        for result in _results(
            kpi,
            own_dims[kpi.id],
            series,
            values,
            _percentile_method(formulas[kpi.id]),
            [by_id[i] for i in inputs(kpi)],
            fy,
            to_date[kpi.id],
        )
    ]
    spans = {kpi_id: _covers(kind, series[-1], fy) for kpi_id, kind in to_date.items()}
    for covers in dict.fromkeys(c for c in spans.values() if c is not None):
        ids = [kpi_id for kpi_id, found in spans.items() if found == covers]
        notes.append(f"{', '.join(ids)}: {series[-1].label} counts the {covers.label}, {covers.start} to {covers.end}")

    data_files = []
    for name, scan in scans.items():
        counts = dict(frames[f"rows:{name}"].iter_rows())
        data_files += [
            DataFileInfo(dataset=name, path=str(path), rows=int(counts.get(index, 0)))
            for index, path in enumerate(scan.files)
        ]
    return ComputeRun(
        catalog=CatalogInfo(path=str(loaded.path), sha256=loaded.sha256, title=cat.title),
        data_dir=str(root),
        data_files=data_files,
        as_of=described_at,
        period=_period_info(current),
        every=every,
        prior_period=_period_info(series[-1].prior()),
        year_ago_period=_period_info(series[-1].year_ago()),
        group_by=list(dict.fromkeys(d for dims in breakdowns or [] for d in dims)),
        breakdowns=[list(dims) for dims in breakdowns or []],
        percentile_definition=PERCENTILE_METHOD_TEXT,
        results=results,
        notes=notes,
    )


def _series_parts(
    plans: dict[str, _Plan],
    scans: dict[str, DatasetScan],
    big: set[str],
    by_key: dict[int, Period],
    every: SeriesKind,
    fy: int,
    part_rows: int,
    tz: str | None,
) -> list[dict[str, pl.LazyFrame]]:
    """The keyed queries of a series, in parts of at most about `part_rows` records each.

    A dataset not in `big` is one part. A big one is first counted per period of each window column (a cheap read
    of one column), then cut into consecutive periods of about `part_rows` records.
    """
    import polars as pl

    keys = sorted(by_key)
    windows = {(plan.dataset, plan.window) for plan in plans.values() if plan.keyed}
    counts: dict[tuple[str, str], dict[int, int]] = {}
    if big:
        count_queries = {
            f"{name}|{window}": scans[name]
            .frame.select(_period_key(window, every, fy))
            .filter(pl.col(PERIOD_KEY).is_in(keys))
            .group_by(PERIOD_KEY)
            .len()
            for name, window in sorted(windows)
            if name in big
        }
        for label, frame in _collect(count_queries, [scans[n] for n in sorted(big)], tz).items():
            name, window = label.split("|")
            counts[(name, window)] = dict(frame.iter_rows())
    parts: list[dict[str, pl.LazyFrame]] = []
    for key, plan in plans.items():
        if not plan.keyed:
            continue
        assert plan.window is not None
        found = counts.get((plan.dataset, plan.window))
        chunks = _parts(found, part_rows) if found else [keys]
        date_only = scans[plan.dataset].dataset.columns[plan.window].type == "date"
        for number, chunk in enumerate(chunks):
            if number == len(parts):
                parts.append({})
            parts[number][f"{key}#{number}"] = plan.for_periods(chunk, by_key[chunk[0]], by_key[chunk[-1]], date_only)
    return parts


def _reading_text(scans: dict[str, DatasetScan]) -> str:
    parts = [f"{name} ({len(scan.files)} file{'s' if len(scan.files) != 1 else ''})" for name, scan in scans.items()]
    return "reading " + ", ".join(parts)
