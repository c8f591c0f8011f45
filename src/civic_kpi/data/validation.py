"""`validate`: check a catalog against itself and against the headers of its data files, reporting every problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.data.deadlines import long_sla_warnings
from civic_kpi.data.sources import check_columns, load_reference, resolve_files
from civic_kpi.errors import CivicKpiError, Problem


@dataclass
class ValidationReport:
    catalog: LoadedCatalog | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    files_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(
    catalog: LoadedCatalog | str | Path, data_dir: str | Path | None = None, check_data: bool = True
) -> ValidationReport:
    """Every problem with the catalog and, unless check_data is False, with the columns its files must have.

    A catalog already loaded has passed the catalog's own checks, so only its data files are checked again."""
    if isinstance(catalog, LoadedCatalog):
        loaded = catalog
    else:
        try:
            loaded = load_catalog(catalog)
        except CivicKpiError as exc:
            return ValidationReport(None, exc.problems)
    report = ValidationReport(loaded)
    if not check_data:
        return report
    root = loaded.data_dir(data_dir)
    for name, dataset in loaded.catalog.datasets.items():
        try:
            files = resolve_files(name, dataset.path, root)
            report.problems.extend(check_columns(name, dataset, files, set(dataset.columns)))
            report.files_checked += len(files)
        except CivicKpiError as exc:
            report.problems.extend(exc.problems)
    for name, table in loaded.catalog.reference_tables.items():
        try:
            load_reference(name, table, root)
            report.files_checked += 1
        except CivicKpiError as exc:
            report.problems.extend(exc.problems)
    try:
        report.warnings.extend(long_sla_warnings(loaded.catalog, root))
        report.files_checked += len(loaded.catalog.sla_policies)
    except CivicKpiError as exc:
        report.problems.extend(exc.problems)
    return report
