"""KPIs computed from other KPIs (kpi.ID), ranked KPIs, KPI-level `where` and to-date windows, on small catalogs.

Every expected value is worked out by hand in the comments from the rows written here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import civic_kpi
from civic_kpi import CatalogError, Status
from tests.conftest import write_csv

CATALOG = """
parameters:
  monthly_budget: 120
datasets:
  tickets:
    path: tickets.csv
    date_column: day
    columns:
      day: {type: date, format: "%Y-%m-%d"}
      agency: agency
      hours: {type: float}
  budget:
    path: budget.csv
    date_column: month
    columns:
      month: {type: date, format: "%Y-%m-%d"}
      agency: agency
      spent: {type: float}
kpis:
  - {id: hours, name: Hours worked, domain: Ops, unit: hours, dataset: tickets, value: sum(hours)}
  - {id: tickets, name: Tickets, domain: Ops, unit: count, dataset: tickets, value: count()}
  - {id: spent, name: Spent, domain: Ops, unit: dollars, dataset: budget, value: sum(spent)}
  - id: cost_per_hour
    name: Cost per hour
    domain: Ops
    unit: dollars
    numerator: kpi.spent
    denominator: kpi.hours
    group_by: [agency]
    rank: lowest_first
    target: {at_most: 10}
  - {id: budget_per_ticket, name: Budget per ticket, domain: Ops, unit: dollars,
     value: params.monthly_budget / kpi.tickets}
  - id: hours_per_ticket_x2
    name: Twice the hours per ticket
    domain: Ops
    unit: hours
    value: 2 * kpi.hours_per_ticket
  - {id: hours_per_ticket, name: Hours per ticket, domain: Ops, unit: hours, value: kpi.hours / kpi.tickets}
