"""Withdrawing consent to a record type (PIPL-15, PIPL-47): erased at once, gone from reports,
refused at intake until lifted; loan is kept by law; only the person, only their own; on both
databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.bureau import Bureau
from tests.catalog.test_catalog import TELECOM
from tests.conftest import Parties, _empty_all_tables, make_settings
from tests.records import CONTENT_TYPES, ENCODERS, consumption, loan, resident_id, travel
from zhengxin.app import create_app
from zhengxin.audit.service import sequence_all
from zhengxin.audit.tables import log_leaves
from zhengxin.catalog.model import DEFAULT_PATH
from zhengxin.identity.resident_id import validate
from zhengxin.identity.tokens import person_token
from zhengxin.kit import clock
from zhengxin.records.tables import consumption_summaries, generic_records, travel_summaries
from zhengxin.runtime import Runtime

TODAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def bureau(client, parties) -> Bureau:
    with clock.frozen_at(TODAY):
        yield Bureau(client, parties)


def stored(runtime, table, person_id: str) -> int:
    token = person_token(runtime.pepper, validate(person_id))
    with runtime.engine.connect() as conn:
        return conn.execute(select(func.count()).where(table.c.person_token == token)).scalar_one()


def furnish(bureau: Bureau, records: list[dict], key: str) -> dict:
    r = bureau.client.post(
        "/v1/furnishing/batches",
        content=ENCODERS["jsonl"](records),
        headers={**bureau.platform, "Content-Type": CONTENT_TYPES["jsonl"], "Idempotency-Key": key},
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_a_withdrawal_erases_at_once_and_the_next_report_shows_no_travel(client, runtime, bureau):
    bank = bureau.lender("Bank A", 1)
    with clock.frozen_at(TODAY):
        person = bureau.person(1, loan(1), travel(1), travel(1, month="2026-09"), consumption(1))
        granted = bureau.grant(person, bank, scopes=["loan", "travel"], separate_consent=True)
        assert stored(runtime, travel_summaries, person.person_id) == 2
        r = client.post("/v1/me/withdrawals", json={"record_type": "travel"}, headers=person.headers)
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["record_type"], body["erased"]) == ("travel", 2) and body["withdrawn_at"]
        assert stored(runtime, travel_summaries, person.person_id) == 0
        assert stored(runtime, consumption_summaries, person.person_id) == 1  # other types untouched
        report = bureau.inquire(bank, person, granted["id"])
        assert report.status_code == 201, report.text
        travel_section = report.json()["report"]["travel"]
        assert travel_section["months"] == [] and travel_section["total_trips"] == 0
        assert report.json()["report"]["accounts"]  # the loan is still there

        again = client.post("/v1/me/withdrawals", json={"record_type": "travel"}, headers=person.headers)
        assert again.status_code == 200 and again.json()["erased"] == 0
        assert again.json()["withdrawn_at"] == body["withdrawn_at"]


def test_intake_refuses_a_withdrawn_type_for_that_person_until_it_is_lifted(client, runtime, bureau):
    with clock.frozen_at(TODAY):
        person = bureau.person(1, loan(1), travel(1))
        assert (
            client.post("/v1/me/withdrawals", json={"record_type": "travel"}, headers=person.headers).status_code == 201
        )
        batch = furnish(bureau, [travel(1, month="2026-09"), travel(2), consumption(1)], "after-withdrawal")
        assert (batch["received"], batch["accepted"], batch["rejected"]) == (3, 2, 1)
        errors = client.get(f"/v1/furnishing/batches/{batch['id']}/errors", headers=bureau.platform).json()
        (error,) = errors["errors"]
        assert (error["line"], error["record_type"], error["code"], error["rule"]) == (1, "travel", "consent_withdrawn",
                                                                                      "PIPL-15")  # fmt: skip
        assert errors["by_code"] == {"consent_withdrawn": 1}
        assert stored(runtime, travel_summaries, person.person_id) == 0

        listed = client.get("/v1/me/withdrawals", headers=person.headers).json()
        assert [w["record_type"] for w in listed] == ["travel"]
        lifted = client.delete("/v1/me/withdrawals/travel", headers=person.headers)
        assert lifted.status_code == 200 and lifted.json()["lifted_at"]
        assert client.get("/v1/me/withdrawals", headers=person.headers).json() == []
        batch = furnish(bureau, [travel(1, month="2026-09")], "after-lifting")
        assert (batch["accepted"], batch["rejected"]) == (1, 0)
        assert stored(runtime, travel_summaries, person.person_id) == 1
        assert client.delete("/v1/me/withdrawals/travel", headers=person.headers).json()["code"] == (
            "withdrawal_not_found"
        )

    sequence_all(runtime.engine)
    with runtime.engine.connect() as conn:
        leaves = conn.execute(
            select(log_leaves.c.kind, log_leaves.c.person_token, log_leaves.c.leaf).where(
                log_leaves.c.kind.in_(["consent.withdrawn", "consent.withdrawal_lifted"])
            )
        ).all()
    token = person_token(runtime.pepper, validate(person.person_id))
    assert [(leaf.kind, leaf.person_token) for leaf in leaves] == [
        ("consent.withdrawn", token),
        ("consent.withdrawal_lifted", token),
    ]
    withdrawn = json.loads(leaves[0].leaf)
    assert (withdrawn["record_type"], withdrawn["erased"], withdrawn["rules"]) == ("travel", 1, ["PIPL-15", "PIPL-47"])
    assert person.person_id not in leaves[0].leaf


def test_consumption_can_be_withdrawn_and_loan_is_refused_with_the_rules_that_keep_it(client, runtime, bureau):
    with clock.frozen_at(TODAY):
        person = bureau.person(1, loan(1), consumption(1))
        refused = client.post("/v1/me/withdrawals", json={"record_type": "loan"}, headers=person.headers)
        assert refused.status_code == 403  # a policy deny
        problem = refused.json()
        assert (problem["code"], problem["rule"]) == ("credit_record_kept_by_law", "CR-16")
        assert problem["rules"] == ["CR-16"] and problem["decision_id"]  # decided by the policy, and recorded
        unknown = client.post("/v1/me/withdrawals", json={"record_type": "religion"}, headers=person.headers)
        assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_record_type")
        assert client.get("/v1/me/withdrawals", headers=person.headers).json() == []
        r = client.post("/v1/me/withdrawals", json={"record_type": "consumption"}, headers=person.headers)
        assert r.status_code == 201 and r.json()["erased"] == 1
        assert stored(runtime, consumption_summaries, person.person_id) == 0


def test_only_the_person_withdraws_and_only_their_own(client, runtime, bureau, parties):
    bank = bureau.lender("Bank A", 1)
    _, regulator = parties.add("regulator", "PBOC")
    with clock.frozen_at(TODAY):
        one = bureau.person(1, loan(1), travel(1))
        two = bureau.person(2, loan(2), travel(2))
        for headers in (bank.headers, bureau.platform, bureau.agency, regulator):
            for r in (
                client.post("/v1/me/withdrawals", json={"record_type": "travel"}, headers=headers),
                client.get("/v1/me/withdrawals", headers=headers),
                client.delete("/v1/me/withdrawals/travel", headers=headers),
            ):
                assert (r.status_code, r.json()["code"]) == (403, "forbidden_role")
        assert client.post("/v1/me/withdrawals", json={"record_type": "travel"}, headers=one.headers).status_code == 201
        assert stored(runtime, travel_summaries, one.person_id) == 0
        assert stored(runtime, travel_summaries, two.person_id) == 1  # someone else's records stay
        assert client.get("/v1/me/withdrawals", headers=two.headers).json() == []
        assert client.delete("/v1/me/withdrawals/travel", headers=two.headers).status_code == 404
        assert [w["record_type"] for w in client.get("/v1/me/withdrawals", headers=one.headers).json()] == ["travel"]
        batch = furnish(bureau, [travel(2, month="2026-09")], "two")
        assert batch["accepted"] == 1  # person two never withdrew


def test_a_catalog_onboarded_type_can_be_withdrawn(tmp_path, db_url):
    path = tmp_path / "catalog.toml"
    path.write_text(DEFAULT_PATH.read_text() + TELECOM)
    runtime = Runtime(make_settings(db_url, catalog_path=path))
    _empty_all_tables(runtime.engine)
    bill = {"record_type": "telecom_bill", "person_id": resident_id(8), "name": "周杰", "consent_ref": "C-1",
            "as_of": "2026-10-31", "month": "2026-10", "billed_fen": 8800, "paid_on_time": "yes"}  # fmt: skip
    try:
        with clock.frozen_at(TODAY), TestClient(create_app(runtime=runtime)) as client:
            bureau = Bureau(client, Parties(runtime))
            person = bureau.person(8, loan(8), bill)
            r = client.post("/v1/me/withdrawals", json={"record_type": "telecom_bill"}, headers=person.headers)
            assert r.status_code == 201 and r.json()["erased"] == 1
            batch = furnish(bureau, [{**bill, "month": "2026-09"}], "bill")
            assert (batch["accepted"], batch["rejected"]) == (0, 1)
        with runtime.engine.connect() as conn:
            assert conn.execute(select(generic_records)).first() is None
    finally:
        runtime.engine.dispose()
