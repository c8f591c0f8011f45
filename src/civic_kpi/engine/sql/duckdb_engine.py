"""--engine duckdb: the statements run by an embedded DuckDB, the records handed over as Arrow (no copy)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from civic_kpi.engine.sql.executor import RECORDS, SqlExecutor
from civic_kpi.engine.sql.packages import required

if TYPE_CHECKING:
    import polars as pl


def require_duckdb() -> Any:
    """The duckdb module (and SQLGlot), or a UsageError naming what to install."""
    return required("--engine duckdb", "duckdb", "duckdb")[0]


class DuckDBExecutor(SqlExecutor):
    engine = "duckdb"
    dialect = "duckdb"

    def connect(self) -> AbstractContextManager[Any]:
        connection: AbstractContextManager[Any] = require_duckdb().connect()
        return connection

    def load(self, connection: Any, records: pl.DataFrame, dataset: str) -> None:
        try:
            connection.register(RECORDS, records.to_arrow())
        except require_duckdb().Error as error:
            raise self.refused(dataset, error) from None

    def run(self, connection: Any, sql: str, dataset: str) -> pl.DataFrame:
        duckdb = require_duckdb()
        try:
            found: pl.DataFrame = connection.sql(sql).pl()
        except duckdb.Error as error:
            raise self.refused(dataset, error) from None
        return found
