"""Furnishing obligations: the regulator sets them, a furnisher sees whether it kept them."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.records import CONTENT_TYPES, ENCODERS, consumption, loan
from zhengxin.kit.clock import frozen_at


def furnish_on(client, h, day: str, records, key: str):
    with frozen_at(datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)):
        r = client.post(
            "/v1/furnishing/batches",
            content=ENCODERS["jsonl"](records),
            headers={**h, "Content-Type": CONTENT_TYPES["jsonl"], "Idempotency-Key": key},
        )
    assert r.status_code == 201, r.text


def test_obligation_periods_are_on_time_late_missing_or_pending(client, parties):
    furnisher, fh = parties.add("furnisher")
    _, other = parties.add("furnisher")
    _, regulator = parties.add("regulator")
    with frozen_at(datetime(2026, 9, 1, tzinfo=UTC)):
        r = client.post(
            "/v1/furnishing/obligations",
            headers=regulator,
            json={
                "furnisher": furnisher["name"],
                "record_types": ["loan", "consumption"],
                "frequency": "monthly",
                "first_due_on": "2026-09-10",
                "note": "monthly snapshot",
            },
        )
    assert r.status_code == 201, r.text
    furnish_on(
        client,
        fh,
        "2026-09-05",
        [loan(1, as_of="2026-08-31"), consumption(1, as_of="2026-08-31", month="2026-08")],
        "a",
    )
    furnish_on(client, fh, "2026-10-08", [loan(1, as_of="2026-09-30")], "b")
    furnish_on(client, fh, "2026-10-15", [consumption(1, as_of="2026-09-30", month="2026-09")], "c")
    furnish_on(client, fh, "2026-11-09", [loan(1, as_of="2026-10-31")], "d")

    with frozen_at(datetime(2026, 11, 23, tzinfo=UTC)):
        mine = client.get("/v1/furnishing/obligations", headers=fh).json()
        theirs = client.get("/v1/furnishing/obligations", headers=other).json()
        seen_by_regulator = client.get("/v1/furnishing/obligations", headers=regulator).json()
    assert theirs == []
    assert len(seen_by_regulator) == 1
    (obligation,) = mine
    periods = [(p["due_on"], p["status"], p["missing"]) for p in obligation["periods"]]
    assert periods == [
        ("2026-09-10", "on_time", []),
        ("2026-10-10", "late", []),
        ("2026-11-10", "missing", ["consumption"]),
        ("2026-12-10", "pending", ["consumption", "loan"]),
    ]
    assert (obligation["status"], obligation["missing"]) == ("missing", ["consumption"])


def test_only_the_regulator_sets_obligations(client, parties):
    furnisher, fh = parties.add("furnisher")
    r = client.post(
        "/v1/furnishing/obligations",
        headers=fh,
        json={
            "furnisher": furnisher["name"],
            "record_types": ["loan"],
            "frequency": "monthly",
            "first_due_on": "2026-12-10",
        },
    )
    assert (r.status_code, r.json()["code"]) == (403, "forbidden_role")
    _, regulator = parties.add("regulator")
    r = client.post(
        "/v1/furnishing/obligations",
        headers=regulator,
        json={
            "furnisher": furnisher["name"],
            "record_types": ["pets"],
            "frequency": "monthly",
            "first_due_on": "2026-12-10",
        },
    )
    assert (r.status_code, r.json()["code"]) == (422, "invalid_enum")
