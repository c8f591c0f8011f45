"""No silent wrong number (issue 12): NaN and infinity in the data, exports cut off mid-record, values that overflow.

Each case is a tiny file whose answer was worked out by hand, run through the real CLI and the library.
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

import civic_kpi
from civic_kpi.errors import DataError
from tests.test_kpis_by_hand import PERIOD, sr, write_311

# ----------------------------------------------------------------------------------------------- helpers


def edge_catalog(tmp_path: Path, path: str, kpis: str = "") -> Path:
    """One dataset `d` (date column `ts`, float column `x`) and KPIs over its January 2024."""
    catalog = tmp_path / "cat.yaml"
    catalog.write_text(
        textwrap.dedent(
            f"""\
            title: Edges
            data_dir: data
            timezone: America/New_York
            datasets:
              d:
                path: {path}
                date_column: ts
                columns:
                  ts: {{type: datetime, format: "%Y-%m-%d %H:%M:%S"}}
                  x: {{type: float}}
            kpis:
              - {{id: at_least_3, name: At least 3, domain: D, unit: count, dataset: d, value: count(x >= 3)}}
              - {{id: middle, name: Middle, domain: D, unit: count, dataset: d, value: median(x)}}
            """
        )
        + textwrap.indent(textwrap.dedent(kpis), "  ")
    )
    (tmp_path / "data").mkdir(exist_ok=True)
    return catalog


def stamps(count: int) -> list[str]:
    return [f"2024-01-{day:02d} 10:00:00" for day in range(1, count + 1)]


def write_x(tmp_path: Path, cells: list[str], name: str = "d.csv") -> Path:
    """A CSV of `ts,x` with one January day per cell, the cells written as given ('' is a blank cell)."""
    path = tmp_path / "data" / name
    path.write_text("ts,x\n" + "".join(f"{ts},{cell}\n" for ts, cell in zip(stamps(len(cells)), cells, strict=True)))
    return path


def values_and_notes(catalog: Path) -> tuple[dict[str, float | None], list[str]]:
    run = civic_kpi.compute(catalog, period="2024-01")
    return {r.kpi_id: r.value for r in run.results}, run.notes


def cli_json(cli, catalog: Path) -> dict:
    result = cli("compute", "-c", catalog, "--period", "2024-01", "-f", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# The example: x = 1, 2, 3, 4, 5, NaN, (blank), 2, 3, 1.
EXAMPLE = ["1", "2", "3", "4", "5", "NaN", "", "2", "3", "1"]
# NaN read as missing leaves 1, 2, 3, 4, 5, 2, 3, 1: sorted 1 1 2 2 3 3 4 5.
#   count(x >= 3): 3, 4, 5, 3 -> 4 (NaN compared as the largest number made it 5).
#   median: n = 8, the mean of the 4th and 5th sorted values (2 + 3) / 2 = 2.5 (with NaN sorted last: 3.0).
EXPECTED = {"at_least_3": 4, "middle": 2.5}
NOTE = "d: 1 value of x was NaN or infinite, read as missing"


# ----------------------------------------------------------------------------------- NaN is a missing value


def test_nan_in_a_csv_is_missing_and_noted(tmp_path, cli):
    catalog = edge_catalog(tmp_path, "d.csv")
    write_x(tmp_path, EXAMPLE)
    values, notes = values_and_notes(catalog)
    assert values == EXPECTED
    assert NOTE in notes
    document = cli_json(cli, catalog)
    assert {r["kpi_id"]: r["value"] for r in document["results"]} == EXPECTED
    assert NOTE in document["notes"]


def test_nan_in_parquet_is_missing_and_noted(tmp_path, cli):
    catalog = edge_catalog(tmp_path, "d.parquet")
    numbers = [None if cell == "" else float(cell) for cell in EXAMPLE]  # float("NaN") is a real NaN
    pl.DataFrame(
        {"ts": [datetime.fromisoformat(s) for s in stamps(len(numbers))], "x": numbers},
        schema={"ts": pl.Datetime("us"), "x": pl.Float64},
    ).write_parquet(tmp_path / "data" / "d.parquet")
    values, notes = values_and_notes(catalog)
    assert values == EXPECTED
    assert NOTE in notes
    assert NOTE in cli_json(cli, catalog)["notes"]


def test_infinities_are_missing_in_csv_and_parquet(tmp_path):
    # Left: 1, 3 (inf, -inf and Infinity read as missing). count(x >= 3) = 1 (inf counted would make it 2);
    # median of 1, 3 = 2 (with -inf and +inf both kept, the middle of -inf 1 3 inf inf is still 3).
    cells = ["1", "inf", "-inf", "3", "Infinity"]
    catalog = edge_catalog(tmp_path, "d.csv")
    write_x(tmp_path, cells)
    values, notes = values_and_notes(catalog)
    assert values == {"at_least_3": 1, "middle": 2.0}
    assert "d: 3 values of x were NaN or infinite, read as missing" in notes

    parquet = edge_catalog(tmp_path, "d.parquet")
    pl.DataFrame(
        {"ts": [datetime.fromisoformat(s) for s in stamps(len(cells))], "x": [float(c) for c in cells]}
    ).write_parquet(tmp_path / "data" / "d.parquet")
    assert values_and_notes(parquet) == (values, notes)


def test_note_counts_per_column_across_files(tmp_path):
    # Two monthly files and two float columns: 1 NaN of x in the first file, 1 of x and 2 of y in the second.
    catalog = edge_catalog(tmp_path, "m/*.csv")
    catalog.write_text(
        catalog.read_text().replace("      x: {type: float}\n", "      x: {type: float}\n      y: {type: float}\n")
        + "  - {id: y_total, name: Y, domain: D, unit: count, dataset: d, value: sum(y)}\n"
    )
    (tmp_path / "data" / "m").mkdir()
    (tmp_path / "data" / "m" / "a.csv").write_text("ts,x,y\n2024-01-01 10:00:00,NaN,1\n")
    (tmp_path / "data" / "m" / "b.csv").write_text("ts,x,y\n2024-01-02 10:00:00,nan,-inf\n2024-01-03 10:00:00,3,NaN\n")
    values, notes = values_and_notes(catalog)
    # x: only 3 is left -> count(x >= 3) = 1, median 3; y: only 1 is left -> sum 1.
    assert values == {"at_least_3": 1, "middle": 3.0, "y_total": 1.0}
    assert "d: 4 values (2 of x, 2 of y) were NaN or infinite, read as missing" in notes


def test_no_note_without_nan(tmp_path):
    catalog = edge_catalog(tmp_path, "d.csv")
    write_x(tmp_path, ["1", "", "3"])
    _, notes = values_and_notes(catalog)
    assert not any("NaN" in note for note in notes)


def test_nan_in_an_integer_column_is_still_not_an_integer(tmp_path, cli):
    # An integer cannot be NaN: the text is a bad value, refused with its file, row and column as before.
    catalog = edge_catalog(tmp_path, "d.csv")
    catalog.write_text(catalog.read_text().replace("x: {type: float}", "x: {type: integer}"))
    write_x(tmp_path, ["1", "NaN"])
    result = cli("compute", "-c", catalog, "--period", "2024-01")
    assert result.exit_code == 2
    assert "row 2 (line 3), column 'x': value 'NaN' is not a valid integer" in result.stderr


# ------------------------------------------------------------------------------------ a truncated export


def test_export_cut_off_mid_record_is_refused(catalog, data, cli):
    write_311(data, [sr("2026-10-05 08:00:00", "2026-10-05 12:00:00"), sr("2026-10-06 08:00:00")])
    path = data / "311" / "service_requests_2026-10.csv"
    text = path.read_text()
    # The download stopped inside the second record's Status (its Closed Date is blank): the header, one record,
    # and on line 3 a stub of 4 fields (id, created, blank closed, "Res") of the header's 14.
    path.write_text(text[: text.index("SR-00002") + len("SR-00002,2026-10-06 08:00:00,,Res")])
    result = cli("compute", "-c", catalog, "--period", PERIOD, "--kpi", "time_to_close_p90")
    assert result.exit_code == 2
    assert str(path) in result.stderr
    assert "line 3, the last, has 4 fields where the header has 14, and no line break ends it" in result.stderr
    assert "the file looks cut off: is the download complete?" in result.stderr
    with pytest.raises(DataError, match="line 3"):
        civic_kpi.compute(catalog, period=PERIOD, kpis=["time_to_close_p90"])


def test_a_file_cut_off_after_a_run_is_checked_again_in_the_same_process(tmp_path):
    # A file's checks are remembered by its stamp (path, modification time, size): the same file read again in one
    # process (report runs compute three times) is not re-probed, but a file that changed is.
    catalog = edge_catalog(tmp_path, "d.csv")
    path = tmp_path / "data" / "d.csv"
    path.write_text("ts,x\n2024-01-01 10:00:00,3\n2024-01-02 10:00:00,4\n")
    first = civic_kpi.compute(catalog, period="2024-01", kpis=["middle"])
    assert first.results[0].value == 3.5
    assert civic_kpi.compute(catalog, period="2024-01", kpis=["middle"]).results[0].value == 3.5  # remembered
    path.write_text("ts,x\n2024-01-01 10:00:00,3\n2024-01-02 10:00:00,4\n2024-01-03 10:00:00")  # cut off
    with pytest.raises(DataError, match="line 4, the last, has 1 field where the header has 2"):
        civic_kpi.compute(catalog, period="2024-01", kpis=["middle"])


def test_a_file_replaced_with_the_same_size_and_time_is_checked_again(tmp_path):
    # cp -p, rsync -t or unzip put a new file in place with the old one's size and modification time: its inode
    # and change time still differ, so it is checked again.
    catalog = edge_catalog(tmp_path, "d.csv")
    path = tmp_path / "data" / "d.csv"
    good, cut = "2024-01-02 10:00:00,4\n", "2024-01-02 10:00:00 XX"  # the same length; the second is cut off
    assert len(good) == len(cut)
    path.write_text("ts,x\n2024-01-01 10:00:00,3\n" + good)
    assert civic_kpi.compute(catalog, period="2024-01", kpis=["middle"]).results[0].value == 3.5
    before = path.stat()
    replacement = tmp_path / "data" / "new.csv"
    replacement.write_text("ts,x\n2024-01-01 10:00:00,3\n" + cut)
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    with pytest.raises(DataError, match="line 3, the last, has 1 field where the header has 2"):
        civic_kpi.compute(catalog, period="2024-01", kpis=["middle"])


def test_cut_off_record_after_a_quoted_line_break_names_its_first_line(tmp_path):
    # The last record starts on line 3 and its quoted note spans lines 3-4; it was cut before its last field.
    catalog = edge_catalog(tmp_path, "d.csv")
    catalog.write_text(catalog.read_text().replace("x: {type: float}", "x: {type: float}\n      note: note"))
    raw = 'ts,note,x\n2024-01-01 10:00:00,"ok",1\n2024-01-02 10:00:00,"two\nlines"'
    (tmp_path / "data" / "d.csv").write_text(raw)
    with pytest.raises(DataError) as caught:
        civic_kpi.compute(catalog, period="2024-01")
    assert "line 3, the last, has 2 fields where the header has 3" in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # A short last row ended by a line break is a record with a blank x (not an interrupted download).
        ("ts,x\n2024-01-01 10:00:00,3\n2024-01-02 10:00:00\n", {"at_least_3": 1, "middle": 3.0}),
        # A complete last record without a final line break is complete.
        ("ts,x\n2024-01-01 10:00:00,3\n2024-01-02 10:00:00,4", {"at_least_3": 2, "middle": 3.5}),
        # A quoted line break in the last field: line 3 alone has fewer fields, the record does not.
        ('ts,x\n2024-01-01 10:00:00,3\n"2024-01-02 10:00:00\n",4', {"at_least_3": 2, "middle": 3.5}),
        # Only a header, no line break.
        ("ts,x", {"at_least_3": None, "middle": None}),
    ],
)
def test_files_that_are_not_cut_off_are_read(tmp_path, raw, expected):
    catalog = edge_catalog(tmp_path, "d.csv")
    (tmp_path / "data" / "d.csv").write_text(raw)
    values, _ = values_and_notes(catalog)
    assert values == expected


# ------------------------------------------------------------------------------------ overflow


def test_overflow_is_not_called_a_division_by_zero(tmp_path, cli):
    # 1e308 is finite; 1e308 * 10 is not (the largest double is about 1.8e308): no value, and the reason says so.
    catalog = edge_catalog(
        tmp_path,
        "d.csv",
        """\
        - {id: huge, name: Huge, domain: D, unit: count, dataset: d, value: max(x) * 10}
        """,
    )
    write_x(tmp_path, ["1e308"])
    result = next(r for r in civic_kpi.compute(catalog, period="2024-01").results if r.kpi_id == "huge")
    assert result.value is None
    assert result.status_reason == "the formula's value is not finite (a division by zero or an overflow)"
    document = cli_json(cli, catalog)
    row = next(r for r in document["results"] if r["kpi_id"] == "huge")
    assert row["value"] is None and "overflow" in row["status_reason"]
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in row.values())
