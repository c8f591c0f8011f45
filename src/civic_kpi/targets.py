"""Judging a value against its target: pass, warn, fail, no data, or not comparable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from civic_kpi.catalog.model import Target
from civic_kpi.results import Status, TargetRule
from civic_kpi.units import PREFIX, SUFFIX, with_unit

# Values that differ from a goal only by floating-point noise (0.57 * 100 = 56.99999999999999) meet it.
_EPSILON = 1e-9


def _ge(a: float, b: float) -> bool:
    return a >= b - _EPSILON * max(1.0, abs(b))


def _le(a: float, b: float) -> bool:
    return a <= b + _EPSILON * max(1.0, abs(b))


def _gt(a: float, b: float) -> bool:
    return a > b + _EPSILON * max(1.0, abs(b))


def _lt(a: float, b: float) -> bool:
    return a < b - _EPSILON * max(1.0, abs(b))


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str | None = None


def resolve_target(target: Target, group: dict[str, str | None], period_label: str | None = None) -> Target:
    """The target that applies: the period's own (FY2027), then the group's own (critical >= 95), else the KPI's."""
    if period_label is not None and period_label in target.by_period:
        by_group = target.by_group
        target = target.by_period[period_label]
        target = target.model_copy(update={"by_group": target.by_group or by_group})
    return target_for_group(target, group)


def target_for_group(target: Target, group: dict[str, str | None]) -> Target:
    """The group's own target where the catalog gives one (critical >= 95), else the KPI's."""
    for dimension, value in group.items():
        override = target.by_group.get(dimension, {}).get(str(value)) if value is not None else None
        if override is not None:
            return override
    return target


