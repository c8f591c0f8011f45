"""How civic-kpi talks to one SQL engine, whatever it runs there: connect, load a dataset's records as the relation
`records` (dialects.RECORDS), run a statement and get its rows as a Polars frame. The plan's executor
(executor.py) and the data-quality checks (quality/on_engine.py) both run through it; each engine is one subclass
(duckdb_engine.py, postgres_engine.py, spark_engine.py)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from civic_kpi.errors import Problem, UsageError, first_line
from civic_kpi.formula.sql import RECORDS

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp


class SqlEngine:
    name: ClassVar[str]  # the --engine name
    dialect: ClassVar[str]  # SQLGlot's name of the engine's SQL
    staged_format: ClassVar[str] = "parquet"  # the file the records are staged in for `load`
    reads_parquet: ClassVar[bool] = False  # whether it can read this machine's Parquet files itself (`read`)
    reads_tables: ClassVar[str | None] = None  # the `source.engine` of the table datasets it reads in place

    def connect(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def reads_files(self) -> bool:
        """Whether it reads this machine's Parquet files itself now (direct.py), rather than records staged for it:
        an engine that can (`reads_parquet`) and, for Spark, a session whose executors see this machine's files."""
        return self.reads_parquet

    def parquet_files(self, files: list[Path], columns: list[str]) -> exp.Expression | None:
        """The Parquet files as one relation of its SQL, by column name (`columns`: those the records read; every
        file has each, of one type: direct.typed_columns); None where it cannot name them, and the records are
        staged."""
        raise NotImplementedError

    def connect_to(self, target: str, dataset: str) -> AbstractContextManager[Any]:
        """A connection to the database of a table dataset it reads in place (`reads_tables`)."""
        raise NotImplementedError

    def reading(self, connection: Any) -> AbstractContextManager[None]:
        """Around the statements over a table read in place: one consistent view of it that cannot change it."""
        from contextlib import nullcontext

        return nullcontext()

    def stage(self, records: pl.LazyFrame, path: Path) -> pl.LazyFrame:
        """A lazy sink of the records to `path`, in the form `load` reads (`staged_format`): Parquet, which DuckDB
        and Spark read themselves, in parallel, without the records passing through Python. Collected with the
        run's other queries, so the export is read once, streamed, and memory stays flat as the records grow."""
        return records.sink_parquet(path, lazy=True, compression="lz4")

    def load(self, connection: Any, records: Path, schema: pl.Schema, dataset: str, name: str = RECORDS) -> None:
        """Make the staged records the relation `name` (RECORDS, which the statements read) for the statements
        that follow."""
        raise NotImplementedError

    def read(self, connection: Any, sql: str, dataset: str) -> None:
        """Make a SELECT the relation RECORDS: one that reads the dataset's files (engine/sql/direct.py), or adds
        the deadlines to the staged records (SqlExecutor.records_view)."""
        raise NotImplementedError

    def run(self, connection: Any, sql: str, dataset: str) -> pl.DataFrame:
        raise NotImplementedError

    def refused(self, dataset: str, error: Exception) -> UsageError:
        """An engine's error as one line naming the dataset and the engine."""
        return UsageError(
            Problem(
                f"dataset {dataset}: {self.name} refused a query: {first_line(error)}",
                hint="run it with --engine polars, and report it with the SQL `civic-kpi sql` prints",
            )
        )


def case_clash(names: list[str] | tuple[str, ...]) -> tuple[str, str] | None:
    """Two names that differ only in case (`Late` and `late`): one column to DuckDB, PostgreSQL or Spark even when
    quoted, where Polars keeps two. None when there are none."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            return other, name
    return None
