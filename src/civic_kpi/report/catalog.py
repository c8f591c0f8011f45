"""What a catalog holds and what the tool ships with: `civic-kpi list` and `civic-kpi presets`."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.text import Text

from civic_kpi.report.formatting import plain
from civic_kpi.report.table import TABLE_WIDTH, column, console_text, fitted_sections
from civic_kpi.results import KpiList

LIST_COLUMNS = ("id", "name", "domain", "unit", "dataset", "target")


def render_kpi_list(listing: KpiList, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    """The KPIs as a JSON array (one object per KPI) or a table."""
    if fmt == "json":
        return json.dumps([entry.model_dump() for entry in listing.kpis], indent=2) + "\n"
    rows = []
    for entry in listing.kpis:
        row = entry.model_dump()
        row["dataset"] = row["dataset"] or "from " + ", ".join(row["from_kpis"])
        rows.append(row)
    # An id is what --kpi takes: never shortened, never wrapped; a name may end in an ellipsis where room is short.
    columns = [
        column("id", [row["id"] for row in rows], wrap=False),
        column("name", [plain(row["name"]) for row in rows], label=True, max_width=36),
        column("unit", [plain(row["unit"]) for row in rows]),
        column("dataset", [plain(str(row["dataset"])) for row in rows], max_width=30),
        column("target", [plain(str(row["target"] or "")) for row in rows], max_width=50),
    ]
    width = width or TABLE_WIDTH
    domains = list(dict.fromkeys(row["domain"] for row in rows))
    sections = [(domain, [i for i, row in enumerate(rows) if row["domain"] == domain]) for domain in domains]
    header = Text(plain(listing.catalog.title), style="bold")
    parts = fitted_sections(sections, columns, width, ("unit", "dataset"), "-f json has them all")
    return console_text(Group(header, Text(""), *parts), color=color, width=width)


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
