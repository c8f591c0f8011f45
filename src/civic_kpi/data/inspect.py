"""`civic-kpi inspect FILE`: profile an export and write the catalog snippet that reads it.

Every column is read as text (as the engine reads CSV) and tried against integer, float, boolean and the date
formats real exports use; a type is proposed only when every non-empty value of the sample fits it. JSON records
may sit under a key of an object (`--json-path`, found by itself for the keys presets read, such as a data.json's
`dataset`); their nested fields are profiled as dotted columns (publisher.name), as a catalog names them. A preset
is named when the file has most of the columns it reads (catalog.presets.match).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from civic_kpi.catalog.model import Dataset
from civic_kpi.catalog.presets import match, presets
from civic_kpi.data.sources import file_encoding, file_separator, flat_schema, open_file, source_expr
from civic_kpi.errors import DataError, Problem, did_you_mean
from civic_kpi.results import ColumnProfile, FileProfile, PresetMatch

if TYPE_CHECKING:
    import polars as pl

SAMPLE = 20_000
DATE_FORMATS = [
    "%Y-%m-%d",
    "%m/%d/%y",  # before %m/%d/%Y, which would also read '24' as the year 24
    "%m/%d/%Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%m/%d/%y %I:%M %p",
    "%m/%d/%y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
]
BOOLEAN_TEXTS = {"true", "false", "y", "n", "yes", "no", "t", "f"}


def kpi_name(column: str) -> str:
    """'Created Date' -> created_date: the KPI-side name a catalog would give an export column."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", column).strip("_").lower()
    return name if name and not name[0].isdigit() else f"c_{name}"


def _profile_column(name: str, values: Any, rows: int) -> ColumnProfile:
    import polars as pl

    text = values.cast(pl.String).str.strip_chars()
    present = text.filter(text.is_not_null() & (text != ""))
    sample = present.head(SAMPLE)
    kind, fmt, low, high = "string", None, None, None
    # Codes with leading zeros (ZIP 02134, ids 007) are text: as numbers they would lose the zeros.
    numeric = len(sample) > 0 and not sample.str.contains(r"^0\d").any()
    if len(sample):
        if numeric and sample.cast(pl.Int64, strict=False).null_count() == 0:
            kind = "integer"
        elif numeric and sample.cast(pl.Float64, strict=False).null_count() == 0:
            kind = "float"
        elif set(sample.str.to_lowercase().unique().to_list()) <= BOOLEAN_TEXTS:
            kind = "boolean"
        else:
            for candidate in DATE_FORMATS:
                target = pl.Date if not re.search(r"%[HIMSTz]", candidate) else pl.Datetime("us")
                parsed = sample.str.replace(r"[Zz]$", "+00:00").str.strptime(target, candidate, strict=False)
                if parsed.null_count() == 0:
                    kind, fmt = ("date" if target == pl.Date else "datetime"), candidate
                    full = present.str.replace(r"[Zz]$", "+00:00").str.strptime(target, candidate, strict=False)
                    low, high = str(full.min()), str(full.max())
                    break
    if kind in ("integer", "float"):
        numbers = present.cast(pl.Float64, strict=False)
        low, high = f"{numbers.min():g}", f"{numbers.max():g}"
    return ColumnProfile(
        name=name,
        kpi_name=kpi_name(name),
        type=kind,
        format=fmt,
        null_share=(rows - len(present)) / rows if rows else 0.0,
        distinct=present.n_unique(),
        minimum=low,
        maximum=high,
        examples=[str(v)[:40] for v in present.unique(maintain_order=True).head(3).to_list()],
    )


def _snippet(path: Path, profiles: list[ColumnProfile], found: list[str], dataset: Dataset) -> str:
    name = kpi_name(path.name.split(".")[0]) or "dataset"
    entry = dataset_entry(path, profiles, found, dataset)
    return yaml.safe_dump({"datasets": {name: entry}}, sort_keys=False, allow_unicode=True, width=120)


def dataset_entry(path: Path, profiles: list[ColumnProfile], found: list[str], dataset: Dataset) -> dict[str, Any]:
    """The catalog entry that reads the file: its preset (the best match) or every column with its type."""
    dated = [p for p in profiles if p.type in ("date", "datetime")]
    preferred = [p for p in dated if re.search(r"creat|open|receiv|request|submit|start", p.name, re.I)]
    entry: dict[str, Any] = {}
    if found:
        entry["preset"] = found[0]
    entry["path"] = path.name
    if dataset.json_path and not found:  # a preset that matched reads from the same key
        entry["json_path"] = dataset.json_path
    if dataset.delimiter is None and path.suffix.lower() in (".csv", ".txt", ".gz"):
        separator = file_separator(path, dataset)
        if separator != ",":
            entry["delimiter"] = separator
    if not found:
        entry["date_column"] = (preferred or dated or [None])[0].kpi_name if dated else "TODO_a_date_column"
        columns: dict[str, Any] = {}
        for profile in profiles:
            if profile.type == "nested":
                continue  # a list: no column of one value per record
            if profile.type == "string":
                columns[profile.kpi_name] = profile.name
            else:
                spec: dict[str, Any] = {"source": profile.name, "type": profile.type}
                if profile.format:
                    spec["format"] = profile.format
                columns[profile.kpi_name] = spec
        entry["columns"] = columns
    return entry


