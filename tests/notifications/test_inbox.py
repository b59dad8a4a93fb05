"""A person's inbox over HTTP on both databases: every inquiry alerts them at once with the
lender named; nobody else sees it; only individuals reach these routes."""

from __future__ import annotations

from tests.records import loan

ROUTES = [
    ("GET", "/v1/me/notifications"),
    ("POST", "/v1/me/notifications/read"),
    ("PUT", "/v1/me/webhook"),
    ("GET", "/v1/me/webhook"),
    ("DELETE", "/v1/me/webhook"),
]


def inbox(client, person, **params) -> list[dict]:
    r = client.get("/v1/me/notifications", params=params, headers=person.headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_an_inquiry_alerts_the_person_at_once_with_the_lender_named(client, bureau):
    bank = bureau.lender("Bank of Hangzhou", 1)
    me, other = bureau.person(1), bureau.person(2)
    granted = bureau.grant(me, bank)
    r = bureau.inquire(bank, me, granted["id"])
    assert r.status_code == 201, r.text

    [alert] = inbox(client, me)
    assert alert["kind"] == "inquiry" and alert["read_at"] is None
    data = alert["payload"]
    assert data["lender"] == "Bank of Hangzhou"  # a person sees lenders named (RPT-2)
    assert (data["inquiry_id"], data["authorization_id"]) == (r.json()["inquiry_id"], granted["id"])
    assert (data["purpose"], data["product"]) == ("loan_application", "report")
    assert me.person_id not in str(alert) and loan(1)["name"] not in str(alert)  # no PII
    assert inbox(client, other) == []

    # someone else cannot mark it read
    assert client.post("/v1/me/notifications/read", json={"ids": [alert["id"]]}, headers=other.headers).json() == {
        "marked": 0
    }
    assert [a["id"] for a in inbox(client, me, unread="true")] == [alert["id"]]
    assert client.post("/v1/me/notifications/read", json={"ids": [alert["id"]]}, headers=me.headers).json() == {
        "marked": 1
    }
    assert inbox(client, me, unread="true") == []
    assert inbox(client, me)[0]["read_at"] is not None


def test_the_inbox_lists_newest_first_and_marks_all_read_without_ids(client, bureau):
    bank = bureau.lender("Bank A", 1)
    me = bureau.person(1)
    for _ in range(3):
        assert bureau.inquire(bank, me, bureau.grant(me, bank)["id"]).status_code == 201
    alerts = inbox(client, me)
    assert len(alerts) == 3
    assert [a["created_at"] for a in alerts] == sorted((a["created_at"] for a in alerts), reverse=True)
    assert len(inbox(client, me, limit=2)) == 2
    assert client.post("/v1/me/notifications/read", headers=me.headers).json() == {"marked": 3}
    assert client.post("/v1/me/notifications/read", json={}, headers=me.headers).json() == {"marked": 0}
    assert inbox(client, me, unread="true") == []


def test_only_individuals_reach_notifications_and_webhooks(client, parties):
    for role in ("lender", "furnisher", "agency", "regulator", "overseer"):
        _, h = parties.add(role)
        for method, path in ROUTES:
            r = client.request(method, path, headers=h, json={"url": "https://93.184.215.14/"})
            assert (r.status_code, r.json()["code"]) == (403, "forbidden_role"), (role, method, path)
    for method, path in ROUTES:
        assert client.request(method, path).status_code == 401


def test_the_routes_are_in_the_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/me/notifications", "/v1/me/notifications/read", "/v1/me/webhook"} <= set(paths)
    assert {"get", "put", "delete"} <= set(paths["/v1/me/webhook"])
