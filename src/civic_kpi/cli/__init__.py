"""The `civic-kpi` command: parse options, make one call on a library session, hand the result to a reporter.

Every command is a method of civic_kpi.session.Session under the same name and options, so whatever a command does
beyond reading its options belongs there (or in the library below it), where a notebook gets it too. Reporters
are imported inside the commands so that `civic-kpi --help` does not pay for Rich tables or Polars.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from civic_kpi import __version__
from civic_kpi.cli.option_errors import Commands
from civic_kpi.errors import CivicKpiError, ExitCode, Problem, UsageError
from civic_kpi.session import Session
from civic_kpi.time.periods import SERIES_KINDS

app = typer.Typer(
    cls=Commands,
    name="civic-kpi",
    help="Compute city-government KPIs from a YAML catalog and judge them against their targets.\n\n"
    "Example: civic-kpi compute --period 2026-10 --by priority",
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish and PowerShell
    pretty_exceptions_enable=False,  # a user never sees a traceback; see _user_errors
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DEFAULT_CATALOG = Path("kpi_definitions.yaml")
MIN_WIDTH = 60  # the narrowest table: below it a word would be broken inside


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class ListFormat(StrEnum):
    table = "table"
    json = "json"


Every = StrEnum("Every", {kind: kind for kind in SERIES_KINDS})  # type: ignore[misc]


class FailOn(StrEnum):
    never = "never"
    warn = "warn"
    fail = "fail"


class Engine(StrEnum):
    """engine/sql.ENGINES: kept as literals so that --help does not import the engine."""

    polars = "polars"
    duckdb = "duckdb"
    postgres = "postgres"
    spark = "spark"


def _err(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")


@contextmanager
def _user_errors() -> Iterator[None]:
    """User mistakes become a short message and exit 2; bugs exit 3 with a request to report them."""
    try:
        yield
    except CivicKpiError as exc:
        _err(f"error: {exc.render()}")
        raise typer.Exit(int(exc.exit_code)) from None
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except KeyboardInterrupt:
        _interrupted()
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except BrokenPipeError:
        # The reader went away (`| head -1`): it has what it wanted, so end quietly, as `yes | head -1` does.
        _silence_stdout()
        raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
    except OSError as exc:
        if exc.errno not in _DISK_FULL:
            raise _bug(exc) from None
        _silence_stdout()
        _err(f"error: cannot write the output: {exc.strerror or exc}")
        raise typer.Exit(int(ExitCode.USER_ERROR)) from None
    except Exception as exc:
        raise _bug(exc) from None


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # `> /dev/full`, a quota, a file-size limit


def _bug(exc: Exception) -> BaseException:
    """Exit 3 with a request to report the bug, or the exception itself with CIVIC_KPI_DEBUG=1."""
    if os.environ.get("CIVIC_KPI_DEBUG"):
        return exc
    _err(
        f"internal error: {type(exc).__name__}: {exc}\n"
        "This is a bug in civic-kpi, not in your input. Rerun with CIVIC_KPI_DEBUG=1 for the traceback "
        "and report it."
    )
    return typer.Exit(int(ExitCode.INTERNAL_ERROR))


_interrupt_reported = False


def _interrupted() -> None:
    """Say once that the run was interrupted; Ctrl-C can reach several handlers on its way out."""
    global _interrupt_reported
    if not _interrupt_reported:
        _interrupt_reported = True
        _err("interrupted; no output was written")


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush of what is still buffered cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # not a real file descriptor (a test runner's buffer): nothing will be flushed to a closed pipe


def _use_color() -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def _split(values: list[str] | None) -> list[str] | None:
    """Accept both --kpi a --kpi b and --kpi a,b."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _breakdowns(values: list[str] | None) -> list[list[str]] | None:
    """--by a,b is one breakdown by a and b together; --by a --by b is two breakdowns, one by a, one by b."""
    if not values:
        return None
    return [parts for value in values if (parts := [p.strip() for p in value.split(",") if p.strip()])]


