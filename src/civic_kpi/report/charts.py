"""The dashboard's charts: Vega specs filled with each chart's data, drawn to SVG by vl-convert (no browser, no
network).

The specs' shapes are templates built with Altair and compiled to Vega at development time (chart_templates.py);
here each chart only names its data. The SVG is drawn on a transparent background with colors that read on a light
and a dark page; the page's stylesheet recolors the axes' text and grid by theme (CSS beats SVG attributes).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

from civic_kpi.report.chart_templates import stored, trend_name

LABEL_CHARACTERS = 34  # a group's name on a bar chart; the table below the chart holds it whole


_pool: tuple[int, Any] | None = None  # (the process id that started it, the drawing thread's pool): see prepare
_starting = threading.Lock()  # two threads of a web app calling report at once start one drawing thread


def prepare() -> None:
    """Start the thread that draws the page's charts and warm vl-convert's JavaScript engine on it (about 0.13 s)
    while compute reads the data. vl-convert 2 lets go of the GIL while it works, so the thread draws beside this
    one's computing (one thread: on two cores the computing needs the other, and vl-convert draws on one worker).
    Called by `report`, in the CLI and the library; once per process. Where no thread can be started (the
    interpreter is shutting down) the charts are drawn by the caller. A process forked from this one does not wait
    on the thread it did not inherit, but cannot draw either: vl-convert's engine, like Polars' threads, does not
    survive a fork (a child hangs), so a report is made in the process itself or in a spawned one."""
    global _pool
    import atexit
    import os
    from concurrent.futures import ThreadPoolExecutor

    with _starting:
        if _pool is not None and _pool[0] == os.getpid():
            return
        pool = ThreadPoolExecutor(1, thread_name_prefix="civic-kpi-charts")
        try:
            pool.submit(_draw, _warm_spec())
            # Charts not yet drawn when the process leaves (the page failed, or a Ctrl-C) are dropped, not drawn for
            # nothing: before the interpreter joins the pool's thread, which would first draw every chart still
            # queued. threading's own hook runs before the atexit functions; elsewhere than CPython, atexit's.
            at_exit = getattr(threading, "_register_atexit", atexit.register)
            at_exit(pool.shutdown, wait=False, cancel_futures=True)
        except RuntimeError:  # too late: the interpreter is shutting down (a thread's report after main returned)
            pool.shutdown(wait=False, cancel_futures=True)
            return
        _pool = (os.getpid(), pool)


def _shared_pool() -> Any:
    """The pool `prepare` started in this very process, else None."""
    import os

    return _pool[1] if _pool is not None and _pool[0] == os.getpid() else None


def _warm_spec() -> dict[str, Any]:
    """A chart like the page's (with data: an empty one would log Vega's "Infinite extent" warnings)."""
    points = [{"start": f"2026-0{month}-01", "value": float(month), "year_ago": 1.5} for month in (1, 2)]
    return trend_spec(points, goal=1.0, warn=None, description="")


def _draw_all(specs: list[dict[str, Any]]) -> list[str]:
    return [_draw(spec) for spec in specs]


@cache
def _templates() -> dict[str, dict[str, Any]]:
    return stored()


def trend_spec(
    rows: list[dict[str, Any]],
    *,
    goal: float | None,
    warn: float | None,
    description: str,
    band: tuple[float, float] | None = None,
    ticks: Sequence[tuple[int, str]] = (),
) -> dict[str, Any]:
    """A line of the value per period, the year-ago value dashed beside it, the goal as a rule and the warn band
    between warn and goal, or a `between` target's `band` shaded between two rules. `rows` hold start (ISO date),
    value and year_ago; a None value is a gap in the line, never a zero. `ticks`: the periods the time axis names,
    as (start in milliseconds since 1970 UTC, label) pairs (see report/ticks.py); none, and Vega chooses."""
    if band is not None:
        lines = [{"low": band[0], "high": band[1]}]
        template = _templates()[trend_name(False, False, True)]
    else:
        lines = [{"goal": goal, "warn": warn}]
        template = _templates()[trend_name(goal is not None, warn is not None)]
    spec = _with_data(template, {"points": rows, "lines": lines}, description)
    if ticks:
        starts, labels = [start for start, _ in ticks], [text for _, text in ticks]
        text = {"signal": f"{json.dumps(labels)}[indexof({json.dumps(starts)}, +datum.value)]"}
        spec["axes"] = [
            {**axis, "values": starts, "encode": {**axis.get("encode", {}), "labels": {"update": {"text": text}}}}
            if _is_time_axis(axis)
            else axis
            for axis in spec["axes"]
        ]
    return spec


def _is_time_axis(axis: dict[str, Any]) -> bool:
    return axis.get("scale") == "x" and axis.get("orient") == "bottom" and axis.get("labels", True)


def breakdown_spec(rows: list[dict[str, Any]], *, description: str) -> dict[str, Any]:
    """A bar per group (rows in the order given: failing first), colored by status and labelled with its status
    mark so that color is never the only cue, and each group's own goal as a tick. A long label is shortened
    here, so that Vega need not measure and cut it."""
    labels: set[str] = set()
    rows = [{**row, "label": short_label(row["label"], row["mark"], labels)} for row in rows]
    spec = _with_data(_templates()["breakdown"], {"groups": rows}, description)
    spec["height"] = max(60, 22 * len(rows))
    # The layers' y domains are merged without their sort (Vega sorts a multi-source domain only by itself), so
    # the groups' order is given as the domain outright.
    spec["scales"] = [
        {**scale, "domain": [row["label"] for row in rows]} if scale["name"] == "y" else scale
        for scale in spec["scales"]
    ]
    return spec


def short_label(name: str, mark: str, used: set[str]) -> str:
    """`mark name`: the status's mark (✘, ▲, ✔, ...) and the name cut at a word to fit LABEL_CHARACTERS, with an
    ellipsis. The mark, with the bar's color, says the status without color alone; the word is in the table below.
    Short labels matter: the chart is laid out with vl-convert's font metrics, and the longer a label, the more a
    reader's wider font overshoots them. The bars are placed by label, so two names that read alike here (cut alike,
    or both shown as "(missing)") would share one bar: the second gets a number in brackets, which no group label
    has. `used` collects the labels."""
    name = name.strip() or "(blank)"
    if len(name) > LABEL_CHARACTERS:
        cut = name[: LABEL_CHARACTERS - 1]
        at_word = name[LABEL_CHARACTERS - 1] == " "
        cut = cut.rsplit(" ", 1)[0] if not at_word and " " in cut[LABEL_CHARACTERS // 2 :] else cut
        name = cut.rstrip(" ,;:-") + "…"
    label, n = f"{mark} {name}", 2
    while label in used:
        label, n = f"{mark} {name} [{n}]", n + 1
    used.add(label)
    return label


def _with_data(template: dict[str, Any], datasets: dict[str, list[dict[str, Any]]], description: str) -> dict[str, Any]:
    """The template with its named datasets filled in: a Vega spec ready to draw."""
    spec = dict(template)
    spec["data"] = [{**entry, "values": datasets[entry["name"]]} if entry.get("name") in datasets else entry
                    for entry in template["data"]]  # fmt: skip
    spec["description"] = description
    return spec


# Inline in HTML an <svg> needs neither an XML prolog nor namespace declarations (the parser knows the element).
_NOT_INLINE = re.compile(r'^\s*<\?xml[^>]*>\s*| xmlns(?::xlink)?="[^"]*"')


@cache
def _quiet_vega() -> None:
    """vl-convert passes Vega's warnings (an empty series' "Infinite extent") to the `vl_convert` logger: a handler
    that drops them keeps Python's last-resort handler from printing them on the command's stderr. An application
    that configured logging still gets them."""
    import logging

    logging.getLogger("vl_convert").addHandler(logging.NullHandler())


def _draw(spec: dict[str, Any]) -> str:
    import vl_convert

    _quiet_vega()
    # Hidden from assistive technology as a whole: the figure around it is role="img" with a label, and its data
    # table holds the numbers; Vega's own mark roles would be unnamed images to a screen reader.
    return _NOT_INLINE.sub("", vl_convert.vega_to_svg(spec)).replace("<svg ", '<svg aria-hidden="true" ', 1)


CHUNK = 3  # charts per task sent to the drawing thread


class Drawing:
    """The page's charts being drawn as SVG elements to place inline, in order.

    Made as soon as the specs are known, it sends them, a few at a time, to the thread `prepare` started in this
    process (if it did), which draws them while this one computes the rest of the page (the review and the
    scorecard); `svgs()` waits for them. Without that thread every chart is drawn here, in `svgs()`."""

    def __init__(self, specs: list[dict[str, Any]]) -> None:
        import os

        self.specs = specs
        self.pid = os.getpid()
        self.tasks: dict[int, Any] = {}  # index of a chunk's first spec -> its future
        pool = _shared_pool()
        if pool is None:
            return
        try:
            for start in range(0, len(specs), CHUNK):
                self.tasks[start] = pool.submit(_draw_all, specs[start : start + CHUNK])
        except RuntimeError:  # the pool was shut down (the interpreter is leaving): the rest are drawn here
            pass

    def svgs(self) -> list[str]:
        import os

        # A process forked after the charts were sent inherits the futures but not the thread that would finish
        # them: it does not wait on them for ever, it draws its own (which vl-convert allows only in a child forked
        # before this process drew any chart: see prepare).
        tasks = self.tasks if os.getpid() == self.pid else {}
        drawn: list[str] = []
        for start in range(0, len(self.specs), CHUNK):
            chunk, task = self.specs[start : start + CHUNK], tasks.get(start)
            try:
                found = task.result() if task is not None else None
            except Exception:  # drawn again here, where a real error reaches the user (or cancelled at exit)
                found = None
            drawn += found if found is not None else _draw_all(chunk)
        return drawn


def svgs(specs: list[dict[str, Any]]) -> list[str]:
    """Each Vega spec drawn as an SVG element to place inline in the page, in order (see Drawing)."""
    return Drawing(specs).svgs()
