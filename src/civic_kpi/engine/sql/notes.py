"""The notes of a dataset the engine reads itself (direct.py), counted by the engine: what the Polars executor counts
beside the aggregates, each as SQL over the same relations, given back as the frames the Polars executor collects
so that the same code writes the run's notes from them.

- the rows of each file (from the Parquet files' own metadata: no record is read), or of a table read in place;
- the records the moment leaves out, the stamps it blanks, the stamps after today and the dates before FIRST_YEAR
  (data/known.after_moment_query), and the NaN and infinite values read as missing (data/sources.nonfinite_query),
  over every record read;
- the newest stamp and the oldest date (polars_executor.newest_query), the keys an SLA table does not list
  (unmatched_queries) and the codes a flag's lists do not know (data/values.unknown_codes_query), over the records
  known at the moment;
- the groups of each breakdown, for the group limit (engine/group_limit.py).

With these the Polars executor reads nothing of such a dataset: before, it read the files a second time for them.
Where SQL would not count the same (a cadence text read by refresh_days, a flag folding case, a flag over a column
whose text SQL writes otherwise), `dataset_notes` returns None and the Polars executor counts them as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from civic_kpi.data.known import EARLIEST, event_columns
from civic_kpi.data.sources import FILE_INDEX, float_columns, nonfinite_flag
from civic_kpi.data.values import flags_of
from civic_kpi.engine.sql.direct import known_at
from civic_kpi.formula import parse_formula
from civic_kpi.formula.sql import column, count_where, literal
from civic_kpi.formula.tree import Call, walk

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp

    from civic_kpi.catalog.model import Dataset
    from civic_kpi.engine.plan import DatasetPlan, Plan
    from civic_kpi.engine.sql.direct import DirectRead
    from civic_kpi.engine.sql.executor import SqlExecutor


@dataclass(frozen=True)
class NoteQuery:
    """One statement of a dataset's notes, and how its rows become the frame the Polars executor would collect."""

    key: str  # as the Polars executor files it: moment:NAME, span:NAME, unmatched:NAME:COLUMN, ...
    selects: tuple[exp.Select, ...]
    frame: Callable[[list[pl.DataFrame]], pl.DataFrame]  # the rows of each SELECT, in order

    def frames(self, found: list[pl.DataFrame]) -> dict[str, pl.DataFrame]:
        """The frames it gives, by key, from the rows of its SELECTs."""
        return {self.key: self.frame(found)}


@dataclass(frozen=True)
class FusedNotes(NoteQuery):
    """Notes that are one row of aggregates over every record read, counted in one statement, so that the engine
    reads the records once for them all: `parts` are each note's key, its columns' names and how its row becomes
    its frame; the statement names the columns c0, c1, ... (no name a database would cut short)."""

    parts: tuple[tuple[str, tuple[str, ...], Callable[[list[pl.DataFrame]], pl.DataFrame]], ...] = ()

    def frames(self, found: list[pl.DataFrame]) -> dict[str, pl.DataFrame]:
        import polars as pl

        frames, position = {}, 0
        for key, names, frame in self.parts:
            own = [pl.col(f"c{position + n}").alias(name) for n, name in enumerate(names)]
            frames[key] = frame([found[0].select(own)])
            position += len(names)
        return frames


def _fused(name: str, read: DirectRead, notes: list[NoteQuery]) -> NoteQuery:
    """Notes of one SELECT each, a row of aggregates over `parsed`, as one statement (FusedNotes)."""
    from sqlglot import exp

    columns: list[exp.Expression] = []
    parts = []
    for note in notes:
        (select,) = note.selects
        names = tuple(projection.alias_or_name for projection in select.expressions)
        for projection in select.expressions:
            value = projection.this if isinstance(projection, exp.Alias) else projection
            columns.append(exp.alias_(value.copy(), f"c{len(columns)}", quoted=True))
        parts.append((note.key, names, note.frame))
    statement = exp.select(*columns).from_(read.parsed.subquery("parsed"))
    return FusedNotes(f"notes:{name}", (statement,), _as_is, tuple(parts))


def _as_is(found: list[pl.DataFrame]) -> pl.DataFrame:
    return found[0]


