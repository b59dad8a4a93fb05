from sqlalchemy import Boolean, Column, ForeignKey, String, Table, false

from zhengxin.kit.db import UTCDateTime, metadata

ROLES = ("agency", "furnisher", "lender", "individual", "regulator", "overseer")

parties = Table(
    "parties",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("role", String(16), nullable=False, index=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("uscc", String(18), nullable=True),  # organisations' unified social credit code
    Column("person_token", String(64), nullable=True, unique=True),  # individuals only
    Column("active", Boolean, nullable=False, default=True),
    # An agency account held by one named member of staff (CR-22: reads of a person's data are
    # attributed to a person, never to a shared operator key).
    Column("staff", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(24), primary_key=True),  # public key id, the part before the secret
    Column("party_id", String(40), ForeignKey("parties.id"), nullable=False, index=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)
