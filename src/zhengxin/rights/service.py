"""The person's own reads: their report (free online; at the counter, CR-17's free ones a year
and priced after), every access to their data with its log receipt, and a copy of everything
held (PIPL-45).

Each goes through the decision point (`self_query`: a person reads only themself) and is
itself logged, so the person's next look at their accesses shows this one too.
"""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import Connection, func, insert, select, text

from zhengxin.audit import service as audit
from zhengxin.billing import service as billing
from zhengxin.consent import service as consent
from zhengxin.decisions import service as decisions
from zhengxin.disputes import service as disputes
from zhengxin.identity import resident_id
from zhengxin.identity.tokens import person_token
from zhengxin.inquiries import repository as inquiry_records
from zhengxin.kit import clock
from zhengxin.kit.db import pipelined, write
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.notifications import service as notifications
from zhengxin.parties.service import Actor, names
from zhengxin.records import repository as records_repository
from zhengxin.reports.scoring import service as scoring
from zhengxin.reports.service import Viewer, assemble
from zhengxin.rights.tables import self_queries

EXPORT_FORMAT = "zhengxin.personal-data-export/1"


def _allowed(conn: Connection, runtime, person: Actor, kind: str, **details):
    """The decision point on a person reading their own data (PIPL-45), kept and enforced."""
    if person.person_token is None:
        raise Problem(403, "forbidden_role", "only a person with a resident ID reads their own data")
    decision = runtime.policy.decide("self_query", decisions.subject(person), ("Person", person.person_token))
    decisions.enforce(decision, person, person.person_token, f"{kind}.denied", **details)
    return decision


# Self-query ------------------------------------------------------------------------------------


def self_query(conn: Connection, runtime, person: Actor) -> dict:
    """The person's own report online (API or portal), every record type in scope, names unmasked
    (RPT-2). Online self-queries are free and unlimited (FEE-1): a GET never charges anyone, so
    retries, prefetchers and crawlers cannot bill a person."""
    decision = _allowed(conn, runtime, person, "self_query")
    result = _self_query(conn, runtime, person, person.person_token, "online", decision.decision_id, fee=0, free=True)
    decisions.record(
        conn, decision, person, person.person_token, "self_query", self_query=result["self_query_id"],
        report=result["report"].header.report_id, channel="online", fee_fen=0, free=True, rule="FEE-1",
    )  # fmt: skip
    return {**result, "free_self_queries_left": counter_free_left(conn, runtime, person.person_token)}


def counter_self_query(conn: Connection, runtime, staff: Actor, person_id: str) -> dict:
    """A self-query at the agency's counter, recorded by a member of staff under their personal
    account for a person who came in and showed their ID: the first `free_self_queries_per_year`
    counter self-queries of a (Beijing) calendar year are free, later ones cost
    `self_query_fee_fen` (CR-17, FEE-1). Logged as a staff read naming the staff member (CR-22)
    and charged to the counter that took the fee."""
    token = person_token(runtime.pepper, _valid_id(person_id))
    _lock_person(conn, token)
    used = _counter_self_queries_this_year(conn, token, clock.today())
    rules = runtime.settings.rules
    free = used < rules.free_self_queries_per_year
    fee = 0 if free else rules.self_query_fee_fen
    self_query_id = new_id("sq")
    decision = decisions.staff_read(conn, runtime, staff, token, "rights_request", self_query=self_query_id,
                                    channel="counter", fee_fen=fee, free=free, rule="CR-17")  # fmt: skip
    result = _self_query(conn, runtime, staff, token, "counter", decision.decision_id, fee=fee, free=free,
                         self_query_id=self_query_id)  # fmt: skip
    return {**result, "free_self_queries_left": max(0, rules.free_self_queries_per_year - used - 1)}


