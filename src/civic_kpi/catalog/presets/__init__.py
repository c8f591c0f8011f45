"""Ready-made dataset mappings for layouts cities publish (one YAML file each in this folder).

A preset is a partial dataset: its format, date column and column mapping onto the names KPIs use, derived columns
for the publisher's codes (which statuses are closures, which channels are digital) and, for each timestamp, the
zone the publisher writes it in. A catalog uses one with `preset: NAME`; anything the catalog sets wins, and
`columns:` / `derived:` entries are merged key by key. Each file also documents its sources and its choices.
"""

from __future__ import annotations

import functools
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
    """The catalog's dataset entry laid over its preset: catalog fields win; columns and derived merge by key."""
    name = dataset.get("preset")
    if not isinstance(name, str):
        return dataset
    merged = {**preset_dataset(name, where, line)}
    for key, value in dataset.items():
        if key in ("columns", "derived") and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **{k: _over(merged[key].get(k), v) for k, v in value.items()}}
        else:
            merged[key] = value
    return merged


def _over(preset: Any, catalog: Any) -> Any:
    """A catalog column over the preset's: renaming the source keeps the preset's type, format and zone."""
    if isinstance(preset, dict):
        if isinstance(catalog, str):
            return {**preset, "source": catalog}
        if isinstance(catalog, dict):
            return {**preset, **catalog}
    return catalog


def match(columns: list[str]) -> list[tuple[str, float]]:
    """Presets whose signature columns a file has, best first, with the share of the signature found."""
    present = set(columns)
    scores = []
    for name, document in presets().items():
        signature = document.get("signature") or []
        if signature:
            share = len(present & set(signature)) / len(signature)
            if share >= 0.8:
                scores.append((name, share))
    return sorted(scores, key=lambda item: -item[1])