@contextmanager
def _progress(quiet: bool, text: str) -> Iterator[Callable[[str], None] | None]:
    """A spinner with the elapsed time on stderr while a long scan runs; nothing off a terminal or with --quiet.

    Yields a callback that replaces the spinner's text (the engine says which datasets it reads), or None.
    """
    if quiet or not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False, markup=False)
    columns = (SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(text, total=None)
        yield lambda message: bar.update(task, description=message)


def _terminal_width(fmt: StrEnum, output: Path | None, piped_columns: bool = False) -> int | None:
    """A table's width: the terminal's; piped, COLUMNS where set and the reporter fits any width from MIN_WIDTH
    (`piped_columns`: compute's; `| less` and `| head` then do not wrap), else the reporter's default."""
    if output is not None or fmt.value != "table":
        return None
    if sys.stdout.isatty():
        return shutil.get_terminal_size((100, 40)).columns
    columns = os.environ.get("COLUMNS", "")
    if not (piped_columns and columns.isascii() and columns.isdigit() and int(columns) > 0):
        return None
    return max(int(columns), MIN_WIDTH)


def _emit(
    render: Callable[..., str],
    fmt: StrEnum,
    output: Path | None,
    summary: str,
    quiet: bool = False,
    piped_columns: bool = False,
) -> None:
    """Print to stdout (colored on a terminal), or write the file atomically and say so on stderr."""
    from civic_kpi.output import write_atomic

    color = output is None and fmt.value == "table" and _use_color()
    text = render(fmt.value, color=color, width=_terminal_width(fmt, output, piped_columns))
    if output is not None:
        write_atomic(output, text)
        if not quiet:
            _err(f"wrote {summary} to {output}")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _exit_on(fail_on: FailOn, statuses: list, missing: int = 0) -> None:
    """Exit 1 (ExitCode.THRESHOLD) when any status is at the --fail-on level or worse, or when `missing` rows
    (a target but no data) are counted as failures: a nightly run on an export that lost a month must not pass."""
    from civic_kpi.results import Status

    failing = {FailOn.never: set(), FailOn.fail: {Status.FAIL}, FailOn.warn: {Status.FAIL, Status.WARN}}[fail_on]
    if any(status in failing for status in statuses) or (failing and missing):
        raise typer.Exit(int(ExitCode.THRESHOLD))


class _Tally:
    """What compute's summary line and --fail-on need from the result rows, counted as the rows go by (a streamed
    file output never holds them all)."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()  # per Status
        self.missing = 0  # KPI rows with a target to meet and no data: what a month missing from an export looks like

    def seen(self, results: Iterable) -> Iterator:
        for result in results:
            self.counts[result.status] += 1
            self.missing += result.missing_data
            yield result

    def summary(self, span: str) -> str:
        from civic_kpi.results import Status

        counts = self.counts
        return (
            f"{counts.total()} results for {span} ({counts[Status.PASS]} pass, {counts[Status.WARN]} warn, "
            f"{counts[Status.FAIL]} fail, {counts[Status.NOT_COMPARABLE]} not comparable, "
            f"{counts[Status.NO_DATA]} no data)"
        )


def _with_rows(compute: Callable[..., Any]) -> Callable[..., tuple[Any, list]]:
    """A compute that returns the run with its rows held (for a table, Markdown or stdout) as (run, rows)."""

    def run_and_rows(*args: Any, **kwargs: Any) -> tuple[Any, list]:
        run = compute(*args, **kwargs)
        return run, run.results

    return run_and_rows


def _version(value: bool) -> None:
    if value:
        typer.echo(f"civic-kpi {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Compute city-government KPIs from a YAML catalog and judge them against their targets."""
    global _interrupt_reported
    _interrupt_reported = False  # each invocation (several run in one test process) reports its own Ctrl-C


CatalogOption = Annotated[Path, typer.Option("--catalog", "-c", help="The KPI catalog.", show_default=True)]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="The moment the results describe (default: the newest record): default period, snapshot cut-off, "
        "follow-up windows. YYYY-MM-DD or 'YYYY-MM-DD HH:MM'.",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress display and no 'wrote ...' line on stderr.")
]
# The default is engine.request.MAX_GROUPS, spelled out here so that --help needs no engine import (a test keeps
# the two equal).
EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="Where the aggregations run: polars (default), or as SQL on duckdb, postgres (the server named by "
        "CIVIC_KPI_POSTGRES) or spark; pip install 'civic-kpi[duckdb]' (or [postgres], [spark]).",
    ),
]
MaxGroupsOption = Annotated[
    int | None,
    typer.Option(
        "--max-groups",
        min=1,
        help="Refuse a breakdown with more distinct groups than this (default: 10,000), before computing it: "
        "each group is a result row per KPI and period.",
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", "-d", help="Where dataset paths start (default: the catalog's data_dir)."),
]


@app.command()
def compute(
    catalog: CatalogOption = DEFAULT_CATALOG,
    data_dir: DataDirOption = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            "-p",
            help="2026-10, 2026-Q3, 2026, FY2026 or 2026-01-01..2026-03-31 (default: latest complete month).",
        ),
    ] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First day of a date range (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day of a date range, included.")] = None,
    every: Annotated[
        Every | None,
        typer.Option(
            "--every",
            "-e",
            help="A series: one result per month/quarter/year of the period (default period: the last 12 "
            "months, 4 quarters or 3 years).",
        ),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            "-b",
            help="Break down by a column; a,b breaks down by both together; repeat --by for separate breakdowns.",
        ),
    ] = None,
    kpi: Annotated[list[str] | None, typer.Option("--kpi", "-k", help="Only these KPI ids (repeatable).")] = None,
    domain: Annotated[list[str] | None, typer.Option("--domain", help="Only KPIs of this domain.")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout.")
    ] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option(
            "--fail-on",
            help="Exit 1 when any KPI row is at this status or worse; a row with a target and no data counts as "
            "a failure too (see --allow-no-data), a not comparable row does not.",
        ),
    ] = FailOn.never,
    allow_no_data: Annotated[
        bool,
        typer.Option("--allow-no-data", help="With --fail-on: rows with a target and no data do not fail the run."),
    ] = False,
    max_groups: MaxGroupsOption = None,
    as_of: AsOfOption = None,
    engine: EngineOption = Engine.polars,
    quiet: QuietOption = False,
) -> None:
    """Compute every KPI of the catalog for one period, or each period of a series, and judge it against its target.

    \b
    Examples:
      civic-kpi compute
      civic-kpi compute --period 2026-Q3 --by priority --format json -o results.json
      civic-kpi compute --period FY2026 --every month --by priority --by channel -f csv -o fy2026.csv
      civic-kpi compute --domain "311 Customer Service" --fail-on fail
      civic-kpi compute --every month --engine duckdb
    """
    from civic_kpi.report import render

    # A CSV or JSON file is written row by row as each is judged: a breakdown with many groups (--max-groups)
    # then holds one result row at a time, not every row and the whole text.
    streamed = output is not None and fmt in (OutputFormat.csv, OutputFormat.json)
    with _user_errors():
        with _progress(quiet, f"loading {catalog}") as progress:
            session = Session(catalog, data_dir, as_of, engine.value)
            run, results = (session.compute_stream if streamed else _with_rows(session.compute))(
                period,
                every=every.value if every else None,  # type: ignore[arg-type]  # Every's values are SERIES_KINDS
                by=_breakdowns(by),
                kpis=_split(kpi),
                domains=domain or None,
                date_from=date_from,
                date_to=date_to,
                progress=progress,
                max_groups=max_groups,
            )
        tally = _Tally()
        span = f"{run.period.label} by {run.every.replace('_', ' ')}" if run.every else run.period.label
        if streamed:
            from civic_kpi.output import write_atomic_with
            from civic_kpi.report.records import write_csv, write_json

            writer = write_csv if fmt == OutputFormat.csv else write_json
            assert output is not None
            write_atomic_with(output, lambda handle: writer(run, tally.seen(results), handle))
            if not quiet:
                _err(f"wrote {tally.summary(span)} to {output}")
        else:
            list(tally.seen(results))
            _emit(lambda f, **kw: render(run, f, **kw), fmt, output, tally.summary(span), quiet, piped_columns=True)
    missing = 0 if allow_no_data else tally.missing
    if missing and fail_on != FailOn.never:
        _err(f"{missing} KPI row{'s' if missing != 1 else ''} with a target had no data (--allow-no-data accepts that)")
    unjudged = tally.counts["not_comparable"]
    if unjudged and fail_on != FailOn.never:
        # Neither a pass nor a failure: the data cannot judge them yet (a compared period covered in part).
        _err(
            f"{unjudged} KPI row{'s' if unjudged != 1 else ''} not comparable (a period compared is not complete or "
            "covered only in part): not judged, so they neither pass nor fail the run"
        )
    _exit_on(fail_on, list(tally.counts), missing)


