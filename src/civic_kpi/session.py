"""A library session: one catalog, one data folder, one as-of moment; its methods mirror the commands.

    import civic_kpi

    session = civic_kpi.open("kpi_definitions.yaml", as_of="2026-11-15")
    run = session.compute(period="2026-10", by=["priority"])

Each method is the command of the same name, takes the command's options under the same names and returns the
document the command renders; nothing here prints or exits. The CLI is a thin shell over these methods, so a
session and a command given the same options give the same results and raise the same errors.

Heavy modules (Polars, the engine) are imported inside the methods, so that the CLI can import this module without
making `civic-kpi --help` pay for them.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civic_kpi.errors import Problem, UsageError

if TYPE_CHECKING:
    from civic_kpi.catalog.loader import LoadedCatalog
    from civic_kpi.data.validation import ValidationReport
    from civic_kpi.engine.judge import GroupRows
    from civic_kpi.engine.plan import Plan
    from civic_kpi.results import (
        CheckRun,
        ComputeRun,
        DashboardRun,
        Explanation,
        FileProfile,
        KpiList,
        KpiResult,
        RecordRows,
        ReviewRun,
        ScorecardRun,
    )
    from civic_kpi.time.periods import Period, SeriesKind

Progress = Callable[[str], None]

TREND_MONTHS = 24  # the dashboard's trend charts: two years, so that each month has its year-ago month beside it


class Session:
    """The catalog, data folder and as-of moment every command of one analysis shares.

    `catalog` is a path (read at the first method that needs it, then reused) or a catalog already loaded.
    `data_dir` (default: the catalog's data_dir) is where dataset paths start. `as_of` (a datetime, or text such as
    "2026-11-15 08:00") is the moment the results describe; left out, compute, review and scorecard take the
    newest record of the data and check takes the current time. `engine` runs the aggregations of compute, review,
    scorecard, report and explain on Polars ("polars", the default) or as SQL: "duckdb", "postgres", "spark".
    """

    def __init__(
        self,
        catalog: LoadedCatalog | str | Path,
        data_dir: str | Path | None = None,
        as_of: datetime | str | None = None,
        engine: str = "polars",
    ) -> None:
        # A path is read lazily because `inspect` and `presets` need no catalog and `validate` reports a broken
        # catalog's problems instead of raising them.
        if isinstance(catalog, str | os.PathLike):
            self._loaded: LoadedCatalog | None = None
            self.catalog_path = Path(catalog)
        else:
            self._loaded = catalog
            self.catalog_path = catalog.path
        self.data_dir = data_dir
        self.as_of = as_of
        self.engine = engine

    def __repr__(self) -> str:
        engine = f", engine={self.engine!r}" if self.engine != "polars" else ""
        return f"Session(catalog={str(self.catalog_path)!r}, data_dir={self.data_dir!r}, as_of={self.as_of!r}{engine})"

    @property
    def catalog(self) -> LoadedCatalog:
        """The loaded catalog: read once, then shared by every method."""
        if self._loaded is None:
            from civic_kpi.catalog.loader import load_catalog

            self._loaded = load_catalog(self.catalog_path)
        return self._loaded

    def compute(
        self,
        period: Period | str | None = None,
        *,
        every: SeriesKind | None = None,
        by: list[str] | list[list[str]] | None = None,
        kpis: list[str] | None = None,
        domains: list[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        progress: Progress | None = None,
        max_groups: int | None = None,
        group_rows: GroupRows = "every period",
    ) -> ComputeRun:
        """`civic-kpi compute`: every KPI (or those of `kpis` / `domains`) for one period or a series.

        `period` is 2026-10, 2026-Q3, 2026, FY2026 or 2026-01-01..2026-03-31 (default: the latest complete month);
        `date_from` and `date_to` (--from/--to) give a range instead. `every` ("month", "quarter", "year",
        "fiscal_year") makes a series. `by` is a list of columns (one breakdown by all of them) or a list of lists
        (several breakdowns); None uses each KPI's catalog group_by and [] gives the overall rows only.
        A breakdown with more than `max_groups` distinct groups (default: 10,000) raises a UsageError before any
        value is computed. `progress`, if given, hears which datasets are being read. `group_rows="last period"`
        lists a series' breakdowns for its last period alone (the dashboard's cards), beside every overall row.
        """
        run, results = self.compute_stream(
            period,
            every=every,
            by=by,
            kpis=kpis,
            domains=domains,
            date_from=date_from,
            date_to=date_to,
            progress=progress,
            max_groups=max_groups,
            group_rows=group_rows,
        )
        return run.model_copy(update={"results": list(results)})

    def compute_stream(
        self,
        period: Period | str | None = None,
        *,
        every: SeriesKind | None = None,
        by: list[str] | list[list[str]] | None = None,
        kpis: list[str] | None = None,
        domains: list[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        progress: Progress | None = None,
        max_groups: int | None = None,
        group_rows: GroupRows = "every period",
    ) -> tuple[ComputeRun, Iterator[KpiResult]]:
        """`compute` for writing a file: the run document without its rows (`results` is empty) and the rows, in the
        same order, each judged when asked for, so that a writer holds one at a time. Takes compute's options.
        """
        from civic_kpi.engine import compute_stream
        from civic_kpi.engine.request import MAX_GROUPS

        chosen = period
        if date_from or date_to:
            if period:
                raise UsageError("give either --period or --from/--to, not both")
            if not (date_from and date_to):
                raise UsageError("--from and --to go together")
            from civic_kpi.time.periods import date_range

            chosen = date_range(date_from, date_to).label
        return compute_stream(
            self.catalog,
            period=chosen,
            every=every,
            by=by,
            kpis=kpis,
            domains=domains,
            data_dir=self.data_dir,
            as_of=self.as_of,
            progress=progress,
            max_groups=MAX_GROUPS if max_groups is None else max_groups,
            engine=self.engine,
            group_rows=group_rows,
        )

    def dashboard(
        self,
        period: Period | str | None = None,
        *,
        every: SeriesKind | None = None,
        by: list[str] | list[list[str]] | None = None,
        kpis: list[str] | None = None,
        domains: list[str] | None = None,
        progress: Progress | None = None,
        max_groups: int | None = None,
        early: Callable[[DashboardRun], Any] | None = None,
    ) -> DashboardRun:
        """What `report` draws, from one run: the series behind the trend charts (the 24 months up to the period,
        or the `every` series of `period`), with the breakdowns, whose last period makes the cards; each KPI's
        definition in catalog order; the month's performance review where the catalog has one and the fiscal-year
        scorecard where a target names fiscal years, both at the series' moment. A `period` that is not a month,
        without `every`, is a run of its own beside the monthly series. Takes compute's options; `early`, if given,
        is called with the page as it stands before the review and the scorecard are computed (both None), which
        is all the charts need: `report` starts drawing them then."""
        from civic_kpi.engine import select_kpis
        from civic_kpi.results import DashboardRun

        options: dict[str, Any] = {"kpis": kpis, "domains": domains, "progress": progress, "max_groups": max_groups}
        # One moment for the whole page, found once: the cards, the trends and the programs describe the same data.
        at = self._with_moment(self._dashboard_moment(kpis, domains))
        # One series, with the breakdowns, makes the whole dashboard: the trend charts are its overall rows and the
        # cards its last period, so the page costs one read of each dataset, as `compute --every` does. Only a
        # period that is not a month without --every (a quarter's cards over monthly trends) needs a second run.
        if every is None and period is not None and not _is_month(period):
            run = at.compute(period, by=by, **options)
            trend = at.compute(_months_up_to(run.period.end, TREND_MONTHS), every="month", by=[], **options)
        else:
            if every is None or (every == "month" and period is None):  # the default: 24 months up to it
                period = _months_up_to(_month_end(period, at, kpis), TREND_MONTHS)
            # The page shows the groups of the cards' period alone: the earlier periods' are not judged.
            trend = at.compute(period, every=every or "month", by=by, group_rows="last period", **options)
            run = last_period(trend)
        catalog = self.catalog.catalog
        cards = self._cards(run, kpis, domains)
        if early is not None:
            early(DashboardRun(run=run, trend=trend, cards=cards))
        review = scorecard = None
        if catalog.performance_review is not None and _is_month(run.period):
            review = at.review(run.period.label, progress=progress)
        chosen = select_kpis(catalog, kpis, domains)
        if any(kpi.target is not None and kpi.target.by_period for kpi in chosen):
            # The latest fiscal year that has ended at the as-of moment, as `scorecard` takes by default.
            scorecard = at.scorecard(kpis=[kpi.id for kpi in chosen], progress=progress)
        return DashboardRun(run=run, trend=trend, cards=cards, review=review, scorecard=scorecard)

    def report(
        self,
        period: Period | str | None = None,
        *,
        every: SeriesKind | None = None,
        by: list[str] | list[list[str]] | None = None,
        kpis: list[str] | None = None,
        domains: list[str] | None = None,
        output: str | Path | None = None,
        progress: Progress | None = None,
        max_groups: int | None = None,
    ) -> str:
        """`civic-kpi report`: the dashboard as one self-contained HTML page (see `dashboard` for what it holds),
        returned and, given `output`, written there atomically. Takes compute's options."""
        _, text = self.dashboard_page(
            period, every=every, by=by, kpis=kpis, domains=domains, progress=progress, max_groups=max_groups
        )
        if output is not None:
            from civic_kpi.output import write_atomic

            write_atomic(output, text)
        return text

    def dashboard_page(
        self,
        period: Period | str | None = None,
        *,
        every: SeriesKind | None = None,
        by: list[str] | list[list[str]] | None = None,
        kpis: list[str] | None = None,
        domains: list[str] | None = None,
        progress: Progress | None = None,
        max_groups: int | None = None,
    ) -> tuple[DashboardRun, str]:
        """The dashboard (`dashboard`) and its HTML page (`report`), for a caller that says what the page holds."""
        from civic_kpi.report.charts import prepare
        from civic_kpi.report.html import PageCharts, draw_charts, to_html

        prepare()  # the thread that draws the charts, warmed while compute reads the data
        drawn: list[PageCharts] = []  # drawn while the review and the scorecard are computed
        board = self.dashboard(
            period,
            every=every,
            by=by,
            kpis=kpis,
            domains=domains,
            progress=progress,
            max_groups=max_groups,
            early=lambda page: drawn.append(draw_charts(page)),
        )
        return board, to_html(board, drawn[0] if drawn else None)

    def _dashboard_moment(self, kpis: list[str] | None, domains: list[str] | None) -> Any:
        """The session's as-of moment, else the newest record's as compute finds it for these KPIs (a dataset
        they do not read may be unreadable), else None: no dated data, or a data folder compute will name."""
        if self.as_of is not None:
            return self.as_of
        from civic_kpi.engine import moment_of_data, select_kpis

        loaded = self.catalog
        if not loaded.data_dir(self.data_dir).is_dir():
            return None  # compute says "data directory not found", with its hint
        return moment_of_data(loaded, self.data_dir, select_kpis(loaded.catalog, kpis, domains), self.engine)

    def _with_moment(self, as_of: Any) -> Session:
        """This session at another as-of moment, sharing the loaded catalog."""
        return Session(self.catalog, data_dir=self.data_dir, as_of=as_of, engine=self.engine)

    def _cards(self, run: ComputeRun, kpis: list[str] | None, domains: list[str] | None) -> list:
        """Each KPI's definition as the dashboard shows it, with the goal lines of the run's groups."""
        from civic_kpi.engine import select_kpis
        from civic_kpi.results import KpiCard
        from civic_kpi.targets import describe_with_groups, resolve_target

        def line(target: Any) -> tuple[float | None, float | None]:
            # Only a rule on the value itself is a line on the value's axis; a change or a trend is not.
            if target is None or target.compare_to != "value" or target.trend_to_zero or target.between:
                return None, None
            return target.goal, None if target.warn is None else float(target.warn)

        cards = []
        for kpi in select_kpis(self.catalog.catalog, kpis, domains):
            rows = [result for result in run.results if result.kpi_id == kpi.id]
            target = kpi.target
            resolved = resolve_target(target, {}, run.period.label) if target else None
            goal, warn = line(resolved)
            band = None
            if resolved is not None and resolved.between is not None and resolved.compare_to == "value":
                band = (float(resolved.between[0]), float(resolved.between[1]))
            group_goals = {
                row.group_label: line(resolve_target(target, row.group, row.period.label))[0]
                for row in rows
                if row.group and target
            }
            formulas = {
                name: text
                for name in ("value", "numerator", "denominator", "where")
                if (text := getattr(kpi, name)) is not None
            }
            cards.append(
                KpiCard(
                    id=kpi.id,
                    name=kpi.name,
                    domain=kpi.domain,
                    unit=kpi.unit,
                    decimals=kpi.decimals,
                    description=kpi.description,
                    reference=kpi.reference,
                    formulas=formulas,
                    target=describe_with_groups(target, kpi.unit) if target else None,
                    target_text=target.text if target else None,
                    goal=goal,
                    warn=warn,
                    band=band,
                    group_goals=group_goals,
                    group_by=[list(columns) for columns in kpi.breakdowns],
                )
            )
        return cards

    def review(self, month: Period | str | None = None, *, progress: Progress | None = None) -> ReviewRun:
        """`civic-kpi review`: the groups under a standard of the catalog's performance_review in one month
        (YYYY-MM, default: the latest complete month)."""
        from civic_kpi.programs.houston_review import review

        return review(
            self.catalog, month=month, data_dir=self.data_dir, as_of=self.as_of, progress=progress, engine=self.engine
        )

    def scorecard(
        self,
        fiscal_year: str | None = None,
        *,
        kpis: list[str] | None = None,
        domains: list[str] | None = None,
        progress: Progress | None = None,
    ) -> ScorecardRun:
        """`civic-kpi scorecard`: one fiscal year (FY2026, default: the latest that has ended at the as-of moment)
        as Kansas City publishes it."""
        from civic_kpi.programs.kansas_city_scorecard import scorecard

        return scorecard(
            self.catalog,
            fiscal_year=fiscal_year,
            kpis=kpis,
            domains=domains,
            data_dir=self.data_dir,
            as_of=self.as_of,
            progress=progress,
            engine=self.engine,
        )

    def check(self, datasets: list[str] | None = None) -> CheckRun:
        """`civic-kpi check`: the data-quality checks of every dataset that declares some (or of `datasets`), with
        the session's as_of as the time 'future' and 'freshness' compare with (default: now), measured on the
        session's engine."""
        from civic_kpi.quality import check

        return check(self.catalog, data_dir=self.data_dir, datasets=datasets, now=self._moment(), engine=self.engine)

    def validate(self, check_data: bool = True) -> ValidationReport:
        """`civic-kpi validate`: every problem with the catalog and, unless `check_data` is False, with the columns
        and values of its data files (read as compute reads them), plus notes (columns nothing uses that a file
        lacks, codes a flag's lists do not know). A catalog that cannot be loaded is a report of its problems, not
        an exception."""
        from civic_kpi.data.validation import validate

        report = validate(self._loaded or self.catalog_path, data_dir=self.data_dir, check_data=check_data)
        if self._loaded is None and report.catalog is not None:
            self._loaded = report.catalog  # validate had to read it; the next method need not
        return report

    def inspect(self, file: str | Path, *, json_path: str | None = None) -> FileProfile:
        """`civic-kpi inspect`: profile one export (a path as given, not under the data folder) and propose the
        catalog entry that reads it. `json_path`: the key of a JSON object the records sit under (default: found
        for the layouts presets read, such as a data.json's `dataset`)."""
        from civic_kpi.data.inspect import inspect

        return inspect(file, json_path=json_path)

    def plan(
        self,
        period: Period | str | None = None,
        *,
        every: SeriesKind | None = None,
        by: list[str] | list[list[str]] | None = None,
        kpis: list[str] | None = None,
        domains: list[str] | None = None,
        max_groups: int | None = None,
    ) -> Plan:
        """The plan compute would run for these options: print it to read it, `civic_kpi.engine.execute(plan)` to
        run it (as often as you like: the same plan gives the same results). Running it refuses a breakdown with
        more than `max_groups` groups (default: 10,000), as compute does."""
        from civic_kpi.engine import plan_compute

        return plan_compute(self._request(period, every, by, kpis, domains, max_groups))[0]

    def sql(
        self,
        period: Period | str | None = None,
        *,
        every: SeriesKind | None = None,
        by: list[str] | list[list[str]] | None = None,
        kpis: list[str] | None = None,
        domains: list[str] | None = None,
        dialect: str = "duckdb",
    ) -> str:
        """`civic-kpi sql`: the SQL the duckdb engine runs for these options, in a dialect (duckdb, postgres, spark,
        snowflake, bigquery, trino), for a data team to run where the data is."""
        from civic_kpi.engine.sql.packages import required

        required("civic-kpi sql", "duckdb")  # SQLGlot, which any SQL extra installs
        from civic_kpi.engine.compute import plan_on
        from civic_kpi.engine.sql.dialects import sql_text
        from civic_kpi.engine.sql.executor import SqlExecutor

        # The statements need SQLGlot only, not the engine of the dialect: the writing executor of no engine.
        executor = SqlExecutor(self._request(period, every, by, kpis, domains, None))
        plan = plan_on(executor.request, executor)
        return sql_text(executor, plan, dialect)

    def _request(
        self,
        period: Period | str | None,
        every: SeriesKind | None,
        by: list[str] | list[list[str]] | None,
        kpis: list[str] | None,
        domains: list[str] | None,
        max_groups: int | None,
    ) -> Any:
        """These options checked against the catalog (engine/request.py's Request)."""
        from civic_kpi.engine import resolve
        from civic_kpi.engine.request import MAX_GROUPS

        return resolve(
            self.catalog,
            period=period,
            every=every,
            by=by,
            kpis=kpis,
            domains=domains,
            data_dir=self.data_dir,
            as_of=self.as_of,
            max_groups=MAX_GROUPS if max_groups is None else max_groups,
        )

    def explain(
        self,
        kpi: str,
        period: Period | str | None = None,
        *,
        by: list[str] | None = None,
        group: dict[str, str | None] | None = None,
        max_groups: int | None = None,
    ) -> Explanation:
        """`civic-kpi explain`: how one KPI's number for a period (default: the latest complete month) and group
        (default: overall, e.g. {"priority": "Critical"}) was made, step by step; `by` lists every group of those
        columns with the target it was judged against and why, up to `max_groups` groups per column (default:
        10,000; more raises a UsageError)."""
        from civic_kpi.engine.explain import explain
        from civic_kpi.engine.request import MAX_GROUPS

        return explain(
            self.catalog,
            kpi,
            period=period,
            by=by,
            group=group,
            data_dir=self.data_dir,
            as_of=self.as_of,
            max_groups=MAX_GROUPS if max_groups is None else max_groups,
            engine=self.engine,
        )

    def rows(
        self,
        kpi: str,
        period: Period | str | None = None,
        *,
        group: dict[str, str | None] | None = None,
        part: str = "all",
    ) -> RecordRows:
        """`civic-kpi rows`: the records behind one KPI's number (`part`: numerator, denominator, rest, sample,
        excluded or all), as a lazy Polars frame in `.frame` with the KPI's flags and computed columns."""
        from civic_kpi.engine.rows import rows

        return rows(
            self.catalog,
            kpi,
            period=period,
            group=group,
            part=part,  # type: ignore[arg-type]
            data_dir=self.data_dir,
            as_of=self.as_of,
        )

    # `list` is named like its command; below it, `list` in this class body would be the method, so the methods
    # that annotate with list[...] come before it.
    def list(self, domains: list[str] | None = None) -> KpiList:
        """`civic-kpi list`: the catalog's KPIs (or those of `domains`) with their dataset and target."""
        from civic_kpi.catalog.graph import inputs
        from civic_kpi.engine import select_kpis
        from civic_kpi.results import CatalogInfo, KpiEntry, KpiList
        from civic_kpi.targets import describe_with_groups

        loaded = self.catalog
        return KpiList(
            catalog=CatalogInfo(path=str(loaded.path), sha256=loaded.sha256, title=loaded.catalog.title),
            kpis=[
                KpiEntry(
                    id=kpi.id,
                    name=kpi.name,
                    domain=kpi.domain,
                    unit=kpi.unit,
                    dataset=kpi.dataset,
                    from_kpis=[*inputs(kpi)],
                    group_by=kpi.group_by,
                    target=describe_with_groups(kpi.target, kpi.unit) if kpi.target else None,
                    reference=kpi.reference,
                )
                for kpi in select_kpis(loaded.catalog, None, domains)
            ],
        )

    def init(self, files: Sequence[str | Path], *, timezone: str | None = None, force: bool = False) -> Path:
        """`civic-kpi init FILE...`: write a starter catalog for these exports at the session's catalog path (and
        the catalog's JSON Schema beside it, for editors, where there is none). An existing catalog is kept unless
        `force`. Returns the catalog's path."""
        from civic_kpi.catalog.model import json_schema_text
        from civic_kpi.output import write_atomic
        from civic_kpi.starter.catalog_text import starter_catalog

        path = self.catalog_path
        if path.exists() and not force:
            raise UsageError(
                Problem(
                    "a catalog is already there",
                    file=str(path),
                    hint="name another file with -c NEW.yaml, or replace it with --force",
                )
            )
        starter = starter_catalog(files, path, timezone=timezone)
        write_atomic(path, starter.text)
        schema = path.with_name("kpi_definitions.schema.json")
        if not schema.exists():
            write_atomic(schema, json_schema_text())
        return starter

    @staticmethod
    def init_example(folder: str | Path) -> Path:
        """`civic-kpi init --example DIR`: the bundled catalog and its sample data in a new folder, so the
        documentation's walkthrough runs anywhere. Returns the folder."""
        from civic_kpi.starter.example import write_example

        return write_example(folder)

    def presets(self) -> dict[str, dict[str, Any]]:
        """`civic-kpi presets`: the bundled presets by name (title, publisher, choices, the dataset mapping)."""
        from civic_kpi.catalog.presets import presets

        return copy.deepcopy(presets())  # the loader keeps the originals; a caller may edit what it gets

    def _moment(self) -> datetime | None:
        """The as-of moment, read here so that a bad one is named as-of, as compute names it, and not --now."""
        if self.as_of is None:
            return None
        from civic_kpi.time.moment import parse_moment

        return parse_moment(self.as_of, self.catalog.catalog.timezone)


