"""Shared fixtures: the repository's paths, a CLI runner, and a way to build small catalogs and exports on disk."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civic_kpi.cli import app
from tests.servers import postgres_url, spark_connect_ready, spark_ready  # noqa: F401  (the engines' servers)

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "kpi_definitions.yaml"
SAMPLE_DATA = ROOT / "sample_data"
SHARED = ROOT.parent / "shared"


WIDE = "200"  # COLUMNS for the tests' piped tables (see `cli`)


def pytest_configure(config: pytest.Config) -> None:
    """The tests keep their cache (the holidays' dates, time/holiday_cache.py) in a folder of their own, never the
    user's: set before any test, so that the CLI runs in-process and the subprocesses the tests start inherit it."""
    import os
    import tempfile

    os.environ["CIVIC_KPI_CACHE_DIR"] = tempfile.mkdtemp(prefix="civic-kpi-test-cache-")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, so that pytest-xdist starts them while the many quick ones fill the other workers: left
    in file order, the browser's audits started last and ran alone for the last minute."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def cli(runner: CliRunner) -> Callable[..., object]:
    """Invoke the real Typer app in-process; returns the click Result (exit_code, stdout, stderr). Tables are 200
    columns wide (piped output honours COLUMNS), so that a test finds a phrase on one line; a test of the width
    itself passes its own COLUMNS."""

    def invoke(*args: str, env: dict[str, str | None] | None = None):
        env = {"COLUMNS": WIDE, **(env or {})}
        return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def bundled_catalog_copy(tmp_path: Path) -> Path:
    """A copy of the bundled catalog in an empty folder, so a test can point it at its own small data files."""
    target = tmp_path / "kpi_definitions.yaml"
    shutil.copy(CATALOG, target)
    (tmp_path / "sample_data").mkdir()
    return target


@pytest.fixture
def catalog(bundled_catalog_copy: Path) -> Path:
    """The bundled catalog, pointed at the empty `data` folder beside it."""
    return bundled_catalog_copy


@pytest.fixture
def data(bundled_catalog_copy: Path) -> Path:
    """Where a test writes its hand-made exports, in the layout the bundled catalog reads."""
    return bundled_catalog_copy.parent / "sample_data"


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    """Write a small CSV export (empty string or None = empty cell)."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if cell is None else cell for cell in row])
    return path
