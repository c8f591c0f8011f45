"""What a breakdown costs against its number of groups: `compute --by KEY` where KEY has 1k, 10k, 100k, ...
distinct values, on one generated export of a million records (a month and its prior; three KPIs: a ratio, a P90
and a count), written to a CSV or JSON file, each a fresh process (wall time, CPU time and peak RSS from
os.wait4). It also times the refusal of a breakdown over the default limit (10,000 groups): the cost of the
check itself. Ratios, not absolute times, are what to compare across machines.

    python bench/groups.py                           # 1k, 10k, 100k groups; CSV and JSON files
    python bench/groups.py --groups 1000,100000,1000000 --formats csv

The export is written under a temporary folder (never in the repository) and removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

ROWS = 1_000_000
CATALOG = """\
version: 1
title: breakdown size benchmark
data_dir: data
datasets:
  requests:
    path: requests.csv
    date_column: opened_at
    columns:
      opened_at: {type: datetime, format: "%Y-%m-%d %H:%M:%S"}
      closed_at: {type: datetime, format: "%Y-%m-%d %H:%M:%S"}
KEYS
kpis:
  - {id: closed_in_2_days, name: Closed in 2 days, domain: d, unit: percent, dataset: requests,
     numerator: "count(hours_between(opened_at, closed_at) <= 48)", denominator: count(), target: {at_least: 50}}
  - {id: p90, name: Time to close P90, domain: d, unit: hours, dataset: requests,
     value: "percentile(hours_between(opened_at, closed_at), 90)"}
  - {id: volume, name: Volume, domain: d, unit: count, dataset: requests, value: count()}
"""


def generate(folder: Path, groups: list[int]) -> Path:
    """A million requests over September and October 2025, with one key column per group count (k1000, ...)."""
    rng = np.random.default_rng(12)
    minutes = rng.integers(0, 61 * 24 * 60, ROWS)
    opened = pl.Series((np.sort(minutes) * 60_000_000).astype("int64")).cast(pl.Duration("us")) + datetime(2025, 9, 1)
    closed = opened + pl.Series((rng.exponential(48, ROWS) * 3_600e6).astype("int64")).cast(pl.Duration("us"))
    frame = pl.DataFrame({"opened_at": opened, "closed_at": closed})
    # Every key value appears at least once (a permutation first), so the distinct count is exactly `n`.
    keys = {f"k{n}": np.concatenate([rng.permutation(n), rng.integers(0, n, ROWS - n)]) for n in groups}
    frame = frame.with_columns(
        pl.col("opened_at").dt.strftime("%Y-%m-%d %H:%M:%S"),
        pl.col("closed_at").dt.strftime("%Y-%m-%d %H:%M:%S"),
        *(pl.Series(name, values) for name, values in keys.items()),
    )
    (folder / "data").mkdir(parents=True, exist_ok=True)
    frame.write_csv(folder / "data" / "requests.csv")
    catalog = folder / "catalog.yaml"
    columns = "\n".join(f"      k{n}: {{type: string}}" for n in groups)
    catalog.write_text(CATALOG.replace("KEYS", columns))
    return catalog


def measure(command: list[str], expect: int = 0) -> tuple[float, float, float]:
    """One fresh process: wall seconds, CPU seconds and peak RSS in MB."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != expect:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"exit {os.waitstatus_to_exitcode(status)}: {' '.join(command)}\n{error}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", default="1000,10000,100000", help="distinct values of the breakdown column")
    parser.add_argument("--formats", default="csv,json")
    args = parser.parse_args()
    groups = [int(n) for n in args.groups.split(",")]
    script = Path(sys.executable).parent / "civic-kpi"
    civic = [str(script)] if script.exists() else [sys.executable, "-m", "civic_kpi.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        catalog = generate(folder, groups)
        base = [*civic, "compute", "-q", "-c", str(catalog), "--period", "2025-10"]
        print(f"{ROWS:,} records, 3 KPIs; compute --by KEY -f FORMAT -o FILE, one fresh process each")
        print("| groups | format | wall s | CPU s | peak RSS MB | CPU s per 1k groups |")
        print("|--:|---|--:|--:|--:|--:|")
        for n in groups:
            for fmt in args.formats.split(","):
                out = folder / f"out.{fmt}"
                wall, cpu, rss = measure([*base, "--by", f"k{n}", "-f", fmt, "-o", str(out), "--max-groups", str(n)])
                print(f"| {n:,} | {fmt} | {wall:.1f} | {cpu:.1f} | {rss:,.0f} | {cpu / n * 1000:.2f} |", flush=True)
        over = max(groups)
        if over > 10_000:
            wall, cpu, rss = measure([*base, "--by", f"k{over}"], expect=2)
            print(f"refused ({over:,} groups, over the default 10,000): {wall:.1f} s, {cpu:.1f} s CPU, {rss:,.0f} MB")
        wall, cpu, rss = measure([*base, "--kpi", "volume", "-f", "csv", "-o", str(folder / "o.csv")])
        print(f"no breakdown, for scale: {wall:.1f} s wall, {cpu:.1f} s CPU, {rss:,.0f} MB")


if __name__ == "__main__":
    main()
