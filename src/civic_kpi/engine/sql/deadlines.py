"""SLA deadlines in SQL (data/deadlines.py's twin), through a calendar table shipped with the query.

A deadline is the start plus the policy's days for the record's key, a whole number of days either way. Calendar
days are the policy's days. Business days are counted on a calendar table the query makes itself, so that nothing
has to be created in the database: one row per day `n` from the earliest start's day to far enough past the latest,
each with whether it is a business day (a working weekday of the calendar, and not one of the holidays and closures
the Polars engine knows, which the query lists) and `workday`, how many business days there are up to and including
it. The Nth business day after a start is the business day whose `workday` is the start day's plus N: the
spreadsheet's WORKDAY, as Polars' `add_business_days` rolling back computes it (a Saturday's first business day is
Monday), kept at the start's clock time; zero days is the start itself.

Written in standard SQL that SQLGlot prints for each dialect (a series of whole numbers, a date plus days, a running
sum), and run by the tests on DuckDB, PostgreSQL and Spark. Only what SQL says exactly is written
(`deadline_columns` returns None otherwise, and Polars adds the deadlines): a naive timestamp or a date start, a text
or whole-number key, a calendar with a working weekday.
"""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING

from civic_kpi.data.deadlines import load_policy_table, require_one_rule
from civic_kpi.formula.sql import literal
from civic_kpi.time.business_days import holiday_dates, week_mask

if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl
    from sqlglot import exp

    from civic_kpi.catalog.model import Catalog, Dataset

KNOWN = "known"  # the relation the deadlines are added to: the records as known at the moment
_MONDAY = date(2001, 1, 1)  # the weekdays are counted from a Monday


def sql_deadlines_possible(dataset: Dataset, names: set[str], catalog: Catalog) -> bool:
    """Whether SQL says these deadlines exactly as Polars computes them."""
    kinds = dataset.column_kinds
    for name in names:
        deadline = dataset.deadlines[name]
        if kinds.get(deadline.start) not in ("datetime", "date") or dataset.columns[deadline.start].timezone:
            return False
        if deadline.key is not None and kinds.get(deadline.key) not in ("string", "integer"):
            return False  # a float's or a boolean's text differs between Polars and SQL
        policy = catalog.sla_policies[deadline.policy]
        if not any(week_mask(catalog.calendars.get(policy.calendar) if policy.calendar else None)):
            return False
    return True


def deadline_columns(
    known: exp.Select, dataset: Dataset, names: set[str], catalog: Catalog, data_dir: Path, years: range
) -> exp.Select | None:
    """`known` (the records as known at the moment) with the deadline columns `names` added, or None where SQL would
    differ from the Polars engine (sql_deadlines_possible)."""
    from sqlglot import exp

    if not sql_deadlines_possible(dataset, names, catalog):
        return None
    kinds = dataset.column_kinds
    select = exp.select(exp.column(exp.Star(), table=KNOWN)).from_(KNOWN).with_(KNOWN, as_=known)
    for number, name in enumerate(sorted(names)):
        deadline = dataset.deadlines[name]
        policy = catalog.sla_policies[deadline.policy]
        table = load_policy_table(deadline.policy, policy, data_dir)
        require_one_rule(name, deadline, table)  # as Polars does: `civic-kpi sql` would multiply the records
        if table.is_empty():  # no rule at all: no record has a deadline (an empty VALUES is no SQL)
            typed = exp.DataType.build("DATE" if kinds[deadline.start] == "date" else "TIMESTAMP")
            nothing = exp.cast(exp.null(), typed)
            select = select.select(exp.alias_(nothing, name, quoted=True))
            continue
        rules, start = f"policy_{number}", exp.column(deadline.start, table=KNOWN, quoted=True)
        key = exp.column(deadline.key, table=KNOWN, quoted=True) if deadline.key is not None else None
        select = select.join(_policy(table, rules), on=_matches(key, rules), join_type="left")
        days, business = exp.column("days", table=rules), exp.column("business", table=rules)
        if not table["business"].any():
            select = select.select(exp.alias_(_plus_days(start, days, kinds[deadline.start]), name, quoted=True))
            continue
        calendar = catalog.calendars.get(policy.calendar) if policy.calendar else None
        holidays = holiday_dates(calendar, years, policy.calendar or "") if calendar else []
        longest = int(table.filter(table["business"])["days"].max())  # type: ignore[arg-type]
        mask = week_mask(calendar)
        # Far enough past the latest start for its longest deadline: every week holds sum(mask) working weekdays,
        # of which the listed non-business days take away at most one each.
        reach = 7 * math.ceil((longest + len(holidays) + 1) / sum(mask))
        days_table, on_day, due_day = f"calendar_{number}", f"start_{number}", f"due_{number}"
        select = select.with_(days_table, as_=_calendar(deadline.start, mask, holidays, reach))
        day = exp.cast(start.copy(), exp.DataType.build("DATE"))
        select = select.join(
            exp.to_table(days_table).as_(on_day),
            on=exp.EQ(this=exp.column("day", table=on_day), expression=day),
            join_type="left",
        )
        target = exp.Add(this=exp.column("workday", table=on_day), expression=days.copy())
        select = select.join(
            exp.to_table(days_table).as_(due_day),
            on=exp.and_(
                exp.column("business", table=due_day),
                exp.EQ(this=exp.column("workday", table=due_day), expression=target),
            ),
            join_type="left",
        )
        # WORKDAY(start, 0) is the start itself, even on a weekend (the business day of the same count before it
        # is not); otherwise the days from the start's day to the due day.
        ahead = exp.Sub(this=exp.column("n", table=due_day), expression=exp.column("n", table=on_day))
        zero = exp.EQ(this=days.copy(), expression=exp.Literal.number(0))
        counted = exp.Case(ifs=[exp.If(this=zero, true=exp.Literal.number(0))], default=ahead)
        offset = exp.Case(ifs=[exp.If(this=business.copy(), true=counted)], default=days.copy())
        select = select.select(exp.alias_(_plus_days(start, offset, kinds[deadline.start]), name, quoted=True))
    return select


