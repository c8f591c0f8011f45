"""The SQL of each dialect: SQLGlot prints the statements (executor.py), with the rewrites a dialect needs to say
the same thing, and a refusal where it cannot say it exactly at all (an approximate percentile is never written).
`sql_text` is `civic-kpi sql`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from civic_kpi.engine.sql.grouping import SET_KEY, kpis_of, statements
from civic_kpi.errors import Problem, UsageError
from civic_kpi.formula import instant_column
from civic_kpi.formula.sql import RECORDS

STAGED = "known_records"  # the records as known at the moment, which `records` adds the SLA deadlines to

if TYPE_CHECKING:
    from sqlglot import exp

    from civic_kpi.engine.plan import DatasetPlan, Plan, Query
    from civic_kpi.engine.sql.executor import SqlExecutor


# The dialects `civic-kpi sql` writes. DuckDB's and PostgreSQL's are run by the tests, on real engines.
DIALECTS = ("duckdb", "postgres", "spark", "snowflake", "bigquery", "trino")
# No exact percentile aggregate: BigQuery's PERCENTILE_CONT is an analytic (window) function only, and Trino has
# approx_percentile alone. An approximate percentile is never written in its place.
_NO_EXACT_PERCENTILE = {"bigquery": "BigQuery", "trino": "Trino"}


def _double(text: str) -> exp.Expression:
    """A DOUBLE from its text: 'Infinity', '-Infinity' or 'NaN' (every dialect here reads these)."""
    from sqlglot import exp

    return exp.cast(exp.Literal.string(text), exp.DataType.build("DOUBLE"), copy=False)


def _nonzero_number(node: exp.Expression) -> bool:
    """A literal number other than zero, typed or not (a duration's divisor, CAST(3600000000.0 AS DOUBLE))."""
    from sqlglot import exp

    if isinstance(node, exp.Cast):
        node = node.this
    return node.is_number and float(node.name) != 0


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

    def date_parts(node: exp.Expression) -> exp.Expression:
        if isinstance(node, (exp.Year, exp.Month)):
            # A series' period key (executor._period_key, the only user of YEAR and MONTH): PostgreSQL's EXTRACT
            # is a numeric since version 14, and slow by the record (5 s of CPU over 10M records against 1.4 s);
            # DATE_PART's double holds a year or a month exactly. An integer, so never divided with `/`.
            part = exp.Literal.string("year" if isinstance(node, exp.Year) else "month")
            number = exp.Anonymous(this="DATE_PART", expressions=[part, node.this])
            return exp.cast(number, exp.DataType.build("BIGINT"))
        return node

    def series(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Unnest) and isinstance(node.expressions[0], exp.GenerateSeries):
            # PostgreSQL's generate_series is a table of its own, not an array to unnest (the calendar table of
            # deadlines.py).
            bounds = node.expressions[0]
            made = exp.ExplodingGenerateSeries(start=bounds.args["start"], end=bounds.args["end"])
            return exp.Table(this=made, alias=node.args.get("alias"))
        return node

    def nans(node: exp.Expression) -> exp.Expression:
        if dialect == "postgres" and isinstance(node, exp.IsNan):
            # PostgreSQL has no isnan(); its NaN equals itself.
            return exp.EQ(this=node.this, expression=_double("NaN"))
        return node

    def guarded(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Div) and not _nonzero_number(node.expression):
            # A division by zero is an error in PostgreSQL and Spark; in Polars and DuckDB it is what IEEE says:
            # +inf, -inf, or NaN for 0/0 (the run reports any of them as not finite, engine/values.py, and a min or
            # max orders them). Written out here; a missing numerator stays missing.
            divisor, dividend, zero = node.expression, node.this, exp.Literal.number(0)
            signs = ((exp.GT, "Infinity"), (exp.LT, "-Infinity"), (exp.EQ, "NaN"))
            ifs = [exp.If(this=sign(this=dividend.copy(), expression=zero), true=_double(text)) for sign, text in signs]
            signed = exp.Case(ifs=ifs)
            zero = exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0))
            safe = exp.Div(this=dividend, expression=exp.Nullif(this=divisor, expression=exp.Literal.number(0)))
            return exp.Case(ifs=[exp.If(this=zero, true=signed)], default=safe)
        return node

    def divisions(tree: exp.Expression) -> exp.Expression:
        # Inner divisions first (a depth-first order reversed), so that an outer one copies its guarded operands.
        for node in reversed(list(tree.find_all(exp.Div, bfs=False))):
            replacement = guarded(node)
            if replacement is not node:
                node.replace(replacement)
        return tree

    def exact_percentile(node: exp.Expression) -> exp.Expression:
        # Spark's PERCENTILE(x, p) is exact, with linear interpolation (PERCENTILE.INC). SQLGlot writes a standard
        # PERCENTILE_CONT for Spark as PERCENTILE_APPROX: an approximation, never to be run (see `sql_of`).
        if isinstance(node, exp.PercentileCont):
            return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])
        return node

    # One pass per rewrite: a node put in place of another is not visited again by the same pass.
    tree = statement.copy()
    if dialect == "spark":  # a division by zero is an error under Spark's ANSI mode (its default), as in PostgreSQL
        return divisions(tree).transform(exact_percentile, copy=False)
    tree = tree.transform(microseconds, copy=False).transform(nans, copy=False).transform(series, copy=False)
    tree = tree.transform(date_parts, copy=False)
    return divisions(tree)


