"""`civic-kpi check --engine duckdb|postgres|spark`: every kind of check measured as SQL (check_kinds' sql_measure,
quality/on_engine.py) gives the Polars runner's results, field by field: statuses and counts exactly, a share or
days to 1e-9, and the same example rows in file and row order."""

from __future__ import annotations

import math

import pytest

import civic_kpi
import civic_kpi.quality as quality
from tests.conftest import CATALOG, write_csv
from tests.test_checks import NOW, catalog_with
from tests.test_sql_engine import SQL_ENGINES, _use_engine

pytest.importorskip("duckdb", reason="the SQL engines' tests need DuckDB (pip install 'civic-kpi[duckdb]')")

# Every kind, a share and a `where` among them, on the hand-made export of tests/test_checks.py (whose expected
# metrics were worked out by hand there).
EVERY_KIND = """\
- {check: missing, column: hood, warn: 0.05, fail: 0.10}
- {check: missing, column: closed, where: "status == 'Closed'", fail: 0.4}
- {check: duplicates, columns: [id]}
- {check: duplicates, columns: [id, status], share: true, warn: 0.5}
- {check: duplicates, columns: [status], where: "hood is not None", share: true}
- {check: order, first: created, then: closed}
- {check: future, column: created}
- {check: future, column: closed, where: "status == 'Open'"}
- {check: freshness, column: created, warn: 2, fail: 10}
- {check: freshness, column: created, where: "status == 'Closed'", fail: 3}
- {check: freshness, column: closed, where: "status == 'Nothing'"}
- {check: allowed_values, column: status, values: [Open, Closed]}
- {check: allowed_values, column: hood, ref: hoods, share: true, warn: 0.1}
- {check: row_count, min: 3, warn_max: 5}
- {check: row_count, min: 10, where: "status == 'Closed'"}
- {check: schema}
"""


@pytest.fixture(
    params=[pytest.param(name, marks=[pytest.mark.slow] if name == "spark" else []) for name in SQL_ENGINES]
)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    return _use_engine(request.param, request, monkeypatch)


def assert_same_checks(ours, theirs) -> None:
    assert len(ours.results) == len(theirs.results)
    for mine, other in zip(ours.results, theirs.results, strict=True):
        left, right = mine.model_dump(mode="json"), other.model_dump(mode="json")
        a, b = left.pop("metric"), right.pop("metric")
        assert a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9)), (mine.name, a, b)
        assert left == right


def test_every_kind_of_check_agrees(tmp_path, engine: str) -> None:
    catalog = catalog_with(tmp_path, EVERY_KIND)
    ours = quality.check(catalog, now=NOW)
    theirs = quality.check(catalog, now=NOW, engine=engine)
    assert_same_checks(ours, theirs)
    by_name = {r.name: r for r in theirs.results}
    # By hand (tests/test_checks.py): one record of six without a hood; id 2 twice, and (id, status) never twice.
    assert by_name["missing: hood"].metric == pytest.approx(1 / 6) and by_name["missing: hood"].status == "fail"
    assert [r.metric for r in theirs.results if r.check == "duplicates"][:2] == [1.0, 0.0]
    assert [e["row"] for e in by_name["duplicates: id"].examples] == [2, 3]
    # The five records with a hood are Closed four times and Opn once (the Open one has none): three records too
    # many of five.
    assert by_name["duplicates: status"].metric == pytest.approx(3 / 5)
    # No record is 'Nothing': no records to measure, not a number.
    stale = [r for r in theirs.results if r.check == "freshness"][2]
    assert stale.metric is None and stale.message == "no records to measure"


def test_the_bundled_catalogs_checks_agree(engine: str) -> None:
    ours = civic_kpi.Session(CATALOG, as_of="2026-11-15").check()
    theirs = civic_kpi.Session(CATALOG, as_of="2026-11-15", engine=engine).check()
    assert_same_checks(ours, theirs)
    assert {r.status for r in theirs.results} == {"pass", "warn"}  # the warnings carry example rows
    assert all(r.examples for r in theirs.results if r.status == "warn" and r.check != "schema")


