"""The PII vault: the only place a name, resident ID or phone number is kept, encrypted."""

from sqlalchemy import Column, Date, LargeBinary, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata
from zhengxin.kit.sealing import sealed

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

# Each furnisher's own version of a person's name and phone, as it last reported them (issue 18):
# kept side by side and never overwritten by another furnisher's, so a second source that
# names the same resident ID differently shows as a conflict (PIPL-46, CR-25) instead of
# silently replacing the first. The vault row above holds the current values (the most recent
# report).
identity_versions = Table(
    "identity_versions",
    metadata,
    Column("person_token", key(64), primary_key=True),
    Column("furnisher_id", key(40), primary_key=True),
    Column("key_id", String(16), nullable=False, index=True),
    # AES-256-GCM(JSON {"name", "phone"}), sealed under IDENTITY_VERSIONS' context
    Column("ciphertext", LargeBinary, nullable=False),
    # keyed hash of the name: conflicts are counted without decrypting anything
    Column("name_digest", String(64), nullable=False),
    Column("as_of", Date, nullable=False),  # the date of the report the version comes from
    Column("updated_at", UTCDateTime, nullable=False),
)
IDENTITY_VERSIONS = sealed(identity_versions, "key_id", ciphertext="identity:{person_token}:{furnisher_id}")

# Persons under 14 met at intake (PIPL-28, PIPL-31): whatever the record type, their information
# is sensitive until `adult_on`, their 14th birthday. Kept from the resident ID's birth date at
# intake, so counting them never needs the vault opened.
minors = Table(
    "minors",
    metadata,
    Column("person_token", key(64), primary_key=True),
    Column("adult_on", Date, nullable=False),
)
