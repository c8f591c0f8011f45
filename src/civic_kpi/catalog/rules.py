"""Whole-catalog checks: every name a KPI uses exists, and every formula type-checks. All problems at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from civic_kpi.check_kinds import kind_named
from civic_kpi.errors import Problem, did_you_mean
from civic_kpi.formula import (
    NO_PERIOD,
    SPECIAL_NAMES,
    Context,
    Formula,
    FormulaError,
    all_rows,
    argument_problems,
    compile_formula,
    compile_row,
    kpi_column,
    parse_formula,
)

if TYPE_CHECKING:
    import polars as pl

    from civic_kpi.catalog.loader import LoadedCatalog
    from civic_kpi.catalog.model import KPI, Catalog, Dataset


def polars_schema(dataset: Dataset) -> dict[str, pl.DataType]:
    import polars as pl

    types = {
        "string": pl.String(),
        "integer": pl.Int64(),
        "float": pl.Float64(),
        "boolean": pl.Boolean(),
        "date": pl.Date(),
        "datetime": pl.Datetime("us"),
    }
    schema = {name: types[spec.type] for name, spec in dataset.columns.items()}
    # A deadline has the type of the column its clock starts from.
    schema |= {name: schema[deadline.start] for name, deadline in dataset.deadlines.items()}
    return schema


DROPPED_HINT = "remove the `null` that drops it, or keep this KPI off that column"


def dropped_message(name: str, dataset: Dataset, column: str) -> str:
    """Why a name a formula uses is not there: the catalog dropped it, or a column it is computed from."""
    how = f"datasets.{name}.columns.{column}: null"
    if column not in dataset.columns and dataset.preset is not None:
        from civic_kpi.catalog.presets import preset_dataset

        preset = preset_dataset(dataset.preset)
        if column not in preset.get("columns", {}):
            sources = _dropped_sources(preset, column, dataset.dropped)
            via = (
                f" (preset {dataset.preset} computes it from {', '.join(repr(c) for c in sources)})" if sources else ""
            )
            return f"column '{column}' is not available: the catalog drops a column it is computed from{via}"
        return f"column '{column}' of preset {dataset.preset} is dropped by the catalog ({how})"
    return f"column '{column}' is dropped by the catalog ({how})"


def _dropped_sources(preset: dict, column: str, dropped: frozenset[str]) -> list[str]:
    """The dropped columns of the preset a derived column or flag of it reads."""
    flag = (preset.get("flags") or {}).get(column)
    if isinstance(flag, dict):
        return [flag["column"]] if flag.get("column") in dropped else []
    text = (preset.get("derived") or {}).get(column)
    try:
        return sorted(parse_formula(text, row=True).columns & dropped) if isinstance(text, str) else []
    except FormulaError:
        return []


def _kind_problems(formula: Formula, kinds: dict[str, str], params: dict, report: Callable[[str], None]) -> bool:
    """Report each argument of a kind its function does not take; whether there was one."""
    found = argument_problems(formula, kinds, params)
    for exc in found:
        at = f" (at character {exc.offset + 1})" if exc.offset is not None else ""
        report(f"{exc.message}{at} in formula: {formula.text.strip()}")
    return bool(found)


def derived_problems(loaded: LoadedCatalog) -> list[Problem]:
    """Each dataset's derived columns: a row formula over its columns and deadlines that type-checks."""
    import polars as pl

    problems = []
    for name, dataset in loaded.catalog.datasets.items():
        known = list(dataset.columns) + list(dataset.deadlines)
        frame = pl.DataFrame(schema=polars_schema(dataset)).lazy()
        for column, text in dataset.derived.items():
            loc = ("datasets", name, "derived", column)
            field = f"datasets.{name}.derived.{column}"
            try:
                formula = parse_formula(text, row=True)
            except FormulaError as exc:
                problems.append(
                    Problem(
                        f"{exc.message} in: {text}", str(loaded.path), loaded.line_of(loc), field=field, hint=exc.hint
                    )
                )
                continue
            unknown = sorted((formula.columns - set(known)) | (formula.columns & set(SPECIAL_NAMES)))
            for bad in unknown:
                dropped = bad in dataset.dropped
                problems.append(
                    Problem(
                        dropped_message(name, dataset, bad)
                        if dropped
                        else f"unknown column '{bad}' in a derived column",
                        str(loaded.path),
                        loaded.line_of(loc),
                        field=field,
                        hint=DROPPED_HINT if dropped else did_you_mean(bad, known),
                    )
                )
            if unknown:
                continue

            def wrong_kind(message: str, loc: tuple = loc, field: str = field) -> None:
                problems.append(Problem(message, str(loaded.path), loaded.line_of(loc), field=field))

            if _kind_problems(formula, dataset.column_kinds, dict(loaded.catalog.parameters), wrong_kind):
                continue
            ctx = Context(
                all_rows(),
                NO_PERIOD,
                NO_PERIOD,
                NO_PERIOD,
                params=dict(loaded.catalog.parameters),
                refs={r: [] for r in loaded.catalog.reference_tables},
                timezone=loaded.catalog.timezone,
                date_columns=dataset.date_only_columns,
            )
            try:
                frame.select(compile_row(formula, ctx).alias(column)).collect()
            except (pl.exceptions.PolarsError, FormulaError, TypeError, ValueError) as exc:
                problems.append(
                    Problem(
                        f"derived column does not fit the column types: {str(exc).splitlines()[0]}",
                        str(loaded.path),
                        loaded.line_of(loc),
                        field=field,
                    )
                )
    return problems


