"""`inspect` on JSON exports: records under a key (found by itself for a data.json, or --json-path), nested fields
as dotted columns, and the preset a file looks like, with how many of the preset's columns it has.

Each file is built here in its publisher's layout; the matched counts are counted by hand against the columns each
preset reads (catalog/presets/*.yaml). The real exports in ../shared/realdata are inspected too, when present.
"""

from __future__ import annotations

import json

import pytest
import yaml

import civic_kpi
from civic_kpi.data.inspect import inspect
from tests.conftest import SHARED

REAL = SHARED / "realdata"
# legistar_events reads these 9 columns.
LEGISTAR = [
    "EventId", "EventBodyName", "EventDate", "EventTime", "EventAgendaStatusName", "EventMinutesStatusName",
    "EventAgendaLastPublishedUTC", "EventMinutesLastPublishedUTC", "EventComment",
]  # fmt: skip


def data_json(tmp_path, name="data.json"):
    records = [
        {"@type": "dcat:Dataset", "identifier": "a", "title": "Permits", "modified": "2024-01-30",
         "accrualPeriodicity": "R/P1W", "publisher": {"@type": "org:Organization", "name": "City Clerk"},
         "keyword": ["permits"]},
        {"@type": "dcat:Dataset", "identifier": "b", "title": "Parks", "modified": "2023-12-01",
         "accrualPeriodicity": "irregular", "publisher": {"@type": "org:Organization", "name": "Parks"},
         "keyword": ["parks", "trees"]},
    ]  # fmt: skip
    path = tmp_path / name
    path.write_text(json.dumps({"@type": "dcat:Catalog", "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
                                "dataset": records}))  # fmt: skip
    return path


def test_a_data_json_is_read_under_dataset_and_named_as_the_dcat_preset(tmp_path, cli):
    profile = inspect(data_json(tmp_path))
    assert profile.json_path == "dataset" and profile.rows == 2
    # The nested publisher is profiled field by field, under the names a catalog's `source:` takes.
    assert [c.name for c in profile.columns] == [
        "@type", "identifier", "title", "modified", "accrualPeriodicity", "publisher.@type", "publisher.name",
        "keyword",
    ]  # fmt: skip
    assert {c.name: c.type for c in profile.columns}["keyword"] == "nested"  # a list: no value per record
    # dcat_us_data_json reads identifier, title, publisher.name, accrualPeriodicity and modified: all 5 are here.
    best = profile.preset_matches[0]
    assert (best.name, best.matched, best.columns) == ("dcat_us_data_json", 5, 5)
    assert profile.presets == ["dcat_us_data_json"]
    table = cli("inspect", tmp_path / "data.json")
    assert table.exit_code == 0
    assert "Looks like preset dcat_us_data_json (matched 5 of its 5 columns" in table.stdout
    assert "Records read from the JSON key 'dataset'." in table.stdout


def test_the_data_json_snippet_computes(tmp_path):
    profile = inspect(data_json(tmp_path))
    catalog = tmp_path / "cat.yaml"
    catalog.write_text(
        "data_dir: .\ntimezone: America/New_York\n"
        + profile.snippet
        + "kpis: [{id: parks, name: P, domain: D, unit: count, dataset: data,"
        + " value: \"count(publisher == 'Parks')\"}]\n"
    )
    assert civic_kpi.compute(catalog, period="2023-12").results[0].value == 1


def test_a_socrata_discovery_catalog_is_read_under_results(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"resultSetSize": 1, "results": [
        {"resource": {"id": "abcd-1234", "name": "Permits", "type": "dataset", "updatedAt": "2024-01-31T10:00:00Z",
                      "data_updated_at": "2024-01-30T10:00:00Z", "download_count": 40},
         "classification": {"domain_category": "City Government"}},
    ]}))  # fmt: skip
    profile = inspect(path)
    assert profile.json_path == "results"
    assert "resource.id" in [c.name for c in profile.columns]
    assert "classification.domain_category" in [c.name for c in profile.columns]
    best = profile.preset_matches[0]
    assert (best.name, best.matched, best.columns) == ("socrata_discovery_json", 6, 6)


