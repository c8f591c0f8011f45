"""Each kind of data-quality check is one module behind one registry: a new kind is one new file, which the
catalog (its validation and JSON Schema) and `civic-kpi check` both pick up with nothing else edited."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import typing

from civic_kpi.catalog.model import Check, CheckKind, json_schema
from civic_kpi.check_kinds import CheckSpec, FileKind, RowKind, registry
from tests.conftest import ROOT, write_csv

KINDS = ["missing", "duplicates", "order", "future", "freshness", "allowed_values", "row_count", "schema"]


def test_the_catalog_offers_exactly_the_registered_kinds_in_their_order():
    assert list(registry()) == KINDS  # the order the JSON Schema and the message for a typo always listed
    assert typing.get_args(CheckKind) == tuple(registry())
    assert json_schema()["$defs"]["Check"]["properties"]["check"]["enum"] == KINDS


def test_every_kind_is_a_module_named_after_it_with_every_piece():
    for name, kind in registry().items():
        assert type(kind).__module__ == f"civic_kpi.check_kinds.{name}"
        assert isinstance(kind, RowKind | FileKind) and isinstance(kind.position, int)
        assert all(field in Check.model_fields for field in (*kind.needs, *kind.date_fields)), name


def test_the_kinds_read_only_fields_the_catalog_model_has():
    assert set(typing.get_type_hints(CheckSpec)) <= set(Check.model_fields)


NEW_KIND = '''
"""`negative`: records with a value below zero (a wait time, an amount)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from civic_kpi.check_kinds import CheckSpec, Inputs, RowKind, RowMeasure

if TYPE_CHECKING:
    import polars as pl


class Negative(RowKind):
    name = "negative"
    position = 90
    needs = ("column",)

    def measure(self, spec: CheckSpec, rows: pl.Expr, inputs: Inputs) -> RowMeasure:
        import polars as pl

        return self.counted(spec, rows, rows & (pl.col(spec.column) < 0).fill_null(False))


KIND = Negative()
'''

# Runs in a fresh interpreter: the catalog model takes its list of kinds from the registry when first imported.
PROBE = """
import json, sys
import civic_kpi.check_kinds as kinds
kinds.__path__.append(sys.argv[1])  # as if the one new file had been dropped into the package
from civic_kpi.catalog.loader import load_catalog
from civic_kpi.catalog.model import json_schema
from civic_kpi.errors import CatalogError
from civic_kpi.quality import check
refused = []
try:
    load_catalog(sys.argv[3])
except CatalogError as exc:
    refused = [p.message for p in exc.problems]
run = check(sys.argv[2], now="2026-10-10")
print(json.dumps({
    "enum": json_schema()["$defs"]["Check"]["properties"]["check"]["enum"],
    "refused": refused,
    "results": [r.model_dump(mode="json") for r in run.results],
}))
"""


def _catalog(path, checks: str):
    path.write_text(
        textwrap.dedent(
            """\
            data_dir: data
            datasets:
              calls:
                path: calls.csv
                date_column: offered
                columns:
                  offered: {type: date, format: "%Y-%m-%d"}
                  wait: {type: integer}
                checks:
            """
        )
        + checks
        + "kpis: [{id: n, name: N, domain: D, unit: count, dataset: calls, value: count()}]\n"
    )
    return path


def test_a_new_kind_is_one_new_file(tmp_path):
    (tmp_path / "kinds").mkdir()
    (tmp_path / "kinds" / "negative.py").write_text(NEW_KIND)
    rows = [["2026-10-01", "5"], ["2026-10-02", "-1"], ["2026-10-03", "3"], ["2026-10-04", "-2"], ["2026-10-05", ""]]
    write_csv(tmp_path / "data" / "calls.csv", ["offered", "wait"], rows)
    good = _catalog(
        tmp_path / "good.yaml",
        "      - {check: negative, column: wait}\n"
        "      - {check: negative, column: wait, share: true, warn: 0.3, fail: 0.5}\n",
    )
    bad = _catalog(tmp_path / "bad.yaml", "      - {check: negative}\n")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "kinds"), str(good), str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["enum"] == [*KINDS, "negative"]
    assert seen["refused"] == ["a 'negative' check needs 'column'"]
    count, share = seen["results"]
    assert count["name"] == "negative: wait" and count["status"] == "fail" and count["metric"] == 2
    assert (count["unit"], count["threshold"], count["message"]) == ("records", "fail > 0", "2 records")
    assert [(e["file"], e["row"], e["wait"]) for e in count["examples"]] == [("calls.csv", 2, -1), ("calls.csv", 4, -2)]
    assert share["status"] == "warn" and share["metric"] == 0.4  # 2 of 5 records
    assert share["threshold"] == "warn > 30.00%, fail > 50.00%" and share["message"] == "40.00% of the records"
