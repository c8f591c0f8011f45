"""`explain` and `rows`: how a number was made and which records are behind it, on the bundled sample.

The records `rows` writes for a part must be, in count (or, for a sum, in total), what `compute` reports for the
same period and group; `explain`'s steps and order statistics must reproduce compute's value; and the CSV a
supervisor opens must hold what its flags say, checked here in plain Python.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import civic_kpi
from civic_kpi.catalog.graph import inputs
from civic_kpi.catalog.loader import load_catalog
from civic_kpi.errors import UsageError
from tests.conftest import CATALOG, ROOT

PERIOD = "2026-10"
LOADED = load_catalog(CATALOG)
FROM_RECORDS = [k.id for k in LOADED.catalog.kpis if not k.from_kpis]
FROM_KPIS = [k.id for k in LOADED.catalog.kpis if k.from_kpis]


@pytest.fixture(scope="module")
def session():
    return civic_kpi.open(LOADED)


@pytest.fixture(scope="module")
def computed(session):
    """compute's rows for the period, overall and per catalog group_by, by KPI id and group."""
    run = session.compute(PERIOD)
    return {(r.kpi_id, tuple(sorted(r.group.items()))): r for r in run.results}


def flag_totals(rows) -> dict:
    import polars as pl

    frame = rows.frame.collect()
    totals = {"records": frame.height}
    for flag in ("in_numerator", "in_denominator", "in_sample"):
        if flag in frame.columns:
            totals[flag] = int(frame[flag].sum())
    totals["excluded"] = int(frame["excluded_reason"].is_not_null().sum())
    totals["frame"] = frame.filter(pl.col("in_period"))
    return totals


def _is_count(text: str) -> bool:
    return text.startswith("count(") and text.count("count(") == 1 and text.endswith(")")


# ------------------------------------------------------------------------- rows: the records behind each number


@pytest.mark.parametrize("kpi_id", FROM_RECORDS)
def test_rows_of_each_part_add_up_to_what_compute_reports(session, computed, kpi_id):
    import polars as pl

    kpi = next(k for k in LOADED.catalog.kpis if k.id == kpi_id)
    groups = [()]
    if kpi.breakdowns:  # one group of the catalog's own breakdown too
        first = next(key for (kid, key) in computed if kid == kpi_id and key)
        groups.append(first)
    for group in groups:
        result = computed[(kpi_id, group)]
        rows = session.rows(kpi_id, PERIOD, group=dict(group))
        totals = flag_totals(rows)
        frame = totals["frame"]
        assert totals["excluded"] == (result.excluded or 0), (kpi_id, group)
        if kpi.is_ratio:
            numerator, denominator = kpi.numerator or "", kpi.denominator or ""
            if _is_count(numerator):
                assert totals["in_numerator"] == result.numerator, (kpi_id, group)
            if _is_count(denominator):
                assert totals["in_denominator"] == result.denominator, (kpi_id, group)
                assert totals["in_denominator"] == result.sample_size, (kpi_id, group)
            if numerator.startswith("sum(") and "+" not in numerator:
                assert frame.filter(pl.col("in_numerator"))["measure"].sum() == pytest.approx(result.numerator)
            if numerator.startswith("n_unique(") and " - " not in numerator:
                column = numerator[len("n_unique(") :].split(",")[0].rstrip(")")
                assert frame.filter(pl.col("in_numerator"))[column].n_unique() == result.numerator
        else:
            assert totals["in_sample"] == result.sample_size, (kpi_id, group)
            if _is_count(kpi.value or ""):
                assert totals["in_sample"] == result.value, (kpi_id, group)


def test_sums_over_the_rows_give_the_sum_ratios(session, computed):
    import polars as pl

    # livestream_availability: sum(accessible, where Held) / sum(scheduled, where Held); participation adds two sums.
    result = computed[("livestream_availability", ())]
    frame = session.rows("livestream_availability", PERIOD, part="denominator").frame.collect()
    assert frame["livestream_scheduled_hours"].sum() == pytest.approx(result.denominator)
    held = frame.filter(pl.col("in_numerator"))
    assert held["livestream_accessible_hours"].sum() == pytest.approx(result.numerator)
    result = computed[("participation_per_10k", ())]
    frame = session.rows("participation_per_10k", PERIOD, part="numerator").frame.collect()
    assert (frame["in_person_attendees"].sum() + frame["virtual_attendees"].sum()) == pytest.approx(result.numerator)


