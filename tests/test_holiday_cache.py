"""The holidays' dates kept between runs (time/holiday_cache.py): the same dates as the `holidays` package gives,
read back without importing it, and never a reason for a run to fail or to change a number."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import holidays
import pytest

from civic_kpi.catalog.model import Calendar
from civic_kpi.time import holiday_cache
from civic_kpi.time.business_days import holiday_dates

TEXAS = Calendar.model_validate({"holidays": {"country": "US", "subdivision": "TX"}, "closures": ["2026-12-23"]})
YEARS = range(2025, 2027)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CIVIC_KPI_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _by_hand() -> list[date]:
    return sorted({*holidays.country_holidays("US", subdiv="TX", years=YEARS), date(2026, 12, 23)})


def test_the_second_run_reads_the_dates_the_first_kept_without_importing_the_package(folder: Path) -> None:
    code = (
        "import sys\n"
        "from civic_kpi.catalog.model import Calendar\n"
        "from civic_kpi.time.business_days import holiday_dates\n"
        "calendar = Calendar.model_validate({'holidays': {'country': 'US', 'subdivision': 'TX'}, "
        "'closures': ['2026-12-23']})\n"
        "days = holiday_dates(calendar, range(2025, 2027))\n"
        "print([d.isoformat() for d in days], 'holidays.countries' in sys.modules)\n"
    )
    env = {**os.environ, "CIVIC_KPI_CACHE_DIR": str(folder)}
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)]
    runs.append(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True))
    expected = str([d.isoformat() for d in _by_hand()])
    assert [run.stdout.strip() for run in runs] == [f"{expected} True", f"{expected} False"]
    assert date(2025, 3, 2) in _by_hand()  # Texas Independence Day: the subdivision is part of what is kept


def test_what_is_kept_depends_on_the_package_version_country_subdivision_categories_and_years(folder: Path) -> None:
    assert holiday_dates(TEXAS, YEARS) == _by_hand()
    (kept,) = (folder / "holidays").glob("*.json")
    key = json.loads(kept.read_text())["key"]
    assert key == {
        "holidays": holidays.__version__,
        "country": "US",
        "subdivision": "TX",
        "categories": None,
        "years": [2025, 2027, 1],
    }
    # Another version of the package is another key: its file is not this one.
    assert holiday_cache.read({**key, "holidays": "0.0"}) is None
    assert holiday_dates(TEXAS, range(2025, 2026)) == [d for d in _by_hand() if d.year == 2025 or d in TEXAS.closures]
    assert len(list((folder / "holidays").glob("*.json"))) == 2


def test_a_damaged_or_foreign_file_is_asked_again_and_replaced(folder: Path) -> None:
    holiday_dates(TEXAS, YEARS)
    (kept,) = (folder / "holidays").glob("*.json")
    for damage in ('{"key": ', json.dumps({"key": {"other": 1}, "dates": ["2025-01-01"]}), '{"key": null}'):
        kept.write_text(damage)
        assert holiday_dates(TEXAS, YEARS) == _by_hand()
        assert json.loads(kept.read_text())["dates"] == [d.isoformat() for d in _by_hand() if d != date(2026, 12, 23)]


def test_a_folder_that_cannot_be_written_or_none_at_all_only_costs_time(tmp_path: Path, monkeypatch) -> None:
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    monkeypatch.setenv("CIVIC_KPI_CACHE_DIR", str(blocked))
    assert holiday_dates(TEXAS, YEARS) == _by_hand()
    assert list(tmp_path.iterdir()) == [blocked]
    monkeypatch.setenv("CIVIC_KPI_CACHE_DIR", "")
    assert holiday_cache.cache_dir() is None
    assert holiday_dates(TEXAS, YEARS) == _by_hand()


def test_the_folder_follows_xdg_and_the_tests_never_write_the_users(monkeypatch, tmp_path: Path) -> None:
    assert "civic-kpi-test-cache-" in os.environ["CIVIC_KPI_CACHE_DIR"]  # conftest: never ~/.cache in a test run
    monkeypatch.delenv("CIVIC_KPI_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert holiday_cache.cache_dir() == tmp_path / "civic-kpi"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert holiday_cache.cache_dir() == Path.home() / ".cache" / "civic-kpi"


def test_an_unknown_country_is_refused_every_time_and_nothing_is_kept(folder: Path) -> None:
    from civic_kpi.errors import DataError

    nowhere = Calendar.model_validate({"holidays": {"country": "XX"}})
    for _ in range(2):
        with pytest.raises(DataError, match="does not know XX"):
            holiday_dates(nowhere, YEARS, "city")
    assert not (folder / "holidays").exists()


def test_a_version_that_is_not_one_plain_dist_info_folder_keeps_nothing(tmp_path: Path, monkeypatch) -> None:
    # Two installs side by side (or none, as in a source checkout): which one Python imports is not known without
    # importing it, so no file is keyed by either.
    import importlib.util

    package = tmp_path / "site" / "holidays"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    spec = importlib.util.spec_from_file_location("holidays", package / "__init__.py")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    assert holiday_cache.package_version() is None
    (tmp_path / "site" / "holidays-0.90.dist-info").mkdir()
    assert holiday_cache.package_version() == "0.90"
    (tmp_path / "site" / "holidays-0.91.dist-info").mkdir()
    assert holiday_cache.package_version() is None
    assert holiday_cache.key_of("US", None, None, YEARS) is None
