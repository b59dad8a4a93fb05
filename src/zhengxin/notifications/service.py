"""A person's alerts and their webhook. Never commits: the caller's unit of work does.

`notify` is what other features call: the alert lands in the person's inbox and, when they
registered a webhook, in the outbox that `delivery.deliver_due` works through, in the same
transaction as the write it reports, so an alert is never lost nor sent for a rolled-back write.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import secrets
import socket

import httpx
from sqlalchemy import Connection, Integer, String, bindparam, case, delete, func, insert, select, update

from zhengxin.audit import service as audit
from zhengxin.config import NotificationSettings
from zhengxin.identity.tokens import derived_key
from zhengxin.kit import clock
from zhengxin.kit.db import UTCDateTime, write
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.notifications.tables import WEBHOOK_TEXTS, notifications, webhook_deliveries, webhook_endpoints
from zhengxin.parties.service import Actor
from zhengxin.runtime import Runtime

MAX_URL_LENGTH = 2000

_NOTIFY = insert(notifications)
_NOW = bindparam("now", type_=UTCDateTime)
# The outbox row only for a person who has a webhook: one statement, no read first.
_OUTBOX = insert(webhook_deliveries).from_select(
    ["notification_id", "person_token", "attempts", "next_attempt_at", "created_at"],
    select(
        bindparam("id", type_=String),
        webhook_endpoints.c.person_token,
        bindparam("attempts", type_=Integer),
        _NOW,
        _NOW,
    ).where(webhook_endpoints.c.person_token == bindparam("token")),
)


def notify(conn: Connection, runtime: Runtime, person_token: str, kind: str, payload: dict) -> dict:
    """Alert a person: into their inbox at once and, if they have a webhook, into the outbox
    (due now). `payload` must hold no PII: institution names, purposes, ids, dates."""
    now = clock.now()
    row = {"id": new_id("ntf"), "person_token": person_token, "kind": kind, "payload": payload, "created_at": now}
    write(conn, _NOTIFY, row)
    write(conn, _OUTBOX, {"id": row["id"], "attempts": 0, "now": now, "token": person_token})
    return _view({**row, "read_at": None})


# Scoping -----------------------------------------------------------------------------------


def _person(actor: Actor) -> str:
    """The one place rows are scoped: a person reads and changes only their own."""
    if actor.role != "individual" or actor.person_token is None:
        raise Problem(403, "forbidden_role", "notifications and webhooks are for individuals")
    return actor.person_token


def _view(row) -> dict:
    return {k: row[k] for k in ("id", "kind", "payload", "created_at", "read_at")}


# The inbox ---------------------------------------------------------------------------------


def list_for(conn: Connection, actor: Actor, *, unread: bool = False, limit: int = 50) -> list[dict]:
    """The person's alerts, newest first."""
    query = select(notifications).where(notifications.c.person_token == _person(actor))
    if unread:
        query = query.where(notifications.c.read_at.is_(None))
    query = query.order_by(notifications.c.created_at.desc(), notifications.c.id.desc()).limit(limit)
    return [_view(r) for r in conn.execute(query).mappings()]


def mark_read(conn: Connection, actor: Actor, ids: list[str] | None = None) -> int:
    """Mark these alerts (None: all) read; returns how many were unread. Others' ids are ignored."""
    query = update(notifications).where(
        notifications.c.person_token == _person(actor), notifications.c.read_at.is_(None)
    )
    if ids is not None:
        if not ids:
            return 0
        query = query.where(notifications.c.id.in_(ids))
    return conn.execute(query.values(read_at=clock.now())).rowcount


# The webhook -------------------------------------------------------------------------------


def set_webhook(conn: Connection, runtime: Runtime, actor: Actor, url: str) -> dict:
    """Register (or replace) the person's webhook; the signing secret is returned only here.

    Pending alerts go to the new URL, signed with the new secret."""
    token = _person(actor)
    check_url(url, runtime.settings.notifications)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    vault = runtime.vault
    row = {
        "person_token": token,
        "key_id": vault.active_key_id,
        "url_sealed": WEBHOOK_TEXTS.seal(vault, "url_sealed", url, person_token=token),
        "secret_sealed": WEBHOOK_TEXTS.seal(vault, "secret_sealed", secret, person_token=token),
        "created_at": clock.now(),
    }
    replaced = conn.execute(delete(webhook_endpoints).where(webhook_endpoints.c.person_token == token)).rowcount > 0
    conn.execute(insert(webhook_endpoints).values(**row))
    audit.enqueue(
        conn,
        [audit.event("webhook.registered", actor, token, url_digest=_url_digest(runtime, url), replaced=replaced)],
    )
    return {"url": url, "secret": secret, "created_at": row["created_at"]}