def notes_possible(executor: SqlExecutor, plan: Plan, dp: DatasetPlan) -> bool:
    """Whether the engine counts every note of the dataset as the Polars executor does."""
    dataset = dp.dataset
    for flag in flags_of(dataset, dp.derived, dp.columns):
        spec = dataset.flags[flag]
        # upper() folds ß to SS in Polars, not in every SQL engine; a float's text differs between them.
        if spec.ignore_case or dataset.columns[spec.column].type not in ("string", "integer"):
            return False
    request = executor.request
    formulas = [parse_formula(dataset.derived[name], row=True) for name in dp.derived]
    formulas += [
        formula
        for kpi in request.computed
        if kpi.dataset == dp.name and not kpi.from_kpis
        for formula in request.formulas[kpi.id].values()
    ]
    return not any(isinstance(node, Call) and node.name == "refresh_days" for f in formulas for node in walk(f.tree))


def dataset_notes(executor: SqlExecutor, plan: Plan, dp: DatasetPlan, read: DirectRead) -> list[NoteQuery] | None:
    """The statements of the dataset's notes over its DirectRead (None: not every note can be counted in SQL)."""
    if not notes_possible(executor, plan, dp):
        return None
    dataset, name = dp.dataset, dp.name
    columns = set(dp.columns)
    counted = event_columns(dataset, columns | ({dataset.date_column} & dataset.event_columns))
    read_columns = set(executor.scans[name].columns)
    if not set(counted) <= read_columns or dataset.date_column not in read_columns:
        return None
    over_all = [NoteQuery(f"moment:{name}", (_after_moment(executor, plan, dp, read, counted),), _as_is)]
    if executor.in_place(name):  # a table read in place is one "file": its records, counted
        over_all.append(NoteQuery(f"rows:{name}", (_table_rows(read),), _file_rows_frame))
    floats = float_columns(dataset, executor.scans[name].columns)
    if floats:
        over_all.append(NoteQuery(f"nonfinite:{name}", (_nonfinite(read, floats),), _as_is))
    over_all.append(NoteQuery(f"span:{name}", (_over_parsed(_span(executor, dp, read), read),), _as_is))
    queries = [_fused(name, read, over_all)]
    queries += _unmatched(executor, dp, read)
    for flag in flags_of(dataset, dp.derived, dp.columns):
        queries.append(NoteQuery(f"codes:{name}:{flag}", (_unknown_codes(dp, read, flag),), _as_is))
    return queries


def group_count_query(plan: Plan, dp: DatasetPlan, read: DirectRead) -> exp.Select | None:
    """The number of groups of each of the dataset's breakdowns over the records known at the moment, a column each
    ("0", "1", ...), as group_limit.group_count_queries counts them: a missing value is a group of its own, which
    GROUP BY makes too. Only the count comes back, never the groups. None: no breakdown."""
    from sqlglot import exp

    breakdowns = list(dict.fromkeys(query.dims for query in dp.queries if query.dims))
    if not breakdowns:
        return None
    counts = []
    for index, dims in enumerate(breakdowns):
        groups = exp.select(exp.Literal.number(1)).from_(read.known.subquery("known")).group_by(*map(column, dims))
        counted = exp.select(exp.Count(this=exp.Star())).from_(groups.subquery("groups"))
        counts.append(exp.alias_(exp.Subquery(this=counted), str(index), quoted=True))
    return exp.select(*counts)


def file_rows(executor: SqlExecutor, dp: DatasetPlan) -> pl.DataFrame:
    """The records of each of the dataset's Parquet files, from their metadata, as row_count_query counts them."""
    import polars as pl
    import pyarrow.parquet as pq

    files = executor.scans[dp.name].files
    return pl.DataFrame(
        {FILE_INDEX: list(range(len(files))), "rows": [pq.read_metadata(path).num_rows for path in files]},
        schema={FILE_INDEX: pl.UInt32, "rows": pl.Int64},
    )


