"""rows: the records behind one KPI's number, as a file a supervisor can act on.

The parts of a ratio: `numerator` (counted in it), `denominator`, `rest` (in the denominator, not the numerator:
the requests that missed their SLA), `excluded` (in the period but left out, with the reason), `all` (every record
of the period, with the flags). A KPI with one value has `sample` (the records behind the value), `excluded` and
`all`. Each record keeps every column its dataset declares, the deadlines and derived columns the KPI uses, the
value it fed (hours to close, ...) and the file it came from.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.engine.judge import period_info
from civic_kpi.engine.polars_executor import collect
from civic_kpi.engine.records import (
    EXCLUDED,
    IN_DENOMINATOR,
    IN_NUMERATOR,
    IN_PERIOD,
    IN_SAMPLE,
    IN_WHERE,
    MEASURE,
    SOURCE_FILE,
    adds_records,
    kpi_records,
)
from civic_kpi.errors import Problem, UsageError
from civic_kpi.results import RecordRows
from civic_kpi.time.moment import Moment
from civic_kpi.time.periods import Period

if TYPE_CHECKING:
    import polars as pl

Part = Literal["numerator", "denominator", "rest", "sample", "excluded", "all"]
PARTS: tuple[Part, ...] = ("numerator", "denominator", "rest", "sample", "excluded", "all")
_RATIO_PARTS = ("numerator", "denominator", "rest", "excluded", "all")
_VALUE_PARTS = ("sample", "excluded", "all")


def rows(
    catalog: LoadedCatalog | str | Path,
    kpi_id: str,
    *,
    period: Period | str | None = None,
    group: dict[str, str | None] | None = None,
    part: Part = "all",
    data_dir: str | Path | None = None,
    as_of: Moment | datetime | str | None = None,
) -> RecordRows:
    """The records of one part of a KPI for one period (default: the latest complete month) and group."""
    import polars as pl

    loaded = catalog if isinstance(catalog, LoadedCatalog) else load_catalog(catalog)
    if part not in PARTS:
        raise UsageError(Problem(f"unknown part '{part}'", hint=f"use one of: {', '.join(PARTS)}"))
    records = kpi_records(loaded, kpi_id, period=period, group=group, data_dir=data_dir, as_of=as_of, every_column=True)
    kpi = records.kpi
    allowed = _RATIO_PARTS if kpi.is_ratio else _VALUE_PARTS
    if kpi.is_ratio and part == "sample":
        part = "denominator"  # a ratio's sample is its denominator's records, as compute reports it
    elif not kpi.is_ratio and part == "numerator":
        part = "sample"  # a single value's records are its sample
    if part not in allowed:
        raise UsageError(
            Problem(
                f"it is one value, {kpi.value}, not a ratio, so it has no {part}",
                kpi=kpi_id,
                hint=f"ask for one of: {', '.join(allowed)}",
            )
        )
    formulas = records.plan.request.formulas[kpi.id]
    needs = {"numerator": ["numerator"], "denominator": ["denominator"], "rest": ["numerator", "denominator"]}
    for field in needs.get(part, []) if kpi.is_ratio else []:
        only = ("count",) if part == "rest" else ("count", "sum")
        if not adds_records(formulas[field], only):
            what = "counts of records" if part == "rest" else "records counted or summed"
            raise UsageError(
                Problem(
                    f"the {field} of KPI '{kpi_id}' is {formulas[field].text}, not {what}, so --part {part} "
                    "has no records of its own",
                    hint="ask for --part all: every record of the period, with the flags of each",
                )
            )
    chosen = {
        "numerator": pl.col(IN_NUMERATOR) if kpi.is_ratio else None,
        "denominator": pl.col(IN_DENOMINATOR) if kpi.is_ratio else None,
        "rest": pl.col(IN_DENOMINATOR) & ~pl.col(IN_NUMERATOR) if kpi.is_ratio else None,
        "sample": None if kpi.is_ratio else pl.col(IN_SAMPLE),
        "excluded": pl.col(EXCLUDED).is_not_null(),
        "all": pl.col(IN_PERIOD),
    }[part]
    assert chosen is not None
    dataset = records.dataset.dataset
    columns = [c for c in dataset.columns if c in records.dataset.columns]
    columns += sorted(records.dataset.deadlines) + sorted(records.dataset.derived)
    flags = [IN_PERIOD, *([IN_WHERE] if kpi.where else [])]
    flags += [IN_NUMERATOR, IN_DENOMINATOR] if kpi.is_ratio else [IN_SAMPLE]
    flags += [EXCLUDED, *([MEASURE] if records.measure else []), SOURCE_FILE]
    frame = records.frame.filter(chosen).select(*columns, *flags)
    executor, timezone = records.executor, records.plan.request.catalog.timezone

    def collect_rows(lazy: pl.LazyFrame | None = None) -> pl.DataFrame:
        found = lazy if lazy is not None else frame
        return collect({"rows": found}, list(executor.scans.values()), timezone)["rows"]

    return RecordRows(
        kpi_id=kpi.id,
        period=period_info(records.period),
        group=records.group,
        part=part,
        frame=frame,
        collect=collect_rows,
        as_of=None if records.plan.moment.source == "period" else records.plan.moment.at,
    )
