"""Complaints about how a person's data was handled (PIPL-58: the independent overseers read
them; PIPL-45's response period, `rights_response_days`, is the answer's due day).

Texts are sealed with the vault. Reading one is an access to the person's data, so it is
logged: a member of staff reads under the CR-22 staff policy with the purpose `complaint`;
an overseer or the regulator reads as the supervising body, logged the same way."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, insert, select, update

from zhengxin.audit import service as audit
from zhengxin.complaints.tables import ANSWER_TEXTS, COMPLAINT_TEXTS, complaints
from zhengxin.decisions import service as decisions
from zhengxin.kit import clock
from zhengxin.kit.db import fetch_or_404
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.notifications import service as notifications
from zhengxin.parties.service import Actor

SUBJECTS = ("inquiry", "dispute", "report", "score", "data_use", "other")
MAX_TEXT = 4000
_LISTED = [c for c in complaints.c if c.name not in ("text_sealed", "answer_sealed", "key_id", "answer_key_id")]


def file(conn: Connection, runtime, person: Actor, *, subject: str, reference: str | None, text: str) -> dict:
    if subject not in SUBJECTS:
        raise Problem(422, "invalid_subject", f"subject must be one of {', '.join(SUBJECTS)}")
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise Problem(422, "invalid_text", f"say what went wrong in 1 to {MAX_TEXT} characters")
    now = clock.now()
    complaint_id = new_id("cmp")
    row = {
        "id": complaint_id, "person_token": person.person_token, "subject": subject, "reference": reference,
        "key_id": runtime.vault.active_key_id,
        "text_sealed": COMPLAINT_TEXTS.seal(runtime.vault, "text_sealed", text, id=complaint_id),
        "status": "open", "opened_at": now,
        "due_on": clock.legal_day(now) + timedelta(days=runtime.settings.rules.rights_response_days),
    }  # fmt: skip
    conn.execute(insert(complaints).values(**row))
    audit.enqueue(conn, [audit.event("complaint.filed", person, person.person_token, complaint=complaint_id,
                                     subject=subject, rule="PIPL-58")])  # fmt: skip
    view = _view({**row, "answered_at": None})
    view.pop("person_token")
    return view


def list_mine(conn: Connection, runtime, person: Actor) -> list[dict]:
    mine = select(complaints).where(complaints.c.person_token == person.person_token)
    rows = conn.execute(mine.order_by(complaints.c.opened_at.desc())).mappings().all()
    views = [_view(r, runtime) for r in rows]  # the person's own texts, unsealed
    for v in views:
        v.pop("person_token")
    return views


def list_all(conn: Connection, *, status: str | None = None, overdue: bool | None = None) -> list[dict]:
    """Every complaint without its texts (no person token either): subject, dates, lateness."""
    query = select(*_LISTED).order_by(complaints.c.opened_at.desc())
    if status:
        query = query.where(complaints.c.status == status)
    views = [_view(r) for r in conn.execute(query).mappings()]
    for v in views:
        v.pop("person_token", None)
    return [v for v in views if overdue is None or v["overdue"] == overdue]


def read(conn: Connection, runtime, reader: Actor, complaint_id: str) -> dict:
    """One complaint with its texts, logged as an access to the person's data."""
    row = _get(conn, complaint_id)
    if reader.role == "agency":
        decisions.staff_read(conn, runtime, reader, row["person_token"], "complaint", complaint=complaint_id)
    else:
        audit.enqueue(conn, [audit.event("complaint.read", reader, row["person_token"], complaint=complaint_id,
                                         rule="PIPL-58")])  # fmt: skip
    view = _view(row, runtime)
    view.pop("person_token")
    return view


def answer(conn: Connection, runtime, staff: Actor, complaint_id: str, text: str) -> dict:
    if not staff.staff:
        raise Problem(403, "staff_account_required", "answers come from a named member of staff", rule="CR-22")
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise Problem(422, "invalid_text", f"the answer must be 1 to {MAX_TEXT} characters")
    row = _get(conn, complaint_id, lock=True)
    if row["status"] != "open":
        raise Problem(409, "complaint_not_open", "this complaint has been answered")
    now = clock.now()
    conn.execute(
        update(complaints).where(complaints.c.id == complaint_id).values(
            status="answered", answered_at=now, answered_by=staff.party_id, answer_key_id=runtime.vault.active_key_id,
            answer_sealed=ANSWER_TEXTS.seal(runtime.vault, "answer_sealed", text, id=complaint_id),
        )
    )  # fmt: skip
    late = clock.legal_day(now) > row["due_on"]
    audit.enqueue(conn, [audit.event("complaint.answered", staff, row["person_token"], complaint=complaint_id,
                                     late=late, rule="PIPL-58")])  # fmt: skip
    notifications.notify(conn, runtime, row["person_token"], "complaint.answered",
                         {"complaint_id": complaint_id, "late": late})  # fmt: skip
    return read(conn, runtime, staff, complaint_id)


def counts(conn: Connection, start, end) -> dict:
    """Complaints opened in [start, end), by subject, and how they were answered (the oversight report)."""
    rows = conn.execute(
        select(complaints.c.subject, complaints.c.status, complaints.c.due_on, complaints.c.answered_at)
        .where(complaints.c.opened_at >= start, complaints.c.opened_at < end)
    ).all()  # fmt: skip
    by_subject = {s: sum(r.subject == s for r in rows) for s in SUBJECTS}
    on_time = sum(r.answered_at is not None and r.answered_at.date() <= r.due_on for r in rows)
    late = sum(r.answered_at is not None and r.answered_at.date() > r.due_on for r in rows)
    return {"by_subject": by_subject, "answered_on_time": on_time, "answered_late": late,
            "open": sum(r.status == "open" for r in rows)}  # fmt: skip


def _get(conn: Connection, complaint_id: str, lock: bool = False) -> dict:
    return fetch_or_404(conn, complaints, complaint_id, "complaint_not_found", "no such complaint", lock=lock)


def _view(row, runtime=None) -> dict:
    today = clock.today()
    view = {
        "id": row["id"], "person_token": row["person_token"], "subject": row["subject"],
        "reference": row["reference"], "status": row["status"], "opened_at": row["opened_at"],
        "due_on": row["due_on"], "answered_at": row["answered_at"],
        "overdue": row["status"] == "open" and today > row["due_on"],
        "late": row["answered_at"] is not None and row["answered_at"].date() > row["due_on"],
    }  # fmt: skip
    if runtime is not None:
        view["text"] = COMPLAINT_TEXTS.open(runtime.vault, "text_sealed", row)
        view["answer"] = ANSWER_TEXTS.open(runtime.vault, "answer_sealed", row) if row["answer_sealed"] else None
    return view
