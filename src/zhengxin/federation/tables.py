"""The federation's member list (authoritative on the regulator's node) and the nonces of the
signed requests a member has received (each accepted once)."""

from sqlalchemy import JSON, Column, Index, Integer, LargeBinary, String, Table

from zhengxin.kit.db import UTCDateTime, key, metadata, person_index

federation_members = Table(
    "federation_members",
    metadata,
    Column("uscc", key(18), primary_key=True),  # the agency's unified social credit code, its key id
    Column("name", String(200), nullable=False),
    Column("base_url", String(300), nullable=False),
    Column("signing_key", String(64), nullable=False),  # Ed25519 public key, hex: verifies its requests
    # Its authorization artefact keys ({key_id: Ed25519 public key, hex}): a peer checks with them
    # that the person authorized the summary it is asked for.
    Column("artefact_keys", JSON),
    Column("admitted_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime),  # removed: refused from the next request on
)

federation_nonces = Table(
    "federation_nonces",
    metadata,
    Column("key_id", key(18), primary_key=True),
    Column("nonce", key(64), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
)
Index("ix_federation_nonces_seen", federation_nonces.c.seen_at)

# Each person's federation pseudonym beside their token (this agency's own pepper): what other
# members will ask about. The same person has the same pseudonym at every member.
federation_pseudonyms = Table(
    "federation_pseudonyms",
    metadata,
    Column("person_token", key(64), primary_key=True),
    Column("pseudonym", key(128), nullable=False),
    Column("derived_at", UTCDateTime, nullable=False),
)
person_index("ix_federation_pseudonyms_pseudonym", federation_pseudonyms.c.pseudonym)

# The regulator's node: each PSI cardinality run between two members (federation/psi.py). The
# responder's doubly blinded elements wait here for the initiator's, then are dropped: only the
# sizes and the count are kept.
federation_psi_runs = Table(
    "federation_psi_runs",
    metadata,
    Column("run_id", key(40), primary_key=True),
    Column("month", String(7), nullable=False),
    Column("initiator", key(18), nullable=False),
    Column("responder", key(18), nullable=False),
    Column("pending", LargeBinary),  # the first submission's elements, until the second arrives
    Column("pending_role", String(10)),
    Column("initiator_persons", Integer),
    Column("responder_persons", Integer),
    Column("count", Integer),  # persons with open loans at both
    Column("started_at", UTCDateTime, nullable=False),
    Column("counted_at", UTCDateTime),
)
Index("ix_federation_psi_runs_month", federation_psi_runs.c.month)

# A member's side: the PSI runs it started, one per month and peer (the background worker
# starts each once, the month after, and tries again at its next turn if the peer was down).
federation_psi_sent = Table(
    "federation_psi_sent",
    metadata,
    Column("month", String(7), primary_key=True),
    Column("peer", key(18), primary_key=True),
    Column("run_id", key(40), nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
)
