"""The Polars executor: a plan becomes lazy Polars queries, collected together, and their rows become values.

For each dataset the files are scanned once with only the columns the plan reads, the records are taken as they
were known at the moment, deadlines and derived columns are added, and the frame is marked as a shared cache, so
that every query of the dataset (every breakdown, the per-file row counts, the notes' counts) reads the files once.
A masked query aggregates each KPI once per period, each aggregate filtering its own period's records; a keyed
query groups the records by the period key of a window date. A series over a big export is collected a few periods
at a time to bound memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civic_kpi.catalog.loader import LoadedCatalog
from civic_kpi.data.deadlines import load_policy_table, with_deadlines
from civic_kpi.data.known import (
    EARLIEST,
    after_moment_note,
    after_moment_query,
    as_known_at,
    cut_at_moment,
    known_records,
)
from civic_kpi.data.sources import (
    DatasetScan,
    columns_in_files,
    diagnose,
    estimated_rows,
    load_reference,
    nonfinite_note,
    nonfinite_query,
    query_options,
    row_count_query,
    scan_dataset,
)
from civic_kpi.data.tables import source_name
from civic_kpi.data.values import flags_of, unknown_codes_note, unknown_codes_query
from civic_kpi.engine import percentiles as percentiles_module
from civic_kpi.engine import snapshots
from civic_kpi.engine.group_limit import group_count_queries, refuse_too_many_groups
from civic_kpi.engine.percentiles import BUCKET, COUNT, VALUE, bucket, histogram, percentiles
from civic_kpi.engine.plan import DatasetPlan, Plan, Query, window_bounds
from civic_kpi.engine.request import Dims, Request
from civic_kpi.engine.rollup import Rollup, arrange
from civic_kpi.engine.values import COUNTS, Group, Values, from_kpis, value_of
from civic_kpi.errors import DataError, Problem
from civic_kpi.formula import (
    NO_PERIOD,
    Compiled,
    Context,
    Partials,
    Quantile,
    all_rows,
    both,
    cadence_inputs,
    cadence_note,
    compile_formula,
    compile_row,
    count_rows,
    instant_column,
    instant_columns,
    moment_literal,
    parse_formula,
    refresh_days,
    with_derived,
)
from civic_kpi.time.moment import Moment
from civic_kpi.time.periods import Period, SeriesKind, period_number
from civic_kpi.time.zones import utc

if TYPE_CHECKING:
    import polars as pl

    from civic_kpi.catalog.model import KPI, Catalog

PERIOD_KEY = "__period"


@dataclass(frozen=True)
class KpiExprs:
    """One KPI in one period as Polars expressions; None where a piece does not apply (all records pass)."""

    window: pl.Expr | None  # the records of the period's window (a snapshot: all)
    where: pl.Expr | None  # the KPI's own `where`
    elapsed: pl.Expr | None  # a follow-up window: it has fully elapsed by the moment
    mask: pl.Expr | None  # window and where
    seen: pl.Expr | None  # window, where and elapsed: the records the aggregates look at
    existing: pl.Expr | None  # a snapshot: the records that existed by `as_of`
    as_of: datetime
    compiled: dict[str, Compiled]


@dataclass
class Execution:
    """What running a plan produced: the values, and the facts about the data the run document reports."""

    values: Values
    file_rows: dict[str, list[int]]  # per dataset: records read from each of its files, in file order
    newest: dict[str, datetime | None]  # per dataset: the newest stamp of its freshness column (as known)
    oldest: dict[str, datetime | None]  # per dataset: the oldest date of its date column
    notes: list[str] = field(default_factory=list)
    cut_at_moment: bool = False  # the data held records or stamps after the moment (left out or blanked)


@dataclass(frozen=True)
class RolledExprs:
    """A rollup's expressions (PolarsExecutor.rollup_exprs)."""

    partial: list[pl.Expr]  # the partial totals per finest group (and period, in a series)
    finals: dict[str, list[pl.Expr]]  # per member query: its aggregates, over the partial totals
    quantiles: dict[str, Quantile]  # per KPI that is one percentile: what engine/percentiles.py computes


@dataclass(frozen=True)
class PendingPercentile:
    """A percentile of a rollup whose first pass (its histogram) is among a part's queries."""

    rollup: Rollup
    kpi_id: str
    quantile: Quantile
    fed: pl.LazyFrame  # the finest keys and the value, one row per value fed
    part: str

    @property
    def fine(self) -> list[str]:
        return [PERIOD_KEY, *self.rollup.fine.dims]

    @property
    def histogram_key(self) -> str:
        return f"histogram:{self.rollup.fine.key}:{self.kpi_id}@{self.part}"


