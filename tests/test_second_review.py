"""Regressions for the second review: each test is one finding, on a tiny catalog and export."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

import civic_kpi
from civic_kpi.quality import check
from tests.conftest import write_csv
from tests.test_kpis_by_hand import sr
from tests.test_sla_policy_by_hand import SLA, write_requests


def test_a_review_rule_that_cannot_be_grouped_is_a_catalog_error(catalog, cli):
    catalog.write_text(catalog.read_text().replace("  by: [request_type]", "  by: [topic]"))
    result = cli("validate", catalog, "--no-data")
    assert result.exit_code == 2 and "has no column 'topic' to group the review by" in result.stderr


def test_request_types_missing_from_the_sla_table_are_reported(catalog, data):
    write_requests(data, [sr("2026-10-05 08:00:00", "2026-10-05 09:00:00", rtype="Streetlight")], sla=SLA)
    run = civic_kpi.compute(catalog, period="2026-10", kpis=["sla_compliance"])
    assert any("1 records have a request_type the SLA table 'service_requests' does not list (Streetlight)" in n
               for n in run.notes)  # fmt: skip
    assert run.results[0].denominator == 0  # no deadline, no verdict: left out, not late


def test_zero_business_days_from_a_weekend_is_due_at_the_start(catalog, data):
    write_requests(data, [sr("2026-10-03 10:00:00")], sla=[["Pothole", "Streets", "Public Works", 0, "business", ""]])
    due = civic_kpi.sla_deadlines(catalog, "service_requests")["sla_due_at"][0]
    assert due == datetime(2026, 10, 3, 10, 0)  # a Saturday; WORKDAY(start, 0) is the start, not Friday


def test_zoned_columns_need_a_catalog_time_zone(tmp_path, cli):
    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        "datasets:\n  d:\n    path: d.csv\n    date_column: t\n"
        "    columns: {t: {type: datetime, format: '%Y-%m-%d %H:%M', timezone: UTC}}\n"
        "kpis: [{id: n, name: N, domain: D, unit: count, dataset: d, value: count()}]\n"
    )
    result = cli("validate", catalog, "--no-data")
    assert result.exit_code == 2 and "needs its own `timezone:`" in result.stderr
    catalog.write_text(catalog.read_text().replace("timezone: UTC}", "timezone: America/Chicgo}"))
    assert "unknown time zone 'America/Chicgo'" in cli("validate", catalog, "--no-data").stderr


def test_a_spring_gap_time_in_a_publishers_zone_is_shifted_not_lost(tmp_path):
    (tmp_path / "d.csv").write_text("t\n2026-03-08 02:30:00\n2026-03-08 04:00:00\n")
    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        "timezone: America/New_York\ndatasets:\n  d:\n    path: d.csv\n    date_column: t\n"
        "    columns: {t: {type: datetime, format: '%Y-%m-%d %H:%M:%S', timezone: America/Chicago}}\n"
        "kpis: [{id: n, name: N, domain: D, unit: count, dataset: d, value: count(t is not None)}]\n"
    )
    assert civic_kpi.compute(catalog, period="2026-03").results[0].value == 2


def test_data_quality_edge_cases(tmp_path, cli):
    (tmp_path / "d.csv").write_text(
        'id,s,t\n1,a,2026-01-01\n1,b,2026-01-02\n,b,2026-01-03\n,b,2026-01-04\n2,"x\x01y",2026-01-05\n'
    )
    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        "datasets:\n  d:\n    path: d.csv\n    date_column: t\n"
        "    columns: {id: id, s: s, t: {type: date, format: '%Y-%m-%d'}}\n"
        "    checks:\n"
        "      - {check: missing, column: id, where: \"s == 'zzz'\"}\n"
        "      - {check: duplicates, columns: [id]}\n"
        "      - {check: duplicates, columns: [id], where: \"s == 'b'\"}\n"
        "      - {check: allowed_values, column: s, values: [a, b]}\n"
        "kpis: [{id: n, name: N, domain: D, unit: count, dataset: d, value: count()}]\n"
    )
    missing, dupes, dupes_b, allowed = check(catalog, now="2026-02-01").results
    assert missing.metric is None and missing.status.value == "pass" and missing.message == "no records to measure"
    assert dupes.metric == 1  # id 1 twice; the two missing ids repeat nothing
    assert dupes_b.metric == 0 and dupes_b.examples == []  # within s == 'b' no id repeats
    assert allowed.status.value == "fail"
    json.loads(cli("check", "-c", catalog, "--now", "2026-02-01", "-f", "json").stdout)  # no NaN
    ET.fromstring(cli("check", "-c", catalog, "--now", "2026-02-01", "-f", "junit").stdout)  # control char escaped
    assert cli("validate", catalog.parent / "c.yaml", "--no-data").exit_code == 0
    catalog.write_text(
        catalog.read_text().replace("{check: missing, column: id, ", "{check: missing, column: id, fail: 5, ")
    )
    assert "write 5% as 0.05" in cli("validate", catalog, "--no-data").stderr


def test_rich_markup_in_data_is_text(catalog, data, cli, tmp_path):
    write_requests(data, [sr("2026-10-05 08:00:00", "2026-10-09 08:00:00", rtype="Pothole [/]")],
                   sla=[["Pothole [/]", "Streets", "[bold]Works", 1, "calendar", ""]])  # fmt: skip
    result = cli("review", "-c", catalog, "--month", "2026-10")
    assert result.exit_code == 0 and "Pothole [/]" in result.stdout
    (tmp_path / "m.csv").write_text("a\n[/]\n")
    assert cli("inspect", tmp_path / "m.csv").exit_code == 0


def test_scorecard_default_year_ends_at_the_end_of_its_last_day(tmp_path):
    write_csv(tmp_path / "d.csv", ["t"], [["2025-07-01 00:00"], ["2026-06-30 23:59:59"]])
    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        "fiscal_year_start_month: 7\ndatasets:\n  d:\n    path: d.csv\n    date_column: t\n"
        "    columns: {t: {type: datetime, format: ['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M']}}\n"
        "kpis: [{id: n, name: N, domain: D, unit: count, dataset: d, value: count()}]\n"
    )
    run = civic_kpi.scorecard(catalog)  # the newest record is the last second of FY2026
    assert run.fiscal_year.label == "FY2026" and run.complete


def test_as_of_with_an_offset_is_converted(catalog, data):
    write_requests(data, [sr("2026-10-05 08:00:00")])
    run = civic_kpi.compute(catalog, kpis=["first_contact_resolution"], as_of="2026-11-01T03:00:00+00:00")
    assert run.as_of == datetime(2026, 10, 31, 22, 0)  # 03:00 UTC is 22:00 the day before in Chicago (CDT)


def test_renaming_a_preset_column_keeps_its_type_format_and_zone(tmp_path):
    (tmp_path / "nyc.csv").write_text("Key,Opened,Closed Date,Status\n1,01/31/2024 11:15:00 PM,,Open\n")
    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        "timezone: America/New_York\n"
        "datasets:\n  d: {preset: nyc311_portal_csv, path: nyc.csv, columns: {request_id: Key, created_at: Opened}}\n"
        "kpis: [{id: n, name: N, domain: D, unit: count, dataset: d, value: count()}]\n"
    )
    assert civic_kpi.compute(catalog, period="2024-01").results[0].value == 1


def test_review_shows_a_request_type_named_like_its_agency(catalog, data):
    write_requests(data, [sr("2026-10-05 08:00:00", "2026-10-09 08:00:00")])
    from civic_kpi.report.review import render_review

    run = civic_kpi.review(catalog, month="2026-10")
    item = run.items[0].model_copy(update={"group": {"request_type": "Public Works", "agency": "Public Works"}})
    assert "| Public Works | Public Works |" in render_review(run.model_copy(update={"items": [item]}), "markdown")


@pytest.mark.parametrize("zone", ["%z", "%#z"])
def test_every_zoned_format_is_converted(tmp_path, zone):
    (tmp_path / "d.csv").write_text("t\n2026-01-31T23:30:00+0000\n")
    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        f"timezone: America/New_York\ndatasets:\n  d:\n    path: d.csv\n    date_column: t\n"
        f"    columns: {{t: {{type: datetime, format: '%Y-%m-%dT%H:%M:%S{zone}'}}}}\n"
        "kpis: [{id: n, name: N, domain: D, unit: count, dataset: d, value: count()}]\n"
    )
    assert civic_kpi.compute(catalog, period="2026-01").results[0].value == 1  # 18:30 in New York


def test_check_formulas_and_columns_are_validated(tmp_path, cli):
    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        "datasets:\n  d:\n    path: d.csv\n    date_column: t\n"
        "    columns: {s: s, t: {type: date, format: '%Y-%m-%d'}}\n"
        "    checks:\n"
        '      - {check: missing, column: s, where: "count(s) > 1"}\n'
        "      - {check: missing, column: sx}\n"
        "      - {check: freshness, column: s, fail: 3}\n"
        "kpis: [{id: n, name: N, domain: D, unit: count, dataset: d, value: count()}]\n"
    )
    result = cli("validate", catalog, "--no-data")
    assert result.exit_code == 2 and "3 problems" in result.stderr
    assert "in a derived column" in result.stderr or "aggregate count()" in result.stderr
    assert "names unknown column 'sx'" in result.stderr and "did you mean 's'?" in result.stderr
    assert "a 'freshness' check needs a date or datetime column; 's' is string" in result.stderr


def test_inspect_keeps_leading_zeros_and_two_digit_years(tmp_path):
    from civic_kpi.data.inspect import inspect

    (tmp_path / "z.csv").write_text("zip,opened\n02134,01/15/24\n10001,02/01/24\n")
    types = {c.name: (c.type, c.format) for c in inspect(tmp_path / "z.csv").columns}
    assert types == {"zip": ("string", None), "opened": ("date", "%m/%d/%y")}


def test_a_catalog_with_no_records_under_its_json_path_has_no_data(tmp_path):
    (tmp_path / "catalog.json").write_text('{"resultSetSize": 0, "results": []}')
    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        "timezone: UTC\ndatasets:\n  d: {preset: socrata_discovery_json, path: catalog.json}\n"
        "kpis: [{id: n, name: N, domain: D, unit: count, dataset: d, value: count()}]\n"
    )
    result = civic_kpi.compute(catalog, period="2024-01").results[0]
    assert result.value is None and result.status.value == "no_data"