"""

# October 2026: agency A works 2 + 3 = 5 h on 2 tickets and spends $40; B works 10 h on one ticket and spends
# $40; C works 4 h and spends $40 (a tie with A at $8/h); D has tickets but no budget row.
TICKETS = [
    ["2026-10-01", "A", 2],
    ["2026-10-02", "A", 3],
    ["2026-10-03", "B", 10],
    ["2026-10-04", "C", 4],
    ["2026-10-05", "D", 1],
    ["2026-09-10", "A", 8],  # September: A only
]
BUDGET = [
    ["2026-10-01", "A", 40], ["2026-10-01", "B", 40], ["2026-10-01", "C", 32],
    ["2026-09-01", "A", 16], ["2026-09-01", "B", 20],  # B spent in September but worked no hours then
]  # fmt: skip


@pytest.fixture
def small(tmp_path: Path) -> Path:
    write_csv(tmp_path / "tickets.csv", ["day", "agency", "hours"], TICKETS)
    write_csv(tmp_path / "budget.csv", ["month", "agency", "spent"], BUDGET)
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG, encoding="utf-8")
    return path


def by_group(run: civic_kpi.ComputeRun, kpi: str) -> dict[str | None, civic_kpi.KpiResult]:
    return {r.group.get("agency"): r for r in run.results if r.kpi_id == kpi}


def test_a_ratio_of_two_sums_from_two_datasets_per_group_ranked(small):
    run = civic_kpi.compute(small, period="2026-10")
    rows = by_group(run, "cost_per_hour")
    # Overall: spent 40 + 40 + 32 = 112 over 2 + 3 + 10 + 4 + 1 = 20 hours = $5.60/h
    assert (rows[None].numerator, rows[None].denominator) == (112, 20)
    assert rows[None].value == pytest.approx(5.6) and rows[None].rank is None
    # A 40/5 = 8, B 40/10 = 4, C 32/4 = 8; D has no budget rows, so, like a group without records, it is left out.
    assert {k: r.value for k, r in rows.items() if k} == {"A": 8.0, "B": 4.0, "C": 8.0}
    # lowest_first, ties share a rank and the next rank is skipped (a spreadsheet's RANK): B 1, A 2, C 2
    ranked = [(r.group["agency"], r.rank) for r in run.results if r.kpi_id == "cost_per_hour" and r.group]
    assert ranked == [("B", 1), ("A", 2), ("C", 2)]
    assert [(i.kpi_id, i.value) for i in rows["A"].inputs] == [("spent", 40.0), ("hours", 5.0)]
    # September: A 16 / 8 = 2; B spent 20 and worked no hours: the input has no value, so neither has this
    assert rows["A"].prior.value == pytest.approx(2.0)
    assert rows["B"].prior.value is None
    assert "B" not in by_group(civic_kpi.compute(small, period="2026-09"), "cost_per_hour")
    august = by_group(civic_kpi.compute(small, period="2026-08"), "cost_per_hour")
    assert august[None].status is Status.NO_DATA
    assert august[None].status_reason == "kpi.spent has no value: no records in the period"


def test_parameters_chains_and_inputs_that_were_not_asked_for(small):
    run = civic_kpi.compute(small, period="2026-10", kpis=["hours_per_ticket_x2", "budget_per_ticket"])
    assert [r.kpi_id for r in run.results] == ["budget_per_ticket", "hours_per_ticket_x2"]
    got = {r.kpi_id: r for r in run.results}
    assert got["budget_per_ticket"].value == pytest.approx(120 / 5)  # 5 tickets in October
    # A KPI of a KPI of KPIs, listed before the KPI it reads: 2 x 20 h / 5 tickets = 8
    assert got["hours_per_ticket_x2"].value == pytest.approx(8.0)
    assert got["hours_per_ticket_x2"].prior.value == pytest.approx(16.0)  # September: 2 x 8 / 1


def test_a_zero_denominator_kpi_says_so(small, tmp_path):
    write_csv(tmp_path / "tickets.csv", ["day", "agency", "hours"], [["2026-10-01", "A", 0]])
    result = by_group(civic_kpi.compute(small, period="2026-10", kpis=["cost_per_hour"], by=[]), "cost_per_hour")
    assert result[None].value is None
    assert result[None].status_reason == "the denominator is zero"


def test_a_series_of_a_kpi_from_kpis_matches_each_month_on_its_own(small):
    series = civic_kpi.compute(small, period="2026-09-01..2026-10-31", every="month", kpis=["cost_per_hour"])
    for month in ("2026-09", "2026-10"):
        alone = civic_kpi.compute(small, period=month, kpis=["cost_per_hour"])
        got = [(r.group, r.value, r.rank, r.prior.value) for r in series.results if r.period.label == month]
        assert got == [(r.group, r.value, r.rank, r.prior.value) for r in alone.results]


def test_cli_prints_the_ranking_table_and_json_carries_rank_and_inputs(small, cli):
    result = cli("compute", "-c", small, "--period", "2026-10", "--kpi", "cost_per_hour")
    assert result.exit_code == 0, result.output
    ranking = result.stdout[result.stdout.index("Cost per hour by agency, 2026-10: ranked") :]
    assert ranking.splitlines()[2].split() == ["┃", "agency", "┃", "Spent", "┃", "Hours", "worked", "┃", "Cost",
                                               "per", "hour", "┃", "Rank", "┃"]  # fmt: skip
    assert [line.split()[1] for line in ranking.splitlines()[4:7]] == ["B", "A", "C"]
    data = json.loads(cli("compute", "-c", small, "--period", "2026-10", "-f", "json").stdout)
    b = next(r for r in data["results"] if r["kpi_id"] == "cost_per_hour" and r["group"] == {"agency": "B"})
    assert b["rank"] == 1
    assert b["inputs"] == [
        {"kpi_id": "spent", "name": "Spent", "unit": "dollars", "decimals": 1, "value": 40.0},
        {"kpi_id": "hours", "name": "Hours worked", "unit": "hours", "decimals": 1, "value": 10.0},
    ]
    markdown = cli("compute", "-c", small, "--period", "2026-10", "-f", "markdown").stdout
    assert "| agency | Spent | Hours worked | Cost per hour | Rank |" in markdown
    assert "| B | $40.0 | 10.0 h | $4.0 | 1 |" in markdown
    csv_text = cli("compute", "-c", small, "--period", "2026-10", "-f", "csv").stdout
    # rank and inputs come after the columns of 1.0, then the three partial columns of 1.2
    assert ",1,spent=40.0; hours=10.0," in csv_text


def test_where_and_a_quarter_to_date_window(tmp_path):
    write_csv(tmp_path / "t.csv", ["day", "kind", "hours"], [
        ["2026-07-01", "x", 1], ["2026-08-15", "x", 2], ["2026-08-20", "y", 50], ["2026-09-30", "x", 4],
        ["2026-06-30", "x", 100], ["2026-10-01", "x", 200],
    ])  # fmt: skip
    path = tmp_path / "c.yaml"
    path.write_text(
        """
