"""Datasets that are PostgreSQL tables (`source: {engine: postgres, table: ...}`): the bundled sample loaded into a
real server the tests start, as a city would keep it (the CSV exports as tables of text, the Parquet one typed), and
the bundled catalog pointed at the tables. Every KPI gives the numbers it gives from the files, on every engine."""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

import pytest
import yaml

import civic_kpi
from civic_kpi.catalog.loader import load_catalog
from civic_kpi.data.sources import dataset_files
from civic_kpi.engine import compute
from civic_kpi.errors import DataError
from tests.conftest import CATALOG, SAMPLE_DATA
from tests.test_sql_engine import NOTES_CATALOG, NOTES_FILES, _differences, _notes_case, assert_same_results

pytest.importorskip("adbc_driver_postgresql", reason="table datasets need pip install 'civic-kpi[postgres]'")


def _load(connection, table: str, frame) -> None:
    """A table of the frame's columns (text stays text) and values, sent with COPY."""
    from civic_kpi.engine.sql.postgres_engine import NULL, _column_type

    columns = ", ".join(f'"{name}" {_column_type(dtype)}' for name, dtype in frame.schema.items())
    text = frame.write_csv(null_value=NULL, datetime_format="%Y-%m-%d %H:%M:%S%.6f", date_format="%Y-%m-%d")
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{table}" ({columns})')
        with cursor.copy(f"COPY \"{table}\" FROM STDIN WITH (FORMAT csv, HEADER true, NULL '{NULL}')") as copy:
            copy.write(text.encode("utf-8"))


