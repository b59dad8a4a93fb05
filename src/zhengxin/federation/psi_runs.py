"""The regulator's national view, as its node keeps it: each PSI cardinality run between two
members (federation/psi.py), by month. The two members submit their doubly blinded elements in
signed requests; the first waits here until the second arrives, the two are counted, and only
the sizes and the count are kept. Neither member is told the count."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from zhengxin.audit import service as audit
from zhengxin.federation import members, psi
from zhengxin.federation.tables import federation_psi_runs, federation_psi_sent
from zhengxin.kit.errors import Problem

ELEMENT = 32  # bytes: one ristretto255 element
ROLES = ("initiator", "responder")
METHOD = ("Diffie-Hellman PSI cardinality over ristretto255 on the members' federation pseudonyms of the persons "
          "with an open loan at the month's end: the regulator counts doubly blinded elements and learns no one")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_r = federation_psi_runs.c


def elements(body: bytes) -> list[bytes]:
    """A body of concatenated 32-byte elements, split (422 invalid_elements otherwise)."""
    if len(body) % ELEMENT:
        raise Problem(422, "invalid_elements", f"the body must be whole {ELEMENT}-byte ristretto255 elements")
    return [body[i : i + ELEMENT] for i in range(0, len(body), ELEMENT)]


def checked_month(month: str) -> str:
    if not MONTH.match(month):
        raise Problem(422, "invalid_month", "month must be YYYY-MM")
    return month


def submit(conn: Connection, member: dict, *, run_id: str, month: str, role: str, peer: str, body: bytes,
           now: datetime) -> dict:  # fmt: skip
    """One member's half of a run. The initiator's half holds the responder's set blinded twice,
    the responder's half the initiator's."""
    checked_month(month)
    if role not in ROLES:
        raise Problem(422, "invalid_role", "role must be initiator or responder")
    other = members.get(conn, peer)
    if other is None or other["removed_at"] is not None or peer == member["uscc"]:
        raise Problem(422, "not_a_member", "the peer is not another current member")
    items = elements(body)
    initiator, responder = (member["uscc"], peer) if role == "initiator" else (peer, member["uscc"])
    row = conn.execute(select(federation_psi_runs).where(_r.run_id == run_id).with_for_update()).mappings().first()
    if row is None:
        conn.execute(insert(federation_psi_runs).values(
            run_id=run_id, month=month, initiator=initiator, responder=responder, pending=body, pending_role=role,
            started_at=now))  # fmt: skip
        return {"run_id": run_id, "status": "waiting"}
    if (row["month"], row["initiator"], row["responder"]) != (month, initiator, responder):
        raise Problem(409, "psi_run_mismatch", "this run was started for another month or pair of members")
    if row["count"] is not None or row["pending_role"] == role:
        raise Problem(409, "psi_already_submitted", f"the {role}'s elements for this run are already in")
    first = elements(row["pending"])
    by_role = {row["pending_role"]: first, role: items}
    count = psi.cardinality(first, items)
    # The initiator submits the responder's set, and the responder the initiator's.
    sizes = {"initiator_persons": len(by_role["responder"]), "responder_persons": len(by_role["initiator"])}
    conn.execute(update(federation_psi_runs).where(_r.run_id == run_id).values(
        pending=None, pending_role=None, count=count, counted_at=now, **sizes))  # fmt: skip
    audit.enqueue(conn, [audit.event("federation.psi_counted", None, run=run_id, month=month, initiator=initiator,
                                     responder=responder, count=count, **sizes)])  # fmt: skip
    return {"run_id": run_id, "status": "counted"}


def results(conn: Connection, limit: int = 120) -> list[dict]:
    """The counted runs, newest month first: per pair of members, sizes and the count."""
    rows = conn.execute(
        select(_r.run_id, _r.month, _r.initiator, _r.responder, _r.initiator_persons, _r.responder_persons, _r.count,
               _r.counted_at).where(_r.count.is_not(None)).order_by(_r.month.desc(), _r.counted_at.desc()).limit(limit)
    ).mappings()  # fmt: skip
    names = {m["uscc"]: m["name"] for m in members.current(conn)}
    return [{**r, "initiator_name": names.get(r["initiator"]), "responder_name": names.get(r["responder"])}
            for r in rows]  # fmt: skip


# A member's side: which runs it started ------------------------------------------------------


def peers_due(conn: Connection, own_uscc: str, month: str) -> list[str]:
    """The members this one starts a run with for `month` and has not yet: those whose USCC
    sorts after its own (each pair runs once, started by the first of the two)."""
    sent = set(conn.execute(select(federation_psi_sent.c.peer).where(federation_psi_sent.c.month == month)).scalars())
    return [m["uscc"] for m in members.current(conn) if m["uscc"] > own_uscc and m["uscc"] not in sent]


def record_sent(conn: Connection, month: str, peer: str, run_id: str, now: datetime) -> None:
    try:
        with conn.begin_nested():
            conn.execute(insert(federation_psi_sent).values(month=month, peer=peer, run_id=run_id, sent_at=now))
    except IntegrityError:  # another worker sent it meanwhile: the regulator counts the first
        pass
