"""The "311 Contact Center" and "Customer Satisfaction" KPIs on the bundled sample data against an independent
standard-library calculator.

tests/independent/plain_python_customer_service.py re-implements the catalog's definitions with csv, datetime and
exact arithmetic (no Polars, no civic_kpi). The engine must agree with it on every result row (overall and every
group): value to 1e-9 relative, numerator/denominator and sample size, ranks and the order of the ranked rows, the
inputs of the KPIs computed from other KPIs, the prior and year-ago values, and the statuses against the targets
written in the catalog. The survey KPIs are fiscal year to date, so the October values are the Aug 2026 wave's.
"""

from __future__ import annotations

import math

import pytest
import yaml

import civic_kpi
from tests.conftest import CATALOG, SAMPLE_DATA
from tests.independent import plain_python_customer_service as plain

DOMAINS = ["311 Contact Center", "Customer Satisfaction"]
PERIODS = {"2026-10": plain.month(2026, 10), "FY2026": plain.fiscal_year(2026)}

# Ratios of two counts: their numerator and denominator must match exactly (the others are sums of money or FTE).
COUNT_RATIOS = {
    "service_level",
    "abandonment_rate",
    "satisfied_with_311_service",
    "employee_service_satisfaction",
    "communication_satisfaction",
    "survey_satisfaction",
    "communication_importance",
    "communication_items_satisfaction",
}

# The targets of the two domains as the catalog writes them (checked against kpi_definitions.yaml below); a
# `by_period` target applies to a period with that exact label, so a month such as 2026-10 gets the base target.
TARGETS = {
    "average_speed_of_answer": ("at_most", 50),
    "service_level": ("at_least", 95),
    "cost_per_call": ("at_most", 3.52),
    "customer_satisfaction": ("at_least", 2),
    "satisfied_with_311_service": ("at_least", 85),
    "employee_service_satisfaction": ("at_least", 52),
    "communication_satisfaction": ("at_least", 45),
}


def _key(group: dict) -> plain.GroupKey:
    return tuple(group.items())


def _label(kpi_id: str, key: plain.GroupKey) -> str:
    return f"{kpi_id}[{', '.join(f'{c}={v}' for c, v in key) or 'all'}]"


@pytest.fixture(scope="module")
def runs() -> dict:
    return {label: civic_kpi.compute(CATALOG, period=label, domains=DOMAINS) for label in PERIODS}


@pytest.fixture(scope="module")
def expected() -> dict:
    return {label: plain.compute(SAMPLE_DATA, period) for label, period in PERIODS.items()}


def _engine_rows(run) -> dict:
    rows: dict = {}
    for result in run.results:
        key = (result.kpi_id, _key(result.group))
        assert key not in rows, f"{_label(*key)} reported twice"
        rows[key] = result
    return rows


def _close(got, want, rel: float = 1e-9) -> bool:
    if want is None or got is None:
        return got is None and want is None
    return math.isclose(got, want, rel_tol=rel, abs_tol=1e-12)


# --------------------------------------------------------------------------- the oracle is strict enough


def test_the_oracle_tells_fiscal_year_to_date_from_the_calendar_month():
    """No survey answer was completed in October 2026: a calendar-month window would have no data at all."""
    data = plain.load(SAMPLE_DATA)
    october = [r for r in data["survey"] if r["completed_on"].year == 2026 and r["completed_on"].month == 10]
    assert october == []
    start, end = plain.to_date_window(PERIODS["2026-10"])
    assert (start.isoformat(), end.isoformat()) == ("2026-07-01", "2026-11-01")
    # ... and 2025-10's year-to-date runs from 2025-07-01 (FY2026), not FY2027's July.
    assert plain.to_date_window(plain.month(2025, 10))[0].isoformat() == "2025-07-01"


def test_the_oracle_leaves_out_empty_hold_times():
    """October 2026 has answered calls with an empty hold time; counting them as 0 would change the mean."""
    data = plain.load(SAMPLE_DATA)
    answered = [
        c for c in data["calls"] if c["answered"] is not None and (c["offered"].year, c["offered"].month) == (2026, 10)
    ]
    empty = [c for c in answered if c["hold"] is None]
    assert len(empty) == 3
    as_zero = sum(c["hold"] or 0 for c in answered) / len(answered)
    assert not _close(as_zero, plain.compute(SAMPLE_DATA, PERIODS["2026-10"])["average_hold_time"][()]["value"])


