"""Property-based tests: random small exports, every KPI recomputed independently in plain Python.

Hypothesis generates exports of 0 to 60 records whose timestamps fall in the computed month (2026-01), the month
before (the prior period), the same month a year earlier, neighbouring months, on the period's boundaries or
nowhere (blank); a category with one to four values (some blank); a status from a small set (some blank, one
differing only in case); and two float columns with blanks, ties and signed zeros. The export is written as one
CSV, as two CSVs read through a glob, or as Parquet, with a small catalog. The expected value of every KPI is
computed here without Polars: `statistics`, exact fractions and a hand-written PERCENTILE.INC.

Runs are reproducible (derandomized, no example database), so CI sees the same examples on every run.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import civic_kpi
from tests.conftest import write_csv

PERIOD = "2026-01"
CURRENT = (datetime(2026, 1, 1), datetime(2026, 2, 1))
PRIOR = (datetime(2025, 12, 1), datetime(2026, 1, 1))
YEAR_AGO = (datetime(2025, 1, 1), datetime(2025, 2, 1))
PERIODS = {"current": CURRENT, "prior": PRIOR, "year_ago": YEAR_AGO}

PERCENTILES = (0, 10, 50, 90, 95, 100)
CATEGORIES = ("North", "South", "East", "West")
STATUSES = ("closed", "open", "Closed", "pending")
HEADER = ["Created Date", "Category", "Status", "A Value", "B Value"]

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- the generated export -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    ts: datetime | None
    category: str | None
    status: str | None
    a: float | None
    b: float | None


# Months around the computed one, weighted towards the computed month and the prior one.
MONTHS = [(2026, 1)] * 4 + [(2025, 12)] * 3 + [(2025, 1)] * 2 + [(2026, 2), (2025, 11), (2024, 12)]
BOUNDARIES = [
    datetime(2026, 1, 1, 0, 0),  # first instant of the period: in
    datetime(2026, 1, 31, 23, 59),  # last minute of the period: in
    datetime(2026, 2, 1, 0, 0),  # first instant after it: out
    datetime(2025, 12, 31, 23, 59),  # last minute of the prior period
    datetime(2025, 12, 1, 0, 0),  # first instant of the prior period
    datetime(2025, 11, 30, 23, 59),  # just before the prior period
    datetime(2025, 1, 1, 0, 0),  # first instant of the year-ago period
    datetime(2025, 1, 31, 23, 59),  # last minute of the year-ago period
    datetime(2025, 2, 1, 0, 0),  # just after the year-ago period
]


@st.composite
def timestamps(draw) -> datetime | None:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return None
    if kind <= 2:
        return draw(st.sampled_from(BOUNDARIES))
    year, month = draw(st.sampled_from(MONTHS))
    return datetime(year, month, 1) + timedelta(
        days=draw(st.integers(0, 27)), hours=draw(st.integers(0, 23)), minutes=draw(st.integers(0, 59))
    )


# Quarters of small integers: every sum is exact in binary floating point, so a ratio of sums has one right
# answer whatever order the engine adds in. A small pool makes ties (and -0.0 == 0.0) frequent.
numbers = st.one_of(
    st.none(),
    st.sampled_from([-0.0, 0.0, 1.0, 2.5, -3.25, 10.0, 100.0]),
    st.integers(-400, 400).map(lambda k: k / 4),
)


@st.composite
def exports(draw) -> tuple[list[Row], str]:
    layout = draw(st.sampled_from(["csv", "csv_split", "parquet"]))
    categories = draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=4, unique=True))
    category = st.one_of(st.none(), st.sampled_from(categories))
    status = st.one_of(st.none(), st.sampled_from(STATUSES))
    # Now and then a column is mostly blank, so groups and periods where every input is missing are common.
    sparse = st.one_of(st.none(), st.none(), st.none(), numbers)
    a, b = (draw(st.sampled_from([numbers, numbers, sparse])) for _ in "ab")
    row = st.builds(Row, timestamps(), category, status, a, b)
    size = draw(st.one_of(st.integers(0, 8), st.integers(9, 60), st.integers(30, 60)))  # 0 to 60 records
    rows = draw(st.lists(row, min_size=size, max_size=size))
    return rows, layout


# --- the catalog and the files ---------------------------------------------------------------------------------


def _kpi(kpi_id: str, unit: str, **formulas: str) -> str:
    fields = ", ".join(f'{name}: "{text}"' for name, text in formulas.items())
    return f"  - {{id: {kpi_id}, name: {kpi_id}, domain: D, unit: {unit}, dataset: events, {fields}}}\n"


KPIS = (
    _kpi(
        "closed_a_gt_b",
        "percent",
        numerator="count(status == 'closed' and a > b)",
        denominator="count(status == 'closed')",
    )
    + _kpi("sum_ratio", "count", numerator="sum(a)", denominator="sum(b)")
    + _kpi("sum_ratio_value", "count", value="sum(a) / sum(b)")
    + "".join(_kpi(f"p{p}_a", "count", value=f"percentile(a, {p})") for p in PERCENTILES)
    + "".join(_kpi(f"p{p}_a_inclusive", "count", value=f"percentile(a, {p}, method='inclusive')") for p in (10, 90))
    + _kpi("median_b", "count", value="median(b)")
    + _kpi("mean_a", "count", value="mean(a)")
    + _kpi("n_unique_a", "count", value="n_unique(a)")
    + _kpi("n_unique_status", "count", value="n_unique(status)")
)


def write_export(root: Path, rows: list[Row], layout: str) -> Path:
    data = root / "data"
    data.mkdir()
    if layout == "parquet":
        import polars as pl

        pl.DataFrame(
            {
                "Created Date": [r.ts for r in rows],
                "Category": [r.category for r in rows],
                "Status": [r.status for r in rows],
                "A Value": [r.a for r in rows],
                "B Value": [r.b for r in rows],
            },
            schema={
                "Created Date": pl.Datetime("us"),
                "Category": pl.String,
                "Status": pl.String,
                "A Value": pl.Float64,
                "B Value": pl.Float64,
            },
        ).write_parquet(data / "events.parquet")
        path, ts_spec = "events.parquet", "{source: Created Date, type: datetime}"
    else:

        def cells(r: Row) -> list[object]:
            return [
                None if r.ts is None else r.ts.strftime("%Y-%m-%d %H:%M"),
                r.category,
                r.status,
                None if r.a is None else repr(r.a),
                None if r.b is None else repr(r.b),
            ]

        half = len(rows) // 2 if layout == "csv_split" else len(rows)
        write_csv(data / "events_1.csv", HEADER, [cells(r) for r in rows[:half]])
        if layout == "csv_split":
            write_csv(data / "events_2.csv", HEADER, [cells(r) for r in rows[half:]])
        path, ts_spec = "events_*.csv", '{source: Created Date, type: datetime, format: "%Y-%m-%d %H:%M"}'
    catalog = root / "cat.yaml"
    catalog.write_text(
        textwrap.dedent(
            f"""\
            title: Properties
            data_dir: data
            datasets:
              events:
                path: "{path}"
                date_column: ts
                columns:
                  ts: {ts_spec}
                  category: Category
                  status: Status
                  a: {{source: A Value, type: float}}
                  b: {{source: B Value, type: float}}
            kpis:
            """
        )
        + KPIS
    )
    return catalog


def run_engine(rows: list[Row], layout: str) -> civic_kpi.ComputeRun:
    with tempfile.TemporaryDirectory() as tmp:
        return civic_kpi.compute(write_export(Path(tmp), rows, layout), period=PERIOD, by=["category"])


# --- the independent model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    sample: int | None = None


def percentile_inc(values: list[float], p: int) -> float:
    """PERCENTILE.INC: rank h = (n - 1) * p / 100 (exact), linear interpolation between order statistics."""
    ordered = sorted(values)
    rank = Fraction(len(ordered) - 1) * Fraction(p, 100)
    low = math.floor(rank)
    if low + 1 >= len(ordered):
        return ordered[low]
    fraction = float(rank - low)
    return ordered[low] + fraction * (ordered[low + 1] - ordered[low])


def in_period(row: Row, period: tuple[datetime, datetime]) -> bool:
    return row.ts is not None and period[0] <= row.ts < period[1]


def greater(x: float | None, y: float | None) -> bool:
    """Two-valued logic: a comparison with a missing value is false."""
    return x is not None and y is not None and x > y


def ratio(numerator: float, denominator: float, sample: int, scale: float = 1.0) -> Expected:
    value = None if denominator == 0 else numerator / denominator * scale
    return Expected(value, numerator, denominator, sample)


def expected(kpi_id: str, rows: list[Row]) -> Expected:
    """The KPI over the records of one period (and group), from the README's rules alone."""
    a = [r.a for r in rows if r.a is not None]
    b = [r.b for r in rows if r.b is not None]
    if kpi_id == "closed_a_gt_b":
        closed = [r for r in rows if r.status == "closed"]
        hits = sum(greater(r.a, r.b) for r in closed)
        result = ratio(hits, len(closed), len(closed), scale=100.0)
    elif kpi_id == "sum_ratio":
        result = ratio(math.fsum(a), math.fsum(b), len(b))
    elif kpi_id == "sum_ratio_value":
        # A value formula, not a ratio: no numerator/denominator reported; x / 0 is no data, not inf or nan.
        result = Expected(None if math.fsum(b) == 0 else math.fsum(a) / math.fsum(b), sample=len(a))
    elif kpi_id.startswith("p"):
        p = int(kpi_id[1:].split("_")[0])
        result = Expected(percentile_inc(a, p) if a else None, sample=len(a))
    elif kpi_id == "median_b":
        result = Expected(statistics.median(b) if b else None, sample=len(b))
    elif kpi_id == "mean_a":
        result = Expected(statistics.fmean(a) if a else None, sample=len(a))
    elif kpi_id == "n_unique_a":
        result = Expected(float(len(set(a))), sample=len(a))  # set(): -0.0 == 0.0 is one value
    elif kpi_id == "n_unique_status":
        statuses = [r.status for r in rows if r.status is not None]
        result = Expected(float(len(set(statuses))), sample=len(statuses))
    else:
        raise AssertionError(kpi_id)
    if not rows:  # a period with no records has no data: no value, no numerator, no denominator
        return Expected(None, sample=result.sample)
    return result