def _kpi_problems(loaded: LoadedCatalog, index: int, kpi: KPI) -> tuple[list[Problem], _TypeCheck | None]:
    """The KPI's problems, and (when it has none so far) its formulas' type check, to be run with the others."""
    catalog: Catalog = loaded.catalog
    file = str(loaded.path)
    problems: list[Problem] = []

    def problem(message: str, field: str, hint: str | None = None, loc_tail: tuple = ()) -> None:
        line = loaded.line_of(("kpis", index, field.split(".")[0], *loc_tail))
        problems.append(Problem(message, file=file, line=line, kpi=kpi.id, field=field, hint=hint))

    if kpi.dataset is None:
        _from_kpis_problems(loaded, index, kpi, problem)
        return problems, None
    dataset = catalog.datasets.get(kpi.dataset)
    if dataset is None:
        problem(
            f"dataset '{kpi.dataset}' is not defined",
            "dataset",
            did_you_mean(kpi.dataset, list(catalog.datasets)) or f"defined: {', '.join(catalog.datasets)}",
        )
        return problems, None
    columns = list(dataset.columns) + list(dataset.deadlines) + list(dataset.derived)
    parsed = {}
    fields = {**kpi.formulas, **({"where": kpi.where} if kpi.where is not None else {})}
    for field, text in fields.items():
        formula = _parsed(text, field, problem, row=field == "where")
        if formula is None:
            continue
        for column in sorted(formula.columns - set(columns)):
            if column in dataset.dropped:
                problem(dropped_message(kpi.dataset, dataset, column), field, DROPPED_HINT)
                continue
            hint = did_you_mean(column, columns + list(SPECIAL_NAMES))
            problem(
                f"unknown column '{column}' in formula (dataset '{kpi.dataset}')",
                field,
                hint or f"columns of '{kpi.dataset}': {', '.join(columns)}",
            )
        for name in sorted(formula.kpis):
            problem(
                f"kpi.{name} is another KPI's value; a KPI with a dataset aggregates records",
                field,
                "compute it in a KPI without 'dataset', whose formula is built from kpi.ID values",
            )
        _name_problems(catalog, formula, field, problem)
        parsed[field] = formula
    window_column = kpi.window.date or dataset.date_column
    if window_column not in dataset.columns:
        problem(
            f"window column '{window_column}' is not a column of '{kpi.dataset}'",
            "window.date",
            did_you_mean(window_column, columns),
            loc_tail=("date",),
        )
    elif dataset.columns[window_column].type not in ("date", "datetime"):
        problem(
            f"window column '{window_column}' has type '{dataset.columns[window_column].type}'",
            "window.date",
            "declare it with type: date or type: datetime (and its format)",
            loc_tail=("date",),
        )
    _dimension_problems(kpi, {kpi.dataset: dataset}, columns, problem)
    if problems or len(parsed) != len(fields):
        return problems, None
    return problems, _type_check(loaded, index, kpi, dataset, parsed)


