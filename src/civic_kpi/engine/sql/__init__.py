"""The SQL engines: the plan's aggregations as SQL (executor.py), printed per dialect (dialects.py) and run by DuckDB
(duckdb_engine.py), PostgreSQL (postgres_engine.py) or Spark (spark_engine.py). `executor_class` picks the executor
of an --engine name, `sql_engine` its connection (connection.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.engine.polars_executor import PolarsExecutor
from civic_kpi.errors import Problem, UsageError

if TYPE_CHECKING:
    from civic_kpi.engine.sql.connection import SqlEngine
    from civic_kpi.engine.sql.executor import SqlExecutor

ENGINES = ("polars", "duckdb", "postgres", "spark")


def executor_class(engine: str) -> type[PolarsExecutor]:
    """The executor of an engine's name (ENGINES), or a UsageError naming the engines there are or what to install."""
    if engine == "polars":
        return PolarsExecutor
    return _sql_executor(engine)


def sql_engine(engine: str) -> SqlEngine:
    """The connection of a SQL engine's name, or a UsageError naming the SQL engines there are or what to install."""
    if engine == "polars":
        raise UsageError(Problem("polars is not a SQL engine", hint="choose one of: " + ", ".join(ENGINES[1:])))
    found = _sql_executor(engine).sql_engine
    assert found is not None
    return found


def _sql_executor(engine: str) -> type[SqlExecutor]:
    if engine == "duckdb":
        from civic_kpi.engine.sql.duckdb_engine import DuckDBExecutor, require_duckdb

        require_duckdb()
        return DuckDBExecutor
    if engine == "postgres":
        from civic_kpi.engine.sql.postgres_engine import PostgresExecutor, require_psycopg

        require_psycopg()
        return PostgresExecutor
    if engine == "spark":
        from civic_kpi.engine.sql.spark_engine import SparkExecutor, require_pyspark

        require_pyspark()
        return SparkExecutor
    raise UsageError(Problem(f"unknown engine {engine!r}", hint="choose one of: " + ", ".join(ENGINES)))