def _policy(table: pl.DataFrame, name: str) -> exp.Expression:
    """The policy table as VALUES (key, days, business): each key once (load_policy_table checked it)."""
    from sqlglot import exp

    rows = [
        exp.Tuple(expressions=[literal(key), exp.Literal.number(days), literal(bool(business))])
        for key, days, business in table.select("key", "days", "business").iter_rows()
    ]
    columns = [exp.to_identifier(c) for c in ("key", "days", "business")]
    return exp.Values(expressions=rows, alias=exp.TableAlias(this=exp.to_identifier(name), columns=columns))


def _matches(key: exp.Expression | None, rules: str) -> exp.Expression:
    """A record's rule: its key as text equal to the table's (Polars casts the key to a string); the one rule when
    the deadline has no key."""
    from sqlglot import exp

    if key is None:
        return exp.true()
    text = exp.cast(key, exp.DataType.build("VARCHAR"))
    return exp.EQ(this=text, expression=exp.column("key", table=rules))


def _plus_days(start: exp.Expression, days: exp.Expression, kind: str) -> exp.Expression:
    """A date plus whole days, or a timestamp plus days of 24 hours (naive wall-clock time, as Polars adds them)."""
    from sqlglot import exp

    if kind == "date":
        return _date_plus(start.copy(), days)
    # TIMESTAMPADD, as each dialect says it (Snowflake has no interval times a number; Spark's DATE_ADD(DAY, n, t)
    # keeps the clock time, where its two-argument DATE_ADD makes a date).
    return exp.TimestampAdd(this=start.copy(), expression=days, unit=exp.var("DAY"))


def _date_plus(day: exp.Expression, days: exp.Expression) -> exp.Expression:
    from sqlglot import exp

    whole = exp.cast(days, exp.DataType.build("INT"))  # Spark's date_add takes an INT, not a BIGINT
    added = exp.DateAdd(this=day, expression=whole, unit=exp.var("DAY"))
    return exp.cast(added, exp.DataType.build("DATE"))  # DuckDB and PostgreSQL add days as a timestamp


def _calendar(start: str, mask: tuple[bool, ...], holidays: list[date], reach: int) -> exp.Select:
    """Every day `n` from the earliest start's day to `reach` days past the latest, whether it is a business day, and
    how many business days there are up to it."""
    from sqlglot import exp

    as_day = exp.DataType.build("DATE")
    first = exp.Min(this=exp.cast(exp.column(start, quoted=True), as_day))
    last = exp.Max(this=exp.cast(exp.column(start, quoted=True), as_day))
    span = exp.Add(
        this=exp.DateDiff(this=last, expression=first.copy(), unit=exp.var("DAY")),
        expression=exp.Literal.number(reach),
    )
    bounds = exp.select(exp.alias_(first, "first_day"), exp.alias_(span, "span")).from_(KNOWN)
    series = exp.Unnest(
        expressions=[exp.GenerateSeries(start=exp.Literal.number(0), end=exp.column("span", table="bounds"))],
        alias=exp.TableAlias(this=exp.to_identifier("numbers"), columns=[exp.to_identifier("n")]),
    )
    n = exp.column("n", table="numbers")
    first_day = exp.column("first_day", table="bounds")
    # The weekday (Monday 0) from a known Monday, whatever the dialect's own weekday numbering.
    since_monday = exp.Add(
        this=exp.DateDiff(this=first_day, expression=literal(_MONDAY), unit=exp.var("DAY")), expression=n.copy()
    )
    seven = exp.Literal.number(7)
    # ((x % 7) + 7) % 7, as a day before the Monday has a negative remainder in SQL; its brackets written out, as
    # SQLGlot writes the tree as built (`a + n % 7` took n's remainder alone: a start before 2001 made every
    # weekday of the calendar wrong).
    remainder = exp.Add(this=exp.Mod(this=exp.Paren(this=since_monday), expression=seven), expression=seven.copy())
    weekday = exp.Mod(this=exp.Paren(this=remainder), expression=seven.copy())
    days = (
        exp.select(
            exp.alias_(n, "n"),
            exp.alias_(_date_plus(first_day.copy(), n.copy()), "day"),
            exp.alias_(weekday, "weekday"),
        )
        .from_(exp.Subquery(this=bounds, alias=exp.TableAlias(this=exp.to_identifier("bounds"))))
        .join(series, join_type="cross")
    )
    working = exp.In(
        this=exp.column("weekday"), expressions=[exp.Literal.number(i) for i, works in enumerate(mask) if works]
    )
    closed = exp.In(this=exp.column("day"), expressions=[literal(day) for day in holidays]) if holidays else exp.false()
    business = exp.and_(working, exp.not_(closed))
    marked = exp.select("n", "day", exp.alias_(business, "business")).from_(days.subquery("days"))
    one, zero = exp.Literal.number(1), exp.Literal.number(0)
    counted = exp.Case(ifs=[exp.If(this=exp.column("business"), true=one)], default=zero)
    running = exp.Window(this=exp.Sum(this=counted), order=exp.Order(expressions=[exp.Ordered(this=exp.column("n"))]))
    return exp.select("n", "day", "business", exp.alias_(running, "workday")).from_(marked.subquery("marked"))
