"""Records an engine reads itself: a Parquet dataset whose files already type every column the way the catalog
reads it (a warehouse extract, a table's snapshot), or a PostgreSQL table so typed that PostgreSQL reads in place
(IN_PLACE), read and prepared in SQL instead of being prepared by Polars and staged (executor.py's `stage`).

The preparation is the data layer's, said in SQL, for the cases where SQL says it exactly and nothing else:

- each column from its source column (data/sources.parse_column): a text as stored, a blank one missing; a whole
  number as BIGINT; a float that is NaN or infinite missing; a boolean, a date, a naive timestamp in µs or ms as
  it is; a text boolean true when it is one of the catalog's `true_values`;
- the records as known at the moment (data/known.py): a record whose date column is after it left out, an event
  stamp after it blanked;
- the SLA deadlines, on a calendar table the query makes (deadlines.py);
- the derived columns (formula/sql.py), over the blanked stamps, as Polars adds them.

Anything else (a CSV or JSON export, a text to parse with a format, a column in another zone, a timestamp in ns, a
duration measured between instants, a derived column SQL cannot say the same way: joined texts, a change of case; a
deadline keyed by a float) returns None, and the records are staged as before: never an approximation of the data
layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from civic_kpi.engine.sql.connection import case_clash
from civic_kpi.engine.sql.deadlines import deadline_columns
from civic_kpi.formula import NO_PERIOD, parse_formula
from civic_kpi.formula.kinds import kind_of
from civic_kpi.formula.sql import SqlContext, SqlUnsupported, column, compile_sql_row, literal
from civic_kpi.formula.tree import BinaryOp, Formula, walk

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp

    from civic_kpi.catalog.model import ColumnSpec, Dataset
    from civic_kpi.engine.plan import DatasetPlan, Plan
    from civic_kpi.engine.sql.executor import SqlExecutor


@dataclass(frozen=True)
class DirectRead:
    """The SELECTs of a dataset the engine reads itself, each over the one before: `parsed`, every record with its
    columns read as the catalog types them (and a NONFINITE flag per float column); `known`, the records that
    existed at the moment, their later stamps blanked; `records`, those with the deadlines and derived columns,
    the columns the statements read. The notes (notes.py) count over the first two, the statements read the last."""

    parsed: exp.Select
    known: exp.Select
    records: exp.Select


def direct_records(executor: SqlExecutor, plan: Plan, dp: DatasetPlan) -> exp.Select | None:
    """A SELECT of the dataset's records, as known at the moment, with the columns the statements read, straight
    from its Parquet files; None where the data layer must prepare them."""
    read = direct_read(executor, plan, dp)
    return None if read is None else read.records


def direct_read(executor: SqlExecutor, plan: Plan, dp: DatasetPlan) -> DirectRead | None:
    """The dataset's records read from its Parquet files by the engine (DirectRead); None where the data layer must
    prepare them."""
    from sqlglot import exp

    from civic_kpi.data.sources import float_columns, nonfinite_flag

    dataset, catalog = dp.dataset, executor.request.catalog
    if dataset.file_format != "parquet":
        return None
    if catalog.timezone is not None and executor.instants(plan, dp):
        return None
    scan = executor.scans[dp.name]
    in_place = executor.in_place(dp.name)
    # A path DuckDB would read as a pattern ([1] in a name): the data layer reads it as it is.
    if not scan.files or (not in_place and any(set(str(path)) & set("*?[]{}") for path in scan.files)):
        return None
    # In place, texts are compared, grouped and ordered byte by byte, as Polars does: the database's collation may
    # order "alley" before "Curb", or take "A" and "a" for one value.
    parsed = typed_columns(dataset, scan.files, scan.columns, collate="C" if in_place else None)
    if parsed is None:
        return None
    derived = {name: dataset.derived[name] for name in dp.derived}  # a flag's formula among them
    kinds = dataset.column_kinds
    if any(_adds_text(parse_formula(text, row=True), kinds) for text in derived.values()):
        return None  # `first + last` joins texts in Polars; SQL's + adds numbers only
    params, refs = executor.ctx_values["params"], executor.ctx_values["refs"]
    ctx = SqlContext(None, NO_PERIOD, NO_PERIOD, NO_PERIOD, params, refs, catalog.timezone, dataset.date_only_columns)
    try:
        formulas = [
            exp.alias_(compile_sql_row(parse_formula(text, row=True), ctx), name, quoted=True)
            for name, text in derived.items()
        ]
    except SqlUnsupported:
        return None
    at = plan.moment.at
    # NaN and infinity are read as missing; the data layer's flag says which were, for the run's note.
    for name in float_columns(dataset, scan.columns):
        number = _cast(column(dataset.source_name(name)), "DOUBLE")
        flag = exp.Coalesce(this=exp.Not(this=_is_finite(number)), expressions=[exp.false()])
        parsed.append(exp.alias_(flag, nonfinite_flag(name), quoted=True))
    if in_place:
        files: exp.Expression = exp.to_table(IN_PLACE, quoted=True)
    else:
        assert executor.sql_engine is not None
        sources = sorted({source for name in scan.columns for source in dataset.source_names(name)})
        named = executor.sql_engine.parquet_files(scan.files, sources)
        if named is None:
            return None
        files = named
    read = exp.select(*parsed).from_(files)
    # As known at the moment (data/known.as_known_at): the record existed, its later stamps blanked.
    blanked = [
        exp.alias_(exp.Case(ifs=[exp.If(this=known_at(name, at), true=column(name))]), name, quoted=True)
        if name in dataset.event_columns and name in dp.columns
        else column(name)
        for name in scan.columns
    ]
    exists = known_at(dataset.date_column, at) if dataset.date_column in dataset.event_columns else exp.true()
    known = exp.select(*blanked).from_(read.subquery("parsed")).where(exists)
    existing = known
    if dp.deadlines:
        root = executor.request.root
        with_deadlines = deadline_columns(known, dataset, set(dp.deadlines), catalog, root, plan.holiday_years)
        if with_deadlines is None:
            return None
        known = with_deadlines
    prepared = exp.select(exp.Star(), *formulas).from_(known.subquery("known"))
    records = exp.select(*(column(name) for name in executor.record_columns(plan, dp))).from_(
        prepared.subquery("prepared")
    )
    return DirectRead(read, existing, records)


def typed_columns(
    dataset: Dataset, files: list[Path], columns: tuple[str, ...] | list[str], collate: str | None = None
) -> list[exp.Expression] | None:
    """Each column read from its source column as the catalog types it (`_reading`), or None where one needs the
    data layer: a type SQL would read otherwise, a zone, a date and a time to join, files whose types differ, or
    two columns differing only in case (DuckDB would bind a quoted "team" to Team)."""
    import polars as pl
    from sqlglot import exp

    from civic_kpi.data.sources import file_schema

    schemas = [file_schema(path, dataset) for path in files]
    if any(case_clash(list(schema)) for schema in schemas):
        return None
    parsed: list[exp.Expression] = []
    for name in columns:
        spec, source = dataset.columns[name], dataset.source_name(name)
        dtypes = {schema.get(source) for schema in schemas}
        dtype = dtypes.pop() if len(dtypes) == 1 else None
        reading = _reading(spec, dtype)
        if reading is None or spec.time_source or spec.timezone:
            return None
        value = column(source)
        if collate is not None and dtype == pl.String:
            value = exp.Collate(this=value, expression=exp.Identifier(this=collate, quoted=True))
        parsed.append(exp.alias_(reading(value), name, quoted=True))
    return parsed


def _adds_text(formula: Formula, kinds: Mapping[str, str]) -> bool:
    """Whether a row formula adds texts together (every `+` of it is looked at, the nested ones too)."""
    return any(
        isinstance(node, BinaryOp)
        and node.op == "+"
        and "string" in (kind_of(node.left, kinds, {}), kind_of(node.right, kinds, {}))
        for node in walk(formula.tree)
    )


def _reading(spec: ColumnSpec, dtype: pl.DataType | None) -> Callable[[exp.Expression], exp.Expression] | None:
    """How a source column of the file's type becomes the catalog's (parse_column), or None where SQL would
    differ from it."""
    import polars as pl

    if dtype is None:
        return None
    kind = spec.type
    if kind == "string" and dtype == pl.String:
        return _text
    if kind == "integer" and dtype.is_integer() and dtype not in (pl.UInt64(), pl.UInt128()):
        return lambda source: _cast(source, "BIGINT")
    if kind == "float" and dtype.is_float():
        return _finite
    if kind in ("boolean", "date") and dtype == (pl.Boolean() if kind == "boolean" else pl.Date()):
        return lambda source: source
    if kind == "boolean" and dtype == pl.String:
        return lambda source: _listed(source, spec.true_values)
    if kind == "datetime" and isinstance(dtype, pl.Datetime) and dtype.time_zone is None and dtype.time_unit != "ns":
        return lambda source: _cast(source, "TIMESTAMP")
    return None


def _cast(source: exp.Expression, to: str) -> exp.Expression:
    from sqlglot import exp

    return exp.cast(source, exp.DataType.build(to))


def _text(source: exp.Expression) -> exp.Expression:
    """A blank text is missing; a typed file's text is used as stored (not trimmed), as data/sources reads it."""
    from sqlglot import exp

    return exp.Nullif(this=source, expression=literal(""))


