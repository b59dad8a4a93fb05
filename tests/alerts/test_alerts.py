"""Issue 18, fraud alerts: a person (or the agency, on a verified identity-theft report) places an
alert; every report then carries it in anti_fraud_note, a lender's inquiry is refused until it
confirms it verified the applicant (and nothing is charged or stored before), the confirmation
is kept with the inquiry's decision and log event, and the person is told of every inquiry.
Through the public API, on both databases."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.bureau import Bureau
from zhengxin.alerts.tables import fraud_alerts
from zhengxin.audit.service import sequence_all
from zhengxin.audit.tables import log_leaves
from zhengxin.billing.tables import charges
from zhengxin.inquiries.tables import inquiries


@pytest.fixture
def bureau(client, parties):
    return Bureau(client, parties)


def count(runtime, table) -> int:
    with runtime.reading() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_persons_alert_makes_every_lender_confirm_the_applicant(client, bureau, runtime):
    person = bureau.person(1)
    lender = bureau.lender("Bank", 1)
    placed = client.post("/v1/me/fraud-alerts", json={"statement": "我的身份证丢失了"}, headers=person.headers)
    assert placed.status_code == 201, placed.text
    alert = placed.json()
    assert (alert["kind"], alert["active"], alert["statement"]) == ("person", True, "我的身份证丢失了")
    again = client.post("/v1/me/fraud-alerts", json={}, headers=person.headers).json()
    assert again["id"] == alert["id"]  # one alert in force at a time

    grant = bureau.grant(person, lender)
    refused = bureau.inquire(lender, person, grant["id"])
    assert refused.status_code == 409 and refused.json()["code"] == "fraud_alert_unconfirmed"
    assert count(runtime, inquiries) == 0 and count(runtime, charges) == 0  # nothing stored, nothing charged

    r = bureau.inquire(lender, person, grant["id"], applicant_identity_verified=True)
    assert r.status_code == 201, r.text
    note = r.json()["report"]["header"]["anti_fraud_note"]
    assert note.startswith("fraud alert since ") and "placed by the person" in note
    mine = client.get("/v1/me/report", headers=person.headers).json()["report"]
    assert mine["header"]["anti_fraud_note"] == note
    sequence_all(runtime.engine)
    with runtime.reading() as conn:
        events = [json.loads(leaf) for leaf in conn.execute(select(log_leaves.c.leaf)).scalars()]
    asked = [e for e in events if e["kind"] == "inquiry"]
    assert len(asked) == 1 and asked[0]["applicant_identity_verified"] is True
    assert [e["kind"] for e in events].count("fraud_alert.placed") == 1
    told = client.get("/v1/me/notifications", headers=person.headers)
    assert told.status_code == 200 and any(n["kind"] == "inquiry" for n in told.json())

    # Lifted, the next inquiry needs no confirmation and reports carry no note.
    lifted = client.post(f"/v1/me/fraud-alerts/{alert['id']}/lift", headers=person.headers).json()
    assert lifted["active"] is False
    r = bureau.inquire(lender, person, bureau.grant(person, lender)["id"])
    assert r.status_code == 201 and r.json()["report"]["header"]["anti_fraud_note"] is None


def test_only_the_person_lifts_their_alert_and_staff_place_identity_theft_ones(client, bureau, parties, runtime):
    person, other = bureau.person(1), bureau.person(2)
    alert = client.post("/v1/me/fraud-alerts", json={}, headers=person.headers).json()
    r = client.post(f"/v1/me/fraud-alerts/{alert['id']}/lift", headers=other.headers)
    assert r.status_code == 404 and r.json()["code"] == "fraud_alert_not_found"

    _, shared_desk = parties.add("agency", "Front desk")
    _, clerk = parties.add("agency", "Clerk Li", staff=True)
    body = {"person_id": other.person_id, "statement": "报案回执 2026-118", "report_verified": True}
    r = client.post("/v1/fraud-alerts", json=body, headers=shared_desk)
    assert r.status_code == 403 and r.json()["code"] == "staff_account_required"
    r = client.post("/v1/fraud-alerts", json=body, headers=clerk)
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "identity_theft" and "statement" not in r.json()
    assert client.post("/v1/fraud-alerts", json={**body, "person_id": "123"}, headers=clerk).status_code == 422
    listed = client.get("/v1/me/fraud-alerts", headers=other.headers).json()["fraud_alerts"]
    assert [(a["kind"], a["statement"]) for a in listed] == [("identity_theft", "报案回执 2026-118")]
    note = client.get("/v1/me/report", headers=other.headers).json()["report"]["header"]["anti_fraud_note"]
    assert "identity-theft report" in note
    with runtime.reading() as conn:  # the statements are sealed
        sealed = conn.execute(select(fraud_alerts.c.statement_sealed)).scalars().all()
    assert not any(s and "报案".encode() in s for s in sealed)
