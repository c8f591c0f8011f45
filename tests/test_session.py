"""The library session (`civic_kpi.open`): its methods are the commands, on one catalog read once.

Every comparison runs the real Typer app on the bundled catalog and sample data and the session with the same
options, and expects the same document (less the moment it was generated) or the same error message.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import civic_kpi
from civic_kpi.errors import CatalogError, CivicKpiError, UsageError
from civic_kpi.session import Session
from tests.conftest import CATALOG, ROOT, SAMPLE_DATA

AS_OF = "2026-11-15 08:00"


@pytest.fixture(scope="module")
def session() -> Session:
    return civic_kpi.open(CATALOG)


def _document(text_or_model: Any) -> dict[str, Any]:
    """A run document as JSON data, without `generated_at` (the one field two runs never share)."""
    text = text_or_model if isinstance(text_or_model, str) else text_or_model.model_dump_json()
    data = json.loads(text)
    data.pop("generated_at", None)
    return data


def _cli_json(cli, *args: str) -> Any:
    result = cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _cli_error(cli, *args: str) -> str:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    return result.stderr


def _as_cli_reports(exc: CivicKpiError) -> str:
    return f"error: {exc.render()}\n"


# --- the methods return what the commands print ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "cli_options"),
    [
        ({"period": "2026-10", "by": [["priority"]]}, ["--period", "2026-10", "--by", "priority"]),
        (
            {"period": "2026-Q3", "every": "month", "kpis": ["sla_compliance", "time_to_close_p90"]},
            ["--period", "2026-Q3", "--every", "month", "--kpi", "sla_compliance,time_to_close_p90"],
        ),
        (
            {"date_from": "2026-10-01", "date_to": "2026-10-15", "domains": ["Public Records & Open Data"]},
            ["--from", "2026-10-01", "--to", "2026-10-15", "--domain", "Public Records & Open Data"],
        ),
        ({"by": [["priority", "channel"], ["agency"]]}, ["--by", "priority,channel", "--by", "agency"]),
    ],
    ids=["period-by", "series", "from-to-domain", "two-breakdowns"],
)
def test_compute_equals_the_cli_json_for_the_same_options(cli, session, options, cli_options):
    run = session.compute(**options)
    assert _document(run) == _document(cli("compute", "-c", CATALOG, *cli_options, "-f", "json").stdout)


def test_review_equals_the_cli_json(cli, session):
    assert _document(session.review("2026-10")) == _document(
        cli("review", "-c", CATALOG, "--month", "2026-10", "-f", "json").stdout
    )


def test_scorecard_equals_the_cli_json(cli, session):
    run = session.scorecard("FY2026", domains=["311 Customer Service"])
    cli_run = cli("scorecard", "-c", CATALOG, "-y", "FY2026", "--domain", "311 Customer Service", "-f", "json")
    assert _document(run) == _document(cli_run.stdout)


def test_list_inspect_and_presets_equal_the_cli(cli, session):
    assert [entry.model_dump() for entry in session.list().kpis] == _cli_json(cli, "list", "-c", CATALOG)
    domain = "Public Meetings & Engagement"
    assert [e.id for e in session.list(domains=[domain]).kpis] == [
        row["id"] for row in _cli_json(cli, "list", "-c", CATALOG, "--domain", domain)
    ]
    export = SAMPLE_DATA / "meetings" / "meetings.csv"
    assert session.inspect(export).model_dump(mode="json") == _cli_json(cli, "inspect", export)
    titles = [line for line in cli("presets").stdout.splitlines() if not line.startswith(" ")]
    assert titles == [f"{name}: {document['title']}" for name, document in session.presets().items()]


def test_validate_reports_what_the_cli_reports(cli, session):
    report = session.validate()
    assert report.ok and report.catalog is session.catalog
    assert report.files_checked > 0 and report.warnings  # the sample's long SLA is a warning, as on the CLI
    result = cli("validate", CATALOG)
    assert result.exit_code == 0
    assert f"{len(session.catalog.catalog.kpis)} KPIs" in result.stdout
    assert f"columns and values checked in {report.files_checked} files" in result.stdout
    assert session.validate(check_data=False).files_checked == 0


def test_the_top_level_functions_still_work_and_agree_with_the_session(session):
    one_off = civic_kpi.compute(CATALOG, period="2026-10", kpis=["sla_compliance"], by=[])
    assert _document(one_off) == _document(session.compute("2026-10", kpis=["sla_compliance"], by=[]))
    assert civic_kpi.review(CATALOG, month="2026-10").items == session.review("2026-10").items


# --- one catalog, read once -------------------------------------------------------------------------------------


def test_the_catalog_is_read_once_and_shared_by_every_method(monkeypatch):
    calls: list[Path] = []
    original = civic_kpi.load_catalog

    def counting(path, *args, **kwargs):
        calls.append(Path(path))
        return original(path, *args, **kwargs)

    # Wherever a command could load the catalog again, it would go through one of these names.
    for name, module in list(sys.modules.items()):
        if name.startswith("civic_kpi") and getattr(module, "load_catalog", None) is original:
            monkeypatch.setattr(module, "load_catalog", counting)

    session = civic_kpi.open(CATALOG, as_of=AS_OF)
    loaded = session.catalog
    session.compute("2026-10", kpis=["sla_compliance"])
    session.review("2026-10")
    session.scorecard("FY2026", kpis=["sla_compliance"])
    session.check(["service_requests"])
    session.validate(check_data=False)
    session.list()
    assert calls == [CATALOG]
    assert session.catalog is loaded


def test_a_loaded_catalog_is_used_as_it_is():
    loaded = civic_kpi.load_catalog(CATALOG)
    session = civic_kpi.open(loaded)
    assert session.catalog is loaded
    assert session.catalog_path == loaded.path


def test_a_catalog_loaded_again_is_the_same_until_its_file_changes(tmp_path, monkeypatch):
    """A process keeps the catalogs it loaded (a loaded catalog is immutable): loading the same file again gives the
    same object; an edit, or the same relative name in another folder, is loaded afresh."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "kpis.yaml").write_bytes(CATALOG.read_bytes())
    monkeypatch.chdir(tmp_path / "a")
    first = civic_kpi.load_catalog("kpis.yaml")
    assert civic_kpi.load_catalog("kpis.yaml") is first
    assert civic_kpi.load_catalog("kpis.yaml", check_formulas=False) is not first
    monkeypatch.chdir(tmp_path / "b")
    other = civic_kpi.load_catalog("kpis.yaml")
    assert other is not first and other.sha256 == first.sha256
    text = CATALOG.read_text(encoding="utf-8").replace("title: ", "title: Edited ", 1)
    (tmp_path / "b" / "kpis.yaml").write_text(text, encoding="utf-8")
    edited = civic_kpi.load_catalog("kpis.yaml")
    assert edited is not other and edited.catalog.title.startswith("Edited ")
    (tmp_path / "b" / "kpis.yaml").write_text(text.replace("kpis:", "kpis: [", 1), encoding="utf-8")
    with pytest.raises(CatalogError):  # a broken edit is an error, not the catalog loaded before it
        civic_kpi.load_catalog("kpis.yaml")