@pytest.fixture(scope="module")
def table_catalog(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled catalog with every dataset a table of the server, its reference tables still files."""
    import polars as pl
    import psycopg

    loaded = load_catalog(CATALOG)
    document = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        for name, dataset in loaded.catalog.datasets.items():
            files = dataset_files(name, dataset, SAMPLE_DATA)
            if dataset.file_format == "parquet":
                frame = pl.concat([pl.read_parquet(path) for path in files], how="vertical")
            else:  # a table of text, as an export loaded by hand would be: the catalog's formats parse it
                frame = pl.concat([pl.read_csv(path, infer_schema=False) for path in files], how="vertical")
            _load(connection, name, frame)
            entry = document["datasets"][name]
            del entry["path"]
            entry["source"] = {"engine": "postgres", "table": f"public.{name}", "connection": "SAMPLE_CITY_DB"}
    document["data_dir"] = str(SAMPLE_DATA)  # the reference tables and SLA policies stay files
    target = tmp_path_factory.mktemp("tables") / "kpi_definitions.yaml"
    target.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target


@pytest.fixture
def database(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SAMPLE_CITY_DB", postgres_url)
    monkeypatch.setenv("CIVIC_KPI_POSTGRES", postgres_url)
    return postgres_url


def _rows(run) -> dict:
    return {
        (r.kpi_id, r.period.label, tuple(sorted((r.group or {}).items()))): r.model_dump(mode="json")
        for r in run.results
    }


@pytest.mark.parametrize("options", [{}, {"every": "month"}], ids=["month", "monthly-series"])
def test_every_kpi_from_the_tables_equals_the_files(table_catalog: Path, database: str, options: dict) -> None:
    files_run = compute(CATALOG, **options)
    tables_run = compute(table_catalog, **options)
    ours, theirs = _rows(files_run), _rows(tables_run)
    assert ours.keys() == theirs.keys() and len(ours) > 100
    assert [f"{key}{d}" for key, row in ours.items() for d in _differences(row, theirs[key])] == []
    assert tables_run.as_of == files_run.as_of
    assert {f.path for f in tables_run.data_files if f.dataset == "meetings"} == {"postgres:public.meetings"}
    assert {f.dataset: f.rows for f in tables_run.data_files} == {
        name: sum(f.rows for f in files_run.data_files if f.dataset == name)
        for name in {f.dataset for f in files_run.data_files}
    }


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_tables_on_the_sql_engines(table_catalog: Path, database: str, engine: str) -> None:
    files_run = compute(CATALOG, period="2026-10")
    tables_run = compute(table_catalog, period="2026-10", engine=engine)
    ours, theirs = _rows(files_run), _rows(tables_run)
    assert [f"{key}{d}" for key, row in ours.items() for d in _differences(row, theirs[key])] == []


def test_a_missing_table_or_connection_is_one_line_naming_the_dataset(table_catalog: Path, database, cli, monkeypatch):
    text = table_catalog.read_text(encoding="utf-8").replace("table: public.meetings", "table: public.meeting")
    broken = table_catalog.with_name("broken.yaml")
    broken.write_text(text, encoding="utf-8")
    result = cli("compute", "-c", broken, "--kpi", "agenda_on_time")
    assert result.exit_code == 2
    assert "dataset meetings: postgres could not read the table public.meeting" in result.stderr
    assert "Traceback" not in result.stderr
    monkeypatch.delenv("SAMPLE_CITY_DB")
    result = cli("compute", "-c", table_catalog, "--kpi", "sla_compliance")
    assert result.exit_code == 2
    assert "SAMPLE_CITY_DB is not set" in result.stderr and "PGPASSWORD" in result.stderr


def test_a_connection_lost_inside_the_engine_is_one_line_naming_the_dataset_and_the_engine(
    table_catalog: Path, database, cli, monkeypatch
):
    # The server ends the session while the run's statements are being sent (as a restart or an idle timeout
    # would): the error names the dataset and the engine, exit 2, no traceback.
    from civic_kpi.engine.sql.postgres_engine import Postgres

    real = Postgres.run

    def dropped(self, connection, sql, dataset):
        with connection.cursor() as cursor, contextlib.suppress(Exception):
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return real(self, connection, sql, dataset)

    monkeypatch.setattr(Postgres, "run", dropped)
    result = cli("compute", "-c", table_catalog, "--kpi", "sla_compliance", "--engine", "postgres")
    assert result.exit_code == 2, result.output
    line = result.stderr.strip().splitlines()[0]
    assert line == "error: dataset service_requests: postgres lost its connection: the connection is closed"
    assert "check that the server is up" in result.stderr and "Traceback" not in result.stderr


def test_a_catalog_names_the_variable_never_the_connection(tmp_path: Path, cli) -> None:
    text = CATALOG.read_text(encoding="utf-8").replace(
        "path: records/public_records_requests.csv",
        "source: {engine: postgres, table: public.records, connection: 'postgresql://clerk:secret@db/city'}",
    )
    (tmp_path / "kpis.yaml").write_text(text, encoding="utf-8")
    result = cli("validate", "-c", tmp_path / "kpis.yaml", "--no-data")
    assert result.exit_code == 2
    assert "names the environment variable that holds the connection string" in result.stderr
    assert "secret" not in result.stderr  # the password is not repeated back


WIDE_CATALOG = """version: 1
title: a wide table
datasets:
  calls:
    source: {engine: postgres, table: public.wide_calls, connection: WIDE_DB}
    date_column: opened
    columns:
      id: {type: integer}
      opened: {type: datetime, format: "%Y-%m-%d %H:%M"}
      team: team
      closed: {type: datetime, format: "%Y-%m-%d %H:%M"}
    checks:
      - {check: schema}
kpis:
  - {id: calls, name: Calls, domain: D, unit: count, dataset: calls, value: count(), group_by: [[team]]}
"""


def test_only_the_declared_columns_of_a_table_are_read(tmp_path: Path, postgres_url: str, monkeypatch) -> None:
    """A warehouse table holds more than the catalog reads, some of it of types Parquet cannot hold (an interval):
    only the declared columns travel. A declared column the table lacks is the schema check's to report, as for a
    file."""
    import polars as pl
    import psycopg

    from civic_kpi import quality

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS public.wide_calls")
        connection.execute(
            "CREATE TABLE public.wide_calls (id BIGINT, opened TEXT, team TEXT, notes TEXT, spent INTERVAL)"
        )
        connection.execute(
            "INSERT INTO public.wide_calls VALUES (1, '2026-03-02 08:00', 'A', 'long text', '1 day'),"
            " (2, '2026-03-03 09:00', 'A', NULL, '2 hours'), (3, '2026-03-04 10:00', 'B', 'x', NULL)"
        )
    monkeypatch.setenv("WIDE_DB", postgres_url)
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(WIDE_CATALOG, encoding="utf-8")
    run = compute(catalog, period="2026-03", as_of="2026-04-30")
    values = {tuple((r.group or {}).items()): r.value for r in run.results}
    assert values == {(): 3, (("team", "A"),): 2, (("team", "B"),): 1}  # by hand: three calls, two of team A
    loaded = load_catalog(catalog)
    (snapshot,) = dataset_files("calls", loaded.catalog.datasets["calls"], tmp_path)
    assert list(pl.read_parquet_schema(snapshot)) == ["id", "opened", "team"]  # no notes, no interval, no closed
    (schema,) = quality.check(catalog, now="2026-04-30").results
    assert schema.status == "fail" and "closed" in str(schema.examples)
    # A misspelt column: the hint looks among all of the table's columns, the undeclared ones too, and names the
    # table, not its snapshot.
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        WIDE_CATALOG.replace("      team: team\n", "      team: team\n      note: notez\n").replace(
            "value: count()", "value: count(note is not None)"
        ),
        encoding="utf-8",
    )
    with pytest.raises(DataError) as found:
        compute(typo, period="2026-03", as_of="2026-04-30")
    problem = found.value.problems[0]
    assert "column 'notez' not found" in problem.message and problem.file == "postgres:public.wide_calls"
    assert "notes" in (problem.hint or "")


QUERY_CATALOG = """version: 1
title: a query
datasets:
  calls:
    source:
      engine: postgres
      connection: QUERY_DB
      query: |
        SELECT c.id, c.opened, t.name AS team, c.id::numeric(10, 2) / 4 AS weight
        FROM public.query_calls AS c JOIN public.query_teams AS t ON t.id = c.team_id
        WHERE t.name <> 'Test' -- not one of the city's teams
    date_column: opened
    columns:
      id: {type: integer}
      opened: {type: datetime}
      team: team
      weight: {type: float}
kpis:
  - {id: calls, name: Calls, domain: D, unit: count, dataset: calls, value: count(), group_by: [[team]]}
  - {id: weight, name: Weight, domain: D, unit: count, dataset: calls, value: sum(weight)}
"""


@pytest.fixture
def query_tables(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS public.query_calls, public.query_teams")
        connection.execute("DROP SEQUENCE IF EXISTS public.query_seq")
        connection.execute("CREATE SEQUENCE public.query_seq")
        connection.execute("CREATE TABLE public.query_teams (id INT, name TEXT)")
        connection.execute("INSERT INTO public.query_teams VALUES (1, 'Streets'), (2, 'Parks'), (3, 'Test')")
        connection.execute("CREATE TABLE public.query_calls (id BIGINT, opened TIMESTAMP, team_id INT)")
        connection.execute(
            "INSERT INTO public.query_calls VALUES (1, '2026-03-02 08:00', 1), (2, '2026-03-03 09:00', 1),"
            " (3, '2026-03-04 10:00', 2), (4, '2026-03-05 11:00', 3), (5, '2026-04-01 00:00', 1)"
        )
    monkeypatch.setenv("QUERY_DB", postgres_url)
    return postgres_url


@pytest.mark.parametrize("engine", ["polars", "duckdb", "postgres"])
def test_a_dataset_can_be_a_query(tmp_path: Path, query_tables: str, engine: str, monkeypatch) -> None:
    """A join of two tables, one team's rows left out in SQL, a closing comment, a NUMERIC column (which the driver
    gives as text in an extension type): its rows are the records, on every engine; the run document names it
    postgres:query."""
    monkeypatch.setenv("CIVIC_KPI_POSTGRES", query_tables)
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(QUERY_CATALOG, encoding="utf-8")
    run = compute(catalog, period="2026-03", as_of="2026-04-30", engine=engine)
    values = {(r.kpi_id, tuple((r.group or {}).items())): r.value for r in run.results}
    # By hand: three calls in March once Test's is left out (the fifth is April's), two of them Streets'; their
    # weights 1/4, 2/4 and 3/4.
    assert values == {
        ("calls", ()): 3,
        ("calls", (("team", "Streets"),)): 2,
        ("calls", (("team", "Parks"),)): 1,
        ("weight", ()): 1.5,
    }
    assert [(f.path, f.rows) for f in run.data_files] == [("postgres:query", 4)]


def test_a_query_only_reads(tmp_path: Path, query_tables: str, cli) -> None:
    """A query is read in a read-only transaction and as one SELECT: one that would change the database (a sequence's
    nextval, a second statement) is one line naming the dataset, exit 2, and the database is as it was."""
    import psycopg

    for query in ("SELECT *, nextval('public.query_seq') AS n FROM public.query_calls",
                  "SELECT * FROM public.query_calls; DROP TABLE public.query_teams"):  # fmt: skip
        text = QUERY_CATALOG.replace(QUERY_CATALOG[QUERY_CATALOG.index("      query: |") : QUERY_CATALOG.index(
            "    date_column")], f'      query: "{query}"\n')  # fmt: skip
        catalog = tmp_path / "kpis.yaml"
        catalog.write_text(
            text.replace("team: team", "team_id: {type: integer}").replace("[[team]]", "[[team_id]]")
            .replace("      weight: {type: float}\n", "").replace("sum(weight)", "count()")
        )  # fmt: skip
        from civic_kpi.data.tables import forget

        forget()
        result = cli("compute", "-c", catalog, "--period", "2026-03", "--as-of", "2026-04-30")
        assert result.exit_code == 2, result.stdout
        assert "dataset calls: postgres could not read the query: " in result.stderr, result.stderr
        assert result.stderr.count("\n") == 2  # the message, and its hint
        assert "Traceback" not in result.stderr
    with psycopg.connect(query_tables, autocommit=True) as connection:
        assert connection.execute("SELECT count(*) FROM public.query_teams").fetchone() == (3,)
        assert connection.execute("SELECT last_value, is_called FROM public.query_seq").fetchone() == (1, False)


def test_a_source_is_a_table_or_a_query(tmp_path: Path, cli) -> None:
    for source, message in [
        ("{engine: postgres, table: public.calls, query: SELECT 1}", "name a table"),
        ("{engine: postgres}", "name a table"),
        ("{engine: postgres, query: ' ; '}", "the query is empty"),
    ]:
        text = QUERY_CATALOG.split("    source:")[0] + f"    source: {source}\n" + QUERY_CATALOG.split(
            "    date_column")[1].join(["    date_column", ""])  # fmt: skip
        (tmp_path / "kpis.yaml").write_text(text, encoding="utf-8")
        result = cli("validate", "-c", tmp_path / "kpis.yaml", "--no-data")
        assert result.exit_code == 2, text
        assert message in result.stderr and "datasets.calls.source" in result.stderr


def test_a_query_with_a_column_named_twice_a_password_or_a_folded_name_is_one_clear_line(
    tmp_path: Path, query_tables: str, cli, monkeypatch
) -> None:
    """Two columns of one name (the catalog could read neither), a connection string the driver cannot read, and a
    name PostgreSQL folded to lower case: each is one line naming the dataset, exit 2, with a hint; the password the
    string holds is never repeated."""
    from civic_kpi.data.tables import forget

    text = QUERY_CATALOG.replace("c.id::numeric(10, 2) / 4 AS weight", "t.id")
    text = text.replace("      id: {type: integer}\n", "      call: {source: number, type: integer}\n")
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(text, encoding="utf-8")
    result = cli("compute", "-c", catalog, "--period", "2026-03", "--as-of", "2026-04-30")
    assert result.exit_code == 2
    assert "dataset calls: the query gives more than one column named 'id'" in result.stderr
    assert "Traceback" not in result.stderr and "parquet" not in result.stderr
    forget()
    monkeypatch.setenv("QUERY_DB", "postgresql://clerk:s3cret%ZZpw@/city?host=/nowhere")
    result = cli("compute", "-c", catalog, "--period", "2026-03", "--as-of", "2026-04-30")
    assert result.exit_code == 2 and "dataset calls" in result.stderr
    assert "s3cret" not in result.stderr and "ZZpw" not in result.stderr, result.stderr
    # A query's AS Team is team to PostgreSQL: the hint says so.
    forget()
    monkeypatch.setenv("QUERY_DB", query_tables)
    cased = QUERY_CATALOG.replace("AS team,", "AS Team,").replace("      team: team\n", "      team: Team\n")
    catalog.write_text(cased, encoding="utf-8")
    result = cli("compute", "-c", catalog, "--period", "2026-03", "--as-of", "2026-04-30")
    assert result.exit_code == 2 and "column 'Team' not found" in result.stderr
    assert "PostgreSQL folds unquoted names to lower case" in result.stderr and '("Team")' in result.stderr
    monkeypatch.setenv("CIVIC_KPI_POSTGRES", "postgresql://clerk:s3cret%ZZpw@/city?host=/nowhere")
    result = cli("compute", "--engine", "postgres", "--kpi", "sla_compliance")
    assert result.exit_code == 2 and "cannot connect to PostgreSQL" in result.stderr
    assert "s3cret" not in result.stderr and "ZZpw" not in result.stderr, result.stderr


# ---------------------------------------------------------------- a typed table read in place

IN_PLACE_CATALOG = NOTES_CATALOG.replace(
    "    path: 'calls_*.parquet'\n",
    "    source: {engine: postgres, table: public.typed_calls, connection: TYPED_DB}\n",
)


@pytest.fixture
def typed_calls(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """NOTES_FILES' seven records as one typed table, and a role that may only read it (no temporary table or view
    of its own either); TYPED_DB names the server as that role."""
    import psycopg

    rows = [row for records in NOTES_FILES.values() for row in records]
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS public.typed_calls")
        connection.execute(
            "CREATE TABLE public.typed_calls (opened TIMESTAMP, closed TIMESTAMP, kind TEXT, team TEXT,"
            " wait DOUBLE PRECISION, status TEXT, unread INTERVAL)"
        )
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO public.typed_calls VALUES (%s, %s, %s, %s, %s, %s, NULL)", rows)
        connection.execute("DROP ROLE IF EXISTS reader")
        connection.execute("CREATE ROLE reader LOGIN")
        connection.execute("GRANT SELECT ON public.typed_calls TO reader")
        connection.execute("REVOKE TEMPORARY ON DATABASE postgres FROM PUBLIC")
    reader = postgres_url.replace("user=civic", "user=reader")
    monkeypatch.setenv("TYPED_DB", reader)
    monkeypatch.setenv("CIVIC_KPI_POSTGRES", postgres_url)
    return reader


@pytest.mark.parametrize("as_of", ["2026-04-01 00:00", None], ids=["given", "from-the-data"])
def test_postgres_reads_a_typed_table_in_place(tmp_path: Path, typed_calls: str, monkeypatch, as_of) -> None:
    """`--engine postgres` over a table whose columns the database types as the catalog reads them: no record leaves
    the database. The moment, the notes, the group limit and every KPI are SQL run there, in one read-only
    transaction that creates nothing (a role that may only read the table runs it); the results and notes are the
    Polars engine's over the same records exported as Parquet, word for word."""
    from civic_kpi.data import tables
    from civic_kpi.engine import polars_executor

    files = tmp_path / "files"
    files.mkdir()
    exported = _notes_case(files)
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(IN_PLACE_CATALOG, encoding="utf-8")
    (tmp_path / "data").mkdir()  # the catalog's data_dir, which holds no file of a table
    taken: list[bool] = []
    snapshot = tables._snapshot
    monkeypatch.setattr(
        tables, "_snapshot", lambda *a, **k: taken.append(a[4] if len(a) > 4 else True) or snapshot(*a, **k)
    )
    read_by_polars: list[str] = []
    collect = polars_executor.collect
    monkeypatch.setattr(polars_executor, "collect", lambda q, *a: read_by_polars.extend(q) or collect(q, *a))
    tables.forget()
    in_place = compute(catalog, period="2026-03", as_of=as_of, engine="postgres")
    assert taken and not any(taken)  # the columns' types alone (a LIMIT 0, read anew by each run)
    assert [key for key in read_by_polars if "calls" in key] == []
    monkeypatch.setattr(polars_executor, "collect", collect)
    assert_same_results(compute(exported, period="2026-03", as_of=as_of), in_place)
    assert [(f.path, f.rows) for f in in_place.data_files] == [("postgres:public.typed_calls", 7)]
    # By hand: Sign, Alley, Zebra and Curb exist at 04-01; at the data's own moment (04-05, Bus opening; not the
    # closure dated 2099, after today) Bus does too.
    unlisted = "4 records" if as_of else "5 records"
    assert f"{unlisted} have a kind the SLA table 'by_type' does not list" in " | ".join(in_place.notes)
    assert in_place.as_of == (datetime(2026, 4, 1) if as_of else datetime(2026, 4, 5))
    if as_of is None:  # the dashboard finds its moment in place too, then computes its series there
        board = civic_kpi.Session(catalog, engine="postgres").dashboard()
        assert board.run.as_of == datetime(2026, 4, 5) and board.run.period.label == "2026-03"
    assert taken and not any(taken)
    # A Polars query of the table read in place would count no record: it refuses to run instead.
    from civic_kpi.engine.sql import executor_class

    request = civic_kpi.Session(catalog, as_of="2026-04-01").plan("2026-03").request
    executor = executor_class("postgres")(request)
    assert executor.in_place("calls")
    with pytest.raises(Exception, match="read in place by the engine"):
        executor.scans["calls"].frame.collect()


