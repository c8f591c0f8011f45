"""Regenerate the generated blocks of the README and of docs/ from the real program, so the docs cannot drift.

- the sample outputs: `civic-kpi compute` on the bundled catalog and sample data, as a file or pipe gets it, and
  the outputs of a few other commands the pages show (review, scorecard, check, a series, the I-S ranking);
- the CLI reference: the real `--help` of the app and of every command it registers, in the order `civic-kpi --help`
  lists them, so a new command is documented without editing this script;
- the formula functions: every function of the formula registry, with its signature and one-line doc;
- the catalog's fields and the JSON output documents' fields, from their Pydantic models' JSON Schemas;
- the presets, from their YAML files.

Each block sits between `<!-- NAME:start -->` and `<!-- NAME:end -->` in the one file BLOCKS names.

    python scripts/update_docs.py          # rewrite the files in place
    python scripts/update_docs.py --check  # exit 1 if a file is out of date (a test does this)
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
DOCS = ROOT / "docs"


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


def readme_output() -> str:
    return run_in_root("compute", "--kpi", "sla_compliance,reopen_rate,records_on_time", "--by", "")


def _schema_type(spec: dict) -> str:
    """A JSON Schema property's type in words: 'string', 'list of KpiResult', 'number or null'."""
    if isinstance(spec, bool):  # additionalProperties: true
        return "any"
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[1]
    if "anyOf" in spec:
        return " or ".join(dict.fromkeys(_schema_type(option) for option in spec["anyOf"]))
    if spec.get("type") == "array":
        items = spec.get("items") or spec.get("prefixItems") or {}
        inner = " and ".join(_schema_type(i) for i in items) if isinstance(items, list) else _schema_type(items)
        return f"list of {inner}" if inner else "list"
    if spec.get("type") == "object" and "patternProperties" in spec:
        values = " or ".join(dict.fromkeys(_schema_type(v) for v in spec["patternProperties"].values()))
        return f"map of names to {values}"
    if spec.get("type") == "object" and "additionalProperties" in spec:
        return f"map to {_schema_type(spec['additionalProperties'])}"
    if "enum" in spec:
        return " / ".join(f"`{value}`" for value in spec["enum"])
    if "const" in spec:
        return f"`{spec['const']}`"
    return str(spec.get("type", "any"))


def _fields_table(model: dict) -> str:
    required = set(model.get("required", []))
    rows = ["| field | type | description |", "|---|---|---|"]
    for name, spec in model.get("properties", {}).items():
        must = " (required)" if name in required else ""
        description = " ".join(str(spec.get("description", "")).split())
        rows.append(f"| `{name}`{must} | {_cell(_schema_type(spec))} | {_cell(description)} |")
    return "\n".join(rows) + "\n"


def catalog_fields() -> str:
    """Every part of the catalog and its fields, from the Pydantic models' JSON Schema (`civic-kpi schema`)."""
    from civic_kpi.catalog.model import json_schema

    schema = json_schema()
    parts = ["### Catalog (the file itself)\n", _fields_table(schema)]
    for name, model in schema.get("$defs", {}).items():
        if "properties" not in model:
            continue
        doc = " ".join(str(model.get("description", "")).split())
        parts += [f"\n### {name}\n", f"\n{_cell(doc)}\n\n" if doc else "\n", _fields_table(model)]
    return "\n".join(parts).replace("\n\n\n", "\n\n")


def output_schemas() -> str:
    """Each command's JSON document and the types it is made of, from `civic-kpi schema COMMAND`."""
    from civic_kpi.results import DOCUMENTS, document_schema

    parts, types = [], {}
    for command in DOCUMENTS:
        schema = document_schema(command)
        types |= schema.get("$defs", {})
        if schema.get("type") == "array":
            parts.append(f"### `{command}`\n\nA list of {_schema_type(schema['items'])}.\n")
        else:
            parts.append(f"### `{command}`\n\n{_fields_table(schema)}")
    for name, model in sorted(types.items()):
        if "properties" in model:
            doc = " ".join(str(model.get("description", "")).split())
            parts.append(f"### {name}\n\n" + (f"{_cell(doc)}\n\n" if doc else "") + _fields_table(model))
    return "\n".join(parts)


BLOCKS = {  # name → (the file it lives in, relative to the repository, and what makes it)
    "readme-output": ("README.md", readme_output),
    "sample-output": ("docs/guide/what-you-see.md", sample_output),
    "review-output": ("docs/how-to/monthly-review.md", review_output),
    "series-output": ("docs/guide/everyday-use.md", series_output),
    "scorecard-output": ("docs/how-to/scorecard.md", scorecard_output),
    "ranking-output": (
        "docs/reference/catalog.md",
        lambda: run_in_root("compute", "--kpi", "importance_satisfaction", "--by", "question"),
    ),
    "check-output": (
        "docs/how-to/ci.md",
        lambda: run_in_root("check", "--as-of", "2026-11-15 08:00", "--dataset", "service_requests"),
    ),
    "presets": ("docs/how-to/presets.md", preset_sections),
    "formula-functions": ("docs/reference/formula-functions.md", formula_functions),
    "catalog-fields": ("docs/reference/catalog.md", catalog_fields),
    "output-schemas": ("docs/reference/output-formats.md", output_schemas),
    "cli-reference": ("docs/reference/cli.md", cli_reference),
}


def updated(text: str, only: str | None = None) -> str:
    """`text` with its generated blocks rewritten (those of the file `only` names, when given)."""
    for name, (where, make) in BLOCKS.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if only is not None and where != only:
            continue
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{make()}{end}{tail}"
    return text


def stale() -> list[str]:
    """The files whose generated blocks are out of date."""
    files = dict.fromkeys(where for where, _ in BLOCKS.values())
    return [
        where
        for where in files
        if updated((ROOT / where).read_text(encoding="utf-8"), where) != (ROOT / where).read_text(encoding="utf-8")
    ]


def main() -> int:
    files = dict.fromkeys(where for where, _ in BLOCKS.values())
    if "--check" in sys.argv:
        out_of_date = stale()
        for where in out_of_date:
            print(f"out of date: {where}")
        return 1 if out_of_date else 0
    for where in files:
        path = ROOT / where
        path.write_text(updated(path.read_text(encoding="utf-8"), where), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
