"""Inquiry queries, scoped to the acting party in one place."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, insert, select

from zhengxin.inquiries.tables import inquiries, inquiry_sources
from zhengxin.kit.db import Read, write
from zhengxin.kit.errors import Problem
from zhengxin.parties.service import Actor, names

# Built once: these run on every inquiry.
_USE_TIMES = (
    select(inquiries.c.created_at)
    .where(inquiries.c.authorization_id == bindparam("authorization_id"), inquiries.c.product == bindparam("product"))
    .order_by(inquiries.c.created_at.desc())
)
_INSERT, _INSERT_SOURCES = insert(inquiries), insert(inquiry_sources)
_ASKED = (
    select(inquiries.c.lender_id, inquiries.c.purpose, inquiries.c.product, inquiries.c.created_at)
    .where(inquiries.c.person_token == bindparam("token"), inquiries.c.created_at >= bindparam("since"))
    .order_by(inquiries.c.created_at.desc())
)


class Asked(NamedTuple):
    lender_id: str
    purpose: str
    product: str
    created_at: datetime


def asked_about_read(person_token: str, since: datetime) -> Read:
    """Every inquiry about the person since `since`, newest first, as `Asked` (what a report
    lists and a scorecard counts)."""
    return Read(_ASKED, {"token": person_token, "since": since}, lambda rows: [Asked(*r) for r in rows])


def uses_read(authorization_id: str, product: str) -> Read:
    """When each inquiry with an authorization for a product was made, newest first: what fair
    use counts within its window (read with the authorization, before the window is known)."""
    return Read(_USE_TIMES, {"authorization_id": authorization_id, "product": product},
                lambda rows: [r[0] for r in rows])  # fmt: skip


def peer_outcomes(conn: Connection, since: datetime) -> list[dict]:
    """How the federation's members answered this agency's inquiries since `since`: per member,
    how often it was asked and how often it answered, was unavailable or refused."""
    counts: dict[str, dict] = {}
    asked = inquiries.c.federation.is_not(None)
    rows = conn.execute(select(inquiries.c.federation).where(inquiries.c.created_at >= since, asked)).scalars()
    for outcomes in rows:
        for o in outcomes:
            c = counts.setdefault(o["member"], {"member": o["member"], "asked": 0, "answered": 0, "unavailable": 0,
                                                "refused": 0})  # fmt: skip
            c["asked"] += 1
            c[o["status"]] += 1
    return sorted(counts.values(), key=lambda c: c["member"])


def add(conn: Connection, row: dict, sources: list) -> None:
    write(conn, _INSERT, row)
    if sources:
        write(
            conn,
            _INSERT_SOURCES,
            [
                {"inquiry_id": row["id"], "furnisher_id": s.furnisher_id, "record_type": s.record_type,
                 "record_key": s.record_key, "records": s.records}
                for s in sources
            ],
        )  # fmt: skip


def _readable(actor: Actor):
    """Inquiries this party may see: a lender its own, a person those about them; the agency all."""
    query = select(inquiries)
    if actor.role == "lender":
        return query.where(inquiries.c.lender_id == actor.party_id)
    if actor.role == "individual":
        return query.where(inquiries.c.person_token == actor.person_token)
    if actor.role == "agency":
        return query
    return query.where(False)


def _out(conn: Connection, rows) -> list[dict]:
    rows = list(rows)
    lenders = names(conn, {r.lender_id for r in rows})
    return [_one(r, lenders[r.lender_id]) for r in rows]


def _one(row, lender_name: str) -> dict:
    return {
        "inquiry_id": row.id,
        "lender": {"id": row.lender_id, "name": lender_name},
        "authorization_id": row.authorization_id,
        "purpose": row.purpose,
        "product": row.product,
        "fee_fen": row.fee_fen,
        "report_id": row.report_id,
        "decision_id": row.decision_id,
        "created_at": row.created_at,
    }


def list_for(conn: Connection, actor: Actor, since: datetime | None = None, limit: int = 100) -> list[dict]:
    query = _readable(actor)
    if since is not None:
        query = query.where(inquiries.c.created_at >= since)
    return _out(conn, conn.execute(query.order_by(inquiries.c.created_at.desc()).limit(limit)))


def get_for(conn: Connection, actor: Actor, inquiry_id: str) -> dict:
    row = conn.execute(_readable(actor).where(inquiries.c.id == inquiry_id)).first()
    if row is None:
        raise Problem(404, "inquiry_not_found", "no such inquiry of yours")
    return _out(conn, [row])[0]


def inquiries_that_carried(
    conn: Connection, person_token: str, source: dict, since: datetime, before: datetime
) -> list[dict]:
    """The inquiries about the person in [since, before) whose report carried one furnisher's
    record (`source`: furnisher_id, record_type, record_key): who must hear of its correction."""
    query = (
        select(inquiries.c.id, inquiries.c.lender_id, inquiries.c.created_at)
        .join(inquiry_sources, inquiry_sources.c.inquiry_id == inquiries.c.id)
        .where(
            inquiry_sources.c.furnisher_id == source["furnisher_id"],
            inquiry_sources.c.record_type == source["record_type"],
            inquiry_sources.c.record_key == source["record_key"],
            inquiries.c.person_token == person_token,
            inquiries.c.created_at >= since,
            inquiries.c.created_at < before,
        )
        .order_by(inquiries.c.created_at)
    )
    return [dict(r) for r in conn.execute(query).mappings()]
