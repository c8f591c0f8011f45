"""Which declared columns of each dataset the catalog's KPIs, checks and review ever read.

`validate` holds the files to what a run can need: a column no KPI, check or review uses (a preset declares every
column of its layout, and older exports lack some) is a note when a file lacks it or holds values it cannot read,
not an error, since `compute` never reads it.
"""

from __future__ import annotations

from civic_kpi.catalog.graph import datasets_under
from civic_kpi.catalog.loader import LoadedCatalog
from civic_kpi.catalog.model import Dataset
from civic_kpi.check_kinds import kind_named
from civic_kpi.formula import FormulaError, parse_formula


def _row_columns(text: str) -> set[str]:
    try:
        return set(parse_formula(text, row=True).columns)
    except FormulaError:
        return set()  # the catalog checks report it


def export_columns(dataset: Dataset, names: set[str]) -> set[str]:
    """The declared columns `names` read, derived columns and deadlines followed to the columns they come from."""
    found: set[str] = set()
    pending, seen = list(names), set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in dataset.columns:
            found.add(name)
        elif name in dataset.derived:
            pending += _row_columns(dataset.derived[name])
        elif name in dataset.deadlines:
            deadline = dataset.deadlines[name]
            pending += [deadline.start, *([deadline.key] if deadline.key else [])]
    return found


def columns_used(loaded: LoadedCatalog) -> dict[str, set[str]]:
    """Per dataset: the declared columns some KPI (its formulas, window, breakdowns), check or review reads."""
    cat = loaded.catalog
    names: dict[str, set[str]] = {name: set() for name in cat.datasets}
    for name, dataset in cat.datasets.items():
        for check in dataset.checks:
            names[name] |= set(kind_named(check.check).columns(check))
            names[name] |= _row_columns(check.where) if check.where else set()
    reviewed = {rule.kpi for rule in cat.performance_review.rules} if cat.performance_review else set()
    review = [*cat.performance_review.by, *filter(None, [cat.performance_review.owner])] if reviewed else []
    for kpi in cat.kpis:
        dims = {d for item in kpi.group_by for d in ([item] if isinstance(item, str) else item)}
        dims |= set(kpi.target.by_group) if kpi.target else set()
        dims |= set(review) if kpi.id in reviewed else set()
        under = [d for d in datasets_under(cat, kpi) if d in names]
        for name in under:
            names[name] |= dims
        if kpi.dataset is None or kpi.dataset not in names:
            continue
        dataset = cat.datasets[kpi.dataset]
        formulas = loaded.formulas.get(kpi.id, {})
        names[kpi.dataset] |= {c for formula in formulas.values() for c in formula.columns}
        names[kpi.dataset] |= {kpi.window.date or dataset.date_column, dataset.freshness_column}
    return {name: export_columns(cat.datasets[name], found) for name, found in names.items()}