def test_a_table_sql_cannot_read_as_the_catalog_does_is_read_through_its_snapshot(
    tmp_path: Path, typed_calls: str, monkeypatch
) -> None:
    """A flag that folds case (upper('ß') differs between Polars and PostgreSQL): the table's records are read once
    into a snapshot, as before, and the numbers are Polars'."""
    from civic_kpi.data import tables

    files = tmp_path / "files"
    files.mkdir()
    exported = _notes_case(files)
    folding = "ignore_case: true}\n    deadlines:"
    (files / "kpis.yaml").write_text(NOTES_CATALOG.replace("}\n    deadlines:", ", " + folding), encoding="utf-8")
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(IN_PLACE_CATALOG.replace("}\n    deadlines:", ", " + folding), encoding="utf-8")
    (tmp_path / "data").mkdir()
    tables.forget()
    run = compute(catalog, period="2026-03", as_of="2026-04-01 00:00", engine="postgres")
    assert_same_results(compute(exported, period="2026-03", as_of="2026-04-01 00:00"), run)
    assert "are in neither the true_for nor the false_for list of done" in " | ".join(run.notes)


TYPED_DDL = "opened TIMESTAMP, closed TIMESTAMP, kind TEXT, team TEXT, wait DOUBLE PRECISION, status TEXT"
CASES = [(datetime(2026, 3, day), None, kind, team, 1.0, status) for day, kind, team, status in [
    (1, "Pothole", "A", "Closed"), (2, "pothole", "a", "closed"), (3, "alley", "a", "CLOSED"), (4, "Zed", "B", "Open"),
    (5, "Curb ", "B", "Open  "), (6, "bus", "A", "Closed")]]  # fmt: skip
