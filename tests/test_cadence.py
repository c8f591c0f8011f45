"""Open-data update cadences (DCAT-US accrualPeriodicity, portals' "Update Frequency") read as days.

Expected day counts are worked out by hand from a year of 365.25 days and a month of 365.25 / 12 = 30.4375 days
(the README's definitions), e.g. semimonthly R/P0.5M = 0.5 x 30.4375 = 15.21875.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

import civic_kpi
from civic_kpi.formula.cadence import cadence_days, read_cadence, refresh_days

# Every Project Open Data label, its schema code, and the days worked out by hand.
POD = [
    ("Decennial", "R/P10Y", 3652.5),  # 10 x 365.25
    ("Quadrennial", "R/P4Y", 1461.0),  # 4 x 365.25
    ("Annual", "R/P1Y", 365.25),
    ("Bimonthly", "R/P2M", 60.875),  # 2 x 30.4375
    ("Semiweekly", "R/P3.5D", 3.5),
    ("Daily", "R/P1D", 1.0),
    ("Biweekly", "R/P2W", 14.0),
    ("Semiannual", "R/P6M", 182.625),  # 6 x 30.4375
    ("Biennial", "R/P2Y", 730.5),
    ("Triennial", "R/P3Y", 1095.75),
    ("Three times a week", "R/P0.33W", 2.31),  # 0.33 x 7, as the code says (not 7 / 3)
    ("Three times a month", "R/P0.33M", 10.044375),  # 0.33 x 30.4375
    ("Monthly", "R/P1M", 30.4375),
    ("Quarterly", "R/P3M", 91.3125),  # 3 x 30.4375
    ("Semimonthly", "R/P0.5M", 15.21875),
    ("Three times a year", "R/P4M", 121.75),  # 4 x 30.4375
    ("Weekly", "R/P1W", 7.0),
]
SUB_DAY = [("Continuously updated", "R/PT1S"), ("Hourly", "R/PT1H")]


@pytest.mark.parametrize(("label", "code", "days"), POD, ids=[p[0] for p in POD])
def test_every_project_open_data_label_and_code(label, code, days):
    assert read_cadence(label).days == pytest.approx(days, rel=1e-12)
    assert read_cadence(code).days == pytest.approx(days, rel=1e-12)
    assert read_cadence(code.lower()).days == pytest.approx(days, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Annual (R/P1Y)", 365.25),
        ("R/P1Y (Annual)", 365.25),
        ("  annual   ( R/P1Y )  ", 365.25),
        ("THREE   times a  WEEK", 2.31),
        ("Three times a week (R/P0.33W)", 2.31),
        ("Semi-Annual", 182.625),
        ("bi-weekly", 14.0),
        ("R/P0.5W", 3.5),  # accepted by the schema without a label
        ("R5/P1W", 7.0),  # a repetition count does not change the period
        ("P1M", 30.4375),  # a bare duration
        ("R/P1Y2M", 365.25 + 2 * 30.4375),
        ("R/P1DT12H", 1.5),
        ("Yearly", 365.25),
    ],
)
def test_free_text_forms_that_wrap_a_cadence(text, days):
    assert read_cadence(text).kind == "days"
    assert read_cadence(text).days == pytest.approx(days, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("irregular", "none"),
        ("As needed", "none"),
        ("", "none"),
        ("Monthly (R/P1Y)", "unmapped"),  # the label and the code disagree: neither is trusted
        ("every blue moon", "unmapped"),
        ("R/P", "unmapped"),
        ("R/PXY", "unmapped"),
        ("R/P0D", "unmapped"),  # no length: not a cadence, not a short one either
        ("PT", "unmapped"),
        ("R/PT", "unmapped"),
        ("R/P0Y", "unmapped"),
        ("R/PT1S", "sub-day"),
        ("R/PT23H59M", "sub-day"),
        ("Hourly (R/PT1H)", "sub-day"),
    ],
)
def test_no_cadence_unmapped_and_sub_day(text, kind):
    assert read_cadence(text).kind == kind


def test_exactly_one_day_is_a_cadence():
    assert read_cadence("R/PT24H") == read_cadence("R/P1D")
    assert read_cadence("R/PT24H").days == 1.0


def test_refresh_days_on_records_is_null_for_sub_day_unmapped_and_irregular():
    texts = [label for label, _, _ in POD] + [code for _, code in SUB_DAY] + ["irregular", "fortnightly-ish", None]
    expected = [days for _, _, days in POD] + [None, None, None, None, None]
    got = pl.DataFrame({"c": texts}).select(refresh_days(pl.col("c")))["c"].to_list()
    assert got == [None if e is None else pytest.approx(e, rel=1e-12) for e in expected]


def test_each_distinct_text_is_read_once_not_each_record():
    read_cadence.cache_clear()
    values = pl.Series(["R/P1M", "Weekly", "Annual (R/P1Y)"] * 10_000)
    days = cadence_days(values)
    assert read_cadence.cache_info().misses == 3
    assert days.to_list()[:3] == [30.4375, 7.0, 365.25] and days.null_count() == 0


def _data_json(tmp_path, cadences):
    records = [
        {"identifier": str(i), "title": "T", "modified": "2024-01-30", "accrualPeriodicity": cadence,
         "publisher": {"name": "Parks"}}
        for i, cadence in enumerate(cadences)
    ]  # fmt: skip
    (tmp_path / "data.json").write_text(json.dumps({"dataset": records}))
    catalog = tmp_path / "cat.yaml"
    catalog.write_text(
        "data_dir: .\ntimezone: America/New_York\n"
        "datasets:\n  catalog: {preset: dcat_us_data_json, path: data.json}\n"
        "kpis:\n"
        "  - {id: due, name: Due, domain: D, unit: count, dataset: catalog, value: 'count(update_days is not None)'}\n"
        "  - {id: days, name: Days, domain: D, unit: count, dataset: catalog, value: 'sum(update_days)'}\n"
        "  - {id: late, name: Late, domain: D, unit: count, dataset: catalog,\n"
        "     value: 'count(days_between(modified, as_of) > update_days)'}\n"
    )
    return catalog


def test_a_run_lists_the_cadences_it_could_not_use(tmp_path):
    catalog = _data_json(
        tmp_path,
        ["R/P1W", "Annual (R/P1Y)", " monthly ", "R/PT1H", "R/PT1H", "Hourly", "every blue moon", "Quarterly-ish",
         "Quarterly-ish", "irregular"],
    )  # fmt: skip
    run = civic_kpi.compute(catalog, period="2024-01")
    values = {r.kpi_id: r.value for r in run.results}
    # Read: weekly 7, annual 365.25, monthly 30.4375. As of 2024-02-01 each is 2 days old: none is late; the
    # hourly ones are not 'late' either (2 days > 1/24 day would make them so if they were read as a cadence).
    assert values == {"due": 3, "days": pytest.approx(7 + 365.25 + 30.4375), "late": 0}
    sub_day = [n for n in run.notes if "shorter than a day" in n]
    unmapped = [n for n in run.notes if "not an ISO 8601 duration" in n]
    assert sub_day == [
        "catalog.accrual_periodicity: 3 records have a cadence shorter than a day, which is a data error, not a "
        "cadence: 'R/PT1H' (2), 'Hourly' (1); they have no refresh_days, so no update is due for them"
    ]
    assert unmapped == [
        "catalog.accrual_periodicity: 3 records have a cadence that is not an ISO 8601 duration or a known "
        "frequency label: 'Quarterly-ish' (2), 'every blue moon' (1); they have no refresh_days, so no update is "
        "due for them"
    ]
    assert not any("irregular" in n for n in run.notes)


def test_a_clean_catalog_has_no_cadence_note(tmp_path):
    run = civic_kpi.compute(_data_json(tmp_path, ["R/P1W", "Monthly", "irregular"]), period="2024-01")
    assert not [n for n in run.notes if "accrual_periodicity" in n]


def test_the_note_names_twenty_values_and_counts_the_rest(tmp_path):
    cadences = [f"odd cadence {i:02d}" for i in range(23)]
    run = civic_kpi.compute(_data_json(tmp_path, cadences), period="2024-01")
    (note,) = [n for n in run.notes if "not an ISO 8601 duration" in n]
    assert note.startswith("catalog.accrual_periodicity: 23 records have")
    assert "'odd cadence 19' (1) and 3 more;" in note and "odd cadence 20" not in note


def test_socrata_update_frequency_in_a_kpi_formula_by_group(tmp_path):
    (tmp_path / "inv.csv").write_text(
        "U ID,Name,Type,Public,Derived View,Last Update Date (data),Update Frequency\n"
        "a,A,dataset,true,false,01/30/2024 10:00:00 AM +0000,Weekly\n"
        "b,B,dataset,true,false,01/29/2024 10:00:00 AM +0000,Hourly\n"
        "c,C,map,true,false,02/10/2024 10:00:00 AM +0000,Several times per day\n"
        "d,D,dataset,true,false,02/01/2024 10:00:00 AM +0000,As needed\n"
        "e,E,map,true,false,02/03/2024 10:00:00 AM +0000,Monthly (R/P1M)\n"
        "f,F,dataset,true,false,02/03/2024 10:00:00 AM +0000,Quarterly\n"
    )
    catalog = tmp_path / "cat.yaml"
    catalog.write_text(
        "data_dir: .\ntimezone: America/New_York\n"
        "datasets:\n  inv: {preset: socrata_asset_inventory, path: inv.csv}\n"
        "kpis:\n"
        "  - {id: days, name: Days, domain: D, unit: count, dataset: inv,\n"
        "     value: 'sum(refresh_days(update_frequency))'}\n"
    )
    run = civic_kpi.compute(catalog, period="2024-02", every="month", by=["type"])
    # February: c (map, sub-day: none), d (dataset, as needed: none), e (map, 30.4375), f (dataset, 91.3125).
    values = {tuple(r.group.values()): r.value for r in run.results}
    assert values == {(): 121.75, ("dataset",): 91.3125, ("map",): 30.4375}
    # The note counts every record of the export (b is January's), not only the period's.
    assert [n for n in run.notes if "shorter than a day" in n] == [
        "inv.update_frequency: 2 records have a cadence shorter than a day, which is a data error, not a cadence: "
        "'Hourly' (1), 'Several times per day' (1); they have no refresh_days, so no update is due for them"
    ]