def _parsed(text: str, field: str, problem: Callable[..., None], **mode: bool) -> Formula | None:
    """A KPI's formula parsed in `mode` (row, over_kpis), or None after reporting where it breaks the language."""
    try:
        return parse_formula(text, **mode)
    except FormulaError as exc:
        at = f" (at character {exc.offset + 1})" if exc.offset is not None else ""
        problem(f"{exc.message}{at} in formula: {text.strip()}", field, exc.hint)
        return None


def _name_problems(catalog: Catalog, formula: Formula, field: str, problem: Callable[..., None]) -> None:
    """params.NAME and ref.NAME that the catalog does not declare."""
    for param in sorted(formula.params - set(catalog.parameters)):
        problem(
            f"unknown parameter 'params.{param}'",
            field,
            did_you_mean(param, list(catalog.parameters)) or "declare it under 'parameters:'",
        )
    for ref in sorted(formula.refs - set(catalog.reference_tables)):
        problem(
            f"unknown reference table 'ref.{ref}'",
            field,
            did_you_mean(ref, list(catalog.reference_tables)) or "declare it under 'reference_tables:'",
        )


def _dimension_problems(
    kpi: KPI, datasets: dict[str, Dataset], known: list[str], problem: Callable[..., None], via: str = ""
) -> None:
    """Every group_by column and target.by_group key is a column of every dataset under the KPI."""

    def lacking(dimension: str) -> str | None:
        return next((name for name, dataset in datasets.items() if dimension not in dataset.columns), None)

    for position, item in enumerate(kpi.group_by):
        for inner, dimension in [(None, item)] if isinstance(item, str) else enumerate(item):
            name = lacking(dimension)
            if name is not None:
                dropped = dimension in datasets[name].dropped
                problem(
                    f"group_by: {dropped_message(name, datasets[name], dimension)}"
                    if dropped
                    else f"group_by column '{dimension}' is not a column of '{name}'{via}",
                    "group_by",
                    DROPPED_HINT if dropped else did_you_mean(dimension, known),
                    loc_tail=(position,) if inner is None else (position, inner),
                )
    for dimension in kpi.target.by_group if kpi.target else {}:
        name = lacking(dimension)
        if name is not None:
            problem(
                f"target.by_group names '{dimension}', which is not a column of '{name}'{via}",
                "target.by_group",
                did_you_mean(dimension, known) or "by_group keys are columns the KPI can be grouped by",
                loc_tail=("by_group", dimension),
            )


def _from_kpis_problems(loaded: LoadedCatalog, index: int, kpi: KPI, problem: Callable[..., None]) -> None:
    """A KPI without a dataset: a formula over kpi.ID values and params, with no records, columns or aggregates.

    Its group_by is checked in `_input_problems`, once every KPI id is known to resolve.
    """
    import polars as pl

    catalog = loaded.catalog
    ids = [k.id for k in catalog.kpis]
    parsed = {}
    for field, text in kpi.formulas.items():
        formula = _parsed(text, field, problem, over_kpis=True)
        if formula is None:
            continue
        for name in sorted(formula.kpis - set(ids)):
            problem(f"unknown KPI 'kpi.{name}'", field, did_you_mean(name, ids) or "see `civic-kpi list`")
        _name_problems(catalog, formula, field, problem)
        parsed[field] = formula
    if len(parsed) != len(kpi.formulas):
        return
    if not any(formula.kpis for formula in parsed.values()):  # a ratio may take one side from params alone
        field = next(iter(parsed))
        problem(
            "a KPI without a dataset is computed from other KPIs, but its formula names none",
            field,
            "name other KPIs as kpi.ID, or give this KPI a dataset",
        )
        return
    frame = pl.DataFrame(schema={kpi_column(name): pl.Float64 for f in parsed.values() for name in f.kpis})
    refs: dict[str, list] = {r: [] for r in catalog.reference_tables}
    ctx = Context(None, NO_PERIOD, NO_PERIOD, NO_PERIOD, dict(catalog.parameters), refs)
    for field, formula in parsed.items():
        try:
            frame.select(compile_formula(formula, ctx).expr.alias("x"))
        except (pl.exceptions.PolarsError, FormulaError, TypeError, ValueError) as exc:
            problem(f"formula does not compute: {str(exc).strip().splitlines()[0]}", field)


