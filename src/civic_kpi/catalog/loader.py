"""Load kpi_definitions.yaml safely, keeping the line of every key so that errors can point at it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import ValidationError

from civic_kpi.catalog.model import KPI, Catalog, Dataset
from civic_kpi.errors import CatalogError, Problem, did_you_mean
from civic_kpi.formula import Formula, FormulaError, parse_formula

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedCatalog:
    """A validated catalog with where it came from: the path, its hash (for provenance) and its YAML lines.

    It also holds every formula parsed, once, when it is loaded: `formulas[kpi_id]` maps each formula field of a
    KPI (value, numerator, denominator, and `where` as a row formula) to its Formula, and
    `derived_formulas[dataset][column]` each derived column's row formula. A formula that does not parse is left
    out; the catalog checks report it (a catalog loaded with check_formulas=False may lack some).
    """

    catalog: Catalog
    path: Path
    sha256: str
    lines: dict[Loc, int] = field(default_factory=dict, repr=False)
    formulas: Mapping[str, Mapping[str, Formula]] = field(init=False, repr=False, compare=False)
    derived_formulas: Mapping[str, Mapping[str, Formula]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed from `catalog`, never passed in, so they cannot disagree with it; read-only, because every
        # caller shares them.
        kpis = {kpi.id: MappingProxyType(_kpi_formulas(kpi)) for kpi in self.catalog.kpis}
        derived = {name: MappingProxyType(_derived_formulas(d)) for name, d in self.catalog.datasets.items()}
        object.__setattr__(self, "formulas", MappingProxyType(kpis))
        object.__setattr__(self, "derived_formulas", MappingProxyType(derived))

    def line_of(self, loc: Loc) -> int | None:
        return line_of(self.lines, loc)

    def data_dir(self, override: str | Path | None = None) -> Path:
        if override is not None:
            return Path(override)
        return (self.path.parent / self.catalog.data_dir).resolve()


def _kpi_formulas(kpi: KPI) -> dict[str, Formula]:
    texts = [(name, text, False) for name, text in kpi.formulas.items()]
    texts += [("where", kpi.where, True)] if kpi.where is not None else []
    parsed = {}
    for name, text, row in texts:
        try:
            parsed[name] = parse_formula(text, row=row, over_kpis=kpi.from_kpis and not row)
        except FormulaError:
            continue
    return parsed


def _derived_formulas(dataset: Dataset) -> dict[str, Formula]:
    parsed = {}
    for column, text in dataset.derived.items():
        try:
            parsed[column] = parse_formula(text, row=True)
        except FormulaError:
            continue
    return parsed


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The YAML line of `loc`, or of its closest ancestor that has one."""
    for end in range(len(loc), -1, -1):
        line = lines.get(tuple(loc[:end]))
        if line is not None:
            return line
    return None


def _line_map(
    node: yaml.Node | None,
    loc: Loc,
    lines: dict[Loc, int],
    problems: list[Problem],
    file: str,
    seen: set[int],
    ancestors: frozenset[int] = frozenset(),
) -> None:
    if node is None:
        return
    lines.setdefault(loc, node.start_mark.line + 1)
    if id(node) in ancestors:
        problems.append(
            Problem(
                "a recursive alias: this value refers to a mapping or list that contains it",
                file=file,
                line=lines[loc],  # where the alias is used (the node's own mark is its anchor's)
                hint="a catalog is a tree; copy the values instead of referring back to an enclosing anchor",
            )
        )
        return
    # An alias is the same node object again: walking it once is enough, and walking it every time would let a
    # few hundred bytes of nested aliases ("billion laughs") take hours.
    if id(node) in seen:
        return
    seen.add(id(node))
    ancestors = ancestors | {id(node)}
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            if key in keys:
                # PyYAML keeps the last of duplicate keys silently; a catalog that says two things is an error.
                problems.append(
                    Problem(
                        f"key '{key}' appears twice in the same mapping",
                        file=file,
                        line=key_node.start_mark.line + 1,
                        hint="remove one of them; YAML would silently keep only the last",
                    )
                )
            keys.add(key)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _line_map(value_node, (*loc, key), lines, problems, file, seen, ancestors)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _line_map(item, (*loc, index), lines, problems, file, seen, ancestors)


def parse_yaml(text: str, file: str) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML with the safe loader (no tags that build Python objects) and map each key to its line."""
    # The C parser (libyaml) when PyYAML has it: the same safe constructor, ten times faster than pure Python.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        hint = "check indentation and quoting around this line"
        if "'\\t'" in message or "\\t" in repr(message):
            hint = "YAML cannot be indented with tabs: use spaces"
        if "constructor" in message and "tag" in message:
            hint = "catalogs are plain data; tags such as !!python/object are not allowed"
        raise CatalogError(
            Problem(
                f"invalid YAML: {message}",
                file=file,
                line=mark.line + 1 if mark else None,
                hint=hint,
            )
        ) from None
    except yaml.YAMLError as exc:
        raise CatalogError(Problem(f"invalid YAML: {exc}", file=file)) from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    problems: list[Problem] = []
    _line_map(node, (), lines, problems, file, set())
    if problems:
        raise CatalogError(problems)
    return data, lines


def _allowed_fields(loc: Loc) -> list[str]:
    """The field names allowed at `loc`'s parent, for 'did you mean' hints on unknown keys."""
    from civic_kpi.catalog import model

    parent_models: dict[str, type] = {
        "kpis": model.KPI,
        "datasets": model.Dataset,
        "reference_tables": model.ReferenceTable,
    }
    names = [str(part) for part in loc if isinstance(part, str)]
    cls: type = model.Catalog
    if "target" in names:
        cls = model.Target
    elif "window" in names:
        cls = model.Window
    elif "columns" in names:
        cls = model.ColumnSpec
    elif names and names[0] in parent_models:
        cls = parent_models[names[0]]
    return list(cls.model_fields)  # type: ignore[attr-defined]


