"""Resolving a request: which KPIs (and the KPIs they are computed from), which breakdowns, which formulas, which
columns of which datasets. Everything here is decided from the catalog and the options alone, before any record is
read; the user's first mistake (an unknown KPI, a mistyped period, a missing folder) is reported from here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from civic_kpi.catalog.graph import datasets_under, inputs, with_inputs
from civic_kpi.catalog.loader import LoadedCatalog, load_catalog
from civic_kpi.catalog.model import KPI, Catalog, as_breakdowns
from civic_kpi.errors import DataError, Problem, UsageError, did_you_mean
from civic_kpi.formula import Formula, parse_formula
from civic_kpi.time.moment import Moment
from civic_kpi.time.periods import SERIES_KINDS, Period, SeriesKind, parse_period, split

Dims = tuple[str, ...]

# Distinct groups one breakdown may have. Every group is a row of the output per KPI and period, judged in Python:
# a breakdown by a column with a value per record (an id, an address) is a mistake that once took 342 s and 20 GB
# for a million groups. Ten thousand rows per KPI is more than anyone reads; --max-groups raises it.
MAX_GROUPS = 10_000


@dataclass(frozen=True)
class Request:
    """What was asked, resolved against the catalog: the input of planning."""

    loaded: LoadedCatalog
    root: Path
    chosen: tuple[KPI, ...]  # the KPIs reported, in catalog order
    computed: tuple[KPI, ...]  # chosen plus the KPIs they are computed from, inputs first
    formulas: Mapping[str, Mapping[str, Formula]]  # per KPI: every formula, its `where` included
    breakdowns: tuple[Dims, ...] | None  # None: each KPI's catalog group_by
    own_dims: Mapping[str, tuple[Dims, ...]]  # the breakdowns reported per KPI
    dims_of: Mapping[str, tuple[Dims, ...]]  # the breakdowns computed per KPI (its readers' too)
    columns: Mapping[str, frozenset[str]]  # per dataset: the export columns read
    deadlines: Mapping[str, frozenset[str]]  # per dataset: the deadline columns computed
    derived: Mapping[str, frozenset[str]]  # per dataset: the derived columns computed
    period: Period | None  # None: the latest complete month (or series span) at the moment
    every: SeriesKind | None
    as_of: Moment | None  # None: the newest record fixes the moment
    notes: tuple[str, ...] = field(default=())
    max_groups: int = MAX_GROUPS  # distinct groups per breakdown; more is refused before the values are computed

    @property
    def catalog(self) -> Catalog:
        return self.loaded.catalog

    @property
    def from_records(self) -> tuple[KPI, ...]:
        return tuple(kpi for kpi in self.computed if not kpi.from_kpis)


def select_kpis(catalog: Catalog, kpi_ids: list[str] | None = None, domains: list[str] | None = None) -> list[KPI]:
    """The KPIs asked for, in catalog order; unknown ids or domains are a UsageError with a hint."""
    known = [k.id for k in catalog.kpis]
    for kpi_id in kpi_ids or []:
        if kpi_id not in known:
            raise UsageError(
                Problem(f"unknown KPI '{kpi_id}'", hint=did_you_mean(kpi_id, known) or "see `civic-kpi list`")
            )
    wanted_domains = {d.lower() for d in domains or []}
    for domain in domains or []:
        if domain.lower() not in {d.lower() for d in catalog.domains}:
            raise UsageError(
                Problem(
                    f"unknown domain '{domain}'",
                    hint=did_you_mean(domain, catalog.domains) or f"domains: {', '.join(catalog.domains)}",
                )
            )
    chosen = [
        kpi
        for kpi in catalog.kpis
        if (not kpi_ids or kpi.id in kpi_ids) and (not wanted_domains or kpi.domain.lower() in wanted_domains)
    ]
    if not chosen:
        raise UsageError("no KPI matches both --kpi and --domain")
    return chosen


def resolve(
    catalog: LoadedCatalog | str | Path,
    *,
    period: Period | str | None = None,
    every: SeriesKind | None = None,
    by: list[str] | list[list[str]] | None = None,
    kpis: list[str] | None = None,
    domains: list[str] | None = None,
    data_dir: str | Path | None = None,
    as_of: Moment | datetime | str | None = None,
    max_groups: int = MAX_GROUPS,
) -> Request:
    """Check the options against the catalog and work out everything that does not depend on the data."""
    if isinstance(max_groups, bool) or not isinstance(max_groups, int) or max_groups < 1:
        raise UsageError(Problem(f"--max-groups must be a whole number of at least 1, not {max_groups!r}"))
    loaded = catalog if isinstance(catalog, LoadedCatalog) else load_catalog(catalog)
    cat = loaded.catalog
    fy = cat.fiscal_year_start_month
    chosen = select_kpis(cat, kpis, domains)
    if every is not None and every not in SERIES_KINDS:
        raise UsageError(Problem(f"cannot make a series of '{every}'", hint=f"use one of: {', '.join(SERIES_KINDS)}"))
    if isinstance(period, str):  # a mistyped period is the user's first mistake to hear about, before any file
        period = parse_period(period, fy)
    if period is not None and every is not None:
        split(period, every, fy)  # refuses an unaligned period before any file is read
    moment = as_of if isinstance(as_of, Moment) or as_of is None else Moment.given(as_of, cat.timezone)
    root = loaded.data_dir(data_dir)
    if not root.is_dir():
        raise DataError(
            Problem("data directory not found", file=str(root), hint="pass --data-dir, or set data_dir: in the catalog")
        )
    breakdowns = None if by is None else tuple(as_breakdowns(by))
    _check_breakdown_columns(cat, chosen, breakdowns or ())
    lacking: dict[str, dict[str, list[str]]] = {}  # KPI → dataset → the --by columns it lacks
    computed = with_inputs(cat, chosen)  # a KPI computed from other KPIs needs them, even when not asked for
    formulas = {kpi.id: loaded.formulas.get(kpi.id) or kpi_formulas(kpi) for kpi in computed}  # parsed at load
    own_dims = {kpi.id: tuple(_dims_for(kpi, cat, breakdowns, lacking if kpi in chosen else {})) for kpi in computed}
    notes = _not_broken_down(lacking)
    dims_of = _with_readers_dims(computed, own_dims)
    columns, deadlines, derived = _columns_needed([k for k in computed if not k.from_kpis], cat, formulas, dims_of)
    # Read-only mappings: a request (and the plan holding it) is a value nobody can change after the fact.
    return Request(
        loaded=loaded,
        root=root,
        chosen=tuple(chosen),
        computed=tuple(computed),
        formulas=MappingProxyType({kpi_id: MappingProxyType(dict(found)) for kpi_id, found in formulas.items()}),
        breakdowns=breakdowns,
        own_dims=MappingProxyType(own_dims),
        dims_of=MappingProxyType(dims_of),
        columns=MappingProxyType({name: frozenset(found) for name, found in columns.items()}),
        deadlines=MappingProxyType({name: frozenset(found) for name, found in deadlines.items()}),
        derived=MappingProxyType({name: frozenset(found) for name, found in derived.items()}),
        period=period,
        every=every,
        as_of=moment,
        notes=tuple(notes),
        max_groups=max_groups,
    )


def kpi_formulas(kpi: KPI) -> dict[str, Formula]:
    """Every formula of a KPI, its `where` included, so that the columns, reference tables and period names it reads
    are found in one place."""
    found = {name: parse_formula(text, over_kpis=kpi.from_kpis) for name, text in kpi.formulas.items()}
    if kpi.where is not None:
        found["where"] = parse_formula(kpi.where, row=True)
    return found


def _check_breakdown_columns(cat: Catalog, chosen: list[KPI], breakdowns: tuple[Dims, ...]) -> None:
    if not breakdowns:
        return
    all_columns = {c for k in chosen for name in datasets_under(cat, k) for c in cat.datasets[name].columns}
    for dimension in [d for dims in breakdowns for d in dims]:
        if dimension not in all_columns:
            raise UsageError(
                Problem(
                    f"no selected KPI's dataset has a column '{dimension}' to group by",
                    hint=did_you_mean(dimension, sorted(all_columns))
                    or "group by a column declared under a dataset's columns",
                )
            )


def _dims_for(
    kpi: KPI, catalog: Catalog, by: tuple[Dims, ...] | None, lacking: dict[str, dict[str, list[str]]]
) -> list[Dims]:
    """The KPI's breakdowns: the ones asked for whose columns every dataset under it has, else its group_by. A
    breakdown left out is filed in `lacking` (KPI → dataset → columns) for the run's notes."""
    if by is None:
        return kpi.breakdowns
    kept = []
    for dims in by:
        missing = {
            name: [d for d in dims if d not in catalog.datasets[name].columns] for name in datasets_under(catalog, kpi)
        }
        name, columns = next(((n, m) for n, m in missing.items() if m), (None, []))
        if name is not None:
            found = lacking.setdefault(kpi.id, {}).setdefault(name, [])
            found += [column for column in columns if column not in found]
        else:
            kept.append(dims)
    return kept