datasets:
  t:
    path: t.csv
    date_column: day
    columns: {day: {type: date, format: "%Y-%m-%d"}, kind: kind, hours: {type: float}}
kpis:
  - {id: qtd, name: QTD, domain: D, unit: hours, dataset: t, value: sum(hours), where: "kind == 'x'",
     window: {to_date: quarter}}
""",
        encoding="utf-8",
    )
    result = civic_kpi.compute(path, period="2026-08", kpis=["qtd"]).results[0]
    # 2026-07-01 .. 2026-08-31, kind x: 1 + 2 = 3 (the y row is filtered out, June is the quarter before)
    assert (result.value, result.sample_size) == (3.0, 2)
    assert result.prior.value == 1.0  # July alone
    # September closes the quarter: 1 + 2 + 4 = 7; October starts a new one: 200
    assert civic_kpi.compute(path, period="2026-09").results[0].value == 7.0
    assert civic_kpi.compute(path, period="2026-10").results[0].value == 200.0


def bad_catalog(tmp_path: Path, kpis: str) -> list[str]:
    """Load a catalog with the given KPI entries over one small dataset; the rendered problems."""
    path = tmp_path / "c.yaml"
    path.write_text(
        """
parameters: {budget: 10}
datasets:
  t:
    path: t.csv
    date_column: day
    columns: {day: {type: date}, kind: kind, hours: {type: float}}
  u:
    path: u.csv
    date_column: day
    columns: {day: {type: date}, hours: {type: float}}
kpis:
  - {id: hours, name: H, domain: D, unit: hours, dataset: t, value: sum(hours)}
  - {id: other_hours, name: U, domain: D, unit: hours, dataset: u, value: sum(hours)}
