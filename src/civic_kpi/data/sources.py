"""Reading datasets: files or globs, CSV / Parquet / JSON, mapped onto KPI-side names and parsed into types.

A dataset becomes a Polars LazyFrame that selects only the columns the KPIs need, so projection pushdown reads
nothing else. CSV columns are read as text and parsed with the catalog's explicit formats, which is both stricter
and faster than letting the reader infer types. The files of a glob that share one layout are one multi-file scan
that tags each record with its file; otherwise each file is scanned on its own and selected by column name before
the files are concatenated, so monthly exports whose columns were added, dropped or reordered still line up. An
error can name the file either way. (JSON arrays have no lazy reader in Polars; they are read eagerly.)

All timestamps end up as naive local wall-clock time in the catalog's time zone: values with an offset or a zone
are converted to it, values without one are taken to be in it already.
"""

from __future__ import annotations

import atexit
import codecs
import glob
import gzip
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civic_kpi.catalog.model import ColumnSpec, Dataset, ReferenceTable, is_zoned_format
from civic_kpi.data.encoding import UTF8, Decoding, decoding
from civic_kpi.errors import DataError, Problem, did_you_mean, first_line
from civic_kpi.time.zones import utc

if TYPE_CHECKING:
    import polars as pl

FILE_INDEX = "__file_index"  # which file of the glob a record came from (for per-file row counts)
_PATH = "__file_path"  # the path a shared scan of a glob's files reads each record from
NONFINITE = "__nonfinite:"  # + a float column: the record's value there was NaN or infinite (read as missing)


@dataclass(frozen=True)
class DatasetScan:
    """A dataset ready for the engine: its files and a lazy frame with KPI-side column names."""

    name: str
    dataset: Dataset
    files: list[Path]
    frame: pl.LazyFrame
    columns: tuple[str, ...]
    notes: list[str] = field(default_factory=list)


def dataset_files(name: str, dataset: Dataset, data_dir: Path) -> list[Path]:
    """The files a dataset reads: those its path matches, or its table's snapshot (data/tables.py)."""
    if dataset.source is not None:
        from civic_kpi.data.tables import table_files

        return table_files(name, dataset)
    assert dataset.path is not None  # the catalog gives a dataset a path or a source
    return resolve_files(name, dataset.path, data_dir)


def resolve_files(name: str, pattern: str, data_dir: Path, section: str = "datasets") -> list[Path]:
    """Expand a dataset path or glob under the data directory, sorted so monthly files read in order."""
    full = data_dir / pattern
    field = f"{section}.{name}.path"
    if glob.has_magic(pattern):
        files = sorted(Path(p) for p in glob.glob(str(full), recursive=True) if Path(p).is_file())
        if not files:
            raise DataError(
                Problem(
                    f"no files match '{pattern}'",
                    file=str(full),
                    field=field,
                    hint=f"check the pattern and the data directory ({data_dir}); --data-dir sets it",
                )
            )
        return files
    if full.is_dir():
        raise DataError(
            Problem("is a directory, not a data file", file=str(full), field=field, hint=f"use a glob: {pattern}/*.csv")
        )
    if not full.is_file():
        hint = f"check the path and the data directory ({data_dir}); --data-dir sets it"
        if full.parent.is_dir():
            others = [p.name for p in full.parent.iterdir() if p.name != full.name]
            hint = did_you_mean(full.name, others) or hint
        raise DataError(Problem("data file not found", file=str(full), field=field, hint=hint))
    return [full]


_SNIFF_BYTES = 4 * 1024 * 1024
_transcoded: dict[tuple[Path, int, int, str], Path] = {}


def _head(path: Path, size: int) -> bytes:
    """The first bytes of a file, decompressed when it is gzip."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as handle:  # type: ignore[operator]
            return handle.read(size)
    except (OSError, EOFError) as exc:
        raise DataError(
            Problem(f"cannot read the file: {exc}", file=str(path), hint="is it a complete, uncorrupted file?")
        ) from None


def file_encoding(path: Path, dataset: Dataset) -> str:
    """The encoding to read a CSV file with: the catalog's, or for `auto` as found (see data/encoding.py)."""
    return file_decoding(path, dataset).encoding


def file_decoding(path: Path, dataset: Dataset) -> Decoding:
    try:
        return decoding(path, dataset.encoding)
    except (OSError, EOFError) as exc:
        raise DataError(
            Problem(f"cannot read the file: {exc}", file=str(path), hint="is it a complete, uncorrupted file?")
        ) from None


def text_path(path: Path, dataset: Dataset) -> Path:
    """The file itself when it is UTF-8, else a UTF-8 copy of it (Polars reads only UTF-8)."""
    encoding = file_encoding(path, dataset)
    return path if encoding == UTF8 else _utf8_copy(path, encoding)


