"""The first KPIs a dataset's columns allow, each with a comment saying what it measures and what to decide next.

A starter proposes measures every city performance team keeps for a flow of requests (how many came in, how many
are closed, how long closing takes, how many met their deadline, the share of a flag such as a digital channel),
only where the columns are there to compute them. It proposes no target: a made-up goal would judge the city's
numbers against nothing it decided, so each KPI carries a commented target to fill in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Whole words of a column's name (split at _ and spaces), so that 'agenda_published_at' is no 'end' and
# 'pending_since' no closure.
OPENED = re.compile(r"(^|_)(created?|creation|open|opened|received?|requested|request|submitted|filed|start|started|"
                    r"offered|reported|intake)(_|$)", re.I)  # fmt: skip
# The closing date, by preference: a column saying closed before one saying resolved, completed or finished (a
# records log may fill 'complete_date' on every request and 'closed_date' only once it is closed).
CLOSED_WORDS = (("closed", "close", "closing"), ("resolved",), ("completed", "complete", "completion"),
                ("fulfilled", "finished", "answered", "ended"))  # fmt: skip
CLOSED = re.compile(rf"(^|_)({'|'.join(w for words in CLOSED_WORDS for w in words)})(_|$)", re.I)
DUE = re.compile(r"(^|_)(due|deadline|sla|target|expected)(_|$)", re.I)
# Columns a team breaks a flow down by, most useful first (a priority or type before a place).
BREAKDOWNS = ("priority", "type", "category", "service", "agency", "department", "dept", "division", "channel",
              "source", "district", "ward", "neighbo", "status")  # fmt: skip
MAX_GROUPS = 30  # more distinct values than this is rarely a breakdown a table can show


@dataclass
class Columns:
    """A dataset's KPI-side columns, by what a formula can do with them."""

    dates: dict[str, str] = field(default_factory=dict)  # name → "date" or "datetime"
    flags: list[str] = field(default_factory=list)  # yes/no columns: a share of records
    groups: dict[str, int] = field(default_factory=dict)  # text columns with few distinct values → how many
    date_column: str | None = None  # the dataset's date (a preset's, or the first one that reads like an intake)
    never_empty: set[str] = field(default_factory=set)  # filled in on every record (a log of closed items only)
    flag_sources: dict[str, str] = field(default_factory=dict)  # a preset's flag → the column it is read from
    sources: dict[str, str] = field(default_factory=dict)  # a preset's column → the export's (as inspect names it)

    def opened(self) -> str | None:
        if self.date_column in self.dates:
            return self.date_column
        return next((name for name in self.dates if OPENED.search(name)), next(iter(self.dates), None))

    def breakdown_for(self, flag: str | None = None) -> dict[str, list[str]]:
        """The group_by of a KPI: the likeliest grouping column, never the one a flag is read from (a share of
        'final' by agenda status is 0% or 100% by construction)."""
        source = self.flag_sources.get(flag or "", flag)
        found = [name for name in self.breakdowns() if name != source]
        return {"group_by": [found[0]]} if found else {}

    def closed(self) -> str | None:
        opened = self.opened()
        for words in CLOSED_WORDS:
            said = re.compile(rf"(^|_)({'|'.join(words)})(_|$)", re.I)
            found = next((name for name in self.dates if name != opened and said.search(name)), None)
            if found:
                return found
        return None

    def due(self) -> str | None:
        return next(
            (name for name in self.dates if DUE.search(name) and name not in (self.opened(), self.closed())), None
        )

    def breakdowns(self) -> list[str]:
        """Columns to group by, the likeliest first."""

        def rank(name: str) -> int:
            return next((i for i, word in enumerate(BREAKDOWNS) if word in name.lower()), len(BREAKDOWNS))

        return sorted((name for name, count in self.groups.items() if 2 <= count <= MAX_GROUPS), key=rank)


@dataclass(frozen=True)
class Seed:
    """One proposed KPI: its catalog fields in order, and the comment written above it."""

    comment: str
    fields: dict[str, object]
    target_hint: str


def title(name: str) -> str:
    return name.replace("_", " ").strip().title()


def seeds(dataset: str, columns: Columns, domain: str) -> list[Seed]:
    """The KPIs `columns` allow for `dataset`, in the order a team would read them, named after `domain`."""
    opened, closed, due = columns.opened(), columns.closed(), columns.due()
    if opened is None:
        return []
    group_by = columns.breakdown_for()
    found = [
        Seed(
            f"How many records each period, by {opened}: the workload. Watch it before judging it.",
            {"id": f"{dataset}_volume", "name": f"{domain}: Volume", "unit": "count", "decimals": 0,
             "window": {"date": opened}, "value": "count()", **group_by},
            "a range you consider normal, e.g. {at_most: 1200, warn: 1500}",
        ),
    ]  # fmt: skip
    if closed is not None and closed not in columns.never_empty:  # a log of closed items only is 100% closed
        found.append(
            Seed(
                f"Share of the period's records that are closed ({closed} is filled in).",
                {"id": f"{dataset}_closed_share", "name": f"{domain}: Closed Share", "unit": "percent",
                 "window": {"date": opened}, "numerator": f"count({closed} is not None)", "denominator": "count()",
                 **group_by},
                "{at_least: 90, warn: 80}",
            )
        )  # fmt: skip
    if closed is not None:
        hours = columns.dates[opened] == "datetime" and columns.dates[closed] == "datetime"
        unit, between = ("hours", "hours_between") if hours else ("days", "days_between")
        for statistic, formula in (("Median", "median({between}, where={closed} is not None)"),
                                   ("P90", "percentile({between}, 90, where={closed} is not None)")):  # fmt: skip
            found.append(
                Seed(
                    f"{statistic} time from {opened} to {closed}, over the records closed in the period "
                    "(PERCENTILE.INC, as a spreadsheet computes it).",
                    {"id": f"{dataset}_time_to_close_{statistic.lower()}",
                     "name": f"{domain}: Time to Close {statistic}", "unit": unit, "window": {"date": closed},
                     "value": formula.format(between=f"{between}({opened}, {closed})", closed=closed), **group_by},
                    "lower than a year ago: {compare_to: year_ago, below: 0}",
                )
            )  # fmt: skip
    if closed is not None and due is not None:
        found.append(
            Seed(
                f"Records closed by their deadline ({due}), of those closed in the period that have one.",
                {"id": f"{dataset}_on_time", "name": f"{domain}: On Time", "unit": "percent",
                 "window": {"date": closed}, "numerator": f"count({closed} is not None and {closed} <= {due})",
                 "denominator": f"count({closed} is not None and {due} is not None)", **group_by},
                "{at_least: 90, warn: 85}",
            )
        )  # fmt: skip
    for flag in columns.flags:
        if closed is not None and re.search(r"(^|_)closed?(_|$)", flag, re.I):
            continue  # 'is_closed': the closed share says it already
        found.append(
            Seed(
                f"Share of the period's records where {flag} is true (of those where it is known).",
                {"id": f"{dataset}_{flag}_share", "name": f"{domain}: {title(flag)} Share", "unit": "percent",
                 "window": {"date": opened}, "numerator": f"count({flag})",
                 "denominator": f"count({flag} is not None)", **columns.breakdown_for(flag)},
                "{at_least: 50}",
            )
        )  # fmt: skip
    return found
