"""Every preset reads a small file in its publisher's documented layout; `inspect` profiles files and its catalog
snippet works as written. (The presets with real samples are also checked in test_real_exports.py.)"""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml

import civic_kpi
from civic_kpi.catalog.presets import presets

NYC_HEADER = "Unique Key,Created Date,Closed Date,Agency,Complaint Type,Status,Due Date,Open Data Channel Type\n"
KC_HEADER = (
    "CASE ID,SOURCE,DEPARTMENT,REQUEST TYPE,CREATION DATE,CREATION TIME,STATUS,EXCEEDED EST TIMEFRAME,CLOSED DATE\n"
)

# preset, file name, file content, period, {kpi id: formula}, {kpi id: expected value}
CASES = [
    ("nyc311_socrata_json", "nyc.json", json.dumps([
        {"unique_key": "1", "created_date": "2024-01-31T23:15:00.000", "closed_date": "2024-02-01T01:00:00.000",
         "agency": "NYPD", "complaint_type": "Noise", "status": "Closed", "open_data_channel_type": "ONLINE"},
        {"unique_key": "2", "created_date": "2024-01-05T10:00:00.000", "agency": "DOT", "complaint_type": "Pothole",
         "status": "Open", "open_data_channel_type": "PHONE"},  # closed_date omitted, as SODA omits nulls
    ]), "2024-01", {"closed": "count(is_closed)", "digital": "count(is_digital)", "open": "count(closed_at is None)"},
     {"closed": 1, "digital": 1, "open": 1}),
    ("nyc311_portal_csv", "nyc.csv", NYC_HEADER
     + "1,01/31/2024 11:15:00 PM,02/01/2024 01:00:00 AM,NYPD,Noise,Closed,,ONLINE\n"
     + "2,01/05/2024 10:00:00 AM,01/01/1900 12:00:00 AM,DOT,Pothole,Closed,,MOBILE\n"  # a placeholder closed date
     + "3,01/06/2024 10:00:00 AM,,DOT,Pothole,Closed - Testing,,UNKNOWN\n",
     "2024-01",
     {"closed": "count(is_closed)", "dated": "count(closed_at is not None)", "known": "count(is_known_channel)"},
     {"closed": 2, "dated": 1, "known": 2}),
    ("boston311", "boston.csv",
     "case_enquiry_id,open_dt,sla_target_dt,closed_dt,on_time,case_status,type,department,neighborhood,source\n"
     "1,2024-01-02 08:00:00,2024-01-03 08:30:00,2024-01-02 12:00:00,ONTIME,Closed,Pothole,PWDx,Dorchester,"
     "Constituent Call\n"
     "2,2024-01-04 08:00:00,2024-01-05 08:30:00,,OVERDUE,Open,Pothole,PWDx,Roxbury,Citizens Connect App\n",
     "2024-01", {"ontime": "count(on_time_flag)", "digital": "count(is_digital)", "closed": "count(is_closed)"},
     {"ontime": 1, "digital": 1, "closed": 1}),
    ("kansas_city_311", "kc.csv", KC_HEADER
     # two-digit years; 10:59 PM in Kansas City is 11:59 PM in the catalog's New York time: still January
     + "1,PHONE,Public Works,Pothole,01/31/24,10:59 PM,RESOL,N,02/02/24\n"
     + "2,WEB,Water,Leak,01/02/2024,9:05 AM,OPEN,Y,\n"                         # four-digit years
     + "3,EMAIL,Water,Leak,02/01/2024,12:00 AM,CANC,N,02/01/2024\n",           # February
     "2024-01", {"n": "count()", "ontime": "count(on_time_flag)", "digital": "count(is_digital)",
                 "closed": "count(is_closed)"}, {"n": 2, "ontime": 1, "digital": 1, "closed": 1}),
    ("sf311", "sf.csv",
     "service_request_id,requested_datetime,closed_date,status_description,service_name,agency_responsible,source\n"
     "1,2024-01-10T16:41:59.000,2024-01-11T09:00:00.000,Closed,Graffiti,DPW,Mobile/Open311\n"
     "2,2024-01-31T23:30:00.000,,Open,Noise,Police,Phone\n",
     "2024-01", {"closed": "count(is_closed)", "digital": "count(is_digital)"}, {"closed": 1, "digital": 1}),
    ("chicago311", "chicago.csv",
     "sr_number,sr_type,owner_department,status,origin,created_date,closed_date,duplicate,legacy_record\n"
     "SR1,Pothole,CDOT,Completed,Internet,2024-01-03T10:00:00.000,2024-01-04T10:00:00.000,false,false\n"
     "SR2,Rats,Streets,Open,Phone Call,2024-01-05T10:00:00.000,,true,false\n",
     "2024-01", {"closed": "count(is_closed)", "digital": "count(is_digital)", "dupes": "count(duplicate)"},
     {"closed": 1, "digital": 1, "dupes": 1}),
    ("open311_georeport_v2", "requests.json", json.dumps([
        {"service_request_id": 638344, "status": "closed", "service_code": "006", "service_name": "Cans left out",
         "requested_datetime": "2024-01-31T20:30:00-05:00", "updated_datetime": "2024-02-01T09:00:00-05:00"},
        {"service_request_id": "638349", "status": "open", "service_code": "006",
         "requested_datetime": "2024-02-01T03:00:00Z"},  # 22:00 on 31 January in New York
    ]), "2024-01", {"n": "count()", "closed": "count(closed_at is not None)"}, {"n": 2, "closed": 1}),
    ("open311_bulk_csv", "bulk.csv",
     "service_request_id,requested_datetime,updated_datetime,closed_date,status_description,source,service_name\n"
     "1,2024-01-10T10:00:00-05:00,2024-01-11T10:00:00-05:00,2024-01-11T10:00:00-05:00,Closed,Mobile App,Pothole\n"
     "2,2024-01-12T10:00:00-05:00,,,Open,Phone,Pothole\n",
     "2024-01", {"closed": "count(is_closed)", "digital": "count(is_digital)"}, {"closed": 1, "digital": 1}),
    ("dcat_us_data_json", "data.json", json.dumps({"conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
        "dataset": [
            {"identifier": "a", "title": "A", "modified": "2024-01-30", "accrualPeriodicity": "R/P1W",
             "publisher": {"name": "City Clerk"}},
            {"identifier": "b", "title": "B", "modified": "2023-12-01T10:00:00Z", "accrualPeriodicity": "R/P1M",
             "publisher": {"name": "Parks"}},
            {"identifier": "c", "title": "C", "modified": "2020-05-05", "accrualPeriodicity": "irregular",
             "publisher": {"name": "Parks"}},
        ]}),
     # over 2020..January 2024, as of the period's end (2024-02-01 00:00, New York): a is 2 days old (weekly:
     # fresh), b 61.6 days (monthly: late), c has no cadence
     "2020-01-01..2024-01-31", {"due": "count(update_days is not None)",
                 "fresh": "count(days_between(modified, as_of) <= update_days)",
                 "parks": "count(publisher == 'Parks')"},
     {"due": 2, "fresh": 1, "parks": 2}),
    ("socrata_asset_inventory", "inventory.csv",
     "U ID,Name,Type,Public,Derived View,Last Update Date (data),Update Frequency\n"
     "abcd-1234,Permits,dataset,true,false,01/30/2024 10:00:00 AM +0000,Weekly\n"
     "efgh-5678,Map,map,true,false,01/29/2024 10:00:00 AM +0000,\n"
     "ijkl-9012,Old,dataset,true,false,06/01/2023 10:00:00 AM +0000,As needed\n",
     "2024-01", {"published": "count(is_published_dataset)", "cadence": "count(update_days is not None)"},
     {"published": 1, "cadence": 1}),
    ("socrata_discovery_json", "catalog.json", json.dumps({"resultSetSize": 2, "results": [
        {"resource": {"id": "abcd-1234", "name": "Permits", "type": "dataset",
                      "data_updated_at": "2024-01-30T10:00:00.000Z", "updatedAt": "2024-01-31T10:00:00.000Z",
                      "download_count": 40}},
        {"resource": {"id": "efgh-5678", "name": "Map", "type": "map", "data_updated_at": "2024-01-02T10:00:00.000Z",
                      "updatedAt": "2024-01-02T10:00:00.000Z", "download_count": 2}},
    ]}), "2024-01", {"datasets": "count(type == 'dataset')", "downloads": "sum(downloads)"},
     {"datasets": 1, "downloads": 42}),
]  # fmt: skip


