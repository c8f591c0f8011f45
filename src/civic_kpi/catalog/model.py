"""Pydantic models of `kpi_definitions.yaml`: the one source of truth for the catalog's shape and JSON Schema.

Only shape and local consistency live here. Checks that need the whole catalog (a KPI naming a dataset, a
formula naming a column) live in `catalog.checks`, so that every problem can be reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import PurePath
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from civic_kpi.check_kinds import kind_named, kind_names

ColumnType = Literal["string", "integer", "float", "boolean", "date", "datetime"]
FileFormat = Literal["csv", "parquet", "json"]
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"

Identifier = Annotated[str, Field(pattern=IDENTIFIER)]


def is_zoned_format(fmt: str) -> bool:
    """Whether a strftime format reads an offset or zone name."""
    return any(code in fmt for code in ("%z", "%Z", "%#z", "%:z"))


def known_zone(value: str | None) -> str | None:
    if value is not None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'; use an IANA name such as America/Chicago") from None
    return value


class StrictModel(BaseModel):
    # Unknown keys are almost always typos ("taget:"); reject them instead of silently ignoring them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(StrictModel):
    """How one column of an export maps onto the name the KPIs use, and how its text is parsed."""

    source: str | None = Field(
        None, description="Column name in the file as exported (default: the same as the KPI-side name)."
    )
    time_source: str | None = Field(
        None,
        description="A second column holding the time of day, for exports that split date and time "
        "(Kansas City's CREATION DATE + CREATION TIME); `format` reads the date, `time_format` the time.",
    )
    type: ColumnType = Field("string", description="Type to parse the column as.")
    format: str | list[str] | None = Field(
        None,
        description="strftime-style format for date/datetime columns, e.g. '%m/%d/%Y %I:%M:%S %p'; a list is "
        "tried in order (for exports whose format changed). Giving it is stricter and faster than guessing.",
    )
    time_format: str | None = Field(None, description="Format of the time_source column, e.g. '%I:%M %p'.")
    timezone: str | None = Field(
        None,
        description="The zone this column's values are in when they carry no offset, if not the catalog's "
        "(Legistar's *UTC fields are UTC without a Z).",
    )
    true_values: list[str] = Field(
        default_factory=lambda: ["Y", "Yes", "YES", "y", "yes", "true", "True", "TRUE", "1"],
        description="For boolean columns: the texts that mean true. Anything else non-empty is false.",
    )
    scheduled: bool = Field(
        False,
        description="For date and datetime columns: the value is planned ahead (a due date, a meeting's start) and "
        "may lie after the as-of moment. Other date columns record events: a value after the as-of moment had not "
        "happened yet then, and is read as missing.",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_plain_name(cls, data: object) -> object:
        # `closed_at: "Closed Date"` is shorthand for `closed_at: {source: "Closed Date"}`.
        return {"source": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _format_only_for_dates(self) -> ColumnSpec:
        if self.format is not None and self.type not in ("date", "datetime"):
            raise ValueError(f"'format' applies to date and datetime columns, not to type '{self.type}'")
        if self.time_source is not None and self.type != "datetime":
            raise ValueError("'time_source' applies to datetime columns")
        if self.time_format is not None and self.time_source is None:
            raise ValueError("'time_format' goes with 'time_source'")
        if self.timezone is not None and self.type != "datetime":
            raise ValueError("'timezone' applies to datetime columns")
        if self.scheduled and self.type not in ("date", "datetime"):
            raise ValueError("'scheduled' applies to date and datetime columns")
        return self

    @property
    def formats(self) -> list[str]:
        if self.format is None:
            return []
        return [self.format] if isinstance(self.format, str) else list(self.format)

    @property
    def zoned(self) -> bool:
        """Whether the values carry their own offset (%z / %Z in the format)."""
        return any(is_zoned_format(f) for f in self.formats)

    @field_validator("timezone")
    @classmethod
    def _column_zone(cls, value: str | None) -> str | None:
        return known_zone(value)


class Deadline(StrictModel):
    """A column derived from an SLA policy: the start plus the policy's days for the record's key."""

    policy: Identifier = Field(description="Name of an entry under sla_policies.")
    start: Identifier = Field(description="The column the clock starts from, e.g. created_at.")
    key: Identifier | None = Field(
        None,
        description="The column matched against the policy table's key, e.g. request_type; none when one rule "
        "applies to every record (the policy table has one row, e.g. federal FOIA's 20 business days).",
    )


class HolidaySource(StrictModel):
    """Public holidays from the maintained `holidays` package."""

    country: str = Field(description="ISO country code, e.g. US.")
    subdivision: str | None = Field(None, description="State or province code, e.g. TX.")
    categories: list[str] | None = Field(None, description="Holiday categories of the package (default: public).")


class Calendar(StrictModel):
    """Which days are business days: weekdays minus public holidays minus the city's own closures."""

    holidays: HolidaySource | None = None
    closures: list[date] = Field(default_factory=list, description="The city's own closure dates (YYYY-MM-DD).")
    weekend: list[Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]] = Field(
        default_factory=lambda: ["Sat", "Sun"], description="Days that are never business days."
    )


