"""The SQL executors' common part: a plan's aggregations as SQL statements (formula/sql.py through SQLGlot).

Each dataset's records are read, taken as known at the moment, given their deadlines, instants and derived columns
exactly as the Polars executor does (PolarsExecutor.frame), streamed into a file in the same pass as the run's
other queries (`stage`), and read by the engine as a relation named `records`; or, where SQL prepares them exactly
(a typed Parquet export, direct.py) and the engine reads files itself (DuckDB), read and prepared by the engine.
A dataset's masked queries become one statement, and its keyed queries one per window column (grouping.py): a
filtered aggregate per KPI and period (`COUNT(*) FILTER (WHERE ...)`, an exact percentile), grouped by a grouping
set per breakdown, and for a series by the period number the plan's own arithmetic writes in SQL. Each engine
(connection.py) says how it stages, loads and runs; dialects.py writes each dialect's SQL and prints it for
`civic-kpi sql`.

The notes (the records the moment leaves out, NaN values, unlisted keys, ...), the rows per file and the groups per
breakdown are the engine's where it reads the export itself and SQL counts each as Polars does (notes.py): Polars
then reads none of the dataset's records. Elsewhere Polars counts them in the pass that stages the records. The
moment a run describes, found before the plan is made, is Polars' (a read of the stamp columns alone).

A PostgreSQL table on `--engine postgres` is read in place where its database types say it exactly (`scan`,
`_SAME_IN_SQL`): the data layer sees only a snapshot of its column types, and the moment (`table_spans`), the notes
and the statements run on the table's own server, each dataset's in one read-only transaction, through
`WITH records AS (...)` rather than a view (nothing is created there). Where SQL would read it otherwise, the table
is read through its snapshot as before (`_leave_place`).

The SLA deadlines are the engine's too where SQL says them exactly (deadlines.py): the records are staged without
them (STAGED) and a view adds them as `records` (`records_view`). Not yet: CSV and JSON exports, text parsed with
formats, and zones prepared by the engine.
"""

from __future__ import annotations

import re
import tempfile
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from civic_kpi.data.sources import DatasetScan, scan_dataset
from civic_kpi.engine.plan import DatasetPlan, Plan, Query, window_bounds
from civic_kpi.engine.polars_executor import PERIOD_KEY, PolarsExecutor, catalog_span
from civic_kpi.engine.sql.connection import SqlEngine, case_clash
from civic_kpi.engine.sql.deadlines import deadline_columns
from civic_kpi.engine.sql.dialects import RECORDS, STAGED, checked_sql, sql_of
from civic_kpi.engine.sql.direct import IN_PLACE, DirectRead, direct_read, typed_columns
from civic_kpi.engine.sql.grouping import SET_KEY, by_query, dims_of, grouping_id, kpis_of, statements
from civic_kpi.engine.sql.notes import NoteQuery, dataset_notes, file_rows, group_count_query, span_of_table
from civic_kpi.errors import Problem, UsageError
from civic_kpi.formula import NO_PERIOD, instant_column, parse_formula
from civic_kpi.formula.sql import (
    SqlContext,
    SqlUnsupported,
    both,
    column,
    compile_sql,
    compile_sql_row,
    count_where,
    divides,
    false_if_null,
    literal,
)
from civic_kpi.time.periods import Period, period_index, period_number

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp

    from civic_kpi.catalog.loader import LoadedCatalog
    from civic_kpi.catalog.model import KPI, Dataset, TableSource
    from civic_kpi.engine.request import Dims
    from civic_kpi.engine.rollup import Rollup


@dataclass(frozen=True)
class _Pending:
    dp: DatasetPlan
    records: Path | exp.Select  # the staged records (`stage`), or the SELECT that reads them (direct.py)
    schema: pl.Schema | None = None  # the staged records'
    view: exp.Select | None = None  # what makes `records` of the staged ones, STAGED (their SLA deadlines)
    notes: list[NoteQuery] | None = None  # the dataset's notes, where the engine counts them (notes.py)


