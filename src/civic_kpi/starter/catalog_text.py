"""`civic-kpi init FILE...`: a starter catalog for a city's own exports, commented line by line.

Each file is profiled as `inspect` does it. Files of one layout whose names differ only in digits (one export per
month) become one dataset read through a glob. A dataset that fits a bundled preset names it; any other lists
every column with the type and date format found. Then come the KPIs its columns allow (starter.seeds), each
with a comment and a target left for the team to set. The text is checked by loading it as a catalog before it
is handed back: a starter that would not validate is a bug here, never the user's problem.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from civic_kpi.catalog.model import Dataset
from civic_kpi.catalog.presets import preset_dataset
from civic_kpi.data.inspect import dataset_entry, inspect, kpi_name
from civic_kpi.errors import Problem, UsageError
from civic_kpi.results import FileProfile
from civic_kpi.starter.seeds import DUE, MAX_GROUPS, Columns, Seed, seeds


def starter_catalog(
    files: Sequence[str | Path], catalog: str | Path, timezone: str | None = None, today: date | None = None
) -> Starter:
    """The text of a starter catalog at `catalog` that reads `files`. `timezone`: the city's (IANA name); without
    it, the zone a matched preset reads its timestamps in, where one does."""
    if not files:
        raise UsageError(Problem("no export to start from", hint="name your files: civic-kpi init exports/*.csv"))
    paths = [Path(file).resolve() for file in files]
    profiles = [inspect(path) for path in paths]
    folder = Path(catalog).resolve().parent
    data_dir = Path(os.path.commonpath([path.parent for path in paths]))
    datasets: dict[str, tuple[dict[str, Any], list[FileProfile]]] = {}
    for pattern, members in _families(paths, profiles).items():
        first = members[0]
        stem = first.presets[0] if first.presets else re.sub(r"[\d?]+", "_", pattern.name.split(".")[0])
        name = _unique(kpi_name(stem).strip("_") or "export", datasets)
        dataset = Dataset.model_construct(
            path=first.path, format=None, delimiter=None, encoding="auto", json_path=first.json_path
        )
        entry = dataset_entry(Path(first.path), first.columns, first.presets, dataset)
        entry["path"] = (pattern if len(members) > 1 else Path(first.path)).relative_to(data_dir).as_posix()
        for column, spec in entry.get("columns", {}).items():
            # A deadline lies ahead of the records' moment by design: read as planned, not as a mistyped year.
            if isinstance(spec, dict) and spec.get("type") in ("date", "datetime") and DUE.search(column):
                spec["scheduled"] = True
        datasets[name] = (entry, members)
    layouts = {name: _columns(entry, members[0]) for name, (entry, members) in datasets.items()}
    proposals = {name: seeds(name, layouts[name], _domain(name, entry)) for name, (entry, _) in datasets.items()}
    if not any(proposals.values()):
        raise UsageError(
            Problem(
                "none of these exports has a date column, and every KPI needs one to place records in periods",
                hint="civic-kpi inspect FILE shows how each column was read (a date in an unusual format is text)",
            )
        )
    zone, said = (timezone, "given to civic-kpi init") if timezone else _preset_zone(datasets)
    if zone is None and _zoned(datasets):
        raise UsageError(
            Problem(
                "these exports carry time zones (an offset such as +00:00), so the catalog needs the city's own zone "
                "to place records in its days and months",
                hint="name it: civic-kpi init --timezone America/Chicago FILE...",
            )
        )
    _check_folder(folder)
    text = _text(datasets, proposals, os.path.relpath(data_dir, folder), today or date.today(), (zone, said))
    _check(text, folder)
    return Starter(text, _newest_month(datasets, layouts, proposals))


@dataclass(frozen=True)
class Starter:
    """A starter catalog's text, and the newest month any dataset has records opened in (where its first compute
    finds data: the default period, the last month before the data's newest stamp, may hold none of them)."""

    text: str
    newest_month: str | None


