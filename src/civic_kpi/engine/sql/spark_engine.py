"""--engine spark: the statements run by Spark SQL, the records of each dataset a temporary view of the session.

The session is the active one if the caller started it (a notebook on a cluster), else a local one (`local[*]`,
no web UI, a driver heap of CIVIC_KPI_SPARK_MEMORY, default 4g). Timestamps are TIMESTAMP_NTZ, naive as the records
hold them, whatever the session's zone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civic_kpi.engine.sql.connection import SqlEngine
from civic_kpi.engine.sql.dialects import RECORDS
from civic_kpi.engine.sql.executor import SqlExecutor
from civic_kpi.engine.sql.packages import required
from civic_kpi.errors import Problem, UsageError, first_line

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp


LOGGING = Path(__file__).with_name("spark-log4j2.properties")  # a local session's: silent


def require_pyspark() -> Any:
    """pyspark.sql, or a UsageError naming what to install."""
    return required("--engine spark", "spark", "pyspark.sql", note=" (and a Java runtime, 17 or newer)")[0]


def spark_session() -> Any:
    """The active Spark session, else a local one made for civic-kpi (kept for the process: starting Spark takes
    seconds)."""
    sql = require_pyspark()
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        return active
    try:
        session = (
            sql.SparkSession.builder.master("local[*]")
            .appName("civic-kpi")
            # A local session's executors live in the driver, whose default heap of 1 GB ran out at a million records
            # of the benchmark; CIVIC_KPI_SPARK_MEMORY sets it.
            .config("spark.driver.memory", os.environ.get("CIVIC_KPI_SPARK_MEMORY", "4g"))
            .config("spark.ui.enabled", "false")
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOGGING.as_uri()}")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate()
        )
    except Exception as error:  # Spark's own errors (no Java, a port in use) are not one class
        raise UsageError(
            Problem(
                f"cannot start Spark: {first_line(error)}",
                hint="Spark needs a Java runtime, 17 or newer (java -version)",
            )
        ) from None
    session.sparkContext.setLogLevel("OFF")  # its errors reach the user once, as one line (refused)
    return session


@contextmanager
def _naive_timestamps(session: Any) -> Iterator[Any]:
    """The session with TIMESTAMP meaning TIMESTAMP_NTZ while civic-kpi runs on it, and the staged Parquet's
    timestamps read as the naive ones they are (else, in a session of another zone, every window would shift by its
    offset); as it was after (a caller's session keeps its own settings)."""
    settings = {"spark.sql.timestampType": "TIMESTAMP_NTZ", "spark.sql.parquet.inferTimestampNTZ.enabled": "true"}
    before = {key: session.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        session.conf.set(key, value)
    try:
        yield session
    finally:
        for key, value in before.items():
            if value is None:
                session.conf.unset(key)
            else:
                session.conf.set(key, value)


@contextmanager
def _errors_reported_once() -> Iterator[None]:
    """PySpark 4 logs each refused query to stderr, as JSON with the JVM's stack trace, before raising it; civic-kpi
    reports it once, as one line naming the dataset (Spark.refused). Those loggers are off while civic-kpi runs on
    the session, and as they were after."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # PySpark before 4 logs nothing of the kind
        yield
        return
    loggers = [PySparkLogger.getLogger(name) for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger")]
    before = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in zip(loggers, before, strict=True):
            logger.disabled = disabled


@contextmanager
def _civic_kpi_session() -> Iterator[Any]:
    with _errors_reported_once(), _naive_timestamps(spark_session()) as session:
        yield session


def _local(session: Any) -> bool:
    """Whether the session runs on this machine (`local`, `local[*]`), where its executors read the staged file."""
    try:
        return str(session.sparkContext.master).startswith("local")
    except Exception:  # Spark Connect has no sparkContext: a remote server, which cannot read this machine's file
        return False


class Spark(SqlEngine):
    name = "spark"
    dialect = "spark"
    reads_parquet = True

    def connect(self) -> AbstractContextManager[Any]:
        return _civic_kpi_session()

    def reads_files(self) -> bool:
        # A cluster's executors, or a Spark Connect server, cannot see this machine's files: the records are staged
        # and go through the driver.
        return _local(spark_session())

    def parquet_files(self, files: list[Path], columns: list[str]) -> exp.Expression | None:
        """Each file read by Spark (`parquet.`file:/...``, whatever fs.defaultFS says), its columns by name, one
        after the other: Spark SQL has no union by name, and a file may order its columns its own way. Spark takes
        the path as Hadoop does, which decodes a % and splits at a colon: such a path is staged instead."""
        from sqlglot import exp

        from civic_kpi.formula.sql import column

        if any(set(str(path)) & set("%:`") for path in files):
            return None
        reads = [
            exp.select(*(column(name) for name in columns)).from_(
                exp.Table(this=exp.Identifier(this=f"file:{path}", quoted=True), db=exp.Identifier(this="parquet"))
            )
            for path in files
        ]
        union = reads[0]
        for read in reads[1:]:
            union = exp.union(union, read, distinct=False)
        return union.subquery("files")

    def load(self, connection: Any, records: Path, schema: pl.Schema, dataset: str, name: str = RECORDS) -> None:
        try:
            if _local(connection):
                frame = connection.read.parquet(records.as_uri())  # file://, whatever fs.defaultFS says
            else:  # a cluster's executors cannot see this machine's file: the records go through the driver
                import polars as pl

                frame = connection.createDataFrame(pl.read_parquet(records).to_arrow())
            frame.createOrReplaceTempView(name)
        except Exception as error:
            raise self.refused(dataset, error) from None

    def read(self, connection: Any, sql: str, dataset: str) -> None:
        try:
            connection.sql(sql).createOrReplaceTempView(RECORDS)
        except Exception as error:
            raise self.refused(dataset, error) from None

    def run(self, connection: Any, sql: str, dataset: str) -> pl.DataFrame:
        import polars as pl

        try:
            table = connection.sql(sql).toArrow()
        except Exception as error:
            raise self.refused(dataset, error) from None
        found = pl.from_arrow(table)
        assert isinstance(found, pl.DataFrame)
        return found


class SparkExecutor(SqlExecutor):
    sql_engine = Spark()
