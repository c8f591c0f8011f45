"""The layout is the architecture: import-linter's contracts (pyproject.toml) hold, and no module imports itself
back through another."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports") or str(ROOT / ".venv" / "bin" / "lint-imports")
    if not shutil.which(lint):
        pytest.skip("import-linter is not installed (pip install -e '.[test]' installs it)")
    done = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout and "4 kept, 0 broken" in done.stdout


def test_no_module_is_part_of_an_import_loop():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("civic_kpi", exclude_type_checking_imports=True)
    loops = [
        (module, imported)
        for module in sorted(graph.modules)
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    ]
    assert loops == []


def test_the_catalog_never_reaches_the_engine_or_the_data_sources():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("civic_kpi", exclude_type_checking_imports=True)
    for low, high in [("civic_kpi.catalog", "civic_kpi.engine"), ("civic_kpi.catalog", "civic_kpi.data")]:
        assert not graph.chain_exists(importer=low, imported=high, as_packages=True), (low, high)


def test_only_the_formula_parser_reads_python_syntax():
    """Formulas become the language's own tree in formula/parse.py; nothing else walks Python's `ast`."""
    src = ROOT / "src" / "civic_kpi"
    readers = sorted(
        path.relative_to(src).as_posix()
        for path in src.rglob("*.py")
        if re.search(r"^\s*(import ast\b|from ast import)", path.read_text(encoding="utf-8"), re.MULTILINE)
    )
    assert readers == ["formula/parse.py"]