def _self_query(
    conn: Connection, runtime, party: Actor, token: str, channel: str, decision_id: str, *, fee: int, free: bool,
    self_query_id: str | None = None,
) -> dict:  # fmt: skip
    """Assemble, score, store and charge one self-query made through `channel` by `party` (the
    person online, the staff member at the counter)."""
    now, today = clock.now(), clock.today()
    scopes = sorted(runtime.catalog.record_types)
    built = assemble(
        conn, runtime, token, viewer=Viewer("individual", party.party_id), scopes=scopes, today=today, now=now,
    )  # fmt: skip
    row = {
        "id": self_query_id or new_id("sq"),
        "party_id": party.party_id,
        "person_token": token,
        "channel": channel,
        "report_id": built.report.header.report_id,
        "fee_fen": fee,
        "free": free,
        "decision_id": decision_id,
        "created_at": now,
    }
    model = scoring.live_model(conn)
    if model is not None:
        # The person's own score, on everything held about them, with the same reasons a lender gets.
        scored = scoring.score_person(model, token, built, scopes=scopes, as_of=today)
        built.report.score = scoring.section(model, scored, today)
    with pipelined(conn):  # what the self-query stores needs no answer: one round trip
        write(conn, _INSERT_SELF_QUERY, row)
        if model is not None:
            scoring.record(conn, scored, token, now=now, self_query_id=row["id"])
        # The payer is whoever took the query: the person online (always 0), the counter otherwise.
        billing.charge(
            conn, runtime.settings, inquiry_id=row["id"], payer_id=party.party_id, product="self_query",
            tier="individual", fee_fen=fee, records_by_furnisher={}, now=now,
        )  # fmt: skip
    return {"self_query_id": row["id"], "channel": channel, "fee_fen": fee, "free": free, "created_at": now,
            "report": built.report}  # fmt: skip


_INSERT_SELF_QUERY = insert(self_queries)


def _valid_id(person_id: str) -> str:
    try:
        return resident_id.validate(person_id)
    except resident_id.InvalidIdentifier as e:
        raise Problem(422, e.code, str(e)) from None


