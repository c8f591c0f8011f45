"""Series (`--every`): each period of a series must equal the same period computed on its own.

The single-period path filters each period inside its aggregates; the series path groups records by a period key.
They are two different plans, so comparing them on every KPI of the bundled catalog is a real check of both.
"""

from __future__ import annotations

import json
import math

import pytest

from civic_kpi import compute
from civic_kpi.errors import UsageError
from civic_kpi.time.periods import parse_period, split

from .conftest import CATALOG

SERIES_PERIOD = "2025-10-01..2026-10-31"  # 13 months: a year-ago twin inside the data, the storm month, a DST change


def _key(result) -> tuple:
    return (result.kpi_id, result.period.label, tuple(sorted(result.group.items())))


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


BREAKDOWNS = [["priority"], ["neighborhood"]]  # neighborhood has misspelled, rare values: empty months in groups


@pytest.fixture(scope="module")
def series_run():
    return compute(CATALOG, period=SERIES_PERIOD, every="month", by=BREAKDOWNS)


@pytest.mark.slow
def test_every_month_of_a_series_equals_that_month_computed_alone(series_run) -> None:
    by_key = {_key(r): r for r in series_run.results}
    months = [p.label for p in split(parse_period(SERIES_PERIOD), "month")]
    assert sorted({r.period.label for r in series_run.results}) == months
    checked = 0
    for month in months:
        alone = compute(CATALOG, period=month, by=BREAKDOWNS)
        assert {_key(r) for r in alone.results} == {k for k in by_key if k[1] == month}, month
        for expected in alone.results:
            got = by_key[_key(expected)]
            for field in ("value", "numerator", "denominator"):
                assert _same(getattr(got, field), getattr(expected, field)), (field, _key(expected))
            assert (got.sample_size, got.status, got.excluded, got.status_reason) == (
                expected.sample_size,
                expected.status,
                expected.excluded,
                expected.status_reason,
            ), _key(expected)
            assert got.prior.period == expected.prior.period and _same(got.prior.value, expected.prior.value)
            assert _same(got.year_ago.value, expected.year_ago.value), _key(expected)
            checked += 1
    assert checked > 1000  # every KPI, 13 months, overall + priority + channel groups


def test_a_series_may_list_its_groups_for_its_last_period_alone(series_run) -> None:
    # The dashboard's series: every period's overall row and the last period's groups, each row as the full series
    # judges it (the groups' prior and year-ago values are computed all the same).
    last = series_run.results[-1].period
    short = compute(CATALOG, period=SERIES_PERIOD, every="month", by=BREAKDOWNS, group_rows="last period")
    expected = [r for r in series_run.results if not r.group or r.period == last]
    assert [r.model_dump() for r in short.results] == [r.model_dump() for r in expected]
    assert any(r.group and r.prior.value is not None for r in short.results)
    assert len(expected) < len(series_run.results) / 3


def test_a_series_in_parts_equals_the_series_in_one_go(series_run) -> None:
    # A big export is computed a few periods at a time to bound memory; 2,000 records per part cuts the sample's
    # 13 months (plus their prior and year-ago months) into a dozen parts per window column.
    parts = compute(CATALOG, period=SERIES_PERIOD, every="month", by=BREAKDOWNS, part_rows=2_000)
    whole = {_key(r): r for r in series_run.results}
    assert len(parts.results) == len(whole)
    for result in parts.results:
        expected = whole[_key(result)]
        assert (result.numerator, result.denominator, result.sample_size) == (
            expected.numerator,
            expected.denominator,
            expected.sample_size,
        )
        assert _same(result.value, expected.value) and _same(result.year_ago.value, expected.year_ago.value)


def test_parts_are_consecutive_periods_of_about_the_budget() -> None:
    from civic_kpi.engine.polars_executor import split_in_parts as _parts

    assert _parts({1: 5, 2: 5, 3: 5, 4: 20, 5: 1}, 10) == [[1, 2], [3], [4], [5]]
    assert _parts({7: 3}, 10) == [[7]]


def test_series_mixes_grouped_and_snapshot_kpis(series_run) -> None:
    # Snapshot KPIs (overdue open requests) cannot be grouped by period; they are computed per period instead.
    overdue = [r for r in series_run.results if r.kpi_id == "sla_overdue_open" and not r.group]
    assert len(overdue) == 13 and all(r.value is not None for r in overdue)
    assert series_run.every == "month" and series_run.period.label == SERIES_PERIOD
    assert series_run.breakdowns == BREAKDOWNS


