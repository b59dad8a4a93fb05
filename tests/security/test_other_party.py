"""Issue 15, the matrix's last column: the key of another party of the same role. A route that
admits a role must still keep one party's objects from another of that role: person B cannot
read or change person A's authorization, dispute, statement or receipt; bank B cannot read bank
A's inquiry or acknowledge its correction notice; platform B cannot read platform A's batch,
answer its dispute or its supervision order. Each object is made through the API by its owner,
who can reach it; the other party gets 404 (it is not told the object exists) and changes
nothing. Every route of the route table that takes an object id is covered, or named below as
one where the object is not owned by a party of a shared role."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.bureau import Bureau
from tests.records import loan
from tests.security.test_matrix import api_routes
from zhengxin.kit import clock

OVERDUE = {"negative_notice_ref": "NTC-1", "days_past_due": 45, "overdue_fen": 50000, "status": "overdue",
           "payment_history": "2N" + "N" * 18 + "####"}  # fmt: skip

# Routes with an id whose object belongs to no party of a role with several members: the agency's
# desk, the regulator's decisions, the published scoring models and the agency's own registers.
NOT_PARTY_OWNED = {
    "DELETE /v1/parties/keys/{key_id}", "POST /v1/parties/{party_id}/keys",
    "DELETE /v1/supervision/shareholders/{shareholder_id}", "PATCH /v1/supervision/shareholders/{shareholder_id}",
    "GET /v1/complaints/{complaint_id}", "POST /v1/complaints/{complaint_id}/answer",
    "GET /v1/disputes/{dispute_id}", "POST /v1/disputes/{dispute_id}/decision",
    "GET /v1/scoring/models/{version}", "GET /v1/scoring/models/{version}/card.html",
    "GET /v1/scoring/models/{version}/monitoring", "DELETE /v1/federation/members/{uscc}",
    "POST /v1/scoring/models/{version}/activation", "PUT /v1/billing/tiers/{lender}",
    "GET /v1/supervision/app-reviews/{review_id}", "POST /v1/supervision/app-reviews/{review_id}/rectification",
    "POST /v1/supervision/orders/{order_id}/close", "POST /v1/transfers/{transfer_id}/decision",
}  # fmt: skip


@pytest.fixture
def world(client, parties):
    """Two persons, two banks, two platforms, each owning objects made through the API."""
    bureau = Bureau(client, parties)
    _, other_platform = parties.add("furnisher", "Platform Two")
    _, staff = parties.add("agency", "Li Na (disputes desk)", staff=True)
    _, regulator = parties.add("regulator", "PBOC")
    first, second = bureau.lender("First Bank", 1), bureau.lender("Second Bank", 2)
    person = bureau.person(1, loan(1, **OVERDUE))
    intruder = bureau.person(2)

    grant = bureau.grant(person, first)
    inquiry = bureau.inquire(first, person, grant["id"])
    assert inquiry.status_code == 201, inquiry.text
    dispute = client.post("/v1/me/disputes", json={"account_id": "ACC-000001", "reason": "I repaid on time"},
                          headers=person.headers).json()  # fmt: skip
    batch = bureau.furnish([loan(1, days_past_due=0, overdue_fen=0, status="current", payment_history="N" * 24)])
    r = client.post(f"/v1/furnishing/disputes/{dispute['id']}/answer",
                    json={"action": "correction", "batch_id": batch["id"], "note": "fixed"},
                    headers=bureau.platform)  # fmt: skip
    assert r.status_code == 200, r.text
    statement = client.post("/v1/me/statements", json={"account_id": "ACC-000001", "text": "I was in hospital"},
                            headers=person.headers)  # fmt: skip
    assert statement.status_code == 201, statement.text
    order = client.post("/v1/supervision/orders", headers=regulator, json={
        "furnisher": "Platform One", "kind": "rectification", "reason": "late furnishing", "rule": "CR-16",
        "due_on": (clock.today() + timedelta(days=10)).isoformat()})  # fmt: skip
    assert order.status_code == 201, order.text
    transfer = client.post("/v1/transfers", headers=bureau.platform, json={
        "destination": "SG", "recipient": "Acme Analytics Pte. Ltd.", "record_types": ["consumption"],
        "persons": 10, "sensitive_persons": 0, "data_grade": "general", "separate_consent": True})  # fmt: skip
    assert transfer.status_code == 201, transfer.text
    alert = client.post("/v1/me/fraud-alerts", json={}, headers=person.headers)
    assert alert.status_code == 201, alert.text
    from zhengxin.audit.service import sequence_all

    sequence_all(client.app.state.runtime.engine)
    receipts = client.get("/v1/me/receipts", headers=person.headers).json()["receipts"]
    ids = {
        "authorization_id": grant["id"], "inquiry_id": inquiry.json()["inquiry_id"], "dispute_id": dispute["id"],
        "batch_id": batch["id"], "statement_id": statement.json()["id"], "leaf_index": receipts[0]["leaf_index"],
        "order_id": order.json()["id"], "transfer_id": transfer.json()["id"], "alert_id": alert.json()["id"],
    }  # fmt: skip
    owners = {"individual": person.headers, "lender": first.headers, "furnisher": bureau.platform}
    others = {"individual": intruder.headers, "lender": second.headers, "furnisher": other_platform}
    return ids, owners, others


# What each party-owned route is tried with: (role, body). Reads first, so the owner still has the
# object when it is read; the owner is tried after the other party, on the same object.
CASES = {
    "GET /v1/authorizations/{authorization_id}": [("individual", None), ("lender", None)],
    "DELETE /v1/authorizations/{authorization_id}": [("individual", None)],
    "GET /v1/inquiries/{inquiry_id}": [("lender", None)],
    "GET /v1/me/disputes/{dispute_id}": [("individual", None)],
    "POST /v1/me/disputes/{dispute_id}/withdraw": [("individual", {})],
    "POST /v1/me/fraud-alerts/{alert_id}/lift": [("individual", None)],
    "POST /v1/corrections/{dispute_id}/{inquiry_id}/acknowledge": [("lender", {})],
    "POST /v1/furnishing/disputes/{dispute_id}/answer": [("furnisher", {"action": "verification"})],
    "GET /v1/furnishing/batches/{batch_id}": [("furnisher", None)],
    "GET /v1/furnishing/batches/{batch_id}/errors": [("furnisher", None)],
    "DELETE /v1/me/statements/{statement_id}": [("individual", None)],
    "GET /v1/me/receipts/{leaf_index}": [("individual", None)],
    "GET /v1/supervision/orders/{order_id}": [("furnisher", None)],
    "POST /v1/supervision/orders/{order_id}/response": [("furnisher", {"summary": "done"})],
    "GET /v1/transfers/{transfer_id}": [("furnisher", None)],
    "GET /v1/transfers/{transfer_id}/export": [("furnisher", None)],
    "POST /v1/transfers/{transfer_id}/export": [("furnisher", {})],
}


def test_every_route_with_an_object_id_is_covered(runtime):
    from zhengxin.app import create_app

    with_ids = {f"{m} {p}" for m, p, _ in api_routes(create_app(runtime=runtime)) if "{" in p}
    with_ids -= {"DELETE /v1/me/withdrawals/{record_type}"}  # a record type, not an object: the person's own
    assert with_ids == set(CASES) | NOT_PARTY_OWNED


def test_another_party_of_the_same_role_gets_404_and_the_owner_gets_through(client, world):
    ids, owners, others = world
    failures = []
    for route, tries in CASES.items():
        method, path = route.split(" ")
        url = path.format(**ids)
        for role, body in tries:
            kwargs = {"json": body} if body is not None else {}
            r = client.request(method, url, headers=others[role], **kwargs)
            if r.status_code != 404:
                failures.append((route, role, "other party", r.status_code, r.text[:120]))
            r = client.request(method, url, headers=owners[role], **kwargs)
            # The owner reaches it: a success, or a refusal about the object's state (an export
            # not made yet is its own 404, export_not_found).
            reached = r.status_code not in (401, 403, 404) or r.json().get("code") == "export_not_found"
            if not reached or r.status_code >= 500:
                failures.append((route, role, "owner", r.status_code, r.text[:120]))
    assert failures == [], failures