def test_rest_is_the_requests_that_missed_their_sla_checked_in_plain_python(tmp_path, cli, computed):
    result = computed[("sla_compliance", ())]
    out = tmp_path / "missed.csv"
    done = cli("rows", "sla_compliance", "--period", PERIOD, "--part", "rest", "-o", out)
    assert done.exit_code == 0, done.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == result.denominator - result.numerator == 122
    assert f"wrote 122 records (rest of sla_compliance, {PERIOD}, as of 2026-11-14 16:44:44)" in done.stderr
    for record in records:  # closed in October, resolved or cancelled, and after the deadline: late
        closed = datetime.fromisoformat(record["closed_at"])
        due = datetime.fromisoformat(record["sla_due_at"])
        assert datetime(2026, 10, 1) <= closed < datetime(2026, 11, 1)
        assert record["status"] in ("Resolved", "Cancelled")
        assert closed > due
        assert record["in_numerator"] == "false" and record["in_denominator"] == "true"
        assert record["request_id"].startswith("SR-")  # every declared column is kept, the id included
        assert Path(record["source_file"]).name.startswith("service_requests_")


def test_excluded_rows_say_why_and_match_compute(session, computed):
    result = computed[("reopen_rate", ())]
    assert result.excluded  # closures of late October are still inside their 30-day window on 2026-11-14
    frame = session.rows("reopen_rate", PERIOD, part="excluded").frame.collect()
    assert frame.height == result.excluded
    assert set(frame["excluded_reason"]) == {"its 30-day follow-up window is still open at the as-of moment"}
    # Independently, in plain Python over every record of October: a closure whose 30 days end after the moment
    # (the newest stamp of the sample, 2026-11-14 16:44:44) is exactly what is left out.
    moment = datetime(2026, 11, 14, 16, 44, 44)
    october = session.rows("reopen_rate", PERIOD, part="all").frame.collect()["closed_at"].to_list()
    still_open = [closed for closed in october if closed + timedelta(days=30) > moment]
    assert len(still_open) == frame.height
    assert sorted(still_open) == sorted(frame["closed_at"].to_list())


def test_a_kpi_of_kpis_names_the_kpis_to_ask_instead(session):
    for kpi_id in FROM_KPIS:
        with pytest.raises(UsageError) as error:
            session.rows(kpi_id, PERIOD)
        kpi = next(k for k in LOADED.catalog.kpis if k.id == kpi_id)
        assert "computed from other KPIs" in str(error.value)
        assert error.value.problems[0].hint == f"ask for the records of the KPIs it reads: {', '.join(inputs(kpi))}"


def test_a_single_value_kpi_has_a_sample_not_a_denominator(cli):
    done = cli("rows", "time_to_close_p90", "--part", "denominator")
    assert done.exit_code == 2
    assert "not a ratio, so it has no denominator" in done.stderr
    assert "sample, excluded, all" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------------- rows: groups, formats, files


def test_group_picks_one_group_and_unknown_columns_get_a_hint(session, computed):
    result = computed[("sla_compliance", (("priority", "Critical"),))]
    frame = session.rows("sla_compliance", PERIOD, group={"priority": "Critical"}, part="denominator").frame.collect()
    assert frame.height == result.denominator == 73
    assert set(frame["priority"]) == {"Critical"}
    with pytest.raises(UsageError, match="did you mean 'priority'"):
        session.rows("sla_compliance", PERIOD, group={"Priority": "Critical"})


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_every_format_writes_the_same_records_atomically(tmp_path, cli, fmt):
    import polars as pl

    out = tmp_path / f"rows.{fmt}"
    out.write_text("the previous results")
    done = cli("rows", "first_contact_resolution", "--part", "numerator", "-f", fmt, "-o", out)
    assert done.exit_code == 0, done.stderr
    frame = {"csv": pl.read_csv, "parquet": pl.read_parquet, "json": pl.read_json}[fmt](out)
    assert frame.height == 752  # 752/986 on the sample, as compute prints it
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left behind


