"""Text encodings of CSV exports (data/encoding.py), through the CLI on real files.

The rules under test:
- A UTF-8 file is read as UTF-8, even with a few bytes in it that are not UTF-8: those read as U+FFFD and a note
  names the file, each stray's line and byte in that line (the first 3; all are counted). Every other value keeps
  its accents: one stray byte no longer makes the whole file be read as Windows-1252 (`SeÃ±al Repair`).
- A file with no UTF-8 text beyond ASCII at all is in a legacy encoding, named by charset-normalizer (Windows-1252
  where that reads it as well), and a note names it.
- A byte-order mark decides: UTF-8 with a BOM, UTF-16. UTF-16 without a mark is detected and noted.
- `encoding:` on the dataset is respected: Windows-1252 declared is read without a note; UTF-8 declared still has
  its stray bytes noted.

Every file is written byte by byte here; every expected count is the number of rows written with that value.
"""

from __future__ import annotations

import gzip
import json
import textwrap
from pathlib import Path

import pytest

from civic_kpi.data.encoding import decoding

SENAL = "Señal Repair"


def catalog_for(tmp_path: Path, file: str, extra: str = "") -> Path:
    """One dataset `d` (date ts, text who) and a KPI counting its records, broken down by who."""
    catalog = tmp_path / "cat.yaml"
    catalog.write_text(
        textwrap.dedent(
            f"""\
            title: Encodings
            data_dir: data
            timezone: America/Chicago
            datasets:
              d:
                path: {file}
                date_column: ts
                columns:
                  ts: {{type: date, format: "%Y-%m-%d"}}
                  who: who
            kpis:
              - {{id: n, name: N, domain: D, unit: count, dataset: d, value: count(), group_by: [who]}}
            """
        ).replace("date_column: ts\n", f"date_column: ts\n    {extra}\n" if extra else "date_column: ts\n"),
        encoding="utf-8",
    )
    (tmp_path / "data").mkdir(exist_ok=True)
    return catalog


def write(tmp_path: Path, name: str, raw: bytes) -> Path:
    path = tmp_path / "data" / name
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    return path


def run(cli, catalog: Path) -> tuple[dict[str, float], list[str]]:
    """January 2024's count per `who` (None: the overall row), and the run's notes."""
    done = cli("compute", "-c", catalog, "-p", "2024-01", "-f", "json")
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    counts = {r["group"].get("who"): r["value"] for r in document["results"]}
    return counts, document["notes"]


def lines(*rows: str) -> bytes:
    """A UTF-8 CSV of (ts, who) rows written as text; a row given as bytes is kept byte for byte."""
    return b"ts,who\n" + b"".join((r if isinstance(r, bytes) else r.encode("utf-8")) + b"\n" for r in rows)


def encoding_notes(notes: list[str]) -> list[str]:
    return [n for n in notes if "UTF-8" in n or "read as" in n]


# ----------------------------------------------------------------------------------------------- UTF-8


def test_valid_utf8_is_read_as_it_is_without_a_note(cli, tmp_path):
    catalog = catalog_for(tmp_path, "f.csv")
    write(tmp_path, "f.csv", lines(f"2024-01-05,{SENAL}", f"2024-01-06,{SENAL}", "2024-01-07,Café"))
    counts, notes = run(cli, catalog)
    assert counts == {None: 3, SENAL: 2, "Café": 1}
    assert encoding_notes(notes) == []


def test_one_stray_byte_on_line_3_keeps_every_other_value_utf8_and_is_noted(cli, tmp_path):
    catalog = catalog_for(tmp_path, "f.csv")
    # line 1 header, line 2 Señal, line 3 "2024-01-06,Bad" (14 bytes) then 0xFF: byte 15 of line 3
    write(tmp_path, "f.csv", lines(f"2024-01-05,{SENAL}", b"2024-01-06,Bad\xffValue", f"2024-01-07,{SENAL}"))
    counts, notes = run(cli, catalog)
    # Before: the file was read as Windows-1252: "SeÃ±al Repair" x2 and "BadÿValue".
    assert counts == {None: 3, SENAL: 2, "Bad\ufffdValue": 1}
    assert encoding_notes(notes) == [
        "d: f.csv is UTF-8 but has 1 stray byte that is not (0xFF on line 3, byte 15); each reads as U+FFFD, "
        "the replacement character. Re-export the file as UTF-8, or set `encoding:` on the dataset if it is in "
        "another encoding"
    ]


