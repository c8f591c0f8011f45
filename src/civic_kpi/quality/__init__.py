"""Data-quality checks (`civic-kpi check`)."""

from civic_kpi.quality.run import check

__all__ = ["check"]
