"""The SQL executors' common part: a plan's aggregations as SQL statements (formula/sql.py through SQLGlot).

The data layer stays on Polars for now: each dataset's records are read, taken as known at the moment, given their
deadlines, instants and derived columns exactly as the Polars executor does (PolarsExecutor.frame), and loaded into
the engine as a relation named `records`. Every query of the plan becomes one statement: a filtered aggregate per
KPI and period (`COUNT(*) FILTER (WHERE ...)`, an exact percentile), grouped by the breakdown's columns, and for a
series by the period number the plan's own arithmetic writes in SQL. The notes, the row counts and the moment stay
the Polars executor's. Each engine (duckdb_engine.py, postgres_engine.py, spark_engine.py) says how it connects,
loads the records and runs a statement; dialects.py writes each dialect's SQL and prints it for `civic-kpi sql`.

Not yet: records read and prepared by the engine itself (files, tables), deadlines through a calendar table.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from civic_kpi.engine.plan import DatasetPlan, Plan, Query, window_bounds
from civic_kpi.engine.polars_executor import PERIOD_KEY, PolarsExecutor, collect
from civic_kpi.engine.sql.dialects import RECORDS, checked_sql
from civic_kpi.errors import Problem, UsageError, first_line
from civic_kpi.formula import NO_PERIOD, instant_column
from civic_kpi.formula.sql import (
    SqlContext,
    SqlUnsupported,
    both,
    column,
    compile_sql,
    compile_sql_row,
    count_where,
    false_if_null,
    literal,
)
from civic_kpi.time.periods import Period, period_index, period_number

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp

    from civic_kpi.catalog.model import KPI
    from civic_kpi.engine.request import Dims
    from civic_kpi.engine.rollup import Rollup


@dataclass(frozen=True)
class _Pending:
    dp: DatasetPlan
    records: pl.LazyFrame
    queries: tuple[Query, ...]


class SqlExecutor(PolarsExecutor):
    """Runs a plan's aggregations as SQL; an engine's subclass connects, loads a dataset's records and runs a
    statement."""

    engine = ""  # the --engine name (empty: an executor that only writes the statements, for `civic-kpi sql`)
    dialect = ""  # SQLGlot's name of the engine's SQL

    def execute(self, plan: Plan) -> Any:
        self._pending: list[_Pending] = []
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
        self._pending.append(_Pending(dp, records, dp.queries))
        return list(dp.queries)

    def answers(self, plan: Plan) -> dict[str, pl.DataFrame]:
        found: dict[str, pl.DataFrame] = {}
        pending = [p for p in self._pending if p.queries]
        if not pending:
            return found
        with self.connect() as connection:
            for dataset in pending:
                hint = "run this KPI with --engine polars"
                statements = {
                    q.key: checked_sql(self, plan, dataset.dp, q, self.dialect, hint) for q in dataset.queries
                }
                columns = self.record_columns(plan, dataset.dp)
                # Through the executor's collect: a value the catalog's format cannot read is one line naming the
                # file, row and column, as on Polars.
                scan = [self.scans[dataset.dp.name]]
                records = collect({"records": dataset.records.select(columns)}, scan, self.request.catalog.timezone)
                self.load(connection, records["records"], dataset.dp.name)
                for query in dataset.queries:
                    result = self.run(connection, statements[query.key], dataset.dp.name)
                    # A keyed query's rows are filed the way the Polars executor files a series' parts.
                    found[f"{query.key}@sql" if query.keyed else query.key] = result
        return found

    def record_columns(self, plan: Plan, dp: DatasetPlan) -> list[str]:
        """The columns of `records` the statements read (the data layer's own flags stay behind)."""
        prepared = sorted(set(dp.columns) | set(dp.deadlines) | set(dp.derived))
        if self.request.catalog.timezone is None:  # no zone: durations are wall-clock time, no instant is made
            return prepared
        return prepared + [instant_column(name) for name in sorted(self.instants(plan, dp))]

    def connect(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def load(self, connection: Any, records: pl.DataFrame, dataset: str) -> None:
        """Make `records` the relation RECORDS for the statements that follow."""
        raise NotImplementedError

    def run(self, connection: Any, sql: str, dataset: str) -> pl.DataFrame:
        raise NotImplementedError

    def refused(self, dataset: str, error: Exception) -> UsageError:
        """An engine's error as one line naming the dataset and the engine."""
        return UsageError(
            Problem(
                f"dataset {dataset}: {self.engine} refused a query: {first_line(error)}",
                hint="run it with --engine polars, and report it with the SQL `civic-kpi sql` prints",
            )
        )

    def statement(self, plan: Plan, dp: DatasetPlan, query: Query) -> exp.Select:
        """One query as a SELECT over `records`: its breakdown's columns and every KPI's aggregates, named as the
        Polars executor names them. Masked: one row per group, an aggregate per KPI and period, each filtering its
        period's records (`0|2026-10|value`). Keyed (a series): one row per period and group, the period numbered
        from the window column's date as the plan numbers the series (`0||value`, and `__period`)."""
        from sqlglot import exp

        keys: list[exp.Expression] = [column(dim) for dim in query.dims]
        periods: tuple[Period | None, ...] = query.periods
        if query.keyed:
            periods = (None,)
            keys.insert(0, self._period_key(plan, query))
        columns: list[exp.Expression] = [
            exp.alias_(key, PERIOD_KEY, quoted=True, copy=False) if index == 0 and query.keyed else key
            for index, key in enumerate(keys)
        ]
        for index, kpi in enumerate(query.kpis):
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
        select = exp.Select().select(*columns, copy=False).from_(exp.to_table(RECORDS, quoted=True), copy=False)
        if query.keyed:
            select = select.where(self._in_series(plan, dp, query), copy=False)
        return select.group_by(*keys, copy=False) if keys else select

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
            exp.In(this=self._period_key(plan, query), expressions=[literal(key) for key in keys]),
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
            to_utc=lambda moment: _to_utc(moment, zone),
        )


def _to_utc(moment: datetime, zone: str | None) -> datetime:
    """A naive wall-clock moment of `zone` as naive UTC, by the rule the records' instants follow (time/zones.py)."""
    import polars as pl

    from civic_kpi.time.zones import utc

    if zone is None or moment == NO_PERIOD:
        return moment
    value: datetime = pl.select(utc(pl.lit(moment, dtype=pl.Datetime("us")), zone)).item()
    return value
