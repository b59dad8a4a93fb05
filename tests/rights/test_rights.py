"""The person's own reads: self-queries (free online; at the counter two free a year, then
charged), who accessed their data (the
same events as the log, each with a receipt that verifies), and a copy of everything held."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.bureau import Bureau
from tests.records import consumption, loan, resident_id
from zhengxin.audit.service import sequence_all
from zhengxin.audit.verify import verify_receipt
from zhengxin.kit import clock


@pytest.fixture
def bureau(client, parties):
    return Bureau(client, parties)


def self_query(client, person) -> dict:
    r = client.get("/v1/me/report", headers=person.headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_online_self_queries_are_free_and_a_get_never_charges(client, bureau, runtime):
    person = bureau.person(1)
    answers = [self_query(client, person) for _ in range(4)]  # retries, a prefetcher, a crawler …
    assert [(a["channel"], a["fee_fen"], a["free"]) for a in answers] == [("online", 0, True)] * 4  # FEE-1
    assert {a["free_self_queries_left"] for a in answers} == {2}  # online ones spend none of CR-17's counter two
    report = answers[0]["report"]
    assert report["header"]["viewer"] == "individual" and report["header"]["inquiry"] is None
    assert report["accounts"][0]["furnisher"]["name"] == "Platform One"  # a person sees names (RPT-2)
    period = clock.today().strftime("%Y-%m")
    recon = client.get("/v1/billing/reconciliation", params={"period": period}, headers=bureau.agency).json()
    assert (recon["charges"], recon["fees_fen"]) == (4, 0)
    kinds = [a["kind"] for a in client.get("/v1/me/accesses", headers=person.headers).json()["accesses"]]
    assert kinds.count("self_query") == 4  # every look is logged all the same


def counter(client, staff, person_id: str, **extra):
    return client.post("/v1/rights/counter-self-queries", json={"person_id": person_id, "identity_verified": True,
                                                              **extra}, headers=staff)  # fmt: skip


def test_the_free_counter_year_turns_at_midnight_in_beijing(client, bureau, parties):
    """Issue 18: CR-17's year is Beijing's. 16:00 UTC on 31 December is midnight on 1 January
    there: the year's two free queries are spent a minute before, and a new year's are free."""
    person = bureau.person(1)
    _, clerk = parties.add("agency", "Clerk Li", staff=True)
    answers = []
    for instant in (datetime(2026, 12, 31, 15, 58, tzinfo=UTC), datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC),
                    datetime(2026, 12, 31, 16, 0, tzinfo=UTC), datetime(2026, 12, 31, 17, 0, tzinfo=UTC),
                    datetime(2026, 12, 31, 18, 0, tzinfo=UTC)):  # fmt: skip
        with clock.frozen_at(instant):
            r = counter(client, clerk, person.person_id)
            assert r.status_code == 201, r.text
            answers.append((r.json()["fee_fen"], r.json()["free_self_queries_left"]))
    assert answers == [(0, 1), (0, 0), (0, 1), (0, 0), (1000, 0)]


def test_counter_self_queries_two_free_a_year_then_a_fee(client, bureau, parties, runtime):
    person = bureau.person(1)
    _, clerk = parties.add("agency", "Clerk Li", staff=True)
    fees = []
    for hour in (1, 2, 3):
        with clock.frozen_at(datetime(2026, 12, 30, hour, tzinfo=UTC)):
            r = counter(client, clerk, person.person_id)
            assert r.status_code == 201, r.text
            fees.append((r.json()["channel"], r.json()["fee_fen"], r.json()["free_self_queries_left"]))
    assert fees == [("counter", 0, 1), ("counter", 0, 0), ("counter", 1000, 0)]  # CR-17, FEE-1
    with clock.frozen_at(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)):
        first = counter(client, clerk, person.person_id).json()
    with clock.frozen_at(datetime(2027, 1, 1, 0, 0, 2, tzinfo=UTC)):
        online = self_query(client, person)
    assert (first["fee_fen"], first["free_self_queries_left"]) == (0, 1)  # a new year
    assert online["fee_fen"] == 0 and online["free_self_queries_left"] == 1
    assert first["report"]["accounts"][0]["furnisher"]["name"] == "Platform One"

    history = client.get("/v1/me/self-queries", headers=person.headers).json()["self_queries"]
    assert [(q["channel"], q["fee_fen"]) for q in history] == [
        ("online", 0), ("counter", 0), ("counter", 1000), ("counter", 0), ("counter", 0)]  # fmt: skip
    recon = client.get("/v1/billing/reconciliation", params={"period": "2026-12"}, headers=bureau.agency).json()
    assert (recon["charges"], recon["fees_fen"], recon["furnisher_shares_fen"]) == (3, 1000, 0)
    # The person sees each counter query as a staff read naming the clerk and the purpose (CR-22).
    reads = [a for a in client.get("/v1/me/accesses", headers=person.headers).json()["accesses"]
             if a["kind"] == "staff.read"]  # fmt: skip
    assert len(reads) == 4 and {a["party"]["name"] for a in reads} == {"Clerk Li"}
    assert {a["purpose"] for a in reads} == {"rights_request"}


def test_a_counter_self_query_needs_a_personal_staff_account_and_a_checked_id(client, bureau, parties, runtime):
    person = bureau.person(1)
    lender = bureau.lender("First Bank", 1)
    shared = counter(client, bureau.agency, person.person_id)
    assert (shared.status_code, shared.json()["code"], shared.json()["rule"]) == (403, "staff_account_required",
                                                                                   "CR-22")  # fmt: skip
    assert counter(client, lender.headers, person.person_id).status_code == 403
    _, clerk = parties.add("agency", "Clerk Li", staff=True)
    assert counter(client, clerk, person.person_id, identity_verified=False).status_code == 422
    bad = counter(client, clerk, person.person_id[:-1] + ("0" if person.person_id[-1] != "0" else "1"))
    assert bad.status_code == 422 and bad.json()["code"] == "resident_id_checksum"
    with runtime.engine.connect() as conn:
        from zhengxin.rights.tables import self_queries

        assert conn.execute(self_queries.select()).first() is None  # nothing kept of the refusals


def test_accesses_match_the_log_and_every_receipt_verifies(client, bureau, runtime):
    lender = bureau.lender("First Bank", 1)
    person, other = bureau.person(1), bureau.person(2)
    grant = bureau.grant(person, lender)
    assert bureau.inquire(lender, person, grant["id"]).status_code == 201
    bureau.inquire(lender, person, grant["id"])  # over fair use: denied, and logged
    self_query(client, person)
    bureau.grant(other, lender)

    r = client.get("/v1/me/accesses", headers=person.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    accesses = body["accesses"]
    size = client.get("/v1/log/sth", headers=person.headers).json()["tree_size"]
    entries = client.get("/v1/log/entries", params={"start": 0, "end": size}, headers=person.headers).json()
    mine = [e for e in entries["entries"] if e["leaf"] is not None]
    assert sorted(a["leaf_index"] for a in accesses) == [e["index"] for e in mine]
    assert {a["receipt"]["leaf"] for a in accesses} == {e["leaf"] for e in mine}

    kinds = [a["kind"] for a in reversed(accesses)]
    assert kinds == ["furnishing.records", "authorization.granted", "inquiry", "inquiry.denied", "self_query"]
    inquiry = next(a for a in accesses if a["kind"] == "inquiry")
    assert inquiry["party"]["name"] == "First Bank" and inquiry["purpose"] == "loan_application"
    assert inquiry["authorization"] == grant["id"]
    keys = {body["log_key"]["key_id"]: body["log_key"]["public_key"]}
    for a in accesses:
        verify_receipt(a["receipt"], keys)
    # Nothing about the other person.
    other_token = json.loads(next(e["leaf"] for e in entries["entries"] if e["leaf"]))["person"]
    assert all(json.loads(a["receipt"]["leaf"])["person"] == other_token for a in accesses)


def test_export_holds_every_record_of_the_person_and_nothing_of_anyone_else(client, bureau, runtime):
    lender = bureau.lender("First Bank", 1)
    months = [f"2026-{m:02d}" for m in range(1, 11)]
    person = bureau.person(
        1,
        loan(1),
        loan(1, account_id="ACC-SECOND", as_of="2026-09-30"),
        loan(1, account_id="ACC-SECOND"),
        *[consumption(1, name="张伟", month=m, as_of=f"{m}-28") for m in months],
    )  # fmt: skip
    other = bureau.person(2, loan(2, name="王芳"), consumption(2, name="王芳"))
    bureau.inquire(lender, person, bureau.grant(person, lender)["id"])
    bureau.inquire(lender, other, bureau.grant(other, lender)["id"])
    client.post("/v1/me/disputes", json={"account_id": "ACC-SECOND", "reason": "not mine"}, headers=person.headers)

    r = client.get("/v1/me/export", headers=person.headers)
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"] and r.headers["cache-control"] == "no-store"
    doc = r.json()
    assert doc["subject"]["person_id"] == person.person_id and doc["subject"]["name"] == "张伟"
    sources = [(v["furnisher"], v["name"], v["differs"]) for v in doc["identity_sources"]]
    assert sources == [("Platform One", "张伟", False)]
    assert len(doc["records"]["loan"]) == 3  # every monthly snapshot, not only the latest
    assert sorted(c["month"] for c in doc["records"]["consumption"]) == months
    assert [q["lender"]["name"] for q in doc["inquiries"]] == ["First Bank"]
    assert [d["account_id"] for d in doc["disputes"]] == ["ACC-SECOND"]
    assert [a["lender"]["name"] for a in doc["authorizations"]] == ["First Bank"]
    assert {p["record_type"] for p in doc["processing"]} == {"loan", "consumption"}
    assert [r["name"] for r in doc["recipients"]] == ["First Bank"] and doc["recipients"][0]["reports"] == 1
    assert [s["name"] for s in doc["sources"]] == ["Platform One"]

    text = r.text
    for foreign in (other.person_id, "王芳", "ACC-000002", resident_id(2)):
        assert foreign not in text
    # The export is itself logged, token-level.
    sequence_all(runtime.engine)
    kinds = [a["kind"] for a in client.get("/v1/me/accesses", headers=person.headers).json()["accesses"]]
    assert "rights.export" in kinds


ME_ROUTES = [
    ("GET", "/v1/me/report"), ("GET", "/v1/me/accesses"), ("GET", "/v1/me/export"), ("GET", "/v1/me/self-queries"),
    ("GET", "/v1/me/disputes"), ("POST", "/v1/me/disputes"), ("GET", "/v1/me/disputes/{dispute}"),
    ("POST", "/v1/me/disputes/{dispute}/withdraw"), ("GET", "/v1/me/statements"), ("POST", "/v1/me/statements"),
    ("GET", "/v1/me/receipts"), ("GET", "/v1/me/receipts/0"), ("GET", "/v1/me/notifications"),
    ("GET", "/v1/me/webhook"), ("PUT", "/v1/me/webhook"), ("DELETE", "/v1/me/webhook"),
]  # fmt: skip


def test_one_persons_key_never_reads_another_persons_data(client, bureau, parties, runtime):
    person = bureau.person(1, loan(1, negative_notice_ref="N1", days_past_due=40, overdue_fen=100, status="overdue"))
    intruder = bureau.person(2)
    dispute = client.post("/v1/me/disputes", json={"account_id": "ACC-000001", "reason": "wrong"},
                          headers=person.headers).json()  # fmt: skip
    sequence_all(runtime.engine)

    mine = client.get("/v1/me/report", headers=intruder.headers).json()["report"]
    assert [a["account_id"] for a in mine["accounts"]] == ["ACC-000002"]
    assert client.get(f"/v1/me/disputes/{dispute['id']}", headers=intruder.headers).status_code == 404
    assert client.post(f"/v1/me/disputes/{dispute['id']}/withdraw", headers=intruder.headers).status_code == 404
    assert client.get("/v1/me/disputes", headers=intruder.headers).json()["disputes"] == []
    r = client.post("/v1/me/disputes", json={"account_id": "ACC-000001", "reason": "x"}, headers=intruder.headers)
    assert r.status_code == 404
    exported = client.get("/v1/me/export", headers=intruder.headers).text
    assert "ACC-000001" not in exported and person.person_id not in exported
    accessed = client.get("/v1/me/accesses", headers=intruder.headers).json()["accesses"]
    assert all(dispute["id"] not in a["receipt"]["leaf"] for a in accessed)
    receipts = client.get("/v1/me/receipts", headers=person.headers).json()["receipts"]
    theirs = receipts[0]["leaf_index"]
    assert client.get(f"/v1/me/receipts/{theirs}", headers=intruder.headers).status_code == 404

    # Every other role is refused on every /v1/me route.
    others = [parties.add(role)[1] for role in ("agency", "furnisher", "lender", "regulator", "overseer")]
    others.append(parties.add("agency", "staff member", staff=True)[1])
    for headers in others:
        for method, path in ME_ROUTES:
            r = client.request(method, path.format(dispute=dispute["id"]), headers=headers, json={})
            assert r.status_code == 403 and r.json()["code"] == "forbidden_role", (method, path, r.text)
