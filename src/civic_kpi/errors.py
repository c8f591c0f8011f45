"""User-facing errors and the process exit codes.

Mistakes a user can make (a bad catalog, a missing file, an unparseable date, a wrong option) are raised as a
`CivicKpiError`; the CLI turns one into a short message and exit code 2. Anything else that escapes is treated
as a bug (exit 3), so a user mistake that ends there is a bug to fix here: wrap it where it happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes of every `civic-kpi` command (docs/reference/exit-codes.md)."""

    OK = 0
    THRESHOLD = 1  # a KPI (or check) reached the --fail-on level; for compute, a KPI with a target had no data
    USER_ERROR = 2  # catalog, arguments or data are wrong; the message says where
    INTERNAL_ERROR = 3  # a bug in civic-kpi; please report it
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT); no output file was written or changed
    BROKEN_PIPE = 141  # the reader of stdout went away (`| head -1`); 128 + SIGPIPE, as for `yes | head -1`


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input, with enough context to find and fix it."""

    message: str
    file: str | None = None
    line: int | None = None
    kpi: str | None = None
    field: str | None = None
    hint: str | None = None

    def location(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.kpi:
            parts.append(f"KPI '{self.kpi}'")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)

    def render(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


def first_line(exc: BaseException) -> str:
    """An exception's message as one line (its first), or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class CivicKpiError(Exception):
    """A user error: the message is meant to be read by the person who made it."""

    exit_code = ExitCode.USER_ERROR

    def __init__(self, problems: Problem | list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = Problem(problems)
        self.problems: list[Problem] = problems if isinstance(problems, list) else [problems]
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)


class CatalogError(CivicKpiError):
    """The catalog (kpi_definitions.yaml) cannot be used as written."""


class DataError(CivicKpiError):
    """A data file is missing, unreadable, or does not match what the catalog says about it."""


class UsageError(CivicKpiError):
    """An option or argument given on the command line (or to the library API) is wrong."""


def did_you_mean(name: str, candidates: list[str] | set[str]) -> str | None:
    """A hint naming the closest candidate(s), the way a good CLI corrects a typo."""
    import difflib

    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered:
        return f"did you mean '{lowered[name.lower()]}'? (names are case-sensitive)"
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not close:
        # Loose match ignoring case, spaces and underscores: 'closed_date' vs 'Closed Date'.
        squash = {c.lower().replace(" ", "").replace("_", ""): c for c in pool}
        key = name.lower().replace(" ", "").replace("_", "")
        if key in squash:
            close = [squash[key]]
    return f"did you mean '{close[0]}'?" if close else None