def test_the_catalog_targets_are_the_ones_this_test_judges_against():
    kpis = {k["id"]: k for k in yaml.safe_load(CATALOG.read_text(encoding="utf-8"))["kpis"]}
    for kpi_id in plain.KPI_IDS:
        target = kpis[kpi_id].get("target")
        if kpi_id not in TARGETS:
            assert target is None, kpi_id
            continue
        rule, threshold = TARGETS[kpi_id]
        assert target[rule] == threshold, kpi_id
        assert not ({"warn", "by_group", "compare_to"} & set(target)), kpi_id
        assert set(target.get("by_period", {})) <= {"FY2027"}, kpi_id


# --------------------------------------------------------------------------- the engine against the oracle


@pytest.mark.parametrize("label", list(PERIODS))
def test_the_engine_reports_exactly_the_groups_computed_here(runs, expected, label):
    rows = _engine_rows(runs[label])
    assert {r.domain for r in runs[label].results} == set(DOMAINS)
    want = {(kpi_id, key) for kpi_id, groups in expected[label].items() for key in groups}
    got = set(rows)
    assert sorted(got - want) == [], "reported by the engine, not computed here"
    assert sorted(want - got) == [], "computed here, missing from the engine"
    assert {kpi_id for kpi_id, _ in got} == set(plain.KPI_IDS)


@pytest.mark.parametrize("label", list(PERIODS))
@pytest.mark.parametrize("kpi_id", plain.KPI_IDS)
def test_every_row_matches_the_independent_calculation(runs, expected, label, kpi_id):
    rows = _engine_rows(runs[label])
    for key, want in expected[label][kpi_id].items():
        result = rows[(kpi_id, key)]
        name = _label(kpi_id, key)
        assert _close(result.value, want["value"]), (name, result.value, want["value"])
        if want["numerator"] is None:
            assert result.numerator is None and result.denominator is None, name
        elif kpi_id in COUNT_RATIOS:
            assert (result.numerator, result.denominator) == (want["numerator"], want["denominator"]), name
        else:
            assert _close(result.numerator, want["numerator"], 1e-12), (name, result.numerator, want["numerator"])
            assert _close(result.denominator, want["denominator"], 1e-12), (name, result.denominator)
        if want["sample_size"] is not None:
            assert result.sample_size == want["sample_size"], (name, result.sample_size, want["sample_size"])
        assert [i.kpi_id for i in result.inputs] == [k for k, _ in want["inputs"]], name
        for got_input, (input_id, input_value) in zip(result.inputs, want["inputs"], strict=True):
            assert _close(got_input.value, input_value), (name, input_id, got_input.value, input_value)
        assert result.rank == want["rank"], (name, result.rank, want["rank"])


@pytest.mark.parametrize("label", list(PERIODS))
def test_prior_and_year_ago_values(runs, expected, label):
    run = runs[label]
    period = PERIODS[label]
    assert run.prior_period.label == plain.prior_period(period).label
    assert run.year_ago_period.label == plain.year_ago_period(period).label
    mismatches = []
    for (kpi_id, key), result in _engine_rows(run).items():
        want = expected[label][kpi_id][key]
        for which in ("prior", "year_ago"):
            comparison = getattr(result, which)
            got = None if comparison is None else comparison.value
            if not _close(got, want[which]):
                mismatches.append((_label(kpi_id, key), which, got, want[which]))
    assert mismatches == []


def test_named_prior_and_year_ago_values_for_2026_10(runs):
    """The ones the brief names, spelled out: the year-ago survey value is FY2026 to date through 2025-10-31."""
    rows = _engine_rows(runs["2026-10"])
    september = plain.compute(SAMPLE_DATA, plain.month(2026, 9))
    last_october = plain.compute(SAMPLE_DATA, plain.month(2025, 10))
    for kpi_id in ("cost_per_call", "average_speed_of_answer", "employee_service_satisfaction"):
        result = rows[(kpi_id, ())]
        assert _close(result.prior.value, september[kpi_id][()]["value"]), kpi_id
        assert _close(result.year_ago.value, last_october[kpi_id][()]["value"]), kpi_id
    # FY2026 to date through 2025-10-31 is the Aug 2025 wave: 98 of 191 answers satisfied.
    assert last_october["employee_service_satisfaction"][()]["numerator"] == 98
    assert last_october["employee_service_satisfaction"][()]["denominator"] == 191