def test_a_failed_run_leaves_the_previous_file_as_it_was(tmp_path, cli):
    out = tmp_path / "rows.csv"
    out.write_text("the previous results")
    done = cli("rows", "sla_compliance", "--period", "2026-13", "-o", out)
    assert done.exit_code == 2
    assert out.read_text() == "the previous results"


def test_parquet_needs_a_file(cli):
    done = cli("rows", "sla_compliance", "-f", "parquet")
    assert done.exit_code == 2 and "Parquet is binary" in done.stderr


def test_csv_cells_that_a_spreadsheet_would_run_are_text(tmp_path, cli, data):
    from tests.test_kpis_by_hand import sr, write_311

    write_311(data, [sr("2026-10-02 09:00:00", "2026-10-03 09:00:00", channel='=HYPERLINK("http://x")')])
    out = tmp_path / "rows.csv"
    done = cli("rows", "digital_channel_adoption", "-c", data.parent / "kpi_definitions.yaml", "--period", PERIOD,
               "-o", out)  # fmt: skip
    assert done.exit_code == 0, done.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        (record,) = list(csv.DictReader(handle))
    assert record["channel"] == '\'=HYPERLINK("http://x")'


def test_rows_through_the_installed_script(tmp_path):
    script = Path(sys.executable).with_name("civic-kpi")
    out = tmp_path / "late.json"
    done = subprocess.run(
        [str(script), "rows", "sla_compliance", "--part", "rest", "-f", "json", "-o", str(out), "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert len(json.loads(out.read_text())) == 122


# ------------------------------------------------------------------------- explain: how the number was made


def test_explain_steps_lead_to_the_numerator_and_denominator(session, computed):
    found = session.explain("sla_compliance", PERIOD, group={"priority": "Critical"})
    steps = {step.step.split(":")[0]: step.records for step in found.steps}
    assert steps["denominator"] == 73 and steps["numerator"] == 71
    assert steps["in the period's window"] >= steps["denominator"]
    assert found.result == computed[("sla_compliance", (("priority", "Critical"),))]
    assert found.target_reason == "the target for priority = Critical (target.by_group.priority)"
    assert found.as_of == datetime(2026, 11, 14, 16, 44, 44) and found.as_of_source == "data"
    sources = {column.name: column.source for column in found.columns}
    assert sources["closed_at"] == "Closed Date"  # the export column behind the name
    assert "sla_due_at" in {c.name for c in found.columns if c.role == "deadline"}
    assert "AGGREGATE" in (found.query_plan or "") or "SELECT" in (found.query_plan or "")


def test_explain_percentile_names_the_order_statistics_it_interpolated_between(session, computed):
    import polars as pl

    found = session.explain("time_to_close_p90", PERIOD)
    (stats,) = found.order_statistics
    # Independently: sort the sample the rows command gives and apply PERCENTILE.INC by hand.
    sample = session.rows("time_to_close_p90", PERIOD, part="sample").frame.collect()
    values = sorted(sample["measure"].to_list())
    n = len(values)
    rank = (n - 1) * 0.9 + 1
    low = math.floor(rank)
    by_hand = values[low - 1] + (rank - low) * (values[low] - values[low - 1])
    assert (stats.n, stats.rank, stats.lower_rank, stats.upper_rank) == (n, pytest.approx(rank), low, low + 1)
    assert stats.value == pytest.approx(by_hand, rel=1e-12)
    assert computed[("time_to_close_p90", ())].value == pytest.approx(by_hand, rel=1e-12)
    assert isinstance(sample, pl.DataFrame)


def test_explain_with_by_gives_each_group_its_target_and_why(session):
    found = session.explain("sla_compliance", PERIOD, by=["priority"])
    reasons = {g.group["priority"]: g.reason for g in found.groups}
    assert reasons["Critical"].startswith("the target for priority = Critical")
    assert reasons["Standard"] == "the KPI's target, no target of the group's own"


def test_explain_a_kpi_of_kpis_lists_its_inputs(session):
    found = session.explain("cost_per_call", PERIOD)
    assert found.computed_from == ["contact_center_cost", "calls_handled"]
    assert [i.kpi_id for i in found.result.inputs] == ["contact_center_cost", "calls_handled"]
    assert found.notes[0].startswith("cost_per_call is computed from contact_center_cost, calls_handled")


def test_explain_on_the_command_line_as_text_and_json(cli):
    done = cli("explain", "reopen_rate", "--period", PERIOD)
    assert done.exit_code == 0, done.stderr
    for phrase in ("Records, step by step", "left out: follow-up window still open", "as of 2026-11-14 16:44:44",
                   "records whose closed_at is from 2026-10-01 00:00 up to, not including, 2026-11-01 00:00",
                   "Polars plan"):  # fmt: skip
        assert phrase in done.stdout
    done = cli("explain", "reopen_rate", "--period", PERIOD, "-f", "json")
    document = json.loads(done.stdout)
    assert document["kpi_id"] == "reopen_rate" and document["schema_version"]
    assert document["result"]["excluded"] == next(
        s["records"] for s in document["steps"] if s["step"].startswith("left out: follow-up")
    )


def test_explain_bad_input_is_a_message_not_a_traceback(cli):
    done = cli("explain", "sla_compliancee")
    assert done.exit_code == 2 and "did you mean 'sla_compliance'" in done.stderr
    done = cli("explain", "sla_compliance", "--group", "priority")
    assert done.exit_code == 2 and "--group takes COLUMN=VALUE" in done.stderr


@pytest.mark.parametrize("kpi_id", [k.id for k in LOADED.catalog.kpis])
def test_explain_works_for_every_kpi_and_its_last_step_is_computes_count(session, computed, kpi_id):
    found = session.explain(kpi_id, PERIOD)
    result = computed[(kpi_id, ())]
    assert found.result == result
    assert found.as_of == datetime(2026, 11, 14, 16, 44, 44)  # the sample's newest stamp, whichever the KPI
    if kpi_id in FROM_KPIS:
        assert found.steps == [] and found.computed_from
        return
    kpi = next(k for k in LOADED.catalog.kpis if k.id == kpi_id)
    steps = {step.step.split(":")[0]: step.records for step in found.steps}
    if kpi.is_ratio and _is_count(kpi.denominator or ""):
        assert steps["denominator"] == result.denominator
    if kpi.is_ratio and _is_count(kpi.numerator or ""):
        assert steps["numerator"] == result.numerator
    if not kpi.is_ratio:
        assert steps["sample of"] == result.sample_size
    assert found.files and found.columns and found.window


# ------------------------------------------------------------------------- groups, parts and data that do not fit


def test_a_group_is_picked_by_the_label_compute_prints(session):
    # A boolean column: compute labels its groups True and False (not true / false).
    run = session.compute(PERIOD, kpis=["sla_compliance"], by=["first_contact"])
    result = next(r for r in run.results if r.group == {"first_contact": "True"})
    rows = session.rows("sla_compliance", PERIOD, group={"first_contact": "True"}, part="denominator")
    assert rows.frame.collect().height == result.denominator
    found = session.explain("sla_compliance", PERIOD, group={"first_contact": True})  # a library caller's bool
    assert found.result == result


def test_the_group_without_a_value_is_written_missing(session, data, catalog):
    from tests.test_kpis_by_hand import sr, write_311

    write_311(data, [
        sr("2026-10-02 09:00:00", "2026-10-02 10:00:00", channel=""),
        sr("2026-10-03 09:00:00", "2026-10-03 10:00:00", channel="Web"),
    ])  # fmt: skip
    mine = civic_kpi.open(catalog)
    found = mine.explain("sla_compliance", PERIOD, group={"channel": "(missing)"})
    assert found.group == {"channel": None}
    assert found.result is not None and found.result.group == {"channel": None}
    assert found.result.denominator == 1
    assert mine.rows("sla_compliance", PERIOD, group={"channel": "(missing)"}).frame.collect().height == 1


def test_an_unknown_group_value_is_a_message_naming_the_groups(cli):
    done = cli("rows", "sla_compliance", "--group", "priority=Critcal")
    assert done.exit_code == 2
    assert "column 'priority' has no group 'Critcal'" in done.stderr and "did you mean 'Critical'" in done.stderr
    done = cli("explain", "sla_compliance", "--group", "priority=Bogus")
    assert done.exit_code == 2 and "its groups: Critical, High, Low, Standard" in done.stderr


@pytest.mark.parametrize(
    ("kpi_id", "part", "says"),
    [
        ("geographic_coverage", "denominator", "is len(ref.neighborhoods), not records counted or summed"),
        ("datasets_on_schedule", "numerator", "n_unique(dataset_id) - n_unique(dataset_id"),
        ("livestream_availability", "rest", "not counts of records"),
    ],
)
def test_a_part_that_is_not_records_added_up_is_refused(session, kpi_id, part, says):
    with pytest.raises(UsageError) as error:
        session.rows(kpi_id, PERIOD, part=part)
    assert says in str(error.value)
    assert error.value.problems[0].hint == "ask for --part all: every record of the period, with the flags of each"


def test_explain_leaves_out_the_steps_that_are_not_records(session):
    steps = [step.step for step in session.explain("geographic_coverage", PERIOD).steps]
    assert not any(step.startswith("denominator") for step in steps)
    assert any(step.startswith("numerator") for step in steps) is False  # n_unique: not records added up


def test_a_bad_value_is_a_message_not_an_internal_error_and_the_old_file_stays(tmp_path, cli, data, catalog):
    from tests.test_kpis_by_hand import sr, write_311

    write_311(data, [
        sr("2026-10-02 09:00:00", "2026-10-02 10:00:00"),
        sr("2026-10-03 09:00:00", "yesterday"),
    ])  # fmt: skip
    out = tmp_path / "rows.csv"
    out.write_text("the previous results")
    done = cli("rows", "sla_compliance", "-c", catalog, "--period", PERIOD, "--as-of", "2026-11-10", "-o", out)
    assert done.exit_code == 2, done.stderr
    assert "'yesterday' is not a valid datetime" in done.stderr and "line 3" in done.stderr
    assert "internal error" not in done.stderr
    assert out.read_text() == "the previous results"


def test_a_percentile_inside_arithmetic_shows_no_order_statistics(tmp_path, data, catalog):
    from tests.test_kpis_by_hand import sr, write_311

    text = catalog.read_text().replace(
        "value: percentile(hours_between(created_at, closed_at), 90, where=status in params.closed_statuses)",
        "value: percentile(hours_between(created_at, closed_at), 90, where=status in params.closed_statuses) / 24",
    )
    catalog.write_text(text)
    write_311(data, [sr("2026-10-02 09:00:00", "2026-10-03 09:00:00")])
    found = civic_kpi.open(catalog).explain("time_to_close_p90", PERIOD)
    assert found.result is not None and found.result.value == pytest.approx(1.0)
    assert found.order_statistics == []


def test_csv_text_cannot_act_on_a_terminal(cli, data, catalog):
    from tests.test_kpis_by_hand import sr, write_311

    write_311(data, [sr("2026-10-02 09:00:00", "2026-10-03 09:00:00", channel="\x1b]0;pwned\x07\x1b[2J Web")])
    done = cli("rows", "digital_channel_adoption", "-c", catalog, "--period", PERIOD)
    assert done.exit_code == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "]0;pwned[2J Web" in done.stdout


def test_the_session_and_the_command_give_the_same_explanation_and_rows(session, cli, tmp_path):
    done = cli("explain", "sla_compliance", "--period", PERIOD, "--group", "priority=High", "-f", "json")
    document = json.loads(done.stdout)
    found = session.explain("sla_compliance", PERIOD, group={"priority": "High"})
    assert document["steps"] == [step.model_dump(mode="json") for step in found.steps]
    assert document["result"] == found.result.model_dump(mode="json")
    out = tmp_path / "rows.parquet"
    cli("rows", "sla_compliance", "--period", PERIOD, "--group", "priority=High", "-f", "parquet", "-o", out)
    import polars as pl

    assert pl.read_parquet(out).equals(session.rows("sla_compliance", PERIOD, group={"priority": "High"}).collect())