def _newest_month(
    datasets: dict[str, tuple[dict[str, Any], list[FileProfile]]],
    layouts: dict[str, Columns],
    proposals: dict[str, list[Seed]],
) -> str | None:
    months = []
    for name, (_, members) in datasets.items():
        opened = next((seed.fields["window"]["date"] for seed in proposals[name]), None)  # type: ignore[index]
        opened = layouts[name].sources.get(opened, opened)  # a preset's name → the export's
        for member in members:
            for column in member.columns:
                if column.kpi_name == opened and column.maximum:
                    months.append(column.maximum[:7])
    return max(months, default=None)


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise UsageError(
            Problem("the folder to write the catalog in does not exist", file=str(folder), hint="create it first")
        )


def _preset_zone(datasets: dict[str, tuple[dict[str, Any], list[FileProfile]]]) -> tuple[str | None, str]:
    """The zone the first matched preset reads local timestamps in (Boston 311: America/New_York): the
    publisher's city, likely the reader's too."""
    for entry, _ in datasets.values():
        if "preset" in entry:
            for spec in preset_dataset(entry["preset"]).get("columns", {}).values():
                zone = spec.get("timezone") if isinstance(spec, dict) else None
                if zone and zone != "UTC":
                    return zone, f"the zone preset {entry['preset']} reads its times in; set your city's"
    return None, ""


def _zoned(datasets: dict[str, tuple[dict[str, Any], list[FileProfile]]]) -> bool:
    """Whether any dataset reads a timestamp that names its zone: a preset's column or a format with %z."""
    for entry, members in datasets.values():
        if "preset" in entry:
            columns = preset_dataset(entry["preset"]).get("columns", {}).values()
            if any(isinstance(spec, dict) and spec.get("timezone") for spec in columns):
                return True
        if any(column.format and "%z" in column.format for column in members[0].columns):
            return True
    return False


def _families(paths: list[Path], profiles: list[FileProfile]) -> dict[Path, list[FileProfile]]:
    """Files of one folder and layout whose names differ only in their digits, under their glob ('calls_*.csv')."""
    families: dict[tuple[Path, tuple[str, ...]], list[FileProfile]] = {}
    for path, profile in zip(paths, profiles, strict=True):
        # Each digit a '?': the glob keeps the names' shape (requests_????-??.csv), so it never reads another
        # layout's file from the same folder ('*.csv' would), and still reads the months to come.
        pattern = path.with_name(re.sub(r"\d", "?", path.name))
        families.setdefault((pattern, tuple(c.name for c in profile.columns)), []).append(profile)
    found: dict[Path, list[FileProfile]] = {}
    for (pattern, _), members in families.items():
        key = pattern if len(members) > 1 else Path(members[0].path)
        found[key] = members
    return found


