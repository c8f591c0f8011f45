"""--engine postgres: the statements run on a PostgreSQL server, the records of each dataset loaded into a temporary
table of the connection (gone when it closes: nothing is left in the database).

The server is the one the environment variable CIVIC_KPI_POSTGRES names, a libpq connection string such as
`postgresql://analyst@db.city.gov/kpis` or `host=/run/postgresql dbname=kpis`. Its password comes from PGPASSWORD or
~/.pgpass, as for psql: never from the catalog or the command line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civic_kpi.data.tables import without_secrets
from civic_kpi.engine.sql.connection import SqlEngine
from civic_kpi.engine.sql.dialects import RECORDS
from civic_kpi.engine.sql.executor import SqlExecutor
from civic_kpi.engine.sql.packages import required
from civic_kpi.errors import Problem, UsageError, first_line

if TYPE_CHECKING:
    import polars as pl

CONNECTION_VARIABLE = "CIVIC_KPI_POSTGRES"
NULL = r"\N"  # COPY's text for a missing value: an empty text stays an empty text
COPY_BLOCK = 1 << 20  # bytes of the staged CSV sent at a time


def require_psycopg() -> Any:
    return required("--engine postgres", "postgres", "psycopg")[0]


def _column_type(dtype: pl.DataType) -> str:
    """The PostgreSQL type that holds a Polars column's values exactly."""
    import polars as pl

    if dtype == pl.Boolean:
        return "BOOLEAN"
    if dtype.is_integer():
        return "NUMERIC(20)" if dtype == pl.UInt64 else "BIGINT"
    if dtype.is_float():
        return "DOUBLE PRECISION"
    if isinstance(dtype, pl.Decimal):
        return f"NUMERIC({dtype.precision or 38}, {dtype.scale})"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP"
    if dtype == pl.Date:
        return "DATE"
    if isinstance(dtype, pl.Duration):
        return "INTERVAL"
    return "TEXT"


def _drop(cursor: Any, name: str) -> None:
    """Drop the session's temporary table or view `name`, if there is one, and what reads it (the view `records`
    reads the staged records of the dataset before)."""
    cursor.execute("SELECT relkind FROM pg_class WHERE relname = %s AND relnamespace = pg_my_temp_schema()", (name,))
    found = cursor.fetchone()
    if found is not None:
        cursor.execute(f'DROP {"VIEW" if found[0] == "v" else "TABLE"} pg_temp."{name}" CASCADE')


class Postgres(SqlEngine):
    name = "postgres"
    dialect = "postgres"

    reads_tables = "postgres"

    def connect(self) -> AbstractContextManager[Any]:
        target = os.environ.get(CONNECTION_VARIABLE)
        if not target:
            raise UsageError(
                Problem(
                    f"--engine postgres needs a server: {CONNECTION_VARIABLE} is not set",
                    hint=f"export {CONNECTION_VARIABLE}='postgresql://user@host/database' (the password in "
                    "PGPASSWORD or ~/.pgpass, never in the catalog)",
                )
            )
        return self._connect(target, CONNECTION_VARIABLE)

    def connect_to(self, target: str, dataset: str) -> AbstractContextManager[Any]:
        return self._connect(target, f"dataset {dataset}")

    @contextmanager
    def reading(self, connection: Any) -> Iterator[None]:
        """A read-only transaction that sees the tables as they were at its first statement (REPEATABLE READ): the
        notes and every statement count the same records, and nothing is created in the database (a role that may
        only read can run it)."""
        with connection.transaction():
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def refused(self, dataset: str, error: Exception) -> UsageError:
        """As every engine's, but a connection the server ended or lost (a restart, an idle timeout, the network:
        no SQLSTATE, or a class 08 or 57P one) is said as such: nothing in the query is to blame."""
        psycopg = require_psycopg()
        state = getattr(error, "sqlstate", None) or ""
        if isinstance(error, psycopg.OperationalError) and (not state or state.startswith(("08", "57P"))):
            return UsageError(
                Problem(
                    f"dataset {dataset}: {self.name} lost its connection: {first_line(error)}",
                    hint="check that the server is up and reachable, then run again",
                )
            )
        return super().refused(dataset, error)

    def _connect(self, target: str, what: str) -> AbstractContextManager[Any]:
        psycopg = require_psycopg()
        try:
            connection = psycopg.connect(target, autocommit=True, connect_timeout=10)
            # UTF-8 as the staged CSV is written, and ISO dates as Polars writes them as text (a server set to
            # another DateStyle would write a date as 01/03/2026 in a check that compares text); set here, so that
            # the connection string's own options stay as they are.
            connection.execute("SET client_encoding = 'UTF8'")
            connection.execute("SET DateStyle = 'ISO, MDY'")
        except psycopg.Error as error:
            raise UsageError(
                Problem(
                    f"cannot connect to PostgreSQL ({what}): " + without_secrets(first_line(error), target),
                    hint="check that the server runs and that the connection string names it",
                )
            ) from None
        opened: AbstractContextManager[Any] = connection
        return opened

    staged_format = "csv"

    def stage(self, records: pl.LazyFrame, path: Path) -> pl.LazyFrame:
        """The records as the CSV that COPY reads (an empty text stays an empty text, a missing value is NULL)."""
        return records.sink_csv(
            path,
            lazy=True,
            null_value=NULL,
            # Quoted, a text that reads \N stays that text; unquoted, COPY would take it for a missing value.
            quote_style="non_numeric",
            datetime_format="%Y-%m-%d %H:%M:%S%.6f",
            date_format="%Y-%m-%d",
        )

    def load(self, connection: Any, records: Path, schema: pl.Schema, dataset: str, name: str = RECORDS) -> None:
        """The records as a temporary table, sent with COPY a block of the staged CSV at a time (no loop over
        records, and memory stays flat)."""
        psycopg = require_psycopg()
        columns = ", ".join(f'"{column}" {_column_type(dtype)}' for column, dtype in schema.items())
        try:
            with connection.cursor() as cursor:
                _drop(cursor, name)
                cursor.execute(f'CREATE TEMPORARY TABLE "{name}" ({columns})')
                with (
                    cursor.copy(f"COPY \"{name}\" FROM STDIN WITH (FORMAT csv, HEADER true, NULL '{NULL}')") as copy,
                    records.open("rb") as text,
                ):
                    while block := text.read(COPY_BLOCK):
                        copy.write(block)
                cursor.execute(f'ANALYZE "{name}"')
        except psycopg.Error as error:
            raise self.refused(dataset, error) from None

    def read(self, connection: Any, sql: str, dataset: str) -> None:
        psycopg = require_psycopg()
        try:
            with connection.cursor() as cursor:
                _drop(cursor, RECORDS)
                cursor.execute(f'CREATE TEMPORARY VIEW "{RECORDS}" AS {sql}')
        except psycopg.Error as error:
            raise self.refused(dataset, error) from None

    def run(self, connection: Any, sql: str, dataset: str) -> pl.DataFrame:
        import polars as pl

        psycopg = require_psycopg()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                names = [column.name for column in cursor.description]
                rows = cursor.fetchall()
        except psycopg.Error as error:
            raise self.refused(dataset, error) from None
        # NUMERIC values arrive as Decimal: the counts and keys are whole numbers, the values already DOUBLE.
        return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)


class PostgresExecutor(SqlExecutor):
    sql_engine = Postgres()
