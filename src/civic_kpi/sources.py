"""Reading datasets: files or globs, CSV / Parquet / JSON, mapped onto KPI-side names and parsed into types.

Everything here is lazy: a dataset becomes a Polars LazyFrame that selects only the columns the KPIs need, so
projection pushdown reads nothing else. CSV columns are read as text and parsed with the catalog's explicit
formats, which is both stricter and faster than letting the reader infer types.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civic_kpi.catalog.model import ColumnSpec, Dataset, ReferenceTable
from civic_kpi.errors import DataError, Problem, did_you_mean

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class DatasetScan:
    """A dataset ready for the engine: its files and a lazy frame with KPI-side column names."""

    name: str
    dataset: Dataset
    files: list[Path]
    frame: pl.LazyFrame
    columns: tuple[str, ...]


def resolve_files(name: str, pattern: str, data_dir: Path) -> list[Path]:
    """Expand a dataset path or glob under the data directory, sorted so monthly files read in order."""
    full = data_dir / pattern
    if glob.has_magic(pattern):
        files = sorted(Path(p) for p in glob.glob(str(full), recursive=True) if Path(p).is_file())
        if not files:
            raise DataError(
                Problem(
                    f"no files match '{pattern}'",
                    file=str(full),
                    field=f"datasets.{name}.path",
                    hint=f"check the pattern and the data directory ({data_dir}); --data-dir sets it",
                )
            )
        return files
    if not full.is_file():
        hint = f"check the path and the data directory ({data_dir}); --data-dir sets it"
        if full.parent.is_dir():
            guess = did_you_mean(full.name, [p.name for p in full.parent.iterdir()])
            hint = guess or hint
        raise DataError(Problem("data file not found", file=str(full), field=f"datasets.{name}.path", hint=hint))
    return [full]


def file_columns(path: Path, dataset: Dataset) -> list[str]:
    """The column names of one file, reading only its header (or Parquet metadata)."""
    import polars as pl

    fmt = dataset.file_format
    try:
        if fmt == "parquet":
            return list(pl.read_parquet_schema(path))
        if fmt == "json":
            return list(_read_json(path).collect_schema())
        return list(
            pl.read_csv(path, n_rows=0, separator=dataset.delimiter, infer_schema=False, encoding="utf8-lossy").columns
        )
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise DataError(
            Problem(
                f"cannot read the file as {fmt}: {_first_line(exc)}",
                file=str(path),
                hint="check the file's format and delimiter in the catalog",
            )
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_json(path: Path) -> pl.LazyFrame:
    import polars as pl

    if path.suffix.lower() in (".ndjson", ".jsonl"):
        return pl.scan_ndjson(path)
    return pl.read_json(path).lazy()


def check_columns(name: str, dataset: Dataset, files: list[Path], needed: set[str]) -> list[Problem]:
    """Problems for every needed column missing from any of the files, with the closest real name as a hint."""
    problems: list[Problem] = []
    for path in files:
        present = file_columns(path, dataset)
        for column in sorted(needed):
            source = dataset.source_name(column)
            if source not in present:
                problems.append(
                    Problem(
                        f"column '{source}' not found (needed for '{column}')",
                        file=str(path),
                        field=f"datasets.{name}.columns.{column}",
                        hint=did_you_mean(source, present)
                        or f"the file has: {', '.join(present[:12])}" + (" ..." if len(present) > 12 else ""),
                    )
                )
        if problems:
            break  # the same mistake in every monthly file is one mistake
    return problems


def _parse(column: str, spec: ColumnSpec, raw: pl.Expr, source_dtype: pl.DataType) -> pl.Expr:
    import polars as pl

    is_text = source_dtype == pl.String
    if spec.type == "string":
        return raw.cast(pl.String)
    if spec.type == "integer":
        return (raw.str.strip_chars() if is_text else raw).cast(pl.Int64)
    if spec.type == "float":
        return (raw.str.strip_chars() if is_text else raw).cast(pl.Float64)
    if spec.type == "boolean":
        if source_dtype == pl.Boolean:
            return raw
        return pl.when(raw.is_null()).then(None).otherwise(raw.cast(pl.String).is_in(spec.true_values))
    target = pl.Date if spec.type == "date" else pl.Datetime("us")
    if is_text:
        text = raw.str.strip_chars()
        if spec.format:
            return text.str.strptime(target, spec.format)
        return text.str.to_date() if spec.type == "date" else text.str.to_datetime(time_unit="us")
    if spec.type == "date":
        return raw.cast(pl.Date)
    if isinstance(source_dtype, pl.Datetime) and source_dtype.time_zone is not None:
        return raw.dt.replace_time_zone(None).cast(pl.Datetime("us"))
    return raw.cast(pl.Datetime("us"))


def scan_dataset(name: str, dataset: Dataset, data_dir: Path, columns: set[str]) -> DatasetScan:
    """A lazy frame of the dataset with only `columns`, renamed and parsed as the catalog says."""
    import polars as pl

    files = resolve_files(name, dataset.path, data_dir)
    problems = check_columns(name, dataset, files, columns)
    if problems:
        raise DataError(problems)
    fmt = dataset.file_format
    sources = {column: dataset.source_name(column) for column in columns}
    if fmt == "parquet":
        frame = pl.scan_parquet(files)
        schema = pl.read_parquet_schema(files[0])
    elif fmt == "json":
        frame = pl.concat([_read_json(f) for f in files], how="diagonal_relaxed")
        schema = dict(frame.collect_schema())
    else:
        frame = pl.scan_csv(
            files,
            separator=dataset.delimiter,
            infer_schema=False,  # every column as text; the catalog's types and formats parse it below
            encoding="utf8-lossy",
        )
        schema = dict.fromkeys(sources.values(), pl.String)
    exprs = [
        _parse(column, dataset.columns[column], pl.col(source), schema[source]).alias(column)
        for column, source in sorted(sources.items())
    ]
    return DatasetScan(name, dataset, files, frame.select(exprs), tuple(sorted(columns)))


def row_count_queries(scan: DatasetScan) -> list[pl.LazyFrame]:
    """One tiny query per file counting its records (header lines and Parquet metadata make these cheap)."""
    import polars as pl

    fmt = scan.dataset.file_format
    queries = []
    for path in scan.files:
        if fmt == "parquet":
            frame = pl.scan_parquet(path)
        elif fmt == "json":
            frame = _read_json(path)
        else:
            frame = pl.scan_csv(path, separator=scan.dataset.delimiter, infer_schema=False, encoding="utf8-lossy")
        queries.append(frame.select(pl.len().alias("rows")))
    return queries


def diagnose(scan: DatasetScan) -> Problem | None:
    """After a failed collect: find the first value that does not parse, naming its file, row and column."""
    import polars as pl

    for path in scan.files:
        if scan.dataset.file_format == "csv":
            raw = pl.scan_csv(path, separator=scan.dataset.delimiter, infer_schema=False, encoding="utf8-lossy")
            schema: dict[str, Any] = {}
        elif scan.dataset.file_format == "parquet":
            raw = pl.scan_parquet(path)
            schema = dict(raw.collect_schema())
        else:
            raw = _read_json(path)
            schema = dict(raw.collect_schema())
        raw = raw.with_row_index("__row", offset=1)
        for column in scan.columns:
            spec = scan.dataset.columns[column]
            if spec.type == "string":
                continue
            source = scan.dataset.source_name(column)
            dtype = schema.get(source, pl.String)
            parsed = (
                _lenient(spec, pl.col(source)) if dtype == pl.String else _parse(column, spec, pl.col(source), dtype)
            )
            try:
                bad = (
                    raw.select("__row", pl.col(source).alias("__raw"), parsed.alias("__parsed"))
                    .filter(pl.col("__raw").is_not_null() & pl.col("__parsed").is_null())
                    .head(1)
                    .collect()
                )
            except pl.exceptions.PolarsError:
                continue
            if bad.height:
                row, value = bad["__row"][0], bad["__raw"][0]
                expected = spec.format or spec.type
                line = f"row {row}" + (f" (line {row + 1})" if scan.dataset.file_format == "csv" else "")
                return Problem(
                    f"{line}, column '{source}': value {str(value)!r} is not a valid {spec.type}"
                    + (f" in format '{spec.format}'" if spec.format else ""),
                    file=str(path),
                    field=f"datasets.{scan.name}.columns.{column}",
                    hint=f"fix the value, or change the column's type/format in the catalog (expected {expected})",
                )
    return None


def _lenient(spec: ColumnSpec, raw: pl.Expr) -> pl.Expr:
    """The same parse as `_parse` on text, but yielding null instead of raising, to locate bad values."""
    import polars as pl

    text = raw.str.strip_chars()
    if spec.type == "integer":
        return text.cast(pl.Int64, strict=False)
    if spec.type == "float":
        return text.cast(pl.Float64, strict=False)
    if spec.type == "boolean":
        return pl.lit(True)
    target = pl.Date if spec.type == "date" else pl.Datetime("us")
    if spec.format:
        return text.str.strptime(target, spec.format, strict=False)
    if spec.type == "date":
        return text.str.to_date(strict=False)
    return text.str.to_datetime(time_unit="us", strict=False)


def load_reference(name: str, table: ReferenceTable, data_dir: Path) -> list[Any]:
    """The distinct values of a reference table's key column, in file order."""
    import polars as pl

    files = resolve_files(name, table.path, data_dir)
    path = files[0]
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DataError(Problem(f"cannot read reference table: {_first_line(exc)}", file=str(path))) from None
    if table.key not in frame.columns:
        raise DataError(
            Problem(
                f"key column '{table.key}' not found",
                file=str(path),
                field=f"reference_tables.{name}.key",
                hint=did_you_mean(table.key, frame.columns) or f"the file has: {', '.join(frame.columns)}",
            )
        )
    return frame.get_column(table.key).drop_nulls().unique(maintain_order=True).to_list()