def percent_change(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base == 0:
        return None
    return (value - base) / abs(base) * 100.0


def _fmt(number: float) -> str:
    return f"{number:g}"


def describe(target: Target, unit: str) -> str:
    """The rule in words, for tables: '>= 80% (warn >= 70%)', 'YoY change >= +10%', 'trend to zero'."""
    if target.trend_to_zero:
        return "trend to zero"
    # Units written as words ("per 1k residents") are left out of a rule: '>= 10', not '>= 10 per 1k residents'.
    known = unit in SUFFIX or unit in PREFIX
    relative = target.compare_to != "value"

    def shown(number: str) -> str:
        return f"{number}%" if relative else with_unit(number, unit) if known else number

    symbol = {"at_least": ">=", "above": ">", "at_most": "<=", "below": "<"}
    text = ""
    for name, sign in symbol.items():
        goal = getattr(target, name)
        if goal is not None:
            text = f"{sign} {shown(f'{goal:+g}' if relative else _fmt(goal))}"
            if target.warn is not None:
                warn_sign = ">=" if target.higher_is_better else "<="
                text += f" (warn {warn_sign} {shown(f'{target.warn:+g}' if relative else _fmt(target.warn))})"
    if target.between is not None:
        low, high = target.between
        text = f"{shown(_fmt(low)) if unit in PREFIX else _fmt(low)} to {shown(_fmt(high))}"
    if target.compare_to != "value":
        than = "the prior period" if target.compare_to == "prior" else "a year ago"
        if target.goal == 0 and target.warn is None and (target.below is not None or target.above is not None):
            return f"{'lower' if target.below is not None else 'higher'} than {than}"
        return f"{'change vs prior' if target.compare_to == 'prior' else 'YoY change'} {text}"
    return text


def rule(target: Target, unit: str) -> TargetRule:
    """The target as fields (TargetRule) beside its words: what a program reads instead of parsing '>= 90%'."""
    kind = next(
        (name for name in ("at_least", "above", "at_most", "below") if getattr(target, name) is not None),
        "between" if target.between is not None else "trend_to_zero",
    )
    goal = target.goal
    band = None
    if target.warn is not None and goal is not None:
        band = (float(target.warn), goal) if target.higher_is_better else (goal, float(target.warn))
    return TargetRule(
        kind=kind,
        goal=goal,
        bounds=(float(target.between[0]), float(target.between[1])) if target.between is not None else None,
        warn=None if target.warn is None else float(target.warn),
        warn_band=band,
        compare_to="prior" if target.trend_to_zero else target.compare_to,
        unit="%" if target.compare_to != "value" else unit,
    )


def describe_with_groups(target: Target, unit: str) -> str:
    """The rule and every per-group override: '>= 90% (Critical: >= 95%)'."""
    overrides = [
        f"{value}: {describe(override, unit)}"
        for groups in target.by_group.values()
        for value, override in groups.items()
    ]
    text = describe(target, unit)
    return f"{text} ({'; '.join(overrides)})" if overrides else text


def judge(target: Target | None, value: float | None, prior: float | None, year_ago: float | None) -> Verdict:
    """Apply one target rule to a value (or to its change against prior / year-ago)."""
    if value is None:  # no value says more than no target
        return Verdict(Status.NO_DATA, "no records in the period")
    if target is None:
        return Verdict(Status.NO_TARGET)
    if target.trend_to_zero:
        if value == 0:
            return Verdict(Status.PASS, "at zero")
        if prior is None:
            return Verdict(Status.NO_DATA, "no prior period to compare the trend with")
        if _lt(value, prior):
            return Verdict(Status.PASS, f"down from {_fmt(prior)}")
        if _gt(value, prior):
            return Verdict(Status.FAIL, f"up from {_fmt(prior)}")
        return Verdict(Status.WARN, f"unchanged at {_fmt(prior)}")
    subject = value
    if target.compare_to != "value":
        base = prior if target.compare_to == "prior" else year_ago
        change = percent_change(value, base)
        if change is None:
            which = "prior period" if target.compare_to == "prior" else "same period a year earlier"
            return Verdict(Status.NO_DATA, f"no value (or zero) in the {which} to compare with")
        subject = change
    if target.between is not None:
        low, high = target.between
        return Verdict(Status.PASS if _ge(subject, low) and _le(subject, high) else Status.FAIL)
    goal = target.goal
    assert goal is not None
    if target.at_least is not None:
        met = _ge(subject, goal)
    elif target.above is not None:
        met = _gt(subject, goal)
    elif target.at_most is not None:
        met = _le(subject, goal)
    else:
        met = _lt(subject, goal)
    if met:
        return Verdict(Status.PASS)
    if target.warn is not None:
        within = _ge(subject, target.warn) if target.higher_is_better else _le(subject, target.warn)
        if within:
            return Verdict(Status.WARN, "inside the warning band")
    return Verdict(Status.FAIL)


def compared_period(target: Target, value: float | None) -> Literal["prior", "year_ago"] | None:
    """The other period a verdict of `target` on `value` rests on: the prior period for a trend (unless the value
    is at zero, which passes whatever came before), the one `compare_to` names, or none for a rule on the value."""
    if target.trend_to_zero:
        return None if value == 0 else "prior"
    return None if target.compare_to == "value" else target.compare_to


def qualify(verdict: Verdict, compares: bool, now_gaps: list[str], then_gaps: list[str]) -> Verdict:
    """A verdict on data that covers its periods only in part (`now_gaps`: the reported period's, `then_gaps`: the
    compared period's, in words). A change between a part of one period and another period is no measure of
    either, so a comparison with a gap on either side is not comparable. A rule on the value itself keeps its
    verdict on a period not yet complete or partly covered (a rate so far is still a rate), and the reason says
    what the value covers."""
    if verdict.status not in (Status.PASS, Status.WARN, Status.FAIL):
        return verdict
    if compares and (now_gaps or then_gaps):
        return Verdict(Status.NOT_COMPARABLE, "; ".join([*now_gaps, *then_gaps]))
    if now_gaps:
        return Verdict(verdict.status, "; ".join([*([verdict.reason] if verdict.reason else []), *now_gaps]))
    return verdict
