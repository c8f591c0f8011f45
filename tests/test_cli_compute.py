"""`civic-kpi compute` through the real Typer app: every option, every format, exit codes, atomic output."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CATALOG, ROOT, SAMPLE_DATA

ANSI = "\x1b["


def compute_args(*extra: str) -> list[str]:
    return ["compute", "--catalog", str(CATALOG), *extra]


def test_default_is_latest_complete_month_with_all_kpis_as_plain_table(cli):
    result = cli(*compute_args())
    assert result.exit_code == 0, result.output
    out = result.stdout
    # The newest 311 record is 2026-11-14, so October is the latest complete month.
    assert "2026-10 (2026-10-01 to 2026-10-31)" in out
    assert "compared with 2026-09 and 2025-10" in out
    for domain in ("311 Customer Service", "Public Records & Open Data", "Public Meetings & Engagement"):
        assert domain in out
    for word in ("✔ pass", "▲ warn", "✘ fail"):
        assert word in out, f"{word} missing: the sample data should show every status"
    assert ANSI not in out  # CliRunner is not a terminal: no escape codes
    assert "PERCENTILE.INC" in out


def test_json_carries_every_kpi_with_provenance(cli):
    result = cli(*compute_args("--format", "json"))
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == "1.4"
    assert doc["period"] == {"label": "2026-10", "start": "2026-10-01", "end": "2026-10-31"}
    assert doc["prior_period"]["label"] == "2026-09"
    assert doc["year_ago_period"]["label"] == "2025-10"
    assert len(doc["catalog"]["sha256"]) == 64
    assert doc["catalog"]["path"].endswith("kpi_definitions.yaml")
    ids = {r["kpi_id"] for r in doc["results"]}
    # the 15 reference KPIs (fulfilment time is two entries), 2 from the SLA policy, 12 of the contact center and
    # 8 of customer satisfaction (customer_satisfaction counted with the SLA policy's)
    assert len(ids) == 37
    files = {Path(f["path"]).name: f["rows"] for f in doc["data_files"]}
    assert files["service_requests_2026-10.csv"] > 500
    assert sum(f["rows"] for f in doc["data_files"] if f["dataset"] == "service_requests") >= 20_000
    for record in doc["results"]:
        assert record["status"] in {"pass", "warn", "fail", "no_data", "no_target"}
        assert record["prior"]["period"]["label"] == "2026-09"
        assert set(record) >= {"value", "numerator", "denominator", "sample_size", "target", "group"}
    assert doc["as_of"].startswith("2026-11-14")


def test_csv_has_the_same_records_flat(cli):
    as_json = json.loads(cli(*compute_args("--format", "json")).stdout)
    result = cli(*compute_args("--format", "csv"))
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(as_json["results"])
    first = rows[0]
    assert first["kpi_id"] == as_json["results"][0]["kpi_id"]
    assert float(first["value"]) == pytest.approx(as_json["results"][0]["value"], rel=1e-12)
    critical = [r for r in rows if r["group"] == "priority=Critical"]
    assert len(critical) == 1 and critical[0]["kpi_id"] == "sla_compliance"


def test_markdown_has_a_section_per_domain(cli):
    result = cli(*compute_args("--format", "markdown"))
    assert result.exit_code == 0
    assert result.stdout.count("\n## ") == 5
    assert "### Importance-Satisfaction Rating by question, 2026-10: ranked" in result.stdout
    assert "| KPI | Group | Value | Target | Status | n | vs 2026-09 |" in result.stdout


@pytest.mark.parametrize(
    ("period", "label", "prior", "year_ago"),
    [
        ("2026-09", "2026-09", "2026-08", "2025-09"),
        ("2026-Q3", "2026-Q3", "2026-Q2", "2025-Q3"),
        ("2025", "2025", "2024", "2024"),
        (
            "2026-01-01..2026-03-31",
            "2026-01-01..2026-03-31",
            "2025-10-03..2025-12-31",
            "2025-01-01..2025-03-31",
        ),
    ],
)
def test_period_forms(cli, period, label, prior, year_ago):
    doc = json.loads(cli(*compute_args("--period", period, "--format", "json")).stdout)
    assert doc["period"]["label"] == label
    assert doc["prior_period"]["label"] == prior
    assert doc["year_ago_period"]["label"] == year_ago


def test_from_to_is_a_range(cli):
    doc = json.loads(cli(*compute_args("--from", "2026-10-01", "--to", "2026-10-15", "-f", "json")).stdout)
    assert doc["period"] == {"label": "2026-10-01..2026-10-15", "start": "2026-10-01", "end": "2026-10-15"}


def test_quarter_counts_equal_sum_of_months(cli):
    def counts(period: str) -> tuple[float, float]:
        doc = json.loads(cli(*compute_args("--period", period, "--kpi", "sla_compliance", "-f", "json")).stdout)
        overall = next(r for r in doc["results"] if r["group"] == {})
        return overall["numerator"], overall["denominator"]

    months = [counts(m) for m in ("2026-07", "2026-08", "2026-09")]
    assert counts("2026-Q3") == (sum(m[0] for m in months), sum(m[1] for m in months))


def test_by_groups_and_notes_datasets_without_the_column(cli):
    doc = json.loads(cli(*compute_args("--by", "channel", "--domain", "311 Customer Service", "-f", "json")).stdout)
    groups = [r["group"] for r in doc["results"] if r["kpi_id"] == "first_contact_resolution"]
    assert groups[0] == {}  # the overall row comes first
    assert [g["channel"] for g in groups[1:]] == ["App", "Chat", "Counter", "Email", "Phone", "Web"]
    # --by on every domain: meetings have no 'channel' column, so they stay overall and a note says so.
    doc = json.loads(cli(*compute_args("--by", "channel", "-f", "json")).stdout)
    assert any("agenda_on_time" in note and "channel" in note for note in doc["notes"])


def test_group_rows_add_up_to_the_overall_row(cli):
    doc = json.loads(cli(*compute_args("--kpi", "sla_compliance", "--by", "priority,category", "-f", "json")).stdout)
    rows = doc["results"]
    overall = next(r for r in rows if r["group"] == {})
    groups = [r for r in rows if r["group"]]
    assert all(set(r["group"]) == {"priority", "category"} for r in groups)
    assert sum(r["denominator"] for r in groups) == overall["denominator"]
    assert sum(r["numerator"] for r in groups) == overall["numerator"]


def test_kpi_and_domain_selection(cli):
    doc = json.loads(cli(*compute_args("--kpi", "reopen_rate", "--kpi", "agenda_on_time", "-f", "json")).stdout)
    assert {r["kpi_id"] for r in doc["results"]} == {"reopen_rate", "agenda_on_time"}
    doc = json.loads(cli(*compute_args("--domain", "Public Meetings & Engagement", "-f", "json")).stdout)
    assert {r["domain"] for r in doc["results"]} == {"Public Meetings & Engagement"}
    assert len({r["kpi_id"] for r in doc["results"]}) == 5


def test_output_file_is_written_and_reported(cli, tmp_path):
    target = tmp_path / "results.json"
    result = cli(*compute_args("-f", "json", "-o", target))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "wrote" in result.stderr and str(target) in result.stderr
    assert json.loads(target.read_text())["schema_version"] == "1.4"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temp file left behind


def test_failed_run_leaves_previous_output_untouched(cli, tmp_path):
    target = tmp_path / "results.csv"
    target.write_text("previous results\n")
    result = cli(*compute_args("-f", "csv", "-o", target, "--period", "2026-13"))
    assert result.exit_code == 2
    assert target.read_text() == "previous results\n"
    result = cli("compute", "--catalog", tmp_path / "missing.yaml", "-o", target)
    assert result.exit_code == 2
    assert target.read_text() == "previous results\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


@pytest.mark.parametrize(("fail_on", "code"), [("never", 0), ("fail", 1), ("warn", 1)])
def test_fail_on_levels(cli, fail_on, code):
    assert cli(*compute_args("--fail-on", fail_on)).exit_code == code


def test_fail_on_warn_but_not_fail(cli):
    # Minutes P90 warns (between 7 and 14 days) in 2026-10 and nothing of that KPI fails.
    args = compute_args("--kpi", "minutes_p90_days")
    assert cli(*args, "--fail-on", "fail").exit_code == 0
    assert cli(*args, "--fail-on", "warn").exit_code == 1


def test_data_dir_option(cli, tmp_path):
    result = cli(*compute_args("--data-dir", tmp_path))
    assert result.exit_code == 2
    assert "no files match" in result.stderr and "--data-dir" in result.stderr
    assert cli(*compute_args("--data-dir", SAMPLE_DATA, "--kpi", "reopen_rate")).exit_code == 0


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--period", "2026-13"], "is not a real date"),
        (["--period", "last month"], "cannot read period"),
        (["--period", "2026-10", "--from", "2026-10-01", "--to", "2026-10-02"], "either --period or --from"),
        (["--from", "2026-10-01"], "--from and --to go together"),
        (["--kpi", "sla_compliace"], "did you mean 'sla_compliance'"),
        (["--domain", "311"], "unknown domain"),
        (["--by", "prority"], "did you mean 'priority'"),
        (["--format", "xml"], "xml"),
    ],
)
def test_user_errors_exit_2_without_traceback(cli, args, phrase):
    result = cli(*compute_args(*args))
    assert result.exit_code == 2
    assert phrase in result.stderr
    assert "Traceback" not in result.output


def test_no_color_env_and_forced_color(cli, tmp_path):
    # Output that is not a terminal never gets escape codes, even when a terminal would get colors.
    assert ANSI not in cli(*compute_args(), env={"FORCE_COLOR": ""}).stdout


def _in_a_terminal(args: list[str], env: dict[str, str], redirect: tuple[int, Path | str]) -> bytes:
    """Run the installed script with a pseudo-terminal, one of its streams sent to a file; what the terminal got."""
    pty = pytest.importorskip("pty")
    script = Path(sys.executable).parent / "civic-kpi"
    if not script.exists():
        pytest.skip("civic-kpi script not installed next to this Python")
    out = bytearray()
    pid, fd = pty.fork()
    if pid == 0:  # child: become the CLI, with the pty as its terminal except for the redirected stream
        os.chdir(ROOT)
        stream, target = redirect
        os.dup2(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), stream)
        os.execve(str(script), [str(script), *args], env)
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return bytes(out)


def test_color_on_a_real_terminal_respects_no_color(tmp_path):
    """Run the installed script under a pseudo-terminal: colors by default, none with NO_COLOR."""

    def run(env_extra: dict[str, str]) -> bytes:
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
        env.update(env_extra, COLUMNS="160", TERM="xterm-256color")
        # stdout only on the terminal: the progress display goes to stderr
        return _in_a_terminal(["compute", "--kpi", "reopen_rate"], env, (2, os.devnull))

    assert b"\x1b[" in run({})
    plain = run({"NO_COLOR": "1"})
    assert b"\x1b[" not in plain and b"pass" in plain


def test_progress_on_a_terminal_stderr_only_and_not_with_quiet(tmp_path):
    """A terminal on stderr shows which datasets are read; --quiet, or a stderr that is not a terminal, shows none."""
    out = tmp_path / "stdout.txt"
    env = {**os.environ, "COLUMNS": "160", "TERM": "xterm-256color"}
    shown = _in_a_terminal(["compute", "--kpi", "reopen_rate"], env, (1, out))
    table = out.read_bytes()
    assert b"reading service_requests (26 files)" in shown and b"Reopen Rate" in table
    assert b"reading" not in table  # the results stay clean when stdout is piped to a file
    quiet = _in_a_terminal(["compute", "--kpi", "reopen_rate", "--quiet"], env, (1, out))
    assert b"reading" not in quiet and b"Reopen Rate" in out.read_bytes()


def test_shell_completion_completes_commands_and_options():
    # Typer's completion: `civic-kpi --install-completion` sets it up; the shell then asks the script itself.
    script = Path(sys.executable).parent / "civic-kpi"
    if not script.exists():
        pytest.skip("civic-kpi script not installed next to this Python")

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_CIVIC_KPI_COMPLETE": "complete_bash", "COMP_WORDS": words}
        env["COMP_CWORD"] = str(len(words.split()) - 1)
        done = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60, check=True)
        return done.stdout.split()

    assert complete("civic-kpi com") == ["compute"]
    assert complete("civic-kpi compute --pe") == ["--period"]
    assert (
        "--show-completion"
        in subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=True).stdout
    )


def test_installed_script_in_a_subprocess():
    script = Path(sys.executable).parent / "civic-kpi"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "civic_kpi.cli"]
    done = subprocess.run(
        [*command, "compute", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert len({r["kpi_id"] for r in doc["results"]}) == 37
    statuses = {r["status"] for r in doc["results"]}
    assert {"pass", "warn", "fail"} <= statuses
    bad = subprocess.run(
        [*command, "compute", "--period", "nonsense"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: cannot read period 'nonsense'")
    assert "Traceback" not in bad.stderr


def test_scorecard_on_the_sample_data(cli):
    # The newest record is 2026-11-14; with a July fiscal year the latest ended one is FY2026.
    table = cli("scorecard", "-c", CATALOG)
    assert table.exit_code == 0
    assert "measures of success, FY2026 (2025-07-01 to 2026-06-30)" in table.stdout
    assert "FY2025 Actual" in table.stdout and "FY2027 Target" in table.stdout
    assert "FY2025 starts before the first record" in table.stdout  # data begin in October 2024
    doc = json.loads(cli("scorecard", "-c", CATALOG, "--fiscal-year", "FY2026", "-f", "json").stdout)
    assert doc["complete"] is True and len(doc["rows"]) == 37
    sla = next(r for r in doc["rows"] if r["kpi_id"] == "sla_compliance")
    assert (sla["this_year_target"], sla["next_year_target"]) == (">= 90%", ">= 92%")
    markdown = cli("scorecard", "-c", CATALOG, "-y", "FY2026", "-f", "markdown").stdout
    assert "| Measure | FY2025 Actual | FY2026 Target | FY2026 Actual | Status | FY2027 Target |" in markdown
    rows = cli("scorecard", "-c", CATALOG, "-y", "FY2026", "-f", "csv").stdout.splitlines()
    assert len(rows) == 38 and rows[0].startswith("kpi_id,measure,domain")
    running = json.loads(cli("scorecard", "-c", CATALOG, "-y", "FY2027", "-f", "json").stdout)
    assert running["complete"] is False  # a year to date
    assert cli("scorecard", "-c", CATALOG, "-y", "2026").exit_code == 2


def test_as_of_option(cli):
    doc = json.loads(cli(*compute_args("--as-of", "2026-09-20", "--kpi", "reopen_rate", "-f", "json")).stdout)
    assert doc["period"]["label"] == "2026-08"  # the latest month complete at the as-of time
    assert doc["as_of"].startswith("2026-09-20")
    result = cli(*compute_args("--as-of", "yesterday"))
    assert result.exit_code == 2 and "cannot read as-of" in result.stderr


@pytest.mark.parametrize("command", [["review", "--month", "2026-10"], ["scorecard"], ["check"]])
def test_long_commands_show_progress_on_a_terminal_too(tmp_path, command):
    out = tmp_path / "stdout.txt"
    env = {**os.environ, "COLUMNS": "160", "TERM": "xterm-256color"}
    shown = _in_a_terminal(command, env, (1, out))
    assert b"\x1b[" in shown and out.read_bytes()  # a live display on the terminal, the report in the file
    assert _in_a_terminal([*command, "--quiet"], env, (1, out)) == b""