@pytest.mark.parametrize("label", list(PERIODS))
def test_ranked_rows_are_listed_in_rank_order(runs, expected, label):
    ranked = [r for r in runs[label].results if r.kpi_id == "importance_satisfaction" and r.group]
    want = expected[label]["importance_satisfaction"]
    assert [r.rank for r in ranked] == sorted(want[_key(r.group)]["rank"] for r in ranked)
    expected_order = sorted((k for k in want if k), key=lambda k: want[k]["rank"])
    if len({want[k]["rank"] for k in expected_order}) == len(expected_order):  # no ties: the order is fixed
        assert [_key(r.group) for r in ranked] == expected_order
    assert [r.rank for r in runs[label].results if r.kpi_id != "importance_satisfaction" or not r.group] == [
        None for r in runs[label].results if r.kpi_id != "importance_satisfaction" or not r.group
    ]


def test_the_2026_10_ranking_is_kansas_citys_fy2016_order(expected):
    ranks = {key[0][1]: row["rank"] for key, row in expected["2026-10"]["importance_satisfaction"].items() if key}
    assert ranks == {
        "Opportunity to engage and provide input into decisions made by the city": 1,
        "Availability of information about city programs and services": 2,
        "Overall usefulness of the city's website": 3,
        "The city's use of social media": 4,
        "Quality of city video programming (city TV channel and web streaming)": 5,
        "The content of the city's magazine": 6,
    }


def _expected_status(kpi_id: str, value: float | None) -> str:
    if kpi_id not in TARGETS:
        return "no_target"
    if value is None:
        return "no_data"
    rule, threshold = TARGETS[kpi_id]
    ok = value >= threshold if rule == "at_least" else value <= threshold
    return "pass" if ok else "fail"


@pytest.mark.parametrize("label", list(PERIODS))
def test_statuses_follow_the_catalog_targets(runs, expected, label):
    got = {(r.kpi_id, _key(r.group)): r.status.value for r in runs[label].results}
    want = {
        (kpi_id, key): _expected_status(kpi_id, row["value"])
        for kpi_id, groups in expected[label].items()
        for key, row in groups.items()
    }
    assert got == want


def test_2026_10_statuses_spelled_out(runs):
    status = {(r.kpi_id, _key(r.group)): r.status.value for r in runs["2026-10"].results}
    assert status[("average_speed_of_answer", ())] == "pass"  # 40.8 s <= 50
    assert status[("service_level", ())] == "fail"  # 85.2 % < 95
    assert status[("cost_per_call", ())] == "pass"  # $3.42 <= 3.52
    assert status[("satisfied_with_311_service", ())] == "fail"  # 54.4 % < 85
    assert status[("customer_satisfaction", (("request_type", "Snow and Ice Removal"),))] == "no_data"
    districts = {
        key[0][1]: s for (kpi_id, key), s in status.items() if kpi_id == "employee_service_satisfaction" and key
    }
    assert districts == {"1": "pass", "2": "fail", "3": "pass", "4": "fail", "5": "pass", "6": "fail"}


def test_fy2026_calls_per_agent(runs, expected):
    result = _engine_rows(runs["FY2026"])[("calls_per_agent", ())]
    want = expected["FY2026"]["calls_per_agent"][()]
    assert _close(result.value, want["value"])
    assert result.numerator == 30265
    assert _close(result.denominator, 2.239166666666667)  # mean of the 12 months' agent_fte
    assert round(want["value"]) == 13516  # the README's figure (Kansas City reports 16,149)
    assert [(i.kpi_id, i.value) for i in result.inputs] == [
        ("calls_handled", 30265.0),
        ("agents_on_staff", pytest.approx(want["denominator"], rel=1e-12)),
    ]