def _input_problems(loaded: LoadedCatalog) -> list[Problem]:
    """KPIs computed from KPIs: no circles, and every breakdown a column of every dataset underneath."""
    from civic_kpi.catalog.graph import cycle, datasets_under, inputs

    cat, file = loaded.catalog, str(loaded.path)
    index_of = {k.id: i for i, k in enumerate(cat.kpis)}
    circle = cycle(cat)
    if circle:
        first = cat.kpis[index_of[circle[0]]]
        field = next(iter(first.formulas))
        return [
            Problem(
                f"KPIs are computed from each other in a circle: {' -> '.join(circle)}",
                file=file,
                line=loaded.line_of(("kpis", index_of[first.id], field)),
                kpi=first.id,
                field=field,
                hint="one of them must be computed from a dataset's records",
            )
        ]
    problems: list[Problem] = []
    for index, kpi in enumerate(cat.kpis):
        if not kpi.from_kpis or any(name not in index_of for name in inputs(kpi)):
            continue
        names = datasets_under(cat, kpi)
        if not names or any(name not in cat.datasets for name in names):
            continue

        def problem(message: str, field: str, hint: str | None = None, loc_tail: tuple = (), at: int = index) -> None:
            line = loaded.line_of(("kpis", at, field.split(".")[0], *loc_tail))
            problems.append(Problem(message, file=file, line=line, kpi=cat.kpis[at].id, field=field, hint=hint))

        datasets = {name: cat.datasets[name] for name in names}
        shared = [c for c in datasets[names[0]].columns if all(c in d.columns for d in datasets.values())]
        _dimension_problems(kpi, datasets, shared, problem, via=", a dataset it is computed from")
        for dimension in sorted({d for dims in kpi.breakdowns for d in dims if d in shared}):
            # Groups are matched by their text: an integer 1 in one dataset and a float 1.0 in another differ.
            types = {name: datasets[name].columns[dimension].type for name in names}
            if len(set(types.values())) > 1:
                listed = ", ".join(f"{kind} in '{name}'" for name, kind in types.items())
                problem(
                    f"group_by column '{dimension}' has different types in the datasets it is computed from "
                    f"({listed}), so their groups would not match",
                    "group_by",
                    "declare the column with the same type in every dataset",
                )
    return problems


@dataclass
class _TypeCheck:
    """A KPI's formulas against the declared column types: what their kinds already tell, and for the rest a probe
    (the formula run on an empty frame of those types), run with every other KPI's probes in one go."""

    fields: list[str]
    kind_problems: dict[str, list[Problem]]
    probes: dict[str, pl.LazyFrame]
    not_compiled: dict[str, Exception]
    problem: Callable[[str, str], Problem]  # the problem of a field, given its message

    def problems(self, failed: dict[str, Exception]) -> list[Problem]:
        """The problems in field order, given the probes that `failed`."""
        failed = self.not_compiled | failed
        found = []
        for field in self.fields:
            found += self.kind_problems.get(field, [])
            if field in failed:
                message = str(failed[field]).strip().splitlines()[0]
                found.append(self.problem(field, f"formula does not fit the column types: {message}"))
        return found


