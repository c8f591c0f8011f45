"""JSON and CSV: one record per KPI x period x group, for cron jobs, dashboards and open-data portals."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from typing import Any, TextIO

from civic_kpi.results import ComputeRun, KpiResult, Status, Summary

CSV_COLUMNS = [
    "kpi_id", "name", "domain", "unit", "period", "period_start", "period_end", "group",
    "value", "numerator", "denominator", "sample_size", "target", "status", "status_reason",
    "prior_period", "prior_value", "change_vs_prior", "change_pct_vs_prior",
    "year_ago_period", "year_ago_value", "change_vs_year_ago", "change_pct_vs_year_ago",
    "percentile_method", "schema_version", "rank", "inputs", "partial", "prior_partial", "year_ago_partial",
    "judged_against", "target_kind", "target_goal", "target_low", "target_high", "target_warn", "target_compare_to",
]  # fmt: skip

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def to_json(run: ComputeRun) -> str:
    return run.model_dump_json(indent=2) + "\n"


def safe_cell(cell: Any) -> Any:
    """A CSV cell a spreadsheet will show as text, never run as a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START):
        return "'" + cell
    return cell


def flat_record(run: ComputeRun, result: KpiResult) -> dict[str, Any]:
    prior, year = result.prior, result.year_ago
    return {
        "kpi_id": result.kpi_id,
        "name": result.name,
        "domain": result.domain,
        "unit": result.unit,
        "period": result.period.label,
        "period_start": result.period.start.isoformat(),
        "period_end": result.period.end.isoformat(),
        "group": "; ".join(f"{k}={'' if v is None else v}" for k, v in result.group.items()),
        "value": result.value,
        "numerator": result.numerator,
        "denominator": result.denominator,
        "sample_size": result.sample_size,
        "target": result.target,
        "status": result.status.value,
        "status_reason": result.status_reason,
        "prior_period": prior.period.label if prior else None,
        "prior_value": prior.value if prior else None,
        "change_vs_prior": prior.change if prior else None,
        "change_pct_vs_prior": prior.change_pct if prior else None,
        "year_ago_period": year.period.label if year else None,
        "year_ago_value": year.value if year else None,
        "change_vs_year_ago": year.change if year else None,
        "change_pct_vs_year_ago": year.change_pct if year else None,
        "rank": result.rank,
        "inputs": "; ".join(f"{read.kpi_id}={'' if read.value is None else read.value}" for read in result.inputs),
        "percentile_method": result.percentile_method,
        "schema_version": run.schema_version,
        "partial": "; ".join(result.partial),
        "prior_partial": "; ".join(prior.partial) if prior else None,
        "year_ago_partial": "; ".join(year.partial) if year else None,
        "judged_against": result.judged_against,
        **_rule_cells(result),
    }


def _rule_cells(result: KpiResult) -> dict[str, Any]:
    rule = result.target_rule
    if rule is None:
        return dict.fromkeys(("target_kind", "target_goal", "target_low", "target_high", "target_warn"), None) | {
            "target_compare_to": None
        }
    low, high = rule.bounds or (None, None)
    return {
        "target_kind": rule.kind,
        "target_goal": rule.goal,
        "target_low": low,
        "target_high": high,
        "target_warn": rule.warn,
        "target_compare_to": rule.compare_to,
    }


def to_csv(run: ComputeRun) -> str:
    buffer = io.StringIO()
    write_csv(run, run.results, buffer)
    return buffer.getvalue()


def write_csv(run: ComputeRun, results: Iterable[KpiResult], handle: TextIO) -> None:
    """The CSV of `run` with `results` as its rows, written row by row (`results` may be made as it is read)."""
    writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for result in results:
        record = flat_record(run, result)
        writer.writerow({key: safe_cell(value) for key, value in record.items()})


def write_json(run: ComputeRun, results: Iterable[KpiResult], handle: TextIO) -> None:
    """The JSON of `run` with `results` as its rows, written row by row: the same text `to_json` gives for the
    run holding those rows, without holding them all. (`run.results` is left out.)

    The document starts with the summary of rows not yet made, so the rows go to a spool file first (in memory
    up to 8 MB, then on disk) while they are counted, and follow the summary from there."""
    statuses: Counter[Status] = Counter()
    missing = 0
    with tempfile.SpooledTemporaryFile(max_size=8 << 20, mode="w+", encoding="utf-8") as rows:
        first = True
        for result in results:
            # Each row as pydantic writes a nested model at this depth: its own indented JSON, shifted four spaces.
            text = result.model_dump_json(indent=2).replace("\n", "\n    ")
            rows.write(("\n    " if first else ",\n    ") + text)
            statuses[result.status] += 1
            missing += result.missing_data
            first = False
        summary = Summary.of(statuses, missing).model_dump_json(indent=2).replace("\n", "\n  ")
        head = run.model_copy(update={"results": []}).model_dump_json(indent=2)
        head, tail = head.split('\n  "results": []', 1)
        _, rest = head.split('\n  "schema_version"', 1)  # the empty run's own summary makes way for the rows'
        handle.write('{\n  "summary": ' + summary + ',\n  "schema_version"' + rest + '\n  "results": [')
        rows.seek(0)
        shutil.copyfileobj(rows, handle)
    handle.write(("]" if first else "\n  ]") + tail + "\n")
