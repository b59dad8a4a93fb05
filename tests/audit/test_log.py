"""The log through its public surface, on both databases: appends with intake, heads,
proofs, entries, witnesses, receipts, and `zhengxin log verify` catching tampering."""

from __future__ import annotations

import json
import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from tests.records import CONTENT_TYPES, ENCODERS, consumption, loan
from zhengxin.audit import merkle, service
from zhengxin.audit.check import verify_remote, verify_store
from zhengxin.audit.tables import log_leaves
from zhengxin.audit.verify import (
    VerificationError,
    canonical,
    cosign_message,
    verify_consistency,
    verify_head,
    verify_inclusion,
    verify_receipt,
)
from zhengxin.audit.witness import cosign_latest
from zhengxin.identity.resident_id import validate
from zhengxin.identity.tokens import person_token


def furnish(client, h, records, key):
    r = client.post(
        "/v1/furnishing/batches",
        content=ENCODERS["jsonl"](records),
        headers={**h, "Content-Type": CONTENT_TYPES["jsonl"], "Idempotency-Key": key},
    )
    assert r.status_code == 201, r.text
    return r.json()


def individual(parties, runtime, n):
    record = loan(n)
    row, h = parties.add("individual", person_id=record["person_id"])
    return h, person_token(runtime.pepper, validate(record["person_id"]))


def test_a_batch_logs_one_leaf_per_person_and_one_for_itself(client, runtime, parties):
    _, h = parties.add("furnisher")
    batch = furnish(client, h, [loan(1), loan(2), consumption(1), loan(3, product="bad")], "a")
    with runtime.engine.connect() as conn:
        # Committed with the batch: queued for the sequencer, unless the app's background worker
        # (it runs in the test client too) has sequenced them already.
        waiting = service.queued(conn)
        assert waiting + conn.execute(select(func.count()).select_from(log_leaves)).scalar_one() == 3
    assert service.sequence_all(runtime.engine) == waiting
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(log_leaves).order_by(log_leaves.c.leaf_index)).mappings().all()
        assert service.queued(conn) == 0
    assert [r["kind"] for r in rows] == ["furnishing.records", "furnishing.records", "furnishing.batch"]
    first = json.loads(rows[-1]["leaf"])
    assert (first["batch"], first["accepted"], first["rejected"]) == (batch["id"], 3, 1)
    people = {r["person_token"]: json.loads(r["leaf"]) for r in rows[:-1]}
    t1 = person_token(runtime.pepper, validate(loan(1)["person_id"]))
    assert people[t1]["record_types"] == ["consumption", "loan"]
    for r in rows:  # leaves are canonical JSON, and hold tokens, never identifiers
        assert canonical(json.loads(r["leaf"])).decode() == r["leaf"]
        assert loan(1)["person_id"] not in r["leaf"] and loan(1)["name"] not in r["leaf"]
    # a replayed batch appends nothing
    furnish_again = client.post("/v1/furnishing/batches", content=ENCODERS["jsonl"]([loan(1), loan(2), consumption(1),
                                loan(3, product="bad")]), headers={**h, "Content-Type": CONTENT_TYPES["jsonl"],
                                "Idempotency-Key": "a"})  # fmt: skip
    assert furnish_again.status_code == 200
    assert service.sequence_all(runtime.engine) == 0


def test_heads_and_proofs_verify_with_a_standard_verifier(client, runtime, parties):
    _, h = parties.add("furnisher")
    _, agency = parties.add("agency")
    for i in range(5):
        furnish(client, h, [loan(10 * i + j) for j in range(1, 4)], f"b{i}")
        if i == 1:
            first = client.post("/v1/log/sth", headers=agency).json()
    head = client.post("/v1/log/sth", headers=agency).json()
    assert head["tree_size"] == 20 and first["tree_size"] == 8
    assert client.get("/v1/log/sth", headers=h).json()["root_hash"] == head["root_hash"]
    keys = {k["key_id"]: k["public_key"] for k in client.get("/v1/log/keys", headers=h).json()["keys"]}
    assert client.get("/v1/log/key", headers=h).json()["key_id"] in keys
    verify_head(head, keys)
    verify_head(first, keys)
    entries = client.get("/v1/log/entries", params={"start": 0, "end": 20}, headers=h).json()["entries"]
    hashes = [merkle.leaf_hash(e["leaf"].encode()) for e in entries]
    assert merkle.root(hashes).hex() == head["root_hash"]
    for index in (0, 7, 19):
        p = client.get("/v1/log/proof/inclusion", params={"index": index, "size": 20}, headers=h).json()
        assert p["leaf_hash"] == hashes[index].hex()
        assert all(x == x.lower() and len(x) == 64 for x in p["audit_path"])
        verify_inclusion(
            index, 20, hashes[index], [bytes.fromhex(x) for x in p["audit_path"]], bytes.fromhex(head["root_hash"])
        )
    c = client.get("/v1/log/proof/consistency", params={"first": 8, "second": 20}, headers=h).json()
    verify_consistency(
        8,
        20,
        [bytes.fromhex(x) for x in c["proof"]],
        bytes.fromhex(first["root_hash"]),
        bytes.fromhex(head["root_hash"]),
    )
    bad = client.get("/v1/log/proof/inclusion", params={"index": 20, "size": 20}, headers=h)
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_proof_request")
    beyond = client.get("/v1/log/proof/inclusion", params={"index": 3, "size": 21}, headers=h)
    assert (beyond.status_code, beyond.json()["code"]) == (400, "invalid_proof_request")
    beyond = client.get("/v1/log/proof/consistency", params={"first": 3, "second": 21}, headers=h)
    assert (beyond.status_code, beyond.json()["code"]) == (400, "invalid_proof_request")
    assert client.get("/v1/log/sth").status_code == 401


