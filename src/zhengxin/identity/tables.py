"""The PII vault: the only place a name, resident ID or phone number is kept, encrypted."""

from sqlalchemy import Column, LargeBinary, String, Table

from zhengxin.kit.db import UTCDateTime, metadata

pii_vault = Table(
    "pii_vault",
    metadata,
    Column("person_token", String(64), primary_key=True),
    Column("field", String(16), primary_key=True),  # person_id | name | phone
    Column("key_id", String(16), nullable=False, index=True),
    Column("ciphertext", LargeBinary, nullable=False),  # 12-byte nonce || AES-GCM ciphertext+tag
    Column("digest", String(64), nullable=False),  # keyed hash of the value: detects change without decrypting
    Column("updated_at", UTCDateTime, nullable=False),
)
