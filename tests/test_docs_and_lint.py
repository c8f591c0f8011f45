"""Docs that cannot drift: the generated blocks of the README and docs/ are current, the site builds with
`mkdocs build --strict`, every command, catalog field, formula function, output document and exit code is in the
reference; the README's set-up commands are the ones CI runs; every --help has an example; lint is clean."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import update_docs

DOCS = ROOT / "docs"


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _block(text: str, name: str) -> str:
    return text.split(f"<!-- {name}:start -->", 1)[1].split(f"<!-- {name}:end -->", 1)[0]


def test_the_generated_blocks_are_current():
    assert update_docs.stale() == [], "run: python scripts/update_docs.py"


def test_every_block_is_in_the_file_that_holds_it():
    for name, (where, _) in update_docs.BLOCKS.items():
        text = (ROOT / where).read_text(encoding="utf-8")
        assert text.count(f"<!-- {name}:start -->") == 1 and text.count(f"<!-- {name}:end -->") == 1, (name, where)


def test_the_formula_reference_lists_every_function_of_the_registry():
    from civic_kpi.formula import REGISTRY

    block = _block(_page("reference/formula-functions.md"), "formula-functions")
    for function in REGISTRY.values():
        assert f"| `{function.signature}` | {function.doc} |" in block, function.name


def test_the_catalog_reference_names_every_field_of_every_part():
    from civic_kpi.catalog.model import json_schema

    block = _block(_page("reference/catalog.md"), "catalog-fields")
    schema = json_schema()
    for part, model in [("Catalog", schema), *schema["$defs"].items()]:
        for field in model.get("properties", {}):
            assert re.search(rf"\| `{re.escape(field)}`( \(required\))? \|", block), (part, field)


def test_the_output_reference_describes_every_document_and_exit_code():
    from civic_kpi.errors import ExitCode
    from civic_kpi.results import DOCUMENTS

    block = _block(_page("reference/output-formats.md"), "output-schemas")
    for command in DOCUMENTS:
        assert f"### `{command}`" in block, command
    assert "| `summary` (required) |" in block and "### TargetRule" in block
    codes = _page("reference/exit-codes.md")
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \|", codes, re.M), code


def test_the_readme_is_a_front_page_under_300_lines_that_links_every_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 300
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = re.findall(r":\s+([\w/-]+\.md)", nav)
    assert len(pages) >= 18
    for page in pages:
        assert (DOCS / page).exists(), page
        assert page == "index.md" or f"](docs/{page})" in readme, f"the README links no {page}"


def test_readme_set_up_commands_are_the_ones_ci_runs():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n(python3 -m venv[^\n]+)\n```", text)
    assert commands[:2] == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install . && civic-kpi compute",
        'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && pytest',
    ]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_the_site_builds_strict_with_every_command_in_its_reference(tmp_path):
    """`mkdocs build --strict`: a broken link or anchor, a page missing from the nav, fails the build."""
    pytest.importorskip("material", reason="MkDocs Material is a test dependency: pip install -e '.[test]'")
    env = {**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    page = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    for name in REGISTERED:
        assert f"civic-kpi {name} --help" in page, name
    search = json.loads((tmp_path / "site" / "search" / "search_index.json").read_text(encoding="utf-8"))
    titles = {doc["title"] for doc in search["docs"]}
    assert {"Your first catalog in ten minutes", "Run it from cron", "Formula functions"} <= titles


REGISTERED = update_docs.command_names()


def test_every_registered_command_is_found():
    # The two tests below are only as good as this list: it must come from the app, not be typed by hand.
    assert {"compute", "review", "scorecard", "check", "validate", "inspect", "presets", "list", "schema"} <= set(
        REGISTERED
    )


def test_the_cli_reference_covers_every_registered_command():
    reference = _block(_page("reference/cli.md"), "cli-reference")
    missing = [name for name in REGISTERED if f"### `civic-kpi {name} --help`" not in reference]
    assert missing == [], "run: python scripts/update_docs.py"


def test_a_new_command_enters_the_cli_reference_without_editing_the_script(monkeypatch):
    import typer

    scratch = typer.Typer(name="civic-kpi", rich_markup_mode=None)

    @scratch.command()
    def first() -> None:
        """A command."""

    @scratch.command("second-one")
    def second() -> None:
        """Another command, named apart from its function."""

    monkeypatch.setattr(update_docs, "app", scratch)
    assert update_docs.command_names() == ["first", "second-one"]
    reference = update_docs.cli_reference()
    assert "### `civic-kpi first --help`" in reference and "### `civic-kpi second-one --help`" in reference


@pytest.mark.parametrize("command", REGISTERED)
def test_every_command_help_has_an_example(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert re.search(r"Examples?:\n\s+civic-kpi " + command, result.stdout)


def test_help_does_not_import_polars():
    code = "import sys; from civic_kpi.cli import app; import civic_kpi; print('polars' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(ROOT / ".venv" / "bin" / "ruff")
    if not shutil.which(ruff):
        pytest.skip("ruff is not installed (pip install -e '.[test]' installs it)")
    for args in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
