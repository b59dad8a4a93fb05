"""Parties, API keys and the role check, through HTTP."""

from __future__ import annotations

from sqlalchemy import select

from tests.records import resident_id
from zhengxin.parties.tables import api_keys
from zhengxin.parties.tables import parties as parties_table


def test_agency_registers_a_party_and_the_key_is_shown_once_and_stored_hashed(client, runtime, parties):
    _, agency = parties.add("agency")
    r = client.post(
        "/v1/parties", json={"role": "lender", "name": "Bank A", "uscc": "91110000600037341L"}, headers=agency
    )
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]
    assert key.startswith("zx_")
    me = client.get("/v1/parties/me", headers={"Authorization": f"Bearer {key}"})
    assert me.json()["name"] == "Bank A" and "api_key" not in me.json()
    with runtime.engine.connect() as conn:
        stored = [r.secret_sha256 for r in conn.execute(select(api_keys.c.secret_sha256))]
    assert all(key.split("_", 2)[2] not in s for s in stored)


def test_an_individual_is_known_by_token_only(client, runtime, parties):
    _, agency = parties.add("agency")
    pid = resident_id(9)
    r = client.post("/v1/parties", json={"role": "individual", "name": "person-9", "person_id": pid}, headers=agency)
    assert r.status_code == 201
    with runtime.engine.connect() as conn:
        row = conn.execute(select(parties_table).where(parties_table.c.name == "person-9")).mappings().one()
    assert row["person_token"] and pid not in str(dict(row))
    dup = client.post("/v1/parties", json={"role": "individual", "name": "again", "person_id": pid}, headers=agency)
    assert (dup.status_code, dup.json()["code"]) == (409, "party_exists")
    bad = client.post(
        "/v1/parties", json={"role": "individual", "name": "x", "person_id": pid[:-1] + "Z"}, headers=agency
    )
    assert bad.status_code == 422 and pid[:-1] not in bad.text


def test_organisations_need_a_valid_uscc(client, parties):
    _, agency = parties.add("agency")
    r = client.post("/v1/parties", json={"role": "furnisher", "name": "P"}, headers=agency)
    assert r.json()["code"] == "uscc_required"
    r = client.post(
        "/v1/parties", json={"role": "furnisher", "name": "P", "uscc": "91110000600037341X"}, headers=agency
    )
    assert r.json()["code"] == "invalid_uscc"


def test_wrong_role_gets_403_problem_json_naming_the_allowed_roles(client, parties):
    _, furnisher = parties.add("furnisher")
    r = client.post("/v1/parties", json={"role": "lender", "name": "x"}, headers=furnisher)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "forbidden_role" and body["allowed_roles"] == ["agency"] and body["status"] == 403


def test_missing_and_revoked_keys_get_401(client, parties):
    row, agency = parties.add("agency")
    r = client.get("/v1/parties/me")
    assert (r.status_code, r.json()["code"]) == (401, "unauthenticated")
    assert r.headers["www-authenticate"] == "Bearer"
    issued = client.post(f"/v1/parties/{row['id']}/keys", headers=agency).json()
    second = {"Authorization": f"Bearer {issued['api_key']}"}
    assert client.get("/v1/parties/me", headers=second).status_code == 200
    assert client.delete(f"/v1/parties/keys/{issued['key_id']}", headers=agency).status_code == 204
    r = client.get("/v1/parties/me", headers=second)
    assert (r.status_code, r.json()["code"]) == (401, "invalid_api_key")
    assert client.get("/v1/parties/me", headers=agency).status_code == 200
