"""The formula language: what it accepts, what it refuses, and what it computes (checked against plain Python)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import polars as pl
import pytest

from civic_kpi.formula import REGISTRY, Context, FormulaError, all_rows, compile_formula, parse_formula
from civic_kpi.formula.tree import BinaryOp, Call, Column, Compare, Keyword, ListLiteral, Literal, Param, Ref, walk

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
        ("count(status = 'Closed')", "'=' is not a comparison: count() has no keyword 'status'"),
        ("count(a == 1 and b = 2)", "'=' is not a comparison: a formula compares with =="),
        ("count(", "syntax error"),
        ("count(a); import os", "syntax error"),
        ("len(a)", "len(ref.NAME)"),
        ("sum", "column 'sum' is used outside an aggregate"),
        ("coutn(a)", "did you mean 'count'"),
        ("sum(a, where=b, where=c)", "has the keyword 'where' twice"),
        ("count(date(1) < a)", "date() takes a date or timestamp, or a text literal"),
        ("date('2026-02-30')", "not a valid date"),
        ("count(a in ['x', ...])", "lists may only hold literal values"),
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


# One worked example per function of the registry, on ROWS: a function added to the registry without one fails here.
EXAMPLES = {
    "count": ("count(status == 'Resolved')", 2),
    "sum": ("sum(hours)", 17.0),
    "mean": ("mean(hours)", 4.25),
    "median": ("median(hours)", 3.0),
    "percentile": ("percentile(hours, 90)", 8.2),
    "n_unique": ("n_unique(status)", 3),
    "min": ("min(hours)", 1.0),
    "max": ("max(hours)", 10.0),
    "hours_between": ("sum(hours_between(created, closed))", 12 + 24 + 1.5),
    "days_between": ("sum(days_between(created, closed))", (12 + 24 + 1.5) / 24),
    "minutes_between": ("max(minutes_between(created, closed))", 24 * 60),
    "seconds_between": ("min(seconds_between(created, closed))", 90 * 60),
    "days": ("count(closed <= created + days(1))", 3),
    "hours": ("count(closed <= created + hours(12))", 2),
    "is_null": ("count(is_null(closed))", 2),
    "not_null": ("count(not_null(closed))", 3),
    "coalesce": ("count(coalesce(status, 'none') == 'none')", 1),
    "if_else": ("sum(if_else(status == 'Open', 1, 0))", 1),
    "lower": ("count(lower(status) == 'resolved')", 2),
    "upper": ("count(upper(status) == 'OPEN')", 1),
    "abs": ("sum(abs(0 - hours))", 17.0),
    "len": ("len(ref.known)", 2),
    "refresh_days": ("sum(refresh_days(if_else(status == 'Open', 'R/P1W', 'Daily')))", 7 + 4 * 1.0),
    "date": ("count(created < date('2026-10-02'))", 2),
    "datetime": ("count(created < datetime('2026-10-01 09:00'))", 1),
    # More cases, on files read through the CLI, in test_formula_functions.py.
    "strip": ("count(strip(status) == 'Open')", 1),
    "replace": ("count(replace(status, 'Res', 'X') == 'Xolved')", 2),
    "length": ("sum(length(status))", 8 + 9 + 4 + 8),
    "contains": ("count(contains(status, 'ol'))", 2),
    "starts_with": ("count(starts_with(status, 'C'))", 1),
    "ends_with": ("count(ends_with(status, 'ed'))", 3),
    "matches": ("count(matches(status, '^(Open|Cancel)'))", 2),
    "year": ("sum(year(created))", 4 * 2026),
    "month": ("sum(month(closed))", 3 * 10),
    "weekday": ("sum(weekday(created))", 4 + 4 + 5 + 6),  # Thursday 1 October 2026 twice, Friday 2, Saturday 3
    "hour": ("sum(hour(closed))", 20 + 9 + 13),
}


def test_every_registry_function_has_a_worked_example():
    assert set(EXAMPLES) == set(REGISTRY)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_registry_function_computes(name):
    text, expected = EXAMPLES[name]
    assert run(text, refs={"known": ["Resolved", "Open"]}) == pytest.approx(expected)


@pytest.mark.parametrize("function", list(REGISTRY.values()), ids=list(REGISTRY))
def test_arity_comes_from_the_registry(function):
    wrapped = (lambda call: call) if function.kind == "aggregate" else (lambda call: f"count({call} == 1)")
    too_many = ", ".join(["1"] * (function.max_args + 1))
    with pytest.raises(FormulaError, match=rf"{function.name}\(\) takes"):
        parse_formula(wrapped(f"{function.name}({too_many})"))
    if function.min_args > 0:
        with pytest.raises(FormulaError, match=rf"{function.name}\(\) takes"):
            parse_formula(wrapped(f"{function.name}()"))


def test_the_tree_is_our_own_with_character_offsets():
    formula = parse_formula("sum(hours, where=status in ref.r) / params.p")
    assert formula.tree == BinaryOp(
        "/",
        Call(
            "sum",
            (Column("hours", 4),),
            (Keyword("where", Compare(Column("status", 17), ("in",), (Ref("r", 27),), 17), 11),),
            0,
        ),
        Param("p", 36),
        0,
    )
    in_list = parse_formula("count(channel in ['Web', 'App'])").tree
    assert isinstance(in_list, Call) and in_list.args == (
        Compare(Column("channel", 6), ("in",), (ListLiteral((Literal("Web", 18), Literal("App", 25)), 17),), 6),
    )
    assert [type(node).__name__ for node in walk(formula.tree)] == [
        "BinaryOp", "Call", "Column", "Compare", "Column", "Ref", "Param",
    ]  # fmt: skip


def test_error_positions_count_characters_not_bytes():
    text = "count(x == 'Café' and y.z)"
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    assert info.value.message == "attribute access is not allowed"
    assert info.value.offset == text.index("y.z")  # 22; Python's col_offset says 23 (é is two UTF-8 bytes)
    with pytest.raises(FormulaError) as info:
        parse_formula("count(status == 'Ré' and)")
    assert info.value.message.startswith("syntax error") and info.value.offset == len("count(status == 'Ré' and")


def test_error_positions_count_from_the_start_of_a_formula_over_several_lines():
    text = "count(status == 'Ré'\n      and y.z)"
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    assert info.value.offset == text.index("y.z")


def test_an_equals_sign_meant_as_a_comparison_gets_its_own_message():
    # count(status = "Closed") is a keyword argument to Python; the message says what was meant, in our words.
    with pytest.raises(FormulaError) as info:
        parse_formula('count(status = "Closed")')
    assert info.value.hint == 'to compare, write status == "Closed" (count()\'s keywords: where)'
    with pytest.raises(FormulaError) as info:
        parse_formula("count(a == 1 and b = 2)")
    assert "assignment" not in info.value.message and "==" in info.value.hint
    # A keyword misspelt stays a keyword mistake.
    with pytest.raises(FormulaError) as info:
        parse_formula("sum(x, were=a)")
    assert info.value.message == "sum() has no keyword 'were'" and info.value.hint == "allowed: where"


def test_a_formula_is_parsed_once_per_text_and_mode():
    text = "count(status == 'Open')"
    first = parse_formula(text)
    assert parse_formula(text) is first
    assert parse_formula(text, row=False, over_kpis=False) is first
    assert parse_formula("status == 'Open'", row=True) is parse_formula("status == 'Open'", True)
    assert parse_formula("status == 'Open'", row=True) is not parse_formula("count(status == 'Open')")
    # Shared, so it must not change under anyone: frozen, with frozen sets, and hashable.
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.text = "count()"  # type: ignore[misc]
    assert isinstance(first.columns, frozenset) and hash(first) == hash(parse_formula(text))
