"""Data-quality checks on a small hand-made export: every kind of check, its thresholds, formats and exit codes."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET

import pytest

import civic_kpi.quality as quality
from tests.conftest import CATALOG, write_csv

HEADER = ["id", "created", "closed", "status", "hood"]
ROWS = [
    ["1", "2026-10-01 08:00", "2026-10-02 08:00", "Closed", "North"],
    ["2", "2026-10-02 08:00", "2026-10-01 08:00", "Closed", "South"],    # closed before created
    ["2", "2026-10-03 08:00", "", "Open", ""],                            # duplicate id; hood missing
    ["4", "2026-10-04 08:00", "", "Closed", "Nowhere"],                   # closed without a date; unknown hood
    ["5", "2026-12-24 08:00", "", "Opn", "North"],                        # in the future of --now; bad status
    ["6", "2026-10-06 08:00", "not a date", "Closed", "North"],           # closed does not parse
]  # fmt: skip
NOW = "2026-10-10 08:00"


def catalog_with(tmp_path, checks: str):
    (tmp_path / "data").mkdir(exist_ok=True)
    write_csv(tmp_path / "data" / "events.csv", HEADER, ROWS)
    write_csv(tmp_path / "data" / "hoods.csv", ["hood"], [["North"], ["South"]])
    catalog = tmp_path / "cat.yaml"
    catalog.write_text(
        textwrap.dedent(
            """\
            data_dir: data
            reference_tables: {hoods: {path: hoods.csv, key: hood}}
            datasets:
              events:
                path: events.csv
                date_column: created
                columns:
                  id: id
                  created: {type: datetime, format: "%Y-%m-%d %H:%M"}
                  closed: {type: datetime, format: "%Y-%m-%d %H:%M"}
                  status: status
                  hood: hood
                checks:
            """
        )
        + textwrap.indent(textwrap.dedent(checks), " " * 6)
        + "kpis: [{id: n, name: N, domain: D, unit: count, dataset: events, value: count()}]\n"
    )
    return catalog


def results(tmp_path, checks: str):
    return quality.check(catalog_with(tmp_path, checks), now=NOW).results


@pytest.mark.parametrize(
    ("check", "metric", "status"),
    [
        # 1 of 6 records has no hood -> 16.7% > 10% fail line
        ("{check: missing, column: hood, warn: 0.05, fail: 0.10}", 1 / 6, "fail"),
        ("{check: missing, column: hood, warn: 0.05, fail: 0.20}", 1 / 6, "warn"),
        # among the 4 Closed records, closed is missing on 2 (row 4 blank, row 6 unparseable) -> 50%
        ("{check: missing, column: closed, where: \"status == 'Closed'\", fail: 0.4}", 0.5, "fail"),
        ("{check: duplicates, columns: [id]}", 1, "fail"),  # id 2 twice: one record too many
        ("{check: order, first: created, then: closed}", 1, "fail"),  # row 2
        ("{check: future, column: created}", 1, "fail"),  # row 5 is after 2026-10-10 08:00
        # newest created is 2026-12-24 08:00, in the future: -75 days old, fresh
        ("{check: freshness, column: created, warn: 2, fail: 10}", -75.0, "pass"),
        ("{check: allowed_values, column: status, values: [Open, Closed]}", 1, "fail"),  # Opn
        ("{check: allowed_values, column: hood, ref: hoods, share: true, warn: 0.1}", 1 / 6, "warn"),  # Nowhere
        ("{check: row_count, min: 3, warn_max: 5}", 6, "warn"),
        ("{check: row_count, min: 10}", 6, "fail"),
        ("{check: schema}", 1, "fail"),  # 'not a date' does not parse
    ],
)
def test_each_kind_of_check(tmp_path, check, metric, status):
    (result,) = results(tmp_path, f"- {check}\n")
    assert result.metric == pytest.approx(metric)
    assert result.status.value == status


def test_failing_checks_show_example_rows_with_file_and_row(tmp_path):
    order, dup, schema = results(
        tmp_path,
        "- {check: order, first: created, then: closed}\n- {check: duplicates, columns: [id]}\n- {check: schema}\n",
    )
    assert order.examples == [
        {"file": "events.csv", "row": 2, "created": "2026-10-02 08:00:00", "closed": "2026-10-01 08:00:00"}
    ]
    assert [e["row"] for e in dup.examples] == [2, 3]
    assert schema.examples[0]["column"] == "closed" and schema.examples[0]["rows"] == [6]


def test_freshness_of_stale_data(tmp_path):
    (result,) = results(tmp_path, "- {check: freshness, column: created, where: \"status == 'Closed'\", fail: 3}\n")
    # newest Closed record: 2026-10-06 08:00 -> 4.0 days before 2026-10-10 08:00
    assert result.metric == pytest.approx(4.0) and result.status.value == "fail"


def test_cli_formats_and_exit_codes(tmp_path, cli):
    catalog = catalog_with(
        tmp_path, "- {check: missing, column: hood, warn: 0.1}\n- {check: duplicates, columns: [id]}\n"
    )
    table = cli("check", "-c", catalog, "--now", NOW)
    assert table.exit_code == 1  # the duplicates check fails
    assert "events.csv row 2" in table.stdout
    (tmp_path / "warn_only").mkdir()
    warn_only = catalog_with(tmp_path / "warn_only", "- {check: missing, column: hood, warn: 0.1}\n")
    assert cli("check", "-c", warn_only, "--now", NOW).exit_code == 0
    assert cli("check", "-c", warn_only, "--now", NOW, "--fail-on", "warn").exit_code == 1
    doc = json.loads(cli("check", "-c", catalog, "--now", NOW, "-f", "json").stdout)
    assert [r["status"] for r in doc["results"]] == ["warn", "fail"] and doc["schema_version"] == "1.4"
    junit = ET.fromstring(cli("check", "-c", catalog, "--now", NOW, "-f", "junit").stdout)
    assert junit.get("tests") == "2" and junit.get("failures") == "1"
    assert junit.find("testsuite/testcase[@name='duplicates: id']/failure") is not None
    assert "WARN" in junit.find("testsuite/testcase[@name='missing: hood']/system-out").text
    github = cli("check", "-c", catalog, "--now", NOW, "-f", "github").stdout.splitlines()
    assert github[0].startswith(f"::warning file={catalog},line=") and ",title=events%3A missing%3A hood::" in github[0]
    assert github[1].startswith("::error ") and "%0Aevents.csv row 2" in github[1]
    out = tmp_path / "quality.xml"
    assert cli("check", "-c", catalog, "--now", NOW, "-f", "junit", "-o", out).exit_code == 1
    assert ET.parse(out).getroot().tag == "testsuites"


def test_check_mistakes_are_user_errors(tmp_path, cli):
    catalog = catalog_with(tmp_path, "- {check: missing, column: hod}\n")
    result = cli("check", "-c", catalog)
    assert result.exit_code == 2 and "did you mean 'hood'?" in result.stderr
    result = cli("validate", catalog_with(tmp_path, "- {check: order, first: created}\n"), "--no-data")
    assert result.exit_code == 2 and "an 'order' check needs 'then'" in result.stderr
    assert cli("check", "-c", catalog, "--now", "tomorrow").exit_code == 2
    assert "unknown dataset" in cli("check", "-c", CATALOG, "--dataset", "nope").stderr


def test_bundled_catalog_checks_the_sample_data(cli):
    result = cli("check", "-c", CATALOG, "--now", "2026-11-15 08:00")
    assert result.exit_code == 0  # the sample's blank and misspelt neighborhoods warn; nothing fails
    assert "20 pass, 2 warn, 0 fail" in result.stdout
    late = cli("check", "-c", CATALOG, "--now", "2026-12-15 08:00", "--dataset", "service_requests")
    assert late.exit_code == 1 and "newest created_at is 30.6 days old" in late.stdout
