"""Data-quality check results as a table, JSON, JUnit XML (for CI systems) or GitHub Actions annotations."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from rich.console import Group
from rich.text import Text

from civic_kpi.report.formatting import STATUS_STYLE, STATUS_TEXT, plain
from civic_kpi.report.table import TABLE_WIDTH, column, console_text, fitted_sections
from civic_kpi.results import CheckResult, CheckRun, Status, moment_text

FORMATS = ("table", "json", "junit", "github")


def _metric(result: CheckResult) -> str:
    if result.metric is None:
        return "–"
    if result.unit == "share":
        return f"{result.metric:.2%}"
    if result.unit == "days":
        return f"{result.metric:.1f} d"
    return f"{result.metric:,.0f}"


def _example_text(example: dict) -> str:
    where = f"{example.get('file', '')}" + (f" row {example['row']}" if "row" in example else "")
    rest = {k: v for k, v in example.items() if k not in ("file", "row")}
    return f"{where}: " + ", ".join(f"{k}={v}" for k, v in rest.items())


def checks_table(run: CheckRun, *, color: bool, width: int | None = None) -> str:
    counts = run.counts()
    title = (
        f"Data-quality checks · {plain(run.catalog.title)} · at {moment_text(run.checked_at)} · "
        f"{counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail"
    )
    datasets, previous = [], None
    for result in run.results:  # a dataset once, on its first row
        datasets.append(plain(result.dataset) if result.dataset != previous else "")
        previous = result.dataset
    results = run.results
    columns = [
        # A dataset's id and a check's column are names to type elsewhere: wrapped at spaces, never shortened.
        column("Dataset", datasets, max_width=30),
        column("Check", [plain(r.name) for r in results], max_width=30),
        column("Status", [Text(STATUS_TEXT[r.status], style=STATUS_STYLE[r.status]) for r in results]),
        column("Value", [_metric(r) for r in results], wrap=False, right=True),
        column("Threshold", [plain(r.threshold) for r in results], max_width=30),
        column("Finding", [plain(r.message) for r in results], max_width=60),
    ]
    width = width or TABLE_WIDTH
    # Where even a table without rules would cut a value, the threshold leaves, then the finding (-f json has both).
    parts: list = fitted_sections([(title, list(range(len(results))))], columns, width, ("Threshold", "Finding"),
                                  "-f json has them all")  # fmt: skip
    for result in run.results:
        if result.status != Status.PASS and result.examples:
            parts.append(Text(plain(f"{result.dataset} · {result.name}: examples"), style="bold"))
            parts.extend(Text(plain(f"  {_example_text(e)}")) for e in result.examples)
    return console_text(Group(*parts), color, width)


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """XML 1.0 cannot hold most control characters, which real exports do contain: show them as '?'."""
    return _NOT_XML.sub("?", text)


def checks_junit(run: CheckRun) -> str:
    """JUnit XML: a test suite per dataset, a test case per check; fail is a failure, warn passes with a note."""
    root = ET.Element(
        "testsuites", name="civic-kpi check", tests=str(len(run.results)), failures=str(run.counts()["fail"])
    )
    for dataset in dict.fromkeys(r.dataset for r in run.results):
        results = [r for r in run.results if r.dataset == dataset]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=dataset,
            tests=str(len(results)),
            failures=str(sum(r.status == Status.FAIL for r in results)),
            timestamp=run.generated_at.isoformat(),
        )
        for result in results:
            case = ET.SubElement(suite, "testcase", classname=f"civic_kpi.{dataset}", name=_xml_text(result.name))
            detail = "\n".join(
                [f"{result.message} (threshold: {result.threshold})", *(_example_text(e) for e in result.examples)]
            )
            if result.status == Status.FAIL:
                failure = ET.SubElement(case, "failure", message=_xml_text(result.message), type="data-quality")
                failure.text = _xml_text(detail)
            elif result.status == Status.WARN:
                ET.SubElement(case, "system-out").text = _xml_text("WARN: " + detail)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _escape(text: str, property_value: bool = False) -> str:
    # GitHub's workflow-command escaping: % CR LF always; , and : inside properties too.
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def checks_github(run: CheckRun) -> str:
    """GitHub Actions workflow commands: an error or warning annotation on the catalog line of each check."""
    lines = []
    file = run.catalog.path
    for result in run.results:
        if result.status == Status.PASS:
            continue
        level = "error" if result.status == Status.FAIL else "warning"
        where = f"file={_escape(file, True)}" + (f",line={result.catalog_line}" if result.catalog_line else "")
        title = _escape(f"{result.dataset}: {result.name}", True)
        body = "\n".join(
            [f"{result.message} (threshold: {result.threshold})", *(_example_text(e) for e in result.examples)]
        )
        lines.append(f"::{level} {where},title={title}::{_escape(body)}")
    counts = run.counts()
    lines.append(f"civic-kpi check: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail")
    return "\n".join(lines) + "\n"


def render_checks(run: CheckRun, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    if fmt == "json":
        return json.dumps(run.model_dump(mode="json"), indent=2) + "\n"
    if fmt == "junit":
        return checks_junit(run)
    if fmt == "github":
        return checks_github(run)
    return checks_table(run, color=color, width=width)
