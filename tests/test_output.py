"""Atomic output: a reader or a concurrent writer only ever sees a whole file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from civic_kpi.errors import UsageError
from civic_kpi.output import write_atomic
from tests.conftest import CATALOG, ROOT


def test_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    write_atomic(target, "new content")
    assert target.read_text() == "new content"
    assert os.listdir(tmp_path) == ["out.json"]
    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode & 0o044  # readable by others like any file open() makes, not mkstemp's 0600


def test_error_while_writing_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def boom(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(UsageError, match="disk full"):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_bad_destinations_are_user_errors(tmp_path):
    with pytest.raises(UsageError, match="output directory does not exist"):
        write_atomic(tmp_path / "missing" / "out.json", "x")
    with pytest.raises(UsageError, match="is a directory"):
        write_atomic(tmp_path, "x")


def test_two_concurrent_runs_leave_one_complete_file(tmp_path):
    target = tmp_path / "results.json"
    command = [
        sys.executable,
        "-m",
        "civic_kpi.cli",
        "compute",
        "--catalog",
        str(CATALOG),
        "-f",
        "json",
        "-o",
        str(target),
    ]
    procs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    doc = json.loads(target.read_text())
    assert len({r["kpi_id"] for r in doc["results"]}) == 37
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["results.json"]
