"""The real city exports in ../shared/realdata, through the bundled presets and examples/real/kpi_definitions.yaml.

Expected values are the independently computed reference numbers of ../shared/realdata/README.md, and a few are
recomputed here in plain Python from the raw files. The exports are not in the repository: without the shared
folder (a user's fresh clone) these tests skip.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime

import pytest

import civic_kpi
from civic_kpi.catalog.presets import presets
from tests.conftest import ROOT, SHARED

REAL = SHARED / "realdata"
CATALOG = ROOT / "examples" / "real" / "kpi_definitions.yaml"
pytestmark = pytest.mark.skipif(
    not (REAL / "README.md").exists(),
    reason="the real exports live in ../shared/realdata beside the repository, which this checkout does not have",
)


@pytest.fixture(scope="module")
def values():
    """Overall value, numerator and denominator of every KPI, each computed over the period its data covers."""
    periods = {
        "Boston 311": "2022-01",
        "New York City 311": "2022-05-01..2022-05-01",
        "New York City 311 (five rows)": "2011-01-01..2020-12-31",
        "Public Records (US DOJ OIP)": "2017-06-01..2017-08-31",
        "NYC Council (Legistar)": "2023",
        "NYC Open Data": "2024-08",
    }
    # The exports come from different years; a run's default moment is the newest stamp of the whole catalog, so
    # the open-data snapshot is pinned to the moment its reference numbers were worked out at (the realdata README).
    moments = {"NYC Open Data": "2024-08-25T21:19:34+00:00"}
    found = {}
    for domain, period in periods.items():
        for r in civic_kpi.compute(CATALOG, period=period, domains=[domain], as_of=moments.get(domain)).results:
            found[r.kpi_id] = (r.value, r.numerator, r.denominator)
    return found


def test_boston_legacy_preset(values):
    assert values["boston_on_time_flag"][1:] == (83, 100)  # README: ONTIME flag 83/100
    assert values["boston_on_time_recomputed"][1:] == (72, 77)  # 77 closed with a target, 72 by it
    assert values["boston_hours_to_close_median"][0] == pytest.approx(16.16, abs=0.005)
    assert values["boston_hours_to_close_p90"][0] == pytest.approx(152.28, abs=0.005)  # linear (PERCENTILE.INC)
    assert values["boston_open_overdue"][0] == 12


def test_boston_flags_recounted_in_plain_python(values):
    with (REAL / "boston311-2022-qsv" / "boston311-100.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    digital = sum(r["source"] in ("Citizens Connect App", "Self Service", "Twitter") for r in rows)
    resident = digital + sum(r["source"] == "Constituent Call" for r in rows)
    assert values["boston_digital_share"][1:] == (digital, resident) == (59, 89)


def test_nyc_portal_preset(values):
    assert values["nyc_digital_share"][1:] == (781, 924)  # ONLINE 501 + MOBILE 280 of 924
    assert values["nyc_hours_to_close_median"][0] == pytest.approx(0.54, abs=0.005)
    assert values["nyc_hours_to_close_p90"][0] == pytest.approx(1.21, abs=0.005)
    assert values["nyc_open_backlog"][0] == 444  # In Progress 440 + Open 4


def test_nyc_csv_and_parquet_agree(values):
    # 3 rows have a due date: 2016 and 2019 closed before it, 2018 after it; the 2011 row is still Open
    assert values["nyc5_csv_closed_by_due"][1:] == values["nyc5_parquet_closed_by_due"][1:] == (2, 3)
    assert values["nyc5_parquet_open"][0] == 1


def test_doj_foia_log(values):
    assert values["foia_days_median"][0] == 48
    assert values["foia_days_p90"][0] == pytest.approx(1121.6)
    assert values["foia_on_time"][1:] == (70, 244)  # 20 business days, Monday-Friday
    assert values["foia_over_30_days"][0] == 150


def test_legistar_preset(values):
    assert values["council_agenda_72h"][1:] == (314, 556)  # with EventTime and the time zone; 305 without
    assert values["council_minutes_median_days"][0] == pytest.approx(8.2, abs=0.05)
    assert values["council_minutes_p90_days"][0] == pytest.approx(27.0, abs=0.05)
    assert values["council_minutes_within_7_days"][1:] == (207, 556)
    assert values["council_minutes_within_14_days"][1:] == (393, 556)


def test_legistar_agenda_count_recomputed_in_plain_python(values):
    from zoneinfo import ZoneInfo

    events = json.loads((REAL / "legistar-nyc-council-events-2023" / "events_2023.json").read_text())
    eastern, utc = ZoneInfo("America/New_York"), ZoneInfo("UTC")
    on_time = 0
    final = [e for e in events if e["EventAgendaStatusName"] == "Final"]
    for event in final:
        day = datetime.fromisoformat(event["EventDate"]).date()
        clock = datetime.strptime(event["EventTime"], "%I:%M %p").time()
        start = datetime.combine(day, clock, eastern)
        published = datetime.fromisoformat(event["EventAgendaLastPublishedUTC"]).replace(tzinfo=utc)
        on_time += (start - published).total_seconds() >= 72 * 3600
    assert values["council_agenda_72h"][1:] == (on_time, len(final))


def test_open_data_catalog_staleness(values):
    assert values["open_data_median_age_days"][0] == pytest.approx(1191, abs=1)  # as of 2024-08-25T21:19:34Z
    assert values["open_data_stale_over_a_year"][0] == 1631


def test_every_real_layout_validates(cli):
    result = cli("validate", CATALOG)
    assert result.exit_code == 0, result.output


NYC_2022 = "nyc311-2022-05-01-pyboot/311_Service_Requests_from_2010_to_Present.csv"


@pytest.mark.parametrize(
    ("preset", "flag", "path", "column"),
    [
        ("boston311_legacy", "is_closed", "boston311-2022-qsv/boston311-100.csv", "case_status"),
        ("boston311_legacy", "on_time_flag", "boston311-2022-qsv/boston311-100.csv", "ontime"),
        ("boston311_legacy", "is_digital", "boston311-2022-qsv/boston311-100.csv", "source"),
        ("boston311_legacy", "is_resident_channel", "boston311-2022-qsv/boston311-100.csv", "source"),
        ("nyc311_portal_csv", "is_closed", NYC_2022, "Status"),
        ("nyc311_portal_csv", "is_digital", NYC_2022, "Open Data Channel Type"),
        ("nyc311_portal_csv", "is_known_channel", NYC_2022, "Open Data Channel Type"),
        ("nyc311_portal_csv", "is_closed", "nyc311-2016-qsv-parquet/NYC311-5.csv", "Status"),
        ("nyc311_portal_csv", "is_digital", "nyc311-2016-qsv-parquet/NYC311-5.csv", "Open Data Channel Type"),
    ],
)
def test_preset_value_lists_cover_every_value_of_the_real_exports(preset, flag, path, column):
    # a value of a real export on neither list would be reported as unknown on every run of that export
    spec = presets()[preset]["dataset"]["flags"][flag]
    with (REAL / path).open(newline="") as handle:
        seen = {row[column] for row in csv.DictReader(handle)}
    assert seen, (path, column)
    assert seen <= set(spec["true_for"]) | set(spec["false_for"]), seen - set(spec["true_for"]) - set(spec["false_for"])


def test_legistar_agenda_statuses_are_all_listed():
    spec = presets()["legistar_events"]["dataset"]["flags"]["is_final"]
    events = json.loads((REAL / "legistar-nyc-council-events-2023" / "events_2023.json").read_text())
    seen = {e["EventAgendaStatusName"] for e in events}
    assert seen == {"Final", "Deferred"}
    assert seen <= set(spec["true_for"]) | set(spec["false_for"])
