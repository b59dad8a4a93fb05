from sqlalchemy import Column, LargeBinary, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata, person_index
from zhengxin.kit.sealing import sealed

KINDS = ("person", "identity_theft")  # placed by the person; by the agency on a verified report

fraud_alerts = Table(
    "fraud_alerts",
    metadata,
    Column("id", key(40), primary_key=True),
    Column("person_token", key(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("placed_by", String(40), nullable=False),  # the party: the person, or the member of staff
    Column("key_id", String(16)),
    # The identity-theft statement, sealed: about the person's identity, not one account.
    Column("statement_sealed", LargeBinary),
    Column("placed_at", UTCDateTime, nullable=False),
    Column("lifted_at", UTCDateTime),
)
person_index("ix_fraud_alerts_person", fraud_alerts.c.person_token)

ALERT_TEXTS = sealed(fraud_alerts, "key_id", statement_sealed="fraud-alert:{id}")
