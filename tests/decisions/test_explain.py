"""The policies as published and the dry run, through HTTP on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.bureau import Bureau
from zhengxin.billing.tables import charges
from zhengxin.decisions.tables import policy_decisions


@pytest.fixture
def bureau(client, parties) -> Bureau:
    return Bureau(client, parties)


def test_the_policy_files_are_published_with_their_revision(client, runtime, bureau):
    body = client.get("/v1/policy", headers=bureau.platform).json()
    assert body["revision"] == runtime.policy.revision
    assert "permits.cedar" in body["files"] and '@id("CR-18")' in body["files"]["credit_investigation.cedar"]
    revoked = next(r for r in body["rules"] if r["code"] == "authorization_revoked")
    assert revoked["rule"] == "PIPL-15" and revoked["effect"] == "forbid" and "withdrawn" in revoked["text"]


def test_explain_shows_how_an_inquiry_would_be_decided_without_granting_or_charging(client, runtime, bureau, parties):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    granted = bureau.grant(person, bank)
    _, regulator = parties.add("regulator", "PBOC")
    query = {"action": "inquire", "principal": bank.name, "person_id": person.person_id,
             "authorization_id": granted["id"]}  # fmt: skip
    allowed = client.get("/v1/policy/explain", params=query, headers=regulator).json()
    assert allowed["decision"] == "allow" and allowed["rules"] == ["CR-18"]
    assert allowed["context"]["authorization"]["revoked"] is False and allowed["context"]["uses"] == 0

    client.delete(f"/v1/authorizations/{granted['id']}", headers=person.headers)
    denied = client.get("/v1/policy/explain", params=query, headers=bureau.agency).json()
    assert denied["decision"] == "deny" and denied["rules"] == ["PIPL-15"] and denied["code"] == "authorization_revoked"
    assert denied["reasons"][0]["effect"] == "forbid" and denied["policy_revision"] == runtime.policy.revision

    platform = client.get("/v1/policy/explain", params={**query, "principal": "Platform One"}, headers=regulator)
    assert "CR-18" in platform.json()["rules"] and platform.json()["decision"] == "deny"
    direct = client.get("/v1/policy/explain", params={"action": "furnish", "principal": "Platform One",
                                                      "recipient": bank.name}, headers=regulator).json()  # fmt: skip
    assert (direct["decision"], direct["rules"]) == ("deny", ["BDL-1"])
    core = client.get("/v1/policy/explain", params={"action": "export", "principal": bank.name, "data_grade": "core",
                                                    "separate_consent": True}, headers=regulator).json()  # fmt: skip
    assert "XB-CORE" in core["rules"]

    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(charges)).scalar_one() == 0
        # the dry run records no decision (only the real grant and the real revocation acted)
        assert conn.execute(select(func.count()).select_from(policy_decisions)
                            .where(policy_decisions.c.action == "inquire")).scalar_one() == 0  # fmt: skip
    assert client.get("/v1/policy/explain", params=query, headers=bank.headers).status_code == 403
    r = client.get("/v1/policy/explain", params={**query, "action": "fly"}, headers=regulator)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_action")