def test_empty_months_of_a_group_read_the_same_as_computed_alone(series_run) -> None:
    # A keyed plan has no row for a month in which a group has no records; it must still say 0 records, as the
    # single-period path does, not "unknown".
    # The comparison with single months above covers them, as long as the series has such months; it does:
    empty = [r for r in series_run.results if r.group and r.status_reason == "no records in the period"]
    assert len(empty) > 10 and all(r.sample_size == 0 and r.value is None for r in empty)


def test_a_constant_condition_counts_every_record(tmp_path) -> None:
    # count(params.population > 0) is count() when the parameter is positive: in a grouped series too, where a
    # literal's sum would be 1.
    text = CATALOG.read_text().replace(
        "    numerator: count(first_contact)\n", "    numerator: count(params.population > 0)\n"
    )
    catalog = tmp_path / "kpi_definitions.yaml"
    catalog.write_text(text)
    (tmp_path / "sample_data").symlink_to(CATALOG.parent / "sample_data")
    series = compute(catalog, period="2026-01-01..2026-02-28", every="month", kpis=["first_contact_resolution"], by=[])
    for result in series.results:
        assert result.numerator == result.denominator > 500 and result.value == 100.0


def test_a_long_series_has_the_holidays_of_its_first_years() -> None:
    # Business-day deadlines need the holiday calendar of every year the series reaches back to.
    series = compute(CATALOG, period="2024-01-01..2029-12-31", every="year", kpis=["sla_compliance"], by=[])
    alone = compute(CATALOG, period="2024", kpis=["sla_compliance"], by=[])
    first = next(r for r in series.results if r.period.label == "2024")
    assert (first.numerator, first.denominator) == (alone.results[0].numerator, alone.results[0].denominator)


def test_default_series_is_the_last_twelve_complete_months() -> None:
    run = compute(CATALOG, every="month", kpis=["first_contact_resolution"], by=[])
    labels = [r.period.label for r in run.results]
    assert labels == [p.label for p in split(parse_period("2025-11-01..2026-10-31"), "month")]
    quarters = compute(CATALOG, every="quarter", kpis=["first_contact_resolution"], by=[])
    assert [r.period.label for r in quarters.results] == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]


def test_fiscal_years_follow_the_catalog_start_month() -> None:
    # FY2026 = July 2025 - June 2026 in the bundled catalog; the series of one FY equals the FY computed alone.
    run = compute(CATALOG, period="2025-07-01..2026-06-30", every="fiscal_year", kpis=["sla_compliance"], by=[])
    alone = compute(CATALOG, period="FY2026", kpis=["sla_compliance"], by=[])
    assert [r.period.label for r in run.results] == ["FY2026"]
    assert run.results[0].numerator == alone.results[0].numerator
    assert run.results[0].denominator == alone.results[0].denominator
    assert _same(run.results[0].year_ago.value, alone.results[0].year_ago.value)


def test_a_period_that_does_not_split_is_refused_before_reading() -> None:
    with pytest.raises(UsageError, match="does not split into whole quarters"):
        compute(CATALOG, period="2026-10", every="quarter")
    with pytest.raises(UsageError, match="cannot make a series of 'week'"):
        compute(CATALOG, every="week")  # type: ignore[arg-type]


def test_cli_series_and_separate_breakdowns(cli) -> None:
    result = cli(
        "compute", "-c", CATALOG, "--period", "2026", "--every", "quarter", "--kpi", "digital_channel_adoption",
        "--by", "priority", "--by", "channel", "-f", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    groups = {tuple(r["group"]) for r in doc["results"]}
    assert groups == {(), ("priority",), ("channel",)}  # two separate breakdowns, not priority x channel
    assert doc["every"] == "quarter"
    overall = [r["period"]["label"] for r in doc["results"] if not r["group"]]
    assert overall == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    crossed = json.loads(
        cli("compute", "-c", CATALOG, "--kpi", "digital_channel_adoption", "--by", "priority,channel", "-f", "json")
        .stdout
    )  # fmt: skip
    assert {tuple(r["group"]) for r in crossed["results"]} == {(), ("priority", "channel")}


def test_group_by_may_not_mix_columns_and_lists(tmp_path, cli) -> None:
    text = CATALOG.read_text().replace("    group_by: [priority]\n", "    group_by: [priority, [channel]]\n", 1)
    catalog = tmp_path / "kpi_definitions.yaml"
    catalog.write_text(text)
    result = cli("validate", catalog, "--no-data")
    assert result.exit_code == 2
    assert "group_by mixes columns and lists" in result.stderr and "[[priority], [channel]]" in result.stderr
