"""Docs that cannot drift (README CLI reference, README commands, --help examples) and a clean lint."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import update_readme


def test_readme_cli_reference_is_current():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert update_readme.updated(text) == text, "run: python scripts/update_readme.py"


def test_readme_formula_reference_lists_every_function_of_the_registry():
    from civic_kpi.formula import REGISTRY

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- formula-functions:start -->", 1)[1].split("<!-- formula-functions:end -->", 1)[0]
    for function in REGISTRY.values():
        assert f"| `{function.signature}` | {function.doc} |" in block, function.name


def test_readme_set_up_commands_are_the_ones_ci_runs():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n(python3 -m venv[^\n]+)\n```", text)
    assert commands[:2] == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install . && civic-kpi compute",
        'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]" && pytest',
    ]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


REGISTERED = update_readme.command_names()


def test_every_registered_command_is_found():
    # The two tests below are only as good as this list: it must come from the app, not be typed by hand.
    assert {"compute", "review", "scorecard", "check", "validate", "inspect", "presets", "list", "schema"} <= set(
        REGISTERED
    )


def test_readme_cli_reference_covers_every_registered_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    reference = text.split("<!-- cli-reference:start -->", 1)[1].split("<!-- cli-reference:end -->", 1)[0]
    missing = [name for name in REGISTERED if f"### `civic-kpi {name} --help`" not in reference]
    assert missing == [], "run: python scripts/update_readme.py"


def test_a_new_command_enters_the_cli_reference_without_editing_the_script(monkeypatch):
    import typer

    scratch = typer.Typer(name="civic-kpi", rich_markup_mode=None)

    @scratch.command()
    def first() -> None:
        """A command."""

    @scratch.command("second-one")
    def second() -> None:
        """Another command, named apart from its function."""

    monkeypatch.setattr(update_readme, "app", scratch)
    assert update_readme.command_names() == ["first", "second-one"]
    reference = update_readme.cli_reference()
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