COLUMN_CASES = {
    # PostgreSQL ignores a CHAR(n)'s trailing spaces where the snapshot keeps them: read through the snapshot
    "char(n)": ("kind CHAR(10), team TEXT, wait DOUBLE PRECISION, status CHAR(8)", "postgres", False),
    # an enum's label, compared with '' (NULLIF), is refused by the server: read through the snapshot
    "enum": ("kind TEXT, team TEXT, wait DOUBLE PRECISION, status status_t", "postgres", False),
    # A and a one value to the collation, two to Polars: in place, compared byte by byte
    "case-blind collation": (
        "kind TEXT COLLATE ci, team TEXT COLLATE ci, wait DOUBLE PRECISION, status TEXT COLLATE ci", "postgres", True
    ),
    # a database ordering alley before Curb: in place, ordered byte by byte
    "a database's own collation": (TYPED_DDL.split(", ", 2)[2], "en_us", True),
}  # fmt: skip


@pytest.mark.parametrize("case", COLUMN_CASES)
def test_what_postgres_would_read_otherwise_is_read_as_polars_reads_it(
    tmp_path: Path, postgres_url: str, monkeypatch, case: str
) -> None:
    """Each once gave other numbers or notes in place than Polars over the table's snapshot, or an error (a
    reviewer's cases): such a table is read through its snapshot, or the SQL compares its texts as Polars does."""
    import psycopg

    from civic_kpi.data import tables

    columns, database, in_place = COLUMN_CASES[case]
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS public.typed_calls")
        connection.execute("DROP TYPE IF EXISTS status_t")
        connection.execute("CREATE TYPE status_t AS ENUM ('Pending', 'pending', 'Kept', 'Open', 'Closed', 'closed',"
                           " 'CLOSED', 'Open  ')")  # fmt: skip
        connection.execute("DROP COLLATION IF EXISTS ci")
        connection.execute("CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
        connection.execute("DROP DATABASE IF EXISTS en_us")
        connection.execute("CREATE DATABASE en_us TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'")
    url = postgres_url.replace("dbname=postgres", f"dbname={database}")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS public.typed_calls (opened TIMESTAMP, closed TIMESTAMP, {columns})"
        )
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO public.typed_calls VALUES (%s, %s, %s, %s, %s, %s)", CASES)
    monkeypatch.setenv("TYPED_DB", url)
    monkeypatch.setenv("CIVIC_KPI_POSTGRES", url)
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(IN_PLACE_CATALOG, encoding="utf-8")
    (tmp_path / "data").mkdir()
    taken: list[bool] = []
    snapshot = tables._snapshot
    monkeypatch.setattr(
        tables, "_snapshot", lambda *a, **k: taken.append(a[4] if len(a) > 4 else True) or snapshot(*a, **k)
    )
    tables.forget()
    sql_run = compute(catalog, period="2026-03", as_of="2026-04-01", engine="postgres")
    assert (True not in taken) is in_place
    assert_same_results(compute(catalog, period="2026-03", as_of="2026-04-01"), sql_run)
    if case == "case-blind collation":  # by hand: teams A (2), a (2), B (2); done: the two Closed
        values = {(r.kpi_id, tuple((r.group or {}).values())): r.value for r in sql_run.results}
        assert (values[("calls", ("A",))], values[("calls", ("a",))], values[("done", ())]) == (2, 2, 2)
    if case == "a database's own collation":  # byte order: upper case first
        assert "(Curb , Zed, alley ...)" in " | ".join(sql_run.notes)


