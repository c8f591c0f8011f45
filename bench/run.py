"""The civic-kpi benchmark: civic-kpi against hand-written Polars and DuckDB on the same generated 311 exports.

For each size and format it (1) generates the export if it is missing (bench/generate.py, seeded), (2) runs
every contender as a fresh process at least 5 times, measuring wall time and peak RSS (os.wait4), (3) checks that
they agree (ratios exactly, P90 to 1e-9; bench/compare.py) and (4) prints a table and writes JSON, so runs can be
compared over time. Contenders, all computing the five 311 KPIs by month x priority and month x category:

- civic-kpi: `civic-kpi compute --every month` with bench/kpi_bench.yaml;
- polars: bench/baseline_polars.py, a hand-written lazy query collected with the streaming engine
  (on CSV with Polars parsing the timestamps by schema: the "naive" query);
- polars-strptime (CSV only): the same, reading the timestamps as text and parsing them with their format;
- duckdb: bench/baseline_duckdb.py, the same in DuckDB SQL;
- civic-kpi-full (10M Parquet): civic-kpi with 15 KPIs over the same export (bench/kpi_bench_more.yaml appended),
  to show what ten more KPIs cost against the five.
- civic-kpi-report: `civic-kpi report --every month` over the same months, the HTML dashboard built from that
  series (its charts, tables and CSV downloads), as a ratio to the compute run (issue 13's target: at most 1.2x).
- civic-kpi-duckdb, civic-kpi-spark (only with --only): the same compute with `--engine duckdb` or `--engine spark`
  (the aggregations as SQL; issue 16), checked against the others like every contender.

And the start-up: `civic-kpi compute` on the bundled sample and `civic-kpi --help`, against a Python process that
only imports Polars.

    python bench/run.py                          # 1M and 10M rows, Parquet and CSV, 5 runs each
    python bench/run.py --sizes 1m,10m,30m --readme   # what docs/explanation/performance.md shows (CSV up to 10M rows)
    python bench/run.py --sizes 1m --repeat 1    # a quick check that everything agrees

Needs `pip install -e ".[bench]"` (DuckDB and NumPy are benchmark-only dependencies).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compare import OUTPUT_SCHEMA, compare  # noqa: E402  (a sibling script, not a package)

PERIOD = ("2024-01-01", "2025-12-31")
AS_OF = "2026-01-01 00:00"
README = HERE.parent / "docs" / "explanation" / "performance.md"  # where the benchmark table lives


def rows_of(size: str) -> int:
    """'20k', '1m', '10m', '30m', '100m' as a number of rows."""
    number, unit = size[:-1], size[-1].lower()
    if unit not in "km" or not number.isdigit():
        raise SystemExit(f"cannot read size '{size}': write it like 20k, 1m or 30m")
    return int(number) * (1_000 if unit == "k" else 1_000_000)


@dataclass
class Timing:
    contender: str
    size: str
    rows: int
    fmt: str
    runs: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


def _civic_kpi() -> list[str]:
    script = Path(sys.executable).parent / "civic-kpi"
    return [str(script)] if script.exists() else [sys.executable, "-m", "civic_kpi.cli"]


def measure(command: list[str]) -> tuple[float, float]:
    """Run one fresh process; its wall time in seconds and peak resident memory in MB."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"failed: {' '.join(command)}\n{error}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports KB


def catalog_for(folder: Path, fmt: str, full: bool = False) -> Path:
    """The bench catalog pointed at this folder's export (and, for `full`, with ten more KPIs appended)."""
    text = (HERE / "kpi_bench.yaml").read_text().replace("path: requests.parquet", f"path: requests.{fmt}")
    if full:
        text += "\n" + (HERE / "kpi_bench_more.yaml").read_text()
    path = folder / f"kpi_bench_{fmt}{'_full' if full else ''}.yaml"
    path.write_text(text)
    return path


