"""What the `schema` check measures: declared columns missing from the files, and values that do not parse as the
declared type. It lives with the runner because it reads the files, which the check kinds never do."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from civic_kpi.catalog.model import Dataset
from civic_kpi.check_kinds import FileProblems
from civic_kpi.data.sources import check_columns, column_expr, flat_schema, open_file, polars_engine, trims_text
from civic_kpi.quality.scan import ROW

if TYPE_CHECKING:
    import polars as pl


def file_problems(
    name: str, dataset: Dataset, files: list[Path], schemas: dict[Path, dict], timezone: str | None, examples: int
) -> FileProblems:
    import polars as pl

    problems = check_columns(name, dataset, files, set(dataset.columns), schemas)
    shown: list[dict[str, Any]] = [{"file": p.file, "problem": p.message} for p in problems[:examples]]
    count = len(problems)
    frames: dict[Path, tuple[pl.LazyFrame, list[str]]] = {}
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
            # NaN is a missing value, not a value that does not parse
            parsed = column_expr(dataset, column, schema, timezone, strict=False, finite=False)
            given = (original.str.strip_chars() if trims_text(dataset) else original).str.len_chars() > 0
            bad_exprs.append(given & parsed.is_null())
        frames[path] = raw.select(pl.col(ROW), *[b.alias(c) for b, c in zip(bad_exprs, typed, strict=True)]), typed
    # Every file's counts in one collect_all, not a collect per file (43 on the sample).
    engine = polars_engine((path, dataset.file_format) for path in files)
    counted = pl.collect_all([frame.select(pl.col(typed).sum()) for frame, typed in frames.values()], engine=engine)
    for (path, (frame, _)), found in zip(frames.items(), counted, strict=True):
        for column, bad in found.row(0, named=True).items():
            if not bad:
                continue
            count += bad
            rows = frame.filter(pl.col(column)).select(ROW).head(examples).collect(engine=engine)[ROW].to_list()
            spec = dataset.columns[column]
            expected = " or ".join(spec.formats) if spec.formats else spec.type
            shown.append(
                {
                    "file": path.name,
                    "column": column,
                    "bad_values": bad,
                    "rows": rows,
                    "problem": f"{bad} value(s) are not a valid {spec.type} ({expected})",
                }
            )
    return FileProblems(count, shown[:examples])
