"""Every JSON document starts with a summary of its rows, and a result's target comes as fields beside its words.

The summaries are checked against counts made here from the documents' own rows, and the target fields by
judging every judged row again in plain Python from those fields alone: if the fields said anything other than
what the engine judged, a status would come out different.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from civic_kpi.cli import app
from civic_kpi.results import Status, Summary
from tests.conftest import CATALOG, WIDE

ORDER = ["fail", "warn", "no_data", "not_comparable", "pass", "no_target"]  # worst first, as documented
STATUSES = ["pass", "warn", "fail", "not_comparable", "no_data", "no_target"]


def run(*args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "-c", str(CATALOG), "-f", "json"], env={"COLUMNS": WIDE})
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def documents() -> dict[str, dict]:
    """One document of each command on the bundled sample (computed once for the module)."""
    return {
        "compute": run("compute", "--by", "priority"),
        "check": run("check"),
        "review": run("review"),
        "scorecard": run("scorecard"),
        "explain": run("explain", "sla_compliance", "--by", "priority"),
        "explain_one": run("explain", "sla_compliance"),
    }


ROWS = {  # where each document keeps the rows its summary counts, and each row's status
    "compute": lambda doc: [row["status"] for row in doc["results"]],
    "check": lambda doc: [row["status"] for row in doc["results"]],
    "review": lambda doc: ["fail" for _ in doc["items"]],
    "scorecard": lambda doc: [row["status"] for row in doc["rows"]],
    "explain": lambda doc: [doc["result"]["status"], *(group["status"] for group in doc["groups"])],
    "explain_one": lambda doc: [doc["result"]["status"]],
}


# ---------------------------------------------------------------- the summary


@pytest.mark.parametrize("command", list(ROWS))
def test_every_document_starts_with_a_summary_of_its_rows(documents, command):
    doc = documents[command]
    assert next(iter(doc)) == "summary" and doc["schema_version"] == "1.4"
    statuses = ROWS[command](doc)
    assert statuses, f"the sample gives {command} no rows: the test would prove nothing"
    counted = Counter(statuses)
    summary = doc["summary"]
    assert summary["counts"] == {status: counted.get(status, 0) for status in STATUSES}
    assert summary["results"] == len(statuses)
    assert summary["worst"] == min(counted, key=ORDER.index)
    assert summary["has_failures"] == ("fail" in counted)


def test_the_samples_documents_have_mixed_statuses_so_that_worst_is_tested(documents):
    assert documents["compute"]["summary"]["worst"] == "fail"
    assert documents["check"]["summary"]["worst"] in ("warn", "fail")
    assert {"pass", "fail"} <= set(ROWS["compute"](documents["compute"]))


def test_summary_order_of_severity_and_an_empty_document():
    assert Summary.of([Status.PASS, Status.NO_TARGET]).worst == Status.PASS
    assert Summary.of([Status.NOT_COMPARABLE, Status.NO_DATA]).worst == Status.NO_DATA
    assert Summary.of([Status.PASS, Status.WARN]).model_dump(mode="json") == {
        "results": 2,
        "counts": {"pass": 1, "warn": 1, "fail": 0, "not_comparable": 0, "no_data": 0, "no_target": 0},
        "worst": "warn",
        "has_failures": False,
        "missing_data": 0,
    }
    empty = Summary.of([])
    assert (empty.results, empty.worst, empty.has_failures) == (0, None, False)


def test_rows_with_a_target_and_no_data_are_counted_apart_from_failures(cli):
    # September 2024 is before the sample's first record: the KPI has a target and no value. --fail-on fail exits 1
    # on it, while no row failed: the summary says both, so a script reading it is not told all is well.
    result = cli("compute", "-c", CATALOG, "--period", "2024-09", "--kpi", "sla_compliance", "-f", "json",
                 "--fail-on", "fail")  # fmt: skip
    summary = json.loads(result.stdout)["summary"]
    assert result.exit_code == 1
    assert (summary["has_failures"], summary["worst"], summary["missing_data"]) == (False, "no_data", 1)


def test_a_json_file_written_row_by_row_has_the_same_summary_as_stdout(tmp_path, documents):
    """`-o file.json` streams its rows, so its summary is counted on the way; it must equal the one of the whole."""
    target = tmp_path / "out.json"
    result = CliRunner().invoke(
        app, ["compute", "-c", str(CATALOG), "--by", "priority", "-f", "json", "-o", str(target), "-q"]
    )
    assert result.exit_code == 0, result.stderr
    streamed, whole = json.loads(target.read_text()), documents["compute"]
    assert next(iter(streamed)) == "summary"
    assert streamed["summary"] == whole["summary"]
    assert {k: v for k, v in streamed.items() if k != "generated_at"} == {
        k: v for k, v in whole.items() if k != "generated_at"
    }


# ---------------------------------------------------------------- targets as fields


def rejudge(row: dict) -> str:
    """The status of a judged row from its target_rule's fields, the value and the comparisons only."""
    rule = row["target_rule"]
    if rule["kind"] == "trend_to_zero":
        value, before = row["value"], row["prior"]["value"]
        return "pass" if value == 0 or value < before else "warn" if value == before else "fail"
    subject = row["value"]
    if rule["compare_to"] != "value":
        subject = row[rule["compare_to"]]["change_pct"]
    if rule["kind"] == "between":
        low, high = rule["bounds"]
        return "pass" if low <= subject <= high else "fail"
    goal = rule["goal"]
    met = {
        "at_least": subject >= goal,
        "above": subject > goal,
        "at_most": subject <= goal,
        "below": subject < goal,
    }[rule["kind"]]
    if met:
        return "pass"
    band = rule["warn_band"]
    return "warn" if band and band[0] <= subject <= band[1] else "fail"