class SlaPolicy(StrictModel):
    """An SLA table: per key (request type), the number of days allowed, calendar or business (Houston 5.1)."""

    path: str | None = Field(None, description="CSV or Parquet table, relative to the data directory.")
    rows: list[dict[str, str | int | float | None]] | None = Field(
        None, description="The table written inline instead of a file: [{request_type: Pothole, sla_days: 5, ...}]."
    )
    key: str = Field(description="Column of the table holding the key (request type).")
    days: str = Field(description="Column with the number of days allowed.")
    day_type: str | None = Field(
        None, description="Column saying 'calendar' or 'business' per row (default: every SLA in calendar days)."
    )
    explanation: str | None = Field(
        None, description="Column explaining SLAs over 30 calendar days (Houston 5.1.4); validate warns when empty."
    )
    calendar: Identifier | None = Field(None, description="The calendar business days come from.")

    @model_validator(mode="after")
    def _file_or_rows(self) -> SlaPolicy:
        if (self.path is None) == (self.rows is None):
            raise ValueError("an SLA policy needs either 'path' (a table file) or 'rows' (the table inline)")
        return self


if TYPE_CHECKING:
    CheckKind = str
else:
    # Whatever kinds civic_kpi.check_kinds holds: the JSON Schema's enum and the message for a typo list them.
    CheckKind = Literal[kind_names()]


class Check(StrictModel):
    """A data-quality check of a dataset with pass / warn / fail thresholds (soda-style).

    The metric is a count of offending records (a share for `missing` and, with `share: true`, for the others),
    days for `freshness`, records for `row_count`. Over `warn` it warns, over `fail` it fails; with neither,
    any offending record fails. `row_count` uses min / max (fail) and warn_min / warn_max.
    """

    check: CheckKind
    name: str | None = Field(None, description="What to call it in reports (default: derived from the check).")
    column: Identifier | None = None
    columns: list[Identifier] = Field(default_factory=list, description="Key columns, for duplicates.")
    first: Identifier | None = Field(None, description="For order: the timestamp that must come first (created).")
    then: Identifier | None = Field(None, description="For order: the one that must not be earlier (closed).")
    values: list[str | int | float] | None = Field(None, description="For allowed_values: the allowed values.")
    ref: Identifier | None = Field(None, description="For allowed_values: a reference table of allowed values.")
    where: str | None = Field(None, description="Only check records where this row formula holds.")
    share: bool = Field(False, description="Measure a share of the records instead of a count.")
    warn: float | None = None
    fail: float | None = None
    min: int | None = None
    max: int | None = None
    warn_min: int | None = None
    warn_max: int | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Check:
        problem = kind_named(self.check).problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def label(self) -> str:
        return kind_named(self.check).label(self)


class ValueFlag(StrictModel):
    """A yes/no column read from a column's codes with both sides listed (which channels are digital and which are
    not), so that a code on neither list is reported instead of silently counted as 'no'."""

    column: Identifier = Field(description="The column whose values are listed (a column of the dataset).")
    true_for: list[str] = Field(min_length=1, description="The values for which the flag is true.")
    false_for: list[str] = Field(
        default_factory=list,
        description="The values known to make it false. A value on neither list is false too, and is reported in "
        "a note (compute) and by validate.",
    )
    ignore_case: bool = Field(False, description="Compare upper-cased values (the lists are upper-cased too).")
    source: str | None = Field(None, description="Where the lists come from: the data dictionary's name or URL.")

    @model_validator(mode="after")
    def _disjoint(self) -> ValueFlag:
        both = sorted(set(self.known(self.true_for)) & set(self.known(self.false_for)))
        if both:
            raise ValueError(f"{', '.join(repr(v) for v in both)} cannot be both in true_for and in false_for")
        return self

    def known(self, values: list[str]) -> list[str]:
        return [v.upper() for v in values] if self.ignore_case else list(values)

    @property
    def formula(self) -> str:
        """The row formula the flag is computed with (a derived column)."""
        subject = f"upper({self.column})" if self.ignore_case else self.column
        return f"{subject} in [{', '.join(repr(v) for v in self.known(self.true_for))}]"