class SqlExecutor(PolarsExecutor):
    """Runs a plan's aggregations as SQL, through an engine's connection (`sql_engine`)."""

    sql_engine: ClassVar[SqlEngine | None] = None  # None: an executor that only writes statements (`civic-kpi sql`)

    @property
    def engine(self) -> str:
        return self.sql_engine.name if self.sql_engine is not None else ""

    @property
    def dialect(self) -> str:
        return self.sql_engine.dialect if self.sql_engine is not None else "duckdb"

    def execute(self, plan: Plan) -> Any:
        self._pending: list[_Pending] = []
        self._engine_reads: dict[str, tuple[DirectRead | None, exp.Select | None]] = {}
        self._notes: dict[str, list[NoteQuery] | None] = {}
        # The records staged for the engine live as long as the run.
        with tempfile.TemporaryDirectory(prefix="civic-kpi-") as folder:
            self._folder = Path(folder)
            return super().execute(plan)

    def aggregation_queries(
        self,
        plan: Plan,
        dp: DatasetPlan,
        records: pl.LazyFrame,
        group_counts: dict[Dims, int],
        queries: dict[str, pl.LazyFrame],
        keyed: dict[str, tuple[Query, pl.LazyFrame, Rollup | None]],
    ) -> list[Query]:
        """The dataset's records, with the columns the statements read, staged for the engine by a sink that the
        Polars executor collects with the run's other queries (the notes, the row counts): the export is read once,
        streamed, and a value the catalog's format cannot read is one line naming the file, row and column."""
        if not dp.queries:
            return []
        assert self.sql_engine is not None
        clash = case_clash(self.record_columns(plan, dp))
        if clash is not None:
            raise UsageError(
                Problem(
                    f"dataset {dp.name}: the columns {clash[0]!r} and {clash[1]!r} differ only in case, which SQL "
                    "engines do not tell apart",
                    hint="rename one of them in the catalog, or run with --engine polars",
                )
            )
        direct, view = self._engine_reads_of(plan, dp)
        if direct is not None:
            self._pending.append(_Pending(dp, direct.records, notes=self._notes_of(plan, dp)))
            return list(dp.queries)
        frame = records.select(self.staged_columns(plan, dp, view))
        path = self._folder / f"{len(self._pending)}.{self.sql_engine.staged_format}"
        queries[f"stage:{dp.name}"] = self.sql_engine.stage(frame, path)
        self._pending.append(_Pending(dp, path, frame.collect_schema(), view))
        return list(dp.queries)

    def answers(self, plan: Plan) -> dict[str, pl.DataFrame]:
        found: dict[str, pl.DataFrame] = {}
        assert self.sql_engine is not None or not self._pending
        in_place = [dataset for dataset in self._pending if self.in_place(dataset.dp.name)]
        if len(in_place) < len(self._pending):
            with self.sql_engine.connect() as connection:  # type: ignore[union-attr]
                for dataset in self._pending:
                    if dataset not in in_place:
                        found |= self._answer(plan, dataset, connection)
        for dataset in in_place:
            with self._table_connection(dataset.dp.name) as connection:
                found |= self._answer(plan, dataset, connection)
        return found

    def _answer(self, plan: Plan, dataset: _Pending, connection: Any) -> dict[str, pl.DataFrame]:
        """The rows of one dataset's statements, and of its notes where the engine counts them."""
        engine, dp, found = self.sql_engine, dataset.dp, {}
        assert engine is not None
        hint = "run this KPI with --engine polars"
        grouped = statements(dp)
        sql = [checked_sql(self, plan, dp, queries, self.dialect, hint) for queries in grouped]
        if self.in_place(dp.name):
            # No view: nothing is created in the database, and a role that may only read can run it.
            assert not isinstance(dataset.records, Path)
            records = self.sql(dataset.records, dp.name)
            sql = [f'WITH "{RECORDS}" AS (\n{records}\n)\n{text}' for text in sql]
        elif isinstance(dataset.records, Path):
            assert dataset.schema is not None
            staged = RECORDS if dataset.view is None else STAGED
            engine.load(connection, dataset.records, dataset.schema, dp.name, staged)
            if dataset.view is not None:
                engine.read(connection, sql_of(dataset.view, self.dialect), dp.name)
        else:
            engine.read(connection, sql_of(dataset.records, self.dialect), dp.name)
        with engine.reading(connection) if self.in_place(dp.name) else nullcontext():
            for note in dataset.notes or []:
                rows = [engine.run(connection, self.sql(select, dp.name), dp.name) for select in note.selects]
                found |= note.frames(rows)
            if dataset.notes is not None and not self.in_place(dp.name):
                found[f"rows:{dp.name}"] = file_rows(self, dp)
            for queries, text in zip(grouped, sql, strict=True):
                result = engine.run(connection, text, dp.name)
                for query, rows in by_query(queries, result):
                    # A keyed query's rows are filed the way the Polars executor files a series' parts.
                    found[f"{query.key}@sql" if query.keyed else query.key] = rows
        return found

    def in_place(self, name: str) -> bool:
        """Whether the engine reads the dataset's table in place (`scan`), not a snapshot of it."""
        return name in self.__dict__.get("_in_place", ())

    def scan(self, name: str, columns: set[str], files: list[Path] | None) -> DatasetScan:
        """A table of the engine's own kind (`reads_tables`) is read in place where every column the run and the
        moment read is typed as the catalog reads it: the data layer maps and checks the snapshot of its columns'
        types alone, which holds no record, and the engine reads the table itself. Otherwise, and for any other
        dataset, the scan of its files or its table's snapshot."""
        from civic_kpi.data.tables import schema_only, table_files

        engine, dataset = self.sql_engine, self.request.catalog.datasets[name]
        table = dataset.source is not None and engine is not None and dataset.source.engine == engine.reads_tables
        if not table or (files is not None and not schema_only(files)):
            return super().scan(name, columns, files)
        types = files if files is not None else table_files(name, dataset, rows=False)
        cat = self.request.catalog
        scan = scan_dataset(name, dataset, self.request.root, columns, cat.timezone, list(types))
        if not _in_place_possible(
            name, dataset, types, sorted(set(scan.columns) | _span_columns(name, dataset, types))
        ):
            return super().scan(name, columns, None)
        self.__dict__.setdefault("_in_place", set()).add(name)
        return replace(scan, frame=_not_for_polars(scan.frame, name))

    def _leave_place(self, name: str) -> None:
        """Read a table through its snapshot after all (a KPI or a note SQL cannot say as Polars does)."""
        self.__dict__["_in_place"].discard(name)
        self.scans[name] = super().scan(name, set(self.scans[name].columns), None)

    def _table_connection(self, name: str) -> AbstractContextManager[Any]:
        from civic_kpi.data.tables import connection_target

        assert self.sql_engine is not None
        dataset = self.request.catalog.datasets[name]
        return self.sql_engine.connect_to(connection_target(name, dataset), name)

    def sql(self, select: exp.Expression, name: str) -> str:
        """A statement over a dataset in the engine's dialect, reading its table where the engine reads it in place."""
        source = self.request.catalog.datasets[name].source
        if not self.in_place(name) or source is None:
            return sql_of(select, self.dialect)
        return in_place_sql(select, self.dialect, source)

    def data_span(self) -> tuple[dict[str, datetime | None], dict[str, datetime | None]]:
        """As the Polars executor finds it; for a table read in place, in SQL over the table (`table_spans`)."""
        if self.sql_engine is None:  # `civic-kpi sql` writes statements and reads no table in place
            return super().data_span()
        request, in_place = self.request, {name for name in self.scans if self.in_place(name)}
        return span_with_tables(self.sql_engine, request.loaded, request.root, in_place, set(self.scans), self.today)

    def record_columns(self, plan: Plan, dp: DatasetPlan) -> list[str]:
        """The columns of `records` the statements read (the data layer's own flags stay behind)."""
        prepared = sorted(set(dp.columns) | set(dp.deadlines) | set(dp.derived))
        if self.request.catalog.timezone is None:  # no zone: durations are wall-clock time, no instant is made
            return prepared
        return prepared + [instant_column(name) for name in sorted(self.instants(plan, dp))]

    def engine_adds_deadlines(self, plan: Plan, dp: DatasetPlan) -> bool:
        """Whether the engine computes the dataset's deadlines (reading the export itself, or over the staged
        records): then the records Polars reads for the notes and the staging need none, and their business days
        are not counted twice. Not when a derived column reads one: Polars adds the derived columns it reads."""
        if not dp.deadlines or self.sql_engine is None or _derived_read_deadlines(dp):
            return False
        return any(read is not None for read in self._engine_reads_of(plan, dp))

    def notes_in_engine(self, plan: Plan, dp: DatasetPlan) -> bool:
        """Whether the engine counts the dataset's notes (notes.py): where it reads the files itself, and every note
        can be counted in SQL as Polars counts it."""
        return self._notes_of(plan, dp) is not None

    def _notes_of(self, plan: Plan, dp: DatasetPlan) -> list[NoteQuery] | None:
        """The statements of the dataset's notes, found once per run (None: Polars counts them)."""
        found = self.__dict__.setdefault("_notes", {})
        if dp.name not in found:
            direct = self._engine_reads_of(plan, dp)[0] if dp.queries and self.sql_engine is not None else None
            found[dp.name] = None if direct is None else dataset_notes(self, plan, dp, direct)
        notes: list[NoteQuery] | None = found[dp.name]
        return notes

    def engine_group_counts(self, plan: Plan) -> dict[str, pl.DataFrame]:
        counted = {}
        for name, dp in plan.datasets.items():
            direct = self._engine_reads_of(plan, dp)[0] if self.notes_in_engine(plan, dp) else None
            query = None if direct is None else group_count_query(plan, dp, direct)
            if query is not None:
                counted[name] = query
        found = {}
        engine = self.sql_engine
        for name, query in counted.items():
            assert engine is not None
            with self._table_connection(name) if self.in_place(name) else engine.connect() as connection:
                found[f"groups:{name}"] = engine.run(connection, self.sql(query, name), name)
        return found

    def _engine_reads_of(self, plan: Plan, dp: DatasetPlan) -> tuple[DirectRead | None, exp.Select | None]:
        """How the engine gets the dataset's records: the SELECT reading its files itself (direct.py), else the view
        adding the deadlines to the staged ones (`records_view`), else neither. Found once per run and dataset
        (`execute` starts afresh), for the frame Polars reads and for the staging: direct.py reads the files'
        schemas, and each policy table is read."""
        assert self.sql_engine is not None
        found = self.__dict__.setdefault("_engine_reads", {})
        if dp.name not in found:
            direct = direct_read(self, plan, dp) if self.sql_engine.reads_files() or self.in_place(dp.name) else None
            if self.in_place(dp.name) and (direct is None or dataset_notes(self, plan, dp, direct) is None):
                self._leave_place(dp.name)
                direct = None
            found[dp.name] = (direct, None if direct is not None else self.records_view(plan, dp))
        reads: tuple[DirectRead | None, exp.Select | None] = found[dp.name]
        return reads

    def records_view(self, plan: Plan, dp: DatasetPlan) -> exp.Select | None:
        """The SELECT that makes `records` of the staged records (STAGED) by adding their SLA deadlines on a
        calendar table (deadlines.py); None where the records are staged whole, their deadlines added by Polars:
        none is needed, SQL would differ, a derived column reads one (Polars adds the derived columns), or a
        duration is measured from one (its instant is made by Polars)."""
        from sqlglot import exp

        if not dp.deadlines:
            return None
        if self.request.catalog.timezone is not None and set(dp.deadlines) & self.instants(plan, dp):
            return None
        if _derived_read_deadlines(dp):
            return None
        known = exp.select(exp.Star()).from_(exp.to_table(STAGED, quoted=True))
        catalog, root = self.request.catalog, self.request.root
        return deadline_columns(known, dp.dataset, set(dp.deadlines), catalog, root, plan.holiday_years)

    def staged_columns(self, plan: Plan, dp: DatasetPlan, view: exp.Select | None) -> list[str]:
        """The columns of the staged records: those of `records`, or, where the engine adds the deadlines
        (`records_view`), the others and the columns the deadlines are computed from."""
        columns = self.record_columns(plan, dp)
        if view is None:
            return columns
        used = {c for name in dp.deadlines for c in (dp.dataset.deadlines[name].start, dp.dataset.deadlines[name].key)}
        return sorted((set(columns) - set(dp.deadlines)) | (used - {None}))

    def statement(self, plan: Plan, dp: DatasetPlan, queries: tuple[Query, ...]) -> exp.Select:
        """A dataset's queries that share a statement (grouping.statements) as one SELECT over `records`: the
        breakdowns' columns and every KPI's aggregates, named as the Polars executor names them. Masked: one row per
        group, an aggregate per KPI and period, each filtering its period's records (`0|2026-10|value`). Keyed (a
        series): one row per period and group, the period numbered from the window column's date as the plan numbers
        the series (`0||value`, and `__period`). Several breakdowns: a grouping set each, `__set` telling them
        apart."""
        from sqlglot import exp

        query = queries[0]
        dims, kpis = dims_of(queries), kpis_of(queries)
        keys: list[exp.Expression] = [column(dim) for dim in dims]
        periods: tuple[Period | None, ...] = query.periods
        records: exp.Expression = exp.to_table(RECORDS, quoted=True)
        if query.keyed:
            periods = (None,)
            keys.insert(0, column(PERIOD_KEY))
            # The period key computed once per record, where the select, the filter and each grouping set would
            # each compute it again (10 to 12 % of DuckDB's time on the benchmark's series).
            numbered = exp.alias_(self._period_key(plan, query), PERIOD_KEY, quoted=True)
            records = exp.select(exp.Star(), numbered).from_(records).subquery(RECORDS)
        columns: list[exp.Expression] = list(keys)
        if len(queries) > 1:
            columns.append(exp.alias_(grouping_id(dims), SET_KEY, quoted=True, copy=False))
        for index, kpi in enumerate(kpis):
            for period in periods:
                try:
                    parts = self.kpi_sql(plan, dp, kpi, period)
                except SqlUnsupported as error:
                    raise UsageError(
                        Problem(
                            f"{error.what} is not supported on --engine {self.engine} yet",
                            kpi=kpi.id,
                            hint="run it with --engine polars",
                        )
                    ) from None
                prefix = f"{index}|{'' if period is None else period.label}|"
                columns += [exp.alias_(value, prefix + name, quoted=True, copy=False) for name, value in parts.items()]
        select = exp.Select().select(*columns, copy=False).from_(records, copy=False)
        if query.keyed:
            select = select.where(self._in_series(plan, dp, query), copy=False)
        if len(queries) == 1:
            return select.group_by(*keys, copy=False) if keys else select
        # Each set lists the period key itself (no `GROUP BY key, GROUPING SETS (...)`, which older Spark refuses).
        period = keys[:1] if query.keyed else []
        sets = [exp.Tuple(expressions=[*(k.copy() for k in period), *(column(d) for d in q.dims)]) for q in queries]
        return select.group_by(exp.GroupingSets(expressions=sets), copy=False)

    def _period_key(self, plan: Plan, query: Query) -> exp.Expression:
        """The period a record falls in, numbered as time.periods.period_number numbers the periods asked for."""
        from sqlglot import exp

        assert query.window is not None and plan.request.every is not None
        kind, fy = plan.request.every, plan.request.catalog.fiscal_year_start_month
        value = column(query.window)
        # period_number is plain arithmetic: on SQLGlot expressions it writes the same formula in SQL (its floor
        # division becomes the dialect's integer division, the same for the positive numbers of months).
        key = period_number(kind, exp.Year(this=value), exp.Month(this=value), fy)
        return exp.cast(key, exp.DataType.build("BIGINT"), copy=False)

    def _in_series(self, plan: Plan, dp: DatasetPlan, query: Query) -> exp.Expression:
        """The records of a keyed query's periods (polars_executor.in_periods): a range on the window column,
        then the period keys asked for."""
        from sqlglot import exp

        assert query.window is not None and plan.request.every is not None
        kind, fy = plan.request.every, plan.request.catalog.fiscal_year_start_month
        date_only = dp.dataset.columns[query.window].type == "date"
        first, last = min(query.periods, key=lambda p: p.start), max(query.periods, key=lambda p: p.end)
        value = column(query.window)
        keys = sorted({period_index(kind, period.start, fy) for period in query.periods})
        return exp.and_(
            exp.GTE(this=value, expression=literal(first.start if date_only else first.start_dt)),
            exp.LT(this=value, expression=literal(last.end if date_only else last.end_dt)),
            exp.In(this=column(PERIOD_KEY), expressions=[literal(key) for key in keys]),
            wrap=True,
        )

    def kpi_sql(self, plan: Plan, dp: DatasetPlan, kpi: KPI, period: Period | None) -> dict[str, exp.Expression]:
        """One KPI in one period (None: per period of a keyed query's rows): the aggregates the Polars executor
        computes (PolarsExecutor.kpi_exprs and aggregations), as SQL."""
        from sqlglot import exp

        formulas = plan.formulas(kpi.id)
        dataset, fy = dp.dataset, plan.request.catalog.fiscal_year_start_month
        double, bigint = exp.DataType.build("DOUBLE"), exp.DataType.build("BIGINT")
        window = None if period is None else self._window(dp, kpi, period, fy)
        start, end = (period.start_dt, period.end_dt) if period is not None else (NO_PERIOD, NO_PERIOD)
        as_of = plan.moment.capped(end) if period is not None else NO_PERIOD
        mask, where, elapsed, existing = window, None, None, None
        if "where" in formulas:
            where = false_if_null(compile_sql_row(formulas["where"], self._context(plan, dp, None, start, end, as_of)))
            mask = both(mask, where)
        if kpi.window.follow_up_days:
            date = exp.cast(column(kpi.window.date or dataset.date_column), exp.DataType.build("TIMESTAMP"), copy=False)
            days = exp.Interval(this=literal(kpi.window.follow_up_days), unit=exp.var("DAY"))
            ends = exp.Add(this=date, expression=days)
            elapsed = false_if_null(exp.LTE(this=ends, expression=literal(plan.moment.at)))
        if kpi.window.snapshot and period is not None:
            stamp = exp.cast(column(dataset.date_column), exp.DataType.build("TIMESTAMP"), copy=False)
            existing = false_if_null(exp.LTE(this=stamp, expression=literal(as_of)))
        seen = both(mask, elapsed) if elapsed is not None else mask
        ctx = self._context(plan, dp, seen, start, end, as_of)
        compiled = {name: compile_sql(formula, ctx) for name, formula in formulas.items() if name != "where"}
        parts: dict[str, exp.Expression] = {}
        if elapsed is not None:
            parts["excluded"] = count_where(both(mask, exp.Not(this=elapsed)))
        if kpi.is_ratio:
            parts["numerator"] = exp.cast(compiled["numerator"].expr, double, copy=False)
            parts["denominator"] = exp.cast(compiled["denominator"].expr, double, copy=False)
            samples = compiled["denominator"].samples or compiled["numerator"].samples
        else:
            parts["value"] = exp.cast(compiled["value"].expr, double, copy=False)
            samples = compiled["value"].samples
        parts["sample"] = exp.cast(samples[0] if samples else count_where(seen), bigint, copy=False)
        invalid = [counted for formula in compiled.values() for counted in formula.invalid]
        if invalid:
            most = invalid[0] if len(invalid) == 1 else exp.Greatest(this=invalid[0], expressions=invalid[1:])
            parts["invalid"] = exp.cast(most, bigint, copy=False)
        rows = seen if existing is None else (existing if where is None else both(where, existing))
        parts["rows"] = exp.cast(count_where(rows), bigint, copy=False)
        return parts

    def _window(self, dp: DatasetPlan, kpi: KPI, period: Period, fy: int) -> exp.Expression | None:
        """The records of a KPI's window in a period (engine/polars_executor.window_mask): None for a snapshot."""
        from sqlglot import exp

        window = window_bounds(dp, kpi, period, fy)
        if window is None:
            return None
        value = column(window.column)
        after = exp.GTE(this=value, expression=literal(window.start))
        before = exp.LT(this=value, expression=literal(window.end))
        return exp.and_(after, before, wrap=True, copy=False)

    def _context(
        self,
        plan: Plan,
        dp: DatasetPlan,
        mask: exp.Expression | None,
        start: datetime,
        end: datetime,
        as_of: datetime,
    ) -> SqlContext:
        zone = self.ctx_values["timezone"]
        return SqlContext(
            mask,
            start,
            end,
            as_of,
            self.ctx_values["params"],
            self.ctx_values["refs"],
            zone,
            dp.dataset.date_only_columns,
            self.instants(plan, dp),
            divided=_dividing(dp),
            kinds=dp.dataset.column_kinds,
            to_utc=lambda moment: _to_utc(moment, zone),
        )


