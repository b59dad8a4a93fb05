"""The log in the SQL store: leaves, complete-subtree hashes, signed heads and cosignatures."""

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text

from zhengxin.kit.db import UTCDateTime, key, metadata, person_index

# One row; its lock orders appends from concurrent transactions.
log_state = Table(
    "log_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tree_size", BigInteger, nullable=False),
)

# Events committed with their business writes, waiting for the sequencer to give them a
# leaf index. Enqueueing takes no lock, so a long intake never blocks an inquiry's logging.
# A row holds one unit of work's events, one canonical-JSON leaf per line.
log_queue = Table(
    "log_queue",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("leaves", Text, nullable=False),
    Column("count", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

log_leaves = Table(
    "log_leaves",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf", Text, nullable=False),  # the canonical JSON that was hashed
    Column("leaf_hash", LargeBinary(32), nullable=False),  # the level-0 node
    Column("kind", String(48), nullable=False),
    Column("person_token", key(64)),  # whom the event is about, if anyone (never PII)
    Column("created_at", UTCDateTime, nullable=False),
)
person_index("ix_log_leaves_person", log_leaves.c.person_token)

# Hash of every complete subtree above the leaves: node_id = level << 48 | index (see
# audit.service.node_id); level-0 hashes live with their leaves.
log_nodes = Table(
    "log_nodes",
    metadata,
    Column("node_id", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

log_heads = Table(
    "log_heads",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("timestamp", BigInteger, nullable=False),  # milliseconds since the epoch, UTC
    Column("root_hash", String(64), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", String(128), nullable=False),
)

log_witness_keys = Table(
    "log_witness_keys",
    metadata,
    Column("party_id", String(40), ForeignKey("parties.id"), primary_key=True),
    Column("public_key", String(64), nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
)

log_cosignatures = Table(
    "log_cosignatures",
    metadata,
    Column("tree_size", BigInteger, ForeignKey("log_heads.tree_size"), primary_key=True),
    Column("party_id", String(40), ForeignKey("parties.id"), primary_key=True),
    Column("public_key", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("cosigned_at", UTCDateTime, nullable=False),
)
Index("ix_log_cosignatures_party", log_cosignatures.c.party_id, log_cosignatures.c.tree_size)