@app.command()
def init(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Your exports (CSV, Parquet, JSON); with --example, the folder to write (one).", metavar="FILE..."
        ),
    ] = None,
    catalog: Annotated[
        Path, typer.Option("--catalog", "-c", help="The catalog to write.", show_default=True)
    ] = DEFAULT_CATALOG,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="Your city's time zone (IANA name, e.g. America/Chicago)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the catalog if there is one.")] = False,
    example: Annotated[
        bool,
        typer.Option("--example", help="Write the bundled sample catalog and its data to a new folder instead."),
    ] = False,
) -> None:
    """Write a starter catalog for your own exports: each file profiled, a bundled preset named where one fits,
    the columns mapped, and the KPIs the columns allow (volume, closed share, time to close, on time), each
    commented, with a target left for you to set. Or, with --example, the bundled sample catalog and its data in a
    new folder (default civic-kpi-example), to follow the documentation anywhere.

    \b
    Examples:
      civic-kpi init exports/311_requests_*.csv exports/foia.csv
      civic-kpi init --example && cd civic-kpi-example && civic-kpi compute
    """
    with _user_errors():
        if example:
            if files and len(files) > 1:
                raise UsageError(
                    Problem(
                        f"--example writes one folder, not {len(files)}",
                        hint="civic-kpi init --example my-folder",
                    )
                )
            folder = Session.init_example(files[0] if files else Path("civic-kpi-example"))
            _err(f"wrote the sample catalog and data to {folder}/; next: cd {folder} && civic-kpi compute")
            return
        if not files:
            raise UsageError(
                Problem(
                    "no export to start from",
                    hint="name your files (civic-kpi init exports/*.csv), or try civic-kpi init --example",
                )
            )
        starter = Session(catalog).init(files, timezone=timezone, force=force)
        period = f" --period {starter.newest_month}" if starter.newest_month else ""
        where = "" if catalog == DEFAULT_CATALOG else f" -c {catalog}"
        _err(
            f"wrote a starter catalog to {catalog}; next: read it, set the targets, then civic-kpi compute{where}"
            f"{period}" + (" (the newest month with records opened)" if period else "")
        )