def inspect(path: str | Path, json_path: str | None = None) -> FileProfile:
    """Profile one export file (CSV, gzip CSV, Parquet, JSON) and propose its catalog entry. `json_path`: the key
    of a JSON object whose value is the list of records (default: found from the keys presets read)."""
    import polars as pl

    file = Path(path)
    if not file.is_file():
        raise DataError(Problem("file not found" if not file.exists() else "not a file", file=str(file)))
    dataset = Dataset.model_construct(path=file.name, format=None, delimiter=None, encoding="auto", json_path=json_path)
    if json_path and dataset.file_format != "json":
        raise DataError(
            Problem(
                f"--json-path is for JSON files; this one is read as {dataset.file_format}",
                file=str(file),
                field="json_path",
                hint="leave out --json-path, or inspect the .json file",
            )
        )
    keys: list[str] = []
    try:
        if _is_json_object(file, dataset):
            top = pl.read_json(file, infer_schema_length=None)
            keys, key = top.columns, json_path or _records_key(file, top)
            dataset = Dataset.model_construct(
                path=file.name, format=None, delimiter=None, encoding="auto", json_path=key
            )
            frame = _records(file, top, key)
        else:
            frame = open_file(file, dataset).collect()
    except DataError:
        raise
    except Exception as exc:  # whatever the reader says, the file is not what its name promises
        raise DataError(
            Problem(f"cannot read the file as {dataset.file_format}: {str(exc).splitlines()[0]}", file=str(file))
        ) from None
    frame = _flattened(frame)
    profiles = [
        _profile_column(column, frame[column], frame.height)
        if not frame.schema[column].is_nested()
        else ColumnProfile(
            name=column, kpi_name=kpi_name(column), type="nested", null_share=0.0, distinct=0, examples=[]
        )
        for column in frame.columns
    ]
    scores = match(frame.columns, dataset.json_path, keys)
    found = [score.name for score in scores]
    is_csv = dataset.file_format == "csv"
    return FileProfile(
        path=str(file),
        format=dataset.file_format,
        encoding=file_encoding(file, dataset) if is_csv else None,
        delimiter=file_separator(file, dataset) if is_csv else None,
        rows=frame.height,
        columns=profiles,
        presets=found,
        snippet=_snippet(file, profiles, found, dataset),
        json_path=dataset.json_path,
        preset_matches=[PresetMatch(name=s.name, matched=s.matched, columns=s.columns) for s in scores],
    )


def _is_json_object(file: Path, dataset: Dataset) -> bool:
    """A JSON document that is an object (records under a key), not an array or newline-delimited records."""
    if dataset.file_format != "json" or file.suffix.lower() in (".ndjson", ".jsonl"):
        return False
    with file.open("rb") as stream:
        return stream.read(4096).lstrip().startswith(b"{")


def _records_key(file: Path, top: pl.DataFrame) -> str:
    """The key of a JSON object that holds its records: the one a preset reads (a data.json's `dataset`, a Socrata
    catalog's `results`), else the only key whose value is a list of objects."""
    import polars as pl

    lists = [
        c for c in top.columns if isinstance(top.schema[c], pl.List) and isinstance(top.schema[c].inner, pl.Struct)
    ]
    known = {p["dataset"].get("json_path") for p in presets().values()}
    chosen = [c for c in lists if c in known] or lists
    if len(chosen) == 1:
        return chosen[0]
    raise DataError(
        Problem(
            "the JSON is an object, not an array of records"
            + (f", and several of its keys hold lists of records ({', '.join(chosen)})" if chosen else ""),
            file=str(file),
            field="json_path",
            hint=f"name the key the records sit under: --json-path KEY (keys: {', '.join(top.columns[:8])})",
        )
    )


def _records(file: Path, top: pl.DataFrame, key: str) -> pl.DataFrame:
    """The records under `key` of a JSON object, as the engine reads them (data.sources.open_file)."""
    import polars as pl

    if key not in top.columns:
        raise DataError(
            Problem(
                f"no '{key}' key at the top of the JSON",
                file=str(file),
                field="json_path",
                hint=did_you_mean(key, top.columns) or f"keys: {', '.join(top.columns)}",
            )
        )
    records = top.select(pl.col(key).explode())
    if not isinstance(records.schema[key], pl.Struct):
        if records[key].drop_nulls().len():
            raise DataError(
                Problem(f"'{key}' holds {records.schema[key]} values, not records", file=str(file), field="json_path")
            )
        return pl.DataFrame()
    return records.unnest(key)


def _flattened(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested objects' fields as dotted columns ('publisher.name'), the names a catalog's `source:` takes."""
    import polars as pl

    schema = dict(frame.schema)
    leaves = [name for name, dtype in flat_schema(schema).items() if not isinstance(dtype, pl.Struct)]
    return frame.select(source_expr(name, schema).alias(name) for name in leaves)