def test_a_check_sql_cannot_say_the_same_way_is_refused_by_name(tmp_path, cli) -> None:
    """allowed_values compares as text, and a timestamp's text differs between engines: refused, never guessed."""
    catalog = catalog_with(tmp_path, "- {check: allowed_values, column: created, values: ['2026-10-01 08:00']}\n")
    result = cli("check", "-c", catalog, "--as-of", NOW, "--engine", "duckdb")
    assert result.exit_code == 2, result.stderr
    assert "check 'allowed_values: created'" in result.stderr and "datetime column" in result.stderr
    assert "--engine polars" in result.stderr and "Traceback" not in result.stderr
    assert cli("check", "-c", catalog, "--as-of", NOW).exit_code == 1  # on Polars: measured (and failing)


def test_the_cli_checks_on_an_engine(cli) -> None:
    import json

    polars = cli("check", "-c", CATALOG, "--as-of", "2026-11-15", "-f", "json")
    duckdb = cli("check", "-c", CATALOG, "--as-of", "2026-11-15", "-f", "json", "--engine", "duckdb")
    assert duckdb.exit_code == polars.exit_code == 0, duckdb.stderr
    assert json.loads(duckdb.stdout)["results"] == json.loads(polars.stdout)["results"]


EDGES_CATALOG = """\
data_dir: data
datasets:
  calls:
    path: calls.csv
    date_column: opened
    columns:
      id: {type: integer}
      team: team
      opened: {type: datetime, format: "%Y-%m-%d %H:%M"}
      gone: {type: datetime, format: "%Y-%m-%d %H:%M"}
      born: {type: date, format: "%Y-%m-%d"}
    checks:
      - {check: missing, column: team}
      - {check: future, column: gone}
      - {check: order, first: opened, then: gone}
      - {check: allowed_values, column: team, values: []}
      - {check: allowed_values, column: born, values: ['2026-03-01']}
kpis: [{id: n, name: N, domain: D, unit: count, dataset: calls, value: count()}]
"""


def test_edges_of_the_staged_records_agree(tmp_path, engine: str) -> None:
    """A text that reads like COPY's missing-value marker stays that text; a declared column missing from the file
    is still a timestamp to compare with (the `schema` check's business, not an engine error); an empty list of
    allowed values allows nothing; a date compares as its ISO text."""
    (tmp_path / "cat.yaml").write_text(EDGES_CATALOG, encoding="utf-8")
    rows = [[1, "\\N", "2026-03-01 08:00", "2026-03-01"], [2, "A", "2026-03-02 08:00", "2026-03-02"]]
    write_csv(tmp_path / "data" / "calls.csv", ["id", "team", "opened", "born"], rows)
    ours = quality.check(tmp_path / "cat.yaml", now=NOW)
    theirs = quality.check(tmp_path / "cat.yaml", now=NOW, engine=engine)
    assert_same_checks(ours, theirs)
    # By hand: no team is missing (one is the text \N); `gone` is in no file: nothing after now, nothing out of
    # order; both teams are outside an empty list; one birth date of two is not 2026-03-01.
    assert [r.metric for r in theirs.results] == [0.0, 0.0, 0.0, 2.0, 1.0]


def test_a_postgres_server_of_another_date_style_still_compares_iso_dates(tmp_path, postgres_url, monkeypatch):
    """The connection's own DateStyle (here day first, as a European server might be) would write a date as
    01/03/2026 in a check that compares text: the engine sets ISO on its connection."""
    monkeypatch.setenv("CIVIC_KPI_POSTGRES", f"{postgres_url} options='-c DateStyle=SQL,DMY'")
    (tmp_path / "cat.yaml").write_text(EDGES_CATALOG, encoding="utf-8")
    rows = [[1, "A", "2026-03-01 08:00", "2026-03-01"], [2, "A", "2026-03-02 08:00", "2026-03-02"]]
    write_csv(tmp_path / "data" / "calls.csv", ["id", "team", "opened", "born"], rows)
    run = quality.check(tmp_path / "cat.yaml", now=NOW, engine="postgres")
    assert [r.metric for r in run.results][-1] == 1.0  # one birth date of two is not 2026-03-01


def test_an_unknown_or_missing_engine_is_refused_before_any_check(tmp_path, monkeypatch) -> None:
    """Even where no check would need the engine (a schema check reads the files themselves)."""
    import sys

    from civic_kpi.errors import UsageError

    catalog = catalog_with(tmp_path, "- {check: schema}\n")
    with pytest.raises(UsageError, match="unknown engine 'oracle'"):
        quality.check(catalog, now=NOW, engine="oracle")
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(UsageError, match=r"pip install 'civic-kpi\[duckdb\]'"):
        quality.check(catalog, now=NOW, engine="duckdb")