@app.command()
def validate(
    path: Annotated[
        Path | None, typer.Argument(help="The KPI catalog (as -c gives it; the two must agree).", show_default=False)
    ] = None,
    catalog: Annotated[
        Path | None, typer.Option("--catalog", "-c", help="The KPI catalog.  [default: kpi_definitions.yaml]")
    ] = None,
    data_dir: DataDirOption = None,
    no_data: Annotated[bool, typer.Option("--no-data", help="Check the catalog only, not the data files.")] = False,
) -> None:
    """Check a catalog and its data files (columns, and every value of every typed column, read as compute reads
    it); report every problem at once. Columns no KPI uses and codes a preset's lists do not know are notes.

    \b
    Example:
      civic-kpi validate -c kpi_definitions.yaml
    """
    with _user_errors():
        if path is not None and catalog is not None and path != catalog:
            raise UsageError(Problem(f"two catalogs given: {path} and -c {catalog}", hint="give one, with -c PATH"))
        catalog = catalog or path or DEFAULT_CATALOG
        report = Session(catalog, data_dir).validate(check_data=not no_data)
    for warning in report.warnings:
        _err(f"warning: {warning.render()}")
    for note in report.notes:
        _err(f"note: {note.render()}")
    if not report.ok:
        count = len(report.problems)
        _err(f"{catalog}: {count} problem{'s' if count != 1 else ''}")
        for problem in report.problems:
            _err(f"- {problem.render()}")
        raise typer.Exit(int(ExitCode.USER_ERROR))
    assert report.catalog is not None
    cat = report.catalog.catalog
    checked = "" if no_data else f"; columns and values checked in {report.files_checked} files"
    warned = f"; {len(report.warnings)} warning(s)" if report.warnings else ""
    warned += f"; {len(report.notes)} note(s)" if report.notes else ""
    with _user_errors():  # a closed pipe or a full disk, as for every command's output
        typer.echo(f"✔ {catalog}: {len(cat.kpis)} KPIs, {len(cat.datasets)} datasets{checked}{warned}")


@app.command()
def review(
    month: Annotated[
        str | None, typer.Option("--month", "-m", help="The month to review, YYYY-MM (default: latest complete).")
    ] = None,
    catalog: CatalogOption = DEFAULT_CATALOG,
    data_dir: DataDirOption = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")] = None,
    as_of: AsOfOption = None,
    engine: EngineOption = Engine.polars,
    quiet: QuietOption = False,
) -> None:
    """List what needs a performance review this month (Houston 311 policy 5.2): every group under a
    standard of the catalog's performance_review (on time under 90%, satisfaction under 2 of 3), with its owner,
    the counts behind it and the date the review is due.

    \b
    Examples:
      civic-kpi review --month 2026-10
      civic-kpi review --month 2026-10 --format csv -o review-2026-10.csv
    """
    from civic_kpi.report.review import render_review

    with _user_errors():
        with _progress(quiet, f"loading {catalog}") as progress:
            run = Session(catalog, data_dir, as_of, engine.value).review(month, progress=progress)
        summary = f"{len(run.items)} review findings for {run.month.label}"
        _emit(lambda f, **kw: render_review(run, f, **kw), fmt, output, summary, quiet, piped_columns=True)


