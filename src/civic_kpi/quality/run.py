"""Data-quality checks (`civic-kpi check`): pass / warn / fail per check, with example rows for what failed.

Every metric of a dataset is one aggregate of a single lazy plan, over a lenient scan (a value that does not parse
becomes missing and is counted by the `schema` check instead of stopping the run). Example rows are fetched only
for checks that did not pass, with the file and line they came from.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.catalog.model import Check, Dataset
from civic_kpi.data.sources import (
    FILE_INDEX,
    check_columns,
    column_expr,
    file_schema,
    first_line,
    flat_schema,
    load_reference,
    open_file,
    probe_fields,
    resolve_files,
    trims_text,
)
from civic_kpi.errors import DataError, Problem, UsageError, did_you_mean
from civic_kpi.formula import Context, all_rows, compile_row, parse_formula
from civic_kpi.results import CatalogInfo, CheckResult, CheckRun, Status

if TYPE_CHECKING:
    import polars as pl

EXAMPLES = 5
ROW = "__row"


def _threshold_text(spec: Check) -> str:
    if spec.check == "row_count":
        bounds = [("fail <", spec.min), ("fail >", spec.max), ("warn <", spec.warn_min), ("warn >", spec.warn_max)]
        return ", ".join(f"{sign} {value}" for sign, value in bounds if value is not None)
    if spec.warn is None and spec.fail is None:
        return "fail > 0"
    lines = [("warn >", spec.warn), ("fail >", spec.fail)]
    share = _unit(spec) == "share"
    return ", ".join(
        f"{sign} {value:.2%}" if share else f"{sign} {value:g}" for sign, value in lines if value is not None
    )


def _status(spec: Check, metric: float) -> Status:
    if spec.check == "row_count":
        if (spec.min is not None and metric < spec.min) or (spec.max is not None and metric > spec.max):
            return Status.FAIL
        if (spec.warn_min is not None and metric < spec.warn_min) or (
            spec.warn_max is not None and metric > spec.warn_max
        ):
            return Status.WARN
        return Status.PASS
    if spec.warn is None and spec.fail is None:
        return Status.FAIL if metric > 0 else Status.PASS
    if spec.fail is not None and metric > spec.fail:
        return Status.FAIL
    if spec.warn is not None and metric > spec.warn:
        return Status.WARN
    return Status.PASS


def _check_status(spec: Check, metric: float | None) -> Status:
    if metric is None:  # nothing to measure: a freshness check with no records fails, a share of none passes
        return Status.FAIL if spec.check == "freshness" else Status.PASS
    return _status(spec, metric)


def _unit(spec: Check) -> str:
    if spec.check == "freshness":
        return "days"
    if spec.check == "row_count":
        return "records"
    if spec.check == "schema":
        return "problems"
    return "share" if spec.share or spec.check == "missing" else "records"


def _columns_of(spec: Check, dataset: Dataset) -> set[str]:
    used = {c for c in (spec.column, spec.first, spec.then) if c} | set(spec.columns)
    if spec.where:
        used |= parse_formula(spec.where, row=True).columns
    return used


def _lenient_frame(
    dataset: Dataset, files: list[Path], schemas: dict[Path, dict], columns: set[str], timezone: str | None
) -> pl.LazyFrame:
    import polars as pl

    frames = []
    for index, path in enumerate(files):
        schema = schemas[path]
        present = set(flat_schema(schema))
        usable = [c for c in sorted(columns) if all(s in present for s in dataset.source_names(c))]
        exprs = [column_expr(dataset, c, schema, timezone, strict=False).alias(c) for c in usable]
        missing = [pl.lit(None).alias(c) for c in sorted(columns) if c not in usable]
        frames.append(
            open_file(path, dataset)
            .with_row_index(ROW, offset=1)
            .select(*exprs, *missing, pl.col(ROW), pl.lit(index, dtype=pl.UInt32).alias(FILE_INDEX))
        )
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")


def _offending(spec: Check, now: datetime, allowed: list[Any] | None) -> pl.Expr | None:
    import polars as pl

    if spec.check == "missing":
        return pl.col(spec.column).is_null()
    if spec.check == "duplicates":
        return pl.lit(True)  # counted in _metric and found for the examples within `where`, keys present
    if spec.check == "order":
        return (pl.col(spec.then) < pl.col(spec.first)).fill_null(False)
    if spec.check == "future":
        return (pl.col(spec.column) > pl.lit(now)).fill_null(False)
    if spec.check == "allowed_values":
        assert allowed is not None
        return pl.col(spec.column).is_not_null() & ~pl.col(spec.column).cast(pl.String).is_in([str(v) for v in allowed])
    return None


def _metric(spec: Check, where: pl.Expr, offending: pl.Expr | None, now: datetime) -> pl.Expr:
    import polars as pl

    if spec.check == "row_count":
        return where.sum().cast(pl.Float64)
    if spec.check == "freshness":
        newest = pl.col(spec.column).filter(where).max().cast(pl.Datetime("us"))
        return (pl.lit(now) - newest).dt.total_microseconds() / 86_400e6
    assert offending is not None
    if spec.check == "duplicates":
        keyed = where & pl.all_horizontal(
            pl.col(c).is_not_null() for c in spec.columns
        )  # a missing key repeats nothing
        count = keyed.sum() - pl.struct(spec.columns).filter(keyed).n_unique()
    else:
        count = (where & offending).sum()
    if spec.share or spec.check == "missing":
        return pl.when(where.sum() > 0).then(count.cast(pl.Float64) / where.sum())  # no records: no share
    return count.cast(pl.Float64)


def _schema_problems(
    name: str, dataset: Dataset, files: list[Path], schemas: dict[Path, dict], timezone: str | None
) -> tuple[int, list[dict[str, Any]]]:
    """Declared columns missing from files, and values that do not parse as the declared type."""
    import polars as pl

    problems = check_columns(name, dataset, files, set(dataset.columns), schemas)
    examples = [{"file": p.file, "problem": p.message} for p in problems[:EXAMPLES]]
    count = len(problems)
    for path in files:
        schema = schemas[path]
        present = set(flat_schema(schema))
        typed = [
            c
            for c, spec in dataset.columns.items()
            if spec.type != "string" and all(s in present for s in dataset.source_names(c))
        ]
        if not typed:
            continue
        raw = open_file(path, dataset).with_row_index(ROW, offset=1)
        bad_exprs = []
        for column in typed:
            sources = [pl.col(s) for s in dataset.source_names(column)]
            original = pl.concat_str([s.cast(pl.String) for s in sources], separator=" ")
            parsed = column_expr(dataset, column, schema, timezone, strict=False)
            present = (original.str.strip_chars() if trims_text(dataset) else original).str.len_chars() > 0
            bad_exprs.append(present & parsed.is_null())
        frame = raw.select(pl.col(ROW), *[b.alias(c) for b, c in zip(bad_exprs, typed, strict=True)])
        counts = frame.select(pl.col(typed).sum()).collect().row(0, named=True)
        for column, bad in counts.items():
            if not bad:
                continue
            count += bad
            rows = frame.filter(pl.col(column)).select(ROW).head(EXAMPLES).collect()[ROW].to_list()
            spec = dataset.columns[column]
            expected = " or ".join(spec.formats) if spec.formats else spec.type
            examples.append(
                {
                    "file": path.name,
                    "column": column,
                    "bad_values": bad,
                    "rows": rows,
                    "problem": f"{bad} value(s) are not a valid {spec.type} ({expected})",
                }
            )
    return count, examples[:EXAMPLES]


def check(
    catalog: LoadedCatalog | str | Path,
    *,
    data_dir: str | Path | None = None,
    datasets: list[str] | None = None,
    now: datetime | str | None = None,
) -> CheckRun:
    """Run the catalog's data-quality checks (of the named datasets, or all that declare checks)."""
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
        results.extend(_check_dataset(loaded, name, root, moment))
    return CheckRun(
        checked_at=moment,
        catalog=CatalogInfo(path=str(loaded.path), sha256=loaded.sha256, title=cat.title),
        results=results,
    )


