"""The restricted formula language of the catalog: parse once, check against a whitelist, compile to Polars.

It knows nothing of the catalog: callers hand it formula text and the values its free names take.
"""

from civic_kpi.formula.language import (
    AGGREGATES,
    FUNCTIONS,
    NAMESPACES,
    NO_PERIOD,
    PERCENTILE_METHOD_TEXT,
    ROW_FUNCTIONS,
    SPECIAL_NAMES,
    Compiled,
    Context,
    Formula,
    FormulaError,
    all_rows,
    both,
    compile_formula,
    compile_row,
    kpi_column,
    parse_formula,
    refresh_days,
    with_derived,
)

__all__ = [
    "AGGREGATES",
    "FUNCTIONS",
    "NAMESPACES",
    "NO_PERIOD",
    "PERCENTILE_METHOD_TEXT",
    "ROW_FUNCTIONS",
    "SPECIAL_NAMES",
    "Compiled",
    "Context",
    "Formula",
    "FormulaError",
    "all_rows",
    "both",
    "compile_formula",
    "compile_row",
    "kpi_column",
    "parse_formula",
    "refresh_days",
    "with_derived",
]