@app.command()
def scorecard(
    fiscal_year: Annotated[
        str | None,
        typer.Option("--fiscal-year", "-y", help="FY2026 (default: the latest fiscal year that has ended)."),
    ] = None,
    catalog: CatalogOption = DEFAULT_CATALOG,
    data_dir: DataDirOption = None,
    kpi: Annotated[list[str] | None, typer.Option("--kpi", "-k", help="Only these KPI ids.")] = None,
    domain: Annotated[list[str] | None, typer.Option("--domain", help="Only KPIs of this domain.")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")] = None,
    as_of: AsOfOption = None,
    engine: EngineOption = Engine.polars,
    quiet: QuietOption = False,
) -> None:
    """Print a fiscal-year scorecard the way Kansas City publishes its measures: last year's actual, this
    year's target and actual, and next year's target.

    \b
    Examples:
      civic-kpi scorecard --fiscal-year FY2026
      civic-kpi scorecard --domain "311 Customer Service" --format markdown
    """
    from civic_kpi.report.scorecard import render_scorecard

    with _user_errors():
        with _progress(quiet, f"loading {catalog}") as progress:
            run = Session(catalog, data_dir, as_of, engine.value).scorecard(
                fiscal_year, kpis=_split(kpi), domains=domain, progress=progress
            )
        summary = f"the {run.fiscal_year.label} scorecard"
        _emit(lambda f, **kw: render_scorecard(run, f, **kw), fmt, output, summary, quiet, piped_columns=True)


@app.command()
def report(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The HTML file to write (atomically), e.g. dashboard.html.")
    ],
    catalog: CatalogOption = DEFAULT_CATALOG,
    data_dir: DataDirOption = None,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            "-p",
            help="The period the cards show: 2026-10, 2026-Q3, 2026, FY2026 or 2026-01-01..2026-03-31 (default: "
            "latest complete month). The trend charts show the 24 months up to it.",
        ),
    ] = None,
    every: Annotated[
        Every | None,
        typer.Option(
            "--every",
            "-e",
            help="Trend charts by quarter, year or fiscal year over --period (the cards show its last one); "
            "default: by month, the 24 months up to the period.",
        ),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by", "-b", help="Drill down by this column instead of each KPI's catalog group_by (as compute)."
        ),
    ] = None,
    kpi: Annotated[list[str] | None, typer.Option("--kpi", "-k", help="Only these KPI ids (repeatable).")] = None,
    domain: Annotated[list[str] | None, typer.Option("--domain", help="Only KPIs of this domain.")] = None,
    max_groups: MaxGroupsOption = None,
    as_of: AsOfOption = None,
    engine: EngineOption = Engine.polars,
    quiet: QuietOption = False,
) -> None:
    """Write the dashboard: one self-contained HTML page (no server, no internet needed) with a card per KPI, its
    status, trend against the target, drill-down by group and every chart's data as a table and a CSV download.

    \b
    Examples:
      civic-kpi report -o dashboard.html
      civic-kpi report --period 2026-10 --domain "311 Customer Service" -o 311.html
    """
    with _user_errors():
        with _progress(quiet, f"loading {catalog}") as progress:
            session = Session(catalog, data_dir, as_of, engine.value)
            board, page = session.dashboard_page(
                period,
                every=every.value if every else None,  # type: ignore[arg-type]  # Every's values are SERIES_KINDS
                by=_breakdowns(by),
                kpis=_split(kpi),
                domains=domain or None,
                progress=progress,
                max_groups=max_groups,
            )
        from civic_kpi.output import write_atomic

        write_atomic(output, page)
        if not quiet:
            counts = board.run.counts()
            _err(
                f"wrote the dashboard of {len(board.cards)} KPIs for {board.run.period.label} to {output} "
                f"({len(board.run.results)} rows, overall and per group: {counts['pass']} pass, {counts['warn']} "
                f"warn, {counts['fail']} fail, {counts['not_comparable']} not comparable, {counts['no_data']} no data)"
            )


