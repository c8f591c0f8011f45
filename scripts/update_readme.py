"""Regenerate the README's generated blocks from the real program, so the docs cannot drift.

- the sample output: `civic-kpi compute` on the bundled catalog and sample data, as a file or pipe gets it, and
  the outputs of a few other commands the README shows (review, scorecard, check, the I-S ranking);
- the CLI reference: the real `--help` of the app and of every command it registers, in the order `civic-kpi --help`
  lists them, so a new command is documented without editing this script;
- the formula functions: every function of the formula registry, with its signature and one-line doc.

    python scripts/update_readme.py          # rewrite README.md in place
    python scripts/update_readme.py --check  # exit 1 if README.md is out of date (a test does this)
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from civic_kpi.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def command_names() -> list[str]:
    """Every command the app registers and shows, in the order of `civic-kpi --help`."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    return [name for name, command in group.commands.items() if not command.hidden]


def cli_reference() -> str:
    runner = CliRunner()
    parts = []
    for command in [[], *([name] for name in command_names())]:
        result = runner.invoke(app, [*command, "--help"], terminal_width=100, env={"COLUMNS": "100"})
        title = " ".join(["civic-kpi", *command])
        parts.append(f"### `{title} --help`\n\n```\n{result.stdout.rstrip()}\n```\n")
    return "\n".join(parts)


def run_in_root(*args: str) -> str:
    """A command's output as a pipe 100 columns wide gets it, run from the repository root like the README says."""
    runner = CliRunner()
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        result = runner.invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "100"})
    finally:
        os.chdir(cwd)
    body = "\n".join(line.rstrip() for line in result.stdout.rstrip().splitlines())
    return f"```\n$ civic-kpi {shlex.join(args)}\n{body}\n```\n"


def sample_output() -> str:
    return run_in_root("compute")


def review_output() -> str:
    return run_in_root("review", "--month", "2026-10")


def series_output() -> str:
    series = ("--period", "FY2026", "--every", "month")
    return run_in_root("compute", *series, "--kpi", "sla_compliance", "--by", "priority")


def scorecard_output() -> str:
    return run_in_root("scorecard", "--fiscal-year", "FY2026", "--domain", "311 Customer Service")


def preset_sections() -> str:
    """One section per bundled preset: where the layout comes from, the choices it makes, and how to use it."""
    import yaml

    from civic_kpi.catalog.presets import presets

    parts = []
    for name, document in presets().items():
        dataset = document["dataset"]
        flags = dataset.get("flags", {})
        named = [*dataset.get("columns", {}), *dataset.get("derived", {}), *flags]
        columns = ", ".join(f"`{c}`" for c in named)
        example = {"datasets": {"requests": {"preset": name, "path": "exports/" + _example_file(dataset)}}}
        snippet = yaml.safe_dump(example, sort_keys=False).rstrip()
        choices = "\n".join(f"- {choice}" for choice in document.get("choices", []))
        sources = ", ".join(document.get("documentation", []))
        lists = "".join(
            f"- `{flag}` (from `{spec['column']}`{', any case' if spec.get('ignore_case') else ''}): true for "
            f"{_values(spec['true_for'])}; false for {_values(spec['false_for'])}; any other value counts as false "
            f"and is reported. Source: {spec['source']}.\n"
            for flag, spec in flags.items()
        )
        parts.append(
            f"#### `{name}`: {document['title']}\n\n{document['publisher']}. Sources: {sources}\n\n{choices}\n\n"
            + (f"Code lists:\n\n{lists}\n" if lists else "")
            + f"Columns for formulas: {columns}.\n\n```yaml\n{snippet}\n```\n"
        )
    return "\n".join(parts)


def _values(values: list[str]) -> str:
    return ", ".join(f"`{value}`" for value in values)


def formula_functions() -> str:
    """The registry of formula functions as two tables, aggregates then row functions, in registry order."""
    from civic_kpi.formula import REGISTRY

    tables = [
        ("aggregate", "**Aggregates** see the period's records, narrowed by their `where=condition`:", "aggregate"),
        ("row", "**Row functions** work on one record's values (or on literals):", "function"),
    ]
    parts = []
    for kind, title, header in tables:
        rows = [
            f"| `{function.signature}` | {_cell(function.doc)} |"
            for function in REGISTRY.values()
            if function.kind == kind
        ]
        parts.append("\n".join([title, "", f"| {header} | gives |", "|---|---|", *rows]) + "\n")
    return "\n".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a bar would end the table cell


def _example_file(dataset: dict) -> str:
    return {"json": "export.json", "parquet": "export.parquet"}.get(dataset.get("format", ""), "export_*.csv")


BLOCKS = {
    "sample-output": sample_output,
    "review-output": review_output,
    "series-output": series_output,
    "scorecard-output": scorecard_output,
    "ranking-output": lambda: run_in_root("compute", "--kpi", "importance_satisfaction", "--by", "question"),
    "check-output": lambda: run_in_root("check", "--as-of", "2026-11-15 08:00", "--dataset", "service_requests"),
    "presets": preset_sections,
    "formula-functions": formula_functions,
    "cli-reference": cli_reference,
}


def updated(text: str) -> str:
    for name, make in BLOCKS.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{make()}{end}{tail}"
    return text


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = updated(text)
    if "--check" in sys.argv:
        return 0 if new == text else 1
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
