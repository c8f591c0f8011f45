"""civic-kpi: compute and judge city-government KPIs from a YAML catalog.

The library API mirrors the CLI: a session holds the catalog, the data folder and the as-of moment, and has one
method per command, taking the command's options under the same names.

    import civic_kpi
    session = civic_kpi.open("kpi_definitions.yaml")
    run = session.compute(period="2026-10", by=["priority"])
    for result in run.results:
        print(result.kpi_id, result.group, result.value, result.status)

The functions behind the methods (compute, review, scorecard, ...) stay available for one-off calls.

Names are imported lazily so that `civic-kpi --help` does not pay for importing Polars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
    from civic_kpi.data.deadlines import sla_deadlines
    from civic_kpi.engine import compute
    from civic_kpi.errors import CatalogError, CivicKpiError, DataError, ExitCode, UsageError
    from civic_kpi.programs.houston_review import review
    from civic_kpi.programs.kansas_city_scorecard import scorecard
    from civic_kpi.results import ComputeRun, KpiResult, ReviewRun, ScorecardRun, Status
    from civic_kpi.session import Session, open
    from civic_kpi.time.periods import Period, parse_period

_EXPORTS = {
    "load_catalog": "civic_kpi.catalog.loader",
    "LoadedCatalog": "civic_kpi.catalog.loader",
    "compute": "civic_kpi.engine",
    "CivicKpiError": "civic_kpi.errors",
    "CatalogError": "civic_kpi.errors",
    "DataError": "civic_kpi.errors",
    "UsageError": "civic_kpi.errors",
    "ExitCode": "civic_kpi.errors",
    "Period": "civic_kpi.time.periods",
    "parse_period": "civic_kpi.time.periods",
    "sla_deadlines": "civic_kpi.data.deadlines",
    "review": "civic_kpi.programs.houston_review",
    "ReviewRun": "civic_kpi.results",
    "scorecard": "civic_kpi.programs.kansas_city_scorecard",
    "ScorecardRun": "civic_kpi.results",
    "ComputeRun": "civic_kpi.results",
    "KpiResult": "civic_kpi.results",
    "Status": "civic_kpi.results",
    "open": "civic_kpi.session",
    "Session": "civic_kpi.session",
}

__all__ = [
    "CatalogError",
    "CivicKpiError",
    "ComputeRun",
    "DataError",
    "ExitCode",
    "KpiResult",
    "LoadedCatalog",
    "Period",
    "ReviewRun",
    "ScorecardRun",
    "Session",
    "Status",
    "UsageError",
    "__version__",
    "compute",
    "load_catalog",
    "open",
    "parse_period",
    "review",
    "scorecard",
    "sla_deadlines",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'civic_kpi' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
