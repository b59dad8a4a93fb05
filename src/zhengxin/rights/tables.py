"""Self-queries: the person's own reports. Online ones are free (FEE-1); counter ones, recorded
by a member of staff for a person who came in, count against the free ones of the year (CR-17)."""

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata, person_index

self_queries = Table(
    "self_queries",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("party_id", String(40), ForeignKey("parties.id"), nullable=False),  # the person, or the staff member
    Column("channel", String(8), nullable=False, server_default="online"),  # online | counter
    Column("person_token", key(64), nullable=False),
    Column("report_id", key(40), nullable=False),
    Column("fee_fen", BigInteger, nullable=False),
    Column("free", Boolean, nullable=False),
    Column("decision_id", key(40), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
person_index("ix_self_queries_person", self_queries.c.person_token)