def _derived_read_deadlines(dp: DatasetPlan) -> bool:
    """Whether a derived column the plan computes reads one of its deadlines (`late: closed > sla_due_at`)."""
    derived = dp.dataset.derived
    return any(parse_formula(derived[name], row=True).columns & set(dp.deadlines) for name in dp.derived)


def _dividing(dp: DatasetPlan) -> frozenset[str]:
    """The dataset's derived columns whose formula divides (their 0 / 0 is NaN, which min and max skip)."""
    from civic_kpi.formula import parse_formula

    return frozenset(name for name in dp.derived if divides(parse_formula(dp.dataset.derived[name], row=True)))


def _to_utc(moment: datetime, zone: str | None) -> datetime:
    """A naive wall-clock moment of `zone` as naive UTC, by the rule the records' instants follow (time/zones.py)."""
    import polars as pl

    from civic_kpi.time.zones import utc

    if zone is None or moment == NO_PERIOD:
        return moment
    value: datetime = pl.select(utc(pl.lit(moment, dtype=pl.Datetime("us")), zone)).item()
    return value


def _span_columns(name: str, dataset: Dataset, files: list[Path] | tuple[Path, ...]) -> set[str]:
    """The columns the moment reads of a dataset (polars_executor.catalog_span): its freshness and date columns and
    each event column its files (or table) hold."""
    from civic_kpi.data.sources import check_columns

    events = set(dataset.event_columns)
    missing = {p.field.rsplit(".", 1)[1] for p in check_columns(name, dataset, list(files), events) if p.field}
    return {dataset.freshness_column, dataset.date_column} | (events - missing)


