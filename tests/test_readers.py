"""Readers that survive real files: every quirk of the issue's list, each on a tiny file."""

from __future__ import annotations

import gzip
import json
import textwrap
from pathlib import Path

import polars as pl
import pytest

import civic_kpi


def catalog_for(tmp_path: Path, path: str, columns: str, extra: str = "") -> Path:
    """A catalog with one dataset `d` (date column `ts`) and KPIs counting and summing its records in 2024-01."""
    catalog = tmp_path / "cat.yaml"
    catalog.write_text(
        textwrap.dedent(
            f"""\
            title: Readers
            data_dir: data
            timezone: America/New_York
            datasets:
              d:
                path: {path}
            {textwrap.indent(extra, "    ")}
                date_column: ts
                columns:
            """
        )
        + textwrap.indent(textwrap.dedent(columns), "      ")
        + textwrap.dedent(
            """\
            kpis:
              - {id: n, name: N, domain: D, unit: count, dataset: d, value: count()}
              - {id: total, name: T, domain: D, unit: count, dataset: d, value: sum(x)}
            """
        )
    )
    (tmp_path / "data").mkdir(exist_ok=True)
    return catalog


def january(catalog: Path) -> tuple[float | None, float | None]:
    run = civic_kpi.compute(catalog, period="2024-01")
    values = {r.kpi_id: r.value for r in run.results}
    return values["n"], values["total"]


ISO = """\
ts: {type: datetime, format: "%Y-%m-%d %H:%M:%S"}
x: {type: float}
"""


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("plain.csv", b"ts,x\n2024-01-05 10:00:00,1\n2024-01-06 10:00:00,2\n"),
        ("bom.csv", b"\xef\xbb\xbfts,x\r\n2024-01-05 10:00:00,1\r\n2024-01-06 10:00:00,2\r\n"),
        ("semicolon.csv", b"ts;x\n2024-01-05 10:00:00;1\n2024-01-06 10:00:00;2\n"),
        ("pipe.csv", b"ts|x\n2024-01-05 10:00:00|1\n2024-01-06 10:00:00|2\n"),
        ("tab.tsv", b"ts\tx\n2024-01-05 10:00:00\t1\n2024-01-06 10:00:00\t2\n"),
        ("quoted.csv", b'note,ts,x\n"two\nlines, and a comma",2024-01-05 10:00:00,1\n"",2024-01-06 10:00:00,2\n'),
    ],
)
def test_encodings_delimiters_and_quoted_newlines(tmp_path, name, raw):
    catalog = catalog_for(tmp_path, name, ISO)
    (tmp_path / "data" / name).write_bytes(raw)
    assert january(catalog) == (2, 3)


def test_windows_1252_is_detected_and_noted(tmp_path):
    catalog = catalog_for(tmp_path, "legacy.csv", ISO + "who: who\n")
    (tmp_path / "data" / "legacy.csv").write_bytes("ts,x,who\n2024-01-05 10:00:00,1,José Núñez\n".encode("cp1252"))
    run = civic_kpi.compute(catalog, period="2024-01", by=["who"])
    assert [r.group.get("who") for r in run.results if r.kpi_id == "n"] == [None, "José Núñez"]
    assert any("read as Windows-1252" in note for note in run.notes)
    # Declared, it is read the same way without a note
    catalog.write_text(
        catalog.read_text().replace("    path: legacy.csv", "    path: legacy.csv\n    encoding: windows-1252")
    )
    run = civic_kpi.compute(catalog, period="2024-01", by=["who"])
    assert "José Núñez" in [r.group.get("who") for r in run.results]
    assert not any("Windows-1252" in note for note in run.notes)


@pytest.mark.parametrize(
    ("fmt", "values"),
    [
        ("%m/%d/%Y %I:%M:%S %p", ["01/31/2024 11:15:00 PM", "01/01/2024 12:00:00 AM", "02/01/2024 12:00:00 AM"]),
        ("%m/%d/%y %H:%M", ["1/31/24 23:15", "01/01/24 00:00", "02/01/24 00:00"]),  # two-digit years
        ("%Y-%m-%dT%H:%M:%S%z", ["2024-02-01T04:15:00+0000", "2024-01-01T00:00:00-05:00", "2024-02-01T05:00:00Z"]),
    ],
)
def test_date_formats_and_offsets(tmp_path, fmt, values):
    # The third value is always just after January (New York time): only two rows fall in January.
    catalog = catalog_for(tmp_path, "d.csv", f'ts: {{type: datetime, format: "{fmt}"}}\nx: {{type: float}}\n')
    rows = "".join(f'"{v}",1\n' for v in values)
    (tmp_path / "data" / "d.csv").write_text("ts,x\n" + rows)
    assert january(catalog) == (2, 2)