def civic_kpi_table(path: Path) -> pl.DataFrame:
    """civic-kpi's JSON results in the baselines' long layout (kpi, breakdown, month, group, ...)."""
    doc = json.loads(path.read_text())
    rows = []
    for result in doc["results"]:
        if not result["group"] or result["value"] is None:
            continue  # the baselines have no overall rows, and no rows for empty groups
        (breakdown, group), *_ = result["group"].items()
        ratio = result["denominator"] is not None
        rows.append(
            {
                "kpi": result["kpi_id"],
                "breakdown": breakdown,
                "month": result["period"]["label"],
                "group": group,
                "numerator": int(result["numerator"]) if ratio else None,
                "denominator": int(result["denominator"]) if ratio else None,
                "value": result["value"],
                "n": result["sample_size"],
            }
        )
    return pl.DataFrame(
        rows,
        schema=OUTPUT_SCHEMA,
    ).sort("kpi", "breakdown", "month", "group")


def commands(folder: Path, fmt: str, work: Path) -> dict[str, tuple[list[str], Path]]:
    export = folder / f"requests.{fmt}"
    suffix = {"civic-kpi-report": "html"}
    out = {
        name: work / f"{name}-{fmt}.{suffix.get(name, 'json' if name.startswith('civic') else 'parquet')}"
        for name in NAMES
    }
    python = sys.executable
    civic = [*_civic_kpi(), "compute", "-d", str(folder), "--from", PERIOD[0], "--to", PERIOD[1], "--every", "month"]
    civic += ["--as-of", AS_OF, "-f", "json", "-q"]
    found = {
        "civic-kpi": ([*civic, "-c", str(catalog_for(folder, fmt)), "-o", str(out["civic-kpi"])], out["civic-kpi"]),
        "polars": ([python, str(HERE / "baseline_polars.py"), str(export), "--out", str(out["polars"])], out["polars"]),
        "duckdb": ([python, str(HERE / "baseline_duckdb.py"), str(export), "--out", str(out["duckdb"])], out["duckdb"]),
    }
    if fmt == "csv":
        strptime = [python, str(HERE / "baseline_polars.py"), str(export), "--csv-dates", "strptime"]
        found["polars-strptime"] = ([*strptime, "--out", str(out["polars-strptime"])], out["polars-strptime"])
    full = [*civic, "-c", str(catalog_for(folder, fmt, full=True)), "-o", str(out["civic-kpi-full"])]
    found["civic-kpi-full"] = (full, out["civic-kpi-full"])
    dashboard = [*_civic_kpi(), "report", "-d", str(folder), "-p", f"{PERIOD[0]}..{PERIOD[1]}", "--every", "month"]
    dashboard += ["--as-of", AS_OF, "-q", "-c", str(catalog_for(folder, fmt)), "-o", str(out["civic-kpi-report"])]
    found["civic-kpi-report"] = (dashboard, out["civic-kpi-report"])
    for engine in SQL_ENGINES:
        name = f"civic-kpi-{engine}"
        command = [*civic, "-c", str(catalog_for(folder, fmt)), "--engine", engine, "-o", str(out[name])]
        found[name] = (command, out[name])
    return found


SQL_ENGINES = ("duckdb", "spark")  # the SQL engines run in a separate process each; PostgreSQL needs a server
NAMES = ("civic-kpi", "polars", "polars-strptime", "duckdb", "civic-kpi-full", "civic-kpi-report",
         *(f"civic-kpi-{engine}" for engine in SQL_ENGINES))  # fmt: skip
OPT_IN = {f"civic-kpi-{engine}" for engine in SQL_ENGINES}  # run only when --only names them


def result_table(name: str, path: Path) -> pl.DataFrame:
    return civic_kpi_table(path) if name.startswith("civic") else pl.read_parquet(path)