def endpoint(conn: Connection, runtime: Runtime, person_token: str) -> dict | None:
    """A person's webhook, unsealed: url, secret, created_at (for delivery, and the owner)."""
    query = select(webhook_endpoints).where(webhook_endpoints.c.person_token == person_token)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    return {
        "url": WEBHOOK_TEXTS.open(runtime.vault, "url_sealed", row),
        "secret": WEBHOOK_TEXTS.open(runtime.vault, "secret_sealed", row),
        "created_at": row["created_at"],
    }


def get_webhook(conn: Connection, runtime: Runtime, actor: Actor) -> dict:
    """The person's webhook (without its secret) and how their deliveries stand."""
    token = _person(actor)
    found = endpoint(conn, runtime, token)
    if found is None:
        raise Problem(404, "webhook_not_found", "you have not registered a webhook")
    d = webhook_deliveries.c
    state = case(
        (d.delivered_at.is_not(None), "delivered"), (d.failed_at.is_not(None), "failed"), else_="pending"
    ).label("state")
    counts = dict(conn.execute(select(state, func.count()).where(d.person_token == token).group_by(state)).all())
    return {
        "url": found["url"],
        "created_at": found["created_at"],
        "deliveries": {k: counts.get(k, 0) for k in ("pending", "delivered", "failed")},
    }


def delete_webhook(conn: Connection, runtime: Runtime, actor: Actor) -> bool:
    """Remove the person's webhook; alerts not yet pushed are given up (they stay in the inbox)."""
    token = _person(actor)
    if conn.execute(delete(webhook_endpoints).where(webhook_endpoints.c.person_token == token)).rowcount == 0:
        return False
    d = webhook_deliveries.c
    conn.execute(
        update(webhook_deliveries)
        .where(d.person_token == token, d.delivered_at.is_(None), d.failed_at.is_(None))
        .values(failed_at=clock.now(), locked_until=None, last_error="webhook removed")
    )
    audit.enqueue(conn, [audit.event("webhook.removed", actor, token)])
    return True


def _url_digest(runtime: Runtime, url: str) -> str:
    """Keyed, so the log shows a URL changed without letting anyone guess it from a list."""
    return hmac.digest(derived_key(runtime.pepper, "webhook-url"), url.encode(), "sha256").hex()


# Where the agency may send -----------------------------------------------------------------


def check_url(url: str, settings: NotificationSettings) -> tuple[httpx.URL, list[str]]:
    """The URL and the addresses its host resolves to, if the agency may call it: https (unless
    `require_https` is off) and only public addresses (unless `allow_private_addresses`), so a
    person's URL cannot make the agency call into its own network. Checked at registration
    and again before every delivery, since DNS answers change."""
    if len(url) > MAX_URL_LENGTH:
        raise Problem(422, "webhook_url_invalid", f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise Problem(422, "webhook_url_invalid", "the URL does not parse") from None
    schemes = ("https",) if settings.require_https else ("https", "http")
    if parsed.scheme not in schemes:
        raise Problem(422, "webhook_url_invalid", f"the URL must start with {' or '.join(schemes)}://")
    if not parsed.host:
        raise Problem(422, "webhook_url_invalid", "the URL has no host")
    if parsed.userinfo:
        raise Problem(422, "webhook_url_invalid", "the URL must not carry a user name or password")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if port not in settings.allowed_ports:
        ports = ", ".join(map(str, settings.allowed_ports))
        raise Problem(422, "webhook_port_not_allowed", f"the URL's port must be one of {ports}")
    try:
        infos = socket.getaddrinfo(parsed.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Problem(422, "webhook_host_unresolvable", "the URL's host does not resolve") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not settings.allow_private_addresses and not all(_public(a) for a in addresses):
        raise Problem(
            422, "webhook_url_not_public", "the URL's host resolves to a loopback, private or reserved address"
        )
    return parsed, addresses


NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))  # RFC 6052, RFC 8215
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated, still routed to the IPv4 address by some stacks


def _public(address: str) -> bool:
    """Whether an address is public, and so is every IPv4 address an IPv6 one carries inside
    it (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo): `[::127.0.0.1]`, `[64:ff9b::7f00:1]`
    and `[2002:7f00:1::]` all reach loopback."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone index names an interface, not a host
    if not ip.is_global or ip.is_multicast:
        return False
    return all(_public(str(inner)) for inner in _embedded_ipv4(ip))


def _embedded_ipv4(ip) -> list:
    if ip.version == 4:
        return []
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if ip in IPV4_COMPATIBLE or any(ip in net for net in NAT64):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [inner for inner in found if inner is not None]
