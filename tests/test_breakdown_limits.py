"""The limit on groups per breakdown: a breakdown by a column with a value per record is refused (exit 2) with the
column, its number of distinct values, the limit and what to do instead, before any value is computed; at the
limit exactly it runs. The expected counts are worked out here in plain Python from the rows written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import civic_kpi
from civic_kpi.engine.polars_executor import PolarsExecutor
from civic_kpi.engine.request import MAX_GROUPS
from civic_kpi.errors import ExitCode, UsageError
from tests.conftest import ROOT, write_csv

CATALOG = """\
version: 1
title: breakdown limits
data_dir: data
datasets:
  requests:
    path: requests.csv
    date_column: opened_at
    columns:
      request_id: {{type: string}}
      opened_at: {{type: datetime, format: "%Y-%m-%d %H:%M:%S"}}
      site: {{type: string}}
      kind: {{type: string}}
kpis:
  - id: volume
    name: Volume
    domain: Ops
    unit: count
    dataset: requests
    value: count()
  - id: share_a
    name: Share of kind A
    domain: Ops
    unit: percent
    dataset: requests
    numerator: count(kind == 'A')
    denominator: count()
    target: {{at_least: 50}}
{extra}"""


def _rows(sites: int) -> list[list[object]]:
    """Two records per site in October 2026 (one kind A, one kind B), site 0 written as an empty cell: a missing
    value is a group of its own, as the results show it."""
    rows: list[list[object]] = []
    for n in range(sites):
        site = None if n == 0 else f"site-{n:03d}"
        rows.append([f"r{n}a", f"2026-10-{1 + n % 28:02d} 09:00:00", site, "A"])
        rows.append([f"r{n}b", f"2026-10-{1 + n % 28:02d} 10:00:00", site, "B" if n % 3 else "C"])
    return rows


def _catalog(tmp_path: Path, rows: list[list[object]], extra: str = "") -> Path:
    write_csv(tmp_path / "data" / "requests.csv", ["request_id", "opened_at", "site", "kind"], rows)
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG.format(extra=extra), encoding="utf-8")
    return path


def _distinct(rows: list[list[object]], *columns: int) -> int:
    return len({tuple(row[c] for c in columns) for row in rows})


def _compute(cli, catalog: Path, *args: str):
    return cli("compute", "-c", catalog, "--period", "2026-10", "--as-of", "2026-11-01", "-q", *args)


def test_a_breakdown_over_the_limit_is_refused_with_the_column_the_count_the_limit_and_a_hint(cli, tmp_path):
    rows = _rows(50)
    catalog = _catalog(tmp_path, rows)
    assert _distinct(rows, 2) == 50
    result = _compute(cli, catalog, "--by", "site", "--max-groups", "20")
    assert result.exit_code == ExitCode.USER_ERROR
    assert result.stdout == ""
    message = result.stderr
    assert "Traceback" not in message
    assert "column 'site'" in message and "asked for with --by" in message
    assert "50 distinct values in dataset 'requests'" in message
    assert "limit of 20 groups per breakdown" in message
    assert "hint:" in message and "--max-groups 50" in message and "civic-kpi rows" in message
    assert "coarser column" in message


def test_at_the_limit_exactly_it_runs_and_one_more_group_is_refused(cli, tmp_path):
    rows = _rows(50)
    catalog = _catalog(tmp_path, rows)
    out = tmp_path / "out.csv"
    done = _compute(cli, catalog, "--by", "site", "--max-groups", "50", "-f", "csv", "-o", out)
    assert done.exit_code == 0, done.stderr
    import csv

    with out.open(encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    # Per KPI: the overall row and one row per site, the missing site included.
    assert len(written) == 2 * (1 + 50)
    volumes = {r["group"]: float(r["value"]) for r in written if r["kpi_id"] == "volume"}
    assert volumes.pop("") == 100  # the overall row
    assert volumes == {"site=": 2, **{f"site=site-{n:03d}": 2 for n in range(1, 50)}}
    refused = _compute(cli, catalog, "--by", "site", "--max-groups", "49")
    assert refused.exit_code == ExitCode.USER_ERROR
    assert "50 distinct values" in refused.stderr and "limit of 49 groups" in refused.stderr


def test_a_breakdown_by_two_columns_counts_their_combinations(cli, tmp_path):
    rows = _rows(30)
    catalog = _catalog(tmp_path, rows)
    combos = _distinct(rows, 2, 3)  # every site has kind A and one of B or C: 60 combinations
    assert combos == 60
    assert _compute(cli, catalog, "--by", "site,kind", "--max-groups", str(combos)).exit_code == 0
    refused = _compute(cli, catalog, "--by", "site,kind", "--max-groups", str(combos - 1))
    assert refused.exit_code == ExitCode.USER_ERROR
    assert "columns 'site' and 'kind'" in refused.stderr
    assert f"{combos} distinct combinations" in refused.stderr
    # Each breakdown has its own limit: by site alone (30 groups) and by kind alone (3) both fit in 30.
    both = _compute(cli, catalog, "--by", "site", "--by", "kind", "--max-groups", "30")
    assert both.exit_code == 0, both.stderr


def test_a_catalog_breakdown_over_the_default_limit_names_the_kpi(cli, tmp_path):
    # One group per record: the default limit plus one record, all in October.
    rows = [[f"id{n}", f"2026-10-{1 + n % 28:02d} 08:00:00", "x", "A"] for n in range(MAX_GROUPS + 1)]
    extra = "    group_by: [[request_id]]\n"
    catalog = _catalog(tmp_path, rows, extra)
    assert _distinct(rows, 0) == MAX_GROUPS + 1
    result = _compute(cli, catalog)
    assert result.exit_code == ExitCode.USER_ERROR
    assert "column 'request_id' (the catalog's group_by of share_a)" in result.stderr
    assert f"{MAX_GROUPS + 1:,} distinct values" in result.stderr and f"limit of {MAX_GROUPS:,}" in result.stderr
    # Only the KPI that groups by it is affected when the other is asked for alone.
    assert _compute(cli, catalog, "--kpi", "volume").exit_code == 0


def test_explain_by_a_column_over_the_limit_is_refused(cli, tmp_path):
    catalog = _catalog(tmp_path, _rows(50))
    args = ["explain", "volume", "-c", catalog, "--period", "2026-10", "--as-of", "2026-11-01", "-q", "--by", "site"]
    refused = cli(*args, "--max-groups", "49")
    assert refused.exit_code == ExitCode.USER_ERROR and "50 distinct values" in refused.stderr
    assert cli(*args, "--max-groups", "50").exit_code == 0


def test_the_limit_is_checked_before_any_aggregation_is_built(tmp_path, monkeypatch):
    catalog = _catalog(tmp_path, _rows(50))

    def no_aggregation(*args, **kwargs):
        raise AssertionError("the aggregation query was built for a refused breakdown")

    monkeypatch.setattr(PolarsExecutor, "masked_query", no_aggregation)
    session = civic_kpi.open(catalog, as_of="2026-11-01")
    with pytest.raises(UsageError):
        session.compute("2026-10", by=["site"], max_groups=49)


def test_a_library_session_takes_max_groups(tmp_path):
    catalog = _catalog(tmp_path, _rows(50))
    session = civic_kpi.open(catalog, as_of="2026-11-01")
    with pytest.raises(UsageError) as raised:
        session.compute("2026-10", by=["site"], max_groups=20)
    assert raised.value.exit_code == ExitCode.USER_ERROR
    assert "50 distinct values" in raised.value.render() and "limit of 20" in raised.value.render()
    run = session.compute("2026-10", by=["site"], max_groups=50)
    assert len([r for r in run.results if r.kpi_id == "volume"]) == 51
    with pytest.raises(UsageError, match="at least 1"):
        session.compute("2026-10", by=["site"], max_groups=0)
    plan = session.plan("2026-10", by=["site"], max_groups=20)
    with pytest.raises(UsageError):
        civic_kpi.engine.execute(plan)


def test_the_default_limit_is_documented_in_the_help_and_the_guide(cli):
    default = f"{MAX_GROUPS:,}"
    for command in ("compute", "explain"):
        text = re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", cli(command, "--help").stdout))
        assert "--max-groups" in text and f"default: {default}" in text, command
    guide = (ROOT / "docs" / "guide" / "everyday-use.md").read_text(encoding="utf-8")
    assert "--max-groups" in guide and f"{default} groups" in guide


# A file output is written row by row as each row is judged: the same bytes as the rows rendered at once.


def _without_stamp(text: str) -> str:
    return re.sub(r'"generated_at": "[^"]*"', '"generated_at": ""', text)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_file_output_is_the_same_text_as_the_run_rendered_whole(cli, tmp_path, fmt):
    from civic_kpi.report import render
    from tests.conftest import CATALOG as BUNDLED

    out = tmp_path / f"out.{fmt}"
    options = ["--every", "month", "--by", "priority", "--by", "channel", "--as-of", "2026-11-15"]
    done = cli("compute", "-c", BUNDLED, *options, "-f", fmt, "-o", out)
    assert done.exit_code == 0, done.stderr
    session = civic_kpi.open(BUNDLED, as_of="2026-11-15")
    run = session.compute(every="month", by=[["priority"], ["channel"]])
    whole = render(run, fmt)  # type: ignore[arg-type]
    assert len(run.results) > 100 and f"wrote {len(run.results)} results" in done.stderr
    assert _without_stamp(out.read_text(encoding="utf-8")) == _without_stamp(whole)


def test_the_rows_of_a_streamed_run_are_judged_one_at_a_time(tmp_path, monkeypatch):
    import civic_kpi.engine.judge as judge

    made = []
    real = judge.trusted

    def counting(cls, **fields):
        if cls is judge.KpiResult:
            made.append(fields["group"])
        return real(cls, **fields)

    monkeypatch.setattr(judge, "trusted", counting)
    catalog = _catalog(tmp_path, _rows(50))
    run, results = civic_kpi.open(catalog, as_of="2026-11-01").compute_stream("2026-10", by=["site"], max_groups=50)
    assert run.results == [] and made == []
    first = next(results)
    assert first.group == {} and len(made) == 1  # the overall row of the first KPI, and nothing more yet
    assert len(list(results)) == 2 * 51 - 1 and len(made) == 2 * 51


def test_fail_on_counts_the_rows_of_a_streamed_file(cli, tmp_path):
    rows = _rows(10)  # per site one A of two records: 50%, at the target (at least 50)
    rows.append(["extra", "2026-10-05 12:00:00", "site-001", "B"])  # site-001: 1 A of 3 fails; overall 10 of 21
    catalog = _catalog(tmp_path, rows)
    out = tmp_path / "out.csv"
    args = ["compute", "-c", catalog, "--period", "2026-10", "--as-of", "2026-11-01", "--by", "site"]
    done = cli(*args, "-f", "csv", "-o", out, "--fail-on", "fail")
    assert done.exit_code == ExitCode.THRESHOLD
    # Per KPI the overall row and 10 sites; share_a: 9 sites pass, site-001 and the overall row fail.
    assert "wrote 22 results for 2026-10 (9 pass, 0 warn, 2 fail, 0 not comparable, 0 no data)" in done.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1 + 22
    assert cli(*args, "-f", "csv", "-o", out, "--fail-on", "warn", "-q").exit_code == ExitCode.THRESHOLD