KPI_IDS = (
    ["closed_a_gt_b", "sum_ratio", "sum_ratio_value"]
    + [f"p{p}_a" for p in PERCENTILES]
    + ["p10_a_inclusive", "p90_a_inclusive", "median_b", "mean_a", "n_unique_a", "n_unique_status"]
)
RATIOS = ("closed_a_gt_b", "sum_ratio")


def expected_rows(rows: list[Row]) -> dict[tuple[str, tuple], dict[str, Expected]]:
    """Per (KPI, group): the expected result for each compared period. Groups are every category in the export."""
    out: dict[tuple[str, tuple], dict[str, Expected]] = {}
    groups: list[tuple] = [()] + [(("category", c),) for c in {r.category for r in rows}]
    for kpi_id in KPI_IDS:
        for group in groups:
            members = rows if not group else [r for r in rows if r.category == group[0][1]]
            out[kpi_id, group] = {
                key: expected(kpi_id, [r for r in members if in_period(r, span)]) for key, span in PERIODS.items()
            }
    return out


def close(actual: float | None, wanted: float | None) -> bool:
    if wanted is None or actual is None:
        return actual is wanted
    return actual == pytest.approx(wanted, rel=1e-9, abs=1e-9)


def check_row(result, wanted: dict[str, Expected]) -> None:
    now = wanted["current"]
    where = f"{result.kpi_id} {result.group or 'all'}"
    assert close(result.value, now.value), f"{where}: value {result.value!r}, expected {now.value!r}"
    assert result.sample_size == now.sample, f"{where}: sample {result.sample_size}, expected {now.sample}"
    if result.kpi_id in RATIOS:
        # Counts and sums of quarters are exact: no tolerance for numerator and denominator.
        assert (result.numerator, result.denominator) == (now.numerator, now.denominator), where
    else:
        assert result.numerator is None and result.denominator is None, where
    assert close(result.prior.value, wanted["prior"].value), f"{where}: prior {result.prior.value!r}"
    assert close(result.year_ago.value, wanted["year_ago"].value), f"{where}: year ago {result.year_ago.value!r}"