def span_of_table(dataset: Dataset, stamps: list[exp.Expression], today: datetime) -> exp.Select:
    """polars_executor.catalog_span for a table read in place: its newest stamp up to `today` (`today` itself when
    every stamp is after it) and its oldest date from FIRST_YEAR on, over every record. `stamps`: the typed columns
    the moment reads (direct.typed_columns, each named as the catalog names it)."""
    from sqlglot import exp

    from civic_kpi.engine.sql.direct import IN_PLACE

    columns = _stamp_columns(dataset, {stamp.alias for stamp in stamps})
    until = literal(today)
    latest = _newest([exp.Max(this=_stamp(name)) for name in columns])
    capped = _newest(
        [
            exp.Max(
                this=exp.Case(ifs=[exp.If(this=exp.LTE(this=_stamp(name), expression=until.copy()), true=_stamp(name))])
            )
            for name in columns
        ]
    )
    chosen = exp.Case(
        ifs=[
            exp.If(
                this=exp.and_(
                    exp.Is(this=capped.copy(), expression=exp.null()),
                    exp.Not(this=exp.Is(this=latest, expression=exp.null())),
                ),
                true=until.copy(),
            )
        ],
        default=capped,
    )
    parsed = exp.select(*stamps).from_(exp.to_table(IN_PLACE, quoted=True)).subquery("parsed")
    return exp.select(exp.alias_(chosen, "newest", quoted=True), _oldest(dataset)).from_(parsed)


def _table_rows(read: DirectRead) -> exp.Select:
    from sqlglot import exp

    return exp.select(exp.alias_(exp.Count(this=exp.Star()), "rows", quoted=True)).from_(read.parsed.subquery("parsed"))


def _file_rows_frame(found: list[pl.DataFrame]) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(
        {FILE_INDEX: [0], "rows": [int(found[0]["rows"][0])]}, schema={FILE_INDEX: pl.UInt32, "rows": pl.Int64}
    )


def _stamp(name: str) -> exp.Expression:
    from sqlglot import exp

    return exp.cast(column(name), exp.DataType.build("TIMESTAMP"))


def _stamp_columns(dataset: Dataset, present: set[str]) -> list[str]:
    """The stamps the newest is taken over (polars_executor.newest_query): the event columns and the as_of_column
    the records hold, else the freshness column."""
    named = {dataset.as_of_column} if dataset.as_of_column else set()
    return sorted((dataset.event_columns | named) & present) or [dataset.freshness_column]


def _newest(values: list[exp.Expression]) -> exp.Expression:
    """The greatest of the values, skipping a missing one, as Polars' max_horizontal does: a column without any stamp
    has no maximum (SQLGlot otherwise writes DuckDB's GREATEST as NULL when any is NULL)."""
    from sqlglot import exp

    return values[0] if len(values) == 1 else exp.Greatest(this=values[0], expressions=values[1:], ignore_nulls=True)


def _oldest(dataset: Dataset) -> exp.Expression:
    """The oldest date of the date column from FIRST_YEAR on (an earlier one is a typo that falls in no period)."""
    from sqlglot import exp

    first = _stamp(dataset.date_column)
    from_first_year = exp.Case(ifs=[exp.If(this=exp.GTE(this=first, expression=literal(EARLIEST)), true=first.copy())])
    return exp.alias_(exp.Min(this=from_first_year), "oldest", quoted=True)


def _after_moment(
    executor: SqlExecutor, plan: Plan, dp: DatasetPlan, read: DirectRead, counted: list[str]
) -> exp.Select:
    """data/known.after_moment_query over every record read: those left out, the stamps blanked among the others,
    the stamps after today, the dates before FIRST_YEAR."""
    from sqlglot import exp

    dataset, at, today = dp.dataset, plan.moment.at, executor.today
    date_column = dataset.date_column
    exists = known_at(date_column, at) if date_column in dataset.event_columns else exp.true()
    counts = [
        exp.alias_(count_where(exp.Not(this=exists.copy())), "unborn", quoted=True),
        exp.alias_(count_where(exp.LT(this=_stamp(date_column), expression=literal(EARLIEST))), "early", quoted=True),
    ]
    for name in counted:
        if name in dp.columns:
            late = exp.and_(exists.copy(), exp.Not(this=known_at(name, at)))
            counts.append(exp.alias_(count_where(late), f"late|{name}", quoted=True))
    for name in counted:
        counts.append(exp.alias_(count_where(exp.Not(this=known_at(name, today))), f"future|{name}", quoted=True))
    return exp.select(*counts).from_(read.parsed.subquery("parsed"))


def _nonfinite(read: DirectRead, floats: list[str]) -> exp.Select:
    """data/sources.nonfinite_query: per float column, the values NaN or infinite in the file."""
    from sqlglot import exp

    counts = [exp.alias_(count_where(column(nonfinite_flag(name))), name, quoted=True) for name in floats]
    return exp.select(*counts).from_(read.parsed.subquery("parsed"))