def test_a_snapshot_older_than_the_moment_read_in_place_is_read_again(
    tmp_path: Path, typed_calls: str, postgres_url: str, monkeypatch
) -> None:
    """A long-running notebook: a table read through its snapshot (a flag folding case), a record added, and the
    moment found in the table again. The records are read again too: a moment newer than the snapshot would count
    the new record as not yet existing, and give the old numbers as of the new moment."""
    import psycopg

    from civic_kpi.data import tables

    folding = "ignore_case: true}\n    deadlines:"
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(IN_PLACE_CATALOG.replace("}\n    deadlines:", ", " + folding), encoding="utf-8")
    (tmp_path / "data").mkdir()
    tables.forget()
    first = compute(catalog, period="2026-04", engine="postgres")
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO public.typed_calls VALUES ('2026-04-20 10:00', NULL, 'Pothole', 'A', 5, 'Open')"
        )
    second = compute(catalog, period="2026-04", engine="postgres")
    calls = [{r.kpi_id: r.value for r in run.results if not r.group}["calls"] for run in (first, second)]
    # By hand: Bus opened 04-05, then a call on 04-20, the new moment
    assert (first.as_of, second.as_of, calls) == (datetime(2026, 4, 5), datetime(2026, 4, 20, 10), [1, 2])