# The database types whose values SQL compares, groups and orders as Polars does the snapshot's, by the catalog's
# type of the column. Not a CHAR(n) (PostgreSQL ignores its trailing spaces), an enum, json, citext or a domain:
# those are read through the snapshot.
_SAME_IN_SQL = {
    "string": {"text", "varchar"},
    "integer": {"int2", "int4", "int8"},
    "float": {"float4", "float8"},
    "boolean": {"bool", "text", "varchar"},  # a text boolean: one of its true_values
    "date": {"date"},
    "datetime": {"timestamp"},
}


def _in_place_possible(name: str, dataset: Dataset, types: list[Path] | tuple[Path, ...], columns: list[str]) -> bool:
    """Whether the engine reads these columns of the table in place as the data layer reads its snapshot: each of a
    database type SQL reads the same (_SAME_IN_SQL) and typed as the catalog reads it (direct.typed_columns)."""
    from civic_kpi.data.tables import database_types

    found = database_types(types[0])
    kinds = {column: dataset.columns[column].type for column in columns if column in dataset.columns}
    same = all(found.get(dataset.source_name(column)) in _SAME_IN_SQL.get(kind, ()) for column, kind in kinds.items())
    return same and typed_columns(dataset, types, columns) is not None


def _not_for_polars(frame: pl.LazyFrame, name: str) -> pl.LazyFrame:
    """The frame of a table the engine reads in place: its scan holds the columns' types and no record, so a Polars
    query of it would count none. Collecting it raises instead (a bug, exit 3), never a silent zero."""

    def refuse(found: pl.DataFrame) -> pl.DataFrame:
        raise AssertionError(f"dataset {name} is read in place by the engine; Polars has none of its records")

    return frame.map_batches(refuse)