def _unique(name: str, taken: dict[str, Any]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    return candidate


def _columns(entry: dict[str, Any], profile: FileProfile) -> Columns:
    """What the dataset's KPI-side columns can do, from its preset's mapping or from the profile itself."""
    by_source = {column.name: column for column in profile.columns}
    found = Columns(date_column=entry.get("date_column"))
    found.never_empty = {column.kpi_name for column in profile.columns if column.null_share == 0}
    if "preset" in entry:
        preset = preset_dataset(entry["preset"])
        found.date_column = preset.get("date_column")
        for name, spec in preset.get("columns", {}).items():
            source, kind = (spec, "string") if isinstance(spec, str) else (spec.get("source"), spec.get("type"))
            column = by_source.get(source) if isinstance(source, str) else None
            if column is None:
                continue  # a column the preset maps that this export does not have
            _file(found, name, kind or "string", column.distinct, column.null_share)
            found.never_empty.discard(name)
            if column.null_share == 0:
                found.never_empty.add(name)
            found.sources[name] = column.kpi_name
        flags = preset.get("flags", {})
        found.flags += [flag for flag, spec in flags.items() if spec.get("column") in preset["columns"]]
        found.flag_sources = {flag: spec.get("column") for flag, spec in flags.items()}
        return found
    for column in profile.columns:
        _file(found, column.kpi_name, column.type, column.distinct, column.null_share)
    return found


def _file(found: Columns, name: str, kind: str, distinct: int, null_share: float) -> None:
    if kind in ("date", "datetime"):
        found.dates[name] = kind
    elif kind == "boolean":
        found.flags.append(name)
    elif kind == "string" and distinct <= MAX_GROUPS and null_share < 0.5:
        found.groups[name] = distinct


def _text(
    datasets: dict[str, tuple[dict[str, Any], list[FileProfile]]],
    proposals: dict[str, list[Seed]],
    data_dir: str,
    today: date,
    zone: tuple[str | None, str],
) -> str:
    lines = [
        "# yaml-language-server: $schema=kpi_definitions.schema.json",
        "#",
        f"# A starter catalog, written by `civic-kpi init` on {today.isoformat()}. Read it through, give each KPI the",
        "# target your policy sets (each has one to fill in), then run:",
        "#   civic-kpi validate && civic-kpi compute",
        "# `civic-kpi schema > kpi_definitions.schema.json` gives your editor completion for this file.",
        "version: 1",
        f"title: {_scalar('Our KPIs')}",
        f"data_dir: {_scalar(data_dir)}",
        f"timezone: {zone[0]}   # {zone[1]}"
        if zone[0]
        else "# timezone: America/Chicago   # the zone of the exports' local times, for durations exact across DST",
        "# fiscal_year_start_month: 7  # July: FY2026 is July 2025 to June 2026",
        "",
        "datasets:",
    ]
    for name, (entry, members) in datasets.items():
        rows = sum(member.rows for member in members)
        files = f"{len(members)} files" if len(members) > 1 else Path(members[0].path).name
        lines.append(f"  # {files}, {rows:,} records. " + _how_read(entry, members[0]))
        if len(members) > 1:
            lines.append("  # The path is a glob: it reads every file of this name in the folder, new months too.")
        lines += _indented(yaml.safe_dump({name: entry}, **_YAML), 2)
    lines += ["", "kpis:"]
    for name, found in proposals.items():
        if not found:
            lines.append(f"  # {name}: no KPI proposed, since no column reads as a date; see civic-kpi inspect")
        for seed in found:
            lines.append(f"  # {seed.comment}")
            first = {key: seed.fields[key] for key in ("id", "name")}
            rest = {key: value for key, value in seed.fields.items() if key not in first and key != "unit"}
            fields = {
                **first,
                "domain": _domain(name, datasets[name][0]),
                "unit": seed.fields["unit"],
                "dataset": name,
                **rest,
            }
            lines += _indented(yaml.safe_dump([fields], **_YAML), 2)
            lines.append(f"    # target: {seed.target_hint}   # your policy's goal; until set, the status is no_target")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


_YAML: dict[str, Any] = {"sort_keys": False, "allow_unicode": True, "width": 120, "default_flow_style": None}


def _how_read(entry: dict[str, Any], profile: FileProfile) -> str:
    if "preset" in entry:
        match = next((m for m in profile.preset_matches if m.name == entry["preset"]), None)
        counted = f" ({match.matched} of its {match.columns} columns found)" if match else ""
        return f"Read with the bundled preset {entry['preset']}{counted}: civic-kpi presets {entry['preset']}."
    return "Every column as inspected: check the types and formats."


def _domain(dataset: str, entry: dict[str, Any]) -> str:
    """A preset's title up to its first comma or parenthesis ('Boston 311 Service Requests'), else the name's."""
    if "preset" in entry:
        from civic_kpi.catalog.presets import presets

        return re.split(r"[,(]", presets()[entry["preset"]]["title"])[0].strip()
    return dataset.replace("_", " ").strip().title()


def _indented(text: str, spaces: int) -> list[str]:
    return [" " * spaces + line for line in text.rstrip("\n").splitlines()]


def _scalar(value: str) -> str:
    return yaml.safe_dump(value, default_style=None).removesuffix("\n...\n").strip()


def _check(text: str, folder: Path) -> None:
    """Load the text as a catalog where it will live (its data_dir is relative to it): it must validate."""
    from civic_kpi.catalog.loader import load_catalog

    hidden = {"prefix": ".civic-kpi-init.", "suffix": ".tmp"}  # beside the catalog, for its relative data_dir
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, encoding="utf-8", **hidden) as handle:
        handle.write(text)
    try:
        load_catalog(handle.name)
    finally:
        os.unlink(handle.name)
