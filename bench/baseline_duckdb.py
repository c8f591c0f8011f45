"""Hand-written DuckDB baseline for the 311 KPI benchmark.

The same five KPIs as ``baseline_polars.py``, written as the SQL a competent analyst would hand to DuckDB:
``read_parquet`` / ``read_csv`` (auto-detection, which parses the timestamps), one aggregate per window date
with ``GROUPING SETS ((month, priority), (month, category))``, unpivoted to the benchmark's long table in the
same statement. DuckDB runs with its defaults (all cores). It is a second, independent engine: a yardstick for
speed and memory and a cross-check of the numbers (``compare.py``).

KPIs (AS_OF = 2026-01-01 00:00:00; a row is in month M of a window when its window date falls in M; months
2024-01 .. 2025-12 only):

- ``sla_compliance`` (window closed_at): closed_at <= due_at / closures.
- ``time_to_close_p90`` (window closed_at): ``quantile_cont`` 0.9 (PERCENTILE.INC) of the hours from opened_at to
  closed_at (microseconds / 3.6e9); numerator and denominator null, ``n`` the number of closures.
- ``first_contact_resolution`` (window opened_at): first_contact_resolved = 'Y' / requests.
- ``reopen_rate`` (window closed_at, only closures with closed_at + 30 days <= AS_OF): reopened_at not null and
  reopened_at <= closed_at + 30 days / eligible closures. A group with closures in the month but none eligible
  is left out, as if the window were the eligible closures only.
- ``digital_channel_adoption`` (window opened_at): channel in Web/App/Email/Chat / requests.

Output: columns kpi, breakdown, month ("YYYY-MM"), group, numerator, denominator (Int64, null for the P90),
value (Float64: numerator / denominator * 100, or the P90 in hours) and n (Int64), sorted by kpi, breakdown,
month, group; only groups with at least one row in the window month.

    python bench/baseline_duckdb.py /tmp/bd/1m/requests.parquet --out /tmp/duckdb.parquet
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb
import polars as pl
from compare import OUTPUT_SCHEMA  # a sibling script: run these from any folder as bench/NAME.py

QUERY = """
WITH requests AS (
    SELECT opened_at, closed_at, due_at, reopened_at, priority, category, channel, first_contact_resolved
    FROM {source}
),
closed AS MATERIALIZED (
    SELECT
        strftime(date_trunc('month', closed_at), '%Y-%m') AS month,
        CASE WHEN grouping(priority) = 0 THEN 'priority' ELSE 'category' END AS breakdown,
        CASE WHEN grouping(priority) = 0 THEN priority ELSE category END AS "group",
        count(*) AS closures,
        count(*) FILTER (WHERE closed_at <= due_at) AS on_time,
        quantile_cont((epoch_us(closed_at) - epoch_us(opened_at)) / 3600000000, 0.9) AS p90_hours,
        count(*) FILTER (WHERE closed_at + INTERVAL 30 DAY <= TIMESTAMP '2026-01-01 00:00:00') AS eligible,
        count(*) FILTER (
            WHERE closed_at + INTERVAL 30 DAY <= TIMESTAMP '2026-01-01 00:00:00'
              AND reopened_at IS NOT NULL AND reopened_at <= closed_at + INTERVAL 30 DAY
        ) AS reopened
    FROM requests
    WHERE closed_at >= TIMESTAMP '2024-01-01' AND closed_at < TIMESTAMP '2026-01-01'
    GROUP BY GROUPING SETS ((date_trunc('month', closed_at), priority), (date_trunc('month', closed_at), category))
),
opened AS MATERIALIZED (
    SELECT
        strftime(date_trunc('month', opened_at), '%Y-%m') AS month,
        CASE WHEN grouping(priority) = 0 THEN 'priority' ELSE 'category' END AS breakdown,
        CASE WHEN grouping(priority) = 0 THEN priority ELSE category END AS "group",
        count(*) AS requests,
        count(*) FILTER (WHERE first_contact_resolved = 'Y') AS resolved,
        count(*) FILTER (WHERE channel IN ('Web', 'App', 'Email', 'Chat')) AS digital
    FROM requests
    WHERE opened_at >= TIMESTAMP '2024-01-01' AND opened_at < TIMESTAMP '2026-01-01'
    GROUP BY GROUPING SETS ((date_trunc('month', opened_at), priority), (date_trunc('month', opened_at), category))
),
long AS (
    SELECT 'sla_compliance' AS kpi, breakdown, month, "group",
           on_time AS numerator, closures AS denominator, on_time::DOUBLE / closures * 100 AS value, closures AS n
    FROM closed
    UNION ALL
    SELECT 'time_to_close_p90', breakdown, month, "group", NULL, NULL, p90_hours, closures
    FROM closed
    UNION ALL
    SELECT 'reopen_rate', breakdown, month, "group", reopened, eligible, reopened::DOUBLE / eligible * 100, eligible
    FROM closed
    WHERE eligible > 0  -- a group with no closure past its follow-up window is left out
    UNION ALL
    SELECT 'first_contact_resolution', breakdown, month, "group",
           resolved, requests, resolved::DOUBLE / requests * 100, requests
    FROM opened
    UNION ALL
    SELECT 'digital_channel_adoption', breakdown, month, "group",
           digital, requests, digital::DOUBLE / requests * 100, requests
    FROM opened
)
SELECT
    kpi, breakdown, month, "group",
    numerator::BIGINT AS numerator, denominator::BIGINT AS denominator, value::DOUBLE AS value, n::BIGINT AS n
FROM long
ORDER BY kpi, breakdown, month, "group"
"""


def source(path: Path) -> str:
    """The table function that reads the export (DuckDB detects the CSV's types, timestamps included)."""
    literal = "'" + str(path).replace("'", "''") + "'"
    if path.suffix == ".parquet":
        return f"read_parquet({literal})"
    if path.suffix == ".csv":
        return f"read_csv({literal})"
    raise ValueError(f"expected a .parquet or .csv file, got {path}")


def run(path: Path, connection: duckdb.DuckDBPyConnection | None = None) -> pl.DataFrame:
    """All five KPIs by month x priority and month x category for the export at ``path``."""
    con = connection if connection is not None else duckdb.connect()
    try:
        result = con.sql(QUERY.format(source=source(Path(path)))).pl()
    finally:
        if connection is None:
            con.close()
    return result.cast(OUTPUT_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="requests.parquet or requests.csv")
    parser.add_argument("--out", type=Path, required=True, help="where to write the result (Parquet)")
    args = parser.parse_args()
    started = time.perf_counter()
    result = run(args.path)
    result.write_parquet(args.out)
    print(f"{result.height:,} rows to {args.out} in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