def _moment(now: datetime | str | None, timezone: str | None) -> datetime:
    if now is not None:
        from civic_kpi.time.moment import parse_moment

        return parse_moment(now, timezone, "--now")
    if timezone:
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo(timezone)).replace(tzinfo=None)
    return datetime.now()


def _check_dataset(loaded: LoadedCatalog, name: str, root: Path, now: datetime) -> list[CheckResult]:
    import polars as pl

    cat = loaded.catalog
    dataset = cat.datasets[name]
    files = resolve_files(name, dataset.path, root)
    schemas = {path: file_schema(path, dataset) for path in files}
    probe_fields(files, dataset, schemas)
    line = lambda index: loaded.line_of(("datasets", name, "checks", index))  # noqa: E731

    def result(index: int, spec: Check, status: Status, metric: float | None, message: str, examples=None):
        return CheckResult(
            dataset=name,
            name=spec.label,
            check=spec.check,
            status=status,
            metric=metric,
            unit=_unit(spec),
            threshold=_threshold_text(spec),
            message=message,
            catalog_line=line(index),
            examples=examples or [],
        )

    columns = set().union(*(_columns_of(spec, dataset) for spec in dataset.checks))
    derived = columns & set(dataset.derived)
    inputs = {c for name in derived for c in parse_formula(dataset.derived[name], row=True).columns}
    physical = {c for c in columns | inputs if c in dataset.columns}
    frame = _lenient_frame(dataset, files, schemas, physical, cat.timezone)
    if derived:
        from civic_kpi.formula import with_derived

        values = {"params": dict(cat.parameters), "refs": {}, "timezone": cat.timezone}
        frame = with_derived(frame, dataset.derived, derived, values, dataset.date_only_columns)
    ctx = Context(all_rows(), now, now, now, dict(cat.parameters), {}, cat.timezone, dataset.date_only_columns)
    plans: dict[int, tuple[pl.Expr, pl.Expr | None]] = {}
    results: dict[int, CheckResult] = {}
    for index, spec in enumerate(dataset.checks):
        if spec.check == "schema":
            count, examples = _schema_problems(name, dataset, files, schemas, cat.timezone)
            status = _status(spec, count)
            message = "every declared column is present and parses" if not count else f"{count} problem(s)"
            results[index] = result(index, spec, status, count, message, examples)
            continue
        unknown = sorted(_columns_of(spec, dataset) - set(dataset.columns) - set(dataset.derived))
        if unknown:
            raise DataError(
                Problem(
                    f"check '{spec.label}' names unknown column(s) {', '.join(unknown)}",
                    file=str(loaded.path),
                    line=line(index),
                    field=f"datasets.{name}.checks",
                    hint=did_you_mean(unknown[0], list(dataset.columns)),
                )
            )
        where = all_rows()
        if spec.where:
            where = where & compile_row(parse_formula(spec.where, row=True), ctx).fill_null(False)
        allowed = None
        if spec.check == "allowed_values":
            allowed = spec.values if spec.values is not None else _reference(loaded, spec, root)
        offending = _offending(spec, now, allowed)
        plans[index] = (where, offending)
    metrics = {}
    if plans:
        query = frame.select(
            [_metric(dataset.checks[i], where, offending, now).alias(str(i)) for i, (where, offending) in plans.items()]
        )
        try:
            metrics = query.collect().row(0, named=True)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise DataError(Problem(f"could not check the data: {first_line(exc)}", file=str(files[0]))) from None
    example_queries = {}
    statuses: dict[int, Status] = {}
    available = set(frame.collect_schema().names())
    for index, (where, offending) in plans.items():
        spec = dataset.checks[index]
        metric = metrics.get(str(index))
        statuses[index] = status = _check_status(spec, metric)
        if status != Status.PASS and spec.check == "duplicates":
            keyed = frame.filter(where & pl.all_horizontal(pl.col(c).is_not_null() for c in spec.columns))
            example_queries[index] = (
                keyed.filter(pl.struct(spec.columns).is_duplicated())
                .select(FILE_INDEX, ROW, *spec.columns)
                .head(EXAMPLES)
            )
        elif status != Status.PASS and offending is not None:
            shown = [c for c in dict.fromkeys(_columns_of(spec, dataset)) if c in available]
            example_queries[index] = frame.filter(where & offending).select(FILE_INDEX, ROW, *shown).head(EXAMPLES)
    examples = {}
    if example_queries:
        examples = dict(zip(example_queries, pl.collect_all(list(example_queries.values())), strict=True))
    for index in plans:
        spec = dataset.checks[index]
        metric = metrics.get(str(index))
        status = statuses[index]
        rows = []
        if index in examples:
            for row in examples[index].iter_rows(named=True):
                origin = {"file": files[row.pop(FILE_INDEX)].name, "row": row.pop(ROW)}
                values = {k: v.isoformat(sep=" ") if isinstance(v, datetime) else v for k, v in row.items()}
                rows.append(origin | values)
        results[index] = result(index, spec, status, metric, _message(spec, metric), rows)
    return [results[i] for i in sorted(results)]


def _reference(loaded: LoadedCatalog, spec: Check, root: Path) -> list[Any]:
    assert spec.ref is not None
    if spec.ref not in loaded.catalog.reference_tables:
        raise DataError(
            Problem(
                f"unknown reference table '{spec.ref}'",
                file=str(loaded.path),
                hint=did_you_mean(spec.ref, list(loaded.catalog.reference_tables)),
            )
        )
    return load_reference(spec.ref, loaded.catalog.reference_tables[spec.ref], root)


def _message(spec: Check, metric: float | None) -> str:
    if metric is None:
        return "no records to measure"
    if spec.check == "freshness":
        return f"newest {spec.column} is {metric:.1f} days old"
    if spec.check == "row_count":
        return f"{metric:,.0f} records"
    if _unit(spec) == "share":
        return f"{metric:.2%} of the records"
    return f"{metric:,.0f} record{'s' if metric != 1 else ''}"