"""
        + kpis,
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as caught:
        civic_kpi.load_catalog(path)
    return [problem.render() for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("kpis", "expected"),
    [
        (
            "  - {id: a, name: A, domain: D, unit: x, value: kpi.b + 1}\n"
            "  - {id: b, name: B, domain: D, unit: x, value: kpi.c * 2}\n"
            "  - {id: c, name: C, domain: D, unit: x, value: kpi.a - kpi.hours}\n",
            "c.yaml:15, KPI 'a', field 'value': KPIs are computed from each other in a circle: a -> b -> c -> a",
        ),
        (
            "  - {id: a, name: A, domain: D, unit: x, value: kpi.a + 1}\n",
            "KPIs are computed from each other in a circle: a -> a",
        ),
        (
            "  - {id: a, name: A, domain: D, unit: x, value: kpi.hour / 2}\n",
            "c.yaml:15, KPI 'a', field 'value': unknown KPI 'kpi.hour'\n  hint: did you mean 'hours'?",
        ),
        (
            "  - {id: a, name: A, domain: D, unit: x, value: kpi.hours / hours}\n",
            "a KPI without a dataset has no records, so it cannot use column 'hours' (at character 13) in formula: "
            "kpi.hours / hours\n  hint: name other KPIs as kpi.ID, or give this KPI a dataset",
        ),
        (
            "  - {id: a, name: A, domain: D, unit: x, value: kpi.hours / count()}\n",
            "a KPI without a dataset has no records, so it cannot use an aggregate (count) (at character 13)",
        ),
        (
            "  - {id: a, name: A, domain: D, unit: x, value: params.budget * 2}\n",
            "a KPI without a dataset is computed from other KPIs, but its formula names none",
        ),
        (
            "  - {id: a, name: A, domain: D, unit: x, dataset: t, value: sum(hours) / kpi.other_hours}\n",
            "kpi.other_hours is another KPI's value; a KPI with a dataset aggregates records\n"
            "  hint: compute it in a KPI without 'dataset', whose formula is built from kpi.ID values",
        ),
        (
            "  - {id: a, name: A, domain: D, unit: x, value: kpi.hours / kpi.other_hours, group_by: [kind]}\n",
            "c.yaml:15, KPI 'a', field 'group_by': group_by column 'kind' is not a column of 'u', a dataset it is "
            "computed from",
        ),
        (
            "  - {id: a, name: A, domain: D, unit: x, value: kpi.hours, window: {to_date: year}}\n",
            "a KPI without a dataset takes the windows of the KPIs it is computed from; drop 'window'",
        ),
        (
            "  - {id: a, name: A, domain: D, unit: x, dataset: t, value: sum(hours), where: kinds == 'x'}\n",
            "unknown column 'kinds' in formula (dataset 't')\n  hint: did you mean 'kind'?",
        ),
        (
            "  - {id: a, name: A, domain: D, unit: x, dataset: t, value: sum(hours), where: hours}\n",
            "formula does not fit the column types: filter predicate must be of type `Boolean`",
        ),
        (
            "  - {id: a, name: A, domain: D, unit: x, value: kpi.hours + 'x'}\n",
            "KPI 'a', field 'value': formula does not compute:",
        ),
    ],
    ids=[
        "cycle",
        "self",
        "unknown",
        "column",
        "aggregate",
        "no-kpi",
        "kpi-in-dataset-kpi",
        "group-by",
        "window",
        "where-column",
        "where-type",
        "type",
    ],
)
def test_catalog_problems_of_kpis_from_kpis(tmp_path, kpis, expected):
    problems = bad_catalog(tmp_path, kpis)
    assert any(expected in problem for problem in problems), problems


def test_ranks_tie_within_rounding_and_skip_the_next_place():
    from civic_kpi.engine.judge import _ranks

    assert _ranks([0.1 + 0.2, 0.3, None, 0.5], "highest_first") == {3: 1, 0: 2, 1: 2}
    assert _ranks([2.0, 1.0, 1.0, 3.0], "lowest_first") == {1: 1, 2: 1, 0: 3, 3: 4}


def test_a_column_named_kpi_still_works_and_where_reads_reference_tables_and_period_names(tmp_path):
    write_csv(tmp_path / "t.csv", ["day", "kpi", "closed"], [
        ["2026-01-10", "a", "2026-02-15"], ["2026-01-20", "b", ""], ["2026-02-10", "a", "2026-02-20"],
        ["2026-03-05", "c", "2026-04-02"],
    ])  # fmt: skip
    write_csv(tmp_path / "kinds.csv", ["kind"], [["a"], ["c"]])
    path = tmp_path / "c.yaml"
    path.write_text(
        """
reference_tables: {kinds: {path: kinds.csv, key: kind}}
datasets:
  t:
    path: t.csv
    date_column: day
    columns: {day: {type: date, format: "%Y-%m-%d"}, kpi: kpi, closed: {type: date, format: "%Y-%m-%d"}}
kpis:
  - {id: known, name: K, domain: D, unit: count, dataset: t, value: count(kpi == 'a'), where: kpi in ref.kinds}
  - {id: open_at_end, name: O, domain: D, unit: count, dataset: t, value: count(),
     where: closed is None or closed >= period_end}
""",
        encoding="utf-8",
    )
    # Requests created in the month still open at its end: January 2 (a closes in February, b never), March 1 (c
    # closes in April). February's one request closed on the 20th: `where` leaves the month without records, so
    # no data rather than 0. A series must agree with each month alone.
    series = civic_kpi.compute(path, period="2026-Q1", every="month", kpis=["open_at_end"])
    assert [(r.period.label, r.value) for r in series.results] == [("2026-01", 2), ("2026-02", None), ("2026-03", 1)]
    assert civic_kpi.compute(path, period="2026-01", kpis=["known"]).results[0].value == 1


def test_list_names_the_kpis_a_kpi_is_computed_from(small, cli):
    rows = json.loads(cli("list", "-c", small, "-f", "json").stdout)
    found = {row["id"]: (row["dataset"], row["from_kpis"]) for row in rows}
    assert found["cost_per_hour"] == (None, ["spent", "hours"])
    assert found["hours"] == ("tickets", [])
    assert "from spent, hours" in cli("list", "-c", small).stdout
