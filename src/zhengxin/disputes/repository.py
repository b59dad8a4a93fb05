"""The dispute queries reports need on every assembly (kept apart from the service, which
depends on reports)."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, exists, or_, select

from zhengxin.disputes.tables import STATEMENT_TEXTS, disputes, statements
from zhengxin.kit.db import Read, as_dicts, read

UNRESOLVED = ("open", "answered")
IDENTITY = "identity"  # the record type (and key) of an objection to a furnisher's version of one's identity

# Built once: every report runs these.
_FLAGGED = (
    select(
        disputes.c.id, disputes.c.furnisher_id, disputes.c.record_type, disputes.c.record_key, disputes.c.status,
        disputes.c.outcome, disputes.c.opened_at, disputes.c.due_on,
    )
    .where(
        disputes.c.person_token == bindparam("token"),
        or_(*(disputes.c.status == status for status in UNRESOLVED), disputes.c.outcome == "unconfirmable"),
    )
    .order_by(disputes.c.opened_at)
)  # fmt: skip
_STATEMENTS = (
    select(statements)
    .where(statements.c.person_token == bindparam("token"), statements.c.removed_at.is_(None))
    .order_by(statements.c.added_at)
)
_STATEMENT_ROWS = as_dicts(_STATEMENTS)


def flagged_read(person_token: str) -> Read:
    """The person's flagged records (unresolved, or closed unconfirmable: CR-25 keeps both)."""
    return Read(_FLAGGED, {"token": person_token}, as_dicts(_FLAGGED))


def statements_of(conn: Connection, runtime, person_token: str) -> list[dict]:
    """The person's statements in force, oldest first, their text unsealed."""
    return read(conn, statements_read(runtime, person_token))


def statements_read(runtime, person_token: str) -> Read:
    return Read(_STATEMENTS, {"token": person_token},
                lambda rows: [statement_view(runtime, row) for row in _STATEMENT_ROWS(rows)])  # fmt: skip


def statement_view(runtime, row: dict) -> dict:
    return {
        "id": row["id"],
        "furnisher_id": row["furnisher_id"],
        "record_type": row["record_type"],
        "account_id": row["record_key"],
        "dispute_id": row["dispute_id"],
        "text": STATEMENT_TEXTS.open(runtime.vault, "text_sealed", row),
        "added_at": row["added_at"],
    }


def open_dispute_exists(person_token):
    """SQL: a dispute not yet closed names this person (`person_token`: a column): the agency
    still owes them a written answer (CR-25)."""
    return exists().where(disputes.c.person_token == person_token, disputes.c.status != "closed")
