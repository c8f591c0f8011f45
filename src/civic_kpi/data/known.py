"""The records as they were known at the as-of moment.

"As of" means the data as it stood then: a record whose date column lies after the moment did not exist yet, and a
closure, posting or update stamped after it had not happened yet. Columns marked `scheduled` (due dates, meeting
starts) are planned ahead and are kept as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from civic_kpi.catalog.model import Dataset
    from civic_kpi.time.moment import Moment

KNOWN = "__known"  # the record existed at the moment
LATE = "__late_stamps"  # which of the record's event stamps lay after the moment (bit i: event_columns[i])


def as_known_at(frame: pl.LazyFrame, dataset: Dataset, columns: set[str], moment: Moment) -> pl.LazyFrame:
    """Add KNOWN and LATE, and blank every event stamp (of `columns`) after the moment. Records are flagged, not
    dropped, so that the per-file row counts read from the same frame still count every record of the file."""
    import polars as pl

    date_column = dataset.date_column
    exists = moment.known(pl.col(date_column)) if date_column in dataset.event_columns else pl.lit(True)
    bits = [
        (~moment.known(pl.col(c))).cast(pl.UInt64) * (1 << i) for i, c in enumerate(event_columns(dataset, columns))
    ]
    return frame.with_columns(
        exists.alias(KNOWN),
        (pl.sum_horizontal(bits) if bits else pl.lit(0)).cast(pl.UInt64).alias(LATE),
        *(
            pl.when(moment.known(pl.col(c))).then(pl.col(c)).otherwise(None).alias(c)
            for c in sorted(dataset.event_columns & columns)  # every one, even past the counted 64
        ),
    )


def event_columns(dataset: Dataset, columns: set[str]) -> list[str]:
    """The event columns of `columns` whose late stamps are counted, in the order of LATE's bits (one bit each, so
    at most 64; a 65th is still blanked, just not counted)."""
    return sorted(dataset.event_columns & columns)[:64]


def known_records(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Only the records that existed at the moment."""
    import polars as pl

    return frame.filter(pl.col(KNOWN))


def after_moment_query(frame: pl.LazyFrame, dataset: Dataset, columns: set[str]) -> pl.LazyFrame:
    """How many records were left out as not yet existing, and per event column how many stamps of the others
    were blanked."""
    import polars as pl

    known = pl.col(KNOWN)
    return frame.select(
        (~known).sum().alias("unborn"),
        *(
            ((pl.col(LATE) & (1 << i)) != 0).filter(known).sum().alias(column)
            for i, column in enumerate(event_columns(dataset, columns))
        ),
    )


def after_moment_note(name: str, dataset: Dataset, moment: Moment, counts: dict[str, int]) -> str:
    """One line saying what the moment left out of a dataset; empty when it left out nothing. `counts`: the row of
    after_moment_query."""
    parts = []
    unborn = counts.get("unborn") or 0
    if unborn:
        parts.append(
            f"{unborn} record{'s' if unborn != 1 else ''} whose {dataset.date_column} is after the as-of moment "
            f"({moment}) did not exist yet and {'are' if unborn != 1 else 'is'} left out"
        )
    late = {column: count for column, count in counts.items() if column != "unborn" and count}
    if late:
        listed = ", ".join(f"{count} {column}" for column, count in sorted(late.items()))
        parts.append(
            f"stamps after the moment had not happened yet and read as missing ({listed}; a column planned ahead, "
            "such as a due date, is marked scheduled: true)"
        )
    return f"{name}: " + "; ".join(parts) if parts else ""
