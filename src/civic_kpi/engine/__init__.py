"""The engine: a request is resolved, planned, executed and judged into a run document."""

from civic_kpi.engine.compute import compute, data_as_of, select_kpis

__all__ = ["compute", "data_as_of", "select_kpis"]
