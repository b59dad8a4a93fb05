"""Issue 18, identity integrity: when a second furnisher sends the same resident ID with another
name and phone, nothing is overwritten. Each furnisher's version is kept (sealed); the person's
own report shows every version beside the current one (the most recent report received), a
lender's report says the identity has conflicting sources, and the regulator counts conflicts
by furnisher. Through the public API, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.bureau import Bureau
from tests.records import CONTENT_TYPES, ENCODERS, loan
from zhengxin.identity.tables import identity_versions


@pytest.fixture
def bureau(client, parties):
    return Bureau(client, parties)


def furnish(client, headers, records, key):
    r = client.post("/v1/furnishing/batches", content=ENCODERS["jsonl"](records),
                    headers={**headers, "Content-Type": CONTENT_TYPES["jsonl"], "Idempotency-Key": key})  # fmt: skip
    assert r.status_code == 201 and r.json()["rejected"] == 0, r.text
    return r.json()


def test_a_second_furnishers_other_name_is_kept_beside_the_first_and_flagged(client, bureau, parties, runtime):
    _, regulator = parties.add("regulator", "PBOC")
    _, second = parties.add("furnisher", "Platform Two")
    person = bureau.person(1, loan(1, name="张伟", phone="13800000001"))
    agreeing = bureau.person(2, loan(2, name="王芳"))
    furnish(client, second, [
        loan(1, account_id="P2-1", name="李伟", phone="13900000002", as_of="2026-11-30"),
        loan(2, account_id="P2-2", name="王芳", as_of="2026-11-30"),
    ], "p2")  # fmt: skip

    # The person sees both versions, the current one first (the most recent report).
    mine = client.get("/v1/me/report", headers=person.headers).json()["report"]["identity"]
    assert mine["conflicting_sources"] is True
    assert mine["name"] == "李*"
    shown = [(s["furnisher"]["name"], s["name"], s["phone"], s["reported_on"], s["differs"]) for s in mine["sources"]]
    assert shown == [
        ("Platform Two", "李*", mine["phone"], "2026-11-30", False),
        ("Platform One", "张*", "138****0001", "2026-10-31", True),
    ]  # fmt: skip
    theirs = client.get("/v1/me/report", headers=agreeing.headers).json()["report"]["identity"]
    assert theirs["conflicting_sources"] is False

    # A lender learns that the identity has conflicting sources, not the versions.
    lender = bureau.lender("Bank", 1)
    grant = bureau.grant(person, lender)
    r = bureau.inquire(lender, person, grant["id"])
    assert r.status_code == 201, r.text
    identity = r.json()["report"]["identity"]
    assert identity["conflicting_sources"] is True and identity["sources"] == []

    # The versions are sealed: neither name is stored in clear.
    with runtime.reading() as conn:
        blobs = conn.execute(select(identity_versions.c.ciphertext)).scalars().all()
    assert len(blobs) == 4 and not any("张伟".encode() in b or "李伟".encode() in b for b in blobs)

    # The regulator counts, by furnisher, the persons whose name another furnisher reports otherwise.
    counts = client.get("/v1/supervision/identity-conflicts", headers=regulator).json()
    assert {(f["furnisher"], f["persons"], f["conflicts"]) for f in counts["furnishers"]} == {
        ("Platform One", 2, 1), ("Platform Two", 2, 1)}  # fmt: skip
    assert counts["conflicts"] == 2


def test_an_older_report_never_replaces_a_furnishers_newer_version(client, bureau, runtime):
    person = bureau.person(1, loan(1, name="张伟", as_of="2026-11-30"))
    furnish(client, bureau.platform, [loan(1, name="张卫", as_of="2026-09-30", account_id="ACC-OLD")], "old")
    mine = client.get("/v1/me/report", headers=person.headers).json()["report"]["identity"]
    assert mine["conflicting_sources"] is False  # one furnisher: one version, its newest report
    with runtime.reading() as conn:
        (as_of,) = conn.execute(select(identity_versions.c.as_of)).scalars().all()
    assert str(as_of) == "2026-11-30"


def test_a_person_disputes_a_furnishers_version_and_the_furnisher_corrects_it(client, bureau, parties):
    _, second = parties.add("furnisher", "Platform Two")
    _, staff = parties.add("agency", "Li Na (disputes desk)", staff=True)
    person = bureau.person(1, loan(1, name="张伟", phone="13800000001"))
    bureau.person(2, loan(2, name="王芳"))
    furnish(client, second, [loan(1, account_id="P2-1", name="李伟", phone="13900000002", as_of="2026-11-30")], "a")

    def dispute(furnisher):
        return client.post("/v1/me/disputes/identity", json={"furnisher": furnisher, "reason": "我不姓李"},
                           headers=person.headers)  # fmt: skip

    assert (dispute("Platform Nine").status_code, dispute("Platform Nine").json()["code"]) == (
        404, "identity_version_not_found")
    made = dispute("Platform Two")
    assert made.status_code == 201, made.text
    opened = made.json()
    assert (opened["record_type"], opened["account_id"], opened["status"]) == ("identity", None, "open")
    assert dispute("Platform Two").json()["code"] == "dispute_exists"

    report = client.get("/v1/me/report", headers=person.headers).json()["report"]
    assert {s["furnisher"]["name"]: s["under_dispute"] for s in report["identity"]["sources"]} == {
        "Platform Two": True, "Platform One": False}
    (label,) = report["objections"]
    assert (label["record_type"], label["account_id"], label["dispute_id"]) == ("identity", None, opened["id"])
    assert report["header"]["objection_note"] and not any(a["under_dispute"] for a in report["accounts"])

    # The furnisher's queue holds it; a batch that does not renew the version is no correction.
    queue = client.get("/v1/furnishing/disputes", headers=second).json()
    assert [d["id"] for d in queue["disputes"]] == [opened["id"]]
    unrelated = furnish(client, second, [loan(2, account_id="P2-2", name="王芳", as_of="2026-11-30")], "b")
    r = client.post(f"/v1/furnishing/disputes/{opened['id']}/answer", headers=second,
                    json={"action": "correction", "batch_id": unrelated["id"]})  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (422, "correction_not_in_batch")
    fixed = furnish(client, second, [loan(1, account_id="P2-1", name="张伟", phone="13800000001",
                                          as_of="2026-12-01")], "c")  # fmt: skip
    r = client.post(f"/v1/furnishing/disputes/{opened['id']}/answer", headers=second,
                    json={"action": "correction", "batch_id": fixed["id"]})  # fmt: skip
    assert r.status_code == 200, r.text

    # The member of staff compares every version, then decides; the conflict is gone.
    seen = client.get(f"/v1/disputes/{opened['id']}", params={"purpose": "dispute_handling"}, headers=staff).json()
    assert {v["name"] for v in seen["identity_versions"]} == {"张伟"} and seen["record_history"] == []
    r = client.post(f"/v1/disputes/{opened['id']}/decision", headers=staff,
                    json={"outcome": "corrected", "note": "平台二已更正姓名"})  # fmt: skip
    assert r.status_code == 200, r.text
    after = client.get("/v1/me/report", headers=person.headers).json()["report"]
    assert after["identity"]["conflicting_sources"] is False and after["identity"]["name"] == "张*"
    assert after["objections"] == []
