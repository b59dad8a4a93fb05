"""A dispute's life through the public surface: the person objects, every report flags the
record at once, the furnisher corrects it, lenders that received the old record are listed
for notice, a member of staff decides; and a dispute nobody answers escalates past its day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.bureau import Bureau
from tests.records import loan
from zhengxin.kit import clock

OVERDUE = {
    "negative_notice_ref": "NTC-1",
    "days_past_due": 45,
    "overdue_fen": 50000,
    "status": "overdue",
    "payment_history": "2N" + "N" * 18 + "####",
}
CORRECTED = {"days_past_due": 0, "overdue_fen": 0, "status": "current", "payment_history": "N" * 20 + "####"}


@pytest.fixture
def bureau(client, parties):
    return Bureau(client, parties)


@pytest.fixture
def staff(parties):
    _, headers = parties.add("agency", "Li Na (disputes desk)", staff=True)
    return headers


def my_report(client, person) -> dict:
    r = client.get("/v1/me/report", headers=person.headers)
    assert r.status_code == 200, r.text
    return r.json()["report"]


def lender_report(bureau, lender, person) -> dict:
    grant = bureau.grant(person, lender)
    r = bureau.inquire(lender, person, grant["id"])
    assert r.status_code == 201, r.text
    return r.json()["report"]


def open_dispute(client, person, account_id="ACC-000001", **body):
    return client.post("/v1/me/disputes", json={"account_id": account_id, "reason": "I repaid on time", **body},
                       headers=person.headers)  # fmt: skip


def test_a_corrected_dispute_from_objection_to_close(client, bureau, staff):
    first, second = bureau.lender("First Bank", 1), bureau.lender("Second Bank", 2)
    person = bureau.person(1, loan(1, **OVERDUE))
    lender_report(bureau, first, person)  # received the record before the dispute

    r = open_dispute(client, person)
    assert r.status_code == 201, r.text
    dispute = r.json()
    assert dispute["status"] == "open"
    assert date.fromisoformat(dispute["due_on"]) == clock.today() + timedelta(days=20)  # CR-25

    # Every report flags the record at once: the person's and a lender's.
    for report in (my_report(client, person), lender_report(bureau, second, person)):
        assert report["accounts"][0]["under_dispute"] is True
        assert [o["dispute_id"] for o in report["objections"]] == [dispute["id"]]
        assert report["header"]["objection_note"]

    # The furnisher sees it in its queue, with the reason, and corrects the record.
    queue = client.get("/v1/furnishing/disputes", headers=bureau.platform).json()["disputes"]
    assert [(d["id"], d["account_id"], d["reason"]) for d in queue] == [
        (dispute["id"], "ACC-000001", "I repaid on time")
    ]
    batch = bureau.furnish([loan(1, **CORRECTED)])
    lender_report(bureau, bureau.lender("Third Bank", 3), person)  # got the corrected record: nothing to notice
    r = client.post(f"/v1/furnishing/disputes/{dispute['id']}/answer",
                    json={"action": "correction", "batch_id": batch["id"], "note": "late posting fixed"},
                    headers=bureau.platform)  # fmt: skip
    assert r.status_code == 200, r.text
    assert sorted(n["lender"]["name"] for n in r.json()["lenders_to_notify"]) == ["First Bank", "Second Bank"]

    report = my_report(client, person)
    assert report["accounts"][0]["days_past_due"] == 0 and report["accounts"][0]["under_dispute"] is True

    r = client.post(
        f"/v1/disputes/{dispute['id']}/decision",
        json={"outcome": "corrected", "note": "The platform corrected the record."},
        headers=staff,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed" and r.json()["outcome"] == "corrected"

    report = my_report(client, person)
    assert report["accounts"][0]["under_dispute"] is False and report["objections"] == []
    assert report["header"]["objection_note"] is None
    mine = client.get("/v1/me/disputes", headers=person.headers).json()["disputes"]
    assert mine[0]["answer"] == "The platform corrected the record."
    assert [s["step"] for s in mine[0]["steps"]] == ["opened", "answered", "decided"]
    notices = client.get("/v1/corrections", headers=first.headers).json()["notices"]
    assert [(n["dispute_id"], n["account_id"]) for n in notices] == [(dispute["id"], "ACC-000001")]
    assert client.get("/v1/corrections", headers=bureau.lender("Fourth Bank", 4).headers).json()["notices"] == []


def test_the_twenty_days_count_from_the_day_in_beijing(client, bureau):
    """Issue 18: an objection at 16:30 UTC on 10 June is made on 11 June in Beijing, so its 20
    days end on 1 July; half an hour earlier it was made on 10 June."""
    person = bureau.person(1, loan(1, **OVERDUE), loan(1, account_id="ACC-000002", **OVERDUE))
    with clock.frozen_at(datetime(2026, 6, 10, 15, 59, tzinfo=UTC)):
        before = open_dispute(client, person).json()
    with clock.frozen_at(datetime(2026, 6, 10, 16, 30, tzinfo=UTC)):
        after = open_dispute(client, person, account_id="ACC-000002").json()
    assert (before["due_on"], after["due_on"]) == ("2026-06-30", "2026-07-01")


def test_lenders_beyond_the_notice_window_are_not_listed(client, bureau):
    lender = bureau.lender("Old Bank", 1)
    person = bureau.person(1, loan(1, **OVERDUE))
    with clock.frozen_at(clock.now() - timedelta(days=200)):
        lender_report(bureau, lender, person)
    dispute = open_dispute(client, person).json()
    batch = bureau.furnish([loan(1, **CORRECTED)])
    r = client.post(
        f"/v1/furnishing/disputes/{dispute['id']}/answer",
        json={"action": "correction", "batch_id": batch["id"]},
        headers=bureau.platform,
    )
    assert r.status_code == 200 and r.json()["lenders_to_notify"] == []


def test_verified_and_unconfirmable_outcomes(client, bureau, staff):
    person = bureau.person(1, loan(1, **OVERDUE), loan(1, account_id="ACC-B"))
    verified = open_dispute(client, person).json()
    unknown = open_dispute(client, person, "ACC-B").json()

    r = client.post(f"/v1/disputes/{verified['id']}/decision", json={"outcome": "verified", "note": "x"}, headers=staff)
    assert r.status_code == 409 and r.json()["code"] == "answer_missing"
    r = client.post(
        f"/v1/furnishing/disputes/{verified['id']}/answer", json={"action": "verification"}, headers=bureau.platform
    )
    assert r.status_code == 422 and r.json()["code"] == "evidence_required"
    r = client.post(
        f"/v1/furnishing/disputes/{verified['id']}/answer",
        json={"action": "verification", "evidence_ref": "LEDGER-2026-10"},
        headers=bureau.platform,
    )
    assert r.status_code == 200
    assert client.post(f"/v1/disputes/{verified['id']}/decision", json={"outcome": "verified", "note": "Right."},
                       headers=staff).status_code == 200  # fmt: skip
    assert client.post(f"/v1/disputes/{unknown['id']}/decision",
                       json={"outcome": "unconfirmable", "note": "Neither side could show it."},
                       headers=staff).status_code == 200  # fmt: skip

    report = my_report(client, person)
    # CR-25: a verified record is unflagged; an unconfirmable one keeps the objection beside it.
    assert [(o["account_id"], o["status"]) for o in report["objections"]] == [("ACC-B", "unconfirmable")]
    assert not any(a["under_dispute"] for a in report["accounts"])


def test_staff_reads_need_a_personal_account_and_a_purpose(client, bureau, staff, runtime):
    from zhengxin.audit.service import sequence_all

    person = bureau.person(1, loan(1, **OVERDUE))
    dispute = open_dispute(client, person).json()
    r = client.get(f"/v1/disputes/{dispute['id']}", params={"purpose": "dispute_handling"}, headers=bureau.agency)
    assert r.status_code == 403 and r.json()["code"] == "staff_account_required" and r.json()["rule"] == "CR-22"
    r = client.get(f"/v1/disputes/{dispute['id']}", params={"purpose": "curiosity"}, headers=staff)
    assert r.status_code == 403 and r.json()["code"] == "purpose_not_allowed"
    r = client.get(f"/v1/disputes/{dispute['id']}", params={"purpose": "dispute_handling"}, headers=staff)
    assert r.status_code == 200, r.text
    assert r.json()["reason"] == "I repaid on time" and r.json()["record_history"][0]["days_past_due"] == 45

    sequence_all(runtime.engine)
    accesses = client.get("/v1/me/accesses", headers=person.headers).json()["accesses"]
    reads = [a for a in accesses if a["kind"] == "staff.read"]
    assert len(reads) == 1 and reads[0]["purpose"] == "dispute_handling"
    assert reads[0]["party"]["name"] == "Li Na (disputes desk)"
    assert {a["kind"] for a in accesses} >= {"staff.read.denied", "dispute.opened"}


def test_a_dispute_past_its_due_day_escalates_once_and_the_regulator_sees_it(client, bureau, parties, staff):
    _, regulator = parties.add("regulator", "PBOC")
    person = bureau.person(1, loan(1, **OVERDUE))
    dispute = open_dispute(client, person).json()
    due = date.fromisoformat(dispute["due_on"])

    def escalate_at(instant: datetime) -> int:
        with clock.frozen_at(instant):
            return client.post("/v1/disputes/escalations", headers=bureau.agency).json()["escalated"]

    # The due day is Beijing's (issue 18): it ends at 16:00 UTC, not at midnight UTC.
    assert escalate_at(datetime(due.year, due.month, due.day, 15, 59, 59, tzinfo=UTC)) == 0  # still in time
    assert escalate_at(datetime(due.year, due.month, due.day, 16, 0, tzinfo=UTC)) == 1
    assert escalate_at(datetime(due.year, due.month, due.day, 23, 0, tzinfo=UTC)) == 0  # once

    listed = client.get("/v1/disputes", params={"escalated": "true"}, headers=regulator).json()["disputes"]
    assert [d["id"] for d in listed] == [dispute["id"]]
    assert listed[0]["escalated_at"] and not {"reason", "person_token", "account_id"} & listed[0].keys()
    mine = client.get(f"/v1/me/disputes/{dispute['id']}", headers=person.headers).json()
    assert mine["steps"][-1]["step"] == "escalated"

    # Deciding late is still possible, and recorded as late.
    late = due + timedelta(days=3)
    with clock.frozen_at(datetime(late.year, late.month, late.day, 9, tzinfo=UTC)):
        r = client.post(
            f"/v1/disputes/{dispute['id']}/decision", json={"outcome": "unconfirmable", "note": "Late."}, headers=staff
        )
    assert r.status_code == 200 and r.json()["steps"][-1]["details"]["late"] is True


def test_a_statement_appears_beside_the_record_in_later_reports(client, bureau):
    lender = bureau.lender("First Bank", 1)
    person = bureau.person(1, loan(1, **OVERDUE))
    r = client.post(
        "/v1/me/statements",
        json={"account_id": "ACC-000001", "text": "Hospital stay in August"},
        headers=person.headers,
    )
    assert r.status_code == 201, r.text
    report = lender_report(bureau, lender, person)
    assert report["accounts"][0]["statement"] == "Hospital stay in August"
    assert [s["text"] for s in report["statements"]] == ["Hospital stay in August"]
    client.delete(f"/v1/me/statements/{r.json()['id']}", headers=person.headers)
    assert my_report(client, person)["statements"] == []


def test_bad_disputes_are_refused_with_a_code(client, bureau):
    person = bureau.person(1, loan(1, **OVERDUE))
    other = bureau.person(2)
    assert open_dispute(client, person, "ACC-000002").json()["code"] == "record_not_found"  # someone else's
    assert open_dispute(client, person).status_code == 201
    r = open_dispute(client, person)
    assert r.status_code == 409 and r.json()["code"] == "dispute_exists"
    assert open_dispute(client, person, reason="").status_code == 422
    dispute = client.get("/v1/me/disputes", headers=person.headers).json()["disputes"][0]
    assert client.get(f"/v1/me/disputes/{dispute['id']}", headers=other.headers).status_code == 404
    # A batch that does not hold the disputed account is no correction.
    batch = bureau.furnish([loan(3)])
    r = client.post(
        f"/v1/furnishing/disputes/{dispute['id']}/answer",
        json={"action": "correction", "batch_id": batch["id"]},
        headers=bureau.platform,
    )
    assert r.status_code == 422 and r.json()["code"] == "correction_not_in_batch"
    # Another platform cannot answer it.
    _, rival = bureau.parties.add("furnisher", "Platform Two")
    r = client.post(
        f"/v1/furnishing/disputes/{dispute['id']}/answer",
        json={"action": "verification", "evidence_ref": "X"},
        headers=rival,
    )
    assert r.status_code == 404
    assert client.get("/v1/furnishing/disputes", headers=rival).json()["disputes"] == []


def test_the_background_worker_escalates_and_alerts_the_person(client, bureau, runtime):
    from zhengxin import background

    person = bureau.person(1, loan(1, **OVERDUE))
    dispute = open_dispute(client, person).json()
    late = date.fromisoformat(dispute["due_on"]) + timedelta(days=1)
    with clock.frozen_at(datetime(late.year, late.month, late.day, 8, tzinfo=UTC)):
        background.escalate_disputes(runtime)
        background.escalate_disputes(runtime)
    alerts = client.get("/v1/me/notifications", headers=person.headers).json()
    assert [n["kind"] for n in alerts if n["kind"].startswith("dispute")] == ["dispute.escalated"]
