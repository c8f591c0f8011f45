"""The SQL of each dialect: SQLGlot prints the statements (executor.py), with the rewrites a dialect needs to say
the same thing, and a refusal where it cannot say it exactly at all (an approximate percentile is never written).
`sql_text` is `civic-kpi sql`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from civic_kpi.errors import Problem, UsageError
from civic_kpi.formula import instant_column

if TYPE_CHECKING:
    from sqlglot import exp

    from civic_kpi.engine.plan import DatasetPlan, Plan, Query
    from civic_kpi.engine.sql.executor import SqlExecutor

RECORDS = "records"  # as executor.RECORDS (not imported: the executor imports this module's functions)

# The dialects `civic-kpi sql` writes. DuckDB's and PostgreSQL's are run by the tests, on real engines.
DIALECTS = ("duckdb", "postgres", "spark", "snowflake", "bigquery", "trino")
# No exact percentile aggregate: BigQuery's PERCENTILE_CONT is an analytic (window) function only, and Trino has
# approx_percentile alone. An approximate percentile is never written in its place.
_NO_EXACT_PERCENTILE = {"bigquery": "BigQuery", "trino": "Trino"}


def refusal(statement: exp.Expression, dialect: str) -> str | None:
    """Why a dialect cannot say a statement (or one KPI's aggregates) exactly, or None."""
    from sqlglot import exp

    if dialect in _NO_EXACT_PERCENTILE and statement.find(exp.PercentileCont) is not None:
        name = _NO_EXACT_PERCENTILE[dialect]
        return f"{name} has no exact percentile aggregate, and civic-kpi never writes an approximate one"
    if dialect == "trino" and statement.find(exp.TimestampDiff) is not None:
        return (
            "Trino counts the time between two timestamps in milliseconds at best; durations here are exact to the µs"
        )
    return None


def for_dialect(statement: exp.Expression, dialect: str) -> exp.Expression:
    """The statement rewritten where a dialect would otherwise say something else (see `refusal` for what cannot be
    said at all)."""
    from sqlglot import exp

    if dialect not in ("postgres", "spark"):
        return statement

    def microseconds(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.TimestampDiff):
            # No TIMESTAMPDIFF: the epoch of the difference is exact (numeric) since PostgreSQL 14.
            difference = exp.Sub(this=node.this, expression=node.expression)
            seconds = exp.Extract(this=exp.var("EPOCH"), expression=difference)
            whole = exp.Mul(this=seconds, expression=exp.Literal.number(1_000_000))
            return exp.cast(whole, exp.DataType.build("BIGINT"), copy=False)
        return node

    def divisions(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Div) and not (node.expression.is_number and float(node.expression.name) != 0):
            # A division by zero is an error in PostgreSQL and Spark; in Polars and DuckDB it is not finite, which
            # the run reports as such (engine/values.py). NaN says the same here; a missing numerator stays missing.
            divisor, dividend = node.expression, node.this
            zero = exp.and_(
                exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0)),
                exp.Not(this=exp.Is(this=dividend.copy(), expression=exp.null())),
                copy=False,
            )
            nan = exp.cast(exp.Literal.string("NaN"), exp.DataType.build("DOUBLE"), copy=False)
            safe = exp.Div(this=dividend, expression=exp.Nullif(this=divisor, expression=exp.Literal.number(0)))
            return exp.Case(ifs=[exp.If(this=zero, true=nan)], default=safe)
        return node

    def exact_percentile(node: exp.Expression) -> exp.Expression:
        # Spark's PERCENTILE(x, p) is exact, with linear interpolation (PERCENTILE.INC). SQLGlot writes a standard
        # PERCENTILE_CONT for Spark as PERCENTILE_APPROX: an approximation, never to be run (see `sql_of`).
        if isinstance(node, exp.PercentileCont):
            return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])
        return node

    if dialect == "spark":
        # A division by zero is an error under Spark's ANSI mode (its default), as in PostgreSQL.
        return statement.copy().transform(divisions, copy=False).transform(exact_percentile, copy=False)
    # Two passes: a node put in place of another is not visited again, so a duration inside a division would keep
    # its TIMESTAMPDIFF.
    return statement.copy().transform(microseconds, copy=False).transform(divisions, copy=False)


def refuse_inexact(executor: SqlExecutor, plan: Plan, dp: DatasetPlan, query: Query, dialect: str, hint: str) -> None:
    """A UsageError naming the first KPI of the query that the dialect cannot say exactly (see `refusal`)."""
    for kpi in query.kpis:
        reason = refusal(executor.statement(plan, dp, replace(query, kpis=(kpi,))), dialect)
        if reason is not None:
            raise UsageError(Problem(reason, kpi=kpi.id, hint=hint))


def sql_of(statement: exp.Expression, dialect: str, pretty: bool = False) -> str:
    """A statement as the dialect's SQL text, after for_dialect. Raises (a bug, exit 3) if a translation slipped an
    approximate function in: a percentile here is exact or not written at all."""
    text = for_dialect(statement, dialect).sql(dialect, pretty=pretty)
    if "APPROX" in text.upper():
        raise AssertionError(f"the {dialect} SQL of a statement holds an approximate function:\n{text}")
    return text


def sql_text(executor: SqlExecutor, plan: Plan, dialect: str) -> str:
    """The plan's statements in a dialect, each with a comment saying which dataset's records it reads and which
    columns those records hold: what a data team needs to run them where the data is."""
    if dialect not in DIALECTS:
        raise UsageError(Problem(f"unknown SQL dialect {dialect!r}", hint="choose one of: " + ", ".join(DIALECTS)))
    parts = [
        f"-- civic-kpi {plan.period.label}{' every ' + plan.request.every if plan.request.every else ''}, "
        f"as of {plan.moment.at:%Y-%m-%d %H:%M:%S}, in {dialect} SQL written by SQLGlot",
    ]
    for dp in plan.datasets.values():
        if not dp.queries:
            continue
        columns = executor.record_columns(plan, dp)
        instants = [c for c in columns if c.startswith(instant_column(""))]
        parts += [
            "",
            f"-- dataset {dp.name}: `{RECORDS}` is its records as known at the moment, with the columns",
            f"-- {', '.join(columns)}",
            "-- (timestamps are naive wall-clock time in the catalog's zone"
            + (f"; {instant_column('X')} is X as naive UTC" if instants else "")
            + (f"; {', '.join(sorted(dp.deadlines))}: the SLA policy's deadlines" if dp.deadlines else "")
            + ")",
        ]
        for query in dp.queries:
            refuse_inexact(executor, plan, dp, query, dialect, "name only the other KPIs, or write another --dialect")
            what = ", ".join(kpi.id for kpi in query.kpis)
            by = " by " + ", ".join(query.dims) if query.dims else " overall"
            parts += [f"-- {what}{by}", sql_of(executor.statement(plan, dp, query), dialect, pretty=True) + ";"]
    return "\n".join(parts) + "\n"
