"""Issue 3 (SLA policy, follow-up window, review list) against an independent standard-library calculator.

tests/independent/plain_python_policy.py implements the spec with csv, datetime, fractions and the `holidays`
package only; its WORKDAY is itself checked by hand first. The engine must agree to 1e-9 relative.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

import civic_kpi
from tests.conftest import CATALOG, SAMPLE_DATA
from tests.independent import plain_python_policy as ref

MONTHS = [(2026, 10), (2026, 2), (2025, 11)]  # latest complete month, winter storm + closures, Thanksgiving
HOL = ref.business_days_calendar()


def counts(row) -> tuple:
    """(numerator, denominator) of an engine result or a reference dict."""
    return (row["numerator"], row["denominator"]) if isinstance(row, dict) else (row.numerator, row.denominator)


def close(got, want) -> bool:
    return got is None if want is None else got == pytest.approx(want, rel=1e-9, abs=1e-12)


@pytest.fixture(scope="module")
def catalog():
    return civic_kpi.load_catalog(CATALOG)


# ------------------------------------------------------------------ the reference itself, by hand


@pytest.mark.parametrize(
    ("start", "n", "want"),
    [
        (date(2026, 10, 16), 0, date(2026, 10, 16)),  # n=0: the start itself
        (date(2026, 10, 16), 1, date(2026, 10, 19)),  # Friday + 1 -> Monday (weekend skipped)
        (date(2026, 10, 16), 5, date(2026, 10, 23)),  # Friday + 5 -> next Friday
        (date(2026, 10, 17), 1, date(2026, 10, 19)),  # starts on a Saturday -> Monday
        (date(2026, 10, 9), 1, date(2026, 10, 13)),  # Friday before Columbus Day -> Tuesday
        (date(2026, 10, 12), 1, date(2026, 10, 13)),  # starts on a holiday (Columbus Day) -> Tuesday
        (date(2025, 12, 25), 1, date(2025, 12, 26)),  # holiday Thursday -> Friday (a business day)
        (date(2025, 11, 26), 1, date(2025, 12, 1)),  # Wed before Thanksgiving: Thu holiday, Fri closure -> Mon
        (date(2025, 11, 27), 1, date(2025, 12, 1)),  # starts on Thanksgiving -> Monday
        (date(2025, 11, 22), 5, date(2025, 12, 2)),  # Saturday + 5: Mon-Wed, skip Thu/Fri/weekend, Mon, Tue
        (date(2026, 1, 30), 1, date(2026, 2, 4)),  # storm closures Mon 2 + Tue 3 Feb
        (date(2026, 7, 2), 1, date(2026, 7, 6)),  # Independence Day observed Friday 2026-07-03
    ],
)
def test_workday_by_hand(start, n, want):
    assert ref.workday(start, n, HOL) == want


def test_policy_deadline_by_hand():
    table = {"Pothole Repair": (5, "business"), "Noise Complaint": (1, "calendar")}
    # 5 business days from Wed 2025-11-26: Mon 1, Tue 2, Wed 3, Thu 4, Fri 5 Dec, same clock time
    assert ref.policy_deadline(datetime(2025, 11, 26, 14, 5, 7), "Pothole Repair", table, HOL) == datetime(
        2025, 12, 5, 14, 5, 7
    )
    # calendar days ignore holidays and closures
    assert ref.policy_deadline(datetime(2025, 11, 27, 23, 30), "Noise Complaint", table, HOL) == datetime(
        2025, 11, 28, 23, 30
    )
    assert ref.policy_deadline(datetime(2025, 11, 27, 23, 30), "Unknown", table, HOL) is None


# ------------------------------------------------------------------ engine against the reference


def test_every_deadline_matches(catalog):
    frame = civic_kpi.sla_deadlines(catalog, dataset="service_requests")
    got = {row["request_id"]: row["sla_due_at"] for row in frame.iter_rows(named=True)}
    want = ref.deadlines(SAMPLE_DATA)
    assert len(want) == 24_342
    assert set(got) == set(want)
    wrong = {rid: (got[rid], want[rid]) for rid in want if got[rid] != want[rid]}
    assert not wrong, f"{len(wrong)} of {len(want)} deadlines differ, e.g. {list(wrong.items())[:5]}"


@pytest.mark.parametrize(("year", "month"), MONTHS)
def test_policy_kpis_match(catalog, year, month):
    want = ref.policy_month(SAMPLE_DATA, year, month)
    label = f"{year}-{month:02d}"
    ids = ["sla_compliance", "reopen_rate", "sla_overdue_open", "customer_satisfaction"]
    run = civic_kpi.compute(catalog, period=label, kpis=ids)
    got = {r.kpi_id: r for r in run.results if not r.group}

    sla, reo = want["sla_compliance"], want["reopen_rate"]
    assert close(got["sla_compliance"].value, sla["value"])
    assert counts(got["sla_compliance"]) == counts(sla)
    assert close(got["reopen_rate"].value, reo["value"])
    assert counts(got["reopen_rate"]) == counts(reo)
    assert got["reopen_rate"].excluded == reo["excluded"]
    assert close(got["sla_overdue_open"].value, want["sla_overdue_open"]["value"])
    assert close(got["customer_satisfaction"].value, want["customer_satisfaction"]["value"])
    assert got["customer_satisfaction"].sample_size == want["customer_satisfaction"]["sample_size"]

    by_prio = civic_kpi.compute(catalog, period=label, kpis=["sla_compliance"], by=["priority"])
    prio = {r.group["priority"]: r for r in by_prio.results if r.group}
    assert set(prio) == set(sla["by_priority"])
    for p, r in prio.items():
        w = sla["by_priority"][p]
        assert counts(r) == counts(w), p
        assert close(r.value, w["value"]), p


def test_reopen_rate_is_no_data_when_no_window_has_elapsed(catalog):
    # 2026-11: every closure is newer than as_of - 30 days, so all are left out
    want = ref.policy_month(SAMPLE_DATA, 2026, 11)["reopen_rate"]
    assert want["value"] is None and want["excluded"] > 0
    got = next(r for r in civic_kpi.compute(catalog, period="2026-11", kpis=["reopen_rate"]).results if not r.group)
    assert got.value is None
    assert got.excluded == want["excluded"]


@pytest.mark.parametrize(("year", "month"), MONTHS[:2])
def test_review_list_matches(catalog, year, month):
    run = civic_kpi.review(catalog, month=f"{year}-{month:02d}")
    assert run.month.label == f"{year}-{month:02d}"
    assert run.review_due == ref.review_due(year, month) == date(year + (month == 12), month % 12 + 1, 15)

    want = {(w["request_type"], w["agency"], w["kpi_id"]): w for w in ref.review_month(SAMPLE_DATA, year, month)}
    got = {(i.group["request_type"], i.group["agency"], i.kpi_id): i for i in run.items}
    assert sorted(got) == sorted(want)
    for key, w in want.items():
        item = got[key]
        assert item.threshold == w["threshold"], key
        assert close(item.value, w["value"]), key
        if w["kpi_id"] == "sla_compliance":
            assert counts(item) == counts(w), key
        else:
            assert item.sample_size == w["sample_size"], key
