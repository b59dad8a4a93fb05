"""Federation membership (issue 20): the regulator admits and removes members and signs the
list; a member's requests are signed per RFC 9421 and refused when unsigned, forged, stale,
replayed, tampered with, or from a member no longer on the list."""

from __future__ import annotations

import datetime as dt
import json
import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.bureau import a_uscc
from zhengxin.federation import members, signatures
from zhengxin.kit.errors import Problem

URL = "http://127.0.0.1/v1/federation/handshake"
BODY = json.dumps({"hello": "peer"}).encode()


def _keypair() -> tuple[bytes, str]:
    seed = secrets.token_bytes(32)
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return seed, public.hex()


@pytest.fixture
def federation(client, parties):
    _, regulator = parties.add("regulator", "PBOC")
    seeds = {}
    for n, name in ((1, "Baihang Credit"), (2, "Pudao Credit")):
        seed, public = _keypair()
        r = client.post("/v1/federation/members", headers=regulator, json={
            "name": name, "uscc": a_uscc(40 + n), "base_url": f"http://127.0.0.1:{8000 + n}", "signing_key": public})
        assert r.status_code == 201, r.text
        seeds[a_uscc(40 + n)] = seed
    return regulator, seeds


def _signed(uscc: str, seed: bytes, body: bytes = BODY, **kwargs) -> dict:
    return signatures.sign("POST", URL, {"content-type": "application/json"}, body, key_id=uscc, seed=seed, **kwargs)


def test_only_the_regulator_admits_and_bad_members_are_refused(client, parties, federation):
    regulator, _ = federation
    _, agency = parties.add("agency", "Operator")
    good = {"name": "X", "uscc": a_uscc(49), "base_url": "https://x.example", "signing_key": "ab" * 32}
    assert client.post("/v1/federation/members", headers=agency, json=good).status_code == 403
    for change, code in (({"uscc": "91110000000000000X"}, "invalid_uscc"),
                         ({"base_url": "ftp://x.example"}, "invalid_base_url"),
                         ({"base_url": "http://x.example"}, "invalid_base_url"),  # plain http only on loopback
                         ({"signing_key": "zz" * 32}, "invalid_signing_key"),
                         ({"artefact_keys": {"doc1": "ab" * 31}}, "invalid_signing_key")):  # fmt: skip
        r = client.post("/v1/federation/members", headers=regulator, json={**good, **change})
        assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert client.delete(f"/v1/federation/members/{a_uscc(48)}", headers=regulator).json()["code"] == (
        "member_not_found")


def test_the_member_list_is_signed_and_a_tampered_copy_is_refused(client, parties, federation):
    _, lender = parties.add("lender", "Bank L", uscc=a_uscc(7))
    signed = client.get("/v1/federation/members", headers=lender).json()
    keys = client.get("/v1/authorizations/keys", headers=lender).json()
    public = {k["key_id"]: k["public_key"] for k in keys["keys"]}
    listed = members.verify_document(signed, public)
    assert [m["name"] for m in listed["members"]] == ["Baihang Credit", "Pudao Credit"]
    tampered = {**signed, "document": {**signed["document"], "members": listed["members"][:1]}}
    with pytest.raises(Problem) as refused:
        members.verify_document(tampered, public)
    assert refused.value.code == "members_signature_invalid"


def test_a_signed_request_from_a_member_is_accepted_once(client, federation):
    _, seeds = federation
    uscc, seed = next(iter(seeds.items()))
    headers = _signed(uscc, seed)
    first = client.post("/v1/federation/handshake", content=BODY, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["member"] == {"uscc": uscc, "name": "Baihang Credit", "base_url": "http://127.0.0.1:8001"}
    again = client.post("/v1/federation/handshake", content=BODY, headers=headers)
    assert again.status_code == 401 and again.json()["code"] == "signature_replayed"


def test_unsigned_forged_stale_tampered_and_unknown_requests_are_refused(client, federation):
    _, seeds = federation
    (uscc, seed), (other, other_seed) = list(seeds.items())
    stranger_seed, _ = _keypair()
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=signatures.MAX_AGE_SECONDS + 5)
    future = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    cases = [
        ({"content-type": "application/json"}, BODY, 401, "signature_missing"),
        (_signed(uscc, other_seed), BODY, 401, "signature_invalid"),  # keyid of one member, key of another
        (_signed(uscc, stranger_seed), BODY, 401, "signature_invalid"),
        (_signed(uscc, seed, created=old), BODY, 401, "signature_stale"),
        (_signed(uscc, seed, created=future), BODY, 401, "signature_stale"),
        (_signed(uscc, seed), b'{"hello": "someone else"}', 401, "signature_invalid"),  # body not the one signed
        (_signed(uscc, seed, nonce="short"), BODY, 401, "signature_invalid"),
        (_signed(a_uscc(47), stranger_seed), BODY, 403, "not_a_member"),
    ]
    for headers, body, status, code in cases:
        r = client.post("/v1/federation/handshake", content=body, headers=headers)
        assert (r.status_code, r.json()["code"]) == (status, code), (code, r.text)
    assert client.post("/v1/federation/handshake", content=BODY, headers=_signed(other, other_seed)).status_code == 200