def group_key(result) -> tuple:
    return tuple(sorted(result.group.items()))


# --- the properties --------------------------------------------------------------------------------------------


@pytest.mark.slow
@PROPERTY_SETTINGS
@given(exports())
def test_every_kpi_matches_an_independent_computation(export):
    rows, layout = export
    current = sum(in_period(r, CURRENT) for r in rows)
    tens = len(rows) // 10 * 10
    event(f"{layout}, {tens}-{tens + 9} records, {min(current, 10)}{'+' if current >= 10 else ''} in 2026-01")
    run = run_engine(rows, layout)
    wanted = expected_rows(rows)
    got = {(r.kpi_id, group_key(r)): r for r in run.results}
    assert len(got) == len(run.results), "one result per KPI and group"
    dated = [r for r in rows if any(in_period(r, span) for span in PERIODS.values())]
    shown = {()} | {(("category", r.category),) for r in dated}  # overall, and groups with records in a period
    for (kpi_id, group), periods in wanted.items():
        # The overall row is always there; a group row is there when the group has records in a compared period,
        # even if its value is no data in all of them (a zero denominator, every input missing).
        assert ((kpi_id, group) in got) == (group in shown), f"{kpi_id} {group}: group row present or not"
        if group in shown:
            check_row(got[kpi_id, group], periods)
    assert set(got) <= set(wanted), "no group the export does not have"


