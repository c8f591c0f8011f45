"""The formula language: what it accepts, what it refuses, and what it computes (checked against plain Python)."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from civic_kpi.formula import Context, FormulaError, all_rows, compile_formula, parse_formula

ROWS = {
    "status": ["Resolved", "Cancelled", "Open", "Resolved", None],
    "hours": [1.0, 2.0, None, 10.0, 4.0],
    "created": [
        datetime(2026, 10, 1, 8),
        datetime(2026, 10, 1, 9),
        datetime(2026, 10, 2),
        None,
        datetime(2026, 10, 3, 12),
    ],
    "closed": [
        datetime(2026, 10, 1, 20),
        datetime(2026, 10, 2, 9),
        None,
        None,
        datetime(2026, 10, 3, 13, 30),
    ],
}


def run(text: str, mask: pl.Expr | None = None, params: dict | None = None, refs: dict | None = None) -> object:
    ctx = Context(
        mask=all_rows() if mask is None else mask,
        period_start=datetime(2026, 10, 1),
        period_end=datetime(2026, 11, 1),
        as_of=datetime(2026, 11, 1),
        params=params or {},
        refs=refs or {},
    )
    compiled = compile_formula(parse_formula(text), ctx)
    return pl.DataFrame(ROWS).lazy().select(compiled.expr.alias("v")).collect()["v"][0]


def test_count_with_condition_and_in_list():
    # Resolved, Cancelled -> rows 0, 1, 3
    assert run("count(status in ['Resolved', 'Cancelled'])") == 3
    assert run("count()") == 5
    assert run("count(status not in ['Open'])") == 3  # null status is neither in nor out: not counted


def test_null_comparisons_count_as_false():
    assert run("count(hours > 1)") == 3  # 2.0, 10.0, 4.0; the null hour is not counted
    assert run("count(closed is None)") == 2
    assert run("count(not_null(closed))") == 3


def test_arithmetic_of_aggregates_and_params():
    assert run("sum(hours) / count()") == pytest.approx((1 + 2 + 10 + 4) / 5)
    assert run("sum(hours) / (params.population / 1000)", params={"population": 17000}) == pytest.approx(1.0)


def test_hours_and_days_between_are_fractional():
    # 12 h, 24 h, 1.5 h -> mean 12.5
    assert run("mean(hours_between(created, closed))") == pytest.approx(12.5)
    assert run("max(days_between(created, closed))") == pytest.approx(1.0)


def test_percentile_is_percentile_inc():
    # hours 1, 2, 4, 10 -> rank (4-1)*0.9 = 2.7 -> 4 + 0.7 * (10 - 4) = 8.2 (spreadsheet PERCENTILE.INC)
    assert run("percentile(hours, 90)") == pytest.approx(8.2)
    assert run("median(hours)") == pytest.approx(3.0)
    assert run("percentile(hours, 90, method='lower')") == pytest.approx(4.0)


def test_where_and_period_mask_combine():
    mask = pl.col("status") != "Open"
    assert run("sum(hours, where=status == 'Resolved')", mask=mask) == pytest.approx(11.0)
    assert run("count()", mask=mask) == 3


def test_ref_and_len():
    refs = {"known": ["Resolved", "Open"]}
    assert run("n_unique(status, where=status in ref.known)", refs=refs) == 2
    assert run("len(ref.known)", refs=refs) == 2


def test_if_else_coalesce_and_durations():
    # rows 0, 1 (exactly 24 h), 2 (no closure: created <= created + 1 day) and 4; row 3 has neither date
    assert run("count(coalesce(closed, created) <= created + days(1))") == 4
    assert run("sum(if_else(status == 'Open', 1, 0))") == 1
    assert run("count(closed <= created + hours(12))") == 2


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("__import__('os')", "function '__import__' is not allowed"),
        ("count(x.y)", "attribute access"),
        ("count(a)[0]", "subscripts"),
        ("count(a) if True else 1", "inline if"),
        ("count(a ** 2)", "operator Pow"),
        ("count(a == {1})", "set literals"),
        ("count(f'{a}')", "f-strings"),
        ("count((y := 1))", "assignment"),
        ("sum(count(a))", "inside another aggregate"),
        ("a + 1", "outside an aggregate"),
        ("count(a is 1)", "'is' only compares with None"),
        ("count(a in b)", "'in' needs a list"),
        ("percentile(a, 101)", "from 0 to 100"),
        ("percentile(a, 90, method='excel')", "method must be one of"),
        ("sum(a, b)", "takes 1 arguments"),
        ("count(a, when=b)", "no keyword 'when'"),
        ("count(", "syntax error"),
        ("count(a); import os", "syntax error"),
        ("len(a)", "len(ref.NAME)"),
        ("sum", "column 'sum' is used outside an aggregate"),
        ("coutn(a)", "did you mean 'count'"),
    ],
)
def test_refused(text, phrase):
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    assert phrase in info.value.message + " " + (info.value.hint or "")


def test_names_are_collected():
    formula = parse_formula("sum(a, where=b in ref.r) / params.p + count(c is None)")
    assert formula.columns == {"a", "b", "c"}
    assert formula.params == {"p"} and formula.refs == {"r"}
    assert formula.aggregate_count == 2
