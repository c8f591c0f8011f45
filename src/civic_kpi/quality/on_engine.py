"""The checks measured on a SQL engine (`civic-kpi check --engine duckdb|postgres|spark`): the lenient records the
Polars runner reads (quality/scan.py), staged for the engine in one streamed pass; every check's metric in one
SELECT (a check whose metric is a statement of its own, such as `duplicates`, in its own), and the example rows of
those that did not pass in file and row order, as the Polars runner finds them (quality/aggregate.py)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from civic_kpi.catalog.loader import LoadedCatalog
from civic_kpi.check_kinds import Inputs, SqlMeasure
from civic_kpi.data.sources import FILE_INDEX
from civic_kpi.engine.sql import sql_engine
from civic_kpi.engine.sql.dialects import sql_of
from civic_kpi.errors import DataError, Problem, UsageError, first_line
from civic_kpi.formula.sql import RECORDS, SqlContext, SqlUnsupported, column, compile_sql_row, false_if_null
from civic_kpi.quality.aggregate import EXAMPLES, Outcome, RecordCheck, examples_of, where_of
from civic_kpi.quality.scan import ROW
from civic_kpi.results import Status

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class PlannedSql:
    check: RecordCheck
    measure: SqlMeasure


def plan_sql(loaded: LoadedCatalog, name: str, check: RecordCheck, inputs: Inputs, engine: str) -> PlannedSql:
    """A check as SQL (its columns known to exist: aggregate.require_columns), its `where` compiled as the KPIs' is
    (formula/sql.py); one SQL cannot say the same way is refused with the check's name."""
    cat = loaded.catalog
    dataset = cat.datasets[name]
    spec = check.spec
    try:
        rows = None
        if spec.where:
            now = inputs.now
            where, refs = where_of(check, inputs)
            params = dict(cat.parameters)
            ctx = SqlContext(None, now, now, now, params, refs, cat.timezone, dataset.date_only_columns)
            rows = false_if_null(compile_sql_row(where, ctx))
        return PlannedSql(check, check.kind.sql_measure(spec, rows, inputs))
    except SqlUnsupported as error:
        raise UsageError(
            Problem(
                f"dataset {name}: check '{spec.label}': {error.what} is not supported on --engine {engine} yet",
                file=str(loaded.path),
                line=loaded.line_of(("datasets", name, "checks", check.index)),
                hint="run the checks with --engine polars",
            )
        ) from None


def measure_on(
    engine_name: str, dataset: str, frame: pl.LazyFrame, planned: dict[int, PlannedSql], files: list[Path], polars: str
) -> dict[int, Outcome]:
    """Every planned check's metric and examples on the engine (`polars`: the Polars engine that stages the
    records, data.sources.polars_engine)."""
    import polars as pl
    from sqlglot import exp

    if not planned:
        return {}
    engine = sql_engine(engine_name)
    records = exp.to_table(RECORDS, quoted=True)
    with tempfile.TemporaryDirectory(prefix="civic-kpi-") as folder:
        staged = Path(folder) / f"records.{engine.staged_format}"
        try:
            pl.collect_all([engine.stage(frame, staged)], engine=polars)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise DataError(Problem(f"could not check the data: {first_line(exc)}", file=str(files[0]))) from None
        schema = frame.collect_schema()
        with engine.connect() as connection:
            engine.load(connection, staged, schema, dataset)

            def run(statement: exp.Expression) -> pl.DataFrame:
                return engine.run(connection, sql_of(statement, engine.dialect), dataset)

            alone = {i: p for i, p in planned.items() if isinstance(p.measure.metric, exp.Select)}
            together = [exp.alias_(p.measure.metric, str(i), quoted=True) for i, p in planned.items() if i not in alone]
            metrics = run(exp.select(*together).from_(records)).row(0, named=True) if together else {}
            for index, p in alone.items():
                metrics[str(index)] = run(p.measure.metric).item()
            found: dict[int, pl.DataFrame] = {}
            for index, p in planned.items():
                spec, kind = p.check.spec, p.check.kind
                if kind.status(spec, metrics[str(index)]) == Status.PASS or p.measure.offending is None:
                    continue
                shown = [c for c in kind.example_columns(spec, p.check.where_columns) if c in schema]
                order = [column(FILE_INDEX), column(ROW)]
                select = exp.select(*order, *(column(c) for c in shown)).from_(records.copy())
                found[index] = run(select.where(p.measure.offending).order_by(*order).limit(EXAMPLES))
    return {
        index: Outcome(
            metrics[str(index)],
            p.check.kind.status(p.check.spec, metrics[str(index)]),
            examples_of(found.get(index), files),
        )
        for index, p in planned.items()
    }
