"""Disputes, their steps, the person's statements and the notices owed to lenders.

Free text (a reason, a furnisher's note, the agency's answer, a statement) may name people,
so it is kept only sealed with a vault key, like quarantined raw records.
"""

from sqlalchemy import JSON, Column, Date, ForeignKey, Index, Integer, LargeBinary, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata, person_index
from zhengxin.kit.sealing import sealed

disputes = Table(
    "disputes",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("person_token", key(64), nullable=False),
    Column("furnisher_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("record_type", String(32), nullable=False),  # loan, consumption, travel
    Column("record_key", key(64), nullable=False),  # the account id, or the month summarised
    Column("status", String(16), nullable=False),  # open -> answered -> closed
    Column("outcome", String(16)),  # corrected | verified | unconfirmable | withdrawn, once closed
    Column("opened_at", UTCDateTime, nullable=False),
    Column("due_on", Date, nullable=False),  # the last day for the agency's answer (CR-25)
    Column("escalated_at", UTCDateTime),  # set when still open after due_on
    Column("answered_at", UTCDateTime),  # the furnisher's answer
    Column("furnisher_action", String(16)),  # correction | verification
    Column("correction_batch_id", key(40)),  # the batch that furnished the corrected record
    Column("evidence_ref", String(200)),  # the furnisher's reference to its evidence
    Column("closed_at", UTCDateTime),
    Column("closed_by", String(40)),  # the staff member who decided
)
person_index("ix_disputes_person", disputes.c.person_token)
Index("ix_disputes_furnisher", disputes.c.furnisher_id, disputes.c.status)
Index("ix_disputes_due", disputes.c.status, disputes.c.due_on)

# Every step of a dispute, in order: who did what and when, with any text sealed.
dispute_steps = Table(
    "dispute_steps",
    metadata,
    Column("dispute_id", key(40), ForeignKey("disputes.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("step", String(24), nullable=False),  # opened, answered, escalated, decided, withdrawn, read
    Column("actor_id", String(40)),  # the party (a staff member for the agency); none for the clock
    Column("actor_role", String(16)),
    Column("details", JSON, nullable=False),  # no PII: action, outcome, batch, evidence reference
    Column("key_id", String(16)),
    Column("text_sealed", LargeBinary),
    Column("at", UTCDateTime, nullable=False),
)

# A person's explanation beside a record (CR-16), shown in every later report.
statements = Table(
    "personal_statements",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("person_token", key(64), nullable=False),
    Column("furnisher_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("record_type", String(32), nullable=False),
    Column("record_key", key(64), nullable=False),
    Column("dispute_id", key(40)),
    Column("key_id", String(16), nullable=False),
    Column("text_sealed", LargeBinary, nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime),
)
person_index("ix_personal_statements_person", statements.c.person_token)

# Lenders that received a record later corrected, within the notice window: each is told.
correction_notices = Table(
    "correction_notices",
    metadata,
    Column("dispute_id", key(40), ForeignKey("disputes.id"), primary_key=True),
    Column("inquiry_id", key(40), primary_key=True),
    Column("lender_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("inquired_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime),
)
Index("ix_correction_notices_lender", correction_notices.c.lender_id, correction_notices.c.created_at)

# Texts sealed by the vault, and the context each is bound to (kit.sealing).
DISPUTE_TEXTS = sealed(dispute_steps, "key_id", text_sealed="dispute:{dispute_id}:{seq}")
STATEMENT_TEXTS = sealed(statements, "key_id", text_sealed="statement:{id}")
