"""Datasets that are database tables (or queries): each is read once per process into a Parquet snapshot of its
typed values, which the data layer then maps, parses and checks exactly as it does an exported Parquet file. One
snapshot per run is also one moment for the whole run: every query of every KPI sees the table as it was when it was
read.

The values travel as Arrow, never row by row in Python: ADBC's PostgreSQL driver (Apache Arrow's) fetches the
result of a SELECT of the table's columns that the catalog declares (a warehouse table often holds many more, some of
types Parquet cannot hold) as Arrow batches, written to Parquet as they come. The connection string is read from the
environment variable the catalog names (`source.connection`), never from the catalog.

That snapshot brings the records to this machine (its memory is the limit). `--engine postgres` reads a table of
its own server in place instead, where every column the run reads is typed as the catalog reads it
(engine/sql/executor.SqlExecutor.scan): only the snapshot of the columns' types is taken (`rows=False`, a LIMIT 0),
which the data layer maps and checks as before, and the records never leave the database.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civic_kpi.errors import DataError, Problem, UsageError, first_line

if TYPE_CHECKING:
    from civic_kpi.catalog.model import Dataset, TableSource

# (connection, engine, table, the columns declared, with its rows) -> its snapshot, for this process
_snapshots: dict[tuple[str, str, str, tuple[str, ...], bool], Path] = {}
_schema_only: set[Path] = set()  # the snapshots of a table's column types alone
_database_types: dict[Path, dict[str, str]] = {}  # a snapshot -> each column's type in the database (text, int8, ...)
_taken: dict[Path, float] = {}  # a snapshot -> when it was read (time.monotonic)
_read_live: dict[tuple[str, str, str], float] = {}  # (connection, engine, table) -> when its stamps were last read live
_names: dict[Path, str] = {}  # a snapshot -> the table it holds, as the run document names it
_columns: dict[Path, list[str]] = {}  # a snapshot -> every column of its table, the ones not read too
_folder: Path | None = None


def source_name(path: Path) -> str:
    """How the run document names a dataset's file: its path, or for a table's snapshot `postgres:schema.table`."""
    return _names.get(path, str(path))


def table_columns(path: Path) -> list[str] | None:
    """Every column of the table a snapshot holds (it holds the declared ones only), for a missing column's hint;
    None for a file that is no snapshot."""
    return _columns.get(path)


def quoted_table(table: str) -> str:
    """schema.table as quoted identifiers (the catalog's pattern admits letters, digits, _ and $ only)."""
    return ".".join('"' + part + '"' for part in table.split("."))


def relation(source: TableSource) -> str:
    """What the snapshot SELECTs from: the quoted table, or the catalog's query as a subquery (one SELECT: a second
    statement after a semicolon is a syntax error there, and a data-modifying one is refused)."""
    if source.table is not None:
        return quoted_table(source.table)
    return f"({source.query}\n) AS civic_kpi_query"  # on a line of its own: the query may end in a -- comment


def connection_target(name: str, dataset: Dataset) -> str:
    """The connection string of the dataset's database, from the environment variable the catalog names."""
    source = dataset.source
    assert source is not None
    target = os.environ.get(source.connection)
    if not target:
        raise UsageError(
            Problem(
                f"dataset {name} is the {source.engine} {_what(source)}, and {source.connection} is not set",
                field=f"datasets.{name}.source.connection",
                hint=f"export {source.connection}='postgresql://user@host/database' (the password in PGPASSWORD or "
                "~/.pgpass, never in the catalog)",
            )
        )
    return target


def table_files(name: str, dataset: Dataset, rows: bool = True) -> list[Path]:
    """The dataset's table as one Parquet file, read at the first call of the process (see `forget`), and again
    after a live read of its stamps (`read_live`). Without `rows`, the file holds none, only the columns' types,
    read anew at each call: what an engine reading the table in place needs to know of it, which the data layer
    maps and checks as it does any file (`schema_only`)."""
    source = dataset.source
    assert source is not None
    target = connection_target(name, dataset)
    declared = tuple(dict.fromkeys(raw for column in dataset.columns for raw in dataset.source_names(column)))
    table = _table_key(name, dataset)
    key = (*table, declared, rows)
    found = _snapshots.get(key)
    # A snapshot older than a live read of the table's stamps (an engine found the moment there) is read again: a
    # moment newer than the records would count records missing from them as not yet existing.
    # The types alone are read anew each time (a LIMIT 0): a table altered since would be read in place by old types.
    stale = found is None or not found.is_file() or not rows
    if stale or _taken[found] < _read_live.get(table, float("-inf")):
        found = _snapshots[key] = _snapshot(name, source, target, declared, rows)
        _names[found] = source.label
        _taken[found] = time.monotonic()
        if not rows:
            _schema_only.add(found)
    return [found]


def read_live(name: str, dataset: Dataset) -> None:
    """Say that the table's records are being read where they are (its moment, in SQL): a snapshot of its records
    taken before now is read again at its next use."""
    _read_live[_table_key(name, dataset)] = time.monotonic()


def _table_key(name: str, dataset: Dataset) -> tuple[str, str, str]:
    """(connection, engine, table or query): which table of which database a dataset reads."""
    source = dataset.source
    assert source is not None
    return connection_target(name, dataset), source.engine, source.table or f"({source.query})"


def database_types(path: Path) -> dict[str, str]:
    """Each column's type in the database (PostgreSQL's name: text, bpchar, int8, timestamp, ...) of a table's
    snapshot, as its driver gives it."""
    return _database_types.get(path, {})


def schema_only(files: list[Path] | tuple[Path, ...]) -> bool:
    """Whether these are a table's snapshot of its columns' types alone (table_files without rows)."""
    return len(files) == 1 and files[0] in _schema_only


def without_secrets(message: str, target: str) -> str:
    """A driver's message with the connection string, and the password it may hold, taken out: libpq quotes a token
    it cannot read, and the token may be the password."""
    secrets = [target]
    secrets += re.findall(r"://[^:/@?]*:([^@]+)@", target)
    secrets += [m.strip("'") for m in re.findall(r"password\s*=\s*('[^']*'|\S+)", target)]
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def _what(source: TableSource) -> str:
    return f"table {source.table}" if source.table is not None else "query"


def forget() -> None:
    """Read every table again at its next use (a long-running notebook's fresh look; a CLI run reads each once)."""
    _snapshots.clear()


def _snapshot(name: str, source: TableSource, target: str, declared: tuple[str, ...], rows: bool = True) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dbapi = _require_adbc()
    # One file per snapshot of the process (the same table in two databases is two), named without anything of the
    # connection string, which may hold a password.
    kind = "" if rows else ".types"
    path = _snapshot_folder() / f"{source.engine}.{source.table or name + '.query'}{kind}.{len(_names)}.parquet"
    try:
        uri = _uri(target)
    except Exception as error:  # psycopg's parser: its message names the fault, never the whole string
        raise UsageError(
            Problem(
                f"dataset {name}: the connection string in {source.connection} cannot be read: "
                + without_secrets(first_line(error), target),
                hint="write it as postgresql://user@host/database or host=... dbname=...",
            )
        ) from None
    try:
        connection = dbapi.connect(uri)
    except dbapi.Error as error:
        raise DataError(
            Problem(
                f"dataset {name}: cannot connect to {source.engine} ({source.connection}): "
                + without_secrets(first_line(error), target),
                field=f"datasets.{name}.source.connection",
                hint=f"check that the server runs and that {source.connection} names it",
            )
        ) from None
    try:
        with connection, connection.cursor() as cursor:
            # Read-only, the session's later transactions and the one the driver may have open already: civic-kpi
            # reads, and a catalog's query cannot change the database (nextval(), a function that writes).
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute(f"SELECT * FROM {relation(source)} LIMIT 0")
            probe = cursor.fetch_record_batch()
            kinds = {f.name: (f.metadata or {}).get(b"POSTGRESQL:type", b"").decode() for f in probe.schema}
            # A type the driver gives as raw bytes though it is no bytea (uuid, inet, ...) is read as its text.
            as_text = {f.name for f in probe.schema if _bytes(f.type) and kinds[f.name] != "bytea"}
            probe.read_all()
            columns = [column[0] for column in cursor.description]
            twice = sorted({column for column in columns if columns.count(column) > 1})
            if twice:
                raise DataError(
                    Problem(
                        f"dataset {name}: the {_what(source)} gives more than one column named {twice[0]!r}",
                        field=f"datasets.{name}.source",
                        hint="name each column of the query once (SELECT t.id AS team_id, ...)",
                    )
                )
            present = set(columns)
            # Only the declared columns the table has: a declared one it lacks is the `schema` check's to report,
            # as for a file; none at all, and the table is read whole for that report.
            wanted = [column for column in declared if column in present]
            listed = ", ".join(_selected(column, kinds[column], column in as_text) for column in wanted) or "*"
            cursor.execute(f"SELECT {listed} FROM {relation(source)}" + ("" if rows else "\nLIMIT 0"))
            reader = cursor.fetch_record_batch()
            schema = _stored(reader.schema)
            with pq.ParquetWriter(path, schema) as writer:
                for batch in reader:
                    writer.write_batch(_as_stored(batch, schema))
        _columns[path] = columns
        _database_types[path] = kinds
    except (dbapi.Error, pa.ArrowException, OSError) as error:  # Arrow: a column type Parquet cannot hold
        raise DataError(
            Problem(
                f"dataset {name}: {source.engine} could not read the {_what(source)}: "
                + without_secrets(first_line(error), target),
                field=f"datasets.{name}.source",
                hint=(
                    f"check the table's name and that {source.connection} names the right server and database"
                    if source.table is not None
                    else "check the query (one SELECT, which only reads) in psql against the same database"
                ),
            )
        ) from None
    return path


# PostgreSQL's timestamps and dates may be 'infinity' or '-infinity', which its driver gives as a number that
# overflowed (a date long before 1900 for either): they are read as the latest and earliest values a snapshot holds
# instead, after and before any period and any moment, as PostgreSQL orders them when it reads the table in place.
_STAMP_LIMITS = {
    "timestamp": ("'9999-12-31 23:59:59.999999'::timestamp", "'0001-01-01 00:00:00'::timestamp"),
    "timestamptz": ("'9999-12-31 23:59:59.999999+00'::timestamptz", "'0001-01-01 00:00:00+00'::timestamptz"),
    "date": ("'9999-12-31'::date", "'0001-01-01'::date"),
}


def _selected(column: str, kind: str, as_text: bool) -> str:
    """A column of the snapshot's SELECT: as it is, as its text, or a stamp with its infinities read as the latest
    and earliest."""
    name = '"' + column.replace('"', '""') + '"'
    if as_text:  # format() writes the type's own text, as psql shows it (10.0.0.1; ::text writes 10.0.0.1/32)
        return f"CASE WHEN {name} IS NOT NULL THEN format('%s', {name}) END AS {name}"
    limits = _STAMP_LIMITS.get(kind)
    if limits is None:
        return name
    latest, earliest = limits
    return (
        f"CASE WHEN {name} = 'infinity' THEN {latest} WHEN {name} = '-infinity' THEN {earliest} ELSE {name} END"
        f" AS {name}"
    )


def _bytes(kind: Any) -> bool:
    """Whether the driver gives a column's values as bytes (a uuid as 16 of them, an inet as its wire form)."""
    import pyarrow as pa

    stored = kind.storage_type if isinstance(kind, pa.BaseExtensionType) else kind
    return bool(pa.types.is_binary(stored) or pa.types.is_large_binary(stored) or pa.types.is_fixed_size_binary(stored))


def _stored(schema: Any) -> Any:
    """The schema with each extension column as what it stores: the driver gives a NUMERIC as an opaque extension
    type over its text ("1.50"), which Parquet and Polars cannot read, and which the catalog's type then parses."""
    import pyarrow as pa

    return pa.schema(
        [
            field.with_type(field.type.storage_type) if isinstance(field.type, pa.BaseExtensionType) else field
            for field in schema
        ]
    )


def _as_stored(batch: Any, schema: Any) -> Any:
    import pyarrow as pa

    columns = [column.storage if isinstance(column, pa.ExtensionArray) else column for column in batch.columns]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _uri(target: str) -> str:
    """ADBC takes a URI: a libpq keyword string (host=... dbname='my db') becomes one, read by libpq's own rules
    (psycopg's conninfo parser)."""
    if "://" in target:
        return target
    from urllib.parse import quote

    from psycopg.conninfo import conninfo_to_dict

    fields = {key: str(value) for key, value in conninfo_to_dict(target).items()}
    user = quote(fields.pop("user", ""), safe="")
    database = quote(fields.pop("dbname", ""), safe="")
    query = "&".join(f"{key}={quote(value, safe='')}" for key, value in fields.items())
    return f"postgresql://{user + '@' if user else ''}/{database}" + (f"?{query}" if query else "")


def _require_adbc() -> Any:
    try:
        import adbc_driver_postgresql.dbapi as dbapi
    except ImportError:
        raise UsageError(
            Problem(
                "a dataset is a PostgreSQL table, which needs the adbc-driver-postgresql package",
                hint="install it with: pip install 'civic-kpi[postgres]'",
            )
        ) from None
    return dbapi


def _snapshot_folder() -> Path:
    global _folder
    if _folder is None or not _folder.is_dir():
        _folder = Path(tempfile.mkdtemp(prefix="civic-kpi-tables-"))
        atexit.register(shutil.rmtree, _folder, ignore_errors=True)
    return _folder
