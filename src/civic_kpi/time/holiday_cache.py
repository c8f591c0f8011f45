"""Public holidays as the `holidays` package lists them, kept on disk between runs.

Asking the package for one country's holidays imports all of its 250 country modules: about 0.1 s, the largest
fixed cost of a run on a small export (a dashboard of the sample takes 2 s). For one version of the package the
dates of a country, subdivision, categories and years never change, so each list is kept as a small JSON file in
the user's cache folder and read from there on every later run, without importing the package.

The folder is $CIVIC_KPI_CACHE_DIR, else $XDG_CACHE_HOME/civic-kpi, else ~/.cache/civic-kpi; CIVIC_KPI_CACHE_DIR
set empty keeps nothing. The cache only ever saves time: a folder that cannot be written, a file that cannot be
read or holds anything else, or a package whose version cannot be found without importing it, and the package is
asked, as without a cache. Files are written whole (a temporary file renamed), so two runs at once never read half
of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from datetime import date
from pathlib import Path

VARIABLE = "CIVIC_KPI_CACHE_DIR"


def cache_dir() -> Path | None:
    """The folder civic-kpi keeps its cache in, or None where the user turned it off."""
    chosen = os.environ.get(VARIABLE)
    if chosen is not None:
        return Path(chosen).expanduser() if chosen.strip() else None
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "civic-kpi"


def package_version() -> str | None:
    """The installed `holidays` version, read from its distribution's folder name without importing it (importing
    the package alone costs a third of what the cache saves); None where that is not one plain folder."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("holidays")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    found = [path.name for path in Path(spec.origin).parent.parent.glob("holidays-*.dist-info")]
    if len(found) != 1:
        return None
    return found[0].removeprefix("holidays-").removesuffix(".dist-info")


def _file(key: dict[str, object]) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    return folder / "holidays" / f"{name}.json"


def key_of(country: str, subdivision: str | None, categories: tuple[str, ...] | None, years: range) -> dict | None:
    """What a list of holidays depends on, or None where the package's version is unknown (nothing is cached)."""
    version = package_version()
    if version is None:
        return None
    return {
        "holidays": version,
        "country": country,
        "subdivision": subdivision,
        "categories": list(categories) if categories else None,
        "years": [years.start, years.stop, years.step],
    }


def read(key: dict | None) -> list[date] | None:
    """The dates kept for `key`, or None: not kept, or not readable as what was written."""
    path = _file(key) if key is not None else None
    if path is None:
        return None
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept["key"] != key:
            return None
        return [date.fromisoformat(day) for day in kept["dates"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(key: dict | None, dates: list[date]) -> None:
    """Keep the dates for `key`; a folder that cannot be written is left alone."""
    path = _file(key) if key is not None else None
    if path is None:
        return
    text = json.dumps({"key": key, "dates": [day.isoformat() for day in sorted(dates)]})
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
