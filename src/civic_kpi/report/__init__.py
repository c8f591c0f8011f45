"""Reporters turn a ComputeRun into text. They format; they never compute."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the commands import only the reporter they use: the package itself loads no model
    from civic_kpi.results import ComputeRun

Format = Literal["table", "json", "csv", "markdown"]


def render(run: ComputeRun, fmt: Format, *, color: bool = False, width: int | None = None) -> str:
    """The run in one of the output formats, as text (`table` with ANSI colors only when `color`)."""
    if fmt == "json":
        from civic_kpi.report.records import to_json

        return to_json(run)
    if fmt == "csv":
        from civic_kpi.report.records import to_csv

        return to_csv(run)
    if fmt == "markdown":
        from civic_kpi.report.markdown import to_markdown

        return to_markdown(run)
    from civic_kpi.report.table import to_text

    return to_text(run, color=color, width=width)
