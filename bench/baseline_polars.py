"""Hand-written Polars baseline for the 311 KPI benchmark.

The query a competent analyst would write by hand, without civic-kpi, to get the five 311 KPIs of the benchmark
per calendar month (2024-01 .. 2025-12), broken down by priority and by category: a lazy scan, month keys,
one ``group_by`` per window date and breakdown, and ``pl.collect_all(..., engine="streaming")``. It is the
yardstick civic-kpi's speed and memory are measured against, and (with ``baseline_duckdb.py``) a second
opinion on its numbers, so it is meant to be idiomatic and reasonably efficient: neither artificially slow
nor heroically tuned.

KPIs (AS_OF = 2026-01-01 00:00:00; a row is in month M of a window when its window date falls in M):

- ``sla_compliance`` (window closed_at): closed_at <= due_at / closures.
- ``time_to_close_p90`` (window closed_at): 90th percentile (linear interpolation, PERCENTILE.INC) of the hours
  from opened_at to closed_at; numerator and denominator null, ``n`` the number of closures.
- ``first_contact_resolution`` (window opened_at): first_contact_resolved == "Y" / requests.
- ``reopen_rate`` (window closed_at, only closures with closed_at + 30 days <= AS_OF): reopened_at not null and
  reopened_at <= closed_at + 30 days / eligible closures. A group with closures in the month but none eligible
  (all still inside their follow-up window) is left out, as if the window were the eligible closures only.
- ``digital_channel_adoption`` (window opened_at): channel in Web/App/Email/Chat / requests.

Output: one long table, columns kpi, breakdown ("priority" or "category"), month ("YYYY-MM"), group, numerator,
denominator (Int64, null for the P90), value (Float64: numerator / denominator * 100, or the P90 in hours) and n
(Int64), sorted by kpi, breakdown, month, group; only groups with at least one row in the window month.

    python bench/baseline_polars.py /tmp/bd/1m/requests.parquet --out /tmp/polars.parquet
    python bench/baseline_polars.py /tmp/bd/1m/requests.csv --out /tmp/polars.parquet --csv-dates strptime
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path
from typing import Literal

import polars as pl
from compare import OUTPUT_SCHEMA  # a sibling script: run these from any folder as bench/NAME.py

AS_OF = datetime(2026, 1, 1)
FIRST_MONTH = datetime(2024, 1, 1)  # months 2024-01 .. 2025-12: [FIRST_MONTH, END)
END = datetime(2026, 1, 1)
FOLLOW_UP = pl.duration(days=30)
DIGITAL = ["Web", "App", "Email", "Chat"]
TIMESTAMPS = ["opened_at", "closed_at", "due_at", "reopened_at"]
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
BREAKDOWNS = ["priority", "category"]
COLUMNS = [*TIMESTAMPS, "priority", "category", "channel", "first_contact_resolved"]
US_PER_HOUR = 3_600_000_000

CsvDates = Literal["naive", "strptime"]


def scan(path: Path, csv_dates: CsvDates = "naive") -> pl.LazyFrame:
    """The export as a lazy frame with the columns the KPIs need, timestamps as naive Datetime("us")."""
    if path.suffix == ".parquet":
        return pl.scan_parquet(path).select(COLUMNS)
    if path.suffix == ".csv":
        if csv_dates == "naive":  # Polars parses the timestamps itself, told only their type
            return pl.scan_csv(path, schema_overrides=dict.fromkeys(TIMESTAMPS, pl.Datetime("us"))).select(COLUMNS)
        if csv_dates == "strptime":  # read as text, parse with the export's explicit format
            return (
                pl.scan_csv(path, schema_overrides=dict.fromkeys(TIMESTAMPS, pl.String))
                .select(COLUMNS)
                .with_columns(pl.col(TIMESTAMPS).str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT))
            )
        raise ValueError(f"--csv-dates must be naive or strptime, not {csv_dates!r}")
    raise ValueError(f"expected a .parquet or .csv file, got {path}")


def in_months(column: str) -> pl.Expr:
    """The window date falls in 2024-01 .. 2025-12 (null dates fall in no month)."""
    return pl.col(column).is_between(pl.lit(FIRST_MONTH), pl.lit(END), closed="left")


def closed_window(requests: pl.LazyFrame, by: str) -> pl.LazyFrame:
    """Per closure month and group: SLA compliance, time-to-close P90 and reopen counts."""
    eligible = pl.col("closed_at") + FOLLOW_UP <= pl.lit(AS_OF)
    reopened = pl.col("reopened_at").is_not_null() & (pl.col("reopened_at") <= pl.col("closed_at") + FOLLOW_UP)
    hours = (pl.col("closed_at") - pl.col("opened_at")).dt.total_microseconds() / US_PER_HOUR
    return (
        requests.filter(in_months("closed_at"))
        .group_by(pl.col("closed_at").dt.truncate("1mo").alias("month"), pl.col(by).alias("group"))
        .agg(
            closures=pl.len(),
            on_time=(pl.col("closed_at") <= pl.col("due_at")).sum(),
            p90_hours=hours.quantile(0.9, interpolation="linear"),
            eligible=eligible.sum(),
            reopened=(eligible & reopened).sum(),
        )
    )


def opened_window(requests: pl.LazyFrame, by: str) -> pl.LazyFrame:
    """Per month opened and group: first-contact resolutions and digital-channel requests."""
    return (
        requests.filter(in_months("opened_at"))
        .group_by(pl.col("opened_at").dt.truncate("1mo").alias("month"), pl.col(by).alias("group"))
        .agg(
            requests=pl.len(),
            resolved=(pl.col("first_contact_resolved") == "Y").sum(),
            digital=pl.col("channel").is_in(DIGITAL).sum(),
        )
    )


def ratio(frame: pl.DataFrame, kpi: str, numerator: str, denominator: str) -> pl.DataFrame:
    return frame.filter(pl.col(denominator) > 0).select(
        pl.lit(kpi).alias("kpi"),
        "month",
        "group",
        pl.col(numerator).alias("numerator"),
        pl.col(denominator).alias("denominator"),
        (pl.col(numerator) / pl.col(denominator) * 100).alias("value"),
        pl.col(denominator).alias("n"),
    )


def long_table(closed: pl.DataFrame, opened: pl.DataFrame, breakdown: str) -> pl.DataFrame:
    """The aggregates of one breakdown as rows of the output table."""
    closed, opened = (frame.with_columns(pl.col("month").dt.strftime("%Y-%m")) for frame in (closed, opened))
    p90 = closed.select(
        pl.lit("time_to_close_p90").alias("kpi"),
        "month",
        "group",
        pl.lit(None, pl.Int64).alias("numerator"),
        pl.lit(None, pl.Int64).alias("denominator"),
        pl.col("p90_hours").alias("value"),
        pl.col("closures").alias("n"),
    )
    parts = [
        ratio(closed, "sla_compliance", "on_time", "closures"),
        p90,
        ratio(opened, "first_contact_resolution", "resolved", "requests"),
        ratio(closed, "reopen_rate", "reopened", "eligible"),  # groups with no eligible closure are left out
        ratio(opened, "digital_channel_adoption", "digital", "requests"),
    ]
    return pl.concat(parts, how="vertical_relaxed").select(
        "kpi", pl.lit(breakdown).alias("breakdown"), *list(OUTPUT_SCHEMA)[2:]
    )


def run(path: Path, csv_dates: CsvDates = "naive") -> pl.DataFrame:
    """All five KPIs by month x priority and month x category for the export at ``path``."""
    requests = scan(Path(path), csv_dates)
    queries = [query(requests, by) for by in BREAKDOWNS for query in (closed_window, opened_window)]
    frames = pl.collect_all(queries, engine="streaming")
    tables = [long_table(frames[2 * i], frames[2 * i + 1], by) for i, by in enumerate(BREAKDOWNS)]
    return pl.concat(tables).cast(OUTPUT_SCHEMA).sort("kpi", "breakdown", "month", "group")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="requests.parquet or requests.csv")
    parser.add_argument("--out", type=Path, required=True, help="where to write the result (Parquet)")
    parser.add_argument("--csv-dates", choices=["naive", "strptime"], default="naive")
    args = parser.parse_args()
    started = time.perf_counter()
    result = run(args.path, args.csv_dates)
    result.write_parquet(args.out)
    print(f"{result.height:,} rows to {args.out} in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
