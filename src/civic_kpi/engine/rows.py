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
from typing import Literal

from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.engine.judge import period_info
from civic_kpi.engine.records import (
    EXCLUDED,
    IN_DENOMINATOR,
    IN_NUMERATOR,
    IN_PERIOD,
    IN_SAMPLE,
    IN_WHERE,
    MEASURE,
    SOURCE_FILE,
    kpi_records,
)
from civic_kpi.errors import Problem, UsageError
from civic_kpi.results import RecordRows
from civic_kpi.time.moment import Moment
from civic_kpi.time.periods import Period

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
    measure = records.plan.request.formulas[kpi.id][records.measure].text if records.measure else None
    described = "; ".join(
        [
            f"{IN_PERIOD}: in the window of {records.period.label}"
            + (" (a snapshot: existing by then)" if kpi.window.snapshot else ""),
            *([f"{MEASURE}: the value fed to {measure}"] if measure else []),
            f"as of {records.plan.moment}",
        ]
    )
    return RecordRows(
        kpi_id=kpi.id,
        period=period_info(records.period),
        group=records.group,
        part=part,
        frame=frame,
        described=described,
    )
