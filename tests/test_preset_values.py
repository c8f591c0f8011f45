"""`validate` reads values as `compute` does; unused preset columns are notes; `columns: {NAME: null}` drops a
preset's column; a flag's code lists have two sides, and codes on neither are reported with their counts."""

from __future__ import annotations

import json

import polars as pl
import pytest

import civic_kpi
from civic_kpi.catalog.presets import presets
from civic_kpi.errors import CatalogError, DataError
from tests.conftest import SHARED

NYC_HEADER = "Unique Key,Created Date,Closed Date,Agency,Complaint Type,Status,Due Date,Open Data Channel Type\n"
NYC_2017_HEADER = "Unique Key,Created Date,Closed Date,Agency,Complaint Type,Status,Due Date\n"  # before April 2018
REAL_NYC = SHARED / "realdata" / "nyc311-2022-05-01-pyboot" / "311_Service_Requests_from_2010_to_Present.csv"


def catalog(tmp_path, dataset: str, kpis: dict[str, str], group_by: dict[str, str] | None = None):
    entries = "".join(
        f"  - {{id: {kpi}, name: {kpi}, domain: D, unit: count, dataset: d, value: {json.dumps(formula)}"
        + (f", group_by: [{group_by[kpi]}]" if group_by and kpi in group_by else "")
        + "}\n"
        for kpi, formula in kpis.items()
    )
    path = tmp_path / "cat.yaml"
    path.write_text(f"data_dir: .\ntimezone: America/New_York\ndatasets:\n  d: {dataset}\nkpis:\n{entries}")
    return path


# ---------------------------------------------------------------------------------------------- values


def test_bad_values_are_named_with_file_line_column_and_count(tmp_path, cli):
    # Record 2 holds a line break inside quotes, so record 4 starts on line 6 of the file, not line 5.
    (tmp_path / "nyc.csv").write_text(
        NYC_HEADER
        + "1,01/31/2024 11:15:00 PM,,NYPD,Noise,Closed,,ONLINE\n"
        + '2,01/05/2024 10:00:00 AM,,DOT,"Pot\nhole",Open,,PHONE\n'
        + "3,13/45/2024 10:00:00 AM,,DOT,Pothole,Open,,PHONE\n"  # line 5: month 13
        + "4,2024-01-06 10:00,,DOT,Pothole,Open,,PHONE\n"  # line 6: another format
        + "5,  01/07/2024 10:00:00 AM  ,,DOT,Pothole,Open,,PHONE\n"  # padded: read as compute reads it, fine
        + "6,01/08/2024 10:00:00 AM,yesterday,DOT,Pothole,Open,,PHONE\n"  # line 8: a closed date
        + "7,01/09/2024 10:00:00 AM,,DOT,Pothole,Open,,PHONE\n"
        + "8,02/30/2024 10:00:00 AM,,DOT,Pothole,Open,,PHONE\n"  # line 10: no 30 February
        + "9,01/09/2024 25:00:00 AM,,DOT,Pothole,Open,,PHONE\n"  # line 11
    )
    path = catalog(tmp_path, "{preset: nyc311_portal_csv, path: nyc.csv}", {"n": "count(closed_at is None)"})
    result = cli("validate", path)
    assert result.exit_code == 2, result.output
    file = str(tmp_path / "nyc.csv")
    assert (
        f"{file}, field 'datasets.d.columns.created_at': column 'Created Date': 4 values are not a valid datetime "
        "in format '%m/%d/%Y %I:%M:%S %p': line 5 '13/45/2024 10:00:00 AM', line 6 '2024-01-06 10:00', "
        "line 10 '02/30/2024 10:00:00 AM' and 1 more"
    ) in result.stderr
    assert (
        f"{file}, field 'datasets.d.columns.closed_at_recorded': column 'Closed Date': 1 value is not a valid "
        "datetime in format '%m/%d/%Y %I:%M:%S %p': line 8 'yesterday'"
    ) in result.stderr
    assert "2 problems" in result.stderr