def test_an_individual_gets_verifiable_receipts_for_their_own_events_only(client, runtime, parties, tmp_path):
    _, h = parties.add("furnisher")
    me, token = individual(parties, runtime, 1)
    other, _ = individual(parties, runtime, 2)
    furnish(client, h, [loan(1), loan(2), loan(3)], "c")
    mine = client.get("/v1/me/receipts", headers=me).json()["receipts"]
    assert [r["kind"] for r in mine] == ["furnishing.records"]
    index = mine[0]["leaf_index"]
    receipt = client.get(f"/v1/me/receipts/{index}", headers=me).json()
    assert json.loads(receipt["leaf"])["person"] == token
    keys = {k["key_id"]: k["public_key"] for k in client.get("/v1/log/keys", headers=me).json()["keys"]}
    verify_receipt(receipt, keys)
    assert client.get(f"/v1/me/receipts/{index}", headers=other).json()["code"] == "receipt_not_found"
    tampered = {**receipt, "leaf": receipt["leaf"].replace(token, token[::-1])}
    with pytest.raises(VerificationError):
        verify_receipt(tampered, keys)
    # offline, with the CLI
    from zhengxin.cli import app

    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    pinned = keys[receipt["sth"]["key_id"]]
    result = CliRunner().invoke(app, ["log", "check-receipt", str(path), "--public-key", pinned])
    assert result.exit_code == 0, result.output
    path.write_text(json.dumps(tampered))
    assert CliRunner().invoke(app, ["log", "check-receipt", str(path), "--public-key", pinned]).exit_code == 1
    # the log shows others' events to an individual only as hashes
    entries = client.get("/v1/log/entries", params={"start": 0, "end": 10}, headers=me).json()["entries"]
    full = [e for e in entries if e["leaf"] is not None]
    assert [e["index"] for e in full] == [index]
    assert all(e["leaf_hash"] for e in entries if e["leaf"] is None)


def test_witnesses_cosign_and_their_lag_is_visible(client, runtime, parties, tmp_path):
    _, h = parties.add("furnisher")
    _, regulator = parties.add("regulator")
    _, overseer = parties.add("overseer")
    _, agency = parties.add("agency")
    furnish(client, h, [loan(1), loan(2)], "d")
    client.post("/v1/log/sth", headers=agency)
    key = Ed25519PrivateKey.from_private_bytes(secrets.token_bytes(32))
    state = tmp_path / "witness.json"
    api_key = regulator["Authorization"].split()[1]
    first = cosign_latest(client, api_key, key, state)
    head = client.get("/v1/log/sth", headers=h).json()
    assert [c["role"] for c in head["cosignatures"]] == ["regulator"]

    furnish(client, h, [loan(3)], "e")
    client.post("/v1/log/sth", headers=agency)
    status = client.get("/v1/log/witnesses", headers=regulator).json()
    assert status["witnesses"][0]["lag_leaves"] == 2
    assert 'zhengxin_log_cosign_lag_leaves{witness="regulator-2"} 2.0' in client.get("/metrics", headers=regulator).text
    second = cosign_latest(client, api_key, key, state)  # checks consistency with the first
    assert second["tree_size"] > first["tree_size"]
    assert client.get("/v1/log/witnesses", headers=regulator).json()["witnesses"][0]["lag_leaves"] == 0

    # an overseer cannot cosign a head the log never signed, nor with a bad signature
    okey = Ed25519PrivateKey.from_private_bytes(secrets.token_bytes(32))
    client.post(
        "/v1/log/witnesses/key", headers=overseer, json={"public_key": okey.public_key().public_bytes_raw().hex()}
    )
    fake = {**{k: head[k] for k in ("tree_size", "timestamp")}, "root_hash": "00" * 32}
    r = client.post(
        "/v1/log/cosign", headers=overseer, json={**fake, "signature": okey.sign(cosign_message(fake)).hex()}
    )
    assert (r.status_code, r.json()["code"]) == (409, "unknown_head")
    real = {k: head[k] for k in ("tree_size", "timestamp", "root_hash")}
    r = client.post(
        "/v1/log/cosign", headers=overseer, json={**real, "signature": key.sign(cosign_message(real)).hex()}
    )
    assert (r.status_code, r.json()["code"]) == (422, "bad_cosignature")
    assert client.post("/v1/log/cosign", headers=h, json={**real, "signature": "00"}).status_code == 403


