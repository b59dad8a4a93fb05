"""Placing and lifting fraud alerts (issue 18). While an alert is in force every report about the
person carries it (`anti_fraud_note`), every lender must confirm that it verified the applicant's
identity, and the person is told of every inquiry (as always: notifications)."""

from __future__ import annotations

from sqlalchemy import Connection, insert, update

from zhengxin.alerts.repository import active_alert, alerts_of
from zhengxin.alerts.tables import ALERT_TEXTS, fraud_alerts
from zhengxin.audit import service as audit
from zhengxin.kit import clock
from zhengxin.kit.db import fetch_or_404
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.parties.service import Actor


def place(conn: Connection, runtime, actor: Actor, person_token: str, *, kind: str, statement: str | None) -> dict:
    """A new alert on the person's file; one already in force is returned as it is."""
    if kind == "identity_theft" and not actor.staff:
        raise Problem(403, "staff_account_required", "an identity-theft alert is placed by a named member of staff",
                      rule="CR-22")  # fmt: skip
    existing = active_alert(conn, person_token)
    if existing is not None:
        return view(conn, runtime, person_token, existing["id"])
    alert_id, now = new_id("fal"), clock.now()
    sealed = ALERT_TEXTS.seal(runtime.vault, "statement_sealed", statement, id=alert_id) if statement else None
    conn.execute(insert(fraud_alerts).values(
        id=alert_id, person_token=person_token, kind=kind, placed_by=actor.party_id,
        key_id=runtime.vault.active_key_id if statement else None, statement_sealed=sealed, placed_at=now,
    ))  # fmt: skip
    audit.enqueue(conn, [audit.event("fraud_alert.placed", actor, person_token, alert=alert_id, alert_kind=kind)])
    return view(conn, runtime, person_token, alert_id)


def lift(conn: Connection, runtime, actor: Actor, alert_id: str) -> dict:
    """The person lifts their alert (only their own: another's is 404)."""
    row = fetch_or_404(conn, fraud_alerts, alert_id, "fraud_alert_not_found", "no such fraud alert", lock=True)
    if row["person_token"] != actor.person_token:
        raise Problem(404, "fraud_alert_not_found", "no such fraud alert")
    if row["lifted_at"] is None:
        conn.execute(update(fraud_alerts).where(fraud_alerts.c.id == alert_id).values(lifted_at=clock.now()))
        audit.enqueue(conn, [audit.event("fraud_alert.lifted", actor, actor.person_token, alert=alert_id)])
    return view(conn, runtime, actor.person_token, alert_id)


def list_for(conn: Connection, runtime, person_token: str) -> list[dict]:
    return [_view(runtime, row) for row in alerts_of(conn, person_token)]


def view(conn: Connection, runtime, person_token: str, alert_id: str) -> dict:
    return next(a for a in list_for(conn, runtime, person_token) if a["id"] == alert_id)


def _view(runtime, row: dict) -> dict:
    statement = ALERT_TEXTS.open(runtime.vault, "statement_sealed", row) if row["statement_sealed"] else None
    return {"id": row["id"], "kind": row["kind"], "statement": statement, "placed_at": row["placed_at"],
            "lifted_at": row["lifted_at"], "active": row["lifted_at"] is None}  # fmt: skip
