"""The SQL of fraud alerts."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from zhengxin.alerts.tables import fraud_alerts
from zhengxin.kit.db import Read, as_dicts, read

_ACTIVE = (
    select(fraud_alerts.c.id, fraud_alerts.c.kind, fraud_alerts.c.placed_at)
    .where(fraud_alerts.c.person_token == bindparam("token"), fraud_alerts.c.lifted_at.is_(None))
    .order_by(fraud_alerts.c.placed_at)
    .limit(1)
)
_ACTIVE_ROWS = as_dicts(_ACTIVE)


def active_alert(conn: Connection, person_token: str) -> dict | None:
    """The person's oldest alert still in force, or None: what reports and inquiries heed."""
    return read(conn, active_alert_read(person_token))


def active_alert_read(person_token: str) -> Read:
    return Read(_ACTIVE, {"token": person_token}, lambda rows: _ACTIVE_ROWS(rows)[0] if rows else None)


def alerts_of(conn: Connection, person_token: str) -> list[dict]:
    rows = conn.execute(
        select(fraud_alerts).where(fraud_alerts.c.person_token == person_token).order_by(fraud_alerts.c.placed_at)
    ).mappings()
    return [dict(r) for r in rows]
