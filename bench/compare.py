"""Compare two KPI result tables of the benchmark (civic-kpi, the Polars and the DuckDB baselines).

A speed comparison means nothing unless every engine computed the same numbers, so the benchmark checks each
result against the others with ``compare(a, b)``: both must hold the same (kpi, breakdown, month, group) keys;
numerator, denominator and n must be exactly equal; value must agree to 1e-9 relative (and, for the P90, where
the two engines' interpolation may differ in the last bits, to 1e-9 absolute or relative). For ratio rows, each
side's value must also be its own numerator / denominator * 100 to 1e-9 relative, so a ratio can never agree
by accident of two engines sharing a wrong value. An empty list means the two agree.

    python bench/compare.py /tmp/polars.parquet /tmp/duckdb.parquet
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl

KEYS = ["kpi", "breakdown", "month", "group"]
# The long table every contender's results are brought to (the baselines write it; run.py converts civic-kpi's).
OUTPUT_SCHEMA = {
    "kpi": pl.String,
    "breakdown": pl.String,
    "month": pl.String,
    "group": pl.String,
    "numerator": pl.Int64,
    "denominator": pl.Int64,
    "value": pl.Float64,
    "n": pl.Int64,
}
COUNTS = ["numerator", "denominator", "n"]
COLUMNS = [*KEYS, *COUNTS, "value"]
REL_TOL = 1e-9
ABS_TOL = 1e-9  # the P90 only
P90 = "time_to_close_p90"
MAX_LISTED = 20  # per kind of disagreement, so a wholesale mismatch stays readable


def _close(x: float | None, y: float | None, *, abs_tol: float = 0.0) -> bool:
    if x is None or y is None:
        return x is None and y is None
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=REL_TOL, abs_tol=abs_tol)


def _key(row: dict) -> str:
    return "/".join(str(row[k]) for k in KEYS)


def _listed(problems: list[str], found: list[str], what: str) -> None:
    problems.extend(found[:MAX_LISTED])
    if len(found) > MAX_LISTED:
        problems.append(f"... and {len(found) - MAX_LISTED:,} more {what}")


def _structure(frame: pl.DataFrame, name: str) -> list[str]:
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        return [f"{name}: missing columns {missing}"]
    duplicates = frame.filter(pl.struct(KEYS).is_duplicated())
    if duplicates.height:
        return [f"{name}: {duplicates.height:,} rows share a key, e.g. {_key(duplicates.row(0, named=True))}"]
    return []


def _self_consistent(frame: pl.DataFrame, name: str) -> list[str]:
    """Ratio rows whose value is not their own numerator / denominator * 100."""
    found = []
    for row in frame.filter(pl.col("kpi") != P90).iter_rows(named=True):
        num, den, value = row["numerator"], row["denominator"], row["value"]
        expected = None if num is None or not den else num / den * 100
        if not _close(value, expected):
            found.append(f"{name}: {_key(row)} value {value!r} is not {num}/{den}*100 = {expected!r}")
    return found


def compare(a: pl.DataFrame, b: pl.DataFrame, names: Sequence[str] = ("a", "b")) -> list[str]:
    """Human-readable disagreements between two KPI result tables; an empty list means they agree."""
    na, nb = names
    problems = _structure(a, na) + _structure(b, nb)
    if problems:
        return problems
    a, b = (frame.select(COLUMNS).with_columns(pl.col(KEYS).cast(pl.String)) for frame in (a, b))

    only_a = a.join(b, on=KEYS, how="anti", nulls_equal=True).sort(KEYS)
    only_b = b.join(a, on=KEYS, how="anti", nulls_equal=True).sort(KEYS)
    _listed(problems, [f"only in {na}: {_key(r)}" for r in only_a.iter_rows(named=True)], f"rows only in {na}")
    _listed(problems, [f"only in {nb}: {_key(r)}" for r in only_b.iter_rows(named=True)], f"rows only in {nb}")

    both = a.join(b, on=KEYS, how="inner", suffix="_b", nulls_equal=True).sort(KEYS)
    found = []
    for row in both.iter_rows(named=True):
        for column in COUNTS:
            if row[column] != row[f"{column}_b"]:
                found.append(f"{_key(row)} {column}: {na} {row[column]!r} != {nb} {row[f'{column}_b']!r}")
        abs_tol = ABS_TOL if row["kpi"] == P90 else 0.0
        if not _close(row["value"], row["value_b"], abs_tol=abs_tol):
            found.append(f"{_key(row)} value: {na} {row['value']!r} != {nb} {row['value_b']!r}")
    _listed(problems, found, "differing values")
    _listed(problems, _self_consistent(a, na) + _self_consistent(b, nb), "inconsistent ratios")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="a result table (Parquet)")
    parser.add_argument("b", type=Path, help="another result table (Parquet)")
    args = parser.parse_args()
    a, b = pl.read_parquet(args.a), pl.read_parquet(args.b)
    problems = compare(a, b, names=(str(args.a), str(args.b)))
    for problem in problems:
        print(problem)
    if problems:
        sys.exit(1)
    print(f"agree: {a.height:,} rows")


if __name__ == "__main__":
    main()
