"""The engine: a request is resolved, planned, executed and judged into a run document.

request.py          options checked against the catalog: KPIs, breakdowns, formulas, columns
plan.py             the plan: periods at the moment, per dataset the files, columns and queries
polars_executor.py  the plan run on Polars: lazy queries collected together, rows filed as values
values.py           values by KPI, period and group; KPIs computed from other KPIs
judge.py            targets, comparisons, ranks: the result rows
compute.py          the stages in order
"""

from civic_kpi.engine.compute import (
    compute,
    compute_stream,
    data_as_of,
    execute,
    moment_of_data,
    plan_compute,
    select_kpis,
)
from civic_kpi.engine.plan import Plan
from civic_kpi.engine.request import Request, resolve

__all__ = [
    "Plan",
    "Request",
    "compute",
    "compute_stream",
    "data_as_of",
    "execute",
    "moment_of_data",
    "plan_compute",
    "resolve",
    "select_kpis",
]
