"""Every allowed inquiry (CR-22: who, when, what, why) and the records each report used."""

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata, person_index

inquiries = Table(
    "inquiries",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("lender_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("person_token", key(64), nullable=False),
    Column("authorization_id", key(40), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("product", String(16), nullable=False),
    Column("fee_fen", BigInteger, nullable=False),
    Column("decision_id", key(40), nullable=False),
    Column("report_id", key(40), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # With the `federation` scope: which members were asked and how each answered (never a figure).
    Column("federation", JSON),
)
person_index("ix_inquiries_person", inquiries.c.person_token)
Index("ix_inquiries_lender", inquiries.c.lender_id, inquiries.c.created_at)
Index("ix_inquiries_authorization", inquiries.c.authorization_id, inquiries.c.product, inquiries.c.created_at)

# What each sold report was built from: one row per loan account, one per furnisher and
# summary type (with how many monthly records). Billing shares fees by it; a corrected
# record's earlier recipients are found through it.
inquiry_sources = Table(
    "inquiry_sources",
    metadata,
    Column("inquiry_id", key(40), primary_key=True),
    Column("furnisher_id", key(40), primary_key=True),
    Column("record_type", String(32), primary_key=True),
    Column("record_key", key(64), primary_key=True),  # account id, or the months covered
    Column("records", Integer, nullable=False),
)
Index("ix_inquiry_sources_record", inquiry_sources.c.furnisher_id, inquiry_sources.c.record_key)