def test_a_plan_made_for_postgres_runs_on_polars(tmp_path: Path, typed_calls: str) -> None:
    """civic_kpi.engine.execute(plan) runs a plan on Polars, whichever engine made it: a plan holding only a table's
    types (made to read it in place) gets its records read, never zero records counted."""
    from civic_kpi.engine import execute, plan_compute, resolve

    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(IN_PLACE_CATALOG, encoding="utf-8")
    (tmp_path / "data").mkdir()
    request = resolve(catalog, period="2026-03", as_of="2026-04-01")
    runs = [execute(plan_compute(request, engine=engine)[0]) for engine in ("postgres", "polars")]
    assert_same_results(*runs)
    assert {r.kpi_id: r.value for r in runs[0].results if not r.group}["calls"] == 4


def test_explain_shows_the_sql_run_on_the_table_in_place(tmp_path: Path, typed_calls: str, cli) -> None:
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(IN_PLACE_CATALOG, encoding="utf-8")
    (tmp_path / "data").mkdir()
    result = cli(
        "explain", "late", "-c", str(catalog), "--period", "2026-03", "--as-of", "2026-04-01", "--engine", "postgres"
    )
    assert result.exit_code == 0, result.stderr
    assert "-- records: read in place by postgres" in result.stdout
    assert 'WITH "records" AS (' in result.stdout and '"public"."typed_calls"' in result.stdout
    assert "CREATE" not in result.stdout