def test_bad_values_in_a_typed_file_are_named_by_record(tmp_path, cli):
    pl.DataFrame({"id": ["1", "2", "3"], "day": ["2024-01-02", "2024-01-03", "someday"]}).write_parquet(
        tmp_path / "x.parquet"
    )
    dataset = "{path: x.parquet, date_column: day, columns: {id: {type: integer}, day: {type: date}}}"
    result = cli("validate", catalog(tmp_path, dataset, {"n": "count()"}))
    assert result.exit_code == 2
    assert "column 'day': 1 value is not a valid date: record 3 'someday'" in result.stderr


# Each value in a one-record file: compute refuses it exactly when validate reports it (they share the parser).
CANDIDATES = [
    ("created", "01/31/2024 11:15:00 PM"), ("created", " 01/31/2024 11:15:00 PM "), ("created", "   "),
    ("created", "1/5/2024 1:05:00 PM"), ("created", "01/31/2024 11:15 PM"), ("created", "2024-01-31T23:15:00"),
    ("created", "01/31/2024 13:15:00 PM"), ("created", "01/31/24 11:15:00 PM"),
    ("id", "12"), ("id", " 12 "), ("id", "12.0"), ("id", "1e3"), ("id", "twelve"), ("id", ""),
    ("amount", "1.5"), ("amount", "NaN"), ("amount", "inf"), ("amount", "1,5"), ("amount", "-0"), ("amount", "$3"),
    ("done", "Y"), ("done", "maybe"), ("day", "2024-01-31"), ("day", "2024-1-31"), ("day", "31.01.2024"),
]  # fmt: skip


@pytest.mark.parametrize(("column", "value"), CANDIDATES)
def test_validate_reports_exactly_the_values_compute_refuses(tmp_path, cli, column, value):
    row = {"created": "01/31/2024 11:15:00 PM", "id": "1", "amount": "2", "done": "N", "day": "2024-01-30"}
    row[column] = value
    pl.DataFrame({k: [v] for k, v in row.items()}).write_csv(tmp_path / "x.csv")
    columns = (
        "{created: {type: datetime, format: '%m/%d/%Y %I:%M:%S %p'}, id: {type: integer}, amount: {type: float}, "
        "done: {type: boolean}, day: {type: date}}"
    )
    kpis = {"n": "count(created is not None and id is not None and amount is not None and done and day is not None)"}
    path = catalog(tmp_path, f"{{path: x.csv, date_column: created, columns: {columns}}}", kpis)
    try:
        civic_kpi.compute(path, period="2024-01")
        refused = False
    except DataError as exc:
        refused = True
        assert "is not a valid" in str(exc)
    report = civic_kpi.Session(path).validate()
    assert (not report.ok) == refused, (value, report.problems)
    if refused:
        assert report.problems[0].field == f"datasets.d.columns.{column}"
        assert repr(value) in report.problems[0].message


# ---------------------------------------------------------------------------------------------- unused columns


def test_a_missing_preset_column_no_kpi_uses_is_a_note(tmp_path, cli):
    (tmp_path / "nyc.csv").write_text(NYC_2017_HEADER + "1,01/31/2024 11:15:00 PM,,NYPD,Noise,Closed,\n")
    path = catalog(tmp_path, "{preset: nyc311_portal_csv, path: nyc.csv}", {"closed": "count(is_closed)"})
    result = cli("validate", path)
    assert result.exit_code == 0, result.output
    assert "1 note(s)" in result.stdout
    # the short header lacks six of the preset's columns, none of which the KPI reads: one note names them all
    assert (
        f"note: {tmp_path / 'nyc.csv'}, field 'datasets.d.columns': columns 'Resolution Action Updated Date' "
        "(resolution_updated_at), 'Descriptor' (descriptor), 'Borough' (borough), 'Community Board' "
        "(community_board), 'Incident Zip' (zip), 'Open Data Channel Type' (channel) of preset nyc311_portal_csv are "
        "not in the file; no KPI, check or review uses them, so compute does not read them"
    ) in result.stderr.replace("\n  ", " ")
    assert "hint: drop them with `columns: {resolution_updated_at: null, descriptor: null," in result.stderr
    assert civic_kpi.compute(path, period="2024-01").results[0].value == 1
    # A KPI that does need it still makes it a problem.
    needs = catalog(tmp_path, "{preset: nyc311_portal_csv, path: nyc.csv}", {"digital": "count(is_digital)"})
    result = cli("validate", needs)
    assert result.exit_code == 2 and "column 'Open Data Channel Type' not found (needed for 'channel')" in result.stderr


