"""The records as they were known at the as-of moment.

"As of" means the data as it stood then: a record whose date column lies after the moment did not exist yet, and a
closure, posting or update stamped after it had not happened yet. Columns marked `scheduled` (due dates, meeting
starts) are planned ahead and are kept as they are.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from civic_kpi.time.periods import FIRST_YEAR

if TYPE_CHECKING:
    import polars as pl

    from civic_kpi.catalog.model import Dataset
    from civic_kpi.time.moment import Moment

KNOWN = "__known"  # the record existed at the moment
# Which of the record's event stamps lay after the moment (bit i: event_columns[i]) and which after today
# (bit FUTURE + i): one word per record for both, so a run with many records holds no more than it must.
LATE = "__late_stamps"
FUTURE = 32
EARLIEST = datetime(FIRST_YEAR, 1, 1)  # a record dated before it falls in no period: a typo such as 0001-01-01


def as_known_at(
    frame: pl.LazyFrame, dataset: Dataset, columns: set[str], moment: Moment, today: datetime | None = None
) -> pl.LazyFrame:
    """Add KNOWN and LATE, and blank every event stamp (of `columns`) after the moment. Records are flagged, not
    dropped, so that the per-file row counts read from the same frame still count every record of the file.
    `today` (the run's clock): stamps after it are flagged too, as likely typos, for after_moment_note."""
    import polars as pl

    date_column = dataset.date_column
    exists = moment.known(pl.col(date_column)) if date_column in dataset.event_columns else pl.lit(True)
    counted = event_columns(dataset, columns | ({date_column} & dataset.event_columns))
    bits = [(~moment.known(pl.col(c))).cast(pl.UInt64) * (1 << i) for i, c in enumerate(counted)]
    if today is not None:
        bits += [(~moment.known(pl.col(c), today)).cast(pl.UInt64) * (1 << (FUTURE + i)) for i, c in enumerate(counted)]
    return frame.with_columns(
        exists.alias(KNOWN),
        (pl.sum_horizontal(bits) if bits else pl.lit(0)).cast(pl.UInt64).alias(LATE),
        *(
            pl.when(moment.known(pl.col(c))).then(pl.col(c)).otherwise(None).alias(c)
            for c in sorted(dataset.event_columns & columns)  # every one, even past the counted 32
        ),
    )


def event_columns(dataset: Dataset, columns: set[str]) -> list[str]:
    """The event columns of `columns` whose late stamps are counted, in the order of LATE's bits (one bit each, so
    at most 32; a 33rd is still blanked, just not counted)."""
    return sorted(dataset.event_columns & columns)[:FUTURE]


def known_records(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Only the records that existed at the moment."""
    import polars as pl

    return frame.filter(pl.col(KNOWN))


def after_moment_query(
    frame: pl.LazyFrame, dataset: Dataset, columns: set[str], today: datetime | None = None
) -> pl.LazyFrame:
    """How many records were left out as not yet existing, per event column how many stamps of the others were
    blanked, and (with `today`, as given to as_known_at) per event column how many stamps are after today."""
    import polars as pl

    known = pl.col(KNOWN)
    counted = event_columns(dataset, columns | ({dataset.date_column} & dataset.event_columns))
    return frame.select(
        (~known).sum().alias("unborn"),
        (pl.col(dataset.date_column).cast(pl.Datetime("us")) < pl.lit(EARLIEST)).sum().alias("early"),
        *(
            ((pl.col(LATE) & (1 << i)) != 0).filter(known).sum().alias(f"late|{column}")
            for i, column in enumerate(counted)
            if column in columns
        ),
        *(
            ((pl.col(LATE) & (1 << (FUTURE + i))) != 0).sum().alias(f"future|{column}")
            for i, column in enumerate(counted)
            if today is not None
        ),
    )


def cut_at_moment(counts: dict[str, int | None]) -> bool:
    """Whether the moment left out records or blanked stamps (a row of after_moment_query)."""
    return any(count for key, count in counts.items() if key == "unborn" or key.startswith("late|"))


def after_moment_note(
    name: str, dataset: Dataset, moment: Moment, counts: dict[str, int | None], today: datetime | None = None
) -> str:
    """One line saying what the moment left out of a dataset, and which stamps are after today (the run's clock);
    empty when there is neither. `counts`: the row of after_moment_query."""
    parts = []
    unborn = counts.get("unborn") or 0
    if unborn:
        parts.append(
            f"{unborn} record{'s' if unborn != 1 else ''} whose {dataset.date_column} is after the as-of moment "
            f"({moment}) did not exist yet and {'are' if unborn != 1 else 'is'} left out"
        )
    late = {key.split("|", 1)[1]: count for key, count in counts.items() if key.startswith("late|") and count}
    if late:
        listed = ", ".join(f"{count} {column}" for column, count in sorted(late.items()))
        parts.append(
            f"stamps after the moment had not happened yet and read as missing ({listed}; a column planned ahead, "
            "such as a due date, is marked scheduled: true)"
        )
    future = {key.split("|", 1)[1]: count for key, count in counts.items() if key.startswith("future|") and count}
    if future and today is not None:
        listed = ", ".join(f"{count} {column}" for column, count in sorted(future.items()))
        total = sum(future.values())
        parts.append(
            f"{listed} {'is' if total == 1 else 'are'} dated after today ({today:%Y-%m-%d %H:%M}): "
            f"check {'it' if total == 1 else 'them'} for a mistyped year"
        )
    early = counts.get("early") or 0
    if early:
        parts.append(
            f"{early} record{'s' if early != 1 else ''} {'are' if early != 1 else 'is'} dated before "
            f"{EARLIEST.year} ({dataset.date_column}), before any period: check "
            f"{'them' if early != 1 else 'it'} for a mistyped year"
        )
    return f"{name}: " + "; ".join(parts) if parts else ""