def test_verify_passes_then_catches_an_edited_leaf_and_a_truncated_log(client, runtime, parties):
    _, h = parties.add("furnisher")
    _, agency = parties.add("agency")
    for i in range(3):
        furnish(client, h, [loan(10 * i + j) for j in range(1, 4)], f"f{i}")
        client.post("/v1/log/sth", headers=agency)
    keys = service.log_signer(runtime).public_keys()
    with runtime.engine.connect() as conn:
        ok = verify_store(conn, keys)
    assert ok["problems"] == [] and ok["tree_size"] == 12 and ok["heads"] == 3

    with runtime.transaction() as conn:
        leaf = conn.execute(select(log_leaves.c.leaf).where(log_leaves.c.leaf_index == 5)).scalar_one()
        conn.execute(
            log_leaves.update().where(log_leaves.c.leaf_index == 5).values(leaf=leaf.replace('"v":1', '"v":2'))
        )
    with runtime.engine.connect() as conn:
        problems = verify_store(conn, keys)["problems"]
    assert any(p.startswith("leaf 5:") for p in problems), problems
    with runtime.transaction() as conn:
        conn.execute(log_leaves.update().where(log_leaves.c.leaf_index == 5).values(leaf=leaf))
        conn.execute(log_leaves.delete().where(log_leaves.c.leaf_index >= 10))
    with runtime.engine.connect() as conn:
        problems = verify_store(conn, keys)["problems"]
    assert any("log state says 12 leaves but 10 are stored" in p for p in problems), problems
    assert any("head at size 12 covers leaves the log no longer holds" in p for p in problems), problems


def test_log_verify_cli_exits_non_zero_on_tampering(tmp_path):
    from zhengxin.cli import app
    from zhengxin.config import load_settings
    from zhengxin.kit.db import make_engine

    runner = CliRunner()
    d = str(tmp_path / "dep")
    assert runner.invoke(app, ["init", "--dir", d]).exit_code == 0
    assert (
        runner.invoke(app, ["parties", "add", "furnisher", "F", "--uscc", "91110000600037341L", "--dir", d]).exit_code
        == 0
    )
    file = tmp_path / "loans.jsonl"
    file.write_bytes(ENCODERS["jsonl"]([loan(1), loan(2)]))
    assert runner.invoke(app, ["furnish", str(file), "--furnisher", "F", "--dir", d]).exit_code == 0
    assert runner.invoke(app, ["log", "sign", "--dir", d]).exit_code == 0
    good = runner.invoke(app, ["log", "verify", "--dir", d])
    assert good.exit_code == 0 and "log verified: 3 leaves" in good.output
    engine = make_engine(load_settings(tmp_path / "dep").url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE log_leaves SET leaf = replace(leaf, 'furnishing', 'furnishinG') WHERE leaf_index = 1")
        )
    engine.dispose()
    bad = runner.invoke(app, ["log", "verify", "--dir", d])
    assert bad.exit_code == 1 and "leaf 1:" in bad.output