def test_every_judged_row_is_judged_the_same_from_its_target_fields(documents):
    judged = [row for row in documents["compute"]["results"] if row["status"] in ("pass", "warn", "fail")]
    kinds = {(row["target_rule"]["kind"], row["target_rule"]["compare_to"]) for row in judged}
    # The sample's catalog covers every shape a rule takes, so that each branch above is exercised.
    assert {("at_least", "value"), ("at_most", "value"), ("at_least", "year_ago"), ("below", "year_ago")} <= kinds
    assert ("trend_to_zero", "prior") in kinds
    assert any(row["target_rule"]["warn_band"] for row in judged)
    wrong = [(row["kpi_id"], row["group"], row["status"], rejudge(row)) for row in judged]
    assert [w for w in wrong if w[2] != w[3]] == []


def test_target_fields_match_their_words(documents):
    rows = {(row["kpi_id"], tuple(row["group"].values())): row for row in documents["compute"]["results"]}
    critical = rows[("sla_compliance", ("Critical",))]
    assert critical["target"] == ">= 95%"
    assert critical["target_rule"] == {
        "kind": "at_least",
        "goal": 95.0,
        "bounds": None,
        "warn": None,
        "warn_band": None,
        "compare_to": "value",
        "unit": "percent",
    }
    minutes = rows[("minutes_p90_days", ())]
    assert minutes["target"] == "<= 7 d (warn <= 14 d)"
    assert minutes["target_rule"]["warn_band"] == [7.0, 14.0] and minutes["target_rule"]["kind"] == "at_most"
    growth = next(row for row in documents["compute"]["results"] if row["target"].startswith("YoY change >= +10"))
    assert growth["target_rule"]["compare_to"] == "year_ago" and growth["target_rule"]["unit"] == "%"
    assert growth["target_rule"]["goal"] == 10.0


def test_a_row_without_target_has_no_rule(documents):
    untargeted = [row for row in documents["compute"]["results"] if row["target"] is None]
    assert untargeted and all(row["target_rule"] is None for row in untargeted)


