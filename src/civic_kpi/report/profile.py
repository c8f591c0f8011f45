"""An export's profile (`civic-kpi inspect`): its columns as a table, then the catalog entry that reads it."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from civic_kpi.report.formatting import plain
from civic_kpi.report.table import console_text
from civic_kpi.results import FileProfile

PROFILE_WIDTH = 160  # off a terminal: the width the profile always had


def render_profile(profile: FileProfile, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    """The profile as JSON or as a table followed by the matching preset and the catalog snippet."""
    if fmt == "json":
        return profile.model_dump_json(indent=2) + "\n"
    details = f"{profile.rows:,} records · {profile.format}"
    if profile.encoding:
        delimiter = {"\t": "tab"}.get(profile.delimiter or ",", profile.delimiter)
        details += f" · {profile.encoding} · delimiter {delimiter}"
    table = Table(title=plain(f"{profile.path} ({details})"), title_justify="left")
    for header in ("column", "type", "format", "missing", "distinct", "range", "examples"):
        table.add_column(header, overflow="fold")
    for column in profile.columns:
        span = f"{column.minimum} .. {column.maximum}" if column.minimum is not None else ""
        table.add_row(
            plain(column.name),
            column.type,
            plain(column.format or ""),
            f"{column.null_share:.1%}",
            f"{column.distinct:,}",
            plain(span),
            plain(" | ".join(column.examples)),
        )
    parts: list[RenderableType] = [table]
    if profile.json_path:
        parts.append(Text(plain(f"Records read from the JSON key '{profile.json_path}'.")))
    if profile.preset_matches:
        best = profile.preset_matches[0]
        parts.append(
            Text(
                f"Looks like preset {best.name} (matched {best.matched} of its {best.columns} columns; "
                "see civic-kpi presets)."
            )
        )
    parts.append(Text("Catalog entry:"))
    parts.append(Syntax(plain(profile.snippet), "yaml", theme="ansi_dark", background_color="default"))
    return console_text(Group(*parts), color=color, width=width or PROFILE_WIDTH)
