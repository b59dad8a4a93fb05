"""Transfer requests and the one export each approval allows.

A request keeps what was asked, the cumulative figures it was judged on (XB-SPLIT), the route
and every rule that decided it, so the regulator and the overseers can see why."""

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, ForeignKey, Index, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata

transfers = Table(
    "transfers",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("requester_id", String(40), ForeignKey("parties.id"), nullable=False),
    Column("destination", String(2), nullable=False),  # ISO 3166-1 alpha-2, never CN
    Column("recipient", String(200), nullable=False),  # the receiving organisation abroad
    Column("record_types", JSON, nullable=False),
    Column("data_grade", String(16), nullable=False),  # DSL-21: general | important | core
    Column("persons", BigInteger, nullable=False),
    Column("sensitive_persons", BigInteger, nullable=False),
    # This request plus the requester's earlier live requests of the year (XB-SPLIT).
    Column("cumulative_persons", BigInteger, nullable=False),
    Column("cumulative_sensitive", BigInteger, nullable=False),
    Column("credit_data", Boolean, nullable=False),  # CR-24: any record type is credit data
    Column("separate_consent", Boolean, nullable=False),  # PIPL-39, as the requester attests
    Column("foreign_authority", Boolean, nullable=False),  # PIPL-41 / DSL-36
    Column("route", String(24), nullable=False),  # denied | security_assessment | standard_contract | exempt
    Column("rules", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # pending -> approved | rejected; or denied / approved at once
    Column("decision_id", key(40), nullable=False),  # the gate's policy decision
    Column("created_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime),  # when it left pending (or was approved or denied at once)
    Column("decided_by", String(40)),  # the regulator; none when the gate decided alone
    Column("note", String(2000)),  # the regulator's note
    Column("valid_until", Date),  # XB-VALID: the last day a security assessment approval holds
)
Index("ix_transfers_requester", transfers.c.requester_id, transfers.c.created_at)
Index("ix_transfers_status", transfers.c.status, transfers.c.created_at)

# One export per approval: the transfer id is the key.
transfer_exports = Table(
    "transfer_exports",
    metadata,
    Column("transfer_id", key(40), ForeignKey("transfers.id"), primary_key=True),
    Column("persons", BigInteger, nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("decision_id", key(40), nullable=False),  # the export's policy decision
    Column("created_by", String(40), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
