"""Exact grouped percentiles without holding every record: a two-pass selection, as one lazy Polars plan.

Polars' grouped `quantile` holds every value of every group with its keys, about 100 bytes a record whatever the
number of groups (1.65 GB for the benchmark's P90 by month, priority and category at 10M records). A percentile
only needs the one or two order statistics around its rank, so:

1. Each value gets a bucket by an order-preserving function (`bucket`), and the records are counted per finest
   group and bucket: a histogram of a few hundred thousand rows (`histogram`, collected with the run's queries).
2. Per group of each breakdown (the histogram summed up to it), the running counts say which bucket holds each
   needed rank, and how many values come before that bucket.
3. Only the records in those buckets are kept (a few percent), sorted, and the needed order statistics picked by
   their rank; the percentile is computed from them with Polars' own formula for the method (`percentiles`).

Exact to the last digit, not approximate: the bucket function is monotone (floor, a correctly rounded square
root and a multiplication by a power of two never reverse two values' order), so the k-th smallest value of a
group is the right one among the kept records of its bucket. A test checks it against Polars' own quantile on
values with ties, zeros, negatives, infinities and missing values. Memory grows with groups and buckets, not
records; a group whose values all fall in one bucket costs what the direct way does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

VALUE, BUCKET, COUNT = "__value", "__bucket", "__count"
ENABLED = True  # False: the executor leaves every percentile to Polars' grouped quantile (tests compare the two)
# Buckets per unit of the value's fourth root: a month's P90 of hours to close falls in a bucket holding about 1%
# of its group's records. (8: 193k histogram rows and 516k records kept at 10M records; 32: 594k and 135k.)
PER_UNIT = 16.0
# The methods whose order statistics are known from n and p (functions.PERCENTILE_METHODS' Polars names).
METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def bucket(value: pl.Expr) -> pl.Expr:
    """A monotone (never decreasing) bucket number of a value: floor(K * |v| ** 0.25), negated below zero.

    Two square roots and floor, each monotone, keep order; unlike a bucket over the value's range, it needs no
    first pass for the range, and a long tail (a request open for years) does not squeeze the body into one bucket.
    """
    import polars as pl

    root = value.abs().sqrt().sqrt() * PER_UNIT
    return pl.when(value < 0).then(-root.floor() - 1.0).otherwise(root.floor())


def histogram(values: pl.LazyFrame, fine: Sequence[str]) -> pl.LazyFrame:
    """The first pass: how many values each finest group has in each bucket. `values`: the `fine` key columns and
    VALUE, one row per value fed (no missing values)."""
    import polars as pl

    return values.group_by([*fine, bucket(pl.col(VALUE)).alias(BUCKET)]).agg(pl.len().alias(COUNT))


def percentiles(
    values: pl.LazyFrame,
    counted: pl.DataFrame,
    fine: Sequence[str],
    levels: Sequence[Sequence[str]],
    quantile: float,
    method: str,
) -> list[pl.LazyFrame]:
    """The second pass: per level (a subset of the `fine` key columns), the percentile of VALUE in each group, as a
    frame of the level's key columns and VALUE; a group without values has no row. `counted`: the first pass's
    histogram of the same `values`, collected: the second pass reads the values again, and reading them in the same
    query as the first would hold them all while the histogram is made."""
    import polars as pl

    assert method in METHODS, method
    histogram = counted.lazy()
    targets = [_targets(histogram, list(level), quantile, method).cache() for level in levels]
    # The finest groups' buckets that any level needs: the records to keep.
    needed = pl.concat(
        [
            histogram.join(target.select([*level, BUCKET]), on=[*level, BUCKET], how="semi", nulls_equal=True)
            for level, target in zip(levels, targets, strict=True)
        ]
    ).select([*fine, BUCKET])
    fed = values.with_columns(bucket(pl.col(VALUE)).alias(BUCKET))
    kept = fed.join(needed.unique(), on=[*fine, BUCKET], how="semi", nulls_equal=True).cache()
    return [_picked(kept, list(level), target, quantile, method) for level, target in zip(levels, targets, strict=True)]


def _ranks(n: pl.Expr, quantile: float, method: str) -> tuple[pl.Expr, pl.Expr]:
    """The 0-based ranks of the order statistics a method reads (the same rank twice when it reads one), as
    Polars' quantile computes them: float_idx = (n - 1) * q."""
    import polars as pl

    at = (n.cast(pl.Float64) - 1.0) * quantile
    if method == "nearest":  # Rust's round: half away from zero
        low = at.round(0, mode="half_away_from_zero")
    elif method == "higher":
        low = at.ceil()
    else:
        low = at.floor()
    low = low.cast(pl.Int64)
    high = (low + 1).clip(upper_bound=n.cast(pl.Int64) - 1) if method in ("linear", "midpoint") else low
    return low, high


def _targets(histogram: pl.LazyFrame, level: list[str], quantile: float, method: str) -> pl.LazyFrame:
    """Per group of the level, the buckets holding the needed ranks, each with the number of values before it."""
    import polars as pl

    summed = histogram.group_by([*level, BUCKET]).agg(pl.col(COUNT).sum()).sort([*level, BUCKET], nulls_last=True)
    through = pl.col(COUNT).cum_sum().over(level) if level else pl.col(COUNT).cum_sum()
    n = pl.col(COUNT).sum().over(level) if level else pl.col(COUNT).sum()
    summed = summed.with_columns(through.alias("__through"), n.alias("__n"))
    before = pl.col("__through") - pl.col(COUNT)
    low, high = _ranks(pl.col("__n"), quantile, method)
    holds = lambda rank: (rank >= before) & (rank < pl.col("__through"))  # noqa: E731
    return summed.filter(holds(low) | holds(high)).select([*level, BUCKET, before.alias("__before"), pl.col("__n")])


def _picked(kept: pl.LazyFrame, level: list[str], target: pl.LazyFrame, quantile: float, method: str) -> pl.LazyFrame:
    """The level's percentiles from the kept records of its target buckets, by Polars' own formula for the method
    (polars-core's quantile_slice: the value at the lower rank, and for linear and midpoint the next one)."""
    import polars as pl

    keys = [*level, BUCKET]
    ranked = (
        kept.select([*keys, VALUE])
        .join(target, on=keys, how="inner", nulls_equal=True)
        .sort([*keys, VALUE], nulls_last=True)
        .select([*level, (pl.col("__before") + pl.int_range(pl.len()).over(keys)).alias("__rank"), VALUE])
    )
    low, high = _ranks(pl.col("__n"), quantile, method)
    at = (pl.col("__n").cast(pl.Float64) - 1.0) * quantile
    groups = (
        target.select([*level, "__n"])
        .unique(subset=level or None)
        .with_columns(low.alias("__low"), high.alias("__high"), at.alias("__at"))
    )
    for rank, name in (("__low", "__lower"), ("__high", "__upper")):
        found = ranked.rename({"__rank": rank, VALUE: name})
        groups = groups.join(found, on=[*level, rank], how="left", nulls_equal=True)
    lower, upper = pl.col("__lower").cast(pl.Float64), pl.col("__upper").cast(pl.Float64)
    if method in ("linear", "midpoint"):
        between = (at - pl.col("__low").cast(pl.Float64)) * (upper - lower) + lower
        if method == "midpoint":
            between = (lower + upper) / 2.0
        exact = pl.col("__at") == pl.col("__low").cast(pl.Float64)  # the rank is whole: no second value
        value = pl.when(exact | (lower == upper)).then(lower).otherwise(between)
    else:
        value = lower
    return groups.select([*level, value.alias(VALUE)])
