"""Authorizations through HTTP on both databases: granting, the signed artefact, scoping,
revocation, and what a grant refuses."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.bureau import Bureau
from tests.records import consumption, loan, travel
from zhengxin.consent import artefact
from zhengxin.identity.resident_id import validate
from zhengxin.kit import clock
from zhengxin.kit.canonical import canonical_json


@pytest.fixture
def bureau(client, parties) -> Bureau:
    return Bureau(client, parties)


def test_the_artefact_verifies_with_only_the_public_key_and_not_after_one_byte_changes(client, bureau):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    granted = bureau.grant(person, bank, scopes=["loan"])
    keys = client.get("/v1/authorizations/keys", headers=bank.headers).json()
    public = next(k["public_key"] for k in keys["keys"] if k["key_id"] == granted["key_id"])
    data, signature = granted["artefact"].encode(), bytes.fromhex(granted["signature"])

    # Any Ed25519 implementation, given the published key, accepts exactly these bytes.
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public))
    key.verify(signature, data)
    for i in range(len(data)):
        changed = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
        with pytest.raises(InvalidSignature):
            key.verify(signature, changed)
        with pytest.raises(artefact.InvalidArtefact):
            artefact.verify(changed, granted["signature"], {granted["key_id"]: public})

    body = artefact.verify(data, granted["signature"], {granted["key_id"]: public})
    assert body["lender"]["name"] == "Bank A" and body["purpose"] == "loan_application"
    assert body["scopes"] == ["loan"] and body["expires_on"] == granted["expires_on"]
    assert body["notice"]["recipient"] == "Bank A"  # PIPL-23: whom the data goes to, and why
    # The lender holds the resident ID and, with the secret handed out beside the artefact, can
    # check whose authorization this is; it holds no token.
    secret = granted["person_secret"]
    assert body["v"] == 2 and secret not in granted["artefact"] and len(bytes.fromhex(secret)) == 32
    assert artefact.is_about(body, validate(person.person_id), secret)
    assert not artefact.is_about(body, validate(loan(2)["person_id"]), secret)
    assert not artefact.is_about(body, validate(person.person_id), "00" * 32)
    with pytest.raises(artefact.InvalidArtefact):
        artefact.is_about(body, validate(person.person_id), None)
    assert "person_token" not in granted["artefact"] and len(body["person"]) == 64


def test_the_artefact_alone_gives_no_resident_id_away(client, bureau):
    """Finding 7: with v1's unkeyed hash, a birth date and ~3,000 guesses recovered the ID. Now
    the same search over every ID of that birth date and region finds nothing without the secret."""
    from stdnum.cn import ric

    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    body = json.loads(bureau.grant(person, bank)["artefact"])
    prefix = person.person_id[:14]  # region and birth date: what a guesser may know
    candidates = [prefix + f"{n:03d}" for n in range(1000)]
    candidates = [c + ric.calc_check_digit(c + "0") for c in candidates]  # it reads the first 17 of 18
    assert person.person_id in candidates
    guesses = {artefact._v1_binding(body["id"], c) for c in candidates}  # the old, unkeyed binding
    guesses |= {artefact.person_binding(body["id"], c, "00" * 32) for c in candidates}
    assert body["person"] not in guesses


def test_the_secret_goes_to_the_person_and_the_lender_only_and_v1_artefacts_still_verify(client, bureau, runtime):
    bank, other = bureau.lender("Bank A", 1), bureau.lender("Bank B", 2)
    person = bureau.person(1)
    granted = bureau.grant(person, bank)
    mine = client.get(f"/v1/authorizations/{granted['id']}", headers=person.headers).json()
    theirs = client.get(f"/v1/authorizations/{granted['id']}", headers=bank.headers).json()
    assert mine["person_secret"] == theirs["person_secret"] == granted["person_secret"]
    assert client.get(f"/v1/authorizations/{granted['id']}", headers=other.headers).status_code == 404
    # An artefact made before the commitment (v1) verifies as it was made.
    old = {**json.loads(granted["artefact"]), "v": 1}
    old["person"] = artefact._v1_binding(old["id"], validate(person.person_id))
    data = canonical_json(old)
    body = artefact.verify(data, runtime.artefact_keys.sign(data), runtime.artefact_keys.public_keys())
    assert artefact.is_about(body, validate(person.person_id), None)
    assert not artefact.is_about(body, validate(loan(2)["person_id"]), None)


def test_the_cli_checks_an_authorization_offline(client, bureau, tmp_path):
    from typer.testing import CliRunner

    from zhengxin.cli import app

    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    granted = bureau.grant(person, bank)
    key = client.get("/v1/authorizations/keys", headers=bank.headers).json()["keys"][0]["public_key"]
    file = tmp_path / "authorization.json"
    file.write_text(json.dumps(granted))
    runner = CliRunner()
    ok = runner.invoke(
        app, ["authorizations", "verify", str(file), "--public-key", key, "--person-id", person.person_id]
    )
    assert ok.exit_code == 0 and f"authorization {granted['id']} verified" in ok.output, ok.output
    other = runner.invoke(app, ["authorizations", "verify", str(file), "--public-key", key,
                                "--person-id", loan(2)["person_id"]])  # fmt: skip
    assert other.exit_code == 1 and "another person" in other.output
    file.write_text(
        json.dumps({**granted, "artefact": granted["artefact"].replace("loan_application", "guarantee_review")})
    )
    tampered = runner.invoke(app, ["authorizations", "verify", str(file), "--public-key", key])
    assert tampered.exit_code == 1 and "does not verify" in tampered.output


def test_defaults_expiry_and_fair_use_per_purpose(client, bureau, runtime):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    granted = bureau.grant(person, bank)
    assert granted["expires_on"] == (clock.today() + timedelta(days=90)).isoformat()
    assert granted["fair_use"] == {"inquiries": 1, "per_days": 0}
    assert granted["status"] == "active" and granted["products"] == ["report", "score"]
    monitoring = bureau.grant(
        person, bank, purpose="post_loan_management", expires_on=str(clock.today() + timedelta(days=365))
    )
    assert monitoring["fair_use"] == {"inquiries": 1, "per_days": 30}


@pytest.mark.parametrize(
    ("body", "status", "code", "rule"),
    [
        ({"lender": "No Such Bank"}, 404, "lender_not_found", None),
        ({"lender": "Platform One"}, 404, "lender_not_found", None),  # a platform is no lender (BDL-1)
        ({"purpose": "marketing"}, 422, "invalid_purpose", None),  # not a purpose of the catalog in force
        ({"purpose": "Marketing; x"}, 422, "invalid_request", None),  # not a catalog name at all
        ({"scopes": ["loan"] * 33}, 422, "invalid_request", None),
        ({"scopes": ["loan", "payroll"]}, 422, "invalid_scope", None),
        ({"purpose": "post_loan_management", "scopes": ["consumption"]}, 422, "scope_not_for_purpose", "CM-7"),
        ({"expires_on": "2020-01-01"}, 422, "invalid_expiry", None),
        ({"expires_on": "2099-01-01"}, 422, "invalid_expiry", None),
        ({"scopes": ["loan", "travel"]}, 403, "separate_consent_missing", "PIPL-29"),
    ],
)
def test_a_grant_refuses_what_the_law_or_the_catalog_does_not_allow(client, bureau, body, status, code, rule):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    request = {"lender": bank.name, "purpose": "loan_application", "scopes": ["loan"], **body}
    r = client.post("/v1/authorizations", json=request, headers=person.headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code and r.json().get("rule") == rule
    assert client.get("/v1/authorizations", headers=person.headers).json() == []


def test_sensitive_scope_with_separate_consent_is_granted(client, bureau):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1, loan(1), travel(1), consumption(1))
    granted = bureau.grant(person, bank, scopes=["travel", "loan", "consumption"], separate_consent=True)
    assert granted["scopes"] == ["consumption", "loan", "travel"] and granted["separate_consent"] is True


def test_a_person_and_a_lender_see_only_their_own_authorizations(client, bureau, parties):
    bank_a, bank_b = bureau.lender("Bank A", 1), bureau.lender("Bank B", 2)
    alice, bob = bureau.person(1), bureau.person(2)
    a = bureau.grant(alice, bank_a)
    b = bureau.grant(bob, bank_b)
    assert [x["id"] for x in client.get("/v1/authorizations", headers=alice.headers).json()] == [a["id"]]
    assert [x["id"] for x in client.get("/v1/authorizations", headers=bank_b.headers).json()] == [b["id"]]
    for who, other in ((alice, b), (bob, a), (bank_a, b), (bank_b, a)):
        r = client.get(f"/v1/authorizations/{other['id']}", headers=who.headers)
        assert r.status_code == 404 and r.json()["code"] == "authorization_not_found"
    assert client.get(f"/v1/authorizations/{a['id']}", headers=bank_a.headers).json()["artefact"] == a["artefact"]
    r = client.get("/v1/authorizations", headers=bureau.platform)
    assert r.status_code == 403 and r.json()["code"] == "forbidden_role"
    r = client.post("/v1/authorizations", json={"lender": "Bank A", "purpose": "loan_application", "scopes": ["loan"]},
                    headers=bank_a.headers)  # fmt: skip
    assert r.status_code == 403


def test_revocation_is_immediate_idempotent_and_leaves_the_artefact_unchanged(client, bureau):
    bank = bureau.lender("Bank A", 1)
    alice, bob = bureau.person(1), bureau.person(2)
    granted = bureau.grant(alice, bank)
    assert client.delete(f"/v1/authorizations/{granted['id']}", headers=bob.headers).status_code == 404
    assert client.delete(f"/v1/authorizations/{granted['id']}", headers=bank.headers).status_code == 403
    first = client.delete(f"/v1/authorizations/{granted['id']}", headers=alice.headers).json()
    again = client.delete(f"/v1/authorizations/{granted['id']}", headers=alice.headers).json()
    assert first["status"] == again["status"] == "revoked" and first["revoked_at"] == again["revoked_at"]
    assert (first["artefact"], first["signature"]) == (granted["artefact"], granted["signature"])
    assert client.get(f"/v1/authorizations/{granted['id']}", headers=bank.headers).json()["status"] == "revoked"


def test_an_authorization_expires_after_its_last_day(client, bureau):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    today = clock.today()
    granted = bureau.grant(person, bank, expires_on=str(today + timedelta(days=3)))
    assert granted["days_left"] == 3  # what the person's overview shows beside it
    with clock.frozen_at(clock.now() + timedelta(days=3)):
        seen = client.get(f"/v1/authorizations/{granted['id']}", headers=person.headers).json()
        assert (seen["status"], seen["days_left"]) == ("active", 0)
    with clock.frozen_at(clock.now() + timedelta(days=4)):
        seen = client.get("/v1/authorizations", headers=person.headers).json()[0]
        assert (seen["status"], seen["days_left"]) == ("expired", 0)


def test_grants_revocations_and_refusals_are_logged_without_identifiers(client, bureau, runtime):
    from sqlalchemy import select

    from zhengxin.audit.service import sequence_all
    from zhengxin.audit.tables import log_leaves

    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    granted = bureau.grant(person, bank)
    client.delete(f"/v1/authorizations/{granted['id']}", headers=person.headers)
    client.post("/v1/authorizations", json={"lender": bank.name, "purpose": "loan_application",
                                            "scopes": ["travel"]}, headers=person.headers)  # fmt: skip
    sequence_all(runtime.engine)
    with runtime.engine.connect() as conn:
        leaves = [json.loads(x) for x in conn.execute(select(log_leaves.c.leaf).order_by(log_leaves.c.leaf_index))
                  .scalars()]  # fmt: skip
    events = {leaf["kind"]: leaf for leaf in leaves if leaf["kind"].startswith("authorization")}
    assert set(events) == {"authorization.granted", "authorization.revoked", "authorization.denied"}
    assert events["authorization.granted"]["authorization"] == granted["id"]
    assert events["authorization.granted"]["decision"]["rules"] == ["PIPL-14"]
    assert events["authorization.denied"]["decision"]["rules"] == ["PIPL-29"]
    text = json.dumps(leaves, ensure_ascii=False)
    assert person.person_id not in text and "张伟" not in text
