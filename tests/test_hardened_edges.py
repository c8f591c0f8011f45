"""Edges a cron job or a shell pipeline meets: no data with --fail-on, dates at the calendar's ends, odd output
paths, closed pipes and full disks, Ctrl-C. Each is a user's situation, so each ends in a documented exit code and
one line on stderr, never a traceback."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CATALOG, SAMPLE_DATA


def one_month_of_311(data: Path) -> None:
    """An export of the requests created in September 2026 only: August is a month it has nothing of."""
    (data / "311").mkdir()
    shutil.copy(SAMPLE_DATA / "311" / "service_requests_2026-09.csv", data / "311")
    shutil.copytree(SAMPLE_DATA / "reference", data / "reference")


# --fail-on and missing data ------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["warn", "fail"])
def test_a_kpi_with_a_target_and_no_data_fails_the_run(cli, catalog, data, level):
    one_month_of_311(data)
    result = cli("compute", "-c", catalog, "--kpi", "sla_compliance", "--period", "2026-08", "--fail-on", level)
    assert result.exit_code == 1
    assert "no data" in result.stdout
    assert "1 KPI row with a target had no data" in result.stderr


def test_allow_no_data_lets_a_missing_month_pass(cli, catalog, data):
    one_month_of_311(data)
    args = ("compute", "-c", catalog, "--kpi", "sla_compliance", "--fail-on", "warn", "--allow-no-data")
    assert cli(*args, "--period", "2026-08").exit_code == 0
    # It does not hide a real failure: September's requests closed in October miss the 90% target.
    assert cli(*args, "--period", "2026-10").exit_code == 1


def test_no_data_without_fail_on_still_exits_0(cli, catalog, data):
    one_month_of_311(data)
    result = cli("compute", "-c", catalog, "--kpi", "sla_compliance", "--period", "2026-08")
    assert result.exit_code == 0
    assert result.stderr == ""


def test_every_kpi_without_data_fails_fail_on_warn(cli):
    # The bundled sample data starts in 2024-10; nothing of 2010 is there, so nothing could be judged.
    result = cli("compute", "-c", CATALOG, "--period", "2010-01", "--fail-on", "warn", "-f", "json")
    assert result.exit_code == 1


# Dates at the calendar's ends -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "as_of", ["9999-12-31 23:59", "0001-01-01", "1899-12-31 23:59", "3000-01-01", "9999-12-31T23:59-05:00"]
)
@pytest.mark.parametrize("command", ["compute", "check"])
def test_an_as_of_outside_the_calendar_is_the_users_input(cli, command, as_of):
    result = cli(command, "-c", CATALOG, "--as-of", as_of, "-q")
    assert result.exit_code == 2, result.stderr
    assert f"'{as_of}'" in result.stderr and "1900-01-01 to 2999-12-31" in result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.parametrize("as_of", ["1900-01-01", "2999-12-31 23:59:59"])
def test_the_ends_of_the_range_are_accepted(cli, as_of):
    # No data is that old or that new, so every row is "no data"; what matters is that the comparisons fit.
    assert cli("compute", "-c", CATALOG, "--kpi", "sla_compliance", "--as-of", as_of).exit_code == 0


@pytest.mark.parametrize("period", ["9999-12", "0001-01", "FY9999", "9999-Q4", "0001-01-01..0001-01-31"])
def test_a_period_outside_the_calendar_names_itself(cli, period):
    result = cli("compute", "-c", CATALOG, "--period", period)
    assert result.exit_code == 2
    assert f"period '{period}'" in result.stderr and "(1900 to 2999)" in result.stderr


# -o replaces whatever is at the path ----------------------------------------------------------------------------

FCR = ("compute", "-c", CATALOG, "--kpi", "first_contact_resolution", "-f", "csv", "-q")
FCR_ARGS = [str(a) for a in FCR]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_fifo_is_refused_not_replaced(cli, tmp_path):
    # A FIFO stands for any special file (mknod needs root): renaming over it would delete it.
    fifo = tmp_path / "results.csv"
    os.mkfifo(fifo)
    result = cli(*FCR, "-o", fifo)
    assert result.exit_code == 2
    assert "not a regular file" in result.stderr and str(fifo) in result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path) == []


def test_dev_null_is_refused(cli):
    result = cli(*FCR, "-o", "/dev/null")
    assert result.exit_code == 2
    assert "not a regular file" in result.stderr and "leave out --output" in result.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_through_a_symbolic_link_the_target_is_replaced(cli, tmp_path):
    (tmp_path / "published").mkdir()
    real = tmp_path / "published" / "results.csv"
    real.write_text("previous results\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    assert cli(*FCR, "-o", link).exit_code == 0
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text().startswith("kpi_id,")
    assert leftovers(tmp_path) == [] and leftovers(real.parent) == []


def test_a_dangling_link_creates_its_target(cli, tmp_path):
    link = tmp_path / "latest.csv"
    link.symlink_to(tmp_path / "new.csv")
    assert cli(*FCR, "-o", link).exit_code == 0
    assert link.is_symlink() and (tmp_path / "new.csv").read_text().startswith("kpi_id,")


def test_an_existing_file_keeps_its_permission_bits(cli, tmp_path):
    # A results file shared with a group (0640) must not become world-readable, nor private, after a nightly run.
    target = tmp_path / "results.csv"
    target.write_text("previous results\n")
    target.chmod(0o640)
    assert cli(*FCR, "-o", target).exit_code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_text().startswith("kpi_id,")


def test_a_new_file_gets_the_mode_open_would_give(cli, tmp_path):
    umask = os.umask(0o027)
    try:
        assert cli(*FCR, "-o", tmp_path / "results.csv").exit_code == 0
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "results.csv").stat().st_mode) == 0o640


@pytest.mark.parametrize("fail", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_an_error_or_an_interrupt_while_writing_leaves_no_temporary_file(cli, tmp_path, monkeypatch, fail):
    import civic_kpi.output

    target = tmp_path / "results.csv"
    target.write_text("previous results\n")

    def fsync(fd: int) -> None:
        raise fail

    monkeypatch.setattr(civic_kpi.output.os, "fsync", fsync)
    result = cli(*FCR, "-o", target)
    assert result.exit_code == (2 if isinstance(fail, OSError) else 130)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert target.read_text() == "previous results\n"
    assert leftovers(tmp_path) == []


def test_rows_output_through_a_link_and_over_a_fifo(cli, tmp_path):
    # rows writes with a Polars sink, through replace_atomic as well.
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    args = ("rows", "sla_compliance", "-c", CATALOG, "--period", "2026-10", "-q")
    assert cli(*args, "-o", fifo).exit_code == 2
    real = tmp_path / "missed.csv"
    real.write_text("old\n")
    real.chmod(0o600)
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert cli(*args, "-o", link).exit_code == 0
    assert link.is_symlink() and real.read_text() != "old\n" and stat.S_IMODE(real.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == []


# Closed pipe, full disk, Ctrl-C: through the installed script, where the real stdout and signals are ---------------

SCRIPT = str(Path(sys.executable).with_name("civic-kpi"))
LONG_RUN = ["compute", "-c", str(CATALOG), "--period", "FY2026", "--every", "month", "--by", "priority", "-q"]


def test_a_full_disk_on_stdout_is_one_line_and_exit_2():
    with open("/dev/full", "w") as full:
        done = subprocess.run([SCRIPT, *FCR_ARGS], stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: cannot write the output: No space left on device"


@pytest.mark.parametrize(
    "args", [["compute", "-c", str(CATALOG)], ["schema"], ["rows", "sla_compliance", "-c", str(CATALOG)]]
)
def test_a_closed_pipe_ends_quietly_with_141(args):
    # The reader leaves before anything is written, as `| head -1` does once it has its line.
    process = subprocess.Popen([SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert stderr == ""


def test_the_script_exits_without_teardown_yet_flushes_everything_and_runs_atexit(cli, tmp_path):
    # civic_kpi._entry.leave skips the interpreter's finalization (0.1 to 0.2 s on every command): stdout that is
    # still buffered, the atexit functions and the exit code must come out as sys.exit gives them.
    code = (
        "import atexit, sys; from civic_kpi._entry import leave\n"
        "atexit.register(lambda: print('atexit ran'))\n"
        "sys.stdout.write('x' * 100000)\n"
        "leave(sys.argv[1] if sys.argv[1].isalpha() else int(sys.argv[1]))\n"
    )
    for given, status, err in (("0", 0, ""), ("3", 3, ""), ("why", 1, "why\n")):
        done = subprocess.run([sys.executable, "-c", code, given], capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (status, "x" * 100000 + "atexit ran\n", err)
    # A shell that closed stdout or stderr (`>&-`) gets the command's own code, no traceback.
    for closed in (">&-", "2>&-"):
        command = f"'{SCRIPT}' compute -c '{CATALOG}' -f csv -q -o '{tmp_path / 'out.csv'}' {closed}"
        done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (closed, done.stderr)
    # A long table through the real script is whole, as the in-process CLI prints it.
    done = subprocess.run([SCRIPT, *LONG_RUN, "-f", "csv"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == cli(*LONG_RUN, "-f", "csv").stdout and len(done.stdout) > 100000


def test_report_through_the_script_draws_on_a_thread_and_starts_no_process(tmp_path):
    # The charts are drawn on a thread of the script's own process (vl-convert lets go of the GIL while it draws):
    # no process is started, so none can be left behind, and the thread is done when the script leaves.
    process = subprocess.Popen(
        [SCRIPT, "report", "-c", str(CATALOG), "-o", str(tmp_path / "d.html")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    children: set[str] = set()
    threads: set[str] = set()
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        children |= set(_children(process.pid))
        threads |= _thread_names(process.pid)
        time.sleep(0.02)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0 and stderr.startswith("wrote the dashboard of 37 KPIs"), stderr
    assert "\n" not in stderr.rstrip()  # nothing else said: Vega's warnings are not the reader's business
    assert not children
    assert any(name.startswith("V8 ") for name in threads), threads  # vl-convert's JavaScript engine, in-process
    assert (tmp_path / "d.html").read_text().rstrip().endswith("</html>")


def _thread_names(pid: int) -> set[str]:
    names: set[str] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            names.add((task / "comm").read_text().strip())
    return names


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def test_head_1_gets_its_line():
    done = subprocess.run(
        f"'{SCRIPT}' {' '.join(LONG_RUN)} -f csv | head -1", shell=True, capture_output=True, text=True
    )
    assert done.stdout.startswith("kpi_id,")
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


# Two years by month and three breakdowns: about 4 s here, so that 2 s falls in the middle of the run (a signal as
# the process exits, after Python has put back the default handler, ends it as SIGINT would, -2, with its output
# already written).
UNTIL_INTERRUPTED = ["compute", "-c", str(CATALOG), "--from", "2024-10-01", "--to", "2026-10-31", "--every", "month"]
UNTIL_INTERRUPTED += ["--by", "priority", "--by", "channel", "--by", "category", "-q"]


def _interrupted(arguments: list[str], delay: float) -> None:
    """The script run with these arguments and sent a Ctrl-C after `delay` seconds exits 130 with its one line."""
    process = subprocess.Popen([SCRIPT, *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("the run ended before the signal arrived")
    assert process.returncode == 130, stderr
    assert stderr.strip() == "interrupted; no output was written"


@pytest.mark.parametrize("delay", [0.3, 2.0])
def test_ctrl_c_exits_130_with_one_line(delay):
    # 0.3 s falls in the start-up imports; 2 s in the middle of the run.
    _interrupted(UNTIL_INTERRUPTED, delay)


def test_ctrl_c_while_the_dashboard_is_made_keeps_the_page_there_was(tmp_path):
    # About 1 s in, the charts are being drawn on their thread while the review and the scorecard are computed: the
    # command ends at once with its one line (the charts still queued are dropped, not drawn), and the page the file
    # held is still there, with no temporary file beside it.
    out = tmp_path / "d.html"
    out.write_text("OLD", encoding="utf-8")
    _interrupted(["report", "-c", str(CATALOG), "-o", str(out), "-q"], 1.0)
    assert out.read_text(encoding="utf-8") == "OLD" and list(tmp_path.iterdir()) == [out]


def test_ctrl_c_inside_a_command_in_process(cli, monkeypatch):
    from civic_kpi.session import Session

    def compute(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Session, "compute", compute)
    result = cli(*FCR)
    assert result.exit_code == 130
    assert result.stderr.strip() == "interrupted; no output was written"


@pytest.mark.parametrize("where", ["app", "import"])
def test_ctrl_c_outside_any_command(monkeypatch, capsys, where):
    import civic_kpi._entry
    import civic_kpi.cli

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(civic_kpi.cli, "_interrupt_reported", False)
    if where == "app":
        monkeypatch.setattr(civic_kpi.cli, "app", interrupt)
        entry = civic_kpi.cli.main
    else:
        # The script's first import is where a Ctrl-C lands when it comes while the CLI is starting.
        monkeypatch.setattr("builtins.__import__", _interrupting_import(__import__))
        entry = civic_kpi._entry.main
    with pytest.raises(SystemExit) as exit_:
        entry()
    assert exit_.value.code == 130
    assert capsys.readouterr().err.strip() == "interrupted; no output was written"


def _interrupting_import(real):
    def fake(name, *args, **kwargs):
        if name == "civic_kpi.cli":
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)

    return fake
