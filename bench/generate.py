"""Generate a realistic 311 export of any size for the benchmark (deterministic, seeded; never committed).

One row per service request, two years of requests (2024-01-01 to 2025-12-31), exported at 2026-01-01 00:00:
- about 60 request categories with a skewed (Zipf-like) share, each with its agency, usual priority,
  SLA in hours and typical time to close;
- priorities Critical/High/Medium/Low, channels Phone/Web/App/Email/Chat/Walk-in/Social (digital share
  rising over the two years), more requests on weekdays and in daytime;
- about 8% still open at export time (no closed date), a reopened date on about 4% of closures,
  a first-contact-resolution flag ("Y"/"N").

Rows are generated in chunks of a million, each from its own seeded generator, so any size streams to disk
in bounded memory and the same size always gives the same bytes.

    python bench/generate.py --rows 10_000_000 --out bench/data/10m --formats parquet,csv
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

SEED = 311
CHUNK = 1_000_000
START = datetime(2024, 1, 1)
AS_OF = datetime(2026, 1, 1)  # the export's moment: every timestamp is before it
DAYS = 731
PRIORITIES = ["Critical", "High", "Medium", "Low"]
DIGITAL = ["Web", "App", "Email", "Chat"]
AGENCIES = [
    "Public Works", "Sanitation", "Transportation", "Parks & Recreation", "Water Utility", "Police Non-Emergency",
    "Code Enforcement", "Animal Services", "Public Health", "Housing", "Forestry", "Street Lighting",
]  # fmt: skip
TIMESTAMP = "%Y-%m-%d %H:%M:%S"


def categories() -> pl.DataFrame:
    """The request categories with their fixed traits (drawn once from the seed)."""
    rng = np.random.default_rng(SEED)
    n = 60
    names = [f"{AGENCIES[i % len(AGENCIES)].split()[0]} Request {i + 1:02d}" for i in range(n)]
    weight = 1.0 / np.arange(1, n + 1) ** 0.9  # a few categories hold most requests, as in every city
    return pl.DataFrame(
        {
            "category": names,
            "agency": [AGENCIES[i % len(AGENCIES)] for i in range(n)],
            "weight": weight / weight.sum(),
            "usual_priority": rng.integers(0, 4, n),
            "sla_hours": rng.choice([24, 48, 72, 120, 168, 240, 336, 720], n),
            "median_hours": rng.uniform(4, 200, n),
        }
    )


def chunk_frame(index: int, rows: int, first_id: int, cats: pl.DataFrame) -> pl.DataFrame:
    rng = np.random.default_rng([SEED, index])
    cat = rng.choice(len(cats), rows, p=cats["weight"].to_numpy())
    # Day of the two years, weekdays busier; second of the day, daytime busier.
    days = np.arange(DAYS)
    weekday = (days + START.weekday()) % 7
    day_weight = np.where(weekday < 5, 1.0, 0.55) * (1 + 0.15 * np.sin(days / 365 * 2 * np.pi))
    day = rng.choice(DAYS, rows, p=day_weight / day_weight.sum())
    hour_weight = np.array([1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 10, 9, 9, 9, 8, 8, 7, 6, 5, 4, 3, 2, 1], float)
    hour = rng.choice(24, rows, p=hour_weight / hour_weight.sum())
    second = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, rows)
    order = np.argsort(second, kind="stable")  # an export sorted by creation time within each chunk
    cat, second, day = cat[order], second[order], day[order]

    usual = cats["usual_priority"].to_numpy()[cat]
    priority = np.where(rng.random(rows) < 0.7, usual, rng.integers(0, 4, rows))
    factor = np.array([0.25, 0.6, 1.0, 1.6])[priority]
    sla_hours = cats["sla_hours"].to_numpy()[cat] * np.array([0.25, 0.5, 1.0, 1.5])[priority]
    close_hours = np.exp(np.log(cats["median_hours"].to_numpy()[cat] * factor) + rng.normal(0, 1.0, rows))
    close_seconds = np.maximum(60, np.round(close_hours * 3_600)).astype(np.int64)
    digital_share = 0.55 + 0.2 * day / DAYS
    digital = rng.random(rows) < digital_share
    other = np.array(["Phone", "Walk-in", "Social"])[rng.choice(3, rows, p=[0.85, 0.1, 0.05])]
    channel = np.where(digital, np.array(DIGITAL)[rng.choice(4, rows, p=[0.45, 0.35, 0.15, 0.05])], other)
    fcr = rng.random(rows) < np.where(digital, 0.68, 0.78)
    never_closed = rng.random(rows) < 0.075
    reopen_seconds = np.round(rng.exponential(12 * 86_400, rows)).astype(np.int64) + 60
    reopened = rng.random(rows) < 0.045

    start = pl.lit(START)
    frame = pl.DataFrame(
        {
            "request_id": np.arange(first_id, first_id + rows, dtype=np.int64),
            "open_s": second.astype(np.int64),
            "close_s": close_seconds,
            "due_s": np.round(sla_hours * 3_600).astype(np.int64),
            "reopen_s": reopen_seconds,
            "never_closed": never_closed,
            "reopened": reopened,
            "category": cats["category"].to_numpy()[cat],
            "agency": cats["agency"].to_numpy()[cat],
            "priority": np.array(PRIORITIES)[priority],
            "channel": channel,
            "first_contact_resolved": np.where(fcr, "Y", "N"),
        }
    )
    opened = start + pl.duration(seconds=pl.col("open_s"))
    closed = opened + pl.duration(seconds=pl.col("close_s"))
    open_now = pl.col("never_closed") | (closed >= pl.lit(AS_OF))
    reopened_at = closed + pl.duration(seconds=pl.col("reopen_s"))
    return frame.select(
        "request_id",
        opened.alias("opened_at"),
        pl.when(~open_now).then(closed).alias("closed_at"),
        (opened + pl.duration(seconds=pl.col("due_s"))).alias("due_at"),
        pl.when(~open_now & pl.col("reopened") & (reopened_at < pl.lit(AS_OF))).then(reopened_at).alias("reopened_at"),
        pl.when(open_now).then(pl.lit("Open")).otherwise(pl.lit("Closed")).alias("status"),
        "category",
        "agency",
        "priority",
        "channel",
        "first_contact_resolved",
    ).with_columns(pl.col(c).dt.cast_time_unit("us") for c in ("opened_at", "closed_at", "due_at", "reopened_at"))


def generate(rows: int, out: Path, formats: list[str]) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    cats = categories()
    paths = {fmt: out / f"requests.{fmt}" for fmt in formats}
    parquet = None
    csv = None
    try:
        for index, first in enumerate(range(0, rows, CHUNK)):
            frame = chunk_frame(index, min(CHUNK, rows - first), first + 1, cats)
            if "parquet" in paths:
                table = frame.to_arrow()
                if parquet is None:
                    parquet = pq.ParquetWriter(paths["parquet"], table.schema, compression="zstd")
                parquet.write_table(table, row_group_size=CHUNK)
            if "csv" in paths:
                if csv is None:
                    csv = paths["csv"].open("wb")
                frame.write_csv(csv, include_header=index == 0, datetime_format=TIMESTAMP)
    finally:
        if parquet is not None:
            parquet.close()
        if csv is not None:
            csv.close()
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--formats", default="parquet,csv")
    args = parser.parse_args()
    started = time.perf_counter()
    paths = generate(args.rows, args.out, args.formats.split(","))
    for path in paths.values():
        print(f"{path}  {path.stat().st_size / 1e6:,.0f} MB")
    print(f"{args.rows:,} rows in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