def test_date_and_time_in_separate_columns(tmp_path):
    columns = (
        'ts: {source: CREATION DATE, time_source: CREATION TIME, type: datetime, format: "%m/%d/%y", '
        'time_format: "%I:%M %p"}\n'
        "x: {type: float}\n"
    )
    catalog = catalog_for(tmp_path, "kc.csv", columns)
    (tmp_path / "data" / "kc.csv").write_text(
        "CREATION DATE,CREATION TIME,x\n01/31/24,11:59 PM,1\n02/01/24,12:00 AM,5\n1/2/24,9:05 AM,2\n"
    )
    assert january(catalog) == (2, 3)


def test_json_records_with_missing_keys(tmp_path):
    catalog = catalog_for(
        tmp_path, "api.json", 'ts: {type: datetime, format: "%Y-%m-%dT%H:%M:%S%.f"}\nx: {type: float}\n'
    )
    records = [{"ts": "2024-01-05T10:00:00.000", "x": "1"}] + [{"ts": "2024-01-06T10:00:00.000"}] * 300
    records.append({"ts": "2024-01-07T10:00:00.000", "x": "2", "late_key": True})  # a key first seen at the end
    (tmp_path / "data" / "api.json").write_text(json.dumps(records))
    assert january(catalog) == (302, 3)


def test_parquet_and_gzip(tmp_path):
    catalog = catalog_for(tmp_path, "d.parquet", "ts: {type: datetime}\nx: {type: float}\n")
    pl.DataFrame({"ts": ["2024-01-05 10:00:00", "2024-03-01 00:00:00"], "x": [1.5, 9.0]}).with_columns(
        pl.col("ts").str.to_datetime()
    ).write_parquet(tmp_path / "data" / "d.parquet")
    assert january(catalog) == (1, 1.5)
    catalog = catalog_for(tmp_path, "d.csv.gz", ISO)
    with gzip.open(tmp_path / "data" / "d.csv.gz", "wt") as handle:
        handle.write("ts,x\n2024-01-05 10:00:00,1\n2024-01-06 10:00:00,2\n")
    assert january(catalog) == (2, 3)


