"""The benchmark, run small: civic-kpi, hand-written Polars and DuckDB SQL must agree on a generated export.

This is also a correctness test of the series path on data shaped like a big city's 311 export (about 60 skewed
categories, 8% open, reopen windows still open at the as-of time): DuckDB is an engine civic-kpi does not use.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

pytest.importorskip("numpy", reason="the benchmark's generator needs numpy (pip install -e '.[test]')")
pytest.importorskip("duckdb", reason="the benchmark's SQL baseline needs duckdb (pip install -e '.[test]')")


pytestmark = pytest.mark.slow  # see pyproject: `pytest -m "not slow"` for a quick loop


def test_benchmark_contenders_agree_on_a_small_export(tmp_path) -> None:
    # The contenders whose values are compared; the dashboard's and the 15-KPI run are only timed.
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", "30k", "--repeat", "1", "--data", str(tmp_path),
         "--out", str(out), "--only", "polars,polars-strptime,duckdb", "--no-full"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(out.read_text())
    assert doc["agree"] is True and doc["disagreements"] == []
    contenders = {(r["contender"], r["fmt"]) for r in doc["results"]}
    assert {("civic-kpi", "parquet"), ("polars", "csv"), ("duckdb", "csv"), ("polars-strptime", "csv")} <= contenders
    assert "agree on" in done.stdout  # the count of compared values is printed, not just silence
    # The start-up rows: the bundled sample and --help, each as a ratio to a process that only imports Polars.
    assert {("polars-import", "-"), ("civic-kpi-sample", "-"), ("civic-kpi-help", "-")} <= contenders
    assert "× importing Polars" in done.stdout


def test_generator_is_deterministic(tmp_path) -> None:
    for folder in ("a", "b"):
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "generate.py"), "--rows", "5000", "--out", str(tmp_path / folder),
             "--formats", "csv"],
            check=True, capture_output=True,
        )  # fmt: skip
    assert (tmp_path / "a" / "requests.csv").read_bytes() == (tmp_path / "b" / "requests.csv").read_bytes()
