"""Complaints and their answers; both texts may name people, so they are kept only sealed."""

from sqlalchemy import Column, Date, Index, LargeBinary, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata, person_index
from zhengxin.kit.sealing import sealed

complaints = Table(
    "complaints",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("person_token", key(64), nullable=False),
    Column("subject", String(16), nullable=False),  # inquiry | dispute | report | score | data_use | other
    Column("reference", String(64)),  # the inquiry, dispute or score complained about, if any
    Column("key_id", String(16), nullable=False),
    Column("text_sealed", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # open -> answered
    Column("opened_at", UTCDateTime, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("answered_at", UTCDateTime),
    Column("answered_by", String(40)),  # the member of staff who answered
    Column("answer_key_id", String(16)),
    Column("answer_sealed", LargeBinary),
)
person_index("ix_complaints_person", complaints.c.person_token)
Index("ix_complaints_status", complaints.c.status, complaints.c.due_on)

# Texts sealed by the vault, and the context each is bound to (kit.sealing).
COMPLAINT_TEXTS = sealed(complaints, "key_id", text_sealed="complaint:{id}")
ANSWER_TEXTS = sealed(complaints, "answer_key_id", answer_sealed="complaint-answer:{id}")
