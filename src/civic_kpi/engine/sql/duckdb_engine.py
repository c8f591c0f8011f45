"""--engine duckdb: the statements run by an embedded DuckDB, the records handed over as Arrow (no copy)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from civic_kpi.engine.sql.executor import RECORDS, SqlExecutor
from civic_kpi.errors import Problem, UsageError

if TYPE_CHECKING:
    import polars as pl


def require_duckdb() -> Any:
    """The duckdb module (and SQLGlot), or a UsageError naming what to install."""
    try:
        import duckdb
        import sqlglot  # noqa: F401
    except ImportError as error:
        raise UsageError(
            Problem(
                f"--engine duckdb needs the {error.name} package, which is not installed",
                hint="install it with: pip install 'civic-kpi[duckdb]'",
            )
        ) from None
    return duckdb


class DuckDBExecutor(SqlExecutor):
    engine = "duckdb"
    dialect = "duckdb"

    def connect(self) -> AbstractContextManager[Any]:
        connection: AbstractContextManager[Any] = require_duckdb().connect()
        return connection

    def load(self, connection: Any, records: pl.DataFrame, dataset: str) -> None:
        connection.register(RECORDS, records.to_arrow())

    def run(self, connection: Any, sql: str, dataset: str) -> pl.DataFrame:
        duckdb = require_duckdb()
        try:
            found: pl.DataFrame = connection.sql(sql).pl()
        except duckdb.Error as error:
            raise self.refused(dataset, error) from None
        return found
