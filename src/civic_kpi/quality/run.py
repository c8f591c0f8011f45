"""Data-quality checks (`civic-kpi check`): pass / warn / fail per check, with example rows for what failed.

Each check's kind (`civic_kpi.check_kinds`) says how it is measured; this runner only gathers what the kinds need
from the files and the catalog, and turns their measures into results, in the catalog's order.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.check_kinds import FileKind, Inputs, RowKind, kind_named
from civic_kpi.data.sources import dataset_files, file_schema, load_reference, polars_engine, probe_fields
from civic_kpi.engine.sql import sql_engine
from civic_kpi.errors import DataError, Problem, UsageError, did_you_mean
from civic_kpi.quality.aggregate import (
    EXAMPLES,
    Outcome,
    Planned,
    RecordCheck,
    measure,
    plan,
    records,
    require_columns,
)
from civic_kpi.quality.file_problems import file_problems
from civic_kpi.quality.on_engine import PlannedSql, measure_on, plan_sql
from civic_kpi.results import CatalogInfo, CheckResult, CheckRun


def check(
    catalog: LoadedCatalog | str | Path,
    *,
    data_dir: str | Path | None = None,
    datasets: list[str] | None = None,
    now: datetime | str | None = None,
    engine: str = "polars",
) -> CheckRun:
    """Run the catalog's data-quality checks (of the named datasets, or all that declare checks); the checks on
    records measured by `engine` (polars, or duckdb, postgres, spark: quality/on_engine.py)."""
    if engine != "polars":
        sql_engine(engine)  # an unknown engine, or one not installed, is refused before any file is read
    loaded = catalog if isinstance(catalog, LoadedCatalog) else load_catalog(catalog)
    cat = loaded.catalog
    root = loaded.data_dir(data_dir)
    for name in datasets or []:
        if name not in cat.datasets:
            raise UsageError(Problem(f"unknown dataset '{name}'", hint=did_you_mean(name, list(cat.datasets))))
    chosen = [n for n in (datasets or list(cat.datasets)) if cat.datasets[n].checks]
    if not chosen:
        raise UsageError(
            Problem("no dataset declares checks", file=str(loaded.path), hint="add checks: [...] under a dataset")
        )
    moment = _moment(now, cat.timezone)
    results: list[CheckResult] = []
    for name in chosen:
        results.extend(_check_dataset(loaded, name, root, moment, engine))
    return CheckRun(
        checked_at=moment,
        catalog=CatalogInfo(path=str(loaded.path), sha256=loaded.sha256, title=cat.title),
        results=results,
    )


def _moment(now: datetime | str | None, timezone: str | None) -> datetime:
    """The time 'future' and 'freshness' compare with: the as-of moment given, else the clock."""
    from civic_kpi.time.moment import Moment

    return (Moment.given(now, timezone, "--now") if now is not None else Moment.now(timezone)).at


def _check_dataset(loaded: LoadedCatalog, name: str, root: Path, now: datetime, engine: str) -> list[CheckResult]:
    cat = loaded.catalog
    dataset = cat.datasets[name]
    files = dataset_files(name, dataset, root)
    schemas = {path: file_schema(path, dataset) for path in files}
    probe_fields(files, dataset, schemas)
    inputs = Inputs(
        now=now,
        reference=lambda ref: _reference(loaded, ref, root),
        file_problems=lambda: file_problems(name, dataset, files, schemas, cat.timezone, EXAMPLES),
        types={column: spec.type for column, spec in dataset.columns.items()},
    )
    kinds = [kind_named(spec.check) for spec in dataset.checks]
    on_records = {
        index: RecordCheck(index, spec, kind)
        for index, (spec, kind) in enumerate(zip(dataset.checks, kinds, strict=True))
        if isinstance(kind, RowKind)
    }
    frame = records(loaded, name, files, schemas, list(on_records.values()), inputs.reference)
    outcomes: dict[int, Outcome] = {}
    planned: dict[int, Planned] = {}
    on_sql: dict[int, PlannedSql] = {}
    # In the catalog's order, so that of two mistakes the first one written is the one reported.
    for index, (spec, kind) in enumerate(zip(dataset.checks, kinds, strict=True)):
        if isinstance(kind, FileKind):
            measured = kind.measure(spec, inputs)
            outcomes[index] = Outcome(measured.metric, kind.status(spec, measured.metric), measured.examples)
        elif engine == "polars":
            planned[index] = plan(loaded, name, on_records[index], inputs)
        else:
            require_columns(loaded, name, on_records[index])
            on_sql[index] = plan_sql(loaded, name, on_records[index], inputs, engine)
    polars = polars_engine((path, dataset.file_format) for path in files)
    outcomes |= measure(frame, planned, files, polars)
    outcomes |= measure_on(engine, name, frame, on_sql, files, polars)
    return [
        CheckResult(
            dataset=name,
            name=spec.label,
            check=spec.check,
            status=outcomes[index].status,
            metric=outcomes[index].metric,
            unit=kind.unit(spec),
            threshold=kind.threshold(spec),
            message=kind.message(spec, outcomes[index].metric),
            catalog_line=loaded.line_of(("datasets", name, "checks", index)),
            examples=outcomes[index].examples,
        )
        for index, (spec, kind) in enumerate(zip(dataset.checks, kinds, strict=True))
    ]


def _reference(loaded: LoadedCatalog, name: str, root: Path) -> list[Any]:
    if name not in loaded.catalog.reference_tables:
        raise DataError(
            Problem(
                f"unknown reference table '{name}'",
                file=str(loaded.path),
                hint=did_you_mean(name, list(loaded.catalog.reference_tables)),
            )
        )
    return load_reference(name, loaded.catalog.reference_tables[name], root)
