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
    from sqlglot import exp


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

    def parquet_files(self, files: list[Path], columns: list[str]) -> exp.Expression | None:
        from sqlglot import exp

        from civic_kpi.formula.sql import literal

        paths = exp.Array(expressions=[literal(str(path)) for path in files])
        by_name = exp.PropertyEQ(this=exp.var("union_by_name"), expression=exp.true())
        # A folder named key=value is no column: Polars reads the file's own values.
        folders = exp.PropertyEQ(this=exp.var("hive_partitioning"), expression=exp.false())
        return exp.Table(this=exp.Anonymous(this="read_parquet", expressions=[paths, by_name, folders]))

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