def test_five_stray_bytes_the_first_three_located_and_all_counted(cli, tmp_path):
    catalog = catalog_for(tmp_path, "f.csv")
    raw = lines(
        f"2024-01-02,{SENAL}",  # line 2
        b"2024-01-03,\xe9t\xe9",  # line 3: 0xE9 at bytes 12 and 14 (a Windows-1252 "été")
        b"2024-01-04,\xffx",  # line 4: 0xFF at byte 12
        b"2024-01-05,a\x92b",  # line 5: 0x92 at byte 13
        b"2024-01-06,\x80",  # line 6: 0x80 at byte 12
    )
    write(tmp_path, "f.csv", raw)
    counts, notes = run(cli, catalog)
    assert counts == {None: 5, SENAL: 1, "\ufffdt\ufffd": 1, "\ufffdx": 1, "a\ufffdb": 1, "\ufffd": 1}
    [note] = encoding_notes(notes)
    assert note.startswith(
        "d: f.csv is UTF-8 but has 5 stray bytes that are not "
        "(0xE9 on line 3, byte 12; 0xE9 on line 3, byte 14; 0xFF on line 4, byte 12; ...)"
    )


def test_a_stray_byte_past_the_first_4_mb_is_found_and_noted(cli, tmp_path):
    catalog = catalog_for(tmp_path, "big.csv")
    row = f"2024-01-05,{SENAL}\n".encode()  # 24 bytes
    count = 200_000  # 4.8 MB
    raw = b"ts,who\n" + row * count + b"2024-01-06,Bad\xffValue\n"
    write(tmp_path, "big.csv", raw)
    counts, notes = run(cli, catalog)
    assert counts == {None: count + 1, SENAL: count, "Bad\ufffdValue": 1}
    # header + 200,000 rows: the stray's row is line 200,002
    [note] = encoding_notes(notes)
    assert "1 stray byte that is not (0xFF on line 200002, byte 15)" in note


def test_a_stray_byte_in_a_gzip_export_is_noted(cli, tmp_path):
    catalog = catalog_for(tmp_path, "f.csv.gz")
    write(tmp_path, "f.csv.gz", lines(f"2024-01-05,{SENAL}", b"2024-01-06,\xff"))
    counts, notes = run(cli, catalog)
    assert counts == {None: 2, SENAL: 1, "\ufffd": 1}
    assert "f.csv.gz is UTF-8 but has 1 stray byte that is not (0xFF on line 3, byte 12)" in encoding_notes(notes)[0]


@pytest.mark.parametrize(
    ("extra", "bom"),
    [("encoding: utf-8", b""), ("", b"\xef\xbb\xbf")],  # declared, or marked by a BOM: UTF-8 for certain
)
def test_utf8_for_certain_notes_its_stray_bytes_even_with_no_other_non_ascii_text(cli, tmp_path, extra, bom):
    catalog = catalog_for(tmp_path, "f.csv", extra)
    # Found on its own, a file whose only non-ASCII bytes are not UTF-8 would be Windows-1252.
    write(tmp_path, "f.csv", bom + lines("2024-01-05,Plain", b"2024-01-06,Caf\xe9"))
    counts, notes = run(cli, catalog)
    assert counts == {None: 2, "Plain": 1, "Caf\ufffd": 1}
    assert "1 stray byte that is not (0xE9 on line 3, byte 15)" in encoding_notes(notes)[0]


def test_utf8_with_a_bom(cli, tmp_path):
    catalog = catalog_for(tmp_path, "f.csv")
    write(tmp_path, "f.csv", b"\xef\xbb\xbf" + lines(f"2024-01-05,{SENAL}", "2024-01-06,Café"))
    counts, notes = run(cli, catalog)
    assert counts == {None: 2, SENAL: 1, "Café": 1}
    assert encoding_notes(notes) == []