def test_a_removed_member_is_refused_on_its_next_request(client, federation):
    regulator, seeds = federation
    uscc, seed = next(iter(seeds.items()))
    assert client.post("/v1/federation/handshake", content=BODY, headers=_signed(uscc, seed)).status_code == 200
    removed = client.delete(f"/v1/federation/members/{uscc}", headers=regulator)
    assert removed.status_code == 200 and removed.json()["removed_at"] is not None
    r = client.post("/v1/federation/handshake", content=BODY, headers=_signed(uscc, seed))
    assert r.status_code == 403 and r.json()["code"] == "not_a_member"
    assert uscc not in {m["uscc"] for m in client.get("/v1/federation/members", headers=regulator).json()[
        "document"]["members"]}


def test_a_member_node_joins_and_follows_the_regulators_list(runtime, parties, tmp_path):
    """The regulator's node serves the list (a real server); an agency's own deployment takes it
    with `zhengxin federation join`, checked against the regulator key given out of band, and
    follows a removal on the next join."""
    from typer.testing import CliRunner

    from tests.servers import Server
    from zhengxin.cli import app
    from zhengxin.kit import clock
    from zhengxin.parties.service import Actor

    regulator_row, _ = parties.add("regulator", "PBOC")
    _, joining = parties.add("agency", "Baihang Credit (its account at the regulator)")
    regulator = Actor(regulator_row["id"], "regulator", "PBOC")
    with runtime.transaction() as conn:
        for n in (1, 2):
            members.admit(conn, regulator, name=f"Agency {n}", uscc=a_uscc(60 + n), base_url=f"https://a{n}.example",
                          signing_key=_keypair()[1], now=clock.now())  # fmt: skip
    keys = [f"{k}={v}" for k, v in runtime.artefact_keys.public_keys().items()]
    server = Server(runtime.settings.url, runtime.settings, tmp_path).start()
    own = tmp_path / "agency-node"
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["init", "--dir", str(own)]).exit_code == 0

        def join(*regulator_keys):
            args = ["federation", "join", "--regulator", server.base, "--api-key", joining["Authorization"][7:],
                    "--dir", str(own)] + [x for k in regulator_keys for x in ("--regulator-key", k)]  # fmt: skip
            return runner.invoke(app, args, env={"COLUMNS": "200"})

        first = join(*keys)
        assert first.exit_code == 0, first.output
        assert json.loads(first.stdout.strip().splitlines()[-1])["admitted"] == [a_uscc(61), a_uscc(62)]
        listed = runner.invoke(app, ["federation", "members", "--dir", str(own)], env={"COLUMNS": "200"})
        assert "Agency 1" in listed.output and "Agency 2" in listed.output
        with runtime.transaction() as conn:
            members.remove(conn, regulator, a_uscc(62), now=clock.now())
        second = join(*keys)
        assert json.loads(second.stdout.strip().splitlines()[-1]) == {"admitted": [], "updated": [],
                                                                        "removed": [a_uscc(62)]}  # fmt: skip
        forged = join(f"doc1={_keypair()[1]}")  # not the regulator's key
        assert forged.exit_code == 2 and "members_signature_invalid" in forged.output
    finally:
        server.kill()


def test_the_federation_scope_needs_a_member_agency(client, parties):
    """An agency outside any federation cannot promise the person a federation summary: the
    grant is refused with its own code, and nothing is stored."""
    from tests.bureau import Bureau

    bureau = Bureau(client, parties)
    person, lender = bureau.person(3), bureau.lender("First Bank", 3)
    body = {"lender": lender.name, "purpose": "loan_application", "scopes": ["loan", "federation"]}
    r = client.post("/v1/authorizations", json=body, headers=person.headers)
    assert (r.status_code, r.json()["code"]) == (409, "not_a_federation_member")
    assert client.get("/v1/authorizations", headers=person.headers).json() == []
    unknown = client.post("/v1/authorizations", json={**body, "scopes": ["loan", "fed"]}, headers=person.headers)
    assert (unknown.status_code, unknown.json()["code"]) == (422, "invalid_scope")


def test_a_federation_grant_waits_for_no_unreachable_regulator(db_url, tmp_path):
    """A person with no pseudonym yet grants the federation scope while the regulator's node is
    down: 503 regulator_unreachable, and no authorization is stored."""
    from fastapi.testclient import TestClient

    from tests.bureau import Bureau
    from tests.conftest import Parties, _empty_all_tables, make_settings
    from tests.servers import free_port
    from zhengxin.app import create_app
    from zhengxin.runtime import Runtime

    seed, _ = _keypair()
    settings = make_settings(db_url, data_dir=tmp_path, federation={
        "uscc": a_uscc(90), "signing_key": seed.hex(), "regulator_url": f"http://127.0.0.1:{free_port()}"})
    runtime = Runtime(settings)
    _empty_all_tables(runtime.engine)
    try:
        with TestClient(create_app(runtime=runtime), base_url="http://127.0.0.1") as client:
            bureau = Bureau(client, Parties(runtime))
            person, lender = bureau.person(4), bureau.lender("First Bank", 4)  # intake could not derive one
            body = {"lender": lender.name, "purpose": "loan_application", "scopes": ["loan", "federation"]}
            r = client.post("/v1/authorizations", json=body, headers=person.headers)
            assert (r.status_code, r.json()["code"]) == (503, "regulator_unreachable")
            assert client.get("/v1/authorizations", headers=person.headers).json() == []
            assert client.post("/v1/authorizations", json={**body, "scopes": ["loan"]},
                               headers=person.headers).status_code == 201  # fmt: skip
    finally:
        runtime.engine.dispose()
