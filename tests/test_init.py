"""A first hour: `civic-kpi init FILE...` writes a starter catalog that validates and computes on the user's own
exports, and `civic-kpi init --example` writes the bundled catalog and sample data anywhere.

The starter's numbers are checked against counts and medians worked out here with the csv module alone.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from tests.conftest import CATALOG, ROOT, SAMPLE_DATA, SHARED

PACKAGED = ROOT / "src" / "civic_kpi" / "starter" / "example"
MONTHS = ["2026-04", "2026-05", "2026-06"]


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    """A city's own folder of exports: three monthly 311 files and a public-records log, as the sample has them."""
    folder = tmp_path / "exports"
    folder.mkdir()
    for month in MONTHS:
        shutil.copy(SAMPLE_DATA / "311" / f"service_requests_{month}.csv", folder)
    shutil.copy(SAMPLE_DATA / "records" / "public_records_requests.csv", folder / "foia_log.csv")
    return folder


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------- a starter catalog for the user's exports


def test_init_writes_a_commented_catalog_that_validates(cli, exports, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("init", *sorted(exports.iterdir()))
    assert result.exit_code == 0, result.stderr
    assert "wrote a starter catalog to kpi_definitions.yaml" in result.stderr
    # Where its first compute finds data: the newest month with records opened (the default month may hold none).
    # (the records log runs to 2026-11, the 311 months to 2026-06: the newest of the datasets)
    assert "civic-kpi compute --period 2026-11 (the newest month with records opened)" in result.stderr
    text = (tmp_path / "kpi_definitions.yaml").read_text()
    catalog = yaml.safe_load(text)
    assert catalog["data_dir"] == "exports"
    # Three months, one glob in the names' shape: the months to come, and no other file of the folder.
    assert catalog["datasets"]["service_requests"]["path"] == "service_requests_????-??.csv"
    assert catalog["datasets"]["foia_log"]["path"] == "foia_log.csv"
    ids = [kpi["id"] for kpi in catalog["kpis"]]
    requests = ["volume", "closed_share", "time_to_close_median", "time_to_close_p90", "on_time"]
    assert ids == [  # in the order the files were named (sorted: foia_log.csv first)
        *(f"foia_log_{kpi}" for kpi in requests),
        *(f"service_requests_{kpi}" for kpi in requests),
        "service_requests_first_contact_resolution_share",
    ]
    assert all("target" not in kpi for kpi in catalog["kpis"]), "a starter proposes no target of its own"
    assert text.count("    # target: ") == len(ids), "every KPI has a target to fill in, commented"
    # A deadline column is read as planned ahead, so that future due dates are not taken for mistyped years.
    assert catalog["datasets"]["service_requests"]["columns"]["due_date"]["scheduled"] is True
    assert (tmp_path / "kpi_definitions.schema.json").exists()
    assert cli("validate").exit_code == 0


def test_the_starters_numbers_agree_with_a_count_by_hand(cli, exports, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("init", *sorted(exports.iterdir())).exit_code == 0
    doc = json.loads(cli("compute", "--period", "2026-05", "--by", "", "-f", "json").stdout)
    got = {row["kpi_id"]: row for row in doc["results"]}
    requests = [row for month in MONTHS for row in _rows(exports / f"service_requests_{month}.csv")]
    stamp = "%Y-%m-%d %H:%M:%S"
    created_in_may = [r for r in requests if r["Created Date"].startswith("2026-05")]
    assert got["service_requests_volume"]["value"] == len(created_in_may)
    closed = sum(1 for r in created_in_may if r["Closed Date"])
    assert got["service_requests_closed_share"]["value"] == pytest.approx(100 * closed / len(created_in_may), abs=1e-9)
    hours = [
        (datetime.strptime(r["Closed Date"], stamp) - datetime.strptime(r["Created Date"], stamp)).total_seconds()
        / 3600
        for r in requests
        if r["Closed Date"].startswith("2026-05")
    ]
    assert got["service_requests_time_to_close_median"]["value"] == pytest.approx(statistics.median(hours), abs=1e-9)
    # Public records: closed in May when 'Closed Date' is (the log fills 'Complete Date' on every request); on time
    # when closed by the statutory due date.
    day = "%m/%d/%Y"
    done = [r for r in _rows(exports / "foia_log.csv") if r["Closed Date"] and
            datetime.strptime(r["Closed Date"], day).strftime("%Y-%m") == "2026-05"]  # fmt: skip
    due = [r for r in done if r["Statutory Due Date"]]
    on_time = [
        r for r in due if datetime.strptime(r["Closed Date"], day) <= datetime.strptime(r["Statutory Due Date"], day)
    ]
    assert got["foia_log_on_time"]["value"] == pytest.approx(100 * len(on_time) / len(due), abs=1e-9)
    assert {row["status"] for row in doc["results"]} <= {"no_target", "no_data"}


def test_an_export_a_preset_reads_is_named_with_its_zone(cli, tmp_path, monkeypatch):
    export = SHARED / "realdata" / "boston311-2022-qsv" / "boston311-100.csv"
    if not export.exists():
        pytest.skip(f"needs the real Boston 311 export at {export} (../shared is not here)")
    monkeypatch.chdir(tmp_path)
    result = cli("init", export)
    assert result.exit_code == 0, result.stderr
    catalog = yaml.safe_load((tmp_path / "kpi_definitions.yaml").read_text())
    assert catalog["timezone"] == "America/New_York"
    ((name, dataset),) = catalog["datasets"].items()
    assert dataset["preset"].startswith("boston311") and "columns" not in dataset
    assert {kpi["domain"] for kpi in catalog["kpis"]} == {"Boston 311 Service Requests"}
    rows = _rows(export)
    month = max(r["open_dt"][:7] for r in rows)
    doc = json.loads(cli("compute", "--period", month, "--kpi", f"{name}_volume", "--by", "", "-f", "json").stdout)
    assert doc["results"][0]["value"] == sum(r["open_dt"].startswith(month) for r in rows)


@pytest.mark.parametrize(
    ("build", "args", "said"),
    [
        (None, (), "no export to start from"),
        (None, ("missing.csv",), "missing.csv: file not found"),
        ("undated", ("undated.csv",), "none of these exports has a date column"),
        ("zoned", ("zoned.csv",), "civic-kpi init --timezone America/Chicago"),
        ("catalog", ("exports/service_requests_2026-04.csv",), "a catalog is already there"),
        (None, ("--example", "a", "b"), "--example writes one folder, not 2"),
        ("zoned", ("zoned.csv", "--timezone", "UTC", "-c", "no/such/folder/k.yaml"), "does not exist"),
        ("catalog", ("--example", "."), "already exists and is not empty"),
    ],
)
def test_init_refuses_what_it_cannot_start_from(cli, exports, tmp_path, monkeypatch, build, args, said):
    monkeypatch.chdir(tmp_path)
    if build == "undated":
        (tmp_path / "undated.csv").write_text("name,count\na,1\nb,2\n")
    if build == "zoned":
        (tmp_path / "zoned.csv").write_text("id,opened\n1,2026-05-01T08:00:00+00:00\n2,2026-05-02T09:30:00+00:00\n")
    if build == "catalog":
        (tmp_path / "kpi_definitions.yaml").write_text("# mine\n")
    result = cli("init", *args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert said in result.stderr and "Traceback" not in result.stderr
    if build == "catalog":
        assert (tmp_path / "kpi_definitions.yaml").read_text() == "# mine\n", "an existing catalog is kept"


def test_force_replaces_a_catalog_and_a_zone_can_be_given(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kpi_definitions.yaml").write_text("# mine\n")
    (tmp_path / "zoned.csv").write_text("id,opened\n1,2026-05-01T08:00:00+00:00\n2,2026-05-02T09:30:00+00:00\n")
    result = cli("init", "zoned.csv", "--timezone", "America/Chicago", "--force")
    assert result.exit_code == 0, result.stderr
    assert "timezone: America/Chicago" in (tmp_path / "kpi_definitions.yaml").read_text()
    doc = json.loads(cli("compute", "--period", "2026-05", "-f", "json").stdout)
    assert doc["results"][0]["value"] == 2


def test_a_glob_never_reads_another_layouts_file_of_the_same_folder(cli, exports, tmp_path, monkeypatch):
    # A records log beside the monthly 311 files, and a backup with no date in its name: neither is read by the
    # 311 dataset's glob, so the catalog validates and the volume counts the named months only.
    shutil.copy(exports / "service_requests_2026-04.csv", exports / "service_requests_old_backup.csv")
    monkeypatch.chdir(tmp_path)
    named = [exports / f"service_requests_{month}.csv" for month in MONTHS] + [exports / "foia_log.csv"]
    assert cli("init", *named).exit_code == 0
    assert cli("validate").exit_code == 0
    doc = json.loads(cli("compute", "--period", "2026-04", "--by", "", "-f", "json").stdout)
    volume = next(row for row in doc["results"] if row["kpi_id"] == "service_requests_volume")
    april = [r for r in _rows(exports / "service_requests_2026-04.csv") if r["Created Date"].startswith("2026-04")]
    assert volume["value"] == len(april), "the backup copy of April was read too"


def test_columns_are_told_apart_by_whole_words(cli, tmp_path, monkeypatch):
    # 'agenda_published_at' holds 'end' and 'pending_since' no closure: neither is taken for the closing date.
    # A log of closed items only (closed_at never empty) gets no closed share, which would be 100% by construction.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "meetings.csv").write_text(
        "meeting_id,meeting_start,agenda_published_at,pending_since\n"
        "1,2026-05-04 18:00:00,2026-05-01 09:00:00,2026-04-20 09:00:00\n"
        "2,2026-05-11 18:00:00,2026-05-08 09:00:00,2026-04-27 09:00:00\n"
    )
    (tmp_path / "closed_log.csv").write_text(
        "case_id,opened_at,closed_at\n"
        "1,2026-05-01 08:00:00,2026-05-02 08:00:00\n"
        "2,2026-05-03 08:00:00,2026-05-03 20:00:00\n"
    )
    assert cli("init", "meetings.csv", "closed_log.csv").exit_code == 0
    ids = [kpi["id"] for kpi in yaml.safe_load((tmp_path / "kpi_definitions.yaml").read_text())["kpis"]]
    assert ids == [
        "meetings_volume",
        "closed_log_volume", "closed_log_time_to_close_median", "closed_log_time_to_close_p90",
    ]  # fmt: skip
    doc = json.loads(cli("compute", "--period", "2026-05", "-f", "json").stdout)
    median = next(row for row in doc["results"] if row["kpi_id"] == "closed_log_time_to_close_median")
    assert median["value"] == 18.0  # (24 h + 12 h) / 2


# ---------------------------------------------------------------- the bundled example, anywhere


def test_the_packaged_example_catalog_is_the_repositorys():
    for packaged, source in (
        (PACKAGED / "kpi_definitions.yaml", CATALOG),
        (PACKAGED / "README.md", SAMPLE_DATA / "README.md"),
    ):
        assert packaged.read_bytes() == source.read_bytes(), f"out of date: cp {source} {packaged}"


@pytest.mark.slow
def test_init_example_writes_the_sample_byte_for_byte_and_the_readme_walkthrough_runs(tmp_path):
    """Through the installed script, in a folder far from the repository, as a new user would run it."""
    script = Path(sys.executable).with_name("civic-kpi")
    if not script.exists():
        pytest.skip("civic-kpi script not installed next to this Python")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    done = subprocess.run([str(script), "init", "--example"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    example = tmp_path / "civic-kpi-example"
    assert (example / "kpi_definitions.yaml").read_bytes() == CATALOG.read_bytes()
    written = sorted(
        p.relative_to(example / "sample_data") for p in (example / "sample_data").rglob("*") if p.is_file()
    )
    shipped = sorted(
        p.relative_to(SAMPLE_DATA) for p in SAMPLE_DATA.rglob("*") if p.is_file() and p.name != "generate.py"
    )
    assert written == shipped
    for relative in shipped:
        assert (example / "sample_data" / relative).read_bytes() == (SAMPLE_DATA / relative).read_bytes(), relative
    assert [p.name for p in tmp_path.iterdir()] == ["civic-kpi-example"], "no temporary folder left behind"
    there = subprocess.run([str(script), "compute", "-f", "json"], cwd=example, env=env, capture_output=True, text=True)
    here = subprocess.run([str(script), "compute", "-f", "json"], cwd=ROOT, env=env, capture_output=True, text=True)
    values = [[(r["kpi_id"], r["group"], r["value"], r["status"]) for r in json.loads(out.stdout)["results"]]
              for out in (there, here)]  # fmt: skip
    assert values[0] == values[1]


def test_a_yes_no_share_is_never_broken_down_by_the_column_it_is_read_from():
    # Legistar's is_final is read from agenda_status: its share by agenda status is 0% or 100% by construction.
    from civic_kpi.starter.seeds import Columns, seeds

    columns = Columns(
        dates={"meeting_start": "datetime"},
        flags=["is_final"],
        groups={"agenda_status": 3, "body": 12},
        flag_sources={"is_final": "agenda_status"},
    )
    found = {seed.fields["id"]: seed.fields.get("group_by") for seed in seeds("events", columns, "Events")}
    assert found == {"events_volume": ["agenda_status"], "events_is_final_share": ["body"]}
