"""Typed results of a run: what the engine returns, what reporters render and what JSON serializes.

The JSON shape is versioned by SCHEMA_VERSION: add fields freely, but rename or remove one only with a major bump.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_serializer

# 1.1: status not_comparable; 1.2: partial, on results and comparisons; 1.3: judged_against; 1.4: every document
# starts with a summary, and a result's target has its rule as fields (target_rule) beside the words.
SCHEMA_VERSION = "1.4"


def moment_text(moment: datetime) -> str:
    """A moment as every output prints it: to the minute, with seconds (and microseconds) where it has them, so
    that the moment printed is the moment the formulas saw."""
    if moment.microsecond:
        return f"{moment:%Y-%m-%d %H:%M:%S.%f}"
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment.second else f"{moment:%Y-%m-%d %H:%M}"


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    # A target that compares with another period (a change, a trend) when the data covers one of the two periods
    # only in part: the status_reason says which period, which dataset and what the data covers.
    NOT_COMPARABLE = "not_comparable"
    NO_DATA = "no_data"
    NO_TARGET = "no_target"


# Worst first: what `summary.worst` reports. A row with no data is worse than one not comparable: with --fail-on a
# target without data fails the run, while a row not comparable is not judged at all.
SEVERITY = (Status.FAIL, Status.WARN, Status.NO_DATA, Status.NOT_COMPARABLE, Status.PASS, Status.NO_TARGET)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


_M = TypeVar("_M", bound=BaseModel)
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # per model class (pydantic's model_fields is a descriptor lookup)


def trusted(cls: type[_M], **values: Any) -> _M:
    """A model of values the engine made itself, with every field given: what `model_construct` does, without its
    per-field bookkeeping (a series of 7,800 rows spent 0.5 s of its 0.84 s judging there). Leaving a field out
    falls back to `model_construct`, which fills in the defaults."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(cls.model_fields)
    if len(values) != len(names) or cls.__pydantic_post_init__ or cls.__pydantic_root_model__:
        return cls.model_construct(**values)
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", {name: values[name] for name in names})
    object.__setattr__(model, "__pydantic_fields_set__", set(names))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


class Summary(_Frozen):
    """What a script or a CI job asks of a document first: how many rows have each status, and the worst."""

    results: int = Field(description="The rows counted (results, checks, review items or scorecard rows).")
    counts: dict[str, int] = Field(description="Rows per status; every status is listed, 0 where none.")
    worst: Status | None = Field(
        description="The worst status present: fail, warn, no_data, not_comparable, pass, no_target in that "
        "order; null for a document without rows."
    )
    has_failures: bool = Field(description="Whether any row failed (status fail).")
    missing_data: int = Field(
        0,
        description="Rows with a target and no data (a month missing from an export): compute --fail-on counts "
        "them as failures unless --allow-no-data, so a run can exit 1 with has_failures false.",
    )

    @classmethod
    def of(cls, statuses: Iterable[Status] | Mapping[Status, int], missing_data: int = 0) -> Summary:
        """The summary of the statuses of a document's rows (or of their counts, from a tally made on the way)."""
        counted = dict(statuses) if isinstance(statuses, Mapping) else Counter(statuses)
        counts = {status.value: counted.get(status, 0) for status in Status}
        worst = next((status for status in SEVERITY if counts[status.value]), None)
        return cls(
            results=sum(counts.values()),
            counts=counts,
            worst=worst,
            has_failures=counts["fail"] > 0,
            missing_data=missing_data,
        )


class TargetRule(_Frozen):
    """A target as fields, for a program to read without parsing its words: '>= 90% (warn >= 85%)' is
    {kind: at_least, goal: 90, warn: 85, warn_band: [85, 90], compare_to: value}."""

    kind: Literal["at_least", "above", "at_most", "below", "between", "trend_to_zero"]
    goal: float | None = Field(None, description="The line to meet (at_least, above, at_most, below).")
    bounds: tuple[float, float] | None = Field(None, description="A between target's range, both ends included.")
    warn: float | None = Field(None, description="The warning line, on the losing side of the goal.")
    warn_band: tuple[float, float] | None = Field(
        None,
        description="The values that warn instead of failing, low to high, both ends included: the goal itself "
        "passes for at_least and at_most, and warns for above and below.",
    )
    compare_to: Literal["value", "prior", "year_ago"] = Field(
        description="value: the rule judges the value; prior / year_ago: it judges the percent change against "
        "that period (goal and warn are then in percent, unit %). trend_to_zero compares the value with the prior "
        "period's value itself (unit: the KPI's)."
    )
    unit: str = Field(description="The unit of goal, bounds and warn: the KPI's, or % for a change.")