def _lock_person(conn: Connection, token: str) -> None:
    """Two counter self-queries at once must not both take the last free one: serialise them on
    the person (a row lock on PostgreSQL; SQLite already serialises writers)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"self_query:{token}"})


def _counter_self_queries_this_year(conn: Connection, token: str, today) -> int:
    return conn.execute(
        select(func.count()).where(
            self_queries.c.person_token == token,
            self_queries.c.channel == "counter",
            self_queries.c.created_at >= clock.legal_start(date(today.year, 1, 1)),
        )
    ).scalar_one()


def counter_free_left(conn: Connection, runtime, token: str) -> int:
    """Free counter self-queries left to the person this calendar year (CR-17)."""
    used = _counter_self_queries_this_year(conn, token, clock.today())
    return max(0, runtime.settings.rules.free_self_queries_per_year - used)


def self_query_history(conn: Connection, person: Actor) -> list[dict]:
    rows = conn.execute(
        select(self_queries)
        .where(self_queries.c.person_token == person.person_token)
        .order_by(self_queries.c.created_at.desc())
    ).mappings()
    return [
        {"self_query_id": r["id"], "channel": r["channel"], "report_id": r["report_id"], "fee_fen": r["fee_fen"],
         "free": r["free"], "created_at": r["created_at"]}
        for r in rows
    ]  # fmt: skip


# Who accessed my data --------------------------------------------------------------------------


def accesses(conn: Connection, runtime, person: Actor, limit: int = 1000) -> dict:
    """Every logged event about the person, newest first: who (named), what, why (purpose),
    under which authorization, when, and the receipt proving it is in the signed log.

    The caller sequences the log first; a head covering the newest event is signed if none is."""
    _allowed(conn, runtime, person, "accesses")
    rows = audit.events_about(conn, person.person_token, limit)
    head = audit.head_covering(conn, audit.log_signer(runtime), rows[0].leaf_index) if rows else audit.latest_head(conn)
    signed = {k: head[k] for k in ("tree_size", "timestamp", "root_hash", "key_id", "signature")} if head else None
    events = [json.loads(r.leaf) for r in rows]
    named = names(conn, {e["actor"]["party"] for e in events if "actor" in e} | _lenders(events))
    proofs = audit.inclusion_proofs(conn, [r.leaf_index for r in rows], head["tree_size"]) if rows else []
    items = []
    for r, e, proof in zip(rows, events, proofs, strict=True):
        actor = e.get("actor")
        items.append(
            {
                "leaf_index": r.leaf_index,
                "at": e["at"],
                "kind": e["kind"],
                # Another agency of the federation is no party here: its event names it.
                "party": {"id": actor["party"], "role": actor["role"],
                          "name": named.get(actor["party"]) or e.get("member_name")} if actor else None,
                "purpose": e.get("purpose"),
                "authorization": e.get("authorization"),
                "lender": {"id": e["lender"], "name": named.get(e["lender"])} if e.get("lender") else None,
                "details": {k: v for k, v in e.items() if k not in _SHOWN},
                # The same receipt as /v1/me/receipts/{index}: checkable offline on its own.
                "receipt": {
                    "leaf_index": r.leaf_index,
                    "leaf": r.leaf,
                    "inclusion_proof": proof,
                    "sth": signed,
                },
            }
        )  # fmt: skip
    return {
        "accesses": items,
        "log_key": {"key_id": head["key_id"], "public_key": audit.log_signer(runtime).public_keys()[head["key_id"]]}
        if head else None,
    }  # fmt: skip


_SHOWN = {"v", "at", "kind", "actor", "person", "purpose", "authorization", "lender", "member_name"}


def _lenders(events: list[dict]) -> set[str]:
    return {e["lender"] for e in events if isinstance(e.get("lender"), str)}


# A copy of everything held (PIPL-45) -------------------------------------------------------------


def export(conn: Connection, runtime, person: Actor) -> dict:
    """Everything held about the person, machine-readable: identity, every stored record,
    authorizations, inquiries, self-queries, disputes and statements, withdrawals, what each
    record type is processed for, under which basis and for how long, and who received it."""
    decision = _allowed(conn, runtime, person, "export")
    token = person.person_token
    catalog = runtime.catalog
    records = records_repository.held_about(conn, token)
    furnishers = {r["furnisher_id"] for rows in records.values() for r in rows}
    inquiries = inquiry_records.list_for(conn, person, limit=100_000)
    named = names(conn, furnishers)
    for rows in records.values():
        for r in rows:
            r["furnisher"] = named.get(r["furnisher_id"])
    held = {t for t, rows in records.items() if rows}
    recipients: dict[str, dict] = {}
    for q in inquiries:
        entry = recipients.setdefault(q["lender"]["id"], {**q["lender"], "reports": 0, "last_received_at": None})
        entry["reports"] += 1
        entry["last_received_at"] = max(filter(None, [entry["last_received_at"], q["created_at"]]))
    subject = runtime.vault.reveal(conn, token)
    versions = runtime.vault.versions(conn, token, subject.get("name"))
    sources_named = names(conn, {v["furnisher_id"] for v in versions})
    document = {
        "format": EXPORT_FORMAT,
        "generated_at": clock.now(),
        "controller": runtime.settings.agency_name,
        "subject": subject,
        # Each furnisher's version of the name and phone, as it last reported them (issue 18).
        "identity_sources": [{**v, "furnisher": sources_named.get(v["furnisher_id"])} for v in versions],
        "records": records,
        "authorizations": consent.list_for(conn, runtime, person, limit=100_000),
        "withdrawals": consent.withdrawals(conn, person),
        "inquiries": inquiries,
        "self_queries": self_query_history(conn, person),
        "scores": scoring.history(conn, token),
        "disputes": disputes.list_for_person(conn, runtime, person),
        "statements": disputes.statements_of(conn, runtime, person),
        "notifications": notifications.list_for(conn, person, limit=100_000),
        "processing": [
            {
                "record_type": name,
                "description": spec.description,
                "basis": "consent (PIPL-13): the furnisher's written consent to furnish (CR-29) and your "
                "authorization for each inquiry (CR-18)",
                "separate_consent": spec.separate_consent,
                "purposes": [{"purpose": p, "description": catalog.purposes.get(p, p)} for p in spec.purposes],
                "retention": spec.retention,
                "records_held": len(records.get(name, [])),
            }
            for name, spec in catalog.record_types.items()
            if name in held
        ],
        "sources": [{"id": f, "name": named.get(f)} for f in sorted(furnishers)],
        "recipients": sorted(recipients.values(), key=lambda r: r["name"] or ""),
    }
    counts = {t: len(rows) for t, rows in records.items() if rows}
    decisions.record(conn, decision, person, token, "rights.export", records=counts, rule="PIPL-45")
    return document