def test_bad_values_in_a_column_no_kpi_uses_are_a_note(tmp_path, cli):
    (tmp_path / "nyc.csv").write_text(NYC_HEADER + "1,01/31/2024 11:15:00 PM,,NYPD,Noise,Closed,soon,ONLINE\n")
    path = catalog(tmp_path, "{preset: nyc311_portal_csv, path: nyc.csv}", {"closed": "count(is_closed)"})
    result = cli("validate", path)
    assert result.exit_code == 0, result.output
    assert "column 'Due Date': 1 value is not a valid datetime" in result.stderr and "line 2 'soon'" in result.stderr
    assert "compute does not fail on it" in result.stderr
    assert civic_kpi.compute(path, period="2024-01").results[0].value == 1  # compute indeed reads it fine


def test_bad_values_in_an_event_column_are_a_problem_as_compute_reads_them_for_the_moment(tmp_path, cli):
    # No KPI reads Closed Date, but compute reads every event stamp to find the as-of moment, and refuses this one.
    (tmp_path / "nyc.csv").write_text(NYC_HEADER + "1,01/31/2024 11:15:00 PM,notadate,NYPD,Noise,Closed,,ONLINE\n")
    path = catalog(tmp_path, "{preset: nyc311_portal_csv, path: nyc.csv}", {"closed": "count(is_closed)"})
    result = cli("validate", path)
    assert result.exit_code == 2, result.output
    assert "column 'Closed Date': 1 value is not a valid datetime" in result.stderr
    assert "compute does not fail on it" not in result.stderr
    assert cli("compute", "-c", path, "--period", "2024-01").exit_code == 2


@pytest.mark.skipif(not REAL_NYC.exists(), reason="the real exports live in ../shared/realdata, absent here")
def test_real_nyc_export_in_the_layout_before_april_2018(tmp_path, cli):
    # The real 2022 export without its channel column is the portal's layout before April 2018.
    pl.read_csv(REAL_NYC, infer_schema=False).drop("Open Data Channel Type").write_csv(tmp_path / "nyc.csv")
    kpis = {"backlog": "count(not is_closed)", "closed": "count(is_closed)"}
    path = catalog(tmp_path, "{preset: nyc311_portal_csv, path: nyc.csv}", kpis)
    result = cli("validate", path)
    assert result.exit_code == 0, result.output
    assert "'Open Data Channel Type' (channel) of preset nyc311_portal_csv is not in the file" in result.stderr
    assert "1 note(s)" in result.stdout
    values = {r.kpi_id: r.value for r in civic_kpi.compute(path, period="2022-05-01..2022-05-01").results}
    assert values == {"backlog": 444, "closed": 480}  # realdata README: Closed 480, In Progress 440, Open 4
    # Dropping the column says the same thing without a note.
    dropped = catalog(tmp_path, "{preset: nyc311_portal_csv, path: nyc.csv, columns: {channel: null}}", kpis)
    result = cli("validate", dropped)
    assert result.exit_code == 0 and "note" not in result.output


@pytest.mark.skipif(not REAL_NYC.exists(), reason="the real exports live in ../shared/realdata, absent here")
def test_real_nyc_export_has_no_unknown_codes(cli):
    from tests.test_real_exports import CATALOG

    result = cli("validate", CATALOG)
    assert result.exit_code == 0 and "note" not in result.output, result.output


