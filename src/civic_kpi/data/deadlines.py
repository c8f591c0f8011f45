"""SLA policies (Houston 311 policy 5.1): a deadline per request type, in calendar or business days.

A policy table gives, per key (request type), the days allowed, whether they are calendar or business days, and an
explanation for long SLAs. A dataset declares deadline columns derived from it; the engine joins the small table
onto the records lazily and computes every deadline in Polars:

- calendar days: the start plus N days, same clock time;
- business days: the spreadsheet's WORKDAY(start, N) at the start's clock time: the Nth business day after the
  start's day, skipping the calendar's weekend days, public holidays (the maintained `holidays` package) and the
  city's own closure dates. A request created on a Saturday with N = 1 is due on Monday.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from civic_kpi.catalog.model import Catalog, Dataset, Deadline, SlaPolicy
from civic_kpi.data.sources import read_small_table, resolve_files
from civic_kpi.errors import DataError, Problem, did_you_mean
from civic_kpi.time.business_days import holiday_dates, week_mask

if TYPE_CHECKING:
    import polars as pl

# Houston 5.1.4: SLAs longer than this many calendar days need a written explanation.
LONG_SLA_CALENDAR_DAYS = 30


def load_policy_table(name: str, policy: SlaPolicy, data_dir: Path) -> pl.DataFrame:
    """The policy table as key / days / business / explanation, checked row by row."""
    import polars as pl

    field = f"sla_policies.{name}"
    if policy.rows is not None:
        where = "the catalog"
        columns = list(dict.fromkeys(key for row in policy.rows for key in row))
        raw = pl.DataFrame(
            {c: [None if row.get(c) is None else str(row[c]) for row in policy.rows] for c in columns},
            schema=dict.fromkeys(columns, pl.String),
        )
    else:
        assert policy.path is not None
        path = resolve_files(name, policy.path, data_dir, "sla_policies")[0]
        where = str(path)
        raw = read_small_table(path, "SLA table", field)
    wanted = [c for c in (policy.key, policy.days, policy.day_type, policy.explanation) if c]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise DataError(
            [
                Problem(
                    f"column '{column}' not found in the SLA table",
                    file=where,
                    field=field,
                    hint=did_you_mean(column, raw.columns) or f"the table has: {', '.join(raw.columns)}",
                )
                for column in missing
            ]
        )
    table = raw.with_row_index("line", offset=2).select(
        "line",
        pl.col(policy.key).str.strip_chars().alias("key"),
        pl.col(policy.days).str.strip_chars().cast(pl.Int64, strict=False).alias("days"),
        (pl.col(policy.days).str.strip_chars()).alias("days_text"),
        (pl.col(policy.day_type).str.strip_chars().str.to_lowercase() if policy.day_type else pl.lit("calendar")).alias(
            "day_type"
        ),
        (pl.col(policy.explanation).str.strip_chars() if policy.explanation else pl.lit(None, pl.String)).alias(
            "explanation"
        ),
    )
    # Inline rows are numbered from 1; a file's from 2, after its header line.
    table = table.with_columns(pl.col("line") - (1 if policy.rows is not None else 0))
    row_word = "row" if policy.rows is not None else "line"
    problems = [
        Problem(f"{row_word} {row['line']}: {what}", file=where, field=field, hint=hint)
        for row in table.iter_rows(named=True)
        for what, hint in _row_problems(row)
    ]
    duplicates = table.filter(pl.col("key").is_duplicated())["key"].unique().to_list()
    problems += [
        Problem(f"key '{key}' appears more than once", file=where, field=field, hint="keep one row per key")
        for key in duplicates
    ]
    if problems:
        raise DataError(problems)
    return table.select("key", "days", (pl.col("day_type") == "business").alias("business"), "explanation")


def _row_problems(row: dict) -> list[tuple[str, str]]:
    found = []
    if not row["key"]:
        found.append(("no key", "every row needs the request type it applies to"))
    if row["days"] is None:
        found.append((f"'{row['days_text']}' is not a whole number of days", "write the SLA as a number of days"))
    elif row["days"] < 0:
        found.append((f"the SLA of {row['days']} days is negative", "write the number of days allowed, 0 or more"))
    if row["day_type"] not in ("calendar", "business"):
        found.append((f"day type '{row['day_type']}' is neither calendar nor business", "write calendar or business"))
    return found


def long_sla_warnings(catalog: Catalog, data_dir: Path) -> list[Problem]:
    """Houston 5.1.4: every SLA that can exceed 30 calendar days must carry an explanation."""
    warnings = []
    for name, policy in catalog.sla_policies.items():
        table = load_policy_table(name, policy, data_dir)
        where = str(resolve_files(name, policy.path, data_dir, "sla_policies")[0]) if policy.path else None
        calendar = catalog.calendars.get(policy.calendar) if policy.calendar else None
        per_week = sum(week_mask(calendar))
        for row in table.iter_rows(named=True):
            days = row["days"]
            # N business days span at least 7 * (N // per_week) + N % per_week calendar days (no holiday inside).
            span = days if not row["business"] else 7 * (days // per_week) + days % per_week
            if span > LONG_SLA_CALENDAR_DAYS and not row["explanation"]:
                unit = "business days" if row["business"] else "calendar days"
                warnings.append(
                    Problem(
                        f"the SLA for '{row['key']}' is {days} {unit} (over {LONG_SLA_CALENDAR_DAYS} calendar days) "
                        "and has no explanation",
                        file=where,
                        field=f"sla_policies.{name}",
                        hint="Houston policy 5.1.4: explain why such requests may stay open this long",
                    )
                )
    return warnings


def require_one_rule(name: str, deadline: Deadline, table: pl.DataFrame) -> None:
    """A deadline without a key takes the one row of its policy table: more rows, or none, is the catalog's error
    (every record would get each of them)."""
    if deadline.key is None and table.height != 1:
        raise DataError(
            Problem(
                f"deadline '{name}' has no key, so its policy table must have exactly one row (it has {table.height})",
                field=f"sla_policies.{deadline.policy}",
                hint="add key: COLUMN to the deadline, or keep one row in the table",
            )
        )


def with_deadlines(
    frame: pl.LazyFrame, dataset: Dataset, names: set[str], catalog: Catalog, data_dir: Path, years: range
) -> pl.LazyFrame:
    """Add the deadline columns `names` of the dataset to its lazy frame (one small join per deadline)."""
    import polars as pl

    for name in sorted(names):
        deadline = dataset.deadlines[name]
        policy = catalog.sla_policies[deadline.policy]
        calendar = catalog.calendars.get(policy.calendar) if policy.calendar else None
        holidays = holiday_dates(calendar, years, policy.calendar or "") if calendar else []
        table = load_policy_table(deadline.policy, policy, data_dir)
        days, business = f"__{name}_days", f"__{name}_business"
        start = pl.col(deadline.start)
        if deadline.key is None:
            require_one_rule(name, deadline, table)
            frame = frame.with_columns(
                pl.lit(table["days"][0]).alias(days), pl.lit(table["business"][0]).alias(business)
            )
        else:
            lookup = table.select(
                pl.col("key").alias(f"__{name}_key"), pl.col("days").alias(days), pl.col("business").alias(business)
            ).lazy()
            frame = frame.with_columns(pl.col(deadline.key).cast(pl.String).alias(f"__{name}_key")).join(
                lookup, on=f"__{name}_key", how="left", maintain_order="left"
            )
        frame = frame.with_columns(
            pl.when(pl.col(business))
            .then(
                # WORKDAY(start, 0) is the start itself; rolling a weekend start back must not precede it.
                pl.max_horizontal(
                    start,
                    start.dt.add_business_days(
                        pl.col(days), week_mask=week_mask(calendar), holidays=holidays, roll="backward"
                    ),
                )
            )
            .otherwise(start + pl.duration(days=pl.col(days)))
            .alias(name)
        ).drop(f"__{name}_key", days, business, strict=False)
    return frame


def sla_deadlines(catalog: object, dataset: str, data_dir: str | Path | None = None) -> pl.DataFrame:
    """Every record of a dataset with its deadline columns (and the columns they derive from), for checking."""
    from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
    from civic_kpi.data.sources import scan_dataset
    from civic_kpi.errors import UsageError

    loaded = catalog if isinstance(catalog, LoadedCatalog) else load_catalog(catalog)  # type: ignore[arg-type]
    cat = loaded.catalog
    if dataset not in cat.datasets:
        raise UsageError(Problem(f"unknown dataset '{dataset}'", hint=did_you_mean(dataset, list(cat.datasets))))
    spec = cat.datasets[dataset]
    if not spec.deadlines:
        raise UsageError(Problem(f"dataset '{dataset}' declares no deadlines", field=f"datasets.{dataset}.deadlines"))
    root = loaded.data_dir(data_dir)
    used = {c for d in spec.deadlines.values() for c in (d.start, d.key) if c is not None}
    identity = [name for name in spec.columns if name.endswith("_id") or name in ("id", "request_number")]
    scan = scan_dataset(dataset, spec, root, used | set(identity), cat.timezone)
    frame = with_deadlines(scan.frame, spec, set(spec.deadlines), cat, root, range(1990, 2046))
    return frame.select(*identity, *sorted(used), *sorted(spec.deadlines)).collect()
