"""The dashboard's charts: Vega-Lite specs built with Altair, drawn to SVG by vl-convert (no browser, no network).

Altair and vl-convert take most of a second to import, so they are imported here, inside the functions, and only
`report` pays for them. The SVG is drawn on a transparent background with colors that read on a light and a dark
page; the page's stylesheet recolors the axes' text and grid by theme (CSS beats SVG presentation attributes).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

VEGA_LITE = "6.4"  # the newest Vega-Lite vl-convert 1.9 bundles: the gap-keeping `invalid` modes below need 6

# Mid-tone colors that keep 3:1 contrast on white and on the dark theme's background (#0f1a14).
VALUE_COLOR = "#2f9e5b"
YEAR_AGO_COLOR = "#8a949c"
GOAL_COLOR = "#d9822b"
WARN_BAND = "#d9a62b"
STATUS_COLORS = {
    "pass": "#2f9e5b",
    "warn": "#c99a06",
    "fail": "#d9483b",
    "not_comparable": "#9b6ad6",
    "no_data": "#8a949c",
    "no_target": "#8a949c",
}


def prepare() -> Any:
    """Start importing Altair and compiling the chart templates on a thread, to run while compute reads the data
    (Polars works outside the GIL): that second of set-up then costs the report nothing. Returns the thread."""
    from threading import Thread

    def compile_all() -> None:
        for has_goal, has_warn in ((True, True), (True, False), (False, False)):
            _trend_template(has_goal, has_warn)
        _breakdown_template()

    thread = Thread(target=compile_all, name="civic-kpi-charts", daemon=True)
    thread.start()
    return thread


def trend_spec(
    rows: list[dict[str, Any]], *, goal: float | None, warn: float | None, description: str
) -> dict[str, Any]:
    """A line of the value per period, the year-ago value dashed beside it, the goal as a rule and the warn band
    between warn and goal. `rows` hold start (ISO date), value and year_ago; a None value is a gap in the line
    (Vega-Lite's break-paths mode), never a zero."""
    template = _trend_template(goal is not None, warn is not None)
    return _with_data(template, {"points": rows, "lines": [{"goal": goal, "warn": warn}]}, description)


@cache
def _trend_template(has_goal: bool, has_warn: bool) -> dict[str, Any]:
    # Built (and validated) by Altair once per shape; each chart then only names its data (top-level datasets),
    # which keeps Altair's schema validation out of the per-KPI cost.
    import altair as alt

    x = alt.X("start:T", title=None, axis=alt.Axis(format="%b %y", labelAngle=0, tickCount=6, grid=False))
    base = alt.Chart(alt.NamedData(name="points"))
    lines = alt.Chart(alt.NamedData(name="lines"))
    layers: list[Any] = []
    if has_goal and has_warn:
        layers.append(lines.mark_rect(fill=WARN_BAND, opacity=0.18).encode(y=alt.Y("goal:Q"), y2="warn:Q"))
    if has_goal:
        layers.append(lines.mark_rule(color=GOAL_COLOR, strokeDash=[6, 3], strokeWidth=2).encode(y="goal:Q"))
    gaps = "break-paths-show-domains"
    layers.append(
        base.mark_line(color=YEAR_AGO_COLOR, strokeDash=[3, 3], strokeWidth=1.5, invalid=gaps).encode(
            x=x, y=alt.Y("year_ago:Q")
        )
    )
    point = alt.OverlayMarkDef(size=18, filled=True, fill=VALUE_COLOR)
    layers.append(
        base.mark_line(color=VALUE_COLOR, strokeWidth=2.5, point=point, invalid=gaps).encode(
            x=x, y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False))
        )
    )
    return _finish(alt.layer(*layers).properties(width=320, height=150))


def breakdown_spec(rows: list[dict[str, Any]], *, description: str) -> dict[str, Any]:
    """A bar per group (rows in the order given: failing first), colored by status and labelled with its status
    word so that color is never the only cue, and each group's own goal as a tick."""
    spec = _with_data(_breakdown_template(), {"groups": rows}, description)
    spec["height"] = max(60, 22 * len(rows))
    # The layers' y domains are merged without their sort (Vega sorts a multi-source domain only by itself), so
    # the groups' order is given as the domain outright.
    spec["scales"] = [
        {**scale, "domain": [row["label"] for row in rows]} if scale["name"] == "y" else scale
        for scale in spec["scales"]
    ]
    return spec


@cache
def _breakdown_template() -> dict[str, Any]:
    import altair as alt

    base = alt.Chart(alt.NamedData(name="groups"))
    y = alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=220))
    statuses = list(STATUS_COLORS)
    bars = base.mark_bar(height={"band": 0.7}).encode(
        y=y,
        x=alt.X("value:Q", title=None),
        color=alt.Color(
            "status:N", scale=alt.Scale(domain=statuses, range=[STATUS_COLORS[s] for s in statuses]), legend=None
        ),
    )
    goals = base.mark_tick(color=GOAL_COLOR, thickness=3, size=18).encode(y=y, x="goal:Q")
    return _finish(alt.layer(bars, goals).properties(width=300, height=60))


def _with_data(template: dict[str, Any], datasets: dict[str, list[dict[str, Any]]], description: str) -> dict[str, Any]:
    """The compiled template with its named datasets filled in: a Vega spec ready to draw."""
    spec = dict(template)
    spec["data"] = [{**entry, "values": datasets[entry["name"]]} if entry.get("name") in datasets else entry
                    for entry in template["data"]]  # fmt: skip
    spec["description"] = description
    return spec


def _finish(chart: Any) -> dict[str, Any]:
    spec: dict[str, Any] = chart.to_dict()
    spec.pop("datasets", None)  # each chart gives its own
    spec["background"] = None  # transparent: the page's theme shows through
    spec.setdefault("config", {}).update(
        {
            "view": {"stroke": None},
            "axis": {"labelFontSize": 11, "titleFontSize": 11, "gridOpacity": 0.35, "domainOpacity": 0.5},
            "font": "system-ui, sans-serif",
            # No ARIA labels on the marks: the whole SVG is hidden from assistive technology (see svgs), so
            # their generated labels (unrounded numbers, "null" for a gap) would only add weight to the page.
            "aria": False,
        }
    )
    # Compiled to Vega once per template: Vega-Lite's compiler is half of vl-convert's time per chart.
    import vl_convert

    vega: dict[str, Any] = vl_convert.vegalite_to_vega(spec, vl_version=VEGA_LITE)
    return vega


# Inline in HTML an <svg> needs neither an XML prolog nor namespace declarations (the parser knows the element).
_NOT_INLINE = re.compile(r'^\s*<\?xml[^>]*>\s*| xmlns(?::xlink)?="[^"]*"')


def svgs(specs: list[dict[str, Any]]) -> list[str]:
    """Each Vega spec drawn as an SVG element to place inline in the page, in order. Two threads: vl-convert draws
    outside the GIL, so the second core shortens the page's longest step."""
    from concurrent.futures import ThreadPoolExecutor

    import vl_convert

    def draw(spec: dict[str, Any]) -> str:
        # Hidden from assistive technology as a whole: the figure around it is role="img" with a label, and its
        # data table holds the numbers; Vega's own mark roles would be unnamed images to a screen reader.
        return _NOT_INLINE.sub("", vl_convert.vega_to_svg(spec)).replace("<svg ", '<svg aria-hidden="true" ', 1)

    if len(specs) < 2:
        return [draw(spec) for spec in specs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(draw, specs))