def _is_month(period: Any) -> bool:
    return re.fullmatch(r"\d{4}-\d{2}", str(getattr(period, "label", period)).strip()) is not None


def _month_end(period: Any, session: Session, kpis: list[str] | None) -> Any:
    """The last day of the month asked for, else of the latest complete month at the session's moment."""
    from civic_kpi.time.moment import Moment
    from civic_kpi.time.periods import latest_complete_month, parse_period

    if period is not None:
        return parse_period(str(getattr(period, "label", period)).strip()).last_day
    as_of = session.as_of
    if as_of is None:
        # No moment found: planning compute's default month raises what compute would (no data folder, no
        # dated records) in compute's words.
        return session.plan(kpis=kpis).period.last_day
    at = as_of.at if isinstance(as_of, Moment) else session._moment()
    return latest_complete_month(at).last_day


def last_period(series: ComputeRun) -> ComputeRun:
    """A series' last period as a run of its own: the dashboard's cards, judged as the series judged them."""
    last = series.results[-1].period if series.results else series.period
    return series.model_copy(
        update={
            "period": last,
            "every": None,
            "results": [row for row in series.results if row.period.label == last.label],
        }
    )


def _months_up_to(day: Any, months: int) -> str:
    """The date range of the `months` whole months ending with the month of `day`, as a period label."""
    from datetime import date, timedelta

    index = day.year * 12 + day.month - months  # the first month, counted from year 0 month 1
    first = date(index // 12, index % 12 + 1, 1)
    last = date(day.year + (day.month == 12), day.month % 12 + 1, 1) - timedelta(days=1)
    return f"{first.isoformat()}..{last.isoformat()}"


def open(
    catalog: LoadedCatalog | str | Path,
    data_dir: str | Path | None = None,
    as_of: datetime | str | None = None,
    engine: str = "polars",
) -> Session:
    """A session over `catalog`, read now so that a mistake in it is raised here (a CatalogError listing every
    problem) rather than at the first command. `engine`: see Session."""
    session = Session(catalog, data_dir=data_dir, as_of=as_of, engine=engine)
    _ = session.catalog
    return session