class PeriodInfo(_Frozen):
    label: str
    start: date = Field(description="First day of the period.")
    end: date = Field(description="Last day of the period (inclusive).")


class Comparison(_Frozen):
    """The KPI's value in another period and the change from it to the reported period."""

    period: PeriodInfo
    value: float | None
    change: float | None = Field(description="value now minus value then, in the KPI's unit")
    change_pct: float | None = Field(description="relative change in percent of the value then")
    partial: list[str] = Field(
        default_factory=list,
        description="Why the data covers this period only in part (it starts inside it, or the period runs past "
        "the as-of moment), in words; empty when it is covered whole or has no value.",
    )


class KpiInput(_Frozen):
    """A KPI that a KPI computed from other KPIs read, with its value for the same period and group."""

    kpi_id: str
    name: str
    unit: str
    decimals: int = 1
    value: float | None


class KpiResult(_Frozen):
    kpi_id: str
    name: str
    domain: str
    unit: str
    period: PeriodInfo
    group: dict[str, str | None] = Field(description="The group's dimension values; {} is the overall row.")
    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    sample_size: int | None = Field(None, description="Records behind the value.")
    target: str | None = Field(None, description="The target that applied to this row, in words.")
    target_rule: TargetRule | None = Field(None, description="The same target as fields.")
    status: Status
    status_reason: str | None = None
    partial: list[str] = Field(
        default_factory=list,
        description="Why the data covers the period only in part (it starts inside it, or the period runs past the "
        "as-of moment), in words; empty when it is covered whole or the row has no value.",
    )
    better: Literal["higher", "lower"] | None = Field(None, description="Which way the value should move.")
    prior: Comparison | None = None
    year_ago: Comparison | None = None
    judged_against: Literal["prior", "year_ago"] | None = Field(
        None,
        description="The comparison the target judged (its change against the prior or the year-ago period); "
        "None for a target on the value itself, or no target.",
    )
    percentile_method: str | None = None
    decimals: int = 1
    excluded: int | None = Field(None, description="Records of the period left out of the value (see the reason).")
    excluded_reason: str | None = None
    covers: PeriodInfo | None = Field(
        None,
        description="The days whose records the value counts, when they are more than the period's: a to-date "
        "window ('fiscal year to date').",
    )
    rank: int | None = Field(
        None, description="For a ranked KPI: the group's place among its breakdown's groups (1 = first)."
    )
    inputs: list[KpiInput] = Field(
        default_factory=list, description="For a KPI computed from other KPIs: their values, in formula order."
    )

    @property
    def missing_data(self) -> bool:
        """A target to meet and no data (a month missing from an export): --fail-on counts it as a failure."""
        return self.status == Status.NO_DATA and self.target is not None

    @property
    def group_label(self) -> str:
        if not self.group:
            return "all"
        return ", ".join(f"{value if value is not None else '(missing)'}" for value in self.group.values())


class CatalogInfo(_Frozen):
    path: str
    sha256: str
    title: str


class DataFileInfo(_Frozen):
    dataset: str
    path: str
    rows: int