def test_remote_verification_as_an_outside_auditor(client, runtime, parties, tmp_path):
    _, h = parties.add("furnisher")
    _, regulator = parties.add("regulator")
    _, agency = parties.add("agency")
    furnish(client, h, [loan(1), loan(2)], "g")
    client.post("/v1/log/sth", headers=agency)
    api_key = regulator["Authorization"].split()[1]
    state = tmp_path / "auditor.json"
    first = verify_remote("http://testserver", api_key, state, client=client)
    assert first["problems"] == [] and first["tree_size"] == 3 and state.exists()
    furnish(client, h, [loan(3)], "h")
    client.post("/v1/log/sth", headers=agency)
    assert verify_remote("http://testserver", api_key, state, client=client)["problems"] == []
    # a server that rewrites history is caught by the consistency check against the saved head
    state.write_text(json.dumps({**json.loads(state.read_text()), "root_hash": "11" * 32, "tree_size": 3}))
    problems = verify_remote("http://testserver", api_key, state, client=client)["problems"]
    assert any("not consistent" in p for p in problems), problems


def test_leaf_and_log_commit_with_the_business_write(runtime, parties, monkeypatch):
    """A batch that fails after its records were written leaves neither records nor leaves."""
    from fastapi.testclient import TestClient

    from zhengxin.app import create_app
    from zhengxin.audit import service as audit

    _, h = parties.add("furnisher")

    def broken(*args, **kwargs):
        raise RuntimeError("log storage down")

    monkeypatch.setattr(audit, "enqueue", broken)
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
        r = client.post(
            "/v1/furnishing/batches",
            content=ENCODERS["jsonl"]([loan(1)]),
            headers={**h, "Content-Type": CONTENT_TYPES["jsonl"]},
        )
    assert r.status_code == 500
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM account_snapshots")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM furnishing_batches")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM log_queue")).scalar_one() == 0


def test_heads_are_signed_on_a_schedule(db_url, tmp_path):
    import time as _time

    from fastapi.testclient import TestClient

    from tests.conftest import Parties, _empty_all_tables, make_settings
    from zhengxin.app import create_app
    from zhengxin.runtime import Runtime

    runtime = Runtime(make_settings(db_url, log_sth_interval_seconds=0.1))
    _empty_all_tables(runtime.engine)
    _, h = Parties(runtime).add("furnisher")
    with TestClient(create_app(runtime=runtime)) as client:
        furnish(client, h, [loan(1)], "s")
        deadline = _time.time() + 10
        while _time.time() < deadline:
            with runtime.engine.connect() as conn:
                head = service_latest(conn)
            if head and head["tree_size"] == 2:
                break
            _time.sleep(0.05)
    assert head and head["tree_size"] == 2
    runtime.engine.dispose()


def service_latest(conn):
    from zhengxin.audit.service import latest_head

    return latest_head(conn)


def test_rotating_the_signing_key_keeps_old_heads_verifiable(client, runtime, parties):
    from zhengxin.audit.service import LogSigner

    _, h = parties.add("furnisher")
    _, agency = parties.add("agency")
    furnish(client, h, [loan(1)], "r1")
    old = client.post("/v1/log/sth", headers=agency).json()
    seeds = {**runtime.settings.log_key_bytes(), "log2": secrets.token_bytes(32)}
    runtime.kept_objects[LogSigner] = LogSigner(seeds, "log2")  # what a restart with the new settings does
    furnish(client, h, [loan(2)], "r2")
    new = client.post("/v1/log/sth", headers=agency).json()
    assert (old["key_id"], new["key_id"]) == ("log1", "log2")
    keys = {k["key_id"]: k["public_key"] for k in client.get("/v1/log/keys", headers=h).json()["keys"]}
    verify_head(old, keys)
    verify_head(new, keys)
    with runtime.engine.connect() as conn:
        assert verify_store(conn, keys)["problems"] == []


def test_log_verify_remote_against_a_running_server(tmp_path):
    import socket
    import threading
    import time as _time

    import uvicorn

    from zhengxin.app import create_app
    from zhengxin.cli import app
    from zhengxin.config import load_settings
    from zhengxin.runtime import Runtime

    runner = CliRunner()
    d = tmp_path / "dep"
    assert runner.invoke(app, ["init", "--dir", str(d)]).exit_code == 0
    out = runner.invoke(app, ["parties", "add", "regulator", "PBOC", "--dir", str(d)])
    api_key = json.loads(out.stdout.strip().splitlines()[-1])["api_key"]
    runner.invoke(app, ["parties", "add", "furnisher", "F", "--uscc", "91110000600037341L", "--dir", str(d)])
    file = tmp_path / "loans.jsonl"
    file.write_bytes(ENCODERS["jsonl"]([loan(1), loan(2)]))
    assert runner.invoke(app, ["furnish", str(file), "--furnisher", "F", "--dir", str(d)]).exit_code == 0
    assert runner.invoke(app, ["log", "sign", "--dir", str(d)]).exit_code == 0

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime=Runtime(load_settings(d))), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            _time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        state = tmp_path / "auditor.json"
        result = runner.invoke(app, ["log", "verify", "--remote", url, "--api-key", api_key, "--state", str(state)])
        assert result.exit_code == 0, result.output
        assert "log verified: 3 leaves" in result.output and state.exists()
        state.write_text(json.dumps({**json.loads(state.read_text()), "root_hash": "22" * 32}))
        result = runner.invoke(app, ["log", "verify", "--remote", url, "--api-key", api_key, "--state", str(state)])
        assert result.exit_code == 1 and "not consistent" in result.output
    finally:
        server.should_exit = True
        thread.join(10)


