"""Ready-made dataset mappings for layouts cities publish (one YAML file each in this folder).

A preset is a partial dataset: its format, date column and column mapping onto the names KPIs use, derived columns
for the publisher's codes (which statuses are closures, which channels are digital) and, for each timestamp, the
zone the publisher writes it in. A catalog uses one with `preset: NAME`; anything the catalog sets wins, and
`columns:` / `derived:` entries are merged key by key. Each file also documents its sources and its choices.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from civic_kpi.errors import CatalogError, Problem, did_you_mean


@functools.cache
def presets() -> dict[str, dict[str, Any]]:
    """Every bundled preset by name."""
    found = {}
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            document = yaml.safe_load(entry.read_text(encoding="utf-8"))
            found[document["name"]] = document
    return found


def preset_dataset(name: str, where: str | None = None, line: int | None = None) -> dict[str, Any]:
    known = presets()
    if name not in known:
        raise CatalogError(
            Problem(
                f"unknown preset '{name}'",
                file=where,
                line=line,
                hint=did_you_mean(name, list(known)) or "presets: " + ", ".join(known),
            )
        )
    return known[name]["dataset"]


def apply_preset(dataset: dict[str, Any], where: str | None = None, line: int | None = None) -> dict[str, Any]:
    """The catalog's dataset entry laid over its preset: catalog fields win; columns, derived and flags merge by
    key, and `NAME: null` drops the preset's entry."""
    name = dataset.get("preset")
    if not isinstance(name, str):
        return dataset
    merged = {**preset_dataset(name, where, line)}
    for key, value in dataset.items():
        if key in ("columns", "derived", "flags") and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **{k: _over(merged[key].get(k), v) for k, v in value.items()}}
        else:
            merged[key] = value
    # A derived column the catalog writes replaces the preset's flag of that name, and the other way round.
    for key, other in (("derived", "flags"), ("flags", "derived")):
        written = dataset.get(key)
        if isinstance(written, dict) and isinstance(merged.get(other), dict):
            mine = dataset.get(other) if isinstance(dataset.get(other), dict) else {}
            merged[other] = {k: v for k, v in merged[other].items() if k not in written or k in mine}
    return _drop_dependents(merged, dataset)


def _drop_dependents(merged: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
    """A column the catalog drops (`channel: null`) takes with it the preset's derived columns and flags that are
    computed from it, and those computed from them; they are dropped too, so a KPI naming one is told why."""
    from civic_kpi.formula import FormulaError, parse_formula

    columns = dataset.get("columns")
    gone = {k for k, v in columns.items() if v is None} if isinstance(columns, dict) else set()
    derived, flags = merged.get("derived") or {}, merged.get("flags") or {}
    if not gone or not isinstance(derived, dict) or not isinstance(flags, dict):
        return merged  # nothing dropped, or a malformed entry the model reports
    derived, flags = dict(derived), dict(flags)
    written = {k for key in ("derived", "flags") if isinstance(dataset.get(key), dict) for k in dataset[key]}
    changed = True
    while changed:
        changed = False
        for name, text in list(derived.items()):
            if not isinstance(text, str) or name in gone | written:
                continue
            try:
                used = parse_formula(text, row=True).columns
            except FormulaError:
                continue  # the catalog checks report it
            if used & gone:
                derived[name], changed = None, True
                gone.add(name)
        for name, flag in list(flags.items()):
            if isinstance(flag, dict) and flag.get("column") in gone and name not in gone | written:
                flags[name], changed = None, True
                gone.add(name)
    return {**merged, "derived": derived, "flags": flags}


def _over(preset: Any, catalog: Any) -> Any:
    """A catalog column over the preset's: renaming the source keeps the preset's type, format and zone."""
    if isinstance(preset, dict):
        if isinstance(catalog, str):
            return {**preset, "source": catalog}
        if isinstance(catalog, dict):
            return {**preset, **catalog}
    return catalog


# A preset is named for a file when the file has at least this share of the columns the preset reads.
MATCH_SHARE = 0.5


@dataclass(frozen=True)
class PresetScore:
    """How well a file's columns fit a preset: `matched` of the `columns` it reads, and the share of its signature
    (the columns, or top-level JSON keys, that tell its layout from a look-alike) the file has."""

    name: str
    matched: int
    columns: int
    signature: float

    @property
    def share(self) -> float:
        return self.matched / self.columns if self.columns else 0.0


def preset_sources(name: str) -> set[str]:
    """The export columns a preset reads (nested JSON fields as dotted paths, e.g. publisher.name)."""
    sources = set()
    for column, spec in (presets()[name]["dataset"].get("columns") or {}).items():
        if isinstance(spec, str):
            sources.add(spec)
        elif isinstance(spec, dict):
            sources.add(spec.get("source") or column)
            sources |= {spec["time_source"]} if spec.get("time_source") else set()
    return sources


def match(columns: Iterable[str], json_path: str | None = None, keys: Iterable[str] = ()) -> list[PresetScore]:
    """Presets a file fits, best first: its records' `columns` (read from under `json_path`; `keys`: the JSON's
    top-level keys) hold at least MATCH_SHARE of the columns the preset reads, and it reads records from the same
    place. Ranked by signature, then by the share of the preset's columns found."""
    present, top = set(columns), set(keys)
    scores = []
    for name, document in presets().items():
        if document["dataset"].get("json_path") != json_path:
            continue  # a data.json's records sit under `dataset`: an array of records is another layout
        sources = preset_sources(name)
        signature = document.get("signature") or []
        found = len((present | top) & set(signature)) / len(signature) if signature else 0.0
        score = PresetScore(name, len(present & sources), len(sources), found)
        if score.columns and score.share >= MATCH_SHARE:
            scores.append(score)
    return sorted(scores, key=lambda s: (-s.signature, -s.share, -s.matched, s.name))