class RunHeader(_Frozen):
    """What every result document starts with: a summary of its rows, its shape's version, who made it, when, and
    from which catalog. Each document says which of its rows the summary counts (`_statuses`); the summary is
    derived when the document is written, so it always agrees with the rows."""

    @computed_field(description="Counts by status, the worst status and whether any row failed.")  # type: ignore[prop-decorator]
    @property
    def summary(self) -> Summary:
        return Summary.of(self._statuses(), self._missing_data())

    def _statuses(self) -> Iterable[Status]:
        return ()

    def _missing_data(self) -> int:
        return 0

    @model_serializer(mode="wrap")
    def _summary_first(self, handler: Any):  # a return type would replace the schema of the fields
        data = handler(self)
        return {"summary": data.pop("summary"), **data} if isinstance(data, dict) and "summary" in data else data

    schema_version: str = SCHEMA_VERSION
    tool: str = "civic-kpi"
    tool_version: str = Field(default_factory=lambda: _tool_version())
    generated_at: datetime = Field(default_factory=lambda: datetime.now().astimezone())
    catalog: CatalogInfo


def _tool_version() -> str:
    from civic_kpi import __version__

    return __version__


class ComputeRun(RunHeader):
    """Everything one `compute` produced, with the provenance a published number needs."""

    data_dir: str
    data_files: list[DataFileInfo]
    as_of: datetime | None = Field(description="Newest timestamp in the data (date columns of the datasets).")
    period: PeriodInfo = Field(description="The period asked for; a series covers it period by period.")
    every: str | None = Field(None, description="A series: each result is one month/quarter/year of the period.")
    prior_period: PeriodInfo = Field(description="What the (last) period is compared with.")
    year_ago_period: PeriodInfo
    group_by: list[str] = Field(
        description="Every column of the --by breakdowns asked for (see breakdowns for how they combine); empty: "
        "each KPI's catalog group_by, or overall only when breakdowns is empty too and by=[] was asked."
    )
    breakdowns: list[list[str]] = Field(
        default_factory=list, description="The --by breakdowns asked for, each a list of columns grouped together."
    )
    percentile_definition: str
    results: list[KpiResult]
    notes: list[str] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return self.summary.counts

    def _statuses(self) -> Iterable[Status]:
        return (result.status for result in self.results)

    def _missing_data(self) -> int:
        return sum(result.missing_data for result in self.results)


class ReviewItem(_Frozen):
    group: dict[str, str | None] = Field(description="The review group and its owner, e.g. request_type, agency.")
    owner: str | None
    kpi_id: str
    kpi_name: str
    rule: str = Field(description="The standard that was missed, in words.")
    threshold: float
    value: float
    unit: str
    numerator: float | None = None
    denominator: float | None = None
    sample_size: int | None = None


class ReviewRun(RunHeader):
    month: PeriodInfo
    owner_key: str | None = Field(None, description="The group column naming the owner (agency).")
    review_due: date = Field(description="Reviews are due by this date (Houston 5.2.4: the 15th of the next month).")
    as_of: datetime | None
    groups_checked: int = Field(description="Groups with data for at least one rule in the month.")
    items: list[ReviewItem]
    notes: list[str] = Field(default_factory=list)

    def _statuses(self) -> Iterable[Status]:
        return (Status.FAIL for _ in self.items)  # each item is a standard the group missed


class ScorecardRow(_Frozen):
    kpi_id: str
    measure: str
    domain: str
    unit: str
    decimals: int
    last_year_actual: float | None
    this_year_target: str | None
    this_year_actual: float | None
    status: Status
    status_reason: str | None = Field(None, description="Why the status, e.g. which year the data covers in part.")
    next_year_target: str | None


class ScorecardRun(RunHeader):
    fiscal_year: PeriodInfo
    last_year: PeriodInfo
    next_year: str
    as_of: datetime | None
    complete: bool = Field(description="False while the fiscal year is still running (year to date).")
    rows: list[ScorecardRow]
    notes: list[str] = Field(default_factory=list)

    def _statuses(self) -> Iterable[Status]:
        return (row.status for row in self.rows)


class CheckResult(_Frozen):
    dataset: str
    name: str
    check: str
    status: Status
    metric: float | None
    unit: str = Field(description="records, share, days or problems")
    threshold: str
    message: str
    catalog_line: int | None = None
    examples: list[dict[str, Any]] = Field(default_factory=list, description="A few offending records.")


