"""Periods (labels, prior, year ago, latest complete month) and target judging, worked out by hand."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from civic_kpi.catalog.model import Target
from civic_kpi.errors import UsageError
from civic_kpi.results import Status
from civic_kpi.targets import describe, judge, target_for_group
from civic_kpi.time.periods import latest_complete_month, parse_period


@pytest.mark.parametrize(
    ("text", "start", "end", "prior", "year_ago"),
    [
        ("2026-10", date(2026, 10, 1), date(2026, 11, 1), "2026-09", "2025-10"),
        ("2026-01", date(2026, 1, 1), date(2026, 2, 1), "2025-12", "2025-01"),
        ("2026-Q1", date(2026, 1, 1), date(2026, 4, 1), "2025-Q4", "2025-Q1"),
        ("2026q4", date(2026, 10, 1), date(2027, 1, 1), "2026-Q3", "2025-Q4"),
        ("2025", date(2025, 1, 1), date(2026, 1, 1), "2024", "2024"),
        ("FY2026", date(2026, 1, 1), date(2027, 1, 1), "FY2025", "FY2025"),
        (
            "2024-02-01..2024-02-29",
            date(2024, 2, 1),
            date(2024, 3, 1),
            "2024-01-03..2024-01-31",
            "2023-02-01..2023-02-28",
        ),
    ],
)
def test_periods(text, start, end, prior, year_ago):
    period = parse_period(text)
    assert (period.start, period.end) == (start, end)
    assert period.prior().label == prior
    assert period.year_ago().label == year_ago


def test_fiscal_year_with_a_may_start_spans_two_calendar_years():
    fy = parse_period("FY2016", fiscal_year_start_month=5)  # Kansas City: May 2015 to April 2016
    assert (fy.start, fy.end, fy.label) == (date(2015, 5, 1), date(2016, 5, 1), "FY2016")
    assert fy.prior().label == "FY2015" and fy.prior().start == date(2014, 5, 1)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-02-30..2026-03-01", "2026-03-01..2026-02-01", "soon"])
def test_bad_periods(text):
    with pytest.raises(UsageError):
        parse_period(text)


@pytest.mark.parametrize(
    ("as_of", "label"),
    [
        (datetime(2026, 11, 14, 17, 0), "2026-10"),
        (datetime(2026, 11, 1, 0, 0), "2026-10"),
        (datetime(2026, 10, 31, 12, 0), "2026-09"),
        (datetime(2026, 10, 31, 23, 59, 59), "2026-10"),
        (datetime(2027, 1, 3), "2026-12"),
    ],
)
def test_latest_complete_month(as_of, label):
    assert latest_complete_month(as_of).label == label


@pytest.mark.parametrize(
    ("target", "value", "status"),
    [
        ({"at_least": 80, "warn": 70}, 80.0, Status.PASS),
        ({"at_least": 80, "warn": 70}, 79.99, Status.WARN),
        ({"at_least": 80, "warn": 70}, 70.0, Status.WARN),  # the low end of "70-80%" is the failure line
        ({"at_least": 80, "warn": 70}, 69.99, Status.FAIL),
        ({"at_least": 57}, 0.57 * 100, Status.PASS),  # 56.99999999999999 meets 57: float noise is not a miss
        ({"below": 5}, 4.99, Status.PASS),
        ({"below": 5}, 5.0, Status.FAIL),  # "< 5%" is strict
        ({"at_most": 7, "warn": 14}, 7.0, Status.PASS),
        ({"at_most": 7, "warn": 14}, 14.0, Status.WARN),
        ({"at_most": 7, "warn": 14}, 14.01, Status.FAIL),
        ({"above": 0}, 0.0, Status.FAIL),
        ({"between": [10, 20]}, 20.0, Status.PASS),
        ({"between": [10, 20]}, 9.0, Status.FAIL),
    ],
)
def test_absolute_targets(target, value, status):
    assert judge(Target(**target), value, None, None).status == status


def test_relative_and_trend_targets():
    grow = Target(compare_to="year_ago", at_least=10)
    assert judge(grow, 110.0, None, 100.0).status == Status.PASS  # +10% exactly
    assert judge(grow, 109.0, None, 100.0).status == Status.FAIL
    assert judge(grow, 109.0, None, None).status == Status.NO_DATA
    reduce = Target(compare_to="year_ago", below=0)
    assert judge(reduce, 99.0, 1.0, 100.0).status == Status.PASS
    assert judge(reduce, 100.0, 1.0, 100.0).status == Status.FAIL
    trend = Target(trend_to_zero=True)
    assert judge(trend, 0.0, None, None).status == Status.PASS
    assert judge(trend, 3.0, 4.0, None).status == Status.PASS
    assert judge(trend, 4.0, 4.0, None).status == Status.WARN
    assert judge(trend, 5.0, 4.0, None).status == Status.FAIL
    assert judge(trend, None, 4.0, None).status == Status.NO_DATA


def test_group_override_and_descriptions():
    target = Target(at_least=90, by_group={"priority": {"Critical": Target(at_least=95)}})
    assert target_for_group(target, {"priority": "Critical"}).at_least == 95
    assert target_for_group(target, {"priority": "Low"}).at_least == 90
    assert target_for_group(target, {}).at_least == 90
    assert describe(Target(at_least=80, warn=70), "percent") == ">= 80% (warn >= 70%)"
    assert describe(Target(compare_to="year_ago", at_least=10), "count") == "YoY change >= +10%"
    assert describe(Target(compare_to="year_ago", below=0), "hours") == "lower than a year ago"
    assert describe(Target(at_most=7, warn=14), "days") == "<= 7 d (warn <= 14 d)"


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"at_least": 1, "below": 2},
        {"at_least": 80, "warn": 90},
        {"at_most": 7, "warn": 5},
        {"between": [5, 1]},
        {"trend_to_zero": True, "compare_to": "prior"},
    ],
)
def test_invalid_targets(bad):
    with pytest.raises(ValueError):
        Target(**bad)