def _span(executor: SqlExecutor, dp: DatasetPlan, read: DirectRead) -> exp.Select:
    """polars_executor.newest_query over the records known at the moment: the newest of their stamps, the oldest
    date from FIRST_YEAR on."""
    from sqlglot import exp

    dataset = dp.dataset
    stamps = _stamp_columns(dataset, set(executor.scans[dp.name].columns))
    latest = _newest([exp.Max(this=_stamp(name)) for name in stamps])
    return exp.select(exp.alias_(latest, "newest", quoted=True), _oldest(dataset)).from_(read.known.subquery("known"))


def _over_parsed(select: exp.Select, read: DirectRead) -> exp.Select:
    """A row of aggregates over the records known at the moment (`known`) said over every record read (`parsed`),
    so that it can join the notes counted there (_fused): each column as `known` makes it (a stamp after the moment
    blanked), each aggregate filtered to the records that existed then."""
    from sqlglot import exp

    known = read.known
    made = {projection.alias_or_name: projection for projection in known.expressions}
    exists = known.args["where"].this
    values = [projection.copy() for projection in select.expressions]  # not its FROM, which holds `known` itself
    for value in values:
        for node in list(value.find_all(exp.Column)):
            projection = made[node.name]
            node.replace((projection.this if isinstance(projection, exp.Alias) else projection).copy())
        aggregates = [node for node in value.find_all(exp.AggFunc) if not isinstance(node.parent, exp.Filter)]
        for node in aggregates:
            node.replace(exp.Filter(this=node.copy(), expression=exp.Where(this=exists.copy())))
    return exp.select(*values).from_(read.parsed.subquery("parsed"))


def _unmatched(executor: SqlExecutor, dp: DatasetPlan, read: DirectRead) -> list[NoteQuery]:
    """polars_executor.unmatched_queries: per deadline with a key, how many known records have a key the policy
    table does not list (compared as text, as the table matches it), and the first three such keys in order."""
    import polars as pl
    from sqlglot import exp

    from civic_kpi.data.deadlines import load_policy_table

    catalog, root = executor.request.catalog, executor.request.root
    queries = []
    for name in sorted(dp.deadlines):
        deadline = dp.dataset.deadlines[name]
        if deadline.key is None:
            continue
        listed = load_policy_table(deadline.policy, catalog.sla_policies[deadline.policy], root)["key"].to_list()
        key = column(deadline.key)
        missing: exp.Expression = exp.Not(this=exp.Is(this=key.copy(), expression=exp.null()))
        if listed:
            text = exp.cast(key.copy(), exp.DataType.build("VARCHAR"))
            missing = exp.and_(missing, exp.Not(this=exp.In(this=text, expressions=[literal(v) for v in listed])))
        known = read.known.subquery("known")
        counted = exp.select(exp.alias_(count_where(missing.copy()), "count", quoted=True)).from_(known)
        first = (
            exp.select(exp.alias_(key.copy(), "key", quoted=True))
            .distinct()
            .from_(known.copy())
            .where(missing)
            .order_by(column("key"))
            .limit(3)
        )
        queries.append(
            NoteQuery(
                f"unmatched:{dp.name}:{name}",
                (counted, first),
                lambda found: pl.DataFrame({"count": [found[0]["count"][0]], "keys": [found[1]["key"].to_list()]}),
            )
        )
    return queries


def _unknown_codes(dp: DatasetPlan, read: DirectRead, flag: str) -> exp.Select:
    """data/values.unknown_codes_query: the values of the flag's column neither list knows, with their records,
    most first (a flag that folds case is left to Polars: notes_possible)."""
    from sqlglot import exp

    spec = dp.dataset.flags[flag]
    value = exp.cast(column(spec.column), exp.DataType.build("VARCHAR"))
    known = spec.known(spec.true_for) + spec.known(spec.false_for)
    unknown: exp.Expression = exp.Not(this=exp.Is(this=value.copy(), expression=exp.null()))
    if known:
        unknown = exp.and_(unknown, exp.Not(this=exp.In(this=value.copy(), expressions=[literal(v) for v in known])))
    return (
        exp.select(
            exp.alias_(value, "value", quoted=True), exp.alias_(exp.Count(this=exp.Star()), "records", quoted=True)
        )
        .from_(read.known.subquery("known"))
        .where(unknown)
        .group_by(column("value"))
        .order_by(exp.Ordered(this=column("records"), desc=True), column("value"))
    )