def test_infinite_stamps_read_the_same_in_place_and_through_the_snapshot(
    tmp_path: Path, typed_calls: str, postgres_url: str
) -> None:
    """PostgreSQL's 'infinity' and '-infinity': its driver gave them as a number that overflowed, a date long before
    1900, so a closure at 'infinity' counted as closed, 1.3 billion hours after its opening. The snapshot now holds
    them as the latest and earliest stamps, after and before any moment, as PostgreSQL orders them in place."""
    import psycopg

    from civic_kpi.data import tables

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO public.typed_calls VALUES ('2026-03-03 08:00', 'infinity', 'Pothole', 'A', 1, 'Open'),"
            " ('-infinity', NULL, 'Pothole', 'A', 1, 'Open')"
        )
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(IN_PLACE_CATALOG, encoding="utf-8")
    (tmp_path / "data").mkdir()
    tables.forget()
    runs = [compute(catalog, period="2026-03", as_of="2026-04-01 00:00", engine=e) for e in ("polars", "postgres")]
    assert_same_results(*runs)
    notes = " | ".join(runs[0].notes)
    # By hand: 2099 and infinity after today; 1850 and -infinity before 1900; the closure at infinity not yet made
    assert "2 closed are dated after today" in notes and "2 records are dated before 1900" in notes
    assert "(3 closed;" in notes