class CheckFormat(StrEnum):
    table = "table"
    json = "json"
    junit = "junit"
    github = "github"


@app.command()
def check(
    catalog: CatalogOption = DEFAULT_CATALOG,
    data_dir: DataDirOption = None,
    dataset: Annotated[list[str] | None, typer.Option("--dataset", help="Only these datasets (repeatable).")] = None,
    fmt: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="table, json, junit (JUnit XML) or github (annotations).")
    ] = CheckFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 1 when a check is at this status or worse.")
    ] = FailOn.fail,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            "--now",
            help="The time 'future' and 'freshness' compare with (default: now). YYYY-MM-DD or 'YYYY-MM-DD HH:MM'; "
            "--now is another name for it.",
        ),
    ] = None,
    engine: EngineOption = Engine.polars,
    quiet: QuietOption = False,
) -> None:
    """Run the catalog's data-quality checks and exit 1 when one fails: for CI before an export is published.

    \b
    Examples:
      civic-kpi check
      civic-kpi check --format junit -o quality.xml
      civic-kpi check --format github --fail-on warn
      civic-kpi check --as-of '2026-11-15 08:00' --dataset service_requests
      civic-kpi check --engine duckdb
    """
    from civic_kpi.report.checks import render_checks

    with _user_errors():
        with _progress(quiet, f"checking the datasets of {catalog}"):
            run = Session(catalog, data_dir, as_of, engine=engine.value).check(_split(dataset))
        counts = run.counts()
        summary = (
            f"{len(run.results)} check results ({counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail)"
        )
        _emit(lambda f, **kw: render_checks(run, f, **kw), fmt, output, summary, quiet, piped_columns=True)
    _exit_on(fail_on, [result.status for result in run.results])


class ExplainFormat(StrEnum):
    text = "text"
    json = "json"


class RowsFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    json = "json"


class Part(StrEnum):
    all = "all"
    numerator = "numerator"
    denominator = "denominator"
    rest = "rest"
    sample = "sample"
    excluded = "excluded"


PeriodOption = Annotated[
    str | None,
    typer.Option("--period", "-p", help="2026-10, 2026-Q3, 2026, FY2026 or a range (default: latest complete month)."),
]
GroupOption = Annotated[
    list[str] | None,
    typer.Option(
        "--group", "-g", help="One group, as COLUMN=VALUE (repeat for a group of several columns; VALUE (missing))."
    ),
]


def _group(values: list[str] | None) -> dict[str, str | None]:
    """--group priority=Critical --group agency=Parks as {"priority": "Critical", "agency": "Parks"}."""
    from civic_kpi.errors import UsageError

    group: dict[str, str | None] = {}
    for value in values or []:
        column, sign, chosen = value.partition("=")
        if not sign or not column.strip():
            raise UsageError(f"--group takes COLUMN=VALUE, not '{value}' (for example --group priority=Critical)")
        group[column.strip()] = chosen.strip()
    return group


@app.command()
def explain(
    kpi: Annotated[str, typer.Argument(help="The KPI id (see civic-kpi list).")],
    catalog: CatalogOption = DEFAULT_CATALOG,
    data_dir: DataDirOption = None,
    period: PeriodOption = None,
    group: GroupOption = None,
    by: Annotated[
        list[str] | None, typer.Option("--by", "-b", help="Also list every group of this column with its target.")
    ] = None,
    fmt: Annotated[ExplainFormat, typer.Option("--format", "-f", help="text or json.")] = ExplainFormat.text,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")] = None,
    max_groups: MaxGroupsOption = None,
    as_of: AsOfOption = None,
    engine: EngineOption = Engine.polars,
    quiet: QuietOption = False,
) -> None:
    """Show how one KPI's number was computed: the formula as written and as resolved (files, columns, formats),
    the window and the as-of moment, the records left after each step, a percentile's order statistics, the target
    chosen and why, the comparison periods and the Polars plan (or, with a SQL --engine, the SQL it ran).

    \b
    Examples:
      civic-kpi explain sla_compliance --period 2026-10 --group priority=Critical
      civic-kpi explain time_to_close_p90 --by priority -f json -o explain.json
    """
    from civic_kpi.report.explain import render_explanation

    with _user_errors():
        with _progress(quiet, f"loading {catalog}"):
            found = Session(catalog, data_dir, as_of, engine.value).explain(
                kpi, period, by=_split(by), group=_group(group), max_groups=max_groups
            )
        _emit(lambda f, **kw: render_explanation(found, f, **kw), fmt, output, f"the explanation of {kpi}", quiet)