def test_open_reads_the_catalog_at_once(tmp_path):
    with pytest.raises(CatalogError, match="catalog file not found"):
        civic_kpi.open(tmp_path / "missing.yaml")
    broken = tmp_path / "kpi_definitions.yaml"
    broken.write_text("kpis: [\n", encoding="utf-8")
    with pytest.raises(CatalogError):
        civic_kpi.open(broken)


def test_a_session_built_by_hand_reads_its_catalog_only_when_a_method_needs_it(tmp_path):
    # What the CLI relies on: inspect and presets need no catalog, validate reports a broken one.
    lazy = Session(tmp_path / "missing.yaml")
    assert lazy.presets()
    assert lazy.inspect(SAMPLE_DATA / "meetings" / "meetings.csv").rows > 0
    report = lazy.validate()
    assert not report.ok and report.catalog is None
    assert "catalog file not found" in report.problems[0].render()
    with pytest.raises(CatalogError):
        lazy.compute()

    fine = Session(CATALOG)
    assert fine.validate(check_data=False).ok
    assert fine.catalog is fine.validate(check_data=False).catalog  # validate's reading is kept


def test_presets_cannot_be_spoiled_by_their_caller(session):
    session.presets()["nyc311_portal_csv"]["title"] = "edited"
    assert session.presets()["nyc311_portal_csv"]["title"] != "edited"


# --- the as-of moment -------------------------------------------------------------------------------------------


def test_check_with_the_sessions_as_of_equals_check_as_of_and_its_alias_now(cli):
    run = civic_kpi.open(CATALOG, as_of=AS_OF).check(["service_requests"])
    assert run.checked_at == datetime(2026, 11, 15, 8, 0)
    for option in ("--as-of", "--now"):
        assert _document(run) == _document(
            cli("check", "-c", CATALOG, option, AS_OF, "--dataset", "service_requests", "-f", "json").stdout
        )


def test_compute_review_and_scorecard_describe_the_sessions_as_of(cli):
    session = civic_kpi.open(CATALOG, as_of="2026-09-30")
    run = session.compute(kpis=["sla_compliance"])
    assert run.as_of == datetime(2026, 9, 30) and run.period.label == "2026-08"  # September is not over
    assert _document(run) == _document(
        cli("compute", "-c", CATALOG, "--as-of", "2026-09-30", "-k", "sla_compliance", "-f", "json").stdout
    )
    assert session.review().month.label == "2026-08"