MINIMAL = [
    Row(datetime(2026, 1, 5, 10), "x", None, 1.0, None),  # group x: a record of the period, every b missing
    Row(datetime(2026, 1, 6, 10), "y", None, 2.0, 4.0),
]


@PROPERTY_SETTINGS
@given(exports())
@example((MINIMAL, "csv"))  # the case Hypothesis first shrank to (a group whose every b is missing)
def test_group_rows_of_count_and_sum_ratios_add_up_to_the_overall_row(export):
    # A count ratio: a group with no closed record has numerator 0 too, so even a dropped group row loses nothing.
    # A sum ratio: a group whose every b is missing has a zero denominator, and must keep its row all the same.
    run = run_engine(*export)
    for kpi_id in ("closed_a_gt_b", "sum_ratio"):
        results = [r for r in run.results if r.kpi_id == kpi_id]
        overall = next(r for r in results if not r.group)
        groups = [r for r in results if r.group]
        for part in ("numerator", "denominator", "sample_size"):
            # A group without records in the period has no numerator or denominator: it adds nothing.
            assert sum(getattr(r, part) or 0 for r in groups) == (getattr(overall, part) or 0), f"{kpi_id}: {part}"


def test_a_group_with_records_but_a_zero_denominator_keeps_its_row():
    """The minimal case Hypothesis found: group x has one record of the period, with a = 1 and b missing."""
    results = [r for r in run_engine(MINIMAL, "csv").results if r.kpi_id == "sum_ratio"]
    assert [(r.group, r.numerator, r.denominator) for r in results] == [
        ({}, 3.0, 4.0),
        ({"category": "x"}, 1.0, 0.0),  # no data (the denominator is zero), but the group is there
        ({"category": "y"}, 2.0, 4.0),
    ]
