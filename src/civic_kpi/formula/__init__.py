"""The restricted formula language of the catalog: parse once, check against a whitelist, compile to Polars.

It knows nothing of the catalog: callers hand it formula text and the values its free names take.

- tree.py       the language's own syntax tree (frozen nodes with character offsets) and the parsed Formula
- parse.py      text -> checked tree, memoised per text and mode
- functions.py  the one registry of functions: signature, doc, kind and compile step of each
- kinds.py      what kind of value each part is, where the catalog says: arguments of the wrong kind
- compile.py    tree -> Polars expressions for one period (or per record)
- context.py    what the free names mean while a period is computed, and the masks every part shares
- cadence.py    refresh_days(): update cadences ('R/P1M', 'Annual (R/P1Y)') in days, and the note on those it cannot use
"""

from civic_kpi.formula.cadence import cadence_note, refresh_days
from civic_kpi.formula.compile import (
    Compiled,
    Partials,
    Quantile,
    cadence_inputs,
    compile_formula,
    compile_row,
    count_rows,
    splits,
    with_derived,
)
from civic_kpi.formula.context import NO_PERIOD, Context, all_rows, both, instant_column, kpi_column, moment_literal
from civic_kpi.formula.functions import (
    AGGREGATES,
    FUNCTIONS,
    PERCENTILE_METHOD_TEXT,
    REGISTRY,
    ROW_FUNCTIONS,
    Function,
    instant_columns,
)
from civic_kpi.formula.kinds import argument_problems, kind_of
from civic_kpi.formula.parse import NAMESPACES, parse_formula
from civic_kpi.formula.tree import SPECIAL_NAMES, Formula, FormulaError, Node, walk

__all__ = [
    "AGGREGATES",
    "FUNCTIONS",
    "NAMESPACES",
    "NO_PERIOD",
    "PERCENTILE_METHOD_TEXT",
    "REGISTRY",
    "ROW_FUNCTIONS",
    "SPECIAL_NAMES",
    "Compiled",
    "Context",
    "Formula",
    "FormulaError",
    "Function",
    "Node",
    "Partials",
    "Quantile",
    "all_rows",
    "argument_problems",
    "both",
    "cadence_inputs",
    "cadence_note",
    "compile_formula",
    "compile_row",
    "count_rows",
    "instant_column",
    "instant_columns",
    "kind_of",
    "kpi_column",
    "moment_literal",
    "parse_formula",
    "refresh_days",
    "splits",
    "walk",
    "with_derived",
]