def _not_broken_down(lacking: dict[str, dict[str, list[str]]]) -> list[str]:
    """One note per dataset and the columns it lacks, naming its KPIs: a series by three columns over a catalog of
    five datasets would otherwise say the same thing once per KPI and column."""
    kpis_of: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for kpi_id, datasets in lacking.items():
        for dataset, columns in datasets.items():
            kpis_of.setdefault((dataset, tuple(columns)), []).append(kpi_id)
    notes = []
    for (dataset, columns), kpi_ids in kpis_of.items():
        named = " or ".join([", ".join(columns[:-1]), columns[-1]] if len(columns) > 1 else columns)
        which = "no such column" if len(columns) == 1 else "none of these columns"
        notes.append(f"not broken down by {named} (dataset '{dataset}' has {which}): {', '.join(kpi_ids)}")
    return notes


def _with_readers_dims(computed: list[KPI], dims_of: dict[str, tuple[Dims, ...]]) -> dict[str, tuple[Dims, ...]]:
    """Each KPI's breakdowns plus those of every KPI computed from it: an I-S rating by question needs the
    importance and the satisfaction by question, whatever their own group_by. (`computed` lists inputs first.)"""
    dims = {kpi_id: list(found) for kpi_id, found in dims_of.items()}
    for kpi in reversed(computed):
        for name in inputs(kpi):
            dims[name] = list(dict.fromkeys([*dims[name], *dims[kpi.id]]))
    return {kpi_id: tuple(found) for kpi_id, found in dims.items()}