def bench_one(
    size: str, fmt: str, data: Path, repeat: int, full: bool, only: set[str] | None = None
) -> tuple[list[Timing], list[str]]:
    """Time every contender on one export, then check they agree; returns timings and disagreements."""
    folder = data / size
    export = folder / f"requests.{fmt}"
    if not export.exists():
        print(f"generating {export} ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--rows", str(rows_of(size)), "--out", str(folder),
                        "--formats", fmt], check=True)  # fmt: skip
    work = folder / "results"
    work.mkdir(exist_ok=True)
    contenders = commands(folder, fmt, work)
    if not full:
        contenders.pop("civic-kpi-full")
    if only:
        contenders = {name: found for name, found in contenders.items() if name in only | {"civic-kpi"}}
    else:
        contenders = {name: found for name, found in contenders.items() if name not in OPT_IN}
    timings = []
    for name, (command, _) in contenders.items():
        timing = Timing(name, size, rows_of(size), fmt)
        for _ in range(repeat):
            elapsed, rss = measure(command)
            timing.runs.append(elapsed)
            timing.rss_mb.append(rss)
        print(f"  {size} {fmt:7} {name:16} median {timing.median:6.2f} s  peak RSS {max(timing.rss_mb):7,.0f} MB",
              flush=True)  # fmt: skip
        timings.append(timing)
    ours = result_table("civic-kpi", contenders["civic-kpi"][1])
    problems = []
    for name in ("polars", "duckdb", "polars-strptime", *sorted(OPT_IN)):
        if name in contenders:
            problems += compare(ours, result_table(name, contenders[name][1]), names=("civic-kpi", name))
    if not problems:
        print(f"  {size} {fmt}: civic-kpi, Polars and DuckDB agree on {ours.height:,} values", flush=True)
    return timings, problems


def start_up(repeat: int) -> list[Timing]:
    """The bundled sample's `civic-kpi compute` and `civic-kpi --help` against a process that only imports Polars
    (issue 15's targets: at most 3x, and under 0.3 s), each a fresh process."""
    root = HERE.parent
    commands = {
        "polars-import": [sys.executable, "-c", "import polars"],
        "civic-kpi-sample": [*_civic_kpi(), "compute", "-c", str(root / "kpi_definitions.yaml"), "-q"],
        "civic-kpi-help": [*_civic_kpi(), "--help"],
    }
    timings = []
    for name, command in commands.items():
        measure(command)  # warm-up: the file cache
        timing = Timing(name, "start-up", 0, "-")
        for _ in range(repeat):
            elapsed, rss = measure(command)
            timing.runs.append(elapsed)
            timing.rss_mb.append(rss)
        print(f"  start-up {name:16} median {timing.median:6.2f} s  peak RSS {max(timing.rss_mb):7,.0f} MB", flush=True)
        timings.append(timing)
    return timings


def machine() -> dict[str, object]:
    memory = 0
    with contextlib.suppress(ValueError, OSError):
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import duckdb

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory / 1e9, 1),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "duckdb": duckdb.__version__,
        "system": platform.platform(),
    }


def report(timings: list[Timing]) -> str:
    """The results table (Markdown): median, min-max, peak RSS and civic-kpi's time as a ratio to each baseline."""
    lines = [
        "| rows | format | contender | median s | min–max s | peak RSS MB | civic-kpi ÷ this |",
        "|---|---|---|--:|--:|--:|--:|",
    ]
    for (_, fmt), group in _grouped(timings).items():
        ours = next((t for t in group if t.contender == "civic-kpi"), None)
        polars_import = next((t for t in group if t.contender == "polars-import"), None)
        for t in group:
            ratio = ""
            if polars_import and t is not polars_import:
                ratio = f"({t.median / polars_import.median:.2f}× importing Polars)"
            elif ours and t.contender == "civic-kpi-full":
                ratio = f"(15 KPIs: {t.median / ours.median:.2f}× the 5-KPI time)"
            elif ours and t.contender == "civic-kpi-report":
                ratio = f"(the dashboard: {t.median / ours.median:.2f}× the compute run)"
            elif ours and t.contender in OPT_IN:
                ratio = f"(--engine {t.contender.removeprefix('civic-kpi-')}: {t.median / ours.median:.2f}× Polars')"
            elif ours and t is not ours:
                ratio = f"{ours.median / t.median:.2f}×"
            rows = "the sample" if t.size == "start-up" else f"{t.rows:,}"
            lines.append(
                f"| {rows} | {fmt} | {t.contender} | {t.median:.2f} | {min(t.runs):.2f}–{max(t.runs):.2f} "
                f"| {max(t.rss_mb):,.0f} | {ratio} |"
            )
    return "\n".join(lines)


