"""The monthly performance review (Houston 311 policy 5.2): which groups fell short of a standard, and who owns them.

For a month, every rule's KPI is computed per review group (request type) and owner (agency); each group whose
value is under the rule's line goes on the list, with the counts behind it and the date the review is due (the
catalog's due day of the following month).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.engine import compute
from civic_kpi.errors import Problem, UsageError
from civic_kpi.results import ReviewItem, ReviewRun, Status
from civic_kpi.time.periods import Period, parse_period


def _month(value: str | Period | None, loaded: LoadedCatalog) -> Period | None:
    if value is None or isinstance(value, Period):
        return value
    period = parse_period(value, loaded.catalog.fiscal_year_start_month)
    if period.kind != "month":
        raise UsageError(Problem(f"a review covers one month, not '{value}'", hint="give --month YYYY-MM"))
    return period


def review(
    catalog: LoadedCatalog | str | Path,
    *,
    month: str | Period | None = None,
    data_dir: str | Path | None = None,
    as_of: datetime | str | None = None,
    progress: Callable[[str], None] | None = None,
    engine: str = "polars",
) -> ReviewRun:
    """The review list for one month (default: the latest complete month in the data); `progress` and `engine` as
    in compute."""
    loaded = catalog if isinstance(catalog, LoadedCatalog) else load_catalog(catalog)
    config = loaded.catalog.performance_review
    if config is None:
        raise UsageError(
            Problem(
                "the catalog has no performance_review section",
                file=str(loaded.path),
                hint="add performance_review: {by: [request_type], owner: agency, rules: [...]} "
                "(see docs/how-to/monthly-review.md)",
            )
        )
    period = _month(month, loaded)
    dims = [*config.by, *([config.owner] if config.owner and config.owner not in config.by else [])]
    rules = {rule.kpi: rule for rule in config.rules}
    run = compute(
        loaded,
        period=period,
        by=dims,
        kpis=list(rules),
        data_dir=data_dir,
        as_of=as_of,
        progress=progress,
        engine=engine,
    )
    items = []
    checked = set()
    for result in run.results:
        if not result.group or result.value is None or result.status == Status.NO_DATA:
            continue
        checked.add(tuple(result.group.items()))
        rule = rules[result.kpi_id]
        if result.value < rule.below:
            items.append(
                ReviewItem(
                    group=result.group,
                    owner=result.group.get(config.owner) if config.owner else None,
                    kpi_id=result.kpi_id,
                    kpi_name=result.name,
                    rule=rule.label or f"{result.name} under {rule.below:g}",
                    threshold=rule.below,
                    value=result.value,
                    unit=result.unit,
                    numerator=result.numerator,
                    denominator=result.denominator,
                    sample_size=result.sample_size,
                )
            )
    items.sort(key=lambda item: (item.owner or "", *(str(v) for v in item.group.values()), item.kpi_id))
    start = run.period.start
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return ReviewRun(
        catalog=run.catalog,
        month=run.period,
        owner_key=config.owner,
        review_due=following.replace(day=config.due_day),
        as_of=run.as_of,
        groups_checked=len(checked),
        items=items,
        notes=run.notes,
    )
