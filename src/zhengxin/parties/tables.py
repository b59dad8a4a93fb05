from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table, false

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

# A portal sign-in: the cookie carries the session's random id; the server keeps its hash, the
# key it was opened with and when it ends, so signing out or expiry ends it for every copy of
# the cookie (a cookie saved before sign-out opens nothing).
portal_sessions = Table(
    "portal_sessions",
    metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("key_id", String(24), ForeignKey("api_keys.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
)

# On PostgreSQL, the id of the last transaction that changed `api_keys` or `parties` (a trigger
# writes it: migration 0011). A process that keeps key holders (parties.keycache) serves one
# only while this still reads what it read before that holder: ids never repeat, so any change
# since shows.
key_holder_changes = Table(
    "key_holder_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("n", BigInteger, nullable=False),
)
