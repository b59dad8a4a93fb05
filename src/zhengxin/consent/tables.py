"""Authorizations as issued: the signed artefact and the columns the decision point reads."""

from sqlalchemy import JSON, Boolean, Column, Date, ForeignKey, Index, Integer, String, Table, Text

from zhengxin.kit.db import UTCDateTime, key, metadata, person_index

authorizations = Table(
    "authorizations",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("lender_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("person_token", key(64), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("products", JSON, nullable=False),
    Column("scopes", JSON, nullable=False),  # record types
    Column("separate_consent", Boolean, nullable=False),
    Column("max_inquiries", Integer, nullable=False),  # fair use: per product ...
    Column("per_days", Integer, nullable=False),  # ... within each window of days (0: ever)
    Column("issued_at", UTCDateTime, nullable=False),
    Column("expires_on", Date, nullable=False),  # last valid day (a legal day: Beijing)
    Column("revoked_at", UTCDateTime),  # the one thing that changes after issue
    Column("artefact", Text, nullable=False),  # the canonical JSON that was signed
    Column("key_id", String(32), nullable=False),
    Column("signature", String(128), nullable=False),
)
person_index("ix_authorizations_person", authorizations.c.person_token)
Index("ix_authorizations_lender", authorizations.c.lender_id, authorizations.c.issued_at)

# A person's withdrawal of consent to a record type (PIPL-15): from that moment the agency
# neither uses nor keeps nor accepts that type about them (the sensitive ones above all:
# travel is whereabouts, PIPL-28). Lifted only by the person.
consent_withdrawals = Table(
    "consent_withdrawals",
    metadata,
    Column("person_token", key(64), primary_key=True),
    Column("record_type", String(32), primary_key=True),
    Column("withdrawn_at", UTCDateTime, nullable=False),
)
