"""`validate`: check a catalog against itself and against its data files, reporting every problem.

A file is held to what `compute` reads: every column some KPI, check or review uses must be there, and every value
of every typed column must read as its type, with the very expression compute parses it with. A column nothing
uses (a preset declares its whole layout; older exports lack some of it) is a note when a file lacks it or holds
values it cannot read. Codes a flag's lists do not know (a channel neither digital nor known not to be) are notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.catalog.model import Dataset
from civic_kpi.catalog.usage import columns_used
from civic_kpi.data.deadlines import long_sla_warnings
from civic_kpi.data.sources import (
    check_columns,
    dataset_files,
    file_schema,
    first_line,
    flat_schema,
    load_reference,
    probe_fields,
    scan_dataset,
)
from civic_kpi.data.values import bad_values, describe_bad, flags_of, unknown_codes_note, unknown_codes_query
from civic_kpi.errors import CivicKpiError, Problem


@dataclass
class ValidationReport:
    catalog: LoadedCatalog | None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # what a run would not need, or would count as "no"
    files_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(
    catalog: LoadedCatalog | str | Path, data_dir: str | Path | None = None, check_data: bool = True
) -> ValidationReport:
    """Every problem with the catalog and, unless check_data is False, with the columns and values of its files.

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
    used = columns_used(loaded)
    for name, dataset in loaded.catalog.datasets.items():
        try:
            files = dataset_files(name, dataset, root)
            report.files_checked += len(files)
            _check_files(report, name, dataset, files, used[name], loaded.catalog.timezone)
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


def _check_files(
    report: ValidationReport, name: str, dataset: Dataset, files: list, used: set[str], timezone: str | None
) -> None:
    """The columns and values of one dataset's files: problems where a run needs them, notes where it does not."""
    import polars as pl

    schemas = {path: file_schema(path, dataset) for path in files}
    missing = check_columns(name, dataset, files, used, schemas)
    report.problems.extend(missing)
    unused = check_columns(name, dataset, files, set(dataset.columns) - used, schemas)
    if unused:
        # One note for them all: an older layout lacks several of a preset's columns at once.
        lacking = {(problem.field or "").rsplit(".", 1)[-1] for problem in unused}
        columns = [column for column in dataset.columns if column in lacking]  # in the catalog's (preset's) order
        sources = ", ".join(f"'{dataset.source_name(c)}' ({c})" for c in columns)
        owner = f" of preset {dataset.preset}" if dataset.preset else ""
        one = len(columns) == 1
        report.notes.append(
            Problem(
                f"column{'' if one else 's'} {sources}{owner} {'is' if one else 'are'} not in the file; no KPI, "
                f"check or review uses {'it' if one else 'them'}, so compute does not read {'it' if one else 'them'} "
                "(a KPI that needs one would fail)",
                file=unused[0].file,
                field=f"datasets.{name}.columns",
                hint=f"drop {'it' if one else 'them'} with `columns: {{{', '.join(f'{c}: null' for c in columns)}}}`"
                if dataset.preset
                else unused[0].hint,
            )
        )
    if missing:
        return  # the values of a file missing needed columns are the next thing to fix, not this one
    probe_fields(files, dataset, schemas)
    try:
        found = bad_values(name, dataset, files, schemas, timezone)
    except (pl.exceptions.PolarsError, OSError) as exc:  # the reader gave up: say so, naming the files
        report.problems.append(_unreadable(name, files, exc))
        return
    for bad in found:
        problem = Problem(
            describe_bad(bad, dataset),
            file=str(bad.file),
            field=f"datasets.{name}.columns.{bad.column}",
            hint="fix the values, or the column's type/format in the catalog"
            + (
                " (values ending in Z or +hh:mm need %z in the format)"
                if dataset.columns[bad.column].type == "datetime"
                else ""
            ),
        )
        # compute reads every event column of every dataset to find the as-of moment, used by a KPI or not
        if bad.column in used or bad.column in dataset.event_columns:
            report.problems.append(problem)
        else:
            unread = "; no KPI, check or review reads this column, so compute does not fail on it"
            report.notes.append(Problem(problem.message + unread, problem.file, field=problem.field, hint=problem.hint))
    flat = [set(flat_schema(schemas[path])) for path in files]
    present = {c for c in dataset.columns if all(set(dataset.source_names(c)) <= names for names in flat)}
    try:
        _unknown_codes(report, name, dataset, files, present, timezone)
    except (pl.exceptions.PolarsError, OSError) as exc:
        report.problems.append(_unreadable(name, files, exc))


def _unreadable(name: str, files: list, exc: BaseException) -> Problem:
    return Problem(
        f"could not read the data: {first_line(exc)}",
        file=str(files[0]) if len(files) == 1 else None,
        field=f"datasets.{name}",
        hint="check the dataset's format, delimiter and encoding in the catalog",
    )


def _unknown_codes(
    report: ValidationReport, name: str, dataset: Dataset, files: list, present: set[str], timezone: str | None
) -> None:
    """Each flag's codes that neither of its lists knows, over the files (when all of them have its column)."""
    import polars as pl

    flags = flags_of(dataset, set(dataset.flags), present)
    if not flags:
        return
    columns = {dataset.flags[flag].column for flag in flags}
    frame = scan_dataset(name, dataset, files[0].parent, columns, timezone, files).frame.cache()
    found = pl.collect_all([unknown_codes_query(dataset, flag, frame) for flag in flags])
    for flag, counts in zip(flags, found, strict=True):
        note = unknown_codes_note(name, dataset, flag, counts)
        if note:
            report.notes.append(Problem(note, field=f"datasets.{name}.flags.{flag}"))
