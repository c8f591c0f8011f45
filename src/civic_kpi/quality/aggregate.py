"""The checks measured over a dataset's records: every metric is one aggregate of a single lazy plan over a lenient
scan, and example rows are fetched, together, only for the checks that did not pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civic_kpi.catalog.loader import LoadedCatalog
from civic_kpi.catalog.model import Check
from civic_kpi.check_kinds import Inputs, RowKind, RowMeasure
from civic_kpi.data.sources import FILE_INDEX, first_line
from civic_kpi.errors import DataError, Problem, did_you_mean
from civic_kpi.formula import Context, Formula, all_rows, compile_row, parse_formula
from civic_kpi.quality.scan import ROW, lenient_frame
from civic_kpi.results import Status

if TYPE_CHECKING:
    import polars as pl

EXAMPLES = 5


@dataclass(frozen=True)
class Outcome:
    metric: float | None
    status: Status
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RecordCheck:
    index: int  # the check's place in the dataset's list, for its catalog line
    spec: Check
    kind: RowKind

    @property
    def where_columns(self) -> list[str]:
        return sorted(parse_formula(self.spec.where, row=True).columns) if self.spec.where else []

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys([*self.kind.columns(self.spec), *self.where_columns]))


@dataclass(frozen=True)
class Planned:
    check: RecordCheck
    measure: RowMeasure


def records(
    loaded: LoadedCatalog,
    name: str,
    files: list[Path],
    schemas: dict[Path, dict],
    checks: list[RecordCheck],
    reference: Callable[[str], list[Any]],
) -> pl.LazyFrame:
    """The lenient scan with just the columns the checks read, and the derived columns among them (`reference`: a
    reference table's values by name, for a derived column that names one)."""
    cat = loaded.catalog
    dataset = cat.datasets[name]
    columns = {c for check in checks for c in check.columns}
    derived = columns & set(dataset.derived)
    inputs = {c for column in derived for c in parse_formula(dataset.derived[column], row=True).columns}
    physical = {c for c in columns | inputs if c in dataset.columns}
    frame = lenient_frame(dataset, files, schemas, physical, cat.timezone)
    if derived:
        from civic_kpi.formula import with_derived

        used = {ref for column in derived for ref in parse_formula(dataset.derived[column], row=True).refs}
        refs = {ref: reference(ref) for ref in sorted(used)}
        values = {"params": dict(cat.parameters), "refs": refs, "timezone": cat.timezone}
        frame = with_derived(frame, dataset.derived, derived, values, dataset.date_only_columns)
    return frame


def plan(loaded: LoadedCatalog, name: str, check: RecordCheck, inputs: Inputs) -> Planned:
    """The check's expressions, once its columns are known to exist and its `where` is compiled."""
    cat = loaded.catalog
    dataset = cat.datasets[name]
    spec = check.spec
    require_columns(loaded, name, check)
    rows = all_rows()
    if spec.where:
        now = inputs.now
        where, refs = where_of(check, inputs)
        ctx = Context(all_rows(), now, now, now, dict(cat.parameters), refs, cat.timezone, dataset.date_only_columns)
        rows = rows & compile_row(where, ctx).fill_null(False)
    return Planned(check, check.kind.measure(spec, rows, inputs))


def require_columns(loaded: LoadedCatalog, name: str, check: RecordCheck) -> None:
    """A DataError naming the check's columns that the dataset neither declares nor derives."""
    dataset = loaded.catalog.datasets[name]
    unknown = sorted(set(check.columns) - set(dataset.columns) - set(dataset.derived))
    if unknown:
        raise DataError(
            Problem(
                f"check '{check.spec.label}' names unknown column(s) {', '.join(unknown)}",
                file=str(loaded.path),
                line=loaded.line_of(("datasets", name, "checks", check.index)),
                field=f"datasets.{name}.checks",
                hint=did_you_mean(unknown[0], list(dataset.columns)),
            )
        )


def where_of(check: RecordCheck, inputs: Inputs) -> tuple[Formula, dict[str, list[Any]]]:
    """A check's `where`, parsed, and the reference tables it names (`hood in ref.hoods`) with their values."""
    assert check.spec.where
    where = parse_formula(check.spec.where, row=True)
    return where, {ref: inputs.reference(ref) for ref in sorted(where.refs)}


def measure(frame: pl.LazyFrame, planned: dict[int, Planned], files: list[Path], engine: str) -> dict[int, Outcome]:
    """Every planned check's metric in one query; then example rows for those that did not pass, in one more
    (on `engine`: see data.sources.polars_engine)."""
    import polars as pl

    if not planned:
        return {}
    query = frame.select([p.measure.metric.alias(str(index)) for index, p in planned.items()])
    try:
        metrics = query.collect(engine=engine).row(0, named=True)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(Problem(f"could not check the data: {first_line(exc)}", file=str(files[0]))) from None
    statuses = {index: p.check.kind.status(p.check.spec, metrics[str(index)]) for index, p in planned.items()}
    available = set(frame.collect_schema().names())
    queries = {}
    for index, p in planned.items():
        if statuses[index] != Status.PASS and p.measure.offending is not None:
            spec, kind = p.check.spec, p.check.kind
            shown = [c for c in kind.example_columns(spec, p.check.where_columns) if c in available]
            queries[index] = frame.filter(p.measure.offending).select(FILE_INDEX, ROW, *shown).head(EXAMPLES)
    examples = pl.collect_all(list(queries.values()), engine=engine) if queries else []
    found = dict(zip(queries, examples, strict=True))
    return {
        index: Outcome(metrics[str(index)], statuses[index], examples_of(found.get(index), files)) for index in planned
    }


def examples_of(rows: pl.DataFrame | None, files: list[Path]) -> list[dict[str, Any]]:
    """Example rows as the check results show them: the file's name and the row number first."""
    examples = []
    for row in rows.iter_rows(named=True) if rows is not None else []:
        origin = {"file": files[row.pop(FILE_INDEX)].name, "row": row.pop(ROW)}
        values = {k: v.isoformat(sep=" ") if isinstance(v, datetime) else v for k, v in row.items()}
        examples.append(origin | values)
    return examples