def test_a_table_altered_between_two_runs_is_read_by_its_new_types(
    tmp_path: Path, typed_calls: str, postgres_url: str
) -> None:
    """A notebook's second run after `ALTER TABLE ... TYPE CHAR(8)`: the types are read anew, so the table is now
    read through its snapshot, where 'Closed  ' keeps its spaces and is no code of the flag's lists."""
    import psycopg

    from civic_kpi.data import tables

    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(IN_PLACE_CATALOG, encoding="utf-8")
    (tmp_path / "data").mkdir()
    tables.forget()
    first = compute(catalog, period="2026-03", as_of="2026-04-01", engine="postgres")  # in place
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("ALTER TABLE public.typed_calls ALTER COLUMN status TYPE CHAR(8)")
    second = compute(catalog, period="2026-03", as_of="2026-04-01", engine="postgres")
    assert_same_results(compute(catalog, period="2026-03", as_of="2026-04-01"), second)
    done = [{r.kpi_id: r.value for r in run.results if not r.group}["done"] for run in (first, second)]
    assert done == [2, 0]  # by hand: the two Closed known at 04-01 (Pothole's and Sign's), then no code it knows


UUID_CATALOG = """version: 1
title: ids
datasets:
  calls:
    source: {engine: postgres, table: public.id_calls, connection: TYPED_DB}
    date_column: opened
    columns:
      opened: {type: datetime}
      device: device
      address: address
kpis:
  - {id: calls, name: Calls, domain: D, unit: count, dataset: calls, value: count(), group_by: [[device], [address]]}
"""


@pytest.mark.parametrize("engine", ["polars", "duckdb", "postgres"])
def test_a_uuid_or_an_address_is_read_as_its_text(tmp_path: Path, postgres_url: str, monkeypatch, engine) -> None:
    """The driver gives a uuid or an inet as raw bytes: a group was named '\\x00\\x00...' on Polars, and PostgreSQL
    refused the staged bytes. The snapshot holds their text, as psql shows it."""
    import psycopg

    from civic_kpi.data import tables

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS public.id_calls")
        connection.execute("CREATE TABLE public.id_calls (opened TIMESTAMP, device UUID, address INET)")
        connection.execute(
            "INSERT INTO public.id_calls VALUES ('2026-03-02', '00000000-0000-0000-0000-000000000001', '10.0.0.1'),"
            " ('2026-03-03', '00000000-0000-0000-0000-000000000001', '10.0.0.2'), ('2026-03-04', NULL, NULL)"
        )
    monkeypatch.setenv("TYPED_DB", postgres_url)
    monkeypatch.setenv("CIVIC_KPI_POSTGRES", postgres_url)
    catalog = tmp_path / "kpis.yaml"
    catalog.write_text(UUID_CATALOG, encoding="utf-8")
    tables.forget()
    run = compute(catalog, period="2026-03", as_of="2026-04-01", engine=engine)
    values = {tuple((r.group or {}).items()): r.value for r in run.results}
    assert values == {  # by hand
        (): 3,
        (("device", "00000000-0000-0000-0000-000000000001"),): 2,
        (("device", None),): 1,
        (("address", "10.0.0.1"),): 1,
        (("address", "10.0.0.2"),): 1,
        (("address", None),): 1,
    }
