from sqlalchemy import JSON, Boolean, Column, Index, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata, person_index

# One row per decision (allowed or denied): supervision counts denials by rule from here;
# the same record is in the transparency log leaf of the event it decided.
policy_decisions = Table(
    "policy_decisions",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("action", String(32), nullable=False),
    Column("party_id", String(40), nullable=False),
    Column("role", String(16), nullable=False),
    Column("person_token", key(64)),
    Column("allowed", Boolean, nullable=False),
    Column("rules", JSON, nullable=False),
    Column("code", String(48)),  # a deny's error code
    Column("revision", String(64), nullable=False),  # SHA-256 of the policy files
    Column("created_at", UTCDateTime, nullable=False),
)
person_index("ix_policy_decisions_person", policy_decisions.c.person_token)
Index("ix_policy_decisions_created", policy_decisions.c.created_at)
