"""The values of a dataset's files: those a typed column cannot read, and codes a flag's lists do not know.

Both are found with lazy queries, one per file (bad values) or one per flag (unknown codes) over the frame a run
already reads, so neither adds a pass over the data of its own. Bad values are found with `sources.invalid_value`,
the very expression compute's error message comes from, so `validate` and `compute` agree on every value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from civic_kpi.catalog.model import Dataset
from civic_kpi.data.sources import flat_schema, invalid_value, open_file, polars_engine

if TYPE_CHECKING:
    import polars as pl

SHOWN = 3  # bad values (or unknown codes) named in a message; the rest are counted
ROW = "__row"


@dataclass(frozen=True)
class BadValues:
    """One column of one file: how many values do not read as its type, and the first few with their rows."""

    dataset: str
    column: str
    file: Path
    count: int
    rows: list[int]  # 1-based record numbers
    values: list[str]
    lines: dict[int, int]  # record number -> line of the file (CSV only)


def typed_columns(dataset: Dataset, present: set[str]) -> list[str]:
    """The declared columns that have a type to read (not text) and whose export columns the file has."""
    return sorted(
        column
        for column, spec in dataset.columns.items()
        if spec.type != "string" and all(source in present for source in dataset.source_names(column))
    )


def bad_values_query(
    dataset: Dataset, path: Path, schema: dict, columns: list[str], timezone: str | None
) -> pl.LazyFrame:
    """One lazy query over one file: per column, the number of bad values and the first few with their record
    numbers (a row index, so no row of the file is looked at in Python)."""
    import polars as pl

    frame = open_file(path, dataset).with_row_index(ROW, offset=1)
    exprs = []
    for index, column in enumerate(columns):
        raw, bad = invalid_value(dataset, column, schema, timezone)
        exprs += [
            bad.sum().alias(f"{index}|count"),
            pl.col(ROW).filter(bad).head(SHOWN).implode().alias(f"{index}|rows"),
            raw.filter(bad).head(SHOWN).implode().alias(f"{index}|values"),
        ]
    return frame.select(exprs)


def line_numbers(dataset: Dataset, path: Path, schema: dict, rows: list[int]) -> dict[int, int]:
    """The line of the file each record starts on: a record's number plus one (the header) plus the line breaks
    inside quoted values of the records before it. Read only when a message needs it."""
    import polars as pl

    if dataset.file_format != "csv" or not rows:
        return {}
    text = [c for c, dtype in schema.items() if dtype == pl.String]
    breaks = pl.sum_horizontal([pl.col(c).str.count_matches("\n").fill_null(0) for c in text]) if text else pl.lit(0)
    found = (
        open_file(path, dataset)
        .with_row_index(ROW, offset=1)
        .select(ROW, (breaks.cum_sum() - breaks).alias("before"))
        .filter(pl.col(ROW).is_in(rows))
        .collect()
    )
    return {int(row): int(row) + 1 + int(before) for row, before in found.iter_rows()}


def bad_values(
    name: str, dataset: Dataset, files: list[Path], schemas: Mapping[Path, dict], timezone: str | None
) -> list[BadValues]:
    """Every typed column of every file with values that do not read as its type (the files read together)."""
    import polars as pl

    plans = []
    for path in files:
        columns = typed_columns(dataset, set(flat_schema(schemas[path])))
        if columns:
            plans.append((path, columns, bad_values_query(dataset, path, schemas[path], columns, timezone)))
    found = []
    frames = pl.collect_all([q for *_, q in plans], engine=polars_engine((path, dataset.file_format) for path in files))
    for (path, columns, _), frame in zip(plans, frames, strict=True):
        row = frame.row(0, named=True)
        for index, column in enumerate(columns):
            count = int(row[f"{index}|count"] or 0)
            if count:
                rows, values = list(row[f"{index}|rows"]), [str(v) for v in row[f"{index}|values"]]
                lines = line_numbers(dataset, path, schemas[path], rows)
                found.append(BadValues(name, column, path, count, rows, values, lines))
    return found


def describe_bad(bad: BadValues, dataset: Dataset) -> str:
    spec = dataset.columns[bad.column]
    source = " + ".join(dataset.source_names(bad.column))

    def where(row: int) -> str:
        return f"line {bad.lines[row]}" if row in bad.lines else f"record {row}"

    shown = ", ".join(f"{where(row)} {value!r}" for row, value in zip(bad.rows, bad.values, strict=True))
    more = f" and {bad.count - len(bad.rows)} more" if bad.count > len(bad.rows) else ""
    kind = f"a valid {spec.type}" + (f" in format {' or '.join(repr(f) for f in spec.formats)}" if spec.formats else "")
    return (
        f"column '{source}': {bad.count} value{'s' if bad.count != 1 else ''} {'are' if bad.count != 1 else 'is'} "
        f"not {kind}: {shown}{more}"
    )


# ------------------------------------------------------------------ flags: codes on neither list


def flags_of(dataset: Dataset, names: set[str] | frozenset[str], columns: set[str] | frozenset[str]) -> list[str]:
    """The flags among `names` whose listed column is among `columns` (those whose codes can be looked at)."""
    return sorted(name for name in names if name in dataset.flags and dataset.flags[name].column in columns)


def unknown_codes_query(dataset: Dataset, flag: str, frame: pl.LazyFrame) -> pl.LazyFrame:
    """The values of the flag's column that neither list knows, with their record counts, most frequent first.
    On a shared (cached) frame this reads nothing more: a filter and a group_by over one column."""
    import polars as pl

    spec = dataset.flags[flag]
    value = pl.col(spec.column).cast(pl.String)
    compared = value.str.to_uppercase() if spec.ignore_case else value
    known = spec.known(spec.true_for) + spec.known(spec.false_for)
    return (
        frame.select(value.alias("value"), compared.alias("compared"))
        .filter(pl.col("compared").is_not_null() & ~pl.col("compared").is_in(known))
        .group_by("value")
        .agg(pl.len().alias("records"))
        .sort(["records", "value"], descending=[True, False])
    )


def unknown_codes_note(name: str, dataset: Dataset, flag: str, found: pl.DataFrame) -> str:
    """One line naming the values the flag's lists do not know and how they were counted; empty when none."""
    if not found.height:
        return ""
    spec = dataset.flags[flag]
    pairs = list(found.iter_rows())
    shown = ", ".join(f"{value!r} ({records} record{'s' if records != 1 else ''})" for value, records in pairs[:SHOWN])
    rest = pairs[SHOWN:]
    if rest:
        shown += f" and {len(rest)} more value{'s' if len(rest) != 1 else ''} ({sum(r for _, r in rest)} records)"
    owner = f" of preset {dataset.preset}" if dataset.preset else ""
    plural = len(pairs) != 1
    return (
        f"{name}: {spec.column} value{'s' if plural else ''} {shown} {'are' if plural else 'is'} in neither the "
        f"true_for nor the false_for list of {flag}{owner}; {'they are' if plural else 'it is'} counted as not "
        f"{flag} (add {'them' if plural else 'it'} to one list under flags.{flag} in the catalog)"
    )
