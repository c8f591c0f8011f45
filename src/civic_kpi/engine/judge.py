"""Judging: each value against its target, beside its prior and year-ago values, assembled into the run document.

This is the last stage: it reads the values an executor filed and never touches the data.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Literal

from civic_kpi.catalog.model import KPI, Target
from civic_kpi.engine.coverage import gaps
from civic_kpi.engine.values import Value, Values
from civic_kpi.formula import PERCENTILE_METHOD_TEXT, Formula
from civic_kpi.results import Comparison, KpiInput, KpiResult, PeriodInfo, TargetRule, trusted
from civic_kpi.targets import compared_period, describe, judge, percent_change, qualify, resolve_target, rule
from civic_kpi.time.periods import Period, to_date_start

GroupRows = Literal["every period", "last period"]  # which periods of a series list their breakdowns' rows


@lru_cache(maxsize=4096)
def period_info(period: Period) -> PeriodInfo:
    return PeriodInfo(label=period.label, start=period.start, end=period.last_day)


def _comparison(period: Period, value: float | None, base: float | None, partial: list[str]) -> Comparison:
    change = value - base if value is not None and base is not None else None
    # trusted: the engine's own values need no validation, and a series makes tens of thousands of these.
    return trusted(
        Comparison,
        period=period_info(period),
        value=base,
        change=change,
        change_pct=percent_change(value, base),
        partial=partial if base is not None else [],
    )


def kpi_results(
    kpi: KPI,
    breakdowns: tuple[tuple[str, ...], ...],
    series: tuple[Period, ...],
    values: Values,
    method: str | None,
    reads: list[KPI],
    fiscal_year_start_month: int,
    to_date: str | None,
    first: Mapping[str, date],
    moment: datetime,
    groups_only_in: Period | None = None,
) -> Iterator[KpiResult]:
    """The KPI's result rows: per period of the series, the overall row then each breakdown's groups (in rank
    order for a ranked KPI). `reads`: the KPIs it is computed from, whose values each row lists; `to_date`: the
    to-date window of the KPI or of the KPIs under it, which each row's `covers` spells out; `first`: the first
    day of records of each dataset it reads, which with the as-of `moment` says how much of a period is covered;
    `groups_only_in`: the one period whose breakdowns are listed (default: every period's). Each row is made when
    asked for, so that a file output can write it and let it go."""
    words = _TargetWords()
    for period in series:
        prior, year_ago = period.prior(), period.year_ago()
        span = covers(to_date, period, fiscal_year_start_month)
        gaps_of = {
            role: gaps(p, first, moment, label, _start(to_date, p, fiscal_year_start_month))
            for role, p, label in (("now", period, ""), ("prior", prior, "prior "), ("year_ago", year_ago, "year-ago "))
        }
        for dims in [(), *(breakdowns if groups_only_in in (None, period) else ())]:
            rows = []
            for group in values.groups(kpi.id, dims):
                now = values.get(kpi.id, period, group)
                prior_value = values.get(kpi.id, prior, group)
                year_value = values.get(kpi.id, year_ago, group)
                if group and not (now.rows or prior_value.rows or year_value.rows):
                    continue  # a group with no records in any compared period is noise; one with records stays
                rows.append((group, now, prior_value, year_value))
            ranks = _ranks([now.value for _, now, _, _ in rows], kpi.rank) if kpi.rank and dims else {}
            order = sorted(range(len(rows)), key=lambda i: ranks.get(i, len(rows) + 1))
            for index in order:
                group, now, prior_value, year_value = rows[index]
                named = dict(group)
                target = resolve_target(kpi.target, named, period.label) if kpi.target else None
                verdict = judge(target, now.value, prior_value.value, year_value.value)
                then = None
                if target is not None:
                    then = compared_period(target, now.value)
                    verdict = qualify(verdict, then is not None, gaps_of["now"], gaps_of[then] if then else [])
                target_words, target_rule = words(target, kpi.unit) if target else (None, None)
                yield (
                    trusted(
                        KpiResult,
                        kpi_id=kpi.id,
                        name=kpi.name,
                        domain=kpi.domain,
                        unit=kpi.unit,
                        period=period_info(period),
                        group=named,
                        value=now.value,
                        numerator=now.numerator,
                        denominator=now.denominator,
                        sample_size=now.sample,
                        target=target_words,
                        target_rule=target_rule,
                        status=verdict.status,
                        status_reason=now.reason if now.value is None else verdict.reason,
                        partial=gaps_of["now"] if now.value is not None else [],
                        better=None if target is None else "higher" if target.higher_is_better else "lower",
                        prior=_comparison(prior, now.value, prior_value.value, gaps_of["prior"]),
                        year_ago=_comparison(year_ago, now.value, year_value.value, gaps_of["year_ago"]),
                        judged_against=then if now.value is not None else None,  # no value: nothing judged
                        percentile_method=method,
                        decimals=kpi.decimals,
                        excluded=None
                        if now.excluded is None and now.invalid is None
                        else (now.excluded or 0) + (now.invalid or 0),
                        excluded_reason=_excluded_reason(kpi, now),
                        rank=ranks.get(index),
                        covers=span,
                        inputs=[
                            trusted(
                                KpiInput,
                                kpi_id=read.id,
                                name=read.name,
                                unit=read.unit,
                                decimals=read.decimals,
                                value=values.get(read.id, period, group).value,
                            )
                            for read in reads
                        ],
                    )
                )


class _TargetWords:
    """A target's words and fields, made once per target and unit: a series judges thousands of rows against the
    few targets a KPI has (a group's or a period's own among them)."""

    def __init__(self) -> None:
        self._made: dict[tuple[int, str], tuple[Target, str, TargetRule]] = {}

    def __call__(self, target: Target, unit: str) -> tuple[str, TargetRule]:
        made = self._made.get((id(target), unit))
        if made is None or made[0] is not target:  # an id is only unique while its object lives: keep the object
            if len(self._made) >= 64:  # a period's own target is a new object per row: do not keep them all
                self._made.clear()
            made = self._made[(id(target), unit)] = (target, describe(target, unit), rule(target, unit))
        return made[1], made[2]


def covers(kind: str | None, period: Period, fiscal_year_start_month: int) -> PeriodInfo | None:
    """The days whose records a to-date window of `kind` counts, when they are more than the period's."""
    if kind is None:
        return None
    start = to_date_start(kind, period, fiscal_year_start_month)  # type: ignore[arg-type]
    if start == period.start:
        return None
    return PeriodInfo(label=f"{kind.replace('_', ' ')} to date", start=start, end=period.last_day)


def _start(kind: str | None, period: Period, fiscal_year_start_month: int) -> date | None:
    """Where a to-date window makes the records of `period` start (None: at the period's start)."""
    return None if kind is None else to_date_start(kind, period, fiscal_year_start_month)  # type: ignore[arg-type]


def _ranks(found: list[float | None], order: str) -> dict[int, int]:
    """Competition ranks ("1224", a spreadsheet's RANK) of the values present, by position; 1 is the highest
    value with highest_first, the lowest with lowest_first. Values within 1e-9 of each other tie, as targets
    treat them as equal, so 0.1 + 0.2 and 0.3 share a rank."""
    present = sorted(
        ((value, index) for index, value in enumerate(found) if value is not None),
        key=lambda pair: pair[0],
        reverse=order == "highest_first",
    )
    ranks: dict[int, int] = {}
    for position, (value, index) in enumerate(present):
        before = present[position - 1] if position else None
        tied = before is not None and math.isclose(value, before[0], rel_tol=1e-9, abs_tol=1e-12)
        ranks[index] = ranks[before[1]] if tied and before is not None else position + 1
    return ranks


def _excluded_reason(kpi: KPI, value: Value) -> str | None:
    reasons = []
    if value.excluded:
        reasons.append(
            f"{value.excluded} inside their {kpi.window.follow_up_days}-day follow-up window at the as-of time"
        )
    if value.invalid:
        reasons.append(f"{value.invalid} with a negative duration (end before start)")
    return "; ".join(reasons) or None


def percentile_method(formulas: Mapping[str, Formula]) -> str | None:
    methods: set[str] = set().union(*(formula.percentile_methods for formula in formulas.values()))
    if not methods:
        return None
    if methods <= {"inclusive", "linear"}:
        return PERCENTILE_METHOD_TEXT
    return ", ".join(sorted(methods))


def coverage_notes(series: tuple[Period, ...], oldest: Mapping[str, datetime | None]) -> list[str]:
    """Say when a compared period starts before a dataset's first day of records: its values cover part of it."""
    notes: dict[str, str] = {}
    compared = [("", p) for p in series] + [("prior ", p.prior()) for p in series]
    compared += [("year-ago ", p.year_ago()) for p in series]
    for which, period in compared:
        late = {
            name: first.date()
            for name, first in oldest.items()
            if first is not None and period.start < first.date() < period.end
        }
        if late and period.label not in notes:
            notes[period.label] = (
                f"the {which}period {period.label} starts before the first record of {', '.join(sorted(late))} "
                f"({min(late.values())}): its values cover only part of it"
            )
    return list(notes.values())
