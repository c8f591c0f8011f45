"""Exact grouped percentiles in two passes (engine/percentiles.py): the same values as Polars' own grouped quantile,
to the last bit, for every method, on values chosen to break a careless selection: ties, zero and minus zero,
negatives, infinities, NaN, a group of one value, a group whose values all fall in one bucket, missing group keys."""

from __future__ import annotations

import math
import random

import polars as pl
import pytest

from civic_kpi.engine.percentiles import METHODS, VALUE, bucket, histogram, percentiles

LEVELS = [[], ["team"], ["kind"], ["team", "kind"]]


def _values() -> pl.DataFrame:
    generator = random.Random(20261203)
    special = [0.0, -0.0, 1.0, 2.5, 2.5, math.inf, -math.inf, math.nan, 1e300, -1e-300, 5e-324]
    rows = []
    for _ in range(6000):
        team, kind = generator.choice(["A", "B", None]), generator.choice([1, 2, 3])
        draw = generator.random()
        if draw < 0.05:
            value = generator.choice(special)
        else:
            value = generator.lognormvariate(3, 2) * (1 if generator.random() < 0.8 else -1)
            value = round(value) if draw > 0.9 else value  # ties
        rows.append((team, kind, value))
    rows.append(("alone", 1, 42.0))  # a group of one value
    rows += [("same bucket", 2, 7.0 + i * 1e-9) for i in range(50)]  # every value in one bucket
    return pl.DataFrame(rows, schema=["team", "kind", VALUE], orient="row")


def _bits(value: float | None) -> object:
    return None if value is None else ("nan" if math.isnan(value) else (value, math.copysign(1.0, value)))


@pytest.mark.parametrize("method", METHODS)
def test_two_passes_give_polars_own_grouped_quantile_bit_for_bit(method):
    frame = _values()
    counted = histogram(frame.lazy(), ["team", "kind"]).collect()
    for quantile in (0.0, 0.1, 0.25, 0.5, 0.9, 0.95, 0.999, 1.0):
        found = pl.collect_all(percentiles(frame.lazy(), counted, ["team", "kind"], LEVELS, quantile, method))
        for level, got in zip(LEVELS, found, strict=True):
            expected_value = pl.col(VALUE).quantile(quantile, interpolation=method).alias("expected")  # type: ignore[arg-type]
            expected = frame.group_by(level).agg(expected_value) if level else frame.select(expected_value)
            both = (
                got.join(expected, on=level, nulls_equal=True)
                if level
                else pl.concat([got, expected], how="horizontal")
            )
            assert both.height == expected.height == got.height, (method, quantile, level)
            for row in both.iter_rows(named=True):
                # Zero and minus zero compare equal; which one a tie of both gives is Polars' own choice.
                assert _bits(row[VALUE]) == _bits(row["expected"]) or row[VALUE] == row["expected"] == 0, (
                    method,
                    quantile,
                    level,
                    row,
                )


def test_the_bucket_never_puts_a_bigger_value_in_a_smaller_bucket():
    """The selection is exact because the bucket is monotone: checked on neighbouring floats at every magnitude."""
    points = [0.0, 5e-324, 1e-300, 1e-8, 0.5, 1.0, 2.0, 3.999, 4.0, 255.5, 1e6, 1e15, 2.0**53, 1e300]
    values = sorted({v for p in points for v in (p, math.nextafter(p, math.inf), math.nextafter(p, -math.inf), -p)})
    values = [-math.inf, *values, math.inf]
    buckets = pl.DataFrame({VALUE: values}).select(bucket(pl.col(VALUE)))[VALUE].to_list()
    assert buckets == sorted(buckets)
    assert len(set(buckets)) > 20, "the buckets are not all one"


def test_a_group_without_values_has_no_row_and_the_histogram_is_small():
    frame = pl.DataFrame({"team": ["A"] * 1000, VALUE: [float(i % 97) for i in range(1000)]})
    counted = histogram(frame.lazy(), ["team"]).collect()
    assert counted.height < 100, "a bucket per distinct value would hold every record"
    empty = frame.clear()
    assert (
        pl.collect_all(percentiles(empty.lazy(), counted.clear(), ["team"], [["team"]], 0.9, "linear"))[0].height == 0
    )