def test_truncated_gzip_is_a_user_error(tmp_path, cli):
    catalog = catalog_for(tmp_path, "d.csv.gz", ISO)
    whole = gzip.compress(b"ts,x\n" + b"2024-01-05 10:00:00,1\n" * 5000)
    (tmp_path / "data" / "d.csv.gz").write_bytes(whole[: len(whole) // 2])
    result = cli("compute", "-c", catalog, "--period", "2024-01")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "d.csv.gz" in result.stderr


def test_monthly_files_whose_columns_drift_are_reported(tmp_path):
    catalog = catalog_for(tmp_path, "m_*.csv", ISO)
    (tmp_path / "data" / "m_2024-01.csv").write_text("ts,x\n2024-01-05 10:00:00,1\n")
    (tmp_path / "data" / "m_2024-02.csv").write_text("x,ts,channel\n2,2024-01-31 10:00:00,web\n")
    run = civic_kpi.compute(catalog, period="2024-01")
    assert {r.kpi_id: r.value for r in run.results} == {"n": 2, "total": 3}
    assert any(
        "column 'channel' is missing from 1 of 2 files (m_2024-01.csv); it was added later" in n for n in run.notes
    )


@pytest.mark.parametrize(
    ("kind", "files"),
    [
        # One layout: read as one multi-file scan that tags each record with its file.
        ("csv", {"m_1.csv": "ts,x\n2024-01-05 10:00:00,1\n", "m_2.csv": "ts,x\n" + "2024-01-06 10:00:00,2\n" * 3}),
        # Another delimiter, or another encoding, in one of the files: each file is read on its own.
        ("csv", {"m_1.csv": "ts,x\n2024-01-05 10:00:00,1\n", "m_2.csv": "ts;x\n2024-01-06 10:00:00;2\n"}),
        ("csv", {"m_1.csv": "ts,x\n2024-01-05 10:00:00,1\n", "m_2.csv": "ts,x,é\n2024-01-06 10:00:00,2,\xe9\n"}),
        ("parquet", {"m_1.parquet": [("2024-01-05 10:00:00", 1.0)], "m_2.parquet": [("2024-01-06 10:00:00", 2.0)] * 2}),
    ],
    ids=["one-layout", "another-delimiter", "windows-1252", "parquet"],
)
def test_every_file_of_a_glob_is_counted_as_its_own(tmp_path, kind, files):
    """The run's per-file record counts and values are the same whether the files are read together or alone."""
    catalog = catalog_for(tmp_path, f"m_*.{kind}", ISO if kind == "csv" else "ts: {type: datetime}\nx: {type: float}\n")
    for name, content in files.items():
        if kind == "parquet":
            frame = pl.DataFrame(content, schema=["ts", "x"], orient="row")
            frame.with_columns(pl.col("ts").str.to_datetime()).write_parquet(tmp_path / "data" / name)
        else:
            (tmp_path / "data" / name).write_bytes(content.encode("cp1252" if "\xe9" in content else "utf-8"))
    run = civic_kpi.compute(catalog, period="2024-01")
    expected = [content.count("2024-01") if kind == "csv" else len(content) for content in files.values()]
    assert [f.rows for f in run.data_files] == expected
    values = {r.kpi_id: r.value for r in run.results}
    assert values["n"] == sum(expected)
    assert values["total"] == sum(x for content in files.values() for x in _xs(kind, content))


def test_a_file_name_with_glob_characters_is_read_as_that_file(tmp_path):
    # 'm[1].csv' is a name the dataset's glob matched, not a pattern that also matches m1.csv.
    catalog = catalog_for(tmp_path, "m*.csv", ISO)
    (tmp_path / "data" / "m[1].csv").write_text("ts,x\n2024-01-05 10:00:00,1\n")
    (tmp_path / "data" / "m1.csv").write_text("ts,x\n2024-01-06 10:00:00,2\n2024-01-07 10:00:00,3\n")
    run = civic_kpi.compute(catalog, period="2024-01")
    assert {r.kpi_id: r.value for r in run.results} == {"n": 3, "total": 6}
    assert sorted((Path(f.path).name, f.rows) for f in run.data_files) == [("m1.csv", 2), ("m[1].csv", 1)]


def test_the_engine_is_chosen_by_records_not_bytes(tmp_path):
    """A small Parquet file can hold many records: streaming bounds the memory they take, whatever the bytes."""
    from civic_kpi.data.sources import IN_MEMORY_ROWS, polars_engine

    path = tmp_path / "many.parquet"
    pl.DataFrame({"x": [1] * (IN_MEMORY_ROWS + 1)}).write_parquet(path)
    assert path.stat().st_size < 100_000
    assert polars_engine([(path, "parquet")]) == "auto"
    small = tmp_path / "few.csv"
    small.write_text("ts,x\n" + "2024-01-05 10:00:00,1\n" * 1000)
    assert polars_engine([(small, "csv")]) == "in-memory"


def _xs(kind: str, content: str | list) -> list[float]:
    if kind == "parquet":
        return [x for _, x in content]
    return [float(line.split(line[19])[1]) for line in content.splitlines()[1:]]


def test_csv_cells_are_trimmed_and_typed_text_is_used_as_stored(tmp_path) -> None:
    """'Closed ' is 'Closed' in a CSV; in Parquet the text is what was stored, and check says the same as compute."""
    import polars as pl

    from civic_kpi.catalog.model import Dataset
    from civic_kpi.data.sources import scan_dataset

    day = "2026-01-01"
    rows = {"day": [day] * 5, "status": ["Closed", "Closed ", "  ", "", "Open"], "score": ["1", " 2", "3", "", "4"]}
    pl.DataFrame(rows).write_csv(tmp_path / "a.csv")
    pl.DataFrame(rows).write_parquet(tmp_path / "a.parquet")
    columns = {"day": {"source": "day", "type": "date"}, "status": "status"}
    csv = Dataset(path="a.csv", date_column="day", columns={**columns, "score": {"source": "score", "type": "integer"}})
    parquet = Dataset(path="a.parquet", date_column="day", columns=columns)
    read_csv = scan_dataset("a", csv, tmp_path, {"status", "score"}).frame.collect()
    assert read_csv["status"].to_list() == ["Closed", "Closed", None, None, "Open"]
    assert read_csv["score"].to_list() == [1, 2, 3, None, 4]
    read_parquet = scan_dataset("a", parquet, tmp_path, {"status"}).frame.collect()
    assert read_parquet["status"].to_list() == ["Closed", "Closed ", "  ", None, "Open"]
