"""Inquiries through HTTP on both databases: the allowed path, every kind of denial with its
rule and no charge, fair use, the inquiry in the next report, logging, and concurrency."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.bureau import Bureau
from tests.records import consumption, loan, travel
from zhengxin.audit.service import sequence_all
from zhengxin.audit.tables import log_leaves
from zhengxin.billing.tables import charges, shares
from zhengxin.decisions.tables import policy_decisions
from zhengxin.inquiries.tables import inquiries, inquiry_sources
from zhengxin.kit import clock


@pytest.fixture
def bureau(client, parties) -> Bureau:
    return Bureau(client, parties)


def count(runtime, table, *where) -> int:
    with runtime.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_an_authorized_inquiry_returns_the_report_and_is_recorded_charged_and_logged(client, runtime, bureau):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1, loan(1), consumption(1))
    granted = bureau.grant(person, bank, scopes=["loan"])
    r = bureau.inquire(bank, person, granted["id"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["fee_fen"] == 500 and body["decision"]["rules"] == ["CR-18"]
    assert r.headers["Location"] == f"/v1/inquiries/{body['inquiry_id']}"
    report = body["report"]
    assert report["header"]["inquiry"]["inquiry_id"] == body["inquiry_id"]
    assert [a["account_id"] for a in report["accounts"]] == ["ACC-000001"]
    assert report["consumption"] is None  # outside the authorization's scope
    assert report["identity"]["resident_id"] == person.person_id[:6] + "********" + person.person_id[-4:]

    listed = client.get("/v1/inquiries", headers=bank.headers).json()
    assert [(i["inquiry_id"], i["fee_fen"], i["purpose"]) for i in listed] == [
        (body["inquiry_id"], 500, "loan_application")
    ]
    assert client.get(f"/v1/inquiries/{body['inquiry_id']}", headers=bank.headers).status_code == 200
    other = bureau.lender("Bank B", 2)
    assert client.get(f"/v1/inquiries/{body['inquiry_id']}", headers=other.headers).status_code == 404
    assert client.get("/v1/inquiries", headers=other.headers).json() == []
    assert count(runtime, charges) == 1 and count(runtime, inquiry_sources) == 1

    sequence_all(runtime.engine)
    with runtime.engine.connect() as conn:
        leaf = json.loads(conn.execute(select(log_leaves.c.leaf).where(log_leaves.c.kind == "inquiry")).scalar_one())
    assert leaf["inquiry"] == body["inquiry_id"] and leaf["fee_fen"] == 500 and leaf["purpose"] == "loan_application"
    assert leaf["decision"] == {"id": body["decision"]["decision_id"], "revision": runtime.policy.revision,
                                "allowed": True, "rules": ["CR-18"]}  # fmt: skip
    assert leaf["actor"] == {"party": bank.id, "role": "lender"}
    assert person.person_id not in json.dumps(leaf)


def _no_authorization(bureau, bank, person):
    return bureau.inquire(bank, person, "auth_does_not_exist")


def _another_lenders_authorization(bureau, bank, person):
    granted = bureau.grant(person, bureau.lender("Bank B", 2))
    return bureau.inquire(bank, person, granted["id"])


def _another_persons_authorization(bureau, bank, person):
    someone = bureau.person(7)
    granted = bureau.grant(someone, bank)
    return bureau.inquire(bank, person, granted["id"])


def _wrong_purpose(bureau, bank, person):
    granted = bureau.grant(person, bank, purpose="loan_application")
    return bureau.inquire(bank, person, granted["id"], purpose="credit_card_application")


def _expired(bureau, bank, person):
    granted = bureau.grant(person, bank, expires_on=str(clock.today()))
    with clock.frozen_at(clock.now() + timedelta(days=1)):
        return bureau.inquire(bank, person, granted["id"])


def _revoked(bureau, bank, person):
    granted = bureau.grant(person, bank)
    assert bureau.client.delete(f"/v1/authorizations/{granted['id']}", headers=person.headers).status_code == 200
    return bureau.inquire(bank, person, granted["id"])


def _outside_scope(bureau, bank, person):
    granted = bureau.grant(person, bank, scopes=["loan"])
    return bureau.inquire(bank, person, granted["id"], scopes=["loan", "travel"])


def _post_loan_after_the_account_closed(bureau, bank, person):
    granted = bureau.grant(person, bank, purpose="post_loan_management")
    first = bureau.inquire(bank, person, granted["id"], purpose="post_loan_management")
    assert first.status_code == 201, first.text  # while the co-lent account is open
    closed = loan(person.n, as_of="2026-11-20", co_lender_uscc=bank.uscc, status="closed", balance_fen=0,
                  closed_on="2026-11-15", payment_history="C" + "N" * 19 + "####")  # fmt: skip
    bureau.furnish([closed])
    with clock.frozen_at(clock.now() + timedelta(days=31)):  # a new fair-use window: only the closure stops it
        return bureau.inquire(bank, person, granted["id"], purpose="post_loan_management")


def _fair_use_used_up(bureau, bank, person):
    granted = bureau.grant(person, bank)
    assert bureau.inquire(bank, person, granted["id"]).status_code == 201
    return bureau.inquire(bank, person, granted["id"])


DENIALS = [
    (_no_authorization, "CR-18", "authorization_missing", 0),
    (_another_lenders_authorization, "CR-18", "authorization_not_yours", 0),
    (_another_persons_authorization, "CR-18", "authorization_not_yours", 0),
    (_wrong_purpose, "CR-18", "purpose_not_authorized", 0),
    (_expired, "CR-18", "authorization_expired", 0),
    (_revoked, "PIPL-15", "authorization_revoked", 0),
    (_outside_scope, "CR-18", "scope_not_authorized", 0),
    (_post_loan_after_the_account_closed, "CR-18", "no_open_account", 1),
    (_fair_use_used_up, "CR-18", "fair_use_exceeded", 1),
]


@pytest.mark.parametrize(("scenario", "rule", "code", "allowed_before"), DENIALS, ids=[d[0].__name__ for d in DENIALS])
def test_each_denial_names_its_rule_and_charges_nothing(client, runtime, bureau, scenario, rule, code, allowed_before):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1, loan(1, co_lender_uscc=bank.uscc, platform_share=0.4))
    r = scenario(bureau, bank, person)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert (problem["code"], problem["rule"]) == (code, rule)
    assert rule in problem["rules"] and problem["policy_revision"] == runtime.policy.revision
    # Nothing charged or recorded as an inquiry beyond what was allowed before the denial ...
    assert count(runtime, inquiries) == count(runtime, charges) == allowed_before
    assert sum(i["total_fen"] for i in bureau.invoices(bank)) == 500 * allowed_before
    # ... but the denial itself is kept, with its rules, and logged.
    with runtime.engine.connect() as conn:
        row = conn.execute(select(policy_decisions).where(policy_decisions.c.id == problem["decision_id"])).one()
    assert (row.allowed, row.code, row.rules, row.action) == (False, code, problem["rules"], "inquire")
    sequence_all(runtime.engine)
    with runtime.engine.connect() as conn:
        denied = [json.loads(x) for x in conn.execute(
            select(log_leaves.c.leaf).where(log_leaves.c.kind == "inquiry.denied")).scalars()]  # fmt: skip
    assert [d["decision"]["id"] for d in denied] == [problem["decision_id"]]


def test_post_loan_management_needs_an_open_account_with_this_lender(client, bureau):
    bank, other = bureau.lender("Bank A", 1), bureau.lender("Bank B", 2)
    person = bureau.person(1, loan(1, co_lender_uscc=other.uscc, platform_share=0.4))
    granted = bureau.grant(person, bank, purpose="post_loan_management")
    r = bureau.inquire(bank, person, granted["id"], purpose="post_loan_management")
    assert (r.status_code, r.json()["code"]) == (403, "no_open_account")


def test_post_loan_monitoring_allows_one_report_per_window(client, bureau):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1, loan(1, co_lender_uscc=bank.uscc, platform_share=0.4))
    granted = bureau.grant(
        person, bank, purpose="post_loan_management", expires_on=str(clock.today() + timedelta(days=200))
    )
    ask = lambda: bureau.inquire(bank, person, granted["id"], purpose="post_loan_management")  # noqa: E731
    assert ask().status_code == 201
    with clock.frozen_at(clock.now() + timedelta(days=29)):
        assert ask().json()["code"] == "fair_use_exceeded"
    with clock.frozen_at(clock.now() + timedelta(days=31)):
        assert ask().status_code == 201
        assert ask().json()["code"] == "fair_use_exceeded"


def test_bad_requests_are_refused_before_any_decision(client, runtime, bureau):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    granted = bureau.grant(person, bank)
    wrong = person.person_id[:-1] + ("0" if person.person_id[-1] != "0" else "1")
    r = bureau.inquire(bank, person, granted["id"], person_id=wrong)
    assert (r.status_code, r.json()["code"]) == (422, "resident_id_checksum")
    r = bureau.inquire(bank, person, granted["id"], product="score")
    assert (r.status_code, r.json()["code"]) == (409, "product_unavailable")
    r = client.post("/v1/inquiries", json={"person_id": person.person_id, "authorization_id": granted["id"],
                                           "purpose": "loan_application", "product": "report"},
                    headers=bureau.platform)  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (403, "forbidden_role")
    assert count(runtime, policy_decisions, policy_decisions.c.action == "inquire") == 0
    assert count(runtime, charges) == 0


def test_the_inquiry_appears_in_the_persons_next_report_coded_for_other_lenders(client, bureau):
    bank_a, bank_b = bureau.lender("Bank A", 1), bureau.lender("Bank B", 2)
    person = bureau.person(1)
    first = bureau.inquire(bank_a, person, bureau.grant(person, bank_a)["id"]).json()
    assert first["report"]["inquiry_records"] == []  # a report does not list the inquiry it answers
    second = bureau.inquire(bank_b, person, bureau.grant(person, bank_b)["id"]).json()
    records = second["report"]["inquiry_records"]
    assert len(records) == 1 and records[0]["purpose"] == "loan_application"
    assert records[0]["institution"]["name"] is None  # RPT-2: Bank B sees Bank A coded
    assert second["report"]["multi_platform"]["inquiries"] == {"last_1m": 1, "last_3m": 1, "last_6m": 1}
    third = bureau.inquire(bank_a, person, bureau.grant(person, bank_a, purpose="guarantee_review")["id"],
                           purpose="guarantee_review").json()  # fmt: skip
    names = [r["institution"]["name"] for r in third["report"]["inquiry_records"]]
    codes = [r["institution"]["code"] for r in third["report"]["inquiry_records"]]
    assert names == [None, "Bank A"]  # newest first: Bank B coded, itself named
    assert codes[1] == records[0]["institution"]["code"]  # the same code in every report


def test_the_report_shows_consumption_and_travel_only_within_scope(client, bureau):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1, loan(1), consumption(1), consumption(1, category="dining", amount_fen=5000, orders=2),
                           travel(1))  # fmt: skip
    narrow = bureau.inquire(bank, person, bureau.grant(person, bank)["id"]).json()["report"]
    assert narrow["consumption"] is None and narrow["travel"] is None and narrow["header"]["scope"] == ["loan"]
    wide = bureau.grant(person, bank, purpose="credit_card_application", scopes=["loan", "consumption", "travel"],
                        separate_consent=True)  # fmt: skip
    report = bureau.inquire(bank, person, wide["id"], purpose="credit_card_application").json()["report"]
    assert report["consumption"]["total_fen"] == 123456 + 5000
    assert [c["category"] for c in report["consumption"]["by_category"]] == ["groceries", "dining"]
    assert report["travel"]["months"] == [{"month": "2026-10", "trips": 3, "cities": 2}]


def test_concurrent_uses_of_a_single_use_authorization_allow_exactly_one(client, runtime, bureau):
    from zhengxin.inquiries.flows import inquire
    from zhengxin.kit.errors import Problem
    from zhengxin.parties.service import Actor

    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    granted = bureau.grant(person, bank)
    actor = Actor(bank.id, "lender", bank.name)
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def one() -> None:
        start.wait()
        try:
            with runtime.transaction() as conn:
                inquire(conn, runtime, actor, person_id=person.person_id, authorization_id=granted["id"],
                        purpose="loan_application", product="report")  # fmt: skip
            outcomes.append("allowed")
        except Problem as p:
            outcomes.append(p.code)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["allowed"] + ["fair_use_exceeded"] * 3
    assert count(runtime, charges) == 1


def test_billing_shares_follow_the_records_each_furnisher_contributed(client, runtime, bureau, parties):
    bank = bureau.lender("Bank A", 1)
    _, second_platform = parties.add("furnisher", "Platform Two")
    person = bureau.person(1, loan(1), consumption(1))
    bureau.furnish([loan(1, account_id="TWO-1"), loan(1, account_id="TWO-2")], headers=second_platform)
    granted = bureau.grant(person, bank, purpose="credit_card_application", scopes=["loan", "consumption"])
    assert bureau.inquire(bank, person, granted["id"], purpose="credit_card_application").status_code == 201
    with runtime.engine.connect() as conn:
        parts = {r.furnisher_id: (r.records, r.share_fen) for r in conn.execute(select(shares))}
    names = {p["id"]: p["name"] for p in client.get("/v1/parties", headers=bureau.agency).json()}
    # 30% of 500 fen is 150 fen: Platform One gave a loan and a consumption summary, Platform
    # Two two loans, so 75 fen each.
    assert {names[f]: v for f, v in parts.items()} == {"Platform One": (2, 75), "Platform Two": (2, 75)}


def test_a_lender_reads_its_own_log_leaves_and_only_hashes_of_the_others(client, runtime, bureau, parties):
    from zhengxin.audit import merkle

    bank_a, bank_b = bureau.lender("Bank A", 1), bureau.lender("Bank B", 2)
    person = bureau.person(1)
    bureau.inquire(bank_a, person, bureau.grant(person, bank_a)["id"])
    bureau.inquire(bank_b, person, bureau.grant(person, bank_b, purpose="guarantee_review")["id"],
                   purpose="guarantee_review")  # fmt: skip
    _, regulator = parties.add("regulator", "PBOC")
    head = client.post("/v1/log/sth", headers=bureau.agency).json()

    def kinds(headers) -> list[str | None]:
        got = client.get("/v1/log/entries", params={"start": 0, "end": head["tree_size"]}, headers=headers).json()
        hashes = [bytes.fromhex(e["leaf_hash"]) if e["leaf"] is None else merkle.leaf_hash(e["leaf"].encode())
                  for e in got["entries"]]  # fmt: skip
        assert merkle.root(hashes).hex() == head["root_hash"]  # everyone can still check the tree
        return [json.loads(e["leaf"])["actor"]["party"] if e["leaf"] else None for e in got["entries"]]

    assert set(kinds(regulator)) >= {bank_a.id, bank_b.id}
    seen_by_a = kinds(bank_a.headers)
    assert bank_a.id in seen_by_a and bank_b.id not in seen_by_a and None in seen_by_a
    assert set(kinds(bank_b.headers)) == {bank_b.id, None}
