"""Webhooks on both databases, against a real HTTP receiver: registration and its checks,
signed Standard Webhooks deliveries, backoff while the receiver is down, exactly one delivery
once it is back, and no row sent twice or before it is due."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from zhengxin.audit.service import sequence_all
from zhengxin.audit.tables import log_leaves
from zhengxin.identity.resident_id import validate
from zhengxin.identity.tokens import person_token
from zhengxin.kit import clock
from zhengxin.notifications import service
from zhengxin.notifications.delivery import WebhookVerificationError, deliver_due, verify_signature
from zhengxin.notifications.tables import webhook_deliveries


def register(client, person, url) -> dict:
    r = client.put("/v1/me/webhook", json={"url": url}, headers=person.headers)
    assert r.status_code == 200, r.text
    return r.json()


def inquiry(bureau, bank, person) -> str:
    r = bureau.inquire(bank, person, bureau.grant(person, bank)["id"])
    assert r.status_code == 201, r.text
    return r.json()["inquiry_id"]


def outbox(runtime) -> list[dict]:
    with runtime.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(webhook_deliveries)).mappings()]


def webhook(client, person) -> dict:
    return client.get("/v1/me/webhook", headers=person.headers).json()


def test_a_receiver_that_is_down_gets_the_alert_once_it_is_back_exactly_once(client, runtime, bureau, receiver):
    bank = bureau.lender("Bank of Hangzhou", 1)
    me = bureau.person(1)
    start = datetime.now(UTC).replace(microsecond=0)  # near real time: receivers reject stale timestamps
    with clock.frozen_at(start):
        hook = register(client, me, receiver.url)  # nothing listens there yet
        assert hook["secret"].startswith("whsec_") and hook["url"] == receiver.url
        inquiry_id = inquiry(bureau, bank, me)
        assert deliver_due(runtime) == {"attempted": 1, "delivered": 0, "retrying": 1, "failed": 0}
    [row] = outbox(runtime)
    assert (row["attempts"], row["last_status"], row["last_error"]) == (1, None, "ConnectError")
    assert row["next_attempt_at"] == start + timedelta(seconds=runtime.settings.notifications.retry_base_seconds)
    assert row["delivered_at"] is None and row["locked_until"] is None
    assert webhook(client, me)["deliveries"] == {"pending": 1, "delivered": 0, "failed": 0}

    receiver.start()
    with clock.frozen_at(start + timedelta(seconds=5)):  # still backing off
        assert deliver_due(runtime)["attempted"] == 0
    assert receiver.received == []
    with clock.frozen_at(start + timedelta(seconds=11)):
        assert deliver_due(runtime) == {"attempted": 1, "delivered": 1, "retrying": 0, "failed": 0}
    for hours in (1, 2, 24, 24 * 30):
        with clock.frozen_at(start + timedelta(hours=hours)):
            assert deliver_due(runtime)["attempted"] == 0

    [(headers, body)] = receiver.received
    sent = verify_signature(hook["secret"], headers, body)
    [alert] = client.get("/v1/me/notifications", headers=me.headers).json()
    assert headers["webhook-id"] == sent["id"] == alert["id"]  # the receiver's dedupe key
    assert headers["webhook-timestamp"] == str(int((start + timedelta(seconds=11)).timestamp()))
    assert headers["host"] == f"127.0.0.1:{receiver.port}"
    assert sent["type"] == "inquiry"
    assert sent["data"] == alert["payload"] and sent["data"]["inquiry_id"] == inquiry_id
    assert sent["data"]["lender"] == "Bank of Hangzhou"
    with pytest.raises(WebhookVerificationError):
        verify_signature(hook["secret"], headers, body.replace(b"Hangzhou", b"Shanghai"))
    with pytest.raises(WebhookVerificationError):
        verify_signature(register(client, me, receiver.url)["secret"], headers, body)  # a replaced secret
    [row] = outbox(runtime)
    assert (row["attempts"], row["last_status"], row["last_error"]) == (2, 204, None)
    assert webhook(client, me)["deliveries"] == {"pending": 0, "delivered": 1, "failed": 0}


def test_a_delivery_is_not_sent_before_it_is_due(client, runtime, bureau, receiver):
    receiver.start()
    bank = bureau.lender("Bank A", 1)
    me = bureau.person(1)
    register(client, me, receiver.url)
    due = datetime.now(UTC) + timedelta(minutes=1)
    with clock.frozen_at(due):
        inquiry(bureau, bank, me)
    with clock.frozen_at(due - timedelta(seconds=1)):
        assert deliver_due(runtime)["attempted"] == 0
    assert receiver.received == []
    with clock.frozen_at(due):
        assert deliver_due(runtime)["delivered"] == 1
    assert len(receiver.received) == 1


def test_two_workers_never_send_the_same_alert(client, runtime, bureau, receiver):
    receiver.delay = 0.5  # a slow receiver: the second worker runs while the first is sending
    receiver.start()
    bank = bureau.lender("Bank A", 1)
    me = bureau.person(1)
    register(client, me, receiver.url)
    inquiry(bureau, bank, me)
    results: list[dict] = []
    workers = [threading.Thread(target=lambda: results.append(deliver_due(runtime))) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    assert sorted(r["delivered"] for r in results) == [0, 1]
    assert len(receiver.received) == 1


def test_without_a_webhook_an_alert_stays_in_the_inbox_only(client, runtime, bureau):
    bank = bureau.lender("Bank A", 1)
    me = bureau.person(1)
    inquiry(bureau, bank, me)
    assert outbox(runtime) == []
    assert deliver_due(runtime)["attempted"] == 0
    assert len(client.get("/v1/me/notifications", headers=me.headers).json()) == 1


def test_a_delivery_gives_up_after_the_last_attempt(client, runtime, bureau, receiver):
    runtime.settings.notifications.max_attempts = 3
    bank = bureau.lender("Bank A", 1)
    me = bureau.person(1)
    register(client, me, receiver.url)  # never started
    inquiry(bureau, bank, me)
    start = datetime.now(UTC)
    outcomes = []
    for minutes in (0, 1, 2, 3):
        with clock.frozen_at(start + timedelta(minutes=minutes)):
            counts = deliver_due(runtime)
        outcomes.append(next((k for k in ("retrying", "failed") if counts[k]), None))
    assert outcomes == ["retrying", "retrying", "failed", None]
    [row] = outbox(runtime)
    assert row["attempts"] == 3 and row["failed_at"] is not None
    assert webhook(client, me)["deliveries"] == {"pending": 0, "delivered": 0, "failed": 1}
    assert len(client.get("/v1/me/notifications", headers=me.headers).json()) == 1  # nothing lost


def test_backoff_doubles_up_to_its_cap(client, runtime, bureau, receiver):
    settings = runtime.settings.notifications
    settings.retry_base_seconds, settings.retry_max_seconds = 10, 50
    bank = bureau.lender("Bank A", 1)
    me = bureau.person(1)
    register(client, me, receiver.url)  # never started
    inquiry(bureau, bank, me)
    at = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)
    waits = []
    for _ in range(5):
        with clock.frozen_at(at):
            assert deliver_due(runtime)["retrying"] == 1
        [row] = outbox(runtime)
        waits.append((row["next_attempt_at"] - at).total_seconds())
        at = row["next_attempt_at"]
    assert waits == [10, 20, 40, 50, 50]


def test_urls_must_be_public_https(client, runtime, bureau):
    me = bureau.person(1)

    def code(url: str) -> str | None:
        r = client.put("/v1/me/webhook", json={"url": url}, headers=me.headers)
        return None if r.status_code == 200 else r.json()["code"]

    assert code("http://93.184.215.14/hook") == "webhook_url_invalid"
    assert code("ftp://93.184.215.14/hook") == "webhook_url_invalid"
    assert code("not a url") == "webhook_url_invalid"
    assert code("https://user:secret@93.184.215.14/hook") == "webhook_url_invalid"
    for private in ("127.0.0.1", "[::1]", "10.1.2.3", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"):
        assert code(f"https://{private}/hook") == "webhook_url_not_public", private
    assert code("https://localhost/hook") == "webhook_url_not_public"
    assert code("https://no-such-host.invalid/hook") == "webhook_host_unresolvable"
    assert code("https://93.184.215.14/hook") is None
    # Loopback hidden inside IPv6: IPv4-compatible, IPv4-mapped, NAT64 (both prefixes), 6to4, Teredo.
    for hidden in ("[::127.0.0.1]", "[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]", "[64:ff9b:1::7f00:1]",
                   "[2002:7f00:1::]", "[2002:a00:1::1]", "[2001:0:4136:e378:8000:63bf:80ff:fffe]"):  # fmt: skip
        assert code(f"https://{hidden}/hook") == "webhook_url_not_public", hidden
    assert code("https://[2606:4700:4700::1111]/hook") is None  # a public IPv6 address
    assert code("https://[2002:5db8:d70e::1]/hook") is None  # 6to4 of a public IPv4 address
    # Only the usual HTTPS ports, unless the deployment allows more.
    assert code("https://93.184.215.14:8443/hook") is None
    for port in (22, 80, 6379, 8080):
        assert code(f"https://93.184.215.14:{port}/hook") == "webhook_port_not_allowed", port
    runtime.settings.notifications.require_https = False
    assert code("http://93.184.215.14/hook") == "webhook_port_not_allowed"  # port 80
    runtime.settings.notifications.allowed_ports = [80, 443, 9]
    assert code("http://93.184.215.14/hook") is None
    assert code("http://127.0.0.1:9/hook") == "webhook_url_not_public"
    runtime.settings.notifications.allow_private_addresses = True
    assert code("http://127.0.0.1:9/hook") is None


def test_the_address_is_checked_again_at_delivery(client, runtime, bureau, receiver):
    receiver.start()
    bank = bureau.lender("Bank A", 1)
    me = bureau.person(1)
    register(client, me, receiver.url)
    runtime.settings.notifications.allow_private_addresses = False  # as if the name now resolved inside
    inquiry(bureau, bank, me)
    assert deliver_due(runtime)["retrying"] == 1
    assert receiver.received == []
    [row] = outbox(runtime)
    assert row["last_error"] == "webhook_url_not_public"


def test_registering_reading_and_deleting_a_webhook(client, runtime, bureau, receiver):
    bank = bureau.lender("Bank A", 1)
    me, other = bureau.person(1), bureau.person(2)
    assert client.get("/v1/me/webhook", headers=me.headers).json()["code"] == "webhook_not_found"
    hook = register(client, me, receiver.url)
    got = webhook(client, me)
    assert (got["url"], got["created_at"]) == (hook["url"], hook["created_at"]) and "secret" not in got
    assert client.get("/v1/me/webhook", headers=other.headers).status_code == 404
    with runtime.engine.connect() as conn:  # stored sealed
        assert receiver.url.encode() not in conn.exec_driver_sql("SELECT url_sealed FROM webhook_endpoints").scalar()
    inquiry(bureau, bank, me)
    assert client.delete("/v1/me/webhook", headers=other.headers).status_code == 204  # theirs: nothing to delete
    assert webhook(client, me)["deliveries"]["pending"] == 1
    assert client.delete("/v1/me/webhook", headers=me.headers).status_code == 204
    assert client.get("/v1/me/webhook", headers=me.headers).status_code == 404
    [row] = outbox(runtime)
    assert row["failed_at"] is not None and row["last_error"] == "webhook removed"
    assert deliver_due(runtime)["attempted"] == 0
    assert len(client.get("/v1/me/notifications", headers=me.headers).json()) == 1

    sequence_all(runtime.engine)
    with runtime.engine.connect() as conn:
        leaves = conn.execute(select(log_leaves.c.kind, log_leaves.c.leaf).where(log_leaves.c.kind.like("webhook.%")))
        events = {kind: json.loads(leaf) for kind, leaf in leaves}
    assert set(events) == {"webhook.registered", "webhook.removed"}
    assert all(receiver.url not in json.dumps(e) and str(receiver.port) not in json.dumps(e) for e in events.values())
    assert len(events["webhook.registered"]["url_digest"]) == 64


def test_notify_is_the_service_other_features_call(client, runtime, bureau, receiver):
    receiver.start()
    me = bureau.person(1)
    register(client, me, receiver.url)
    token = person_token(runtime.pepper, validate(me.person_id))
    with runtime.transaction() as conn:
        made = service.notify(conn, runtime, token, "dispute.answered", {"dispute_id": "dsp_1"})
    assert made["kind"] == "dispute.answered" and made["read_at"] is None
    assert deliver_due(runtime)["delivered"] == 1
    [(headers, body)] = receiver.received
    assert json.loads(body)["type"] == "dispute.answered" and headers["webhook-id"] == made["id"]
