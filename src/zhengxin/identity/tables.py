"""The PII vault: the only place a name, resident ID or phone number is kept, encrypted."""

from sqlalchemy import Column, LargeBinary, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata

pii_vault = Table(
    "pii_vault",
    metadata,
    Column("person_token", key(64), primary_key=True),
    Column("key_id", String(16), nullable=False, index=True),
    # 12-byte nonce || AES-256-GCM(JSON {"person_id", "name", "phone"}) with its tag
    Column("ciphertext", LargeBinary, nullable=False),
    # keyed hash of the plaintext: tells a changed name or phone without decrypting
    Column("digest", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