class Dialect(StrEnum):
    """engine/sql/dialects.DIALECTS: kept as literals so that --help does not import the engine."""

    duckdb = "duckdb"
    postgres = "postgres"
    spark = "spark"
    snowflake = "snowflake"
    bigquery = "bigquery"
    trino = "trino"


@app.command()
def sql(
    kpi: Annotated[list[str] | None, typer.Argument(help="KPI ids (default: every KPI of the catalog).")] = None,
    catalog: CatalogOption = DEFAULT_CATALOG,
    data_dir: DataDirOption = None,
    period: PeriodOption = None,
    every: Annotated[
        Every | None, typer.Option("--every", "-e", help="A series, as compute --every writes it.")
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option("--by", "-b", help="Break down by a column (as compute); default: each KPI's group_by."),
    ] = None,
    domain: Annotated[list[str] | None, typer.Option("--domain", help="Only KPIs of this domain.")] = None,
    dialect: Annotated[Dialect, typer.Option("--dialect", help="The SQL dialect to write.")] = Dialect.duckdb,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")] = None,
    as_of: AsOfOption = None,
    quiet: QuietOption = False,
) -> None:
    """Print the SQL that --engine duckdb runs for these KPIs, in a dialect, for a data team to run where the data
    is: one SELECT per dataset and breakdown over a relation `records` (the dataset's records as known at the
    moment; a comment lists the columns it must hold), after the view that adds the SLA deadlines to them, on a
    calendar table of business days the SQL makes itself. Exact only: a dialect without an exact percentile
    (BigQuery, Trino) is refused for a percentile KPI, never given an approximate one.

    \b
    Examples:
      civic-kpi sql sla_compliance time_to_close_p90 --period 2026-10
      civic-kpi sql --every month --dialect postgres -o kpis.sql
    """
    with _user_errors():
        with _progress(quiet, f"loading {catalog}"):
            text = Session(catalog, data_dir, as_of).sql(
                period,
                every=every.value if every else None,  # type: ignore[arg-type]  # Every's values are SERIES_KINDS
                by=_breakdowns(by),
                kpis=_split(kpi),
                domains=domain or None,
                dialect=dialect.value,
            )
        if output is None:
            typer.echo(text, nl=False)
            return
        from civic_kpi.output import write_atomic

        write_atomic(output, text)
        if not quiet:
            _err(f"wrote the {dialect.value} SQL to {output}")


@app.command()
def rows(
    kpi: Annotated[str, typer.Argument(help="The KPI id (see civic-kpi list).")],
    catalog: CatalogOption = DEFAULT_CATALOG,
    data_dir: DataDirOption = None,
    period: PeriodOption = None,
    group: GroupOption = None,
    part: Annotated[
        Part,
        typer.Option(
            "--part",
            help="numerator, denominator, rest (in the denominator, not the numerator: e.g. the requests that "
            "missed their SLA), sample (a single-value KPI's records), excluded (left out, with the reason) or all.",
        ),
    ] = Part.all,
    fmt: Annotated[RowsFormat, typer.Option("--format", "-f", help="csv, parquet or json.")] = RowsFormat.csv,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")] = None,
    as_of: AsOfOption = None,
    quiet: QuietOption = False,
) -> None:
    """Write the records behind one KPI's number, with the KPI's own columns (the deadline, hours to close, in the
    numerator or not, why a record was left out) and the file each came from.

    \b
    Examples:
      civic-kpi rows sla_compliance --period 2026-10 --part rest -o missed-sla-2026-10.csv
      civic-kpi rows reopen_rate --part excluded --group agency=Sanitation -f json
    """
    from civic_kpi.report.rows import write_rows
    from civic_kpi.results import moment_text

    with _user_errors():
        with _progress(quiet, f"loading {catalog}"):
            found = Session(catalog, data_dir, as_of).rows(kpi, period, group=_group(group), part=part.value)
            written = write_rows(found, fmt.value, output)  # type: ignore[arg-type]
        if output is not None and not quiet:
            moment = f", as of {moment_text(found.as_of)}" if found.as_of else ""
            _err(f"wrote {written:,} records ({found.part} of {kpi}, {found.period.label}{moment}) to {output}")


