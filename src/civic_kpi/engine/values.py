"""The values a run computed, filed by KPI, period and group, and the KPIs computed from other KPIs' values.

A value carries the counts behind it (records in the period, sample, exclusions) and, when there is none, why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from civic_kpi.catalog.graph import inputs
from civic_kpi.catalog.model import KPI
from civic_kpi.formula import NO_PERIOD, Context, Formula, compile_formula, kpi_column
from civic_kpi.time.periods import Period

Group = tuple[tuple[str, str | None], ...]  # ((dimension, value), ...); () is the overall row


@dataclass(frozen=True, slots=True)  # slots: a breakdown with many groups holds one per KPI, period and group
class Value:
    """One KPI's value for one period and group, with the counts behind it."""

    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    sample: int | None = None
    reason: str | None = None  # why there is no value
    excluded: int | None = None  # records of the period left out because their follow-up window is still open
    invalid: int | None = None  # records left out because a duration was negative
    rows: int = 0  # records in the period


_NO_RECORDS = Value(None, reason="no records in the period")
COUNTS = ("rows", "sample", "excluded", "invalid")  # the per-period counts an aggregation reports besides values


def value_of(kpi: KPI, row: dict[str, Any], prefix: str) -> Value:
    sample = row.get(prefix + "sample")
    excluded = row.get(prefix + "excluded")
    value = _judgeable(kpi, row, prefix, sample, excluded)
    return replace(value, invalid=row.get(prefix + "invalid"), rows=row.get(prefix + "rows") or 0)


def _judgeable(kpi: KPI, row: dict[str, Any], prefix: str, sample: int | None, excluded: int | None) -> Value:
    if not row.get(prefix + "rows"):
        reason = "no records in the period"
        if excluded:
            reason = f"all {excluded} records of the period are still inside their follow-up window"
        return Value(None, sample=sample, reason=reason, excluded=excluded)
    if kpi.is_ratio:
        numerator, denominator = row.get(prefix + "numerator"), row.get(prefix + "denominator")
        if denominator == 0:
            return Value(None, numerator, denominator, sample, "the denominator is zero", excluded)
        value = None if numerator is None or denominator is None else numerator / denominator * kpi.effective_scale
    else:
        numerator = denominator = None
        value = row.get(prefix + "value")
    if value is not None and not math.isfinite(value):
        # Telling the two apart would take tracing the formula: say both.
        reason = "the formula's value is not finite (a division by zero or an overflow)"
        return Value(None, numerator, denominator, sample, reason, excluded)
    reason = None if value is not None else "no value: every input in the period is missing"
    return Value(value, numerator, denominator, sample, reason, excluded)


class Values:
    """Every computed value, looked up by KPI id, period and group; and each KPI breakdown's groups, in order."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str, Group], Value] = {}
        self._groups: dict[tuple[str, tuple[str, ...]], dict[Group, None]] = {}
        # What a period with no records of a group is worth, per KPI: a keyed plan has no row for it, where a
        # masked plan has a row of zero counts; this is that row's value, so both paths report the same.
        self._empty: dict[str, Value] = {}

    def add(self, kpi_id: str, dims: tuple[str, ...], group: Group, period: Period, value: Value) -> None:
        self._values[(kpi_id, period.label, group)] = value
        self._groups.setdefault((kpi_id, dims), {})[group] = None

    def set_empty(self, kpi_id: str, value: Value) -> None:
        self._empty[kpi_id] = value

    def get(self, kpi_id: str, period: Period, group: Group) -> Value:
        return self._values.get((kpi_id, period.label, group), self._empty.get(kpi_id, _NO_RECORDS))

    def groups(self, kpi_id: str, dims: tuple[str, ...]) -> list[Group]:
        found = self._groups.get((kpi_id, dims), {})
        return list(found) if dims else [()]


def from_kpis(
    kpi: KPI,
    breakdowns: tuple[tuple[str, ...], ...],
    periods: tuple[Period, ...],
    values: Values,
    formulas: Mapping[str, Formula],
    ctx_values: dict[str, Any],
) -> None:
    """Compute a KPI from its input KPIs' values, for every period and every group of any input; a group some
    input has no records of gets no records either, so the results leave it out like any group without records."""
    import polars as pl

    names = inputs(kpi)
    ctx = Context(None, NO_PERIOD, NO_PERIOD, NO_PERIOD, **ctx_values)
    exprs = [compile_formula(formula, ctx).expr.cast(pl.Float64).alias(field) for field, formula in formulas.items()]
    for dims in [(), *breakdowns]:
        groups = list(dict.fromkeys(group for name in names for group in values.groups(name, dims)))
        cells = [(period, group) for period in periods for group in groups]
        got = {name: [values.get(name, period, group) for period, group in cells] for name in names}
        columns = {kpi_column(name): [value.value for value in got[name]] for name in names}
        frame = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.Float64)).select(exprs)
        for index, (row, (period, group)) in enumerate(zip(frame.iter_rows(named=True), cells, strict=True)):
            # The records behind a value are those of its scarcest input: a group some input has no records of
            # (a survey question without an importance) is left out like any group without records.
            rows = min(got[name][index].rows for name in names)
            missing = next((name for name in names if got[name][index].value is None), None)
            if missing is not None:  # a value needs every input: the first one missing says why there is none
                value = Value(None, reason=f"kpi.{missing} has no value: {got[missing][index].reason}", rows=rows)
            else:
                value = value_of(kpi, {**row, "rows": rows}, "")
            values.add(kpi.id, dims, group, period, value)
