"""The catalog: its model, loading it from YAML with line numbers, and checking it against itself and the data."""

from civic_kpi.catalog.loader import load_catalog
from civic_kpi.catalog.model import KPI, Catalog, Dataset, Target

__all__ = ["KPI", "Catalog", "Dataset", "Target", "load_catalog"]
