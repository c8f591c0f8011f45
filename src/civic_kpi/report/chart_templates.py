"""The dashboard's chart templates, built with Altair and compiled to Vega by vl-convert: run at development time.

    python -m civic_kpi.report.chart_templates     # rewrites report/templates/charts.vega.json

Building a template is Altair's import, its schema validation and Vega-Lite's compiler: about 2 s, which every
report would pay for specs that never change between runs. So they are built here, stored as Vega JSON in the
package, and `report/charts.py` fills in each chart's data. A test rebuilds them and fails when the stored file
is out of date (tests/test_report.py), so the JSON never drifts from this code.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
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
FILE = "charts.vega.json"


def trend_name(has_goal: bool, has_warn: bool, has_range: bool = False) -> str:
    return "trend" + ("+goal" if has_goal else "") + ("+warn" if has_warn else "") + ("+range" if has_range else "")


def build() -> dict[str, dict[str, Any]]:
    """Every template by name: the trend chart in its three shapes and the breakdown chart."""
    templates = {
        trend_name(has_goal, has_warn): _trend(has_goal, has_warn)
        for has_goal, has_warn in ((True, True), (True, False), (False, False))
    }
    templates[trend_name(False, False, True)] = _trend(False, False, True)
    templates["breakdown"] = _breakdown()
    return templates


def _trend(has_goal: bool, has_warn: bool, has_range: bool = False) -> dict[str, Any]:
    """A line of the value per period, the year-ago value dashed beside it, the goal as a rule and the warn band
    between warn and goal (or, for a `between` target, the range shaded between two rules); a None value is a gap
    in the line (Vega-Lite's break-paths mode), never a zero."""
    import altair as alt

    # UTC: the period starts are dates, read as midnight UTC; a local scale would put them on the evening before
    # west of Greenwich (and drop a label). The ticks are chosen per chart (report/ticks.py); these are a fallback.
    x = alt.X(
        "start:T",
        title=None,
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(format="%b %y", labelAngle=0, tickCount=6, grid=False),
    )
    base = alt.Chart(alt.NamedData(name="points"))
    lines = alt.Chart(alt.NamedData(name="lines"))
    layers: list[Any] = []
    if has_goal and has_warn:
        layers.append(lines.mark_rect(fill=WARN_BAND, opacity=0.18).encode(y=alt.Y("goal:Q"), y2="warn:Q"))
    if has_goal:
        layers.append(lines.mark_rule(color=GOAL_COLOR, strokeDash=[6, 3], strokeWidth=2).encode(y="goal:Q"))
    if has_range:
        layers.append(lines.mark_rect(fill=GOAL_COLOR, opacity=0.12).encode(y=alt.Y("low:Q"), y2="high:Q"))
        for edge in ("low", "high"):
            layers.append(
                lines.mark_rule(color=GOAL_COLOR, strokeDash=[6, 3], strokeWidth=2).encode(y=alt.Y(f"{edge}:Q"))
            )
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
    return _compiled(alt.layer(*layers).properties(width=320, height=150))


def _breakdown() -> dict[str, Any]:
    """A bar per group, colored by status (its word is in the label, so color is never the only cue), and each
    group's own goal as a tick. No label limit (see _compiled): the labels come shortened (charts.py), and Vega's
    own cut measures each label over and over, which made a breakdown cost ten times a trend chart."""
    import altair as alt

    base = alt.Chart(alt.NamedData(name="groups"))
    y = alt.Y("label:N", title=None, axis=alt.Axis())
    statuses = list(STATUS_COLORS)
    bars = base.mark_bar(height={"band": 0.7}).encode(
        y=y,
        x=alt.X("value:Q", title=None),
        color=alt.Color(
            "status:N", scale=alt.Scale(domain=statuses, range=[STATUS_COLORS[s] for s in statuses]), legend=None
        ),
    )
    goals = base.mark_tick(color=GOAL_COLOR, thickness=3, size=18).encode(y=y, x="goal:Q")
    return _compiled(alt.layer(bars, goals).properties(width=300, height=60))


def _compiled(chart: Any) -> dict[str, Any]:
    spec: dict[str, Any] = chart.to_dict()
    spec.pop("datasets", None)  # each chart gives its own
    spec["background"] = None  # transparent: the page's theme shows through
    spec.setdefault("config", {}).update(
        {
            "view": {"stroke": None},
            # No label limit on any axis: Vega's cut to a limit measures each label again and again (a quarter of
            # the drawing time), and no label is long: dates, numbers, and group names shortened in charts.py.
            "axis": {
                "labelFontSize": 11,
                "titleFontSize": 11,
                "gridOpacity": 0.35,
                "domainOpacity": 0.5,
                "labelLimit": 0,
            },
            "font": "system-ui, sans-serif",
            # No ARIA labels on the marks: the whole SVG is hidden from assistive technology (see charts.svgs), so
            # their generated labels (unrounded numbers, "null" for a gap) would only add weight to the page.
            "aria": False,
        }
    )
    import vl_convert

    vega: dict[str, Any] = vl_convert.vegalite_to_vega(spec, vl_version=VEGA_LITE)
    return vega


def stored() -> dict[str, dict[str, Any]]:
    """The templates as the package holds them."""
    text = (resources.files("civic_kpi.report") / "templates" / FILE).read_text(encoding="utf-8")
    loaded: dict[str, dict[str, Any]] = json.loads(text)
    return loaded


def text(templates: dict[str, dict[str, Any]]) -> str:
    return json.dumps(templates, indent=1, sort_keys=True) + "\n"


def main() -> None:
    path = Path(__file__).parent / "templates" / FILE
    path.write_text(text(build()), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
