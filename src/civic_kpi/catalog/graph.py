"""KPIs computed from other KPIs: which KPIs each one reads, which datasets lie under it, in which order to compute.

A KPI without a dataset names its inputs as kpi.ID in its formula. These functions assume a catalog whose names
resolve (`catalog.checks` reports unknown ids and cycles first); `cycle` is what those checks use.
"""

from __future__ import annotations

from functools import cache

from civic_kpi.catalog.model import KPI, Catalog
from civic_kpi.formula import FormulaError, parse_formula
from civic_kpi.formula.tree import KpiRef, walk


@cache
def _inputs_of_formulas(formulas: tuple[str, ...]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for text in formulas:
        try:
            tree = parse_formula(text, over_kpis=True).tree
        except FormulaError:
            continue  # reported by the catalog checks
        named = sorted((node for node in walk(tree) if isinstance(node, KpiRef)), key=lambda node: node.offset)
        found |= dict.fromkeys(node.name for node in named)
    return tuple(found)


def inputs(kpi: KPI) -> tuple[str, ...]:
    """The ids of the KPIs this KPI's formula reads (kpi.ID), in formula order."""
    return _inputs_of_formulas(tuple(kpi.formulas.values())) if kpi.from_kpis else ()


def cycle(catalog: Catalog) -> list[str] | None:
    """A chain of KPIs that ends where it started (a -> b -> a), or None."""
    by_id = {k.id: k for k in catalog.kpis}
    state: dict[str, str] = {}  # "open" while its inputs are being visited, "done" after

    def visit(kpi_id: str, path: list[str]) -> list[str] | None:
        if state.get(kpi_id) == "open":
            return [*path[path.index(kpi_id) :], kpi_id]
        if state.get(kpi_id) == "done" or kpi_id not in by_id:
            return None
        state[kpi_id] = "open"
        for name in inputs(by_id[kpi_id]):
            found = visit(name, [*path, kpi_id])
            if found:
                return found
        state[kpi_id] = "done"
        return None

    for kpi in catalog.kpis:
        found = visit(kpi.id, [])
        if found:
            return found
    return None


def with_inputs(catalog: Catalog, chosen: list[KPI]) -> list[KPI]:
    """The chosen KPIs and every KPI they are computed from, inputs before the KPIs that read them."""
    by_id = {k.id: k for k in catalog.kpis}
    ordered: dict[str, KPI] = {}
    visiting: set[str] = set()  # guards against a circle the checks have not reported yet

    def visit(kpi: KPI) -> None:
        if kpi.id in ordered or kpi.id in visiting:
            return
        visiting.add(kpi.id)
        for name in inputs(kpi):
            if name in by_id:
                visit(by_id[name])
        ordered[kpi.id] = kpi

    for kpi in chosen:
        visit(kpi)
    return list(ordered.values())


def datasets_under(catalog: Catalog, kpi: KPI) -> list[str]:
    """The datasets a KPI's value comes from: its own, or those of the KPIs it is computed from."""
    if kpi.dataset is not None:
        return [kpi.dataset]
    return list(dict.fromkeys(k.dataset for k in with_inputs(catalog, [kpi]) if k.dataset is not None))