# ---------------------------------------------------------------------------------------------- channel: null


def test_a_catalog_drops_a_preset_column_and_what_is_computed_from_it(tmp_path, cli):
    (tmp_path / "nyc.csv").write_text(NYC_2017_HEADER + "1,01/31/2024 11:15:00 PM,,NYPD,Noise,Closed,\n")
    dataset = "{preset: nyc311_portal_csv, path: nyc.csv, columns: {channel: null}}"
    loaded = civic_kpi.open(catalog(tmp_path, dataset, {"closed": "count(is_closed)"})).catalog
    spec = loaded.catalog.datasets["d"]
    assert "channel" not in spec.columns
    assert {"is_digital", "is_known_channel"} <= spec.dropped and "is_digital" not in spec.derived
    assert "is_closed" in spec.derived
    path = catalog(tmp_path, dataset, {"closed": "count(is_closed)"})
    assert cli("validate", path).exit_code == 0
    kpis = {"digital": "count(is_digital)", "web": "count(channel == 'ONLINE')", "closed": "count(is_closed)"}
    path = catalog(tmp_path, dataset, kpis, group_by={"closed": "channel"})
    with pytest.raises(CatalogError) as caught:
        civic_kpi.open(path)
    problems = {(p.kpi, p.field): p.message for p in caught.value.problems}
    assert problems == {
        ("digital", "value"): "column 'is_digital' is not available: the catalog drops a column it is computed from "
        "(preset nyc311_portal_csv computes it from 'channel')",
        ("web", "value"): "column 'channel' of preset nyc311_portal_csv is dropped by the catalog "
        "(datasets.d.columns.channel: null)",
        ("closed", "group_by"): "group_by: column 'channel' of preset nyc311_portal_csv is dropped by the catalog "
        "(datasets.d.columns.channel: null)",
    }
    result = cli("validate", path, "--no-data")
    assert result.exit_code == 2 and "KPI 'digital'" in result.stderr and "'channel'" in result.stderr


# ---------------------------------------------------------------------------------------------- flags


def test_a_code_on_neither_list_is_counted_as_no_and_reported(tmp_path, cli):
    rows = [("ONLINE", 2), ("Mobile App v2", 3), ("PHONE", 1), ("", 1), ("Kiosk", 1), ("UNKNOWN", 1)]
    body = [f"{n},01/{n:02d}/2024 10:00:00 AM,,DOT,Pothole,Open,,{code}\n" for n, (code, k) in enumerate(
        [(code, k) for code, count in rows for k in range(count)], start=1)]  # fmt: skip
    (tmp_path / "nyc.csv").write_text(NYC_HEADER + "".join(body))
    path = catalog(tmp_path, "{preset: nyc311_portal_csv, path: nyc.csv}", {"digital": "count(is_digital)"})
    run = civic_kpi.compute(path, period="2024-01")
    assert run.results[0].value == 2  # ONLINE only: the unknown codes count as not digital
    expected = (
        "d: channel values 'Mobile App v2' (3 records), 'Kiosk' (1 record) are in neither the true_for nor the "
        "false_for list of is_digital of preset nyc311_portal_csv; they are counted as not is_digital "
        "(add them to one list under flags.is_digital in the catalog)"
    )
    assert expected in run.notes
    result = cli("validate", path)
    assert result.exit_code == 0 and expected in result.stderr.replace("\n  ", " ")
    # is_known_channel lists the same codes: validate reports it too; compute only the flags a KPI reads.
    assert "list of is_known_channel" in result.stderr
    assert not any("is_known_channel" in note for note in run.notes)