# An environment variable's name; a dataset's `source` names the variable that holds its connection, never the
# connection itself (no password in YAML).
ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"
TABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$"


class TableSource(StrictModel):
    """A dataset that is a database table, view or query instead of files."""

    engine: Literal["postgres"] = Field(description="The database: postgres (PostgreSQL 14 or newer).")
    table: str | None = Field(
        None,
        description="The table or view, e.g. public.service_requests (schema.table, or table in the search path).",
    )
    query: str | None = Field(
        None,
        description="Instead of a table, one SELECT whose rows are the records (a join, the rows of one agency), "
        "run read-only: e.g. SELECT r.*, d.name AS department FROM requests r JOIN departments d USING (dept_id).",
    )
    connection: str = Field(
        "CIVIC_KPI_POSTGRES",
        description="The environment variable holding the connection string (postgresql://user@host/db); the "
        "password comes from PGPASSWORD or ~/.pgpass, never from the catalog.",
    )

    @field_validator("table")
    @classmethod
    def _plain_table_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(TABLE_NAME, value):
            raise ValueError("a table is named as schema.table (letters, digits, _ and $), e.g. public.requests")
        return value

    @field_validator("query")
    @classmethod
    def _one_select(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # The query is read as a subquery, where a closing semicolon would be a syntax error.
        text = re.sub(r"[\s;]+$", "", value.strip())
        if not text:
            raise ValueError("the query is empty: write the SELECT whose rows are the records")
        return text

    @model_validator(mode="after")
    def _table_or_query(self) -> TableSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("name a table (table: public.requests) or write a query (query: SELECT ...), not both")
        return self

    @property
    def label(self) -> str:
        """How messages and the run document name it: postgres:public.requests, or postgres:query."""
        return f"{self.engine}:{self.table or 'query'}"

    @field_validator("connection")
    @classmethod
    def _a_variable_not_a_secret(cls, value: str) -> str:
        # The value is not repeated in the message: it may be a connection string with a password in it.
        if not re.fullmatch(ENV_NAME, value):
            raise ValueError(
                "connection names the environment variable that holds the connection string (e.g. "
                "CIVIC_KPI_POSTGRES), not the connection itself: a catalog is shared, and a password in it with it"
            )
        return value


class Dataset(StrictModel):
    """A table of records: one export file, a glob of monthly files with the same layout, or a database table."""

    # Columns (and derived columns or flags) the catalog dropped with `NAME: null`, e.g. a preset's column the
    # export lacks: a formula naming one is told it was dropped rather than that it is unknown.
    _dropped: frozenset[str] = PrivateAttr(default_factory=frozenset)

    description: str | None = None
    preset: str | None = Field(
        None, description="A ready-made mapping of a published layout (see `civic-kpi presets`); fields set here win."
    )
    path: str | None = Field(
        None, description="File or glob (e.g. '311/requests_*.csv'), relative to the data directory."
    )
    source: TableSource | None = Field(
        None,
        description="A database table or query instead of files (source: {engine: postgres, table: "
        "public.requests}): read once per run, then mapped and parsed by the same columns, presets and rules as a "
        "file.",
    )
    json_path: str | None = Field(
        None, description="For JSON files whose records sit under a key, e.g. 'dataset' in a DCAT-US data.json."
    )
    format: FileFormat | None = Field(None, description="csv, parquet or json; default: from the file extension.")
    delimiter: str | None = Field(
        None,
        min_length=1,
        max_length=1,
        description="CSV field separator (default: found from the header line among , ; | and tab).",
    )
    encoding: Literal["auto", "utf-8", "windows-1252", "latin-1"] = Field(
        "auto",
        description="Text encoding of CSV files. auto: UTF-8 (with or without BOM; a few bytes that are not UTF-8 "
        "read as U+FFFD, with a note), UTF-16 by its byte-order mark, else the legacy encoding charset-normalizer "
        "finds (Windows-1252 where that reads the file as well).",
    )
    date_column: Identifier = Field(
        description="The column that places a record in a period, unless a KPI's window says otherwise."
    )
    covers_from: date | None = Field(
        None,
        description="The first day the export covers, where its first record may come later (a meetings export "
        "from 2024-07-01 whose first meeting was on 07-09). Default: the day of the first record. A period that "
        "starts before it is covered only in part, and a comparison with it is not comparable.",
    )
    as_of_column: Identifier | None = Field(
        None,
        description="The column whose newest value tells how fresh the export is (default: date_column). "
        "Use it where date_column holds future dates, such as scheduled meetings.",
    )
    columns: dict[Identifier, ColumnSpec] = Field(
        description="KPI-side name -> export column. A plain string is the export column's name, read as text; "
        "null drops a preset's column (and the preset's derived columns and flags computed from it)."
    )
    derived: dict[Identifier, str] = Field(
        default_factory=dict,
        description="Columns computed per record with a row formula, e.g. {is_digital: \"channel in ['Web', 'App']\"}.",
    )
    flags: dict[Identifier, ValueFlag] = Field(
        default_factory=dict,
        description="Yes/no columns read from a column's codes, both sides listed: {is_digital: {column: channel, "
        "true_for: [Web, App], false_for: [Phone]}}. Formulas use them like derived columns; a value on neither "
        "list is counted as false and reported.",
    )
    checks: list[Check] = Field(default_factory=list, description="Data-quality checks (civic-kpi check).")
    deadlines: dict[Identifier, Deadline] = Field(
        default_factory=dict,
        description="Derived deadline columns, e.g. {sla_due_at: {policy: sla_311, start: created_at, "
        "key: request_type}}; formulas use them like columns.",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _drop_nulls_and_add_flags(cls, data: object, handler: Callable[[object], Dataset]) -> Dataset:
        # `NAME: null` under columns, derived or flags drops the entry (a preset's, usually); a flag becomes the
        # derived column it computes, so that every reader of `derived` (engine, rules, explain) sees it.
        dropped: set[str] = set()
        if isinstance(data, dict):
            data = dict(data)
            for key in ("columns", "derived", "flags"):
                entries = data.get(key)
                if isinstance(entries, dict):
                    dropped |= {name for name, value in entries.items() if value is None}
                    data[key] = {name: value for name, value in entries.items() if value is not None}
        dataset = handler(data)
        if dataset.flags:
            # (a derived entry that is the flag's own formula is the flag, made when this dataset was first read)
            clash = sorted(
                name
                for name, flag in dataset.flags.items()
                if name in dataset.columns or dataset.derived.get(name, flag.formula) != flag.formula
            )
            if clash:
                raise ValueError(f"flag '{clash[0]}' has the name of a column or derived column; pick another name")
            unknown = sorted(f.column for f in dataset.flags.values() if f.column not in dataset.columns)
            if unknown:
                raise ValueError(
                    f"a flag lists the values of '{unknown[0]}', which is not one of this dataset's columns"
                )
            derived = {**dataset.derived, **{name: flag.formula for name, flag in dataset.flags.items()}}
            object.__setattr__(dataset, "derived", derived)  # frozen: set once, while the model is being made
        dataset._dropped = frozenset(dropped - set(dataset.columns) - set(dataset.derived))
        return dataset

    @property
    def dropped(self) -> frozenset[str]:
        """The names the catalog dropped with `NAME: null` (columns, derived columns, flags)."""
        return self._dropped

    def source_name(self, name: str) -> str:
        return self.columns[name].source or name

    def source_names(self, name: str) -> list[str]:
        """Every export column a KPI-side column reads (two when date and time are split)."""
        spec = self.columns[name]
        return [spec.source or name, *([spec.time_source] if spec.time_source else [])]

    @property
    def file_format(self) -> FileFormat:
        if self.format:
            return self.format
        if self.source is not None:
            return "parquet"  # a table is read into a Parquet snapshot of its typed values (data/tables.py)
        suffixes = PurePath(self.path or "").suffixes
        for suffix in reversed(suffixes):
            if suffix.lower() in (".csv", ".tsv", ".txt"):
                return "csv"
            if suffix.lower() in (".parquet", ".pq"):
                return "parquet"
            if suffix.lower() in (".json", ".ndjson", ".jsonl"):
                return "json"
        return "csv"

    @model_validator(mode="after")
    def _files_or_table(self) -> Dataset:
        if (self.path is None) == (self.source is None):
            raise ValueError("give the dataset either a path (files) or a source (a database table), not both")
        if self.source is not None and (self.format or self.json_path or self.delimiter):
            raise ValueError("format, json_path and delimiter describe files; a table's source has none")
        return self

    @model_validator(mode="after")
    def _date_column_is_declared(self) -> Dataset:
        for role in ("date_column", "as_of_column"):
            name = getattr(self, role)
            if name is None:
                continue
            if name not in self.columns:
                raise ValueError(f"{role} '{name}' is not one of this dataset's columns")
            if self.columns[name].type not in ("date", "datetime"):
                raise ValueError(f"{role} '{name}' must have type date or datetime, not '{self.columns[name].type}'")
        return self

    @model_validator(mode="after")
    def _deadlines_use_columns(self) -> Dataset:
        for name in self.derived:
            if name in self.columns or name in self.deadlines:
                raise ValueError(f"derived column '{name}' has the name of a column or deadline; pick another name")
        for name, deadline in self.deadlines.items():
            if name in self.columns:
                raise ValueError(f"deadline '{name}' has the name of a column; pick another name")
            for role in ("start", "key"):
                column = getattr(deadline, role)
                if column is not None and column not in self.columns:
                    raise ValueError(f"deadline '{name}': {role} '{column}' is not one of this dataset's columns")
            if self.columns[deadline.start].type not in ("date", "datetime"):
                raise ValueError(f"deadline '{name}': start '{deadline.start}' must have type date or datetime")
        return self

    @property
    def date_only_columns(self) -> frozenset[str]:
        """Columns, deadlines and derived columns holding dates without a time: differences between them are whole
        days, and a timestamp compared with one is compared by its calendar day."""
        return frozenset(name for name, kind in self.column_kinds.items() if kind == "date")

    @property
    def column_kinds(self) -> dict[str, str]:
        """The type of every name a formula over the dataset may use: a column's declared type, a deadline's start's,
        and a derived column's where its formula says (lower(...) is text, date(...) a date); else left out."""
        from civic_kpi.formula import FormulaError, kind_of, parse_formula

        kinds: dict[str, str] = {name: spec.type for name, spec in self.columns.items()}
        kinds |= {name: kinds[d.start] for name, d in self.deadlines.items() if d.start in kinds}
        for name, text in self.derived.items():
            try:
                kind = kind_of(parse_formula(text, row=True).tree, kinds, {})
            except FormulaError:
                continue  # reported by the catalog's checks
            if kind is not None:
                kinds[name] = kind
        return kinds

    @property
    def event_columns(self) -> frozenset[str]:
        """Date and datetime columns that record when something happened (not scheduled ahead)."""
        return frozenset(
            name for name, spec in self.columns.items() if spec.type in ("date", "datetime") and not spec.scheduled
        )

    @property
    def freshness_column(self) -> str:
        return self.as_of_column or self.date_column


class ReferenceTable(StrictModel):
    """A small lookup table; in formulas `ref.NAME` is the list of values in its `key` column."""

    path: str = Field(description="CSV or Parquet file, relative to the data directory.")
    key: str = Field(description="The column whose values `ref.NAME` stands for.")
    description: str | None = None


Number = float | int


class Target(StrictModel):
    """When a value passes, warns or fails.

    Exactly one rule: at_least / above (higher is better), at_most / below (lower is better), between, or
    trend_to_zero. `warn` draws the warning line on the losing side of the goal: with `at_least: 80, warn: 70`,
    80 and up pass, 70 up to 80 warn, under 70 fail. With `compare_to: prior` or `year_ago` the rule is applied to
    the percent change against that period instead of to the value itself.
    """

    at_least: Number | None = None
    above: Number | None = None
    at_most: Number | None = None
    below: Number | None = None
    between: tuple[Number, Number] | None = None
    trend_to_zero: bool = Field(
        False, description="Pass at zero or when lower than the prior period; warn when unchanged; else fail."
    )
    warn: Number | None = Field(None, description="The warning line; between it and the goal is a warning.")
    compare_to: Literal["value", "prior", "year_ago"] = Field(
        "value",
        description="'value' judges the value itself; 'prior' / 'year_ago' judge its percent change against the "
        "prior period or the same period a year earlier.",
    )
    text: str | None = Field(None, description="The target as the source document words it, for display.")
    by_group: dict[Identifier, dict[str, Target]] = Field(
        default_factory=dict,
        description="Targets that differ per group, e.g. {priority: {Critical: {at_least: 95}}}.",
    )
    by_period: dict[str, Target] = Field(
        default_factory=dict,
        description="Targets for particular periods, by label: {FY2027: {at_least: 92}} (a scorecard's "
        "this-year and next-year targets).",
    )

    @field_validator("by_group", mode="before")
    @classmethod
    def _group_values_as_text(cls, value: object) -> object:
        # YAML reads `1:` or `true:` as a number or a boolean; group values are compared as text.
        if isinstance(value, dict):
            return {
                dim: {str(k): v for k, v in groups.items()} if isinstance(groups, dict) else groups
                for dim, groups in value.items()
            }
        return value

    @model_validator(mode="after")
    def _one_rule(self) -> Target:
        for groups in self.by_group.values():
            for group, override in groups.items():
                if override.by_group or override.by_period:
                    raise ValueError(f"the target for group '{group}' cannot have its own by_group or by_period")
        for label, override in self.by_period.items():
            if override.by_period:
                raise ValueError(f"the target for period '{label}' cannot have its own by_period")
        rules = [
            name for name in ("at_least", "above", "at_most", "below", "between") if getattr(self, name) is not None
        ] + (["trend_to_zero"] if self.trend_to_zero else [])
        if len(rules) != 1:
            raise ValueError(
                "a target needs exactly one of at_least, above, at_most, below, between, trend_to_zero "
                f"(got {', '.join(rules) or 'none'})"
            )
        if self.warn is not None:
            goal = self.goal
            if self.higher_is_better and goal is not None and self.warn >= goal:
                raise ValueError(f"warn ({self.warn}) must be below the goal ({goal}) when higher is better")
            if self.lower_is_better and goal is not None and self.warn <= goal:
                raise ValueError(f"warn ({self.warn}) must be above the goal ({goal}) when lower is better")
            if self.between is not None or self.trend_to_zero:
                raise ValueError("warn applies to at_least, above, at_most and below targets")
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError("between needs [low, high] with low <= high")
        if self.trend_to_zero and self.compare_to != "value":
            raise ValueError("trend_to_zero already compares with the prior period; drop compare_to")
        return self

    @property
    def goal(self) -> float | None:
        for name in ("at_least", "above", "at_most", "below"):
            value = getattr(self, name)
            if value is not None:
                return float(value)
        return None

    @property
    def higher_is_better(self) -> bool:
        return self.at_least is not None or self.above is not None

    @property
    def lower_is_better(self) -> bool:
        return self.at_most is not None or self.below is not None or self.trend_to_zero


class Window(StrictModel):
    """Which records a period holds."""

    date: Identifier | None = Field(
        None, description="Records whose value in this column falls in the period (default: the dataset's)."
    )
    snapshot: bool = Field(
        False,
        description="Count the records as they stood at the end of the period (`as_of` in formulas), "
        "instead of those dated within it: backlogs, open items.",
    )

    follow_up_days: int | None = Field(
        None,
        ge=1,
        description="Only count records whose follow-up window (this many days after the window date) has fully "
        "elapsed by the data's as-of time, e.g. 30 for 'reopened within 30 days of closure'.",
    )
    to_date: Literal["quarter", "year", "fiscal_year"] | None = Field(
        None,
        description="Count the records from the start of the quarter, year or fiscal year the period ends in, up "
        "to the period's end: 'fiscal year to date' for a survey fielded once a quarter.",
    )

    @model_validator(mode="after")
    def _not_both(self) -> Window:
        if self.snapshot and self.date:
            raise ValueError("a snapshot window is not filtered by a date column; give either snapshot or date")
        if self.snapshot and self.follow_up_days:
            raise ValueError("follow_up_days applies to records dated in the period, not to a snapshot")
        if self.snapshot and self.to_date:
            raise ValueError("to_date applies to records dated in the period, not to a snapshot")
        return self

    @property
    def is_default(self) -> bool:
        return self == Window()


class KPI(StrictModel):
    """One indicator: a formula over one dataset's records (or over other KPIs), its window, grouping and target.

    A KPI without a dataset is computed from other KPIs of the same period and group: its formula names them as
    kpi.ID (`kpi.contact_center_cost / kpi.calls_handled`).
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Stable identifier (lowercase, digits, _).")
    name: str
    domain: str = Field(description="The section it belongs to, e.g. '311 Customer Service'.")
    description: str | None = None
    reference: str | None = Field(None, description="The source document's formula, as written there.")
    unit: str = Field(
        description="'percent', 'hours', 'days', 'count', or free text shown after the value (e.g. 'per 1k residents')."
    )
    dataset: Identifier | None = Field(
        None,
        description="The dataset its formula aggregates. Leave it out for a KPI computed from other KPIs' values "
        "(kpi.ID in the formula), of the same period and group.",
    )
    value: str | None = Field(None, description="Formula for a single aggregate: percentile(...), count(...).")
    numerator: str | None = Field(None, description="Formula of the ratio's numerator (an aggregate).")
    denominator: str | None = Field(None, description="Formula of the ratio's denominator (an aggregate).")
    scale: float | None = Field(None, description="Multiplier of numerator/denominator; default 100 for percent.")
    where: str | None = Field(
        None,
        description="Only the records where this row formula holds feed the KPI: every aggregate, and the groups "
        "it reports (e.g. category == 'Communication').",
    )
    window: Window = Field(default_factory=Window)
    group_by: list[Identifier | list[Identifier]] = Field(
        default_factory=list,
        description="Default breakdown: a list of columns is one breakdown by all of them together "
        "([priority, category]); a list of lists is several breakdowns ([[priority], [category]]).",
    )
    target: Target | None = None
    decimals: int = Field(1, ge=0, le=6, description="Decimals shown in tables (JSON keeps full precision).")
    rank: Literal["highest_first", "lowest_first"] | None = Field(
        None,
        description="Rank the groups of each breakdown by value in every period (1 = highest with highest_first; "
        "ties share a rank, as a spreadsheet's RANK does), and list them in rank order.",
    )

    @model_validator(mode="after")
    def _value_or_ratio(self) -> KPI:
        ratio = self.numerator is not None or self.denominator is not None
        if ratio and self.value is not None:
            raise ValueError("give either 'value', or 'numerator' and 'denominator', not both")
        if ratio and (self.numerator is None or self.denominator is None):
            raise ValueError("a ratio needs both 'numerator' and 'denominator'")
        if not ratio and self.value is None:
            raise ValueError("a KPI needs a formula: 'value', or 'numerator' and 'denominator'")
        if self.scale is not None and not ratio:
            raise ValueError("'scale' applies to numerator/denominator KPIs")
        if self.dataset is None and self.where is not None:
            raise ValueError("'where' filters a dataset's records; a KPI without a dataset has none (its inputs can)")
        if self.dataset is None and not self.window.is_default:
            raise ValueError("a KPI without a dataset takes the windows of the KPIs it is computed from; drop 'window'")
        return self

    @field_validator("group_by")
    @classmethod
    def _not_mixed(cls, value: list[str | list[str]]) -> list[str | list[str]]:
        if any(isinstance(item, str) for item in value) and any(isinstance(item, list) for item in value):
            raise ValueError(
                "group_by mixes columns and lists: write [priority, channel] for one breakdown by both, "
                "or [[priority], [channel]] for two breakdowns"
            )
        return value

    @property
    def is_ratio(self) -> bool:
        return self.numerator is not None

    @property
    def from_kpis(self) -> bool:
        """Computed from other KPIs' values rather than from a dataset's records."""
        return self.dataset is None

    @property
    def breakdowns(self) -> list[tuple[str, ...]]:
        """The group_by as breakdowns, each a tuple of columns; [] when the KPI is only reported overall."""
        return as_breakdowns(self.group_by)

    @property
    def effective_scale(self) -> float:
        if self.scale is not None:
            return self.scale
        return 100.0 if self.unit == "percent" else 1.0

    @property
    def formulas(self) -> dict[str, str]:
        fields = {"value": self.value, "numerator": self.numerator, "denominator": self.denominator}
        return {name: text for name, text in fields.items() if text is not None}


def as_breakdowns(group_by: list[str | list[str]] | list[str] | list[list[str]] | None) -> list[tuple[str, ...]]:
    """A list of columns is one breakdown by all of them; a list of lists is one breakdown per inner list."""
    if not group_by:
        return []
    if all(isinstance(item, str) for item in group_by):
        return [tuple(item for item in group_by if isinstance(item, str))]
    return list(dict.fromkeys(tuple(item) for item in group_by if item and not isinstance(item, str)))


class ReviewRule(StrictModel):
    """One performance standard of the monthly review: a KPI and the value under which a group needs review."""

    kpi: str = Field(description="A KPI id of the catalog.")
    below: float = Field(description="Groups whose value is under this need a review.")
    label: str | None = Field(None, description="The standard in words, e.g. 'on-time performance under 90%'.")


class PerformanceReview(StrictModel):
    """Houston 311 policy 5.2: which groups (request types) fell short of a standard in a month, and who owns them."""

    by: list[Identifier] = Field(min_length=1, description="One review row per value of these columns.")
    owner: Identifier | None = Field(None, description="The column naming who must do the review (agency).")
    due_day: int = Field(15, ge=1, le=28, description="Reviews are due on this day of the following month.")
    rules: list[ReviewRule] = Field(min_length=1)


class Catalog(StrictModel):
    """The whole of kpi_definitions.yaml."""

    version: Literal[1] = Field(1, description="Version of the catalog format.")
    title: str = "KPI catalog"
    timezone: str | None = Field(
        None,
        description="IANA time zone of the city, e.g. America/Chicago. Timestamps with an offset are converted to "
        "it; timestamps without one are taken to be in it. Default: UTC for offsets, local values as they are.",
    )
    fiscal_year_start_month: int = Field(
        1, ge=1, le=12, description="First month of the fiscal year (7 = July; Kansas City's is 5, May)."
    )
    data_dir: str = Field(".", description="Where dataset paths start, relative to this file; --data-dir overrides.")
    parameters: dict[Identifier, Number | str | list[Number | str]] = Field(
        default_factory=dict,
        description="Named constants for formulas, e.g. population; `params.NAME`. A list works after `in`.",
    )
    calendars: dict[Identifier, Calendar] = Field(default_factory=dict)
    sla_policies: dict[Identifier, SlaPolicy] = Field(default_factory=dict)
    reference_tables: dict[Identifier, ReferenceTable] = Field(default_factory=dict)
    datasets: dict[Identifier, Dataset]
    kpis: list[KPI] = Field(min_length=1)
    performance_review: PerformanceReview | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return known_zone(value)

    @model_validator(mode="after")
    def _zone_for_zoned_columns(self) -> Catalog:
        # Columns that know their zone become the catalog's local time; without one, a publisher's local time
        # and UTC values would be compared as if they were the same clock.
        if self.timezone is None:
            for name, dataset in self.datasets.items():
                for column, spec in dataset.columns.items():
                    if spec.timezone or spec.zoned:
                        raise ValueError(
                            f"datasets.{name}.columns.{column} says which time zone its values are in, so the catalog "
                            "needs its own `timezone:` (the city's, e.g. America/New_York) to convert them to"
                        )
        return self

    @property
    def domains(self) -> list[str]:
        return list(dict.fromkeys(k.domain for k in self.kpis))


def json_schema_text() -> str:
    """The JSON Schema as written to kpi_definitions.schema.json (by `civic-kpi schema` and `civic-kpi init`)."""
    import json

    return json.dumps(json_schema(), indent=2) + "\n"


def json_schema() -> dict:
    """The catalog's JSON Schema, for editors (yaml-language-server) and `civic-kpi schema`."""
    schema = Catalog.model_json_schema()
    # The model accepts a bare column name as shorthand for {source: NAME}; tell editors so.
    properties = schema["$defs"]["Dataset"]["properties"]
    patterns = properties["columns"]["patternProperties"]
    for pattern, spec in patterns.items():
        patterns[pattern] = {"anyOf": [{"type": "string"}, spec]}
    # `NAME: null` drops a preset's column, derived column or flag.
    for key in ("columns", "derived", "flags"):
        patterns = properties[key]["patternProperties"]
        for pattern, spec in patterns.items():
            patterns[pattern] = {"anyOf": [*spec.get("anyOf", [spec]), {"type": "null"}]}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "civic-kpi catalog (kpi_definitions.yaml)"
    return schema
