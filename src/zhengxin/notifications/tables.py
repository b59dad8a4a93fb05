"""The person's notifications, their webhook endpoint and the delivery outbox."""

from sqlalchemy import JSON, Column, Index, Integer, LargeBinary, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata, person_index
from zhengxin.kit.sealing import sealed

notifications = Table(
    "notifications",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("person_token", key(64), nullable=False),
    Column("kind", String(40), nullable=False),  # inquiry, dispute.answered, dispute.closed, ...
    Column("payload", JSON, nullable=False),  # no PII: institution names, purposes, ids
    Column("created_at", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime),
)
person_index("ix_notifications_person", notifications.c.person_token)

# One endpoint per person. The URL and the signing secret are sealed with a vault key.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("person_token", key(64), primary_key=True),
    Column("key_id", String(16), nullable=False),
    Column("url_sealed", LargeBinary, nullable=False),
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# The outbox: a row per notification to push, written in the same transaction as the
# notification; retried with backoff until the receiver answers 2xx.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("notification_id", key(40), primary_key=True),
    Column("person_token", key(64), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("locked_until", UTCDateTime),  # a deliverer's claim, so two never send the same row
    Column("delivered_at", UTCDateTime),
    Column("failed_at", UTCDateTime),  # gave up after the last retry (still in the inbox)
    Column("last_status", Integer),
    Column("last_error", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_webhook_deliveries_due", webhook_deliveries.c.delivered_at, webhook_deliveries.c.next_attempt_at)

# Texts sealed by the vault, and the context each is bound to (kit.sealing): a ciphertext moved
# to another person's row does not open.
WEBHOOK_TEXTS = sealed(
    webhook_endpoints, "key_id", url_sealed="webhook:url:{person_token}", secret_sealed="webhook:secret:{person_token}"
)