class PolarsExecutor:
    """Runs plans of one request on Polars. The datasets are scanned once, when the executor is made."""

    def __init__(
        self,
        request: Request,
        progress: Callable[[str], None] | None = None,
        files: Mapping[str, tuple[Path, ...]] | None = None,
    ) -> None:
        """`files`: the files of each dataset, as a plan fixed them (default: what each path matches now)."""
        cat = request.catalog
        self.request = request
        # The run's "today": the default moment never passes it, and records dated after it are named in a note.
        self.today = Moment.now(cat.timezone).at
        self.scans = {
            name: self.scan(name, set(columns), list(files[name]) if files is not None else None)
            for name, columns in request.columns.items()
        }
        used = {r for formulas in request.formulas.values() for f in formulas.values() for r in f.refs}
        # A derived column may name a reference table too (`hood in ref.hoods`).
        used |= {
            ref
            for name, columns in request.derived.items()
            for column in columns
            if column in cat.datasets[name].derived
            for ref in parse_formula(cat.datasets[name].derived[column], row=True).refs
        }
        refs = {name: load_reference(name, cat.reference_tables[name], request.root) for name in sorted(used)}
        self.ctx_values: dict[str, Any] = {"params": dict(cat.parameters), "refs": refs, "timezone": cat.timezone}
        self.progress = progress
        self._instants: dict[str, frozenset[str]] = {}
        if progress is not None:
            progress(reading_text(self.scans))

    def scan(self, name: str, columns: set[str], files: list[Path] | None) -> DatasetScan:
        """The dataset's scan of `columns`, of `files` (default: what its path matches now, or its table). A plan
        made for an engine that reads a table in place holds the snapshot of its types alone, which has no record:
        Polars reads the table's records instead."""
        from civic_kpi.data.tables import schema_only

        cat = self.request.catalog
        if files is not None and schema_only(files):
            files = None
        return scan_dataset(name, cat.datasets[name], self.request.root, columns, cat.timezone, files)

    def files(self) -> dict[str, tuple[Any, ...]]:
        return {name: tuple(scan.files) for name, scan in self.scans.items()}

    def size(self, name: str) -> int:
        """About how many records a dataset holds (decides whether a series is computed in parts)."""
        return estimated_rows(self.scans[name])

    def data_span(self) -> tuple[dict[str, datetime | None], dict[str, datetime | None]]:
        """Each dataset's newest stamp up to today and oldest date, as exported (see `catalog_span`)."""
        return catalog_span(self.request.loaded, self.request.root, set(self.scans), self.today)

    def frame(self, dp: DatasetPlan, plan: Plan) -> pl.LazyFrame:
        """The dataset's records as known at the moment, with its deadlines and derived columns (all records,
        flagged; `known_records` keeps those that existed)."""
        import polars as pl

        cat, scan = self.request.catalog, self.scans[dp.name]
        frame = as_known_at(scan.frame, dp.dataset, set(dp.columns), plan.moment, self.today)
        if dp.deadlines and not self.engine_adds_deadlines(plan, dp):
            frame = with_deadlines(frame, dp.dataset, set(dp.deadlines), cat, self.request.root, plan.holiday_years)
        zone, instants = cat.timezone, self.instants(plan, dp)
        if zone is not None and instants:
            frame = frame.with_columns(utc(pl.col(c), zone).alias(instant_column(c)) for c in sorted(instants))
        if dp.derived:
            frame = with_derived(
                frame, dp.dataset.derived, set(dp.derived), self.ctx_values, dp.dataset.date_only_columns
            )
        # Every query of a CSV or JSON dataset shares one read of its files. Left to itself, the optimizer projects
        # each query differently and parses the files once per projection: on 10M rows a series took 12.2 s instead
        # of 7.7 s from CSV. Parquet is cheap to read again (0.45 s for the benchmark's columns at 10M rows) and a
        # cache holds every record: without one, the same series took the same time in 1.85 GB instead of 2.4 GB.
        # A series in parts reads the export once per part instead: one cache of it all would not fit.
        return frame if dp.in_parts or dp.dataset.file_format == "parquet" else frame.cache()

    def engine_adds_deadlines(self, plan: Plan, dp: DatasetPlan) -> bool:
        """Whether the engine that aggregates computes the dataset's SLA deadlines itself (a SQL engine's calendar
        table), so that the records this executor reads need none: never here."""
        return False

    def notes_in_engine(self, plan: Plan, dp: DatasetPlan) -> bool:
        """Whether the engine that aggregates also counts the dataset's notes, its rows per file and its groups per
        breakdown (a SQL engine reading the files itself), so that this executor reads none of its records: never
        here."""
        return False

    def engine_group_counts(self, plan: Plan) -> dict[str, pl.DataFrame]:
        """The groups per breakdown of the datasets whose notes the engine counts, as group_count_queries gives
        them: none here."""
        return {}

    def instants(self, plan: Plan, dp: DatasetPlan) -> frozenset[str]:
        """The timestamp columns of the dataset that its KPIs measure durations between: the frame converts each
        to an instant once, where every KPI and period reads it (a time-zone lookup per record is slow)."""
        if dp.name not in self._instants:
            formulas = [f for q in dp.queries for kpi in q.kpis for f in plan.formulas(kpi.id).values()]
            found = instant_columns(formulas, dp.dataset.date_only_columns) & (set(dp.columns) | set(dp.deadlines))
            self._instants[dp.name] = frozenset(found)
        return self._instants[dp.name]

    def execute(self, plan: Plan) -> Execution:
        import polars as pl

        request, tz = self.request, self.request.catalog.timezone
        group_counts = self.check_groups(plan)
        frames = {name: self.frame(dp, plan) for name, dp in plan.datasets.items()}
        queries: dict[str, pl.LazyFrame] = {}
        keyed: dict[str, tuple[Query, pl.LazyFrame, Rollup | None]] = {}
        answered: list[Query] = []  # the queries whose rows hold values, as the executor runs them
        for name, dp in plan.datasets.items():
            records = known_records(frames[name])
            answered += self.aggregation_queries(plan, dp, records, group_counts.get(name, {}), queries, keyed)
            if self.notes_in_engine(plan, dp):
                continue  # the engine counts them where it reads the records (`answers`)
            queries[f"rows:{name}"] = row_count_query(replace(self.scans[name], frame=frames[name]))
            queries[f"moment:{name}"] = after_moment_query(frames[name], dp.dataset, set(dp.columns), self.today)
            queries[f"span:{name}"] = newest_query(records, self.scans[name])
            nonfinite = nonfinite_query(replace(self.scans[name], frame=frames[name]))
            if nonfinite is not None:
                queries[f"nonfinite:{name}"] = nonfinite
            if dp.deadlines:
                queries |= unmatched_queries(name, dp, records, self.request.catalog, self.request.root)
            queries |= self.cadence_queries(dp, records)
            for flag in flags_of(dp.dataset, dp.derived, dp.columns):  # codes neither of a flag's lists knows
                queries[f"codes:{name}:{flag}"] = unknown_codes_query(dp.dataset, flag, records)
        parts, pending = self._series_parts(plan, keyed, frames)
        if self.progress is not None and len(parts) > 1:
            self.progress(f"{reading_text(self.scans)}: part 1 of {len(parts)}")
        scans = list(self.scans.values())
        collected = collect(queries | (parts[0] if parts else {}), scans, tz)
        for number, part in enumerate(parts[1:], start=2):
            if self.progress is not None:
                self.progress(f"{reading_text(self.scans)}: part {number} of {len(parts)}")
            collected |= collect(part, scans, tz)
        if pending:
            second_passes(pending, collected, scans, tz)
        collected |= self.answers(plan)
        values = Values()
        for query in answered:
            if query.keyed:
                found = [collected.pop(k) for k in sorted(collected) if k.startswith(f"{query.key}@")]
                result = pl.concat(found, how="vertical")
            else:
                result = collected[query.key]
            read_query(query, result, plan.by_key, values)
        for kpi in request.computed:
            if kpi.from_kpis:
                from_kpis(kpi, request.dims_of[kpi.id], plan.needed, values, request.formulas[kpi.id], self.ctx_values)
        return self._execution(plan, collected, values)

    def aggregation_queries(
        self,
        plan: Plan,
        dp: DatasetPlan,
        records: pl.LazyFrame,
        group_counts: dict[Dims, int],
        queries: dict[str, pl.LazyFrame],
        keyed: dict[str, tuple[Query, pl.LazyFrame, Rollup | None]],
    ) -> list[Query]:
        """Add the dataset's aggregations to `queries` (masked, and rollups) and `keyed` (a series' keyed queries);
        return the queries whose rows hold values, as they will be collected. Another executor (a SQL one) answers
        them its own way (see `answers`)."""
        # Percentiles in two passes read the records twice: Parquet is cheap to read again; a CSV is parsed once
        # and held for all queries anyway, and a series in parts holds a part at a time.
        two_pass = percentiles_module.ENABLED and dp.dataset.file_format == "parquet" and not dp.in_parts
        reduce = snapshots.reducible(plan, dp, records)
        direct, rollups = arrange(plan, dp, group_counts, two_pass, reduce)
        for query in direct:
            if query.keyed:
                keyed[query.key] = (query, self._keyed_frame(plan, dp, query, records), None)
            else:
                queries[query.key] = self.masked_query(plan, dp, query, records)
        for rollup in rollups:
            if rollup.fine.keyed:
                keyed[rollup.fine.key] = (rollup.fine, self._keyed_frame(plan, dp, rollup.fine, records), rollup)
            else:
                rolled = self.rollup_exprs(plan, dp, rollup)
                base = records
                if rollup.reduced:
                    base = snapshots.reduced(records, plan, dp, rollup.fine, rolled.partial)
                fine = base.group_by(list(rollup.fine.dims)).agg(rolled.partial).cache()
                queries |= {m.key: rolled_up(fine, m.dims, rolled.finals[m.key]) for m in rollup.members}
        return direct + [member for rollup in rollups for member in rollup.members]

    def answers(self, plan: Plan) -> dict[str, pl.DataFrame]:
        """The rows of the queries `aggregation_queries` left to this executor (none: Polars collects them all)."""
        return {}

    def check_groups(self, plan: Plan) -> dict[str, dict[Dims, int]]:
        """Refuse a breakdown with more groups than the request allows, before the aggregations run: a read of the
        breakdown columns (and the columns that say which records existed at the moment), nothing else. Returns
        each dataset's breakdowns with their numbers of groups."""
        known = {
            name: known_records(as_known_at(self.scans[name].frame, dp.dataset, set(dp.columns), plan.moment))
            for name, dp in plan.datasets.items()
            if not self.notes_in_engine(plan, dp)
        }
        queries = group_count_queries(plan, known)
        collected = collect(queries, list(self.scans.values()), self.request.catalog.timezone) if queries else {}
        return refuse_too_many_groups(plan, collected | self.engine_group_counts(plan))

    def _execution(self, plan: Plan, collected: dict[str, pl.DataFrame], values: Values) -> Execution:
        notes, cut = [], False
        for name, dp in plan.datasets.items():
            after = collected[f"moment:{name}"].row(0, named=True)
            cut = cut or cut_at_moment(after)
            note = after_moment_note(name, dp.dataset, plan.moment, after, self.today)
            notes += [note] if note else []
            notes += unmatched_notes(name, dp, collected)
            notes += cadence_notes(name, collected)
            for flag in flags_of(dp.dataset, dp.derived, dp.columns):
                note = unknown_codes_note(name, dp.dataset, flag, collected[f"codes:{name}:{flag}"])
                notes += [note] if note else []
            if f"nonfinite:{name}" in collected:
                counts = {c: int(n or 0) for c, n in collected[f"nonfinite:{name}"].row(0, named=True).items()}
                note = nonfinite_note(name, counts)
                notes += [note] if note else []
            notes += self.scans[name].notes
        file_rows = {}
        for name, scan in self.scans.items():
            counts = dict(collected[f"rows:{name}"].iter_rows())
            file_rows[name] = [int(counts.get(index, 0)) for index in range(len(scan.files))]
        newest = {name: collected[f"span:{name}"]["newest"][0] for name in plan.datasets}
        oldest = {name: collected[f"span:{name}"]["oldest"][0] for name in plan.datasets}
        return Execution(values, file_rows, newest, oldest, notes, cut)

    def cadence_queries(self, dp: DatasetPlan, records: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
        """Per text refresh_days() reads (in a derived column or a KPI of the dataset): the distinct values it
        gave no days for, with their counts. Only those: 'Monthly' on 10,000 records is not collected."""
        import polars as pl

        request = self.request
        formulas = {column: parse_formula(dp.dataset.derived[column], row=True) for column in sorted(dp.derived)}
        for kpi in request.computed:
            if kpi.dataset == dp.name and not kpi.from_kpis:
                formulas |= {f"{kpi.id}.{part}": formula for part, formula in request.formulas[kpi.id].items()}
        inputs = cadence_inputs(formulas, self.ctx_values, dp.dataset.date_only_columns)
        queries = {}
        for label, text in inputs.items():
            value = text.cast(pl.String)
            unused = value.is_not_null() & refresh_days(value).is_null()
            queries[f"cadence:{dp.name}:{label}"] = (
                records.filter(unused).select(value.alias("value")).group_by("value").len()
            )
        return queries

    def masked_query(self, plan: Plan, dp: DatasetPlan, query: Query, records: pl.LazyFrame) -> pl.LazyFrame:
        exprs = [
            expr
            for i, kpi in enumerate(query.kpis)
            for period in query.periods
            for expr in self.aggregations(plan, dp, kpi, f"{i}|{period.label}|", period)
        ]
        return records.group_by(list(query.dims)).agg(exprs) if query.dims else records.select(exprs)

    def _keyed_frame(self, plan: Plan, dp: DatasetPlan, query: Query, records: pl.LazyFrame) -> pl.LazyFrame:
        assert query.window is not None and plan.request.every is not None
        fy = plan.request.catalog.fiscal_year_start_month
        return records.with_columns(period_key(query.window, plan.request.every, fy))

    def keyed_exprs(self, plan: Plan, dp: DatasetPlan, query: Query) -> list[pl.Expr]:
        return [expr for i, kpi in enumerate(query.kpis) for expr in self.aggregations(plan, dp, kpi, f"{i}||", None)]

    def kpi_exprs(
        self, plan: Plan, dp: DatasetPlan, kpi: KPI, period: Period | None, partials: Partials | None = None
    ) -> KpiExprs:
        """One KPI in one period as expressions over the dataset's known records (`period` None: per group of a
        frame grouped by period). The aggregates and `explain`/`rows` are built from the same pieces."""
        import polars as pl

        formulas = plan.formulas(kpi.id)
        dataset, fy = dp.dataset, plan.request.catalog.fiscal_year_start_month
        window = None if period is None else window_mask(dp, kpi, period, fy)
        start, end = (period.start_dt, period.end_dt) if period else (NO_PERIOD, NO_PERIOD)
        # As things stood at the end of the period, but never past the moment: after it nothing is known.
        as_of = plan.moment.capped(end) if period is not None else NO_PERIOD
        ctx_values, dates, instants = self.ctx_values, dataset.date_only_columns, self.instants(plan, dp)
        mask, where, elapsed, existing = window, None, None, None
        if "where" in formulas:
            where_ctx = Context(None, start, end, as_of, **ctx_values, date_columns=dates, instants=instants)
            where = compile_row(formulas["where"], where_ctx)
            where = where.fill_null(False)
            mask = both(mask, where)
        if kpi.window.follow_up_days:
            # Only records whose follow-up window has fully elapsed by the moment can be judged; the rest are
            # counted as left out, so the output can say how many and why.
            column = pl.col(kpi.window.date or dataset.date_column).cast(pl.Datetime("us"))
            ends = column + pl.duration(days=kpi.window.follow_up_days)
            elapsed = (ends <= moment_literal(plan.moment.at)).fill_null(False)
        if kpi.window.snapshot and period is not None:
            existing = pl.col(dataset.date_column).cast(pl.Datetime("us")) <= moment_literal(as_of)
            existing = existing.fill_null(False)
        seen = both(mask, elapsed) if elapsed is not None else mask
        ctx = Context(seen, start, end, as_of, **ctx_values, date_columns=dates, instants=instants)
        compiled = {
            name: compile_formula(formula, ctx, partials) for name, formula in formulas.items() if name != "where"
        }
        return KpiExprs(window, where, elapsed, mask, seen, existing, as_of, compiled)

    def aggregations(
        self,
        plan: Plan,
        dp: DatasetPlan,
        kpi: KPI,
        prefix: str,
        period: Period | None,
        partials: Partials | None = None,
    ) -> list[pl.Expr]:
        """The aggregates of one KPI for one period (`period` None: per group of a frame grouped by period); given
        `partials`, over the partial totals they collect (engine/rollup.py)."""
        import polars as pl

        parts = self.kpi_exprs(plan, dp, kpi, period, partials)
        exprs: list[pl.Expr] = []
        if parts.elapsed is not None:
            excluded = count_rows(both(parts.mask, ~parts.elapsed), partials)
            exprs.append(excluded.cast(pl.Int64).alias(prefix + "excluded"))
        # a snapshot: the records that existed by then
        rows = parts.seen if parts.existing is None else both(parts.where, parts.existing)
        compiled = parts.compiled
        if kpi.is_ratio:
            exprs.append(compiled["numerator"].expr.cast(pl.Float64).alias(prefix + "numerator"))
            exprs.append(compiled["denominator"].expr.cast(pl.Float64).alias(prefix + "denominator"))
            samples = compiled["denominator"].samples or compiled["numerator"].samples
        else:
            exprs.append(compiled["value"].expr.cast(pl.Float64).alias(prefix + "value"))
            samples = compiled["value"].samples
        sample = samples[0] if samples else count_rows(parts.seen, partials)
        exprs.append(sample.cast(pl.Int64).alias(prefix + "sample"))
        invalid = [flag for compiled_formula in compiled.values() for flag in compiled_formula.invalid]
        if invalid:
            exprs.append(pl.max_horizontal(invalid).cast(pl.Int64).alias(prefix + "invalid"))
        exprs.append(count_rows(rows, partials).cast(pl.Int64).alias(prefix + "rows"))
        return exprs

    def rollup_exprs(self, plan: Plan, dp: DatasetPlan, rollup: Rollup) -> RolledExprs:
        """A rollup's partial totals (grouping the records by its finest breakdown) and, per member query, the
        aggregates that put them together, named as the member's own query would name them."""
        partial: dict[str, pl.Expr] = {}
        by_kpi: dict[str, list[pl.Expr]] = {}
        quantiles: dict[str, Quantile] = {}
        periods: tuple[Period | None, ...] = (None,) if rollup.fine.keyed else rollup.fine.periods
        for j, kpi in enumerate(rollup.fine.kpis):
            for period in periods:
                label = "" if period is None else period.label
                parts = Partials(f"~{j}|{label}|", snapshots.WEIGHT if rollup.reduced else None)
                by_kpi.setdefault(kpi.id, []).extend(self.aggregations(plan, dp, kpi, f"|{label}|", period, parts))
                partial |= parts.columns
                if parts.quantiles:  # only a series' percentile splits (rollup.arrange): one period, one percentile
                    quantiles[kpi.id] = parts.quantiles[0]
        finals = {
            member.key: [
                expr.alias(f"{i}{expr.meta.output_name()}")
                for i, kpi in enumerate(member.kpis)
                for expr in by_kpi[kpi.id]
            ]
            for member in rollup.members
        }
        return RolledExprs(list(partial.values()), finals, quantiles)

    def _series_parts(
        self,
        plan: Plan,
        keyed: dict[str, tuple[Query, pl.LazyFrame, Rollup | None]],
        frames: Mapping[str, pl.LazyFrame],
    ) -> tuple[list[dict[str, pl.LazyFrame]], list[PendingPercentile]]:
        """The keyed queries of a series, in parts of at most about PART_ROWS records each, and the second passes
        of their percentiles (each part's queries include the first: its histogram).

        A dataset not computed in parts is one part. A big one is first counted per period of each window column
        (a cheap read of one column), then cut into consecutive periods of about PART_ROWS records.
        """
        import polars as pl

        from civic_kpi.engine.plan import PART_ROWS

        if not keyed:
            return [], []
        every, fy, tz = plan.request.every, plan.request.catalog.fiscal_year_start_month, plan.request.catalog.timezone
        assert every is not None
        keys = sorted(plan.by_key)
        big = {q.dataset for q, _, _ in keyed.values() if plan.datasets[q.dataset].in_parts}
        windows = sorted({(q.dataset, q.window) for q, _, _ in keyed.values() if q.dataset in big})
        counts: dict[tuple[str, str | None], dict[int, int]] = {}
        if windows:
            count_queries = {
                f"{name}|{window}": known_records(frames[name])
                .select(period_key(window, every, fy))
                .filter(pl.col(PERIOD_KEY).is_in(keys))
                .group_by(PERIOD_KEY)
                .len()
                for name, window in windows
                if window is not None
            }
            for label, frame in collect(count_queries, [self.scans[n] for n in sorted(big)], tz).items():
                name, window = label.split("|")
                counts[(name, window)] = dict(frame.iter_rows())
        parts: list[dict[str, pl.LazyFrame]] = []
        pending: list[PendingPercentile] = []
        for key, (query, frame, rollup) in keyed.items():
            assert query.window is not None
            found = counts.get((query.dataset, query.window))
            chunks = split_in_parts(found, PART_ROWS) if found else [keys]
            dp = plan.datasets[query.dataset]
            date_only = dp.dataset.columns[query.window].type == "date"
            rolled = self.rollup_exprs(plan, dp, rollup) if rollup is not None else None
            exprs = self.keyed_exprs(plan, dp, query) if rolled is None else rolled.partial
            for number, chunk in enumerate(chunks):
                if number == len(parts):
                    parts.append({})
                first, last = plan.by_key[chunk[0]], plan.by_key[chunk[-1]]
                records = in_periods(frame, query, chunk, first, last, date_only)
                if rollup is None or rolled is None:
                    parts[number][f"{key}@{number:04d}"] = records.group_by([PERIOD_KEY, *query.dims]).agg(exprs)
                    continue
                # The first percentile's histogram is the partial totals grouped by its bucket too: one grouping of
                # the records instead of two (10M records: 0.89 s for a histogram of its own).
                merged = next(iter(rolled.quantiles.values()), None)
                if merged is not None:
                    records = records.with_columns(pl.when(merged.rows).then(bucket(merged.value)).alias(BUCKET))
                grouping = [PERIOD_KEY, *query.dims, *([BUCKET] if merged is not None else [])]
                fine = records.group_by(grouping).agg(exprs).cache()
                for member in rollup.members:
                    rolled_frame = rolled_up(fine, (PERIOD_KEY, *member.dims), rolled.finals[member.key])
                    parts[number][f"{member.key}@{number:04d}"] = rolled_frame
                for kpi_id, quantile in rolled.quantiles.items():
                    fed = records.filter(quantile.rows).select([PERIOD_KEY, *query.dims, quantile.value.alias(VALUE)])
                    wait = PendingPercentile(rollup, kpi_id, quantile, fed, f"{number:04d}")
                    if merged is not None and same_input(quantile, merged):
                        counted = pl.col(BUCKET).is_not_null() & (pl.col(quantile.fed_count) > 0)
                        found = fine.filter(counted).select(
                            [*wait.fine, BUCKET, pl.col(quantile.fed_count).alias(COUNT)]
                        )
                    else:
                        found = histogram(fed, wait.fine)
                    parts[number][wait.histogram_key] = found
                    pending.append(wait)
        return parts, pending


def catalog_span(
    loaded: LoadedCatalog, root: Path, needed: set[str], today: datetime | None = None, skip: Set[str] = frozenset()
) -> tuple[dict[str, datetime | None], dict[str, datetime | None]]:
    """Each dataset's newest stamp (over its freshness and event columns) up to `today` (default: the clock now)
    and oldest date: one small query per dataset, collected together. The moment a run describes is the newest over
    every dataset of the catalog, not only those the chosen KPIs read, so that it does not change with --kpi; a
    dataset outside `needed` whose files cannot be read does not stop the run (its own KPIs would report it).

    A stamp after today is a typo (9999-12-31) or a plan, not news of how fresh the export is: were it the moment,
    one record dated 2099 would move every default period to 2099. A dataset whose every stamp is after today
    describes today. `skip`: datasets whose span the caller finds otherwise (a table an engine reads in place)."""
    from civic_kpi.errors import CivicKpiError

    cat = loaded.catalog
    today = today if today is not None else Moment.now(cat.timezone).at
    scans = {}
    for name, dataset in cat.datasets.items():
        if name in skip:
            continue
        # Every event column the files have: a preset may declare a column an older layout lacks.
        events = columns_in_files(name, dataset, root, set(dataset.event_columns))
        try:
            scans[name] = scan_dataset(
                name, dataset, root, {dataset.freshness_column, dataset.date_column, *events}, cat.timezone
            )
        except CivicKpiError:
            if name in needed:
                raise
    needed = needed - set(skip)
    for chosen in (scans, {name: scan for name, scan in scans.items() if name in needed}):
        queries = {name: newest_query(scan.frame, scan, today) for name, scan in chosen.items()}
        try:
            frames = collect(queries, list(chosen.values()), cat.timezone)
        except CivicKpiError:
            if len(chosen) == len(needed):
                raise
            continue  # a dataset no KPI of the run reads does not parse: leave it out of the moment
        return {n: f["newest"][0] for n, f in frames.items()}, {n: f["oldest"][0] for n, f in frames.items()}
    raise AssertionError("unreachable: the second pass raises or returns")


def in_periods(
    frame: pl.LazyFrame, query: Query, keys: list[int], first: Period, last: Period, date_only: bool
) -> pl.LazyFrame:
    """The records of a keyed query's frame in some of the series' periods (`keys`, from `first` to `last`)."""
    import polars as pl

    assert query.window is not None
    start: date | datetime = first.start if date_only else first.start_dt
    end: date | datetime = last.end if date_only else last.end_dt
    # The range on the raw column lets a Parquet reader skip row groups; the key keeps only asked-for periods.
    column = pl.col(query.window)
    return frame.filter(
        (column >= moment_literal(start)) & (column < moment_literal(end)) & pl.col(PERIOD_KEY).is_in(keys)
    )


def window_mask(dp: DatasetPlan, kpi: KPI, period: Period, fiscal_year_start_month: int) -> pl.Expr:
    """The records of a KPI's window in a period (a snapshot: all records; a to-date window: from the start of
    the quarter or (fiscal) year)."""
    import polars as pl

    window = window_bounds(dp, kpi, period, fiscal_year_start_month)
    if window is None:
        return all_rows()
    column = pl.col(window.column)
    return (column >= moment_literal(window.start)) & (column < moment_literal(window.end))


def period_key(column: str, kind: SeriesKind, fiscal_year_start_month: int) -> pl.Expr:
    """The period a record falls in, numbered as the periods asked for are: the group key of a series."""
    import polars as pl

    value = pl.col(column)
    year, month = value.dt.year().cast(pl.Int32), value.dt.month().cast(pl.Int32)
    return period_number(kind, year, month, fiscal_year_start_month).alias(PERIOD_KEY)


def second_passes(
    pending: list[PendingPercentile], collected: dict[str, pl.DataFrame], scans: list[DatasetScan], tz: str | None
) -> None:
    """Compute the pending percentiles from their collected histograms (one more read of the records, collected
    together) and put each in its place: the value column of each member query's rows, in `collected`."""
    queries: dict[str, pl.LazyFrame] = {}
    places: dict[str, tuple[str, str, tuple[str, ...]]] = {}  # query -> (result, value column, its keys)
    for wait in pending:
        members = [(m, m.kpis.index(k)) for m in wait.rollup.members for k in m.kpis if k.id == wait.kpi_id]
        levels = [(PERIOD_KEY, *member.dims) for member, _ in members]
        counted = collected.pop(wait.histogram_key)
        q = wait.quantile
        found = percentiles(wait.fed, counted, wait.fine, levels, q.quantile, q.method)
        for (member, index), level, frame in zip(members, levels, found, strict=True):
            key = f"percentile:{member.key}:{wait.kpi_id}@{wait.part}"
            queries[key] = frame
            places[key] = (f"{member.key}@{wait.part}", f"{index}||value", level)
    for key, frame in collect(queries, scans, tz).items():
        result, column, level = places[key]
        collected[result] = (
            collected[result]
            .drop(column)
            .join(frame.rename({VALUE: column}), on=list(level), how="left", nulls_equal=True)
        )


def same_input(one: Quantile, other: Quantile) -> bool:
    """Whether two percentiles are of the same values (a P90 and a median of the same durations)."""
    return one is other or (one.value.meta.eq(other.value) and one.rows.meta.eq(other.rows))


def rolled_up(fine: pl.LazyFrame, dims: tuple[str, ...], exprs: list[pl.Expr]) -> pl.LazyFrame:
    """A breakdown (or the overall row) put together from a grouping by a finer one (engine/rollup.py)."""
    return fine.group_by(list(dims)).agg(exprs) if dims else fine.select(exprs)


def split_in_parts(counts: dict[int, int], budget: int) -> list[list[int]]:
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


def read_query(query: Query, frame: pl.DataFrame, by_key: dict[int, Period], values: Values) -> None:
    """File the values of one collected query under their KPI, period and group."""
    # One row's dict at a time: a list of every group's dict would be held beside the frame and the values.
    rows = (frame.sort(list(query.dims), nulls_last=True) if query.dims else frame).iter_rows(named=True)
    if query.keyed:
        # A keyed query has no row for a period without records of a group, where a masked query has a row of
        # zero counts: this is that row's value, so both paths report the same.
        for index, kpi in enumerate(query.kpis):
            prefix = f"{index}||"
            counts = [c for c in frame.columns if c.startswith(prefix) and c.rsplit("|", 1)[1] in COUNTS]
            values.set_empty(kpi.id, value_of(kpi, dict.fromkeys(counts, 0), prefix))
    for row in rows:
        group: Group = tuple((dim, None if row[dim] is None else str(row[dim])) for dim in query.dims)
        for index, kpi in enumerate(query.kpis):
            if query.keyed:
                values.add(kpi.id, query.dims, group, by_key[row[PERIOD_KEY]], value_of(kpi, row, f"{index}||"))
            else:
                for period in query.periods:
                    values.add(kpi.id, query.dims, group, period, value_of(kpi, row, f"{index}|{period.label}|"))


def newest_query(frame: pl.LazyFrame, scan: DatasetScan, until: datetime | None = None) -> pl.LazyFrame:
    """The newest stamp a dataset holds (over its freshness column and the event columns read: a closure can be
    newer than the last request opened), of those at or before `until` if given (`until` itself when every stamp
    is after it), and the oldest date of its date column."""
    import polars as pl

    dataset = scan.dataset
    # A scheduled date column (a due date) may lie ahead of the export: it says nothing of how fresh the data is,
    # unless the catalog names it as_of_column.
    named = {dataset.as_of_column} if dataset.as_of_column else set()
    stamps = sorted((dataset.event_columns | named) & set(scan.columns)) or [dataset.freshness_column]
    values = [pl.col(c).cast(pl.Datetime("us")) for c in stamps]
    newest = pl.max_horizontal([value.max() for value in values])
    if until is not None:
        limit = pl.lit(until, dtype=pl.Datetime("us"))
        capped = pl.max_horizontal([value.filter(value <= limit).max() for value in values])
        newest = pl.when(capped.is_null() & newest.is_not_null()).then(limit).otherwise(capped)
    # A record dated 0001-01-01 falls in no period: as the oldest, it would hide that the data starts in 2024.
    first = pl.col(dataset.date_column).cast(pl.Datetime("us"))
    return frame.select(
        newest.alias("newest"),
        first.filter(first >= pl.lit(EARLIEST, dtype=pl.Datetime("us"))).min().alias("oldest"),
    )


def unmatched_queries(
    name: str, dp: DatasetPlan, frame: pl.LazyFrame, catalog: Catalog, data_dir: Path
) -> dict[str, pl.LazyFrame]:
    """Per deadline: records whose key the SLA table does not list (they have no deadline, so no on-time verdict).
    From the key alone, as the table matches it (as text), so that the deadlines themselves need not be computed
    here when a SQL engine computes them."""
    import polars as pl

    queries = {}
    for column in sorted(dp.deadlines):
        deadline = dp.dataset.deadlines[column]
        if deadline.key is None:
            continue
        policy = catalog.sla_policies[deadline.policy]
        listed = load_policy_table(deadline.policy, policy, data_dir)["key"]
        missing = pl.col(deadline.key).is_not_null() & ~pl.col(deadline.key).cast(pl.String).is_in(listed.implode())
        keys = pl.col(deadline.key).filter(missing).unique().sort().head(3).implode()
        queries[f"unmatched:{name}:{column}"] = frame.select(missing.sum().alias("count"), keys.alias("keys"))
    return queries


def cadence_notes(name: str, collected: Mapping[str, pl.DataFrame]) -> list[str]:
    notes = []
    for key in sorted(k for k in collected if k.startswith(f"cadence:{name}:")):
        counts = dict(collected[key].iter_rows())
        notes += cadence_note(f"{name}.{key.split(':', 2)[2]}", counts)
    return notes


def unmatched_notes(name: str, dp: DatasetPlan, collected: Mapping[str, pl.DataFrame]) -> list[str]:
    notes = []
    for column in sorted(dp.deadlines):
        found = collected.get(f"unmatched:{name}:{column}")
        if found is None or not found["count"][0]:
            continue
        count, keys = found["count"][0], found["keys"][0]
        deadline = dp.dataset.deadlines[column]
        notes.append(
            f"{name}: {count} records have a {deadline.key} the SLA table '{deadline.policy}' does not list "
            f"({', '.join(map(str, keys))}{' ...' if count > len(keys) else ''}); they have no {column}, "
            "so no on-time verdict"
        )
    return notes


def collect(
    queries: dict[str, pl.LazyFrame], scans: list[DatasetScan], timezone: str | None
) -> dict[str, pl.DataFrame]:
    """Collect all queries in one go; a parse failure becomes a DataError that names file, row and column."""
    import polars as pl

    try:
        engine, flags = query_options((path, scan.dataset.file_format) for scan in scans for path in scan.files)
        found = pl.collect_all(list(queries.values()), engine=engine, optimizations=flags)
        return dict(zip(queries, found, strict=True))
    except (pl.exceptions.PolarsError, OSError) as exc:  # OSError: a truncated gzip, a file gone mid-run
        for scan in scans:
            problem = diagnose(scan, timezone)
            if problem is not None:
                raise DataError(problem) from None
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        files = sorted({source_name(f) for scan in scans for f in scan.files})  # a table's, not its snapshot
        raise DataError(
            Problem(
                f"could not read the data: {message}",
                file=files[0] if len(files) == 1 else None,
                hint="check the datasets' formats, delimiters and column types in the catalog "
                "(`civic-kpi validate` checks the columns)",
            )
        ) from None


def reading_text(scans: Mapping[str, DatasetScan]) -> str:
    parts = [f"{name} ({len(scan.files)} file{'s' if len(scan.files) != 1 else ''})" for name, scan in scans.items()]
    return "reading " + ", ".join(parts)
