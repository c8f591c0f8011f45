"""SLA deadlines in SQL (data/deadlines.py's twin), through a calendar table shipped with the query.

A deadline is the start plus the policy's days for the record's key. Calendar days are an interval. Business days
are counted on a calendar table the SQL makes itself, with no table to create in the database: one row per day from
the earliest start to far enough past the latest, each with whether it is a business day (a working weekday of the
calendar, not one of the holidays and closures the Polars engine knows, listed in the query) and `workday`, how many
business days there are up to and including it. The Nth business day after a start is then the business day whose
`workday` is the start day's plus N: the spreadsheet's WORKDAY, as Polars' `add_business_days` with a roll back
computes it (a Saturday's first business day is Monday), at the start's clock time; zero days is the start itself.

Only what SQL says exactly is written (`deadline_columns` returns None otherwise, and the records are prepared by
Polars): a naive timestamp or date start, a text or whole-number key, a calendar with at least one working weekday.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from civic_kpi.data.deadlines import load_policy_table
from civic_kpi.formula.sql import column, literal
from civic_kpi.time.business_days import holiday_dates, week_mask

if TYPE_CHECKING:
    from datetime import date
    from pathlib import Path

    import polars as pl
    from sqlglot import exp

    from civic_kpi.catalog.model import Catalog, Dataset


def deadline_columns(
    known: exp.Select, dataset: Dataset, names: set[str], catalog: Catalog, data_dir: Path, years: range
) -> exp.Select | None:
    """`known` (the records as known at the moment) with the deadline columns `names` added, or None where SQL would
    differ from the Polars engine."""
    from sqlglot import exp

    kinds = dataset.column_kinds
    deadlines = {name: dataset.deadlines[name] for name in sorted(names)}
    if any(
        kinds.get(d.start) not in ("datetime", "date") or dataset.columns[d.start].timezone for d in deadlines.values()
    ):
        return None
    if any(d.key is not None and kinds.get(d.key) not in ("string", "integer") for d in deadlines.values()):
        return None  # a float's or a boolean's text differs between Polars and SQL
    select = exp.select(exp.column(exp.Star(), table="known")).from_("known").with_("known", as_=known)
    for number, (name, deadline) in enumerate(deadlines.items()):
        policy = catalog.sla_policies[deadline.policy]
        calendar = catalog.calendars.get(policy.calendar) if policy.calendar else None
        mask = week_mask(calendar)
        if not any(mask):
            return None
        table = load_policy_table(deadline.policy, policy, data_dir)
        rules, start = f"policy_{number}", exp.column(deadline.start, table="known", quoted=True)
        key = exp.column(deadline.key, table="known", quoted=True) if deadline.key is not None else None
        select = select.join(_policy(table, rules), on=_matches(key, rules), join_type="left")
        days, business = exp.column("days", table=rules), exp.column("business", table=rules)
        by_calendar = _add_days(start, days, kinds[deadline.start])
        if not table["business"].any():
            select = select.select(exp.alias_(by_calendar, name, quoted=True))
            continue
        holidays = holiday_dates(calendar, years, policy.calendar or "") if calendar else []
        longest = int(table.filter(table["business"])["days"].max())  # type: ignore[arg-type]
        # Far enough past the latest start for its longest deadline: every week holds sum(mask) working weekdays,
        # of which the listed non-business days can take away at most one each.
        reach = 7 * math.ceil((longest + len(holidays) + 1) / sum(mask))
        cal = f"calendar_{number}"
        select = select.with_(cal, as_=_calendar(deadline.start, mask, holidays, reach))
        on_day, due_day = f"start_{number}", f"due_{number}"
        day = exp.cast(start.copy(), exp.DataType.build("DATE"))
        select = select.join(
            exp.to_table(cal).as_(on_day),
            on=exp.EQ(this=exp.column("day", table=on_day), expression=day),
            join_type="left",
        )
        target = exp.Add(this=exp.column("workday", table=on_day), expression=days.copy())
        select = select.join(
            exp.to_table(cal).as_(due_day),
            on=exp.and_(
                exp.column("business", table=due_day),
                exp.EQ(this=exp.column("workday", table=due_day), expression=target),
            ),
            join_type="left",
        )
        by_workday = _on_day(exp.column("day", table=due_day), start, kinds[deadline.start])
        zero = exp.EQ(this=days.copy(), expression=exp.Literal.number(0))
        workday = exp.Case(ifs=[exp.If(this=zero, true=start.copy())], default=by_workday)
        value = exp.Case(ifs=[exp.If(this=business.copy(), true=workday)], default=by_calendar)
        select = select.select(exp.alias_(value, name, quoted=True))
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


def _add_days(start: exp.Expression, days: exp.Expression, kind: str) -> exp.Expression:
    """Calendar days: a date plus whole days, a timestamp plus days of 24 hours (naive wall-clock time)."""
    from sqlglot import exp

    if kind == "date":
        return exp.Add(this=start.copy(), expression=days.copy())
    one_day = exp.Interval(this=exp.Literal.string("1"), unit=exp.var("DAY"))
    return exp.Add(this=start.copy(), expression=exp.Mul(this=days.copy(), expression=one_day))


def _on_day(day: exp.Expression, start: exp.Expression, kind: str) -> exp.Expression:
    """A business day at the start's clock time (a date start: the day itself)."""
    from sqlglot import exp

    if kind == "date":
        return day
    midnight = exp.cast(exp.cast(start.copy(), exp.DataType.build("DATE")), exp.DataType.build("TIMESTAMP"))
    clock = exp.Paren(this=exp.Sub(this=start.copy(), expression=midnight))
    return exp.Add(this=exp.cast(day, exp.DataType.build("TIMESTAMP")), expression=clock)


def _calendar(start: str, mask: tuple[bool, ...], holidays: list[date], reach: int) -> exp.Select:
    """Every day from the earliest start to `reach` days past the latest, whether it is a business day, and how many
    business days there are up to it."""
    import sqlglot

    working = ", ".join(str(number) for number, works in enumerate(mask, start=1) if works)  # ISODOW: Monday is 1
    closed = ", ".join(literal(day).sql("duckdb") for day in holidays) or "NULL"
    first = f"CAST(MIN(CAST({column(start).sql('duckdb')} AS DATE)) AS TIMESTAMP)"
    last = f"CAST(MAX(CAST({column(start).sql('duckdb')} AS DATE)) AS TIMESTAMP) + INTERVAL {reach} DAY"
    return sqlglot.parse_one(
        f"""
        SELECT day, business, SUM(CASE WHEN business THEN 1 ELSE 0 END) OVER (ORDER BY day) AS workday
        FROM (
            SELECT day, ISODOW(day) IN ({working}) AND NOT COALESCE(day IN ({closed}), FALSE) AS business
            FROM (SELECT CAST(UNNEST(GENERATE_SERIES({first}, {last}, INTERVAL 1 DAY)) AS DATE) AS day FROM known)
                AS days
        ) AS marked
        """,
        read="duckdb",
    )  # type: ignore[return-value]