class CheckRun(RunHeader):
    checked_at: datetime = Field(description="The moment 'future' and 'freshness' compare with (--as-of).")
    results: list[CheckResult]

    def counts(self) -> dict[str, int]:
        counts = {"pass": 0, "warn": 0, "fail": 0}
        for result in self.results:
            counts[result.status.value] = counts.get(result.status.value, 0) + 1
        return counts

    def _statuses(self) -> Iterable[Status]:
        return (result.status for result in self.results)


class KpiEntry(_Frozen):
    """One line of `civic-kpi list`: what a KPI is, where it reads from and what it aims at."""

    id: str
    name: str
    domain: str
    unit: str
    dataset: str | None
    from_kpis: list[str] = Field(description="The KPIs it is computed from, when it has no dataset.")
    group_by: list[str | list[str]]
    target: str | None = Field(description="The target in words, with the groups that have their own.")
    reference: str | None


class KpiList(_Frozen):
    """The catalog's KPIs (`civic-kpi list`), in catalog order."""

    catalog: CatalogInfo
    kpis: list[KpiEntry]


class ColumnProfile(_Frozen):
    name: str
    kpi_name: str
    type: str
    format: str | None = None
    null_share: float
    distinct: int
    minimum: str | None = None
    maximum: str | None = None
    examples: list[str]


class PresetMatch(_Frozen):
    """A bundled preset whose columns a profiled file has."""

    name: str
    matched: int = Field(description="How many of the columns the preset reads the file has.")
    columns: int = Field(description="How many columns the preset reads.")


class FileProfile(_Frozen):
    """An export profiled by `civic-kpi inspect`, with the catalog entry that would read it."""

    path: str
    format: str
    encoding: str | None
    delimiter: str | None
    rows: int
    columns: list[ColumnProfile]
    presets: list[str] = Field(description="The presets the file fits, best first (details in preset_matches).")
    snippet: str
    json_path: str | None = Field(None, description="The key of a JSON object the records were read from.")
    preset_matches: list[PresetMatch] = Field(default_factory=list)


class ExplainColumn(_Frozen):
    """A column a KPI reads, as resolved: the export column behind it and how its text is parsed, or how it is
    derived (a row formula, an SLA deadline)."""

    name: str
    role: Literal["read", "derived", "deadline"]
    source: str | None = Field(None, description="The export column(s) read, after preset mapping.")
    type: str | None = None
    formats: list[str] = Field(default_factory=list)
    timezone: str | None = None
    scheduled: bool = False
    definition: str | None = Field(None, description="A derived column's formula, or a deadline's rule.")


class ExplainStep(_Frozen):
    """One step from the records read to the number: how many records are left after it."""

    step: str
    records: int
    note: str | None = None


class OrderStatistics(_Frozen):
    """How a percentile was read off its sample: between which two sorted values it interpolated."""

    definition: str
    n: int
    percentile: float | None = Field(None, description="p / 100, as the formula asks (0.9 for P90).")
    rank: float | None = Field(None, description="1-based position (n - 1) * p + 1 of the value in the sorted sample.")
    lower_rank: int | None = None
    lower_value: float | None = None
    upper_rank: int | None = None
    upper_value: float | None = None
    value: float | None = None


class GroupTarget(_Frozen):
    """A group's value, and the target it was judged against, with why that target."""

    group: dict[str, str | None]
    value: float | None
    sample_size: int | None
    target: str | None
    reason: str
    status: Status


