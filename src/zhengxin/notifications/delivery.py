"""Pushing alerts from the outbox to the persons' webhooks, as Standard Webhooks
(https://www.standardwebhooks.com): a JSON body signed with the endpoint's secret, retried
with exponential backoff until the receiver answers 2xx or the attempts run out.

Each row is claimed (`locked_until`) in a short transaction of its own just before it is
sent, so two workers never send the same row at once and no database lock is held while a
receiver answers. Delivery is at least once: a worker that dies after sending but before
recording sends again later, which is why `webhook-id` (the notification id) is the
receiver's dedupe key. A delivered row is never claimed again.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import httpx
from sqlalchemy import or_, select, update
from standardwebhooks import Webhook, WebhookVerificationError

from zhengxin import __version__
from zhengxin.config import NotificationSettings
from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.notifications import service
from zhengxin.notifications.tables import notifications, webhook_deliveries
from zhengxin.runtime import Runtime

__all__ = ["WebhookVerificationError", "deliver_due", "message", "verify_signature"]

log = logging.getLogger("zhengxin")
d = webhook_deliveries.c


def deliver_due(runtime: Runtime, limit: int = 100) -> dict:
    """Send up to `limit` due deliveries; returns how many were attempted, delivered, left to
    retry and given up."""
    settings = runtime.settings.notifications
    counts = {"attempted": 0, "delivered": 0, "retrying": 0, "failed": 0}
    with _client(settings) as http:
        for _ in range(limit):
            claimed = _claim(runtime, settings)
            if claimed is None:
                break
            status, error, final = _attempt(runtime, http, settings, claimed)
            counts["attempted"] += 1
            counts[_record(runtime, settings, claimed, status, error, final)] += 1
    return counts


def _client(settings: NotificationSettings) -> httpx.Client:
    # No proxies from the environment (the address check must hold for the real peer), no
    # redirects (they would skip the check), no kept connections (each is pinned to one
    # endpoint's host name).
    return httpx.Client(
        timeout=settings.timeout_seconds,
        trust_env=False,
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
        headers={"user-agent": f"zhengxin-webhooks/{__version__}"},
    )


def _due(now):
    return (
        select(d.notification_id, d.person_token, d.attempts)
        .where(
            d.delivered_at.is_(None),
            d.failed_at.is_(None),
            d.next_attempt_at <= now,
            or_(d.locked_until.is_(None), d.locked_until <= now),
        )
        .order_by(d.next_attempt_at)
        .limit(1)
    )


def _claim(runtime: Runtime, settings: NotificationSettings) -> dict | None:
    """The next due row, claimed for long enough to send it (one short transaction)."""
    with runtime.reading() as conn:  # an idle outbox costs no write transaction (SQLite's one writer)
        if conn.execute(_due(clock.now())).first() is None:
            return None
    with runtime.transaction() as conn:
        now = clock.now()
        query = _due(now)
        if conn.dialect.name == "postgresql":  # SQLite has one writer: BEGIN IMMEDIATE serialises claims
            query = query.with_for_update(skip_locked=True)
        row = conn.execute(query).first()
        if row is None:
            return None
        lock = now + timedelta(seconds=2 * settings.timeout_seconds)
        conn.execute(
            update(webhook_deliveries).where(d.notification_id == row.notification_id).values(locked_until=lock)
        )
        note = conn.execute(select(notifications).where(notifications.c.id == row.notification_id)).mappings().one()
    return {"attempts": row.attempts, **note}


def _attempt(runtime: Runtime, http: httpx.Client, settings: NotificationSettings, claimed: dict):
    """POST one alert: (HTTP status or None, error or None, whether to give up now). The
    error names what went wrong without any URL or answer text."""
    try:
        with runtime.reading() as conn:
            hook = service.endpoint(conn, runtime, claimed["person_token"])
        if hook is None:
            return None, "webhook removed", True
        url, addresses = service.check_url(hook["url"], settings)  # again: DNS answers change
        body, headers = message(
            hook["secret"], claimed["id"], claimed["kind"], claimed["payload"], claimed["created_at"]
        )
        # Connect to the address just checked, not to whatever the name resolves to next.
        host = url.raw_host.decode("ascii")
        headers["host"] = url.netloc.decode("ascii")
        extensions = {"sni_hostname": host} if url.scheme == "https" else {}
        target = url.copy_with(host=addresses[0])
        with http.stream("POST", target, content=body.encode(), headers=headers, extensions=extensions) as answer:
            if 200 <= answer.status_code < 300:
                return answer.status_code, None, False
            return answer.status_code, f"HTTP {answer.status_code}", False
    except Problem as p:
        return None, p.code, False
    except httpx.HTTPError as e:
        return None, type(e).__name__, False
    except Exception as e:  # a bad row must not stop the others
        log.exception("webhook delivery of %s failed unexpectedly", claimed["id"])
        return None, type(e).__name__, False


def _record(runtime: Runtime, settings: NotificationSettings, claimed: dict, status, error, final) -> str:
    """Delivered, or one more failed attempt: retry after base·2^(attempts-1) seconds (capped),
    or give up after `max_attempts` (the alert stays in the inbox)."""
    now = clock.now()
    attempts = claimed["attempts"] + 1
    values = {"attempts": attempts, "locked_until": None, "last_status": status, "last_error": error and error[:200]}
    if error is None:
        outcome, values["delivered_at"] = "delivered", now
    elif final or attempts >= settings.max_attempts:
        outcome, values["failed_at"] = "failed", now
    else:
        backoff = min(settings.retry_base_seconds * 2 ** (attempts - 1), settings.retry_max_seconds)
        outcome, values["next_attempt_at"] = "retrying", now + timedelta(seconds=backoff)
    if error is not None:
        log.info("webhook delivery of %s: attempt %d failed (%s), %s", claimed["id"], attempts, error, outcome)
    with runtime.transaction() as conn:
        conn.execute(
            update(webhook_deliveries)
            .where(d.notification_id == claimed["id"], d.delivered_at.is_(None), d.failed_at.is_(None))
            .values(**values)
        )
    return outcome


def message(secret: str, msg_id: str, kind: str, payload: dict, created_at) -> tuple[str, dict]:
    """The body and Standard Webhooks headers of one alert, signed now with `secret`."""
    sent = clock.now()
    body = json.dumps(
        {
            "id": msg_id,
            "type": kind,
            "timestamp": created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "data": payload,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, sent, body),
    }
    return body, headers


def verify_signature(secret: str, headers, body: bytes | str) -> dict:
    """What a receiver does: check the signature and timestamp (within 5 minutes of now) and
    return the parsed body; raises WebhookVerificationError otherwise."""
    return Webhook(secret).verify(body, dict(headers.items()))
