"""The lenient scan the checks read: every file's records with their row numbers, where a value that does not parse
becomes missing (the `schema` check counts those) instead of stopping the run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from civic_kpi.catalog.model import Dataset
from civic_kpi.data.sources import FILE_INDEX, column_expr, flat_schema, open_file

if TYPE_CHECKING:
    import polars as pl

ROW = "__row"  # the record's row number in its file, for the example rows


def lenient_frame(
    dataset: Dataset, files: list[Path], schemas: dict[Path, dict], columns: set[str], timezone: str | None
) -> pl.LazyFrame:
    import polars as pl

    frames = []
    for index, path in enumerate(files):
        schema = schemas[path]
        present = set(flat_schema(schema))
        usable = [c for c in sorted(columns) if all(s in present for s in dataset.source_names(c))]
        exprs = [column_expr(dataset, c, schema, timezone, strict=False).alias(c) for c in usable]
        # Typed as the catalog says, not Null: a SQL engine compares a missing timestamp column with a timestamp.
        missing = [pl.lit(None, dtype=_dtype(dataset, c)).alias(c) for c in sorted(columns) if c not in usable]
        frames.append(
            open_file(path, dataset)
            .with_row_index(ROW, offset=1)
            .select(*exprs, *missing, pl.col(ROW), pl.lit(index, dtype=pl.UInt32).alias(FILE_INDEX))
        )
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")


def _dtype(dataset: Dataset, column: str) -> pl.DataType:
    import polars as pl

    types = {"integer": pl.Int64(), "float": pl.Float64(), "boolean": pl.Boolean(), "date": pl.Date()}
    kind = dataset.columns[column].type
    return pl.Datetime("us") if kind == "datetime" else types.get(kind, pl.String())