def catalog_for(tmp_path, preset: str, file: str, kpis: dict[str, str]):
    entries = "".join(
        f"  - {{id: {kpi}, name: {kpi}, domain: D, unit: count, dataset: d, value: {json.dumps(formula)}}}\n"
        for kpi, formula in kpis.items()
    )
    catalog = tmp_path / "cat.yaml"
    catalog.write_text(
        f"data_dir: .\ntimezone: America/New_York\ndatasets:\n  d: {{preset: {preset}, path: {file}}}\nkpis:\n{entries}"
    )
    return catalog


@pytest.mark.parametrize(("preset", "file", "content", "period", "kpis", "expected"), CASES, ids=[c[0] for c in CASES])
def test_preset_reads_its_documented_layout(tmp_path, preset, file, content, period, kpis, expected):
    (tmp_path / file).write_text(content)
    run = civic_kpi.compute(catalog_for(tmp_path, preset, file, kpis), period=period)
    assert {r.kpi_id: r.value for r in run.results} == expected


def test_every_preset_is_tested_and_documented():
    tested = {case[0] for case in CASES} | {"boston311_legacy", "legistar_events"}  # real samples: test_real_exports
    assert tested == set(presets())
    for name, document in presets().items():
        assert document["title"] and document["documentation"] and document["choices"], name


