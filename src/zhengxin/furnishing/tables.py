from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from zhengxin.kit.db import UTCDateTime, metadata
from zhengxin.kit.sealing import sealed

batches = Table(
    "furnishing_batches",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("furnisher_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("idempotency_key", String(200), nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("format", String(8), nullable=False),
    Column("catalog_version", String(32), nullable=False),
    Column("received", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("accepted_by_type", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=False),
    UniqueConstraint("furnisher_id", "idempotency_key"),
)

# Rejected records: nothing a furnisher sends is lost. The raw line may hold a resident ID
# or a name, so it is kept AES-GCM encrypted under a vault key, like the vault itself.
quarantine = Table(
    "furnishing_quarantine",
    metadata,
    Column("batch_id", String(40), ForeignKey("furnishing_batches.id"), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("record_type", String(32)),
    Column("field", String(100), nullable=False),
    Column("code", String(48), nullable=False, index=True),
    Column("rule", String(16)),
    Column("message", String(300), nullable=False),
    Column("errors", JSON, nullable=False),  # every problem found in the record
    Column("key_id", String(16), nullable=False),
    Column("raw_ciphertext", LargeBinary, nullable=False),
)

obligations = Table(
    "furnishing_obligations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("furnisher_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("record_types", JSON, nullable=False),
    Column("frequency", String(10), nullable=False),  # daily | weekly | monthly
    Column("first_due_on", Date, nullable=False),
    Column("note", String(500)),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_by", String(40), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Texts sealed by the vault, and the context each is bound to (kit.sealing).
QUARANTINE_TEXTS = sealed(quarantine, "key_id", raw_ciphertext="{batch_id}|{line}")