def _type_check(loaded: LoadedCatalog, index: int, kpi: KPI, dataset: Dataset, parsed: dict) -> _TypeCheck | None:
    """Compile each formula for a run on an empty frame with the declared types: catches 'text > number'."""
    import polars as pl

    empty = pl.DataFrame(schema=polars_schema(dataset)).lazy()
    if dataset.derived:
        from civic_kpi.formula import with_derived

        values = {
            "params": dict(loaded.catalog.parameters),
            "refs": {r: [] for r in loaded.catalog.reference_tables},
            "timezone": loaded.catalog.timezone,
        }
        try:
            empty = with_derived(empty, dataset.derived, set(dataset.derived), values, dataset.date_only_columns)
        except FormulaError:
            return None  # reported by derived_problems
    ctx = Context(
        mask=all_rows(),
        period_start=NO_PERIOD,
        period_end=NO_PERIOD,
        as_of=NO_PERIOD,
        params=dict(loaded.catalog.parameters),
        refs={name: [] for name in loaded.catalog.reference_tables},
        timezone=loaded.catalog.timezone,
        date_columns=dataset.date_only_columns,
    )

    def problem(
        field: str,
        message: str,
        hint: str = "check the types declared under the dataset's columns (date columns need type: date or "
        "datetime; numbers need integer or float)",
    ) -> Problem:
        line = loaded.line_of(("kpis", index, field))
        return Problem(message, file=str(loaded.path), line=line, kpi=kpi.id, field=field, hint=hint)

    check = _TypeCheck(list(parsed), {}, {}, {}, problem)
    kinds = dataset.column_kinds
    for field, formula in parsed.items():

        def wrong_kind(message: str, field: str = field) -> None:
            hint = f"the columns' types are declared under datasets.{kpi.dataset}.columns"
            check.kind_problems.setdefault(field, []).append(problem(field, message, hint))

        if _kind_problems(formula, kinds, dict(loaded.catalog.parameters), wrong_kind):
            continue
        try:
            if field == "where":  # a row filter: it must be a condition
                check.probes[field] = empty.filter(compile_row(formula, ctx))
            else:
                check.probes[field] = empty.select(compile_formula(formula, ctx).expr.alias("x"))
        except (pl.exceptions.PolarsError, FormulaError, TypeError, ValueError) as exc:
            check.not_compiled[field] = exc
    return check


def _failed_probes(probes: dict[tuple[int, str], pl.LazyFrame]) -> dict[tuple[int, str], Exception]:
    """Run every formula of the catalog on its empty frame together, and one by one only when one fails, to name
    it: every command loads the catalog, and the bundled catalog's 56 probes took 60 to 80 ms collected one by one,
    7 ms together on the in-memory engine."""
    import polars as pl

    errors = (pl.exceptions.PolarsError, TypeError, ValueError)
    try:
        pl.collect_all(list(probes.values()), engine="in-memory")
        return {}
    except errors:
        pass
    failed: dict[tuple[int, str], Exception] = {}
    for key, probe in probes.items():
        try:
            probe.collect(engine="in-memory")
        except errors as exc:
            failed[key] = exc
    return failed