def _grouped(timings: list[Timing]) -> dict[tuple[str, str], list[Timing]]:
    grouped: dict[tuple[str, str], list[Timing]] = {}
    for t in timings:
        grouped.setdefault((t.size, t.fmt), []).append(t)
    return grouped


def update_docs(table: str, document: dict) -> None:
    """Replace the performance page's benchmark block (between its markers) with this run's table and machine."""
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    text = README.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{README} has no {start} ... {end} block")
    m = document["machine"]
    block = (
        f"{start}\nMeasured {document['generated_at'][:10]} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, "
        f"Python {m['python']}, Polars {m['polars']}, DuckDB {m['duckdb']} (`python bench/run.py`, "
        f"median of {len(document['results'][0]['runs'])} fresh processes each):\n\n{table}\n{end}"
    )
    README.write_text(text[: text.index(start)] + block + text[text.index(end) + len(end) :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1m,10m", help="comma-separated row counts: 20k, 1m, 10m, 30m, 100m")
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--csv-max", default="10m", help="no CSV for sizes above this (default 10m)")
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per contender (default 5)")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="where exports are generated (not committed)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--no-full", action="store_true", help="skip the 15-KPI civic-kpi run")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up runs (the bundled sample, --help)")
    parser.add_argument("--only", help="comma-separated contenders beside civic-kpi, e.g. civic-kpi-report,duckdb")
    parser.add_argument("--readme", action="store_true", help="put the table and the machine into the performance page")
    parser.add_argument(
        "--readme-from", type=Path, help="only put an earlier run's JSON results into the performance page"
    )
    args = parser.parse_args()
    if args.readme_from:
        document = json.loads(args.readme_from.read_text())
        fields = ("contender", "size", "rows", "fmt", "runs", "rss_mb")
        update_docs(report([Timing(**{k: r[k] for k in fields}) for r in document["results"]]), document)
        return
    if shutil.which("civic-kpi") is None and not (Path(sys.executable).parent / "civic-kpi").exists():
        raise SystemExit("civic-kpi is not installed: pip install -e '.[bench]'")
    timings: list[Timing] = []
    problems: list[str] = []
    for size in args.sizes.split(","):
        for fmt in args.formats.split(","):
            if fmt == "csv" and rows_of(size) > rows_of(args.csv_max):
                continue
            only = set(args.only.split(",")) if args.only else None
            if only and only - set(NAMES):
                raise SystemExit(f"--only: unknown contender {', '.join(sorted(only - set(NAMES)))}; know {NAMES}")
            found, disagreements = bench_one(size, fmt, args.data, args.repeat, not args.no_full, only)
            timings += found
            problems += disagreements
    if not args.no_startup:
        timings += start_up(args.repeat)
    table = report(timings)
    print("\n" + table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "workload": "five 311 KPIs by month x priority and by month x category, 2024-01..2025-12",
        "results": [asdict(t) | {"median": t.median} for t in timings],
        "agree": not problems,
        "disagreements": problems[:50],
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    if args.readme and not problems:
        update_docs(table, document)
        print(f"updated the benchmark table in {README}")
    if problems:
        print("\n".join(["DISAGREEMENT:", *problems[:20]]), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
