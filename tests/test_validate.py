"""`civic-kpi validate` and catalog loading: every mistake exits 2 and names the file, line, KPI and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CATALOG, SAMPLE_DATA

TEXT = CATALOG.read_text(encoding="utf-8")


def broken(tmp_path: Path, old: str, new: str, count: int = 1) -> tuple[Path, int]:
    """The bundled catalog with one edit; returns its path and the 1-based line of the edit."""
    assert TEXT.count(old) >= 1, old
    text = TEXT.replace(old, new, count)
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    line = text[: text.index(new)].count("\n") + 1 if new else 0
    return path, line


def test_bundled_catalog_and_data_are_valid(cli):
    result = cli("validate", CATALOG)
    assert result.exit_code == 0, result.output
    assert "37 KPIs, 10 datasets" in result.stdout
    assert "columns and values checked in" in result.stdout
    # The sample SLA table has one long SLA without an explanation on purpose (Houston 5.1.4): a warning, exit 0.
    assert "1 warning(s)" in result.stdout
    assert "warning:" in result.stderr and "'Tree Trimming' is 60 calendar days" in result.stderr


def test_validate_takes_the_catalog_as_every_command_does(cli, tmp_path):
    # -c like compute, check and the rest; the path alone still works, and two different ones are refused.
    assert cli("validate", "-c", CATALOG, "--no-data").exit_code == 0
    assert cli("validate", CATALOG, "-c", CATALOG, "--no-data").exit_code == 0
    both = cli("validate", tmp_path / "a.yaml", "-c", CATALOG)
    assert both.exit_code == 2 and "two catalogs given" in both.stderr
    missing = cli("validate", "-c", tmp_path / "none.yaml")
    assert missing.exit_code == 2 and "pass the catalog with -c PATH (every command takes it)" in missing.stderr


def test_misspelled_column_in_formula(cli, tmp_path):
    path, line = broken(tmp_path, "numerator: count(first_contact)", "numerator: count(first_contcat)")
    result = cli("validate", path, "--no-data")
    assert result.exit_code == 2
    assert f"{path}:{line}" in result.stderr
    assert "KPI 'first_contact_resolution'" in result.stderr and "field 'numerator'" in result.stderr
    assert "unknown column 'first_contcat'" in result.stderr
    assert "did you mean 'first_contact'?" in result.stderr


def test_misspelled_export_column_is_found_in_the_data(cli, tmp_path):
    path, _ = broken(tmp_path, "source: Closed Date,", "source: Close Date,")
    result = cli("validate", path, "--data-dir", SAMPLE_DATA)
    assert result.exit_code == 2
    assert "column 'Close Date' not found" in result.stderr
    assert "did you mean 'Closed Date'?" in result.stderr
    assert "service_requests_2024-10.csv" in result.stderr
    assert "datasets.service_requests.columns.closed_at" in result.stderr
    # compute says the same, with exit 2 and no traceback
    compute = cli("compute", "--catalog", path, "--data-dir", SAMPLE_DATA)
    assert compute.exit_code == 2 and "did you mean 'Closed Date'?" in compute.stderr


def test_unknown_kpi_field(cli, tmp_path):
    path, line = broken(tmp_path, "    target: {below: 5,", "    taget: {below: 5,")
    result = cli("validate", path, "--no-data")
    assert result.exit_code == 2
    assert f"{path}:{line}" in result.stderr
    assert "KPI 'reopen_rate'" in result.stderr
    assert "unknown field 'taget'" in result.stderr and "did you mean 'target'?" in result.stderr


@pytest.mark.parametrize(
    ("formula", "phrase"),
    [
        ("count(__import__('os').system('ls'))", "only the built-in functions can be called"),
        ("count(open('/etc/passwd'))", "function 'open' is not allowed"),
        ("count(channel.__class__)", "attribute access is not allowed"),
        ("count([c for c in channel])", "comprehensions is not allowed"),
        ("count(lambda: 1)", "lambda is not allowed"),
        ("count(channel[0] == 'W')", "subscripts"),
        ("count(eval('1'))", "function 'eval' is not allowed"),
    ],
)
def test_formula_outside_the_language_is_rejected(cli, tmp_path, formula, phrase):
    path, line = broken(tmp_path, "numerator: count(first_contact)", f'numerator: "{formula}"')
    result = cli("validate", path, "--no-data")
    assert result.exit_code == 2
    assert phrase in result.stderr
    assert f"{path}:{line}" in result.stderr and "field 'numerator'" in result.stderr


def test_yaml_syntax_error_names_the_line(cli, tmp_path):
    path, _ = broken(tmp_path, "  - id: reopen_rate\n", "  - id: reopen_rate\n    name: [unclosed\n")
    result = cli("validate", path)
    assert result.exit_code == 2
    assert "invalid YAML" in result.stderr
    assert f"{path}:" in result.stderr
    assert "Traceback" not in result.output


def test_unsafe_yaml_tag_is_refused(cli, tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("title: !!python/object/apply:os.system ['echo pwned']\ndatasets: {}\nkpis: []\n")
    result = cli("validate", path)
    assert result.exit_code == 2
    assert "!!python/object are not allowed" in result.stderr
    assert f"{path}:1" in result.stderr


def test_duplicate_keys_are_an_error(cli, tmp_path):
    path, line = broken(tmp_path, "    unit: hours\n", "    unit: hours\n    unit: days\n")
    result = cli("validate", path, "--no-data")
    assert result.exit_code == 2
    assert f"{path}:{line + 1}" in result.stderr and "key 'unit' appears twice" in result.stderr


def test_every_problem_is_reported_at_once(cli, tmp_path):
    text = (
        TEXT.replace("dataset: portal_usage", "dataset: portal_usag")
        .replace("params.notice_window_hours", "params.notice_hours")
        .replace(
            "percentile(days_between(scheduled_start, minutes_posted_at), 90,",
            "percentile(days_between(scheduled_start, minutes_posted_at), 190,",
        )
    )
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    result = cli("validate", path, "--no-data")
    assert result.exit_code == 2
    assert "3 problems" in result.stderr
    assert "dataset 'portal_usag' is not defined" in result.stderr and "did you mean 'portal_usage'?" in result.stderr
    assert "unknown parameter 'params.notice_hours'" in result.stderr
    assert "percentile(x, p) needs a number p from 0 to 100" in result.stderr


def test_type_mismatch_is_caught_before_reading_data(cli, tmp_path):
    path, _ = broken(tmp_path, "numerator: count(first_contact)", "numerator: sum(channel)")
    result = cli("validate", path, "--no-data")
    assert result.exit_code == 2
    assert "formula does not fit the column types" in result.stderr


def test_wrong_types_and_missing_fields(cli, tmp_path):
    path, line = broken(tmp_path, "decimals: 2\n    target: {at_least: 99", "decimals: two\n    target: {at_least: 99")
    result = cli("validate", path, "--no-data")
    assert result.exit_code == 2 and f"{path}:{line}" in result.stderr
    assert "KPI 'livestream_availability'" in result.stderr and "field 'decimals'" in result.stderr
    path, _ = broken(tmp_path, "    target: {at_least: 99, text:", "    target: {at_least: 99, warn: 99.5, text:")
    result = cli("validate", path, "--no-data")
    assert result.exit_code == 2 and "warn (99.5) must be below the goal (99.0)" in result.stderr


def test_missing_catalog_file(cli, tmp_path):
    result = cli("validate", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "catalog file not found" in result.stderr and "hint:" in result.stderr


def test_schema_command_and_committed_schema_agree(cli):
    result = cli("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert "kpis" in schema["properties"]
    committed = json.loads((CATALOG.parent / "kpi_definitions.schema.json").read_text())
    assert committed == schema, "regenerate with: civic-kpi schema > kpi_definitions.schema.json"


def test_list_shows_every_kpi(cli):
    result = cli("list", "--catalog", CATALOG, "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert len(rows) == 37
    sla = next(r for r in rows if r["id"] == "sla_compliance")
    assert sla["target"] == ">= 90% (Critical: >= 95%)"
    table = cli("list", "--catalog", CATALOG)
    assert "time_to_close_p90" in table.stdout and "lower than a year ago" in table.stdout


def test_the_loaded_catalog_holds_every_formula_parsed_once(tmp_path):
    from civic_kpi.catalog.loader import load_catalog
    from civic_kpi.formula import parse_formula

    glob = "    path: 311/service_requests_*.csv\n"
    path, _ = broken(tmp_path, glob, glob + "    derived: {is_web: \"channel == 'Web'\"}\n")
    loaded = load_catalog(path)
    for kpi in loaded.catalog.kpis:
        formulas = loaded.formulas[kpi.id]
        assert set(formulas) == set(kpi.formulas) | ({"where"} if kpi.where is not None else set())
        for field, text in kpi.formulas.items():
            # the very object every later caller of parse_formula gets: parsed once, at load time
            assert formulas[field] is parse_formula(text, over_kpis=kpi.from_kpis)
        if kpi.where is not None:
            assert formulas["where"] is parse_formula(kpi.where, row=True)
    for name, dataset in loaded.catalog.datasets.items():
        assert set(loaded.derived_formulas[name]) == set(dataset.derived)
        for column, text in dataset.derived.items():
            assert loaded.derived_formulas[name][column] is parse_formula(text, row=True)
    assert loaded.derived_formulas["service_requests"]["is_web"].columns == {"channel"}
    assert any("where" in formulas for formulas in loaded.formulas.values())
