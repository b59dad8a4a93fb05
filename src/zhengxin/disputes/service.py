"""A dispute's life: the person objects to a record (CR-25), the record is flagged in every
report at once, the furnisher answers with a correction or a verification, and a member of
staff decides within `objection_days` — corrected, verified (the flag goes) or unconfirmable
(the record and the objection both stay). A dispute still open after its due day is
escalated and visible to the regulator. A correction is noticed to every lender that
received the old record within `notify_lenders_months`.

Free text is sealed with the vault (it may name people); log leaves carry tokens and ids only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from zhengxin.audit import service as audit
from zhengxin.decisions import service as decisions
from zhengxin.disputes import repository
from zhengxin.disputes.repository import IDENTITY, UNRESOLVED, statement_view
from zhengxin.disputes.tables import (
    DISPUTE_TEXTS,
    STATEMENT_TEXTS,
    correction_notices,
    dispute_steps,
    disputes,
    statements,
)
from zhengxin.furnishing import service as furnishing
from zhengxin.inquiries import repository as inquiry_records
from zhengxin.kit import clock
from zhengxin.kit.calendar import add_months
from zhengxin.kit.cases import append_step
from zhengxin.kit.db import fetch_or_404
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.parties.service import Actor, names
from zhengxin.records import repository as records

OUTCOMES = ("corrected", "verified", "unconfirmable")
FURNISHER_ACTIONS = ("correction", "verification")


# Opening, withdrawing, statements (the person) ------------------------------------------------


def open_dispute(
    conn: Connection, runtime, person: Actor, *, account_id: str, reason: str, furnisher: str | None = None
) -> dict:
    """Object to one of your accounts: it is flagged at once and the clock starts (CR-25)."""
    decide_object(conn, runtime, person)
    furnisher_id = _own_account(conn, person.person_token, account_id, furnisher)
    return _open(conn, runtime, person, furnisher_id, "loan", account_id, reason)


def open_identity_dispute(conn: Connection, runtime, person: Actor, *, furnisher: str, reason: str) -> dict:
    """Object to the name or phone a furnisher reported for your resident ID (CR-25, PIPL-46):
    the report shows its version under dispute, and the furnisher corrects it by furnishing
    your records again or verifies it."""
    decide_object(conn, runtime, person)
    holders = {v["furnisher_id"] for v in runtime.vault.versions(conn, person.person_token, None)}
    by_name = {name: party_id for party_id, name in names(conn, holders).items()}
    furnisher_id = furnisher if furnisher in holders else by_name.get(furnisher)
    if furnisher_id is None:
        raise Problem(404, "identity_version_not_found", "no furnisher by that name reported your identity")
    return _open(conn, runtime, person, furnisher_id, IDENTITY, IDENTITY, reason)


def _open(
    conn: Connection, runtime, person: Actor, furnisher_id: str, record_type: str, record_key: str, reason: str
) -> dict:
    existing = conn.execute(
        select(disputes.c.id).where(
            disputes.c.person_token == person.person_token, disputes.c.furnisher_id == furnisher_id,
            disputes.c.record_type == record_type, disputes.c.record_key == record_key,
            disputes.c.status.in_(UNRESOLVED),
        )
    ).scalar()  # fmt: skip
    if existing:
        raise Problem(409, "dispute_exists", "this record is already under dispute", dispute_id=existing)
    now = clock.now()
    row = {
        "id": new_id("dsp"),
        "person_token": person.person_token,
        "furnisher_id": furnisher_id,
        "record_type": record_type,
        "record_key": record_key,
        "status": "open",
        "opened_at": now,
        "due_on": clock.legal_day(now) + timedelta(days=runtime.settings.rules.objection_days),
    }
    conn.execute(insert(disputes).values(**row))
    _step(conn, runtime, row["id"], "opened", person, {"reason_given": True}, text=reason)
    _log(conn, "dispute.opened", person, row, due_on=row["due_on"].isoformat(), rule="CR-25")
    return get_for_person(conn, runtime, person, row["id"])


def withdraw(conn: Connection, runtime, person: Actor, dispute_id: str) -> dict:
    """The person drops their objection; the flag goes."""
    row = _person_dispute(conn, person, dispute_id)
    if row["status"] == "closed":
        raise Problem(409, "dispute_closed", "this dispute is already closed")
    now = clock.now()
    conn.execute(
        update(disputes).where(disputes.c.id == dispute_id).values(status="closed", outcome="withdrawn", closed_at=now)
    )
    _step(conn, runtime, dispute_id, "withdrawn", person, {})
    _log(conn, "dispute.withdrawn", person, row)
    return get_for_person(conn, runtime, person, dispute_id)


def add_statement(
    conn: Connection, runtime, person: Actor, *, account_id: str, text: str, furnisher: str | None = None
) -> dict:
    """Attach your explanation to one of your accounts (CR-16); later reports show it beside it."""
    decide_object(conn, runtime, person)
    furnisher_id = _own_account(conn, person.person_token, account_id, furnisher)
    dispute_id = conn.execute(
        select(disputes.c.id)
        .where(disputes.c.person_token == person.person_token, disputes.c.furnisher_id == furnisher_id,
               disputes.c.record_type == "loan", disputes.c.record_key == account_id)
        .order_by(disputes.c.opened_at.desc())
        .limit(1)
    ).scalar()  # fmt: skip
    statement_id = new_id("stm")
    conn.execute(
        insert(statements).values(
            id=statement_id, person_token=person.person_token, furnisher_id=furnisher_id, record_type="loan",
            record_key=account_id, dispute_id=dispute_id, key_id=runtime.vault.active_key_id,
            text_sealed=STATEMENT_TEXTS.seal(runtime.vault, "text_sealed", text, id=statement_id), added_at=clock.now(),
        )
    )  # fmt: skip
    if dispute_id:
        _step(conn, runtime, dispute_id, "statement", person, {"statement": statement_id})
    audit.enqueue(
        conn,
        [audit.event("statement.added", person, person.person_token, statement=statement_id, furnisher=furnisher_id,
                     record_type="loan", rule="CR-16")],
    )  # fmt: skip
    return statement_view(runtime, _statement_row(conn, person, statement_id))


def remove_statement(conn: Connection, person: Actor, statement_id: str) -> None:
    row = _statement_row(conn, person, statement_id)
    if row["removed_at"] is None:
        conn.execute(update(statements).where(statements.c.id == statement_id).values(removed_at=clock.now()))
        audit.enqueue(conn, [audit.event("statement.removed", person, person.person_token, statement=statement_id)])


def statements_of(conn: Connection, runtime, person: Actor) -> list[dict]:
    return repository.statements_of(conn, runtime, person.person_token)


def decide_object(conn: Connection, runtime, person: Actor) -> None:
    decision = runtime.policy.decide("object", decisions.subject(person), ("Person", person.person_token or "none"))
    decisions.enforce(decision, person, person.person_token, "dispute.denied")
    decisions.keep(conn, decision, person, person.person_token)


# The furnisher's queue and answer ---------------------------------------------------------------


def furnisher_queue(conn: Connection, runtime, furnisher: Actor, status: str | None = None) -> list[dict]:
    """Disputes on this furnisher's records, oldest due first, with the person's reason (the
    furnisher needs it to investigate; it knows the account, never the person's token)."""
    query = select(disputes).where(disputes.c.furnisher_id == furnisher.party_id)
    if status:
        query = query.where(disputes.c.status == status)
    rows = conn.execute(query.order_by(disputes.c.due_on, disputes.c.opened_at)).mappings().all()
    texts = _texts(conn, runtime, [r["id"] for r in rows])
    return [{**_summary(dict(r), clock.today()), "reason": texts.get((r["id"], "opened"))} for r in rows]


def answer(
    conn: Connection,
    runtime,
    furnisher: Actor,
    dispute_id: str,
    *,
    action: str,
    batch_id: str | None = None,
    evidence_ref: str | None = None,
    note: str | None = None,
) -> dict:
    """The furnisher's answer: a correction (the corrected record furnished in `batch_id`) or a
    verification (the record stands; `evidence_ref` names its evidence)."""
    row = conn.execute(
        select(disputes).where(disputes.c.id == dispute_id, disputes.c.furnisher_id == furnisher.party_id)
    ).mappings().first()  # fmt: skip
    if row is None:
        raise Problem(404, "dispute_not_found", "no such dispute on your records")
    row = dict(row)
    if row["status"] != "open":
        raise Problem(409, "dispute_not_open", f"this dispute is {row['status']}; it was answered or closed")
    if action not in FURNISHER_ACTIONS:
        raise Problem(422, "invalid_action", f"action must be one of {', '.join(FURNISHER_ACTIONS)}")
    now = clock.now()
    notices = []
    if action == "correction":
        if not batch_id:
            raise Problem(422, "batch_required", "a correction names the batch that furnished the corrected record")
        corrected_at = _check_correction(conn, runtime, furnisher, row, batch_id)
        notices = _notify_lenders(conn, runtime, row, corrected_at, now)
    elif not evidence_ref:
        raise Problem(422, "evidence_required", "a verification names the evidence the record rests on")
    conn.execute(
        update(disputes)
        .where(disputes.c.id == dispute_id)
        .values(status="answered", answered_at=now, furnisher_action=action, correction_batch_id=batch_id,
                evidence_ref=evidence_ref)
    )  # fmt: skip
    details = {"action": action, "batch": batch_id, "evidence_ref": evidence_ref, "lenders_to_notify": len(notices)}
    _step(conn, runtime, dispute_id, "answered", furnisher, details, text=note)
    _log(conn, "dispute.answered", furnisher, row, action=action, batch=batch_id, lenders_to_notify=len(notices))
    _notify(conn, runtime, row, "dispute.answered", action=action)
    return {**_summary({**row, "status": "answered", "answered_at": now, "furnisher_action": action,
                        "correction_batch_id": batch_id, "evidence_ref": evidence_ref}, clock.legal_day(now)),
            "lenders_to_notify": notices}  # fmt: skip


def _check_correction(conn: Connection, runtime, furnisher: Actor, row: dict, batch_id: str) -> datetime:
    """When the corrected record was furnished, if `batch_id` is the furnisher's and holds it (for
    an identity, a batch that renewed the furnisher's version of the person's name and phone)."""
    owned = furnishing.get_batch(conn, furnisher, batch_id)["created_at"]  # 404 unless the furnisher's
    if row["record_type"] == IDENTITY:
        renewed = [v for v in runtime.vault.versions(conn, row["person_token"], None)
                   if v["furnisher_id"] == furnisher.party_id and v["updated_at"] >= owned]  # fmt: skip
        if not renewed:
            raise Problem(422, "correction_not_in_batch", "the batch did not renew your version of the person's "
                          "identity (furnish the person's records again, with the right name and phone)")  # fmt: skip
        return owned
    if not records.account_history(conn, furnisher.party_id, row["record_key"], batch_id=batch_id):
        raise Problem(
            422, "correction_not_in_batch",
            "the batch holds no record of the disputed account that stands in the store (an older as_of never "
            "replaces a newer one)",
        )  # fmt: skip
    return owned


def _notify_lenders(conn: Connection, runtime, row: dict, corrected_at: datetime, now: datetime) -> list[dict]:
    """Every lender whose report, within the notice window and before the correction arrived,
    carried the record now corrected."""
    since = clock.legal_start(add_months(clock.legal_day(now), -runtime.settings.disputes.notify_lenders_months))
    received = inquiry_records.inquiries_that_carried(conn, row["person_token"], row, since, corrected_at)
    if received:
        conn.execute(
            insert(correction_notices),
            [{"dispute_id": row["id"], "inquiry_id": r["id"], "lender_id": r["lender_id"],
              "inquired_at": r["created_at"], "created_at": now} for r in received],
        )  # fmt: skip
    lenders = names(conn, {r["lender_id"] for r in received})
    return [
        {"lender": {"id": r["lender_id"], "name": lenders[r["lender_id"]]}, "inquiry_id": r["id"],
         "inquired_at": r["created_at"]}
        for r in received
    ]  # fmt: skip


# Staff: reading and deciding ---------------------------------------------------------------------


def read(conn: Connection, runtime, staff: Actor, dispute_id: str, purpose: str) -> dict:
    """Everything about a dispute, for the member of staff handling it: allowed under their
    own account and a stated purpose, and logged with both (CR-22)."""
    row = _dispute(conn, dispute_id)
    decisions.staff_read(conn, runtime, staff, row["person_token"], purpose, dispute=dispute_id)
    _step(conn, runtime, dispute_id, "read", staff, {"purpose": purpose})
    snapshots = records.account_history(conn, row["furnisher_id"], row["record_key"], person_token=row["person_token"])
    out = _full(conn, runtime, row)
    out["record_history"] = [
        {k: v for k, v in s.items() if k not in ("person_token", "furnisher_id", "consent_ref")} for s in snapshots
    ]
    if row["record_type"] == IDENTITY:  # what the member of staff compares: every furnisher's version
        current = runtime.vault.reveal(conn, row["person_token"]).get("name")
        out["identity_versions"] = [
            {k: v[k] for k in ("furnisher_id", "as_of", "name", "phone", "differs") if k in v}
            for v in runtime.vault.versions(conn, row["person_token"], current)
        ]
    return out


def decide(conn: Connection, runtime, staff: Actor, dispute_id: str, *, outcome: str, note: str) -> dict:
    """The agency's written answer (CR-25): corrected, verified or unconfirmable."""
    row = _dispute(conn, dispute_id, lock=True)
    decisions.staff_read(conn, runtime, staff, row["person_token"], "dispute_handling", dispute=dispute_id)
    if row["status"] == "closed":
        raise Problem(409, "dispute_closed", "this dispute is already closed")
    if outcome not in OUTCOMES:
        raise Problem(422, "invalid_outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
    needs = {"corrected": "correction", "verified": "verification"}.get(outcome)
    if needs and row["furnisher_action"] != needs:
        raise Problem(
            409, "answer_missing", f"'{outcome}' needs the furnisher's {needs} first; a record nobody can confirm "
            "or correct is closed as 'unconfirmable'", rule="CR-25",
        )  # fmt: skip
    now = clock.now()
    conn.execute(
        update(disputes)
        .where(disputes.c.id == dispute_id)
        .values(status="closed", outcome=outcome, closed_at=now, closed_by=staff.party_id)
    )
    late = clock.legal_day(now) > row["due_on"]
    _step(conn, runtime, dispute_id, "decided", staff, {"outcome": outcome, "late": late}, text=note)
    _log(conn, "dispute.closed", staff, row, outcome=outcome, late=late, rule="CR-25")
    _notify(conn, runtime, row, "dispute.closed", outcome=outcome)
    return _full(conn, runtime, _dispute(conn, dispute_id))


def escalate_overdue(conn: Connection, runtime, today: date | None = None) -> int:
    """Escalate every dispute still unresolved after its due day (CR-25); each once."""
    today = today or clock.today()
    rows = conn.execute(
        select(disputes).where(
            disputes.c.status.in_(UNRESOLVED), disputes.c.due_on < today, disputes.c.escalated_at.is_(None)
        )
    ).mappings().all()  # fmt: skip
    now = clock.now()
    for row in rows:
        conn.execute(update(disputes).where(disputes.c.id == row["id"]).values(escalated_at=now))
        days = (today - row["due_on"]).days
        _step(conn, runtime, row["id"], "escalated", None, {"days_overdue": days})
        _log(conn, "dispute.escalated", None, dict(row), due_on=row["due_on"].isoformat(), rule="CR-25")
        _notify(conn, runtime, dict(row), "dispute.escalated")
    return len(rows)


# Views -------------------------------------------------------------------------------------------


def list_for_person(conn: Connection, runtime, person: Actor) -> list[dict]:
    rows = conn.execute(
        select(disputes).where(disputes.c.person_token == person.person_token).order_by(disputes.c.opened_at.desc())
    ).mappings().all()  # fmt: skip
    return [_full(conn, runtime, dict(r)) for r in rows]


def get_for_person(conn: Connection, runtime, person: Actor, dispute_id: str) -> dict:
    return _full(conn, runtime, _person_dispute(conn, person, dispute_id))


def list_for_agency(
    conn: Connection, actor: Actor, *, status: str | None = None, escalated: bool | None = None
) -> list[dict]:
    """Disputes as the agency's desk and the regulator see the list: no token, no text."""
    query = select(disputes)
    if status:
        query = query.where(disputes.c.status == status)
    if escalated is not None:
        query = query.where(disputes.c.escalated_at.is_not(None) if escalated else disputes.c.escalated_at.is_(None))
    rows = conn.execute(query.order_by(disputes.c.due_on, disputes.c.opened_at)).mappings().all()
    named = names(conn, {r["furnisher_id"] for r in rows})
    today = clock.today()
    out = []
    for r in rows:
        item = _summary(dict(r), today)
        item["furnisher"] = {"id": r["furnisher_id"], "name": named.get(r["furnisher_id"])}
        if actor.role != "agency":  # supervision sees the clock and the outcome, not whose account
            for field in ("account_id", "correction_batch_id", "evidence_ref"):
                item.pop(field)
        out.append(item)
    return out


def notices_for(conn: Connection, lender: Actor) -> list[dict]:
    """Corrections to records this lender received: which inquiry, which account, when."""
    rows = conn.execute(
        select(correction_notices, disputes.c.furnisher_id, disputes.c.record_key, disputes.c.outcome,
               disputes.c.answered_at)
        .join(disputes, disputes.c.id == correction_notices.c.dispute_id)
        .where(correction_notices.c.lender_id == lender.party_id)
        .order_by(correction_notices.c.created_at.desc())
    ).mappings().all()  # fmt: skip
    named = names(conn, {r["furnisher_id"] for r in rows})
    return [
        {"dispute_id": r["dispute_id"], "inquiry_id": r["inquiry_id"], "inquired_at": r["inquired_at"],
         "furnisher": named.get(r["furnisher_id"]), "account_id": r["record_key"], "corrected_at": r["answered_at"],
         "noticed_at": r["created_at"], "acknowledged_at": r["acknowledged_at"]}
        for r in rows
    ]  # fmt: skip


def acknowledge(conn: Connection, lender: Actor, dispute_id: str, inquiry_id: str) -> None:
    done = conn.execute(
        update(correction_notices)
        .where(correction_notices.c.dispute_id == dispute_id, correction_notices.c.inquiry_id == inquiry_id,
               correction_notices.c.lender_id == lender.party_id, correction_notices.c.acknowledged_at.is_(None))
        .values(acknowledged_at=clock.now())
    )  # fmt: skip
    if done.rowcount == 0:
        exists = conn.execute(
            select(correction_notices.c.dispute_id).where(
                correction_notices.c.dispute_id == dispute_id, correction_notices.c.inquiry_id == inquiry_id,
                correction_notices.c.lender_id == lender.party_id,
            )
        ).first()  # fmt: skip
        if exists is None:
            raise Problem(404, "notice_not_found", "no such correction notice for you")


# Pieces ---------------------------------------------------------------------------------------------


def _own_account(conn: Connection, token: str, account_id: str, furnisher: str | None) -> str:
    """The furnisher of the person's account `account_id` (named when two platforms use the id)."""
    reporting = names(conn, set(records.account_furnishers(conn, token, account_id)))
    found = [i for i, name in reporting.items() if not furnisher or furnisher in (i, name)]
    if not found:
        raise Problem(404, "record_not_found", "no account of yours with this id")
    if len(found) > 1:
        raise Problem(
            409, "record_ambiguous", "more than one platform reports an account with this id; name the furnisher",
            furnishers=sorted(reporting[i] for i in found),
        )  # fmt: skip
    return found[0]


def _dispute(conn: Connection, dispute_id: str, lock: bool = False) -> dict:
    return fetch_or_404(conn, disputes, dispute_id, "dispute_not_found", "no such dispute", lock=lock)


def _person_dispute(conn: Connection, person: Actor, dispute_id: str) -> dict:
    row = conn.execute(
        select(disputes).where(disputes.c.id == dispute_id, disputes.c.person_token == person.person_token)
    ).mappings().first()  # fmt: skip
    if row is None:
        raise Problem(404, "dispute_not_found", "no such dispute of yours")
    return dict(row)


def _statement_row(conn: Connection, person: Actor, statement_id: str) -> dict:
    row = conn.execute(
        select(statements).where(statements.c.id == statement_id, statements.c.person_token == person.person_token)
    ).mappings().first()  # fmt: skip
    if row is None:
        raise Problem(404, "statement_not_found", "no such statement of yours")
    return dict(row)


def _step(conn: Connection, runtime, dispute_id: str, step: str, actor: Actor | None, details: dict, text=None):
    append_step(
        conn, DISPUTE_TEXTS, "dispute_id", dispute_id, step, vault=runtime.vault, details=details, text=text,
        actor_id=actor.party_id if actor else None, actor_role=actor.role if actor else None,
    )  # fmt: skip


def _texts(conn: Connection, runtime, ids: list[str]) -> dict[tuple[str, str], str]:
    """The first text of each step kind per dispute (the reason is the 'opened' step's)."""
    if not ids:
        return {}
    rows = conn.execute(
        select(dispute_steps).where(dispute_steps.c.dispute_id.in_(ids), dispute_steps.c.text_sealed.is_not(None))
    ).mappings()
    out: dict[tuple[str, str], str] = {}
    for r in rows:
        text = DISPUTE_TEXTS.open(runtime.vault, "text_sealed", r)
        out.setdefault((r["dispute_id"], r["step"]), text)
    return out


def _log(conn: Connection, kind: str, actor: Actor | None, row: dict, **details) -> None:
    audit.enqueue(
        conn,
        [audit.event(kind, actor, row["person_token"], dispute=row["id"], furnisher=row["furnisher_id"],
                     record_type=row["record_type"], **details)],
    )  # fmt: skip


def _notify(conn: Connection, runtime, row: dict, kind: str, **details) -> None:
    from zhengxin.notifications.service import notify

    named = names(conn, {row["furnisher_id"]})
    notify(
        conn, runtime, row["person_token"], kind,
        {"dispute_id": row["id"], "furnisher": named.get(row["furnisher_id"]), "account_id": row["record_key"],
         "due_on": row["due_on"].isoformat(), **details},
    )  # fmt: skip


def _summary(row: dict, today: date) -> dict:
    unresolved = row["status"] in UNRESOLVED
    return {
        "id": row["id"],
        "record_type": row["record_type"],
        "account_id": row["record_key"] if row["record_type"] != IDENTITY else None,
        "status": row["status"],
        "outcome": row.get("outcome"),
        "opened_at": row["opened_at"],
        "due_on": row["due_on"],
        "overdue_days": max(0, (today - row["due_on"]).days) if unresolved else 0,
        "escalated_at": row.get("escalated_at"),
        "answered_at": row.get("answered_at"),
        "furnisher_action": row.get("furnisher_action"),
        "correction_batch_id": row.get("correction_batch_id"),
        "evidence_ref": row.get("evidence_ref"),
        "closed_at": row.get("closed_at"),
    }


def _full(conn: Connection, runtime, row: dict) -> dict:
    """A dispute with its steps and texts (for the person and the staff member handling it)."""
    steps = conn.execute(
        select(dispute_steps).where(dispute_steps.c.dispute_id == row["id"]).order_by(dispute_steps.c.seq)
    ).mappings().all()  # fmt: skip
    named = names(conn, {row["furnisher_id"]} | {s["actor_id"] for s in steps if s["actor_id"]})
    out = _summary(row, clock.today())
    out["furnisher"] = {"id": row["furnisher_id"], "name": named.get(row["furnisher_id"])}
    out["steps"] = [
        {
            "step": s["step"],
            "at": s["at"],
            "by": {"role": s["actor_role"], "name": named.get(s["actor_id"])} if s["actor_id"] else None,
            "details": s["details"],
            "text": DISPUTE_TEXTS.open(runtime.vault, "text_sealed", s) if s["text_sealed"] is not None else None,
        }
        for s in steps
    ]  # fmt: skip
    out["reason"] = next((s["text"] for s in out["steps"] if s["step"] == "opened"), None)
    out["answer"] = next((s["text"] for s in reversed(out["steps"]) if s["step"] == "decided"), None)
    notices = conn.execute(
        select(correction_notices)
        .where(correction_notices.c.dispute_id == row["id"])
        .order_by(correction_notices.c.inquired_at)
    ).all()  # fmt: skip
    lenders = names(conn, {n.lender_id for n in notices})
    out["lenders_to_notify"] = [
        {"lender": {"id": n.lender_id, "name": lenders[n.lender_id]}, "inquiry_id": n.inquiry_id,
         "inquired_at": n.inquired_at, "acknowledged_at": n.acknowledged_at}
        for n in notices
    ]  # fmt: skip
    return out