def checked_sql(
    executor: SqlExecutor,
    plan: Plan,
    dp: DatasetPlan,
    queries: tuple[Query, ...],
    dialect: str,
    hint: str,
    pretty: bool = False,
) -> str:
    """A statement (queries sharing their KPIs, see executor.statements) in the dialect (sql_of), or a UsageError
    naming the first of its KPIs that the dialect cannot say exactly (see `refusal`; the KPIs' own statements are
    built only then)."""
    statement = executor.statement(plan, dp, queries)
    if refusal(statement, dialect) is None:
        return sql_of(statement, dialect, pretty)
    for kpi in kpis_of(queries):
        reason = refusal(executor.statement(plan, dp, (replace(queries[0], kpis=(kpi,)),)), dialect)
        if reason is not None:
            raise UsageError(Problem(reason, kpi=kpi.id, hint=hint))
    raise AssertionError("a refused statement holds a refused KPI")


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
    from sqlglot import exp

    for dp in plan.datasets.values():
        if not dp.queries:
            continue
        view = executor.records_view(plan, dp)
        columns = executor.staged_columns(plan, dp, view)
        instants = [c for c in columns if c.startswith(instant_column(""))]
        deadlines = ", ".join(sorted(dp.deadlines))
        parts += [
            "",
            f"-- dataset {dp.name}: `{RECORDS if view is None else STAGED}` is its records as known at the moment, "
            "with the columns",
            f"-- {', '.join(columns)}",
            "-- (timestamps are naive wall-clock time in the catalog's zone"
            + (f"; {instant_column('X')} is X as naive UTC" if instants else "")
            + (f"; {deadlines}: the SLA policy's deadlines" if dp.deadlines and view is None else "")
            + ")",
        ]
        if view is not None:
            parts.append(
                f"-- `{RECORDS}` adds {deadlines}, the SLA policy's deadlines, business days counted on a calendar "
                "table the query makes"
            )
            # Temporary where the dialect has temporary views (BigQuery and Trino have none): nothing is left in
            # the warehouse, and Spark refuses a lasting view over a temporary one (known_records, in a notebook).
            temporary = [] if dialect in ("bigquery", "trino") else [exp.TemporaryProperty()]
            create = exp.Create(
                this=exp.to_table(RECORDS, quoted=True),
                kind="VIEW",
                replace=True,
                expression=view,
                properties=exp.Properties(expressions=temporary) if temporary else None,
            )
            parts.append(sql_of(create, dialect, pretty=True) + ";")
        hint = "name only the other KPIs, or write another --dialect"
        for queries in statements(dp):
            if len(queries) == 1:
                what = ", ".join(kpi.id for kpi in queries[0].kpis)
                parts.append(f"-- {what} {'by ' + ', '.join(queries[0].dims) if queries[0].dims else 'overall'}")
            else:
                parts.append(f"-- a grouping set per breakdown, {SET_KEY} saying which (GROUPING() bits):")
                parts += [f"--   {', '.join(q.dims) or 'overall'}: {', '.join(k.id for k in q.kpis)}" for q in queries]
            parts.append(checked_sql(executor, plan, dp, queries, dialect, hint, pretty=True) + ";")
    return "\n".join(parts) + "\n"