def test_the_catalog_can_add_a_code_to_a_preset_list(tmp_path):
    (tmp_path / "nyc.csv").write_text(NYC_HEADER + "1,01/02/2024 10:00:00 AM,,DOT,Pothole,Open,,Mobile App v2\n")
    flags = "{is_digital: {column: channel, true_for: [ONLINE, MOBILE, Mobile App v2], false_for: [PHONE]}}"
    path = catalog(
        tmp_path, f"{{preset: nyc311_portal_csv, path: nyc.csv, flags: {flags}}}", {"digital": "count(is_digital)"}
    )
    run = civic_kpi.compute(path, period="2024-01")
    assert run.results[0].value == 1 and not [n for n in run.notes if "neither" in n]


def test_ignore_case_flags_compare_upper_case(tmp_path):
    (tmp_path / "kc.csv").write_text(
        "CASE ID,SOURCE,DEPARTMENT,REQUEST TYPE,CREATION DATE,CREATION TIME,STATUS,EXCEEDED EST TIMEFRAME,CLOSED DATE\n"
        "1,web,Water,Leak,01/02/2024,9:05 AM,OPEN,Y,\n"
        "2,Phone,Water,Leak,01/02/2024,9:05 AM,OPEN,Y,\n"
        "3,kiosk,Water,Leak,01/02/2024,9:05 AM,Reopened,Y,\n"
    )
    path = catalog(tmp_path, "{preset: kansas_city_311, path: kc.csv}", {"d": "count(is_digital)", "c": "count()",
                                                                         "o": "count(is_closed)"})  # fmt: skip
    run = civic_kpi.compute(path, period="2024-01")
    assert {r.kpi_id: r.value for r in run.results} == {"d": 1, "c": 3, "o": 0}
    assert any("channel value 'kiosk' (1 record)" in n for n in run.notes)
    assert any("status value 'Reopened' (1 record)" in n for n in run.notes)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ("{x: {column: channel, true_for: [A], false_for: [A]}}", "'A' cannot be both in true_for and in false_for"),
        ("{x: {column: chanel, true_for: [A]}}", "a flag lists the values of 'chanel'"),
        ("{channel: {column: channel, true_for: [A]}}", "flag 'channel' has the name of a column"),
    ],
)
def test_flag_mistakes_are_catalog_errors(tmp_path, flags, message):
    dataset = f"{{path: x.csv, date_column: t, columns: {{t: {{type: date}}, channel: C}}, flags: {flags}}}"
    with pytest.raises(CatalogError) as caught:
        civic_kpi.open(catalog(tmp_path, dataset, {"n": "count()"}))
    assert message in str(caught.value)


def test_every_preset_code_list_has_both_sides_and_a_source():
    listed = 0
    for name, document in presets().items():
        for flag, spec in document["dataset"].get("flags", {}).items():
            assert spec["true_for"] and spec["false_for"] and spec["source"], (name, flag)
            assert not set(spec["true_for"]) & set(spec["false_for"]), (name, flag)
            listed += 1
        for column, text in document["dataset"].get("derived", {}).items():
            # a value list written as a formula would hide unknown codes again
            assert not (" in [" in text and text.count("'") >= 2 and " and " not in text), (name, column, text)
    assert listed >= 15


def test_undocumented_codes_are_on_neither_list():
    # values whose meaning no source documents are reported as unknown, not guessed into a side
    flags = {name: doc["dataset"].get("flags", {}) for name, doc in presets().items()}
    for preset in ("nyc311_portal_csv", "nyc311_socrata_json"):
        closed = flags[preset]["is_closed"]
        for code in ("Closed - Testing", "Unspecified"):
            assert code not in closed["true_for"] + closed["false_for"], (preset, code)
        assert "Unassigned" in closed["false_for"]  # in the 2010-2020 value set, plainly not closed
    for preset in ("boston311", "boston311_legacy"):
        resident = flags[preset]["is_resident_channel"]
        assert "Employee Generated" not in resident["true_for"] + resident["false_for"]
        assert "Employee Generated" in flags[preset]["is_digital"]["false_for"]
    assert "Closed" in flags["chicago311"]["is_closed"]["true_for"]
    assert "Walk-in" in flags["chicago311"]["is_digital"]["false_for"]