def test_csv_carries_the_rule_in_its_last_columns():
    result = CliRunner().invoke(app, ["compute", "-c", str(CATALOG), "-f", "csv", "--kpi", "sla_compliance"])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[-6:] == [
        "target_kind",
        "target_goal",
        "target_low",
        "target_high",
        "target_warn",
        "target_compare_to",
    ]
    overall = rows[0]
    rule = (overall["target_kind"], overall["target_goal"], overall["target_compare_to"])
    assert rule == ("at_least", "90.0", "value")


def test_a_between_target_and_a_lower_is_better_warn_band_as_fields():
    from civic_kpi.catalog.model import Target
    from civic_kpi.targets import rule

    between = rule(Target(between=(2, 5)), "days")
    assert (between.kind, between.bounds, between.goal, between.warn_band) == ("between", (2.0, 5.0), None, None)
    lower = rule(Target(at_most=7, warn=14), "days")
    assert (lower.goal, lower.warn, lower.warn_band, lower.unit) == (7.0, 14.0, (7.0, 14.0), "days")
    higher = rule(Target(at_least=80, warn=70, compare_to="prior"), "percent")
    assert (higher.warn_band, higher.compare_to, higher.unit) == ((70.0, 80.0), "prior", "%")


# ---------------------------------------------------------------- the published schemas


def schema_of(document: str) -> dict:
    result = CliRunner().invoke(app, ["schema", document])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_rows_the_engine_builds_unvalidated_equal_the_same_rows_validated(documents):
    """The engine builds its rows with results.trusted (no validation, for speed): each must be the model that
    validating its own JSON gives, and serialize to the same text."""
    from civic_kpi.results import Comparison, KpiResult, PeriodInfo, trusted

    for row in documents["compute"]["results"]:
        validated = KpiResult.model_validate(row)
        rebuilt = trusted(KpiResult, **{name: getattr(validated, name) for name in KpiResult.model_fields})
        assert rebuilt == validated
        assert rebuilt.model_dump_json() == validated.model_dump_json()
    # A field left out: the defaults model_construct fills in, not a missing attribute.
    period = PeriodInfo.model_validate(documents["compute"]["results"][0]["period"])
    partial = trusted(Comparison, period=period, value=None, change=None, change_pct=None)
    assert partial == Comparison(period=period, value=None, change=None, change_pct=None)


@pytest.mark.parametrize("command", ["compute", "check", "review", "scorecard", "explain"])
def test_each_document_is_valid_against_the_schema_civic_kpi_schema_prints(documents, command):
    import jsonschema

    schema = schema_of(command)
    assert next(iter(schema["properties"])) == "summary" and "summary" in schema["required"]
    jsonschema.Draft202012Validator(schema).validate(documents[command])
    broken = dict(documents[command], summary={"results": "many"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(broken)


def test_list_and_inspect_documents_are_valid_against_their_schemas():
    import jsonschema

    listing = CliRunner().invoke(app, ["list", "-c", str(CATALOG), "-f", "json"])
    jsonschema.Draft202012Validator(schema_of("list")).validate(json.loads(listing.stdout))
    sample = next((CATALOG.parent / "sample_data").rglob("*.csv"))
    profile = CliRunner().invoke(app, ["inspect", str(sample), "-f", "json"])
    jsonschema.Draft202012Validator(schema_of("inspect")).validate(json.loads(profile.stdout))


def test_every_command_with_json_output_has_a_published_schema():
    import typer.main

    from civic_kpi.results import DOCUMENTS

    group = typer.main.get_command(app)
    with_json = {
        name
        for name, command in group.commands.items()
        if any(
            param.name == "fmt" and "json" in (param.help or "") + str(param.type_descriptor.choices or ())
            for param in command.params
        )
    }
    assert with_json - {"rows"} <= set(DOCUMENTS), "rows writes the records themselves, whose columns are the data's"
    assert set(DOCUMENTS) - with_json == set()