def test_concurrent_appends_build_one_consistent_tree(runtime):
    from concurrent.futures import ThreadPoolExecutor

    from zhengxin.audit import service

    def enqueue_and_sequence(worker: int) -> None:
        for i in range(15):
            with runtime.transaction() as conn:
                e = service.event("test.event", None, worker=worker, i=i)
                service.enqueue(conn, [e, {**e, "i": i + 1000}])
            if i % 5 == 0:  # sequencers racing each other and the writers
                service.sequence_all(runtime.engine)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(enqueue_and_sequence, range(4)))
    service.sequence_all(runtime.engine)
    with runtime.engine.connect() as conn:
        leaves = [
            json.loads(x) for x in conn.execute(select(log_leaves.c.leaf).order_by(log_leaves.c.leaf_index)).scalars()
        ]
    assert sorted((e["worker"], e["i"]) for e in leaves) == sorted((w, i + k) for w in range(4) for i in range(15)
                                                                   for k in (0, 1000))  # fmt: skip
    with runtime.transaction() as conn:
        service.sign_head(conn, service.log_signer(runtime))
    with runtime.engine.connect() as conn:
        check = verify_store(conn, service.log_signer(runtime).public_keys())
    assert check["problems"] == [] and check["tree_size"] == 120


def test_a_queue_of_many_single_events_is_sequenced_in_bounded_deletes(runtime, monkeypatch):
    """Grants and inquiries queue one row each; the sequencer removes the rows it took in
    chunks (PostgreSQL refuses a statement with more than 65,535 parameters)."""
    from sqlalchemy import insert

    from zhengxin.audit.tables import log_queue
    from zhengxin.kit import clock
    from zhengxin.kit.canonical import canonical_json

    monkeypatch.setattr(service, "DELETE_CHUNK", 70)
    now = clock.now()
    rows = [
        {"leaves": canonical_json({"v": 1, "kind": "test", "n": n}).decode(), "count": 1, "created_at": now}
        for n in range(1000)
    ]
    with runtime.transaction() as conn:
        conn.execute(insert(log_queue), rows)
    assert service.sequence_all(runtime.engine) == 1000
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(log_queue)).scalar_one() == 0
        assert service.tree_size(conn) == 1000


def test_many_proofs_at_once_match_single_proofs_whatever_the_fetch_chunk(runtime, monkeypatch):
    from sqlalchemy import insert

    from zhengxin.audit.tables import log_queue
    from zhengxin.kit import clock
    from zhengxin.kit.canonical import canonical_json
    from zhengxin.kit.errors import Problem

    leaves = "\n".join(canonical_json({"v": 1, "kind": "test", "n": n}).decode() for n in range(300))
    with runtime.transaction() as conn:
        conn.execute(insert(log_queue), [{"leaves": leaves, "count": 300, "created_at": clock.now()}])
    service.sequence_all(runtime.engine)
    indices = [0, 7, 128, 255, 299]
    with runtime.engine.connect() as conn:
        one_by_one = [service.inclusion_proof(conn, i, 300) for i in indices]
        monkeypatch.setattr(service, "FETCH_CHUNK", 3)  # many small queries
        assert service.inclusion_proofs(conn, indices, 300) == one_by_one
        with pytest.raises(Problem, match="index"):
            service.inclusion_proofs(conn, [5, 300], 300)


def test_an_empty_or_reversed_range_of_entries_is_refused_and_the_schema_says_so(client, parties):
    """Issue 15, finding 13: `start=0&end=0` was accepted by the schema."""
    _, h = parties.add("regulator")
    r = client.get("/v1/log/entries", params={"start": 0, "end": 0}, headers=h)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    r = client.get("/v1/log/entries", params={"start": 5, "end": 3}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "invalid_range"
    params = client.get("/openapi.json").json()["paths"]["/v1/log/entries"]["get"]["parameters"]
    assert {p["name"]: p["schema"].get("minimum") for p in params} == {"start": 0, "end": 1}
