"""--engine duckdb: the statements run by an embedded DuckDB over the staged records, a Parquet file it reads itself."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civic_kpi.engine.sql.connection import SqlEngine
from civic_kpi.engine.sql.dialects import RECORDS
from civic_kpi.engine.sql.executor import SqlExecutor
from civic_kpi.engine.sql.packages import required

if TYPE_CHECKING:
    import polars as pl


def require_duckdb() -> Any:
    """The duckdb module (and SQLGlot), or a UsageError naming what to install."""
    return required("--engine duckdb", "duckdb", "duckdb")[0]


class DuckDB(SqlEngine):
    name = "duckdb"
    dialect = "duckdb"
    reads_parquet = True

    def connect(self) -> AbstractContextManager[Any]:
        connection: AbstractContextManager[Any] = require_duckdb().connect()
        return connection

    def load(self, connection: Any, records: Path, schema: pl.Schema, dataset: str, name: str = RECORDS) -> None:
        path = str(records).replace("'", "''")
        try:
            connection.execute(f"CREATE OR REPLACE TEMPORARY VIEW \"{name}\" AS SELECT * FROM read_parquet('{path}')")
        except require_duckdb().Error as error:
            raise self.refused(dataset, error) from None

    def read(self, connection: Any, sql: str, dataset: str) -> None:
        try:
            connection.execute(f'CREATE OR REPLACE TEMPORARY VIEW "{RECORDS}" AS {sql}')
        except require_duckdb().Error as error:
            raise self.refused(dataset, error) from None

    def run(self, connection: Any, sql: str, dataset: str) -> pl.DataFrame:
        duckdb = require_duckdb()
        try:
            found: pl.DataFrame = connection.sql(sql).pl()
        except duckdb.Error as error:
            raise self.refused(dataset, error) from None
        return found


class DuckDBExecutor(SqlExecutor):
    sql_engine = DuckDB()
