"""What a catalog holds and what the tool ships with: `civic-kpi list` and `civic-kpi presets`."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from civic_kpi.report.formatting import plain
from civic_kpi.report.table import console_text
from civic_kpi.results import KpiList

# Off a terminal the listing keeps the width it always had, so scripts diffing it see no change.
LIST_WIDTH = 160
LIST_COLUMNS = ("id", "name", "domain", "unit", "dataset", "target")


def render_kpi_list(listing: KpiList, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    """The KPIs as a JSON array (one object per KPI) or a table."""
    if fmt == "json":
        return json.dumps([entry.model_dump() for entry in listing.kpis], indent=2) + "\n"
    table = Table(title=plain(listing.catalog.title), title_justify="left")
    for column in LIST_COLUMNS:
        table.add_column(column, overflow="fold")
    for entry in listing.kpis:
        row = entry.model_dump()
        row["dataset"] = row["dataset"] or "from " + ", ".join(row["from_kpis"])
        table.add_row(*(plain(str(row[column] or "")) for column in LIST_COLUMNS))
    return console_text(table, color=color, width=width or LIST_WIDTH)


def render_presets(documents: dict[str, dict[str, Any]]) -> str:
    """Each preset's name and title, then the choices it makes."""
    lines = []
    for name, document in documents.items():
        lines.append(f"{name}: {document['title']}")
        lines.extend(f"    - {choice}" for choice in document.get("choices", []))
    return "".join(line + "\n" for line in lines)


def render_preset(document: dict[str, Any]) -> str:
    """One preset whole: where the layout comes from, how it is recognised, the choices it makes, the columns it
    gives formulas, how to use it and its mapping, as the catalog would spell it."""
    import yaml

    dataset = document["dataset"]
    named = [*dataset.get("columns", {}), *dataset.get("derived", {}), *dataset.get("flags", {})]
    example = {"datasets": {"requests": {"preset": document["name"], "path": "exports/..."}}}
    lines = [
        f"{document['name']}: {document['title']}",
        f"publisher: {document['publisher']}",
        *(f"documentation: {url}" for url in document.get("documentation", [])),
        f"recognised by the columns: {', '.join(document.get('signature', []))}",
        "choices:",
        *(f"    - {choice}" for choice in document.get("choices", [])),
        f"columns for formulas: {', '.join(named)}",
        "use it:",
        *("    " + line for line in yaml.safe_dump(example, sort_keys=False).splitlines()),
        "its mapping (a dataset may override any part):",
        *("    " + line for line in yaml.safe_dump(dataset, sort_keys=False, allow_unicode=True).splitlines()),
    ]
    return "".join(plain(line) + "\n" for line in lines)