def test_catalog_fields_override_the_preset(tmp_path):
    (tmp_path / "nyc.csv").write_text(NYC_HEADER + "1,01/31/2024 11:15:00 PM,,NYPD,Noise,Closed,,PHONE\n")
    catalog = catalog_for(tmp_path, "nyc311_portal_csv", "nyc.csv", {"digital": "count(is_digital)"})
    catalog.write_text(
        catalog.read_text().replace(
            "path: nyc.csv}", "path: nyc.csv, derived: {is_digital: \"channel in ['ONLINE', 'MOBILE', 'PHONE']\"}}"
        )
    )
    assert civic_kpi.compute(catalog, period="2024-01").results[0].value == 1


def test_unknown_preset(tmp_path, cli):
    catalog = catalog_for(tmp_path, "nyc311_portal", "x.csv", {"n": "count()"})
    result = cli("validate", catalog, "--no-data")
    assert result.exit_code == 2 and "unknown preset 'nyc311_portal'" in result.stderr
    assert "did you mean 'nyc311_portal_csv'?" in result.stderr


def test_inspect_profiles_and_its_snippet_round_trips(tmp_path, cli):
    export = tmp_path / "export.csv"
    export.write_text(
        "Request ID;Opened;Amount;Done;Zone\n"
        "A-1;01/31/2024 11:15:00 PM;12.5;Y;North\n"
        "A-2;01/05/2024 09:00:00 AM;3;N;\n"
        "A-3;02/02/2024 10:00:00 AM;4;Y;South\n"
    )
    profile = civic_kpi_inspect(export)
    types = {c.name: (c.type, c.format) for c in profile.columns}
    assert types == {
        "Request ID": ("string", None), "Opened": ("datetime", "%m/%d/%Y %I:%M:%S %p"), "Amount": ("float", None),
        "Done": ("boolean", None), "Zone": ("string", None),
    }  # fmt: skip
    zone = next(c for c in profile.columns if c.name == "Zone")
    assert zone.null_share == pytest.approx(1 / 3) and zone.distinct == 2
    assert profile.delimiter == ";" and profile.rows == 3
    snippet = yaml.safe_load(profile.snippet)
    entry = snippet["datasets"]["export"]
    assert entry["date_column"] == "opened" and entry["delimiter"] == ";"
    catalog = tmp_path / "cat.yaml"
    catalog.write_text(
        "data_dir: .\n"
        + profile.snippet
        + "kpis: [{id: n, name: N, domain: D, unit: count, dataset: export, value: 'sum(amount)'}]\n"
    )
    assert civic_kpi.compute(catalog, period="2024-01").results[0].value == pytest.approx(15.5)
    table = cli("inspect", export)
    assert table.exit_code == 0 and "Catalog entry:" in table.stdout
    assert cli("inspect", tmp_path / "missing.csv").exit_code == 2


def test_inspect_names_the_preset(tmp_path, cli):
    (tmp_path / "nyc.csv").write_text(NYC_HEADER + "1,01/31/2024 11:15:00 PM,,NYPD,Noise,Closed,,PHONE\n")
    doc = json.loads(cli("inspect", tmp_path / "nyc.csv", "--format", "json").stdout)
    assert doc["presets"][0] == "nyc311_portal_csv"
    assert "preset: nyc311_portal_csv" in doc["snippet"]


def civic_kpi_inspect(path):
    from civic_kpi.data.inspect import inspect

    return inspect(path)


def test_presets_command_lists_choices(cli):
    result = cli("presets")
    assert result.exit_code == 0 and "kansas_city_311:" in result.stdout and "digital" in result.stdout.lower()


def test_presets_name_shows_one_preset_whole(cli):
    import yaml

    from civic_kpi.catalog.presets import presets

    shown = cli("presets", "chicago311")
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert text.startswith("chicago311: Chicago 311 Service Requests")
    assert "recognised by the columns: sr_number, sr_type" in text
    assert "columns for formulas: request_id, request_type" in text and "is_digital" in text
    # The mapping printed is the preset's own, as YAML a catalog could hold.
    mapping = text.split("its mapping (a dataset may override any part):\n", 1)[1]
    assert yaml.safe_load(textwrap.dedent(mapping)) == presets()["chicago311"]["dataset"]
    unknown = cli("presets", "chicago")
    assert unknown.exit_code == 2 and "no preset 'chicago'" in unknown.stderr and "chicago311" in unknown.stderr