@app.command()
def inspect(
    file: Annotated[Path, typer.Argument(help="An export: CSV (also .gz, .tsv), Parquet or JSON.")],
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="table or json.")] = ListFormat.table,
    json_path: Annotated[
        str | None,
        typer.Option(
            "--json-path",
            help="The key of a JSON object the records sit under (as a catalog's json_path). Default: found for "
            "the layouts presets read, such as a data.json's 'dataset'.",
        ),
    ] = None,
) -> None:
    """Profile an export (columns, inferred types and date formats, missing shares, distinct counts, ranges,
    examples) and print the catalog entry that reads it, naming the preset it looks like (by how many of the
    preset's columns it has). Nested JSON fields are profiled as dotted columns (publisher.name).

    \b
    Examples:
      civic-kpi inspect exports/311_Service_Requests.csv
      civic-kpi inspect events.json --format json
      civic-kpi inspect data.json                      # a DCAT-US catalog: records under 'dataset'
      civic-kpi inspect catalog.json --json-path results
    """
    from civic_kpi.report.profile import render_profile

    with _user_errors():
        # The session reads its catalog only when a method needs one; inspect needs none.
        profile = Session(DEFAULT_CATALOG).inspect(file, json_path=json_path)
        _emit(lambda f, **kw: render_profile(profile, f, **kw), fmt, None, "")


@app.command()
def presets(
    name: Annotated[
        str | None,
        typer.Argument(help="One preset to show whole: its choices, the columns it gives formulas and its mapping."),
    ] = None,
) -> None:
    """List the bundled presets: ready-made mappings of layouts cities publish; or show one.

    \b
    Examples:
      civic-kpi presets
      civic-kpi presets chicago311
    """
    from civic_kpi.errors import did_you_mean
    from civic_kpi.report.catalog import render_preset, render_presets

    with _user_errors():
        found = Session(DEFAULT_CATALOG).presets()  # no catalog is read, as for inspect
        if name is None:
            sys.stdout.write(render_presets(found))
            return
        if name not in found:
            hint = did_you_mean(name, list(found)) or f"the presets: {', '.join(found)}"
            raise UsageError(Problem(f"no preset '{name}'", hint=hint))
        sys.stdout.write(render_preset(found[name]))


@app.command("list")
def list_kpis(
    catalog: CatalogOption = DEFAULT_CATALOG,
    domain: Annotated[list[str] | None, typer.Option("--domain", help="Only KPIs of this domain.")] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.table,
) -> None:
    """List the catalog's KPIs with their domain, unit, dataset (or the KPIs they are computed from) and target.

    \b
    Example:
      civic-kpi list --domain "Public Records & Open Data"
    """
    from civic_kpi.report.catalog import render_kpi_list

    with _user_errors():
        listing = Session(catalog).list(domains=domain)
        _emit(lambda f, **kw: render_kpi_list(listing, f, **kw), fmt, None, "", piped_columns=True)


class Document(StrEnum):
    catalog = "catalog"
    compute = "compute"
    check = "check"
    review = "review"
    scorecard = "scorecard"
    explain = "explain"
    inspect = "inspect"
    list = "list"


@app.command()
def schema(
    document: Annotated[
        Document,
        typer.Argument(help="catalog (kpi_definitions.yaml), or a command whose --format json output to describe."),
    ] = Document.catalog,
) -> None:
    """Print a JSON Schema: the catalog's (for editor completion and CI validation), or a command's JSON output.

    \b
    Examples:
      civic-kpi schema > kpi_definitions.schema.json
      civic-kpi schema compute > compute.schema.json
    """
    import json

    with _user_errors():
        if document == Document.catalog:
            from civic_kpi.catalog.model import json_schema_text

            sys.stdout.write(json_schema_text())
        else:
            from civic_kpi.results import document_schema

            typer.echo(json.dumps(document_schema(document.value), indent=2))


def main() -> None:
    """The installed script (through civic_kpi._entry, which also catches a Ctrl-C while this module loads)."""
    for name in ("COLUMNS", "LINES"):
        # Rich reads both as int() when str.isdigit() says so, which '²' passes: such a value is no size at all.
        if not (os.environ.get(name, "0").isascii() and os.environ.get(name, "0").isdigit()):
            del os.environ[name]
    try:
        app()
    except SystemExit as exc:
        if exc.code == ExitCode.INTERRUPTED:  # Typer turns a Ctrl-C outside a command's guard into a silent 130
            _interrupted()
        raise
    except KeyboardInterrupt:
        _interrupted()
        sys.exit(int(ExitCode.INTERRUPTED))
    except BrokenPipeError:
        _silence_stdout()
        sys.exit(int(ExitCode.BROKEN_PIPE))
