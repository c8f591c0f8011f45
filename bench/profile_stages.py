"""Where civic-kpi's time goes on one export of the benchmark, stage by stage (Polars 2 has no per-node profile).

Each stage is timed in this one process (best of `--repeat`), after a warm-up run, so the figures are
comparable with each other rather than with the fresh-process times of bench/run.py:

- start-up: importing the CLI (in a fresh process: what every run pays before any work);
- read: the five KPIs' columns, parsed as the catalog says, and nothing else (one pass over the file);
- counts: the series without the P90, i.e. the four count ratios (reading included);
- all five: the whole series, results objects included;
- report: rendering those results as JSON.

    python bench/profile_stages.py bench/data/10m/requests.parquet
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERIES = {"period": "2024-01-01..2025-12-31", "every": "month", "as_of": "2026-01-01 00:00"}


def best(repeat: int, action) -> float:
    action()  # warm-up: file cache, lazy imports
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export", type=Path, help="requests.parquet or requests.csv from bench/generate.py")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import polars as pl

    from civic_kpi import compute, load_catalog
    from civic_kpi.data.sources import scan_dataset
    from civic_kpi.report import render

    folder = args.export.parent
    text = (HERE / "kpi_bench.yaml").read_text().replace("path: requests.parquet", f"path: {args.export.name}")
    catalog_path = folder / "kpi_bench_profile.yaml"
    catalog_path.write_text(text)
    loaded = load_catalog(catalog_path)
    dataset = loaded.catalog.datasets["requests"]
    columns = {"opened_at", "closed_at", "due_at", "reopened_at", "priority", "category", "channel", "first_contact"}

    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import civic_kpi.cli"], check=True)
    stages = {"start-up (fresh process, import the CLI)": time.perf_counter() - started}

    def read() -> None:
        frame = scan_dataset("requests", dataset, folder, columns, None).frame
        frame.select(pl.all().null_count()).collect()

    counts = [k.id for k in loaded.catalog.kpis if k.id != "time_to_close_p90"]
    stages["read and parse the columns"] = best(args.repeat, read)
    stages["series of the 4 count KPIs (reading included)"] = best(
        args.repeat, lambda: compute(loaded, data_dir=folder, kpis=counts, **SERIES)
    )
    stages["series of all 5 KPIs (reading included)"] = best(
        args.repeat, lambda: compute(loaded, data_dir=folder, **SERIES)
    )
    run = compute(loaded, data_dir=folder, **SERIES)
    stages[f"render {len(run.results):,} results as JSON"] = best(args.repeat, lambda: render(run, "json"))
    width = max(map(len, stages))
    for stage, seconds in stages.items():
        print(f"{stage:<{width}}  {seconds:6.2f} s")


if __name__ == "__main__":
    main()