def _problems_from_validation(exc: ValidationError, data: Any, lines: dict[Loc, int], file: str) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        line = line_of(lines, loc)
        kpi = None
        if len(loc) >= 2 and loc[0] == "kpis" and isinstance(loc[1], int):
            try:
                kpi = data["kpis"][loc[1]].get("id")
            except (KeyError, IndexError, TypeError, AttributeError):
                kpi = None
        field_path = ".".join(str(p) for p in loc[2 if kpi else 0 :]) or None
        message = error["msg"]
        hint = None
        if error["type"] == "extra_forbidden":
            unknown = str(loc[-1])
            message = f"unknown field '{unknown}'"
            hint = did_you_mean(unknown, _allowed_fields(loc[:-1]))
            if hint is None:
                hint = "allowed here: " + ", ".join(_allowed_fields(loc[:-1]))
        elif error["type"] == "missing":
            message = f"required field '{loc[-1]}' is missing"
        elif error["type"] == "string_type" and isinstance(error.get("input"), bool):
            hint = "YAML reads unquoted yes/no/on/off/true/false as a boolean; put the text in quotes"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
            # A model-level rule names the field it is about first ("date_column 'x' is ..."): point at that line.
            named = message.split(" ", 1)[0].split(".")[-1].strip("'")
            nested = line_of(lines, (*loc, named)) if (*loc, named) in lines else None
            for kind, key in (("deadline", "deadlines"), ("derived column", "derived")):
                # "deadline 'sla_due_at': ..." is about one entry of the dataset's deadlines
                if message.startswith(f"{kind} '"):
                    entry = message.split("'")[1]
                    nested = lines.get((*loc, key, entry), nested)
            line = nested or line
        problems.append(Problem(message, file=file, line=line, kpi=kpi, field=field_path, hint=hint))
    return problems


# The catalogs this process loaded, by the path as given, where it resolves and whether formulas were checked; each
# kept with its text's digest, so that an edited file is loaded again. A notebook session, a report (which runs
# compute, review and scorecard) or a test suite loads one catalog many times, and a loaded catalog is immutable.
# One entry per path: a long session polling an edited catalog does not grow it.
_loaded: dict[tuple[str, Path, bool], LoadedCatalog] = {}


def load_catalog(path: str | Path, check_formulas: bool = True) -> LoadedCatalog:
    """Read, parse and validate a catalog. Raises CatalogError listing every problem found."""
    path = Path(path)
    display = str(path)
    try:
        raw = path.read_bytes()
        key = (display, path.resolve(), check_formulas)
    except FileNotFoundError:
        raise CatalogError(
            Problem(
                "catalog file not found",
                file=display,
                hint="pass the catalog with -c PATH (every command takes it) or run from the folder holding "
                "kpi_definitions.yaml",
            )
        ) from None
    except IsADirectoryError:
        raise CatalogError(Problem("is a directory, not a catalog file", file=display)) from None
    except OSError as exc:
        raise CatalogError(Problem(f"cannot read the catalog: {exc.strerror or exc}", file=display)) from None
    digest = hashlib.sha256(raw).hexdigest()
    known = _loaded.get(key)
    if known is not None and known.sha256 == digest:
        return known
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogError(
            Problem(f"not UTF-8 text (byte {exc.start})", file=display, hint="save the catalog as UTF-8")
        ) from None
    data, lines = parse_yaml(text, display)
    if data is None:
        raise CatalogError(
            Problem("the catalog file is empty", file=display, hint="see kpi_definitions.yaml for a complete example")
        )
    if not isinstance(data, dict):
        raise CatalogError(
            Problem(
                "the catalog must be a YAML mapping with 'datasets' and 'kpis'",
                file=display,
                line=1,
                hint="see kpi_definitions.yaml in the civic-kpi repository for a complete example",
            )
        )
    datasets = data.get("datasets")
    if isinstance(datasets, dict):
        from civic_kpi.catalog.presets import apply_preset

        data = {
            **data,
            "datasets": {
                name: apply_preset(entry, display, lines.get(("datasets", name, "preset")))
                if isinstance(entry, dict)
                else entry
                for name, entry in datasets.items()
            },
        }
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(_problems_from_validation(exc, data, lines, display)) from None
    loaded = LoadedCatalog(catalog=catalog, path=path, sha256=digest, lines=lines)
    if check_formulas:
        from civic_kpi.catalog.rules import check_catalog

        problems = check_catalog(loaded)
        if problems:
            raise CatalogError(problems)
    _loaded[key] = loaded
    return loaded