class Explanation(RunHeader):
    """How one KPI's number for one period and group was made (`civic-kpi explain`)."""

    kpi_id: str
    name: str
    domain: str
    unit: str
    description: str | None = None
    reference: str | None = None
    formulas: dict[str, str] = Field(description="Each formula as written (numerator, denominator or value; where).")
    dataset: str | None = None
    computed_from: list[str] = Field(default_factory=list, description="For a KPI of KPIs: the KPIs it reads.")
    files: list[DataFileInfo] = Field(default_factory=list)
    columns: list[ExplainColumn] = Field(default_factory=list)
    as_of: datetime | None = Field(description="The moment every formula saw.")
    as_of_source: str = Field(description="given (--as-of), data (the newest record) or period (no data).")
    period: PeriodInfo
    window: str = Field(description="Which records the period holds, in words, with its dates.")
    group: dict[str, str | None] = Field(default_factory=dict)
    steps: list[ExplainStep] = Field(default_factory=list)
    result: KpiResult | None = Field(None, description="The row compute reports for this period and group.")
    target_reason: str | None = None
    order_statistics: list[OrderStatistics] = Field(default_factory=list)
    groups: list[GroupTarget] = Field(default_factory=list, description="With --by: every group and its target.")
    engine: str = Field("polars", description="The engine that computed the result: polars, duckdb or postgres.")
    query_plan: str | None = Field(
        None, description="The KPI's aggregation: the optimized Polars plan, or the SQL a SQL engine ran."
    )
    notes: list[str] = Field(default_factory=list)

    def _statuses(self) -> Iterable[Status]:
        # The row explained (overall, or the group asked for) and, with --by, every group, as compute counts them.
        return [*([self.result.status] if self.result else []), *(group.status for group in self.groups)]


@dataclass(frozen=True)
class RecordRows:
    """The records behind a number (`civic-kpi rows`): a lazy frame, written by a reporter in one pass."""

    kpi_id: str
    period: PeriodInfo
    group: dict[str, str | None]
    part: str
    frame: Any = field(repr=False)  # a polars LazyFrame; results do not import Polars
    # Collects `frame`, or a lazy frame built on it, turning a value that does not parse into a message naming its
    # file, row and column (as compute does) rather than a Polars error.
    collect: Any = field(repr=False, default=None)
    as_of: datetime | None = None


class KpiCard(_Frozen):
    """What the dashboard shows about a KPI beside its numbers: its definition as the catalog writes it and the
    lines its charts draw. Read from the catalog by the session, so that the HTML reporter needs no catalog."""

    id: str
    name: str
    domain: str
    unit: str
    decimals: int = 1
    description: str | None = None
    reference: str | None = Field(None, description="The source document's formula, as written there.")
    formulas: dict[str, str] = Field(default_factory=dict, description="numerator, denominator or value; where.")
    target: str | None = Field(None, description="The target in words, with the groups that have their own.")
    target_text: str | None = Field(None, description="The target as the source document words it.")
    goal: float | None = Field(None, description="The line the value is judged against, when it is one number.")
    warn: float | None = Field(None, description="The warning line, when the goal has one.")
    band: tuple[float, float] | None = Field(None, description="A `between` target's range on the value's axis.")
    group_goals: dict[str, float | None] = Field(
        default_factory=dict, description="Each group's own goal line (by group label), for the drill-down."
    )
    group_by: list[list[str]] = Field(default_factory=list, description="The catalog's breakdowns of the KPI.")


class DashboardRun(_Frozen):
    """Everything `civic-kpi report` draws: the monthly (or --every) series behind the trend charts, the cards'
    period as a run (the series' last period, or a run of its own for a period that is not a month), and each KPI's
    card, in catalog order."""

    run: ComputeRun
    trend: ComputeRun
    cards: list[KpiCard]
    review: ReviewRun | None = Field(None, description="The month's performance review, where the catalog has one.")
    scorecard: ScorecardRun | None = Field(
        None, description="The fiscal-year scorecard, where a KPI's target names fiscal years (target.by_period)."
    )


DOCUMENTS: dict[str, Any] = {  # each command's JSON document (`-f json`), by command
    "compute": ComputeRun,
    "check": CheckRun,
    "review": ReviewRun,
    "scorecard": ScorecardRun,
    "explain": Explanation,
    "inspect": FileProfile,
    "list": list[KpiEntry],  # `list -f json` is the KPIs' array
}


def document_schema(command: str) -> dict[str, Any]:
    """The JSON Schema of a command's JSON output, as it is written (`civic-kpi schema compute`)."""
    from pydantic import TypeAdapter

    schema = TypeAdapter(DOCUMENTS[command]).json_schema(mode="serialization")
    if "summary" in schema.get("properties", {}):  # written first, so listed first
        properties = schema["properties"]
        schema["properties"] = {"summary": properties.pop("summary"), **properties}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"civic-kpi {command} --format json (schema_version {SCHEMA_VERSION})"
    return schema