def test_a_character_cut_by_a_chunk_boundary_is_not_a_stray(tmp_path):
    # The file is checked a megabyte at a time: put ñ's two bytes either side of the first chunk's end.
    prefix = b"ts,who\n2024-01-05,"
    padding = (1 << 20) - 1 - len(prefix)  # ñ's first byte is the chunk's last
    raw = prefix + b"x" * padding + "ñ\n".encode()
    assert raw[(1 << 20) - 1 : (1 << 20) + 1] == "ñ".encode()
    path = tmp_path / "f.csv"
    path.write_bytes(raw)
    assert decoding(path).encoding == "utf-8"
    assert decoding(path).stray_count == 0


def test_a_replacement_character_the_file_holds_is_utf8_text(tmp_path):
    # An export that went through a lossy conversion holds a real U+FFFD; with one stray byte beside it, the file
    # is still UTF-8 (read as cp1250 it printed 'Seďż˝al').
    path = tmp_path / "f.csv"
    path.write_bytes("ts,who\n2024-01-05,Se\ufffdal\n".encode() + b"2024-01-06,Caf\xe9\n")
    found = decoding(path)
    assert (found.encoding, found.stray_count) == ("utf-8", 1)


def test_many_strays_before_the_first_utf8_character_do_not_make_the_file_legacy(tmp_path):
    # 150 stray bytes in the first megabyte, then Señal after it: the file is UTF-8, every stray counted.
    strays = b"".join(b"2024-01-05,x\xff\n" for _ in range(150))
    raw = b"ts,who\n" + strays + b"2024-01-05,plain\n" * 80_000 + f"2024-01-06,{SENAL}\n".encode()
    path = tmp_path / "f.csv"
    path.write_bytes(raw)
    found = decoding(path)
    assert (found.encoding, found.stray_count) == ("utf-8", 150)
    assert found.strays[0].line == 2


# ----------------------------------------------------------------------------------------------- other encodings


def test_a_windows_1252_file_is_decoded_as_such_with_a_note(cli, tmp_path):
    catalog = catalog_for(tmp_path, "legacy.csv")
    text = f"ts,who\n2024-01-05,{SENAL}\n2024-01-06,{SENAL}\n2024-01-07,Café “Olé”\n"
    write(tmp_path, "legacy.csv", text.encode("cp1252"))
    counts, notes = run(cli, catalog)
    # charset-normalizer alone names cp1250 for this sample, which reads ñ as ń ("Seńal Repair").
    assert counts == {None: 3, SENAL: 2, "Café “Olé”": 1}
    assert encoding_notes(notes) == [
        "d: legacy.csv read as Windows-1252 (not UTF-8); set `encoding:` in the catalog to say so"
    ]


def test_a_windows_1252_file_whose_first_4_mb_are_ascii_is_still_windows_1252(tmp_path):
    path = tmp_path / "late.csv"
    path.write_bytes(b"ts,who\n" + b"2024-01-05,plain\n" * 300_000 + "2024-01-06,Café\n".encode("cp1252"))
    found = decoding(path)
    assert (found.encoding, found.detected, found.stray_count) == ("cp1252", True, 0)


def test_declared_windows_1252_is_read_without_a_note(cli, tmp_path):
    catalog = catalog_for(tmp_path, "legacy.csv", "encoding: windows-1252")
    write(tmp_path, "legacy.csv", f"ts,who\n2024-01-05,{SENAL}\n".encode("cp1252"))
    counts, notes = run(cli, catalog)
    assert counts == {None: 1, SENAL: 1}
    assert encoding_notes(notes) == []


@pytest.mark.parametrize(
    ("codec", "note"),
    [
        ("utf-16", None),  # with a byte-order mark: certain
        ("utf-16-le", "d: f.csv read as UTF-16LE (not UTF-8); set `encoding:` in the catalog to say so"),
    ],
)
def test_utf16_is_read(cli, tmp_path, codec, note):
    catalog = catalog_for(tmp_path, "f.csv")
    write(tmp_path, "f.csv", f"ts,who\n2024-01-05,{SENAL}\n2024-01-06,Café\n".encode(codec))
    # Before: refused as binary (NUL bytes), exit 2.
    counts, notes = run(cli, catalog)
    assert counts == {None: 2, SENAL: 1, "Café": 1}
    assert encoding_notes(notes) == ([note] if note else [])