def test_scorecard_as_of_picks_the_fiscal_year_and_matches_the_cli(cli):
    # FY2026 runs July 2025 to June 2026: in mid-July 2025 the latest fiscal year that has ended is FY2025.
    session = civic_kpi.open(CATALOG, as_of="2025-07-15")
    run = session.scorecard(domains=["311 Customer Service"])
    assert run.fiscal_year.label == "FY2025" and run.as_of == datetime(2025, 7, 15) and run.complete
    cli_run = cli("scorecard", "-c", CATALOG, "--as-of", "2025-07-15", "--domain", "311 Customer Service", "-f", "json")
    assert _document(run) == _document(cli_run.stdout)
    running = civic_kpi.open(CATALOG, as_of="2026-03-31").scorecard("FY2026", kpis=["sla_compliance"])
    assert not running.complete


# --- mistakes raise what the CLI reports ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "cli_options"),
    [
        ({"period": "2026-10", "date_from": "2026-10-01", "date_to": "2026-10-02"},
         ["--period", "2026-10", "--from", "2026-10-01", "--to", "2026-10-02"]),
        ({"date_from": "2026-10-01"}, ["--from", "2026-10-01"]),
        ({"date_from": "2026-10-05", "date_to": "2026-10-01"}, ["--from", "2026-10-05", "--to", "2026-10-01"]),
        ({"kpis": ["sla_complience"]}, ["--kpi", "sla_complience"]),
        ({"domains": ["311"]}, ["--domain", "311"]),
        ({"period": "2026-13"}, ["--period", "2026-13"]),
        ({"by": [["colour"]]}, ["--by", "colour"]),
        ({"period": "2026-10", "every": "quarter"}, ["--period", "2026-10", "--every", "quarter"]),
    ],
    ids=["period-and-range", "from-alone", "range-backwards", "kpi", "domain", "period", "by", "series"],
)  # fmt: skip
def test_compute_raises_the_usage_error_the_cli_reports(cli, session, options, cli_options):
    with pytest.raises(UsageError) as raised:
        session.compute(**options)
    assert _as_cli_reports(raised.value) == _cli_error(cli, "compute", "-c", CATALOG, *cli_options)


def test_other_methods_raise_the_usage_errors_the_cli_reports(cli, session):
    cases = [
        (lambda: session.review("2026-Q3"), ["review", "-c", CATALOG, "--month", "2026-Q3"]),
        (lambda: session.scorecard("2026"), ["scorecard", "-c", CATALOG, "--fiscal-year", "2026"]),
        (lambda: session.scorecard(kpis=["nope"]), ["scorecard", "-c", CATALOG, "--kpi", "nope"]),
        (lambda: session.check(["requests"]), ["check", "-c", CATALOG, "--dataset", "requests"]),
        (lambda: session.list(domains=["nope"]), ["list", "-c", CATALOG, "--domain", "nope"]),
    ]
    for call, cli_args in cases:
        with pytest.raises(UsageError) as raised:
            call()
        assert _as_cli_reports(raised.value) == _cli_error(cli, *cli_args), cli_args


def test_a_bad_as_of_is_named_as_of_by_every_command(cli):
    session = civic_kpi.open(CATALOG, as_of="tomorrow")
    for method, command in [(session.check, "check"), (session.compute, "compute")]:
        with pytest.raises(UsageError, match="cannot read as-of 'tomorrow'") as raised:
            method()
        assert _as_cli_reports(raised.value) == _cli_error(cli, command, "-c", CATALOG, "--as-of", "tomorrow")
    assert _cli_error(cli, "check", "-c", CATALOG, "--now", "tomorrow") == _as_cli_reports(raised.value)


# --- the package's surface --------------------------------------------------------------------------------------


def test_open_is_exported_lazily_without_importing_polars():
    code = (
        "import sys, civic_kpi; assert 'polars' not in sys.modules; "
        "assert 'open' in civic_kpi.__all__ and 'Session' in civic_kpi.__all__; "
        "from civic_kpi.session import Session; assert civic_kpi.Session is Session; "
        "print('polars' in sys.modules, civic_kpi.open.__module__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "civic_kpi.session"]


def test_the_documented_library_example_runs_and_prints_what_it_says(monkeypatch):
    section = (ROOT / "docs" / "reference" / "library.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    expected = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    monkeypatch.chdir(ROOT)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "library.md", "exec"), {})
    assert printed.getvalue().splitlines() == expected