def _finite(source: exp.Expression) -> exp.Expression:
    """NaN and infinity are no measurement: missing."""
    from sqlglot import exp

    number = _cast(source, "DOUBLE")
    return exp.Case(ifs=[exp.If(this=_is_finite(number.copy()), true=number)])


def _is_finite(number: exp.Expression) -> exp.Expression:
    """Whether a DOUBLE is neither NaN nor infinite, on every engine: x - x is 0 for a finite x and NaN otherwise,
    and NaN equals no number (PostgreSQL has no isfinite() of a float; NULL stays NULL)."""
    from sqlglot import exp

    difference = exp.Paren(this=exp.Sub(this=number, expression=number.copy()))
    return exp.EQ(this=difference, expression=exp.Literal.number(0))


def _listed(source: exp.Expression, true_values: list[str]) -> exp.Expression:
    """A text boolean: missing when blank, else whether it is one of the catalog's true values."""
    from sqlglot import exp

    text = _text(source)
    listed = exp.In(this=text.copy(), expressions=[literal(v) for v in true_values]) if true_values else exp.false()
    return exp.Case(ifs=[exp.If(this=exp.Is(this=text, expression=exp.null()), true=exp.null())], default=listed)


def known_at(name: str, at: datetime) -> exp.Expression:
    """Whether a stamp is known at the moment: at or before it, or missing (time/moment.Moment.known)."""
    from sqlglot import exp

    stamp = exp.cast(column(name), exp.DataType.build("TIMESTAMP"))
    return exp.Coalesce(this=exp.LTE(this=stamp, expression=literal(at)), expressions=[exp.true()])


IN_PLACE = "__civic_kpi_table"  # stands for a table read in place, until the SQL is written (SqlExecutor.sql)
