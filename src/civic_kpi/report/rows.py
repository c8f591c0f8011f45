"""Writing the records behind a number: CSV (safe to open in a spreadsheet), Parquet or JSON, in one pass."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from civic_kpi.errors import Problem, UsageError
from civic_kpi.output import replace_atomic
from civic_kpi.report.formatting import CONTROL_PATTERN
from civic_kpi.report.records import FORMULA_START
from civic_kpi.results import RecordRows

RowsFormat = Literal["csv", "parquet", "json"]


def write_rows(rows: RecordRows, fmt: RowsFormat, output: Path | None) -> int:
    """Write the records to `output` atomically (or CSV / JSON to stdout); returns how many were written."""
    import polars as pl

    frame = rows.frame
    if fmt == "csv":
        # Text from the data must not act on the reader: control characters (a terminal's escape sequences) are
        # dropped, and a cell a spreadsheet would run as a formula is written as text (CSV injection).
        text = pl.col(pl.String).str.replace_all(CONTROL_PATTERN, "")
        formula = pl.any_horizontal(text.str.starts_with(start) for start in FORMULA_START)
        frame = frame.with_columns(pl.when(formula).then("'" + text).otherwise(text).name.keep())
    collected = rows.collect(frame)
    if output is None:
        if fmt == "parquet":
            raise UsageError(
                Problem("Parquet is binary: give a file with -o", hint="civic-kpi rows KPI -f parquet -o rows.parquet")
            )
        if fmt == "csv":
            sys.stdout.write(collected.write_csv())
        else:
            sys.stdout.write(collected.write_json() + "\n")
        sys.stdout.flush()
        return collected.height

    def write(temp: Path) -> None:
        if fmt == "csv":
            collected.write_csv(temp)
        elif fmt == "parquet":
            collected.write_parquet(temp)
        else:
            temp.write_text(collected.write_json() + "\n", encoding="utf-8")

    replace_atomic(output, write)
    return collected.height
