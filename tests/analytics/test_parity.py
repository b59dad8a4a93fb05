"""Issue 16: one rule for an obligation. The furnisher's own status (furnishing.service.
period_verdicts, Python over its batches) and the regulator's supervision view
(analytics.views.obligations, Ibis over the lake) must give every obligation the same count of
periods on time, late and missing. Hypothesis draws obligations and deliveries; the view runs
on DuckDB."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhengxin.analytics import views
from zhengxin.furnishing.service import period_verdicts

TYPES = ("loan", "consumption", "travel")
START = date(2025, 1, 1)


@pytest.fixture(scope="module")
def con():
    return ibis.duckdb.connect()


def days(low: int, high: int):
    return st.integers(low, high).map(lambda n: START + timedelta(days=n))


obligations = st.fixed_dictionaries({
    "frequency": st.sampled_from(["daily", "weekly", "monthly"]),
    "first_due_on": days(0, 120),
    "created_on": days(-40, 60),
    "record_types": st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True),
})  # fmt: skip
arrivals = st.lists(st.tuples(st.sampled_from(TYPES), days(-60, 400)), max_size=25)


def python_counts(obligation: dict, delivered: list[tuple[str, date]], as_of: date) -> dict:
    by_type = {t: sorted(d for kind, d in delivered if kind == t) for t in obligation["record_types"]}
    spec = {**obligation, "created_at": datetime.combine(obligation["created_on"], time(9), UTC)}
    periods = [p for p in period_verdicts(spec, by_type, as_of) if p["due_on"] <= as_of]
    return {
        "expected": len(periods),
        **{s: sum(p["status"] == s for p in periods) for s in ("on_time", "late", "missing")},
    }


def view_counts(con, obligation: dict, delivered: list[tuple[str, date]], as_of: date) -> dict:
    active = ibis.memtable(pa.table({
        "id": ["obl"], "furnisher_id": ["fur"], "record_types": [obligation["record_types"]],
        "frequency": [obligation["frequency"]], "first_due_on": [obligation["first_due_on"]], "active": [True],
        "created_at": [datetime.combine(obligation["created_on"], time(9), UTC)],
    }))  # fmt: skip
    rows = pa.table({
        "furnisher_id": ["fur"] * len(delivered), "record_type": [t for t, _ in delivered],
        "accepted": pa.array([1] * len(delivered), pa.int32()),
        "completed_at": pa.array([datetime.combine(d, time(12), UTC) for _, d in delivered], pa.timestamp("us", "UTC")),
    })  # fmt: skip
    result = con.execute(views._verdicts(active, ibis.memtable(rows), as_of)).to_dict("records")[0]
    return {k: int(result[k]) for k in ("expected", "on_time", "late", "missing")}


@settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(obligation=obligations, delivered=arrivals, as_of=days(0, 400))
def test_the_furnishers_status_and_the_supervision_view_agree(con, obligation, delivered, as_of):
    delivered = [(t, d) for t, d in delivered if d <= as_of]  # the view reads the lake as of the day
    if obligation["created_on"] > as_of:
        return  # not yet in force on the day: the view leaves it out
    assert view_counts(con, obligation, delivered, as_of) == python_counts(obligation, delivered, as_of)


def test_a_type_never_delivered_leaves_every_period_missing(con):
    obligation = {"frequency": "monthly", "first_due_on": date(2025, 2, 10), "created_on": date(2025, 1, 15),
                  "record_types": ["consumption", "loan"]}  # fmt: skip
    delivered = [("loan", date(2025, 2, 5)), ("loan", date(2025, 3, 1))]
    expected = {"expected": 2, "on_time": 0, "late": 0, "missing": 2}
    assert python_counts(obligation, delivered, date(2025, 3, 20)) == expected
    assert view_counts(con, obligation, delivered, date(2025, 3, 20)) == expected


def test_nothing_delivered_before_the_obligation_existed_serves_it(con):
    """Found by the parity test: an obligation created after its first due day. A delivery
    between that day and the creation served a later period in the view, none in the rule."""
    obligation = {"frequency": "daily", "first_due_on": date(2025, 1, 7), "created_on": date(2025, 1, 10),
                  "record_types": ["loan"]}  # fmt: skip
    delivered = [("loan", date(2025, 1, 8)), ("loan", date(2025, 1, 11))]
    expected = {"expected": 5, "on_time": 0, "late": 1, "missing": 4}
    assert python_counts(obligation, delivered, date(2025, 1, 11)) == expected
    assert view_counts(con, obligation, delivered, date(2025, 1, 11)) == expected