def test_a_socrata_api_export_is_named(tmp_path):
    path = tmp_path / "erm2-nwe9.json"
    path.write_text(json.dumps([
        {"unique_key": "1", "created_date": "2024-01-31T23:15:00.000", "closed_date": "2024-02-01T01:00:00.000",
         "agency": "NYPD", "complaint_type": "Noise", "status": "Closed", "open_data_channel_type": "ONLINE",
         "descriptor": "Loud Music"},
        {"unique_key": "2", "created_date": "2024-01-05T10:00:00.000", "agency": "DOT", "complaint_type": "Pothole",
         "status": "Open", "open_data_channel_type": "PHONE"},
    ]))  # fmt: skip
    profile = inspect(path)
    assert profile.json_path is None
    # nyc311_socrata_json reads 9 columns; borough and due_date are not in this export: 7 of 9.
    best = profile.preset_matches[0]
    assert (best.name, best.matched, best.columns) == ("nyc311_socrata_json", 7, 9)


@pytest.mark.parametrize(("present", "named"), [(9, True), (5, True), (4, False)])
def test_a_legistar_events_file_is_named_from_half_its_columns(tmp_path, present, named):
    # 5 of 9 is over half (the threshold) of the columns legistar_events reads; 4 of 9 is under.
    record = {column: "x" for column in LEGISTAR[:present]} | {"EventGuid": "g", "EventItems": []}
    path = tmp_path / "events.json"
    path.write_text(json.dumps([record, record]))
    matches = [(m.name, m.matched, m.columns) for m in inspect(path).preset_matches]
    assert matches == ([("legistar_events", present, 9)] if named else [])


def test_json_path_names_the_key_when_it_cannot_be_found(tmp_path, cli):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"count": 3, "open": [{"id": 1}], "closed": [{"id": 2}, {"id": 3}]}))
    refused = cli("inspect", path)
    assert refused.exit_code == 2 and "several of its keys hold lists of records (open, closed)" in refused.stderr
    assert "--json-path KEY" in refused.stderr and "Traceback" not in refused.stderr
    doc = json.loads(cli("inspect", path, "--json-path", "closed", "--format", "json").stdout)
    assert doc["json_path"] == "closed" and doc["rows"] == 2
    assert yaml.safe_load(doc["snippet"])["datasets"]["export"]["json_path"] == "closed"
    assert civic_kpi.Session(tmp_path / "none.yaml").inspect(path, json_path="open").rows == 1
    wrong = cli("inspect", path, "--json-path", "close")
    assert wrong.exit_code == 2 and "no 'close' key at the top of the JSON" in wrong.stderr
    assert "did you mean 'closed'" in wrong.stderr
    not_records = cli("inspect", path, "--json-path", "count")
    assert not_records.exit_code == 2 and "'count' holds Int64 values, not records" in not_records.stderr
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n1,2\n")
    on_csv = cli("inspect", csv, "--json-path", "dataset")
    assert on_csv.exit_code == 2 and "--json-path is for JSON files" in on_csv.stderr


def test_an_array_of_dcat_records_is_not_the_data_json_preset(tmp_path):
    # The preset reads records under `dataset`; a bare array of them needs its own entry, so it is not named.
    path = tmp_path / "datasets.json"
    document = json.loads(data_json(tmp_path).read_text())
    path.write_text(json.dumps(document["dataset"]))
    profile = inspect(path)
    assert profile.preset_matches == [] and "json_path" not in profile.snippet


real = pytest.mark.skipif(
    not (REAL / "README.md").exists(),
    reason="the real exports live in ../shared/realdata beside the repository, which this checkout does not have",
)


@real
@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("legistar-nyc-council-events-2023/events_2023.json", [("legistar_events", 9, 9)]),
        ("nyc311-2022-05-01-pyboot/311_Service_Requests_from_2010_to_Present.csv", [("nyc311_portal_csv", 13, 13)]),
        ("nyc311-2016-qsv-parquet/NYC311-5.parquet", [("nyc311_portal_csv", 13, 13)]),
        # The legacy layout (target_dt, ontime) first; the current one shares 11 of its 13 columns.
        ("boston311-2022-qsv/boston311-100.csv", [("boston311_legacy", 13, 13), ("boston311", 11, 13)]),
        ("foia-doj-oip-closed-2017/cleaned.csv", []),
        ("legistar-nyc-council-events-2023/bodies.json", []),
    ],
)
def test_real_exports_are_named(file, expected):
    profile = inspect(REAL / file)
    assert [(m.name, m.matched, m.columns) for m in profile.preset_matches] == expected