def _stamp(path: Path) -> tuple[Path, int, int, int, int]:
    """A cache key that changes when the file does: a tool can keep a replaced file's size and modification time
    (cp -p, rsync -t, unzip), not its inode or its change time."""
    stat = path.stat()
    return path, stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_ctime_ns


def _utf8_copy(path: Path, encoding: str) -> Path:
    """A UTF-8 copy of a file in another encoding (Polars reads only UTF-8), made once per run, in chunks."""
    key = (*_stamp(path), encoding)
    if key not in _transcoded:
        folder = Path(tempfile.mkdtemp(prefix="civic-kpi-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        target = folder / (path.name.removesuffix(".gz"))
        opener = gzip.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rb") as source, target.open("wb") as sink:  # type: ignore[operator]
            reader = codecs.getreader(encoding)(source, errors="replace")
            while chunk := reader.read(1 << 20):
                sink.write(chunk.encode("utf-8"))
        _transcoded[key] = target
    return _transcoded[key]


def file_separator(path: Path, dataset: Dataset) -> str:
    """The catalog's delimiter, else the one of , ; | tab found most often outside quotes in the header line."""
    if dataset.delimiter is not None:
        return dataset.delimiter
    header = _head(text_path(path, dataset), 64 * 1024).split(b"\n", 1)[0].decode("utf-8", errors="replace")
    counts = dict.fromkeys(",;|\t", 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] else ","


def open_file(path: Path, dataset: Dataset) -> pl.LazyFrame:
    """One file of a dataset as a lazy frame of its raw columns (CSV columns as text)."""
    import polars as pl

    fmt = dataset.file_format
    if fmt == "parquet":
        return pl.scan_parquet(path, glob=False)
    if fmt == "json":
        if path.suffix.lower() in (".ndjson", ".jsonl"):
            return pl.scan_ndjson(path, infer_schema_length=None)
        # Records that omit keys (Socrata's API leaves out nulls) need the schema of every record.
        frame = pl.read_json(path, infer_schema_length=None)
        if not dataset.json_path and _head(path, 4096).lstrip().startswith(b"{"):
            raise DataError(
                Problem(
                    "the JSON is an object, not an array of records",
                    file=str(path),
                    field="json_path",
                    hint=f"if the records sit under one of its keys ({', '.join(frame.columns[:8])}), "
                    "set json_path: KEY in the dataset",
                )
            )
        if dataset.json_path:
            if dataset.json_path not in frame.columns:
                raise DataError(
                    Problem(
                        f"no '{dataset.json_path}' key at the top of the JSON",
                        file=str(path),
                        field="json_path",
                        hint=did_you_mean(dataset.json_path, frame.columns) or f"keys: {', '.join(frame.columns)}",
                    )
                )
            records = frame.select(pl.col(dataset.json_path).explode())
            if not isinstance(records.schema[dataset.json_path], pl.Struct):
                return pl.DataFrame().lazy()  # an empty list of records: no records, not a wrong layout
            frame = records.unnest(dataset.json_path)
        return frame.lazy()
    # utf8-lossy: a stray byte in a UTF-8 file reads as U+FFFD, and reading_notes says where it was.
    # glob=False: the path is a file the dataset's glob matched; 'm[1].csv' is its name, not a pattern.
    return pl.scan_csv(
        text_path(path, dataset),
        separator=file_separator(path, dataset),
        infer_schema=False,
        encoding="utf8-lossy",
        glob=False,
    )


def reading_notes(name: str, dataset: Dataset, files: list[Path], schemas: dict[Path, dict]) -> list[str]:
    """What an analyst should know about how the files were read: encodings guessed, columns that drift."""
    notes = encoding_notes(name, dataset, files) if dataset.file_format == "csv" else []
    if len(files) > 1:
        first = set(schemas[files[0]])
        every = set().union(*(set(s) for s in schemas.values()))
        for column in sorted(every - set.intersection(*(set(s) for s in schemas.values()))):
            lacking = [p.name for p in files if column not in schemas[p]]
            notes.append(
                f"{name}: column '{column}' is missing from {len(lacking)} of {len(files)} files "
                f"({', '.join(lacking[:3])}{' ...' if len(lacking) > 3 else ''})"
                + ("" if column in first else "; it was added later")
            )
    return notes


def encoding_notes(name: str, dataset: Dataset, files: list[Path]) -> list[str]:
    """Files read in an encoding that was detected, not declared, and UTF-8 files with bytes that are not UTF-8."""
    notes = []
    found = {path: file_decoding(path, dataset) for path in files}
    detected: dict[str, list[str]] = {}
    for path, how in found.items():
        if how.detected:
            detected.setdefault(how.name, []).append(path.name)
    for label, names in detected.items():
        notes.append(
            f"{name}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''} read as {label} "
            "(not UTF-8); set `encoding:` in the catalog to say so"
        )
    for path, how in found.items():
        if how.stray_count:
            count = how.stray_count
            listed = "; ".join(str(stray) for stray in how.strays) + ("; ..." if count > len(how.strays) else "")
            notes.append(
                f"{name}: {path.name} is UTF-8 but has {count} stray byte{'s' if count != 1 else ''} that "
                f"{'are' if count != 1 else 'is'} not ({listed}); each reads as U+FFFD, the replacement character. "
                "Re-export the file as UTF-8, or set `encoding:` on the dataset if it is in another encoding"
            )
    return notes


# What a file's checks found, by the file's stamp and the dataset's reading options: they depend on nothing else,
# and one process often reads the same files several times (report runs compute three times over them; a
# notebook session, as often as it likes). A changed file has a new stamp and is checked again.
# Each holds one entry per file and reading options, for the file's latest version only: a long session polling a
# growing export does not grow them.
_schemas: dict[tuple[Path, str], tuple[tuple[object, ...], dict[str, pl.DataType]]] = {}
_probed: dict[tuple[Path, str, int], tuple[object, ...]] = {}
_rows: dict[tuple[Path, str], tuple[tuple[object, ...], int]] = {}  # file_rows' estimates, per file version


def file_schema(path: Path, dataset: Dataset) -> dict[str, pl.DataType]:
    """The columns of one file and their types, reading only its header (or Parquet metadata); once per file
    (and reading options) and version of the file."""
    key, stamp = (path, dataset.model_dump_json()), _stamp(path)
    found = _schemas.get(key)
    if found is None or found[0] != stamp:
        found = _schemas[key] = (stamp, _read_schema(path, dataset))
    return dict(found[1])


def _read_schema(path: Path, dataset: Dataset) -> dict[str, pl.DataType]:
    if dataset.file_format == "csv" and file_encoding(path, dataset) == UTF8 and b"\x00" in _head(path, 64 * 1024):
        raise DataError(
            Problem(
                "the file is binary, not CSV text",
                file=str(path),
                hint="is it the export you meant, or a Parquet/Excel/zip file under a .csv name?",
            )
        )
    try:
        return dict(open_file(path, dataset).collect_schema())
    except DataError:
        raise
    except Exception as exc:  # Polars, OS and decoding errors alike: the file is not what the catalog says
        from civic_kpi.data.tables import source_name

        raise DataError(
            Problem(
                f"cannot read the file as {dataset.file_format}: {first_line(exc)}",
                file=source_name(path),  # a table's name, not its snapshot's
                hint="check the file's format and delimiter in the catalog",
            )
        ) from None


PROBE_RECORDS = 10_000


def probe_fields(files: list[Path], dataset: Dataset, schemas: dict[Path, dict]) -> None:
    """Fully parse each CSV file's first records: a line with more fields than the header (an unquoted comma)
    shifts every later field, and a projected scan would not notice. The files are parsed together, in parallel;
    only when one fails are they read one by one to name it. `civic-kpi check` checks whole files."""
    import polars as pl

    if dataset.file_format != "csv":
        return
    options = dataset.model_dump_json()
    stamps = {path: _stamp(path) for path in files}
    # A file found sound stays so until it changes.
    files = [path for path in files if _probed.get((path, options, len(schemas[path]))) != stamps[path]]
    if not files:
        return
    for path in files:
        _check_complete(path, dataset, len(schemas[path]))
    heads = [open_file(path, dataset).head(PROBE_RECORDS) for path in files]
    try:
        pl.collect_all(heads)
        _probed.update({(path, options, len(schemas[path])): stamps[path] for path in files})
        return
    except pl.exceptions.ComputeError as exc:
        if "more fields" not in str(exc):
            return  # not a field-count problem: the main read reports it with its own message
    for path, head in zip(files, heads, strict=True):
        try:
            head.collect()
        except pl.exceptions.ComputeError:
            raise DataError(_ragged_line(path, dataset, len(schemas[path]))) from None


_TAIL_BYTES = 64 * 1024


def _check_complete(path: Path, dataset: Dataset, expected: int) -> None:
    """Refuse a CSV cut off mid-record (an interrupted download): its last record has fewer fields than the header
    and no line break ends it. Read whole, the stub would count as a record of missing values. Only the file's tail
    is read (a gzip file cut short fails to decompress instead)."""
    import csv
    import io

    source = text_path(path, dataset)  # the UTF-8 copy of a file in another encoding: its lines end in b"\n"
    if source.suffix.lower() == ".gz":
        return
    size = source.stat().st_size
    with source.open("rb") as handle:
        handle.seek(max(0, size - _TAIL_BYTES))
        tail = handle.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return
    lines = tail.split(b"\n")
    if size > len(tail):
        lines = lines[1:]  # the first is likely a part of a line
    # The last record starts at the nearest line from which the quotes to the end pair up: a line break inside a
    # quoted value lies between an odd number of quotes and the end.
    quotes, start = 0, None
    for index in range(len(lines) - 1, -1, -1):
        quotes += lines[index].count(b'"')
        if quotes % 2 == 0:
            start = index
            break
    if start is None or (start == 0 and size == len(tail)):
        return  # no record start within the tail, or the last record is the header: nothing to judge
    text = b"\n".join(lines[start:]).decode("utf-8", errors="replace")
    fields = next(csv.reader(io.StringIO(text), delimiter=file_separator(path, dataset)), [])
    if len(fields) >= expected:
        return
    line = _line_count(source) - (len(lines) - 1 - start)
    raise DataError(
        Problem(
            f"line {line}, the last, has {len(fields)} field{'s' if len(fields) != 1 else ''} where the header has "
            f"{expected}, and no line break ends it",
            file=str(path),
            hint="the file looks cut off: is the download complete?",
        )
    )


def _line_count(path: Path) -> int:
    """The number of lines of a file that does not end with a line break (read in chunks: only for a message)."""
    count = 1
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def _ragged_line(path: Path, dataset: Dataset, expected: int) -> Problem:
    import csv
    import io

    separator = file_separator(path, dataset)
    text = _head(text_path(path, dataset), _SNIFF_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text), delimiter=separator)
    for row in reader:
        if len(row) > expected:
            return Problem(
                f"line {reader.line_num} has {len(row)} fields where the header has {expected}",
                file=str(path),
                hint="a value with the delimiter in it must be quoted; every later field would shift by one",
            )
    return Problem(
        f"a record has more fields than the header's {expected}",
        file=str(path),
        hint="a value with the delimiter in it must be quoted",
    )


def check_columns(
    name: str, dataset: Dataset, files: list[Path], needed: set[str], schemas: dict[Path, dict] | None = None
) -> list[Problem]:
    """Problems for every needed column missing from a file, with the closest real name as a hint."""
    from civic_kpi.data.tables import source_name, table_columns

    problems: list[Problem] = []
    for path in files:
        present = list(flat_schema(schemas[path] if schemas else file_schema(path, dataset)))
        if not present and dataset.file_format == "json":
            continue  # an empty array: a file with no records, not a wrong layout
        single = present[0] if len(present) == 1 else None
        # A table's snapshot holds the declared columns only: the hint looks among all of the table's.
        table = table_columns(path)
        known, what = (present, "file") if table is None else (table, "table")
        for column, source in sorted((c, s) for c in needed for s in dataset.source_names(c)):
            if source not in present:
                shown = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
                if len(shown) > 200:
                    shown = shown[:200] + " ..."
                hint = did_you_mean(source, known) or f"the {what} has: {shown}"
                folded = [c for c in known if c.lower() == source.lower()]
                if table is not None and folded:
                    # PostgreSQL folds an unquoted name to lower case: Team in a CREATE TABLE or AS Team is team.
                    hint = (
                        f"did you mean '{folded[0]}'? PostgreSQL folds unquoted names to lower case: quote the "
                        f'name where the table or query makes it ("{source}") to keep its case'
                    )
                if single is not None and any(mark in single for mark in ",;|\t"):
                    found = max(",;|\t", key=single.count)
                    hint = (
                        f"the file reads as a single column: is the delimiter right? Its header looks separated by "
                        f"{'tab' if found == chr(9) else repr(found)}; set delimiter: in the dataset, or leave it out"
                    )
                problems.append(
                    Problem(
                        f"column '{source}' not found (needed for '{column}')",
                        file=source_name(path),
                        field=f"datasets.{name}.columns.{column}",
                        hint=hint,
                    )
                )
                if single is not None:
                    break  # one message says it: the rest of the columns are missing for the same reason
        if problems:
            break  # the same mistake in every monthly file is one mistake
    return problems


def columns_in_files(name: str, dataset: Dataset, data_dir: Path, wanted: set[str]) -> set[str]:
    """The columns of `wanted` that every file of the dataset has (a preset may declare one an older layout
    lacks). A dataset whose files cannot be found has none."""
    try:
        files = dataset_files(name, dataset, data_dir)
    except DataError:
        return set()
    missing = {p.field.rsplit(".", 1)[1] for p in check_columns(name, dataset, files, wanted) if p.field}
    return wanted - missing


def trims_text(dataset: Dataset) -> bool:
    """Whether a dataset's text values are trimmed: CSV cells are; text in typed files is used as stored."""
    return dataset.file_format == "csv"


def _clean_text(raw: pl.Expr, trim: bool = True) -> pl.Expr:
    """A blank value is missing, whatever the type. CSV cells are also trimmed ("  " must not be a parse error,
    "Closed " is "Closed"): padding is an artifact of how CSV is written. Text in a typed file (Parquet, JSON) is
    used as stored, as Polars and DuckDB read it; trimming every value of every text column cost 30% of the run
    time on a 10M-row Parquet export. One strip, kept when non-empty: a when/then/otherwise strips twice, and
    Expr.replace("", None) was 5x slower on the sample's 26 small files."""
    import polars as pl

    stripped = raw.str.strip_chars() if trim else raw
    return pl.when(stripped.str.len_bytes() > 0).then(stripped)


def _strptime(
    text: pl.Expr,
    dtype: pl.DataType,
    formats: list[str],
    strict: bool,
    normalize: Callable[[pl.Expr, str], pl.Expr] | None = None,
) -> pl.Expr:
    """Parse text with the first format that fits; values that fit none are an error when `strict`.

    `normalize` brings each format's result to one type (zoned formats to local time) before they are combined.
    Order matters: Chrono's %Y also reads '24' as the year 24, so list '%m/%d/%y' before '%m/%d/%Y'.
    """
    import polars as pl

    if not formats:
        if dtype == pl.Date:
            return text.str.to_date(strict=strict)
        return text.str.to_datetime(time_unit="us", strict=strict)
    parsed: pl.Expr | None = None
    for index, fmt in enumerate(formats):
        last = index == len(formats) - 1
        # Only the values no earlier format read reach the last one, which may raise: a strict check of leftovers.
        source = text if parsed is None else pl.when(parsed.is_null()).then(text)
        attempt = source.str.strptime(dtype, fmt, strict=strict and last)
        if normalize is not None:
            attempt = normalize(attempt, fmt)
        parsed = attempt if parsed is None else pl.coalesce(parsed, attempt)
    assert parsed is not None
    return parsed


def parse_column(
    spec: ColumnSpec,
    raw: pl.Expr,
    source_dtype: pl.DataType,
    timezone: str | None,
    strict: bool,
    time_raw: pl.Expr | None = None,
    trim: bool = True,
    finite: bool = True,
) -> pl.Expr:
    """The expression that turns a raw column into the catalog's type; `strict=False` yields null on bad values.

    `trim`: trim text values (CSV cells; see trims_text). `finite`: a float that is NaN or infinite is missing
    (False keeps it, to tell a value that does not parse from one that parses to NaN)."""
    import polars as pl

    is_text = source_dtype == pl.String
    if is_text:
        raw = _clean_text(raw, trim)
    if spec.type == "string":
        return raw.cast(pl.String)
    if spec.type == "integer":
        return raw.cast(pl.Int64, strict=strict)
    if spec.type == "float":
        number = raw.cast(pl.Float64, strict=strict)
        # NaN and infinity are no measurement: as numbers they would sort above every other value.
        return pl.when(number.is_finite()).then(number) if finite else number
    if spec.type == "boolean":
        if source_dtype == pl.Boolean:
            return raw
        return pl.when(raw.is_null()).then(None).otherwise(raw.cast(pl.String).is_in(spec.true_values))
    if spec.type == "date":
        return _strptime(raw, pl.Date(), spec.formats, strict) if is_text else raw.cast(pl.Date, strict=strict)
    if time_raw is not None:
        # Date and time in separate columns: the date's format may carry a (midnight) time, as Legistar's does.
        with_clock = any("%H" in f or "%I" in f or "%T" in f for f in spec.formats)
        day = _strptime(raw, pl.Datetime("us") if with_clock else pl.Date(), spec.formats, strict).cast(pl.Date)
        clock = _clean_text(time_raw.cast(pl.String), trim)
        clock = clock.str.to_time(spec.time_format, strict=strict) if spec.time_format else clock.str.to_time()
        parsed = day.dt.combine(clock)
    elif is_text:
        if spec.zoned:
            raw = raw.str.replace(r"[Zz]$", "+00:00")  # ISO 8601's Z for UTC is an offset %z does not read

        def local(expr: pl.Expr, fmt: str) -> pl.Expr:
            if is_zoned_format(fmt):
                return to_local(expr, timezone, zoned=True)
            return _from_zone(expr, spec.timezone, timezone)

        return (
            _strptime(raw, pl.Datetime("us"), spec.formats, strict, local)
            if spec.formats
            else _from_zone(_strptime(raw, pl.Datetime("us"), [], strict), spec.timezone, timezone)
        )
    else:
        zone = source_dtype.time_zone if isinstance(source_dtype, pl.Datetime) else None
        parsed = raw.cast(pl.Datetime("us", zone))
    if isinstance(source_dtype, pl.Datetime) and source_dtype.time_zone is not None:
        return to_local(parsed, timezone, zoned=True)
    return _from_zone(parsed, spec.timezone, timezone)


def _from_zone(expr: pl.Expr, source_zone: str | None, timezone: str | None) -> pl.Expr:
    """Naive values known to be in another zone (UTC without a Z, a publisher's local time), placed there and
    converted to the catalog's zone (which the catalog must name when any column names one)."""

    if source_zone is None or source_zone == timezone:
        return expr
    # An ambiguous or a spring-gap time is read by the rules of time/zones.py.
    return to_local(utc(expr, source_zone).dt.replace_time_zone("UTC"), timezone, zoned=True)


def to_local(expr: pl.Expr, timezone: str | None, zoned: bool) -> pl.Expr:
    """Naive wall-clock time in the catalog's zone (UTC when the catalog names none)."""
    if not zoned:
        return expr
    return expr.dt.convert_time_zone(timezone or "UTC").dt.replace_time_zone(None)


def flat_schema(schema: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    """Columns and, for JSON structs, their fields as dotted paths ('publisher.name')."""
    import polars as pl

    flat: dict[str, pl.DataType] = {}
    for name, dtype in schema.items():
        flat[name] = dtype
        if isinstance(dtype, pl.Struct):
            flat |= {f"{name}.{k}": v for k, v in flat_schema({f.name: f.dtype for f in dtype.fields}).items()}
    return flat


def source_expr(name: str, schema: dict[str, pl.DataType]) -> pl.Expr:
    """The export column (or nested JSON field) `name`."""
    import polars as pl

    if name in schema or "." not in name:
        return pl.col(name)
    head, *rest = name.split(".")
    expr = pl.col(head)
    for part in rest:
        expr = expr.struct.field(part)
    return expr


def column_expr(
    dataset: Dataset, column: str, schema: dict, timezone: str | None, strict: bool, finite: bool = True
) -> pl.Expr:
    """A KPI-side column from one file of the dataset, parsed as the catalog says (`finite`: see parse_column)."""
    spec = dataset.columns[column]
    flat = flat_schema(schema)
    source = dataset.source_name(column)
    time_raw = source_expr(spec.time_source, schema) if spec.time_source else None
    return parse_column(
        spec, source_expr(source, schema), flat[source], timezone, strict, time_raw, trims_text(dataset), finite
    )


def float_columns(dataset: Dataset, columns: set[str] | tuple[str, ...]) -> list[str]:
    """The float columns of `columns`: those where NaN or infinity can be read (and is read as missing)."""
    return sorted(c for c in columns if c in dataset.columns and dataset.columns[c].type == "float")


def nonfinite_flag(column: str) -> str:
    """The name of the scan's hidden column saying a record's `column` was NaN or infinite in the file."""
    return f"{NONFINITE}{column}"


def nonfinite_query(scan: DatasetScan) -> pl.LazyFrame | None:
    """Per float column, how many values were NaN or infinite and read as missing (None: no float column)."""
    import polars as pl

    columns = float_columns(scan.dataset, scan.columns)
    if not columns:
        return None
    return scan.frame.select([pl.col(nonfinite_flag(c)).sum().alias(c) for c in columns])


def nonfinite_note(name: str, counts: dict[str, int]) -> str:
    """One line saying how many values of each column were NaN or infinite; empty when none were."""
    found = {column: count for column, count in sorted(counts.items()) if count}
    if not found:
        return ""
    total = sum(found.values())
    if len(found) == 1:
        what = f"{total} value{'s' if total != 1 else ''} of {next(iter(found))}"
    else:
        what = f"{total} values ({', '.join(f'{count} of {column}' for column, count in found.items())})"
    return f"{name}: {what} {'was' if total == 1 else 'were'} NaN or infinite, read as missing"


def scan_dataset(
    name: str,
    dataset: Dataset,
    data_dir: Path,
    columns: set[str],
    timezone: str | None = None,
    files: list[Path] | None = None,
) -> DatasetScan:
    """A lazy frame of the dataset with only `columns`, renamed and parsed as the catalog says (of `files`, or of
    the files its path matches now)."""
    import polars as pl

    files = list(files) if files is not None else dataset_files(name, dataset, data_dir)
    schemas = {path: file_schema(path, dataset) for path in files}
    problems = check_columns(name, dataset, files, columns, schemas)
    if problems:
        raise DataError(problems)
    probe_fields(files, dataset, schemas)
    shared = _shared_scan(files, dataset, schemas)
    if shared is not None:
        raw, schema = shared
        frame = raw.select(*_parsed_columns(dataset, columns, schema, timezone), pl.col(FILE_INDEX))
    else:
        frames = []
        for index, path in enumerate(files):
            schema = schemas[path]
            if schema:
                raw = open_file(path, dataset)
            else:  # a JSON file holding no records: every column missing
                schema = {source: pl.String() for c in columns for source in dataset.source_names(c)}
                raw = pl.DataFrame(schema=schema).lazy()
            parsed = _parsed_columns(dataset, columns, schema, timezone)
            frames.append(raw.select(*parsed, pl.lit(index, dtype=pl.UInt32).alias(FILE_INDEX)))
        frame = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")
    notes = reading_notes(name, dataset, files, schemas)
    return DatasetScan(name, dataset, files, frame, tuple(sorted(columns)), notes)


def _parsed_columns(dataset: Dataset, columns: set[str], schema: dict, timezone: str | None) -> list[pl.Expr]:
    """The strict read of `columns` from a file of this schema, with the hidden NaN flags of its float columns."""
    exprs = [column_expr(dataset, c, schema, timezone, strict=True).alias(c) for c in sorted(columns)]
    return exprs + _nonfinite_exprs(dataset, columns, schema, timezone)


def _shared_scan(
    files: list[Path], dataset: Dataset, schemas: dict[Path, dict]
) -> tuple[pl.LazyFrame, dict[str, pl.DataType]] | None:
    """Files of one layout (the monthly exports of a glob) as one scan, with each record's file index; None where
    the layouts differ, or one file cannot be scanned with the others. One scan is Polars' multi-file reader: a
    concatenation of one scan per file, each tagged with its index, read the sample's 26 monthly files three times
    slower (the tag keeps Polars from fusing them)."""
    import polars as pl

    if len(files) < 2 or dataset.file_format not in ("csv", "parquet"):
        return None
    schema = schemas[files[0]]
    if not schema or any(list(schemas[path].items()) != list(schema.items()) for path in files):
        return None
    paths = [text_path(path, dataset) for path in files] if dataset.file_format == "csv" else list(files)
    if len(set(paths)) != len(paths):
        return None
    if dataset.file_format == "csv":
        separators = {file_separator(path, dataset) for path in files}
        if len(separators) != 1:
            return None
        raw = pl.scan_csv(
            paths,
            separator=separators.pop(),
            infer_schema=False,
            encoding="utf8-lossy",
            include_file_paths=_PATH,
            glob=False,
        )
    else:
        raw = pl.scan_parquet(paths, include_file_paths=_PATH, glob=False)
    index = {str(path): number for number, path in enumerate(paths)}
    return raw.with_columns(pl.col(_PATH).replace_strict(index, return_dtype=pl.UInt32).alias(FILE_INDEX)), schema


def _nonfinite_exprs(dataset: Dataset, columns: set[str], schema: dict, timezone: str | None) -> list[pl.Expr]:
    """The hidden flags of the float columns, read in the same pass as the values (a run's note counts them)."""
    exprs = []
    for column in float_columns(dataset, columns):
        number = column_expr(dataset, column, schema, timezone, strict=True, finite=False)
        exprs.append((number.is_nan() | number.is_infinite()).fill_null(False).alias(nonfinite_flag(column)))
    return exprs


IN_MEMORY_ROWS = 500_000  # records a query reads, about, below which Polars' in-memory engine runs it
SHARED_ROWS = 12_000_000  # records, about, up to which queries share the subplans they have in common


def polars_engine(files: Iterable[tuple[Path, str]]) -> str:
    """The Polars engine for queries over `files` (each with its format): the in-memory one for small exports,
    where the streaming one costs more in setting up than it saves (the sample's run took 0.45 s streaming and
    0.19 s in memory; 56 type probes on empty frames 22 ms and 7 ms); the default (streaming) for anything bigger,
    to bound memory. Decided by records, not bytes: 48 MB of Parquet held 30M rows, and took 3.2 GB in memory where
    streaming took 1.3."""
    return "in-memory" if _records(files) < IN_MEMORY_ROWS else "auto"


def query_options(files: Iterable[tuple[Path, str]]) -> tuple[str, pl.QueryOptFlags]:
    """The engine (`polars_engine`) and optimizations for queries over `files`. Polars caches a subplan several
    queries share, holding every record it gives: up to SHARED_ROWS records that saves reading them again (15 KPIs
    over 10M Parquet records: 11.0 s against 12.3 s); beyond, memory would grow with the export (30M records: 1.69
    GB against 1.24 GB), so each query reads its own. A dataset better read once (a CSV) says so with an explicit
    cache, which is kept either way."""
    import polars as pl

    files = list(files)
    records = _records(files)
    engine = "in-memory" if records < IN_MEMORY_ROWS else "auto"
    return engine, pl.QueryOptFlags(comm_subplan_elim=records <= SHARED_ROWS)


def _records(files: Iterable[tuple[Path, str]]) -> int:
    try:
        return sum(file_rows(path, file_format) for path, file_format in files)
    except OSError:  # a file gone mid-run: the read will say so
        return IN_MEMORY_ROWS


def file_rows(path: Path, file_format: str) -> int:
    """About how many records a file holds, without reading it: Parquet's metadata; a CSV's size over the length
    of its first lines (a gzip's size five times over, at 100 bytes a line); a JSON file's size at 200 bytes a
    record."""
    key, stamp = (path, file_format), _stamp(path)
    found = _rows.get(key)
    if found is None or found[0] != stamp:
        found = _rows[key] = (stamp, _file_rows(path, file_format))
    return found[1]


def _file_rows(path: Path, file_format: str) -> int:
    import polars as pl

    if file_format == "parquet":
        return int(pl.scan_parquet(path, glob=False).select(pl.len()).collect().item())
    if file_format == "csv" and path.suffix.lower() != ".gz":
        head = _head(path, 1 << 20)
        lines = head.count(b"\n")
        return int(path.stat().st_size / (len(head) / lines)) if lines else 1
    if file_format == "csv":
        return path.stat().st_size * 5 // 100
    return path.stat().st_size // 200


def estimated_rows(scan: DatasetScan) -> int:
    """About how many records the dataset holds (see file_rows). Decides whether a series is computed in parts to
    bound memory."""
    return sum(file_rows(path, scan.dataset.file_format) for path in scan.files)


def row_count_query(scan: DatasetScan) -> pl.LazyFrame:
    """Records per file, from the same frame the KPIs use, so the scan is shared rather than repeated."""
    import polars as pl

    return scan.frame.group_by(FILE_INDEX).agg(pl.len().alias("rows"))


def invalid_value(dataset: Dataset, column: str, schema: dict, timezone: str | None) -> tuple[pl.Expr, pl.Expr]:
    """The raw text of a typed column (date and time joined when split) and whether it is a value the strict read
    refuses: not blank, yet null when parsed leniently with the same expression. `compute` (through diagnose) and
    `validate` both find bad values with this, so they cannot disagree on which values are bad."""
    import polars as pl

    sources = [source_expr(name, flat_schema(schema)).cast(pl.String) for name in dataset.source_names(column)]
    raw_value = pl.concat_str(sources, separator=" ") if len(sources) > 1 else sources[0]
    lenient = column_expr(dataset, column, schema, timezone, strict=False, finite=False)
    return raw_value, _clean_text(raw_value, trims_text(dataset)).is_not_null() & lenient.is_null()


def diagnose(scan: DatasetScan, timezone: str | None = None) -> Problem | None:
    """After a failed collect: find the first value that does not parse, naming its file, row and column."""
    import polars as pl

    for path in scan.files:
        schema = file_schema(path, scan.dataset)
        raw = open_file(path, scan.dataset).with_row_index("__row", offset=1)
        for column in scan.columns:
            spec = scan.dataset.columns[column]
            if spec.type == "string":
                continue
            source = " + ".join(scan.dataset.source_names(column))
            raw_value, invalid = invalid_value(scan.dataset, column, schema, timezone)
            try:
                bad = raw.filter(invalid).select("__row", raw_value.alias("__raw")).head(1).collect()
            except (pl.exceptions.PolarsError, OSError) as exc:
                if isinstance(exc, OSError):  # a gzip cut short, a file gone: name the file
                    return Problem(f"cannot read the file: {exc}", file=str(path), hint="is the file complete?")
                continue
            if bad.height:
                row, value = bad["__row"][0], bad["__raw"][0]
                where = f"row {row}" + (f" (line {row + 1})" if scan.dataset.file_format == "csv" else "")
                return Problem(
                    f"{where}, column '{source}': value {str(value)!r} is not a valid {spec.type}"
                    + (f" in format {' or '.join(repr(f) for f in spec.formats)}" if spec.formats else ""),
                    file=str(path),
                    field=f"datasets.{scan.name}.columns.{column}",
                    hint="fix the value, or the column's type/format in the catalog"
                    + (" (values ending in Z or +hh:mm need %z in the format)" if spec.type == "datetime" else ""),
                )
    return None


def read_small_table(path: Path, what: str, field: str | None = None) -> pl.DataFrame:
    """A small lookup table (CSV or Parquet) read whole, every column as text."""
    import polars as pl

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pl.read_parquet(path).with_columns(pl.all().cast(pl.String))
        return pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except Exception as exc:  # any reader failure means the file is not the table the catalog describes
        raise DataError(Problem(f"cannot read the {what}: {first_line(exc)}", file=str(path), field=field)) from None


def load_reference(name: str, table: ReferenceTable, data_dir: Path) -> list[Any]:
    """The distinct values of a reference table's key column, as text, in file order."""
    path = resolve_files(name, table.path, data_dir, "reference_tables")[0]
    frame = read_small_table(path, "reference table", f"reference_tables.{name}.path")
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