def in_place_sql(select: exp.Expression, dialect: str, source: TableSource) -> str:
    """A statement reading a table in place (direct.IN_PLACE) as the dialect's SQL: the stand-in name, quoted or not
    as the dialect writes it, becomes the relation as the catalog wrote it (a query is its own SQL, never parsed and
    rewritten)."""
    from civic_kpi.data.tables import relation

    return re.sub(rf'"?\b{IN_PLACE}\b"?', lambda _: relation(source), sql_of(select, dialect))


def span_with_tables(
    engine: SqlEngine, loaded: LoadedCatalog, root: Path, tables: set[str], needed: set[str], today: datetime
) -> tuple[dict[str, datetime | None], dict[str, datetime | None]]:
    """polars_executor.catalog_span, with the span of each dataset of `tables` the engine reads in place read where
    the table is (`table_spans`) instead of through a snapshot."""
    spans = table_spans(engine, loaded, tables, needed, today)
    newest, oldest = catalog_span(loaded, root, needed, today, skip=set(spans))
    for name, (new, old) in spans.items():
        newest[name], oldest[name] = new, old
    return newest, oldest


def table_spans(
    engine: SqlEngine, loaded: LoadedCatalog, names: set[str], needed: set[str], today: datetime
) -> dict[str, tuple[datetime | None, datetime | None]]:
    """polars_executor.catalog_span in SQL, for each dataset of `names` that is a table of the engine's kind
    (`reads_tables`) whose stamps are typed as the catalog reads them: (newest, oldest), read where the table is.
    A dataset outside `needed` that cannot be read is left out, as catalog_span leaves it."""
    from civic_kpi.data.tables import connection_target, read_live, table_files
    from civic_kpi.errors import CivicKpiError

    found = {}
    for name in sorted(names):
        dataset = loaded.catalog.datasets[name]
        if dataset.source is None or dataset.source.engine != engine.reads_tables:
            continue
        try:
            types = table_files(name, dataset, rows=False)
            columns = sorted(_span_columns(name, dataset, types))
            stamps = (
                typed_columns(dataset, types, columns) if _in_place_possible(name, dataset, types, columns) else None
            )
            if stamps is None:
                continue
            read_live(name, dataset)  # a snapshot of its records taken before is read again (tables.table_files)
            with engine.connect_to(connection_target(name, dataset), name) as connection:
                select = span_of_table(dataset, stamps, today)
                rows = engine.run(connection, in_place_sql(select, engine.dialect, dataset.source), name)
        except CivicKpiError:
            if name in needed:
                raise
            continue
        found[name] = rows["newest"][0], rows["oldest"][0]
    return found