def _columns_needed(
    chosen: list[KPI],
    cat: Catalog,
    formulas: Mapping[str, Mapping[str, Formula]],
    dims_of: Mapping[str, tuple[Dims, ...]],
) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    """Per dataset: the export columns to read, the deadline columns and the derived columns the KPIs use.

    Derived and deadline columns are not read from the files: the columns they are computed from are.
    """
    needed: dict[str, set[str]] = {}
    deadlines: dict[str, set[str]] = {}
    derived: dict[str, set[str]] = {}
    for kpi in chosen:
        assert kpi.dataset is not None
        dataset = cat.datasets[kpi.dataset]
        columns = needed.setdefault(kpi.dataset, {dataset.date_column, dataset.freshness_column})
        used = set().union(*(formula.columns for formula in formulas[kpi.id].values()))
        rows = derived.setdefault(kpi.dataset, set())
        rows |= used & set(dataset.derived)
        used = (used - set(dataset.derived)) | {
            c for name in rows for c in parse_formula(dataset.derived[name], row=True).columns
        }
        due = deadlines.setdefault(kpi.dataset, set())
        due |= used & set(dataset.deadlines)
        columns |= used - set(dataset.deadlines)
        for name in due:
            deadline = dataset.deadlines[name]
            columns |= {deadline.start} | ({deadline.key} if deadline.key else set())
        columns.add(kpi.window.date or dataset.date_column)
        columns |= {d for dims in dims_of[kpi.id] for d in dims}
    return needed, deadlines, derived