def reference_problems(loaded: LoadedCatalog) -> list[Problem]:
    """Names one part of the catalog gives another: SLA policies, calendars, review rules, KPI ids, countries."""
    cat, file = loaded.catalog, str(loaded.path)
    problems = []

    def problem(message: str, loc: tuple, field: str, name: str, known: list[str]) -> None:
        hint = did_you_mean(name, known) or (f"defined: {', '.join(known)}" if known else None)
        problems.append(Problem(message, file=file, line=loaded.line_of(loc), field=field, hint=hint))

    seen: dict[str, int] = {}
    for index, kpi in enumerate(cat.kpis):
        if kpi.id in seen:
            problems.append(
                Problem(
                    f"KPI id '{kpi.id}' is used twice (first at line {loaded.line_of(('kpis', seen[kpi.id], 'id'))})",
                    file=file,
                    line=loaded.line_of(("kpis", index, "id")),
                    field="id",
                    hint="give every KPI its own id",
                )
            )
        seen.setdefault(kpi.id, index)
    for name, policy in cat.sla_policies.items():
        if policy.calendar is not None and policy.calendar not in cat.calendars:
            problem(
                f"calendar '{policy.calendar}' is not defined under calendars",
                ("sla_policies", name, "calendar"),
                f"sla_policies.{name}.calendar",
                policy.calendar,
                list(cat.calendars),
            )
    for name, dataset in cat.datasets.items():
        for column, deadline in dataset.deadlines.items():
            if deadline.policy not in cat.sla_policies:
                problem(
                    f"SLA policy '{deadline.policy}' is not defined under sla_policies",
                    ("datasets", name, "deadlines", column),
                    f"datasets.{name}.deadlines.{column}.policy",
                    deadline.policy,
                    list(cat.sla_policies),
                )
    if cat.performance_review is not None:
        review = cat.performance_review
        dims = [*review.by, *([review.owner] if review.owner else [])]
        for index, rule in enumerate(review.rules):
            if rule.kpi in seen:
                from civic_kpi.catalog.graph import datasets_under

                for dataset in datasets_under(cat, cat.kpis[seen[rule.kpi]]):
                    for dim in dims if dataset in cat.datasets else []:
                        if dim not in cat.datasets[dataset].columns:
                            problem(
                                f"review rule KPI '{rule.kpi}' reads dataset '{dataset}', which has no column '{dim}' "
                                "to group the review by",
                                ("performance_review", "rules", index),
                                "performance_review.rules",
                                dim,
                                list(cat.datasets[dataset].columns),
                            )
            if rule.kpi not in seen:
                problem(
                    f"review rule KPI '{rule.kpi}' is not a KPI of this catalog",
                    ("performance_review", "rules", index),
                    "performance_review.rules",
                    rule.kpi,
                    list(seen),
                )
    for name, calendar in cat.calendars.items():
        if calendar.holidays is not None:
            from civic_kpi.errors import CivicKpiError
            from civic_kpi.time.business_days import holiday_dates

            try:
                holiday_dates(calendar, range(2020, 2021), name)
            except CivicKpiError as exc:
                problems += [
                    Problem(
                        p.message,
                        file=file,
                        line=loaded.line_of(("calendars", name, "holidays")),
                        field=p.field,
                        hint=p.hint,
                    )
                    for p in exc.problems
                ]
    return problems


def quality_check_problems(loaded: LoadedCatalog) -> list[Problem]:
    """Data-quality checks name columns and may carry a `where` row formula: both are checked before any data."""
    problems = []
    for name, dataset in loaded.catalog.datasets.items():
        known = list(dataset.columns) + list(dataset.derived)
        types = {column: column_spec.type for column, column_spec in dataset.columns.items()}
        for index, spec in enumerate(dataset.checks):
            where = {"file": str(loaded.path), "line": loaded.line_of(("datasets", name, "checks", index)),
                     "field": f"datasets.{name}.checks.{index}"}  # fmt: skip
            kind = kind_named(spec.check)
            used = set(kind.columns(spec))
            if spec.where:
                try:
                    formula = parse_formula(spec.where, row=True)
                except FormulaError as exc:
                    problems.append(Problem(f"{exc.message} in where: {spec.where}", hint=exc.hint, **where))
                else:
                    used |= formula.columns

                    def wrong_kind(message: str, where: dict = where) -> None:
                        problems.append(Problem(message, **where))

                    _kind_problems(formula, dataset.column_kinds, dict(loaded.catalog.parameters), wrong_kind)
            for column in sorted(used - set(known)):
                message = f"check '{spec.label}' names unknown column '{column}'"
                problems.append(Problem(message, hint=did_you_mean(column, known), **where))
            problems.extend(Problem(message, **where) for message in kind.column_type_problems(spec, types))
    return problems


def check_catalog(loaded: LoadedCatalog) -> list[Problem]:
    """Every cross-reference problem of the catalog, in file order."""
    problems: list[Problem] = reference_problems(loaded) + derived_problems(loaded) + quality_check_problems(loaded)
    checked = [_kpi_problems(loaded, index, kpi) for index, kpi in enumerate(loaded.catalog.kpis)]
    probes = {(index, f): probe for index, (_, c) in enumerate(checked) if c for f, probe in c.probes.items()}
    failed = _failed_probes(probes)
    for index, (found, check) in enumerate(checked):
        problems += found
        if check is not None:
            problems += check.problems({field: exc for (at, field), exc in failed.items() if at == index})
    return problems + _input_problems(loaded)
