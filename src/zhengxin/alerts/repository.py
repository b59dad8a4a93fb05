"""The SQL of fraud alerts."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from zhengxin.alerts.tables import fraud_alerts

_ACTIVE = (
    select(fraud_alerts.c.id, fraud_alerts.c.kind, fraud_alerts.c.placed_at)
    .where(fraud_alerts.c.person_token == bindparam("token"), fraud_alerts.c.lifted_at.is_(None))
    .order_by(fraud_alerts.c.placed_at)
    .limit(1)
)


def active_alert(conn: Connection, person_token: str) -> dict | None:
    """The person's oldest alert still in force, or None: what reports and inquiries heed."""
    row = conn.execute(_ACTIVE, {"token": person_token}).mappings().first()
    return dict(row) if row else None


def alerts_of(conn: Connection, person_token: str) -> list[dict]:
    rows = conn.execute(
        select(fraud_alerts).where(fraud_alerts.c.person_token == person_token).order_by(fraud_alerts.c.placed_at)
    ).mappings()
    return [dict(r) for r in rows]
