"""The log in the SQL store: events enqueued within the caller's transaction, a sequencer
that adds them to the tree, signed heads, proofs, entries, cosignatures and receipts.

Business code `enqueue`s its events in its own unit of work, so an event and the write it
records commit together or not at all, and enqueueing takes no lock. The sequencer (run by
the background worker, zhengxin.background, every `log_sequence_interval_seconds`, and before
anything that needs fresh indices) locks the single `log_state` row, takes committed events
in queue order, gives them consecutive leaf indices and stores the new subtree hashes, in
bounded batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl
from sqlalchemy import Connection, bindparam, func, insert, select, union_all, update
from sqlalchemy.exc import IntegrityError

from zhengxin.audit import merkle
from zhengxin.audit.tables import (
    log_cosignatures,
    log_heads,
    log_leaves,
    log_nodes,
    log_queue,
    log_state,
    log_witness_keys,
)
from zhengxin.audit.verify import VerificationError, cosign_message, head_message, verify_signature
from zhengxin.kit import clock
from zhengxin.kit.canonical import canonical_json
from zhengxin.kit.db import write
from zhengxin.kit.errors import Problem
from zhengxin.kit.signing import SigningKeys
from zhengxin.kit.staging import insert_if_all_new
from zhengxin.parties.service import Actor, profiles
from zhengxin.runtime import Runtime

LEVEL_SHIFT = 48
MAX_ENTRIES = 1000
SEQUENCE_BATCH = 100_000
DELETE_CHUNK = 10_000
FETCH_CHUNK = 20_000  # node ids per query, of each kind


def node_id(level: int, index: int) -> int:
    return (level << LEVEL_SHIFT) | index


class LogSigner(SigningKeys):
    """The agency's Ed25519 tree-head keys: the active one signs, all of them verify."""

    @classmethod
    def from_settings(cls, settings) -> LogSigner:
        return cls(settings.log_key_bytes(), settings.log_active_key)

    def sign_head(self, head: dict) -> dict:
        return {**head, "key_id": self.active_key_id, "signature": self.sign(head_message(head))}


def log_signer(runtime: Runtime) -> LogSigner:
    """The deployment's tree-head keys, read from its settings once."""
    return runtime.kept(LogSigner, lambda: LogSigner.from_settings(runtime.settings))


def event(kind: str, actor: Actor | None, person_token: str | None = None, **details) -> dict:
    """A log event: what happened, who did it, whom it is about (a token), when. No PII."""
    body = {"v": 1, "kind": kind, "at": clock.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    if actor is not None:
        body["actor"] = {"party": actor.party_id, "role": actor.role}
    if person_token is not None:
        body["person"] = person_token
    body.update(details)
    return body


# Appending -----------------------------------------------------------------------------


def _lock_size(conn: Connection) -> int:
    query = select(log_state.c.tree_size).where(log_state.c.id == 1)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    size = conn.execute(query).scalar()
    if size is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(log_state).values(id=1, tree_size=0))
        except IntegrityError:
            pass
        size = conn.execute(query).scalar_one()
    return size


def enqueue(conn: Connection, events: Sequence[dict]) -> None:
    """Queue events for the log in the caller's unit of work."""
    enqueue_leaves(conn, [canonical_json(e).decode() for e in events])


def enqueue_leaves(conn: Connection, leaves: list[str]) -> None:
    """Queue canonical-JSON leaves (the bulk form of `enqueue`): one queue row for all of them."""
    if leaves:
        write(conn, _QUEUE, {"leaves": "\n".join(leaves), "count": len(leaves), "created_at": clock.now()})


# Built once: every unit of work that touches personal data queues here. Inline: nobody needs
# the new seq back, so no RETURNING, and the insert can join a pipeline of writes (kit.db.pipelined).
_QUEUE = insert(log_queue).inline()


def sequence(conn: Connection, max_leaves: int = SEQUENCE_BATCH) -> int:
    """Move queued events (about `max_leaves`, whole queue rows) into the tree; returns how many."""
    _lock_size(conn)  # one sequencer at a time; queue rows read after the lock are settled
    rows, total = [], 0
    for row in conn.execute(select(log_queue.c.seq, log_queue.c.leaves, log_queue.c.count).order_by(log_queue.c.seq)):
        if rows and total + row.count > max_leaves:
            break
        rows.append(row)
        total += row.count
    if not rows:
        return 0
    leaves = pl.Series("leaf", [line for r in rows for line in r.leaves.split("\n")], dtype=pl.String)
    kinds = leaves.str.json_path_match("$.kind").to_list()
    persons = leaves.str.json_path_match("$.person").to_list()
    append_leaves(conn, leaves.to_list(), kinds, persons)
    # By id, not by range: a queue row with a lower seq may commit after this read. In chunks:
    # PostgreSQL takes at most 65,535 parameters a statement, and a queue of single events
    # (one per grant or inquiry) holds that many rows before the sequencer's leaf budget.
    seqs = [r.seq for r in rows]
    for i in range(0, len(seqs), DELETE_CHUNK):
        conn.execute(log_queue.delete().where(log_queue.c.seq.in_(seqs[i : i + DELETE_CHUNK])))
    return total


def sequence_all(engine) -> int:
    """Sequence at least everything queued before this call, one bounded transaction at a time,
    oldest first. Not more passes than that takes: under a steady stream of inquiries the queue
    is never empty, and a sequencer chasing it would run without pause, a few new leaves a pass
    at its fixed cost each time (and a request that sequences before answering would wait).
    Counted in leaves, not by seq: SQLite gives a deleted last seq to the next row."""
    total, budget = 0, None
    while budget is None or total < budget:
        with engine.begin() as conn:
            if budget is None:
                budget = queued(conn)
                if budget == 0:
                    return 0
            done = sequence(conn)
        total += done
        if done == 0:
            break
    return total


def queued(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.sum(log_queue.c.count), 0))).scalar_one()


def append_leaves(conn: Connection, leaves: list[str], kinds: list[str], persons: list[str | None]) -> list[int]:
    """Add canonical-JSON leaves to the tree (the sequencer's step; business code enqueues)."""
    if not leaves:
        return []
    size = _lock_size(conn)
    hashes = [merkle.leaf_hash(leaf.encode()) for leaf in leaves]
    frontier = fetch_nodes(conn, merkle.frontier_nodes(size))
    created = merkle.new_nodes(size, hashes, frontier)
    now = clock.now()
    leaf_rows = pl.DataFrame(
        {
            "leaf_index": range(size, size + len(leaves)),
            "leaf": leaves,
            "leaf_hash": hashes,
            "kind": kinds,
            "person_token": persons,
        },
        schema={"leaf_index": pl.Int64, "leaf": pl.String, "leaf_hash": pl.Binary, "kind": pl.String,
                "person_token": pl.String},
    ).with_columns(pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("created_at"))  # fmt: skip
    inner = [(n, h) for n, h in created.items() if n[0] > 0]
    node_rows = pl.DataFrame(
        {"node_id": [node_id(*n) for n, _ in inner], "hash": [h for _, h in inner]},
        schema={"node_id": pl.Int64, "hash": pl.Binary},
    )
    if not (insert_if_all_new(conn, "log_leaves", leaf_rows) and insert_if_all_new(conn, "log_nodes", node_rows)):
        raise RuntimeError("transparency log storage already holds these indices: refusing to overwrite")
    conn.execute(update(log_state).where(log_state.c.id == 1).values(tree_size=size + len(leaves)))
    return list(range(size, size + len(leaves)))


# Reading the tree ----------------------------------------------------------------------


# One statement object, so SQLAlchemy compiles it once (proofs are on the hot path); level-0
# node ids equal leaf indices.
_NODES = union_all(
    select(log_nodes.c.node_id, log_nodes.c.hash).where(log_nodes.c.node_id.in_(bindparam("ids", expanding=True))),
    select(log_leaves.c.leaf_index, log_leaves.c.leaf_hash).where(
        log_leaves.c.leaf_index.in_(bindparam("leaves", expanding=True))
    ),
)


class MissingNodes(LookupError):
    """Subtrees that do not exist: the range asked for goes beyond the tree."""


def fetch_nodes(conn: Connection, nodes: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    wanted = {node_id(*n): n for n in nodes}
    if not wanted:
        return {}
    inner = [i for i, (level, _) in wanted.items() if level > 0]
    leaves = [i for i, (level, _) in wanted.items() if level == 0]
    found = {}
    # In chunks: PostgreSQL takes at most 65,535 parameters a statement (many proofs at once).
    for start in range(0, max(len(inner), len(leaves)), FETCH_CHUNK):
        chunk = {
            "ids": inner[start : start + FETCH_CHUNK] or [-1],
            "leaves": leaves[start : start + FETCH_CHUNK] or [-1],
        }
        found.update({wanted[node]: bytes(value) for node, value in conn.execute(_NODES, chunk)})
    if len(found) != len(wanted):
        raise MissingNodes("the tree has no such subtrees")
    return found


def tree_size(conn: Connection) -> int:
    return conn.execute(select(log_state.c.tree_size).where(log_state.c.id == 1)).scalar() or 0


def root_hash(conn: Connection, size: int) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    return merkle.range_hash(0, size, fetch_nodes(conn, merkle.range_nodes(0, size)))


def _beyond_tree() -> Problem:
    return Problem(400, "invalid_proof_request", "the sizes and index must lie within the tree")


def inclusion_proof(conn: Connection, index: int, size: int) -> dict:
    """One query: a size beyond the tree shows as subtrees that do not exist."""
    return inclusion_proofs(conn, [index], size)[0]


def inclusion_proofs(conn: Connection, indices: list[int], size: int) -> list[dict]:
    """Proofs for several leaves against one tree size, their nodes read in one query."""
    if not all(0 <= index < size for index in indices):
        raise Problem(400, "invalid_proof_request", "need 0 <= index < size")
    ranges = {index: merkle.inclusion_ranges(index, size) for index in indices}
    wanted = set(merkle.range_nodes(0, size))
    for index, its_ranges in ranges.items():
        wanted |= merkle.proof_nodes(its_ranges) | {(0, index)}
    try:
        nodes = fetch_nodes(conn, wanted)
    except MissingNodes:
        raise _beyond_tree() from None
    return [
        {
            "index": index,
            "tree_size": size,
            "leaf_hash": nodes[(0, index)].hex(),
            "audit_path": [merkle.range_hash(a, b, nodes).hex() for a, b in ranges[index]],
        }
        for index in indices
    ]


def consistency_proof(conn: Connection, first: int, second: int) -> dict:
    if not 0 < first <= second:
        raise Problem(400, "invalid_proof_request", "need 0 < first <= second")
    ranges = merkle.consistency_ranges(first, second)
    try:
        hashes = merkle.resolve(ranges, lambda n: fetch_nodes(conn, n | set(merkle.range_nodes(0, second))))
    except MissingNodes:
        raise _beyond_tree() from None
    return {"first": first, "second": second, "proof": [h.hex() for h in hashes]}


FULL_VIEW_ROLES = ("agency", "regulator", "overseer")


def entries(conn: Connection, actor: Actor, start: int, end: int) -> dict:
    """Leaves [start, end). The agency, the regulator and the overseers read every leaf; an
    individual reads the leaves about them, a lender or furnisher the ones it acted in; of the
    others they get the leaf hash, enough to check the tree. (A lender reading other lenders'
    inquiries in the log would see them named, which RPT-2 forbids.)"""
    if start < 0 or end <= start:
        raise Problem(400, "invalid_range", "need 0 <= start < end")
    end = min(end, start + MAX_ENTRIES)
    rows = conn.execute(
        select(log_leaves.c.leaf_index, log_leaves.c.leaf, log_leaves.c.person_token)
        .where(log_leaves.c.leaf_index >= start, log_leaves.c.leaf_index < end)
        .order_by(log_leaves.c.leaf_index)
    ).all()
    mine = f'"actor":{{"party":{canonical_json(actor.party_id).decode()},'  # as canonical JSON writes it
    out = []
    for r in rows:
        if actor.role in FULL_VIEW_ROLES:
            visible = True
        elif actor.role == "individual":
            visible = r.person_token == actor.person_token
        else:
            visible = mine in r.leaf
        item = {"index": r.leaf_index, "leaf": r.leaf}
        if not visible:
            item = {"index": r.leaf_index, "leaf": None, "leaf_hash": merkle.leaf_hash(r.leaf.encode()).hex()}
        out.append(item)
    return {"entries": out}


# Signed tree heads ------------------------------------------------------------------------


def _head_row(row) -> dict:
    return {
        "tree_size": row.tree_size,
        "timestamp": row.timestamp,
        "root_hash": row.root_hash,
        "key_id": row.key_id,
        "signature": row.signature,
    }


def sign_head(conn: Connection, signer: LogSigner) -> dict:
    """Sign the current tree (one head per tree size; an unchanged tree keeps its head)."""
    size = tree_size(conn)
    existing = conn.execute(select(log_heads).where(log_heads.c.tree_size == size)).first()
    if existing is not None:
        return _head_row(existing)
    head = signer.sign_head(
        {"tree_size": size, "timestamp": int(clock.now().timestamp() * 1000), "root_hash": root_hash(conn, size).hex()}
    )
    try:
        with conn.begin_nested():
            conn.execute(insert(log_heads).values(**head))
    except IntegrityError:  # signed concurrently
        return _head_row(conn.execute(select(log_heads).where(log_heads.c.tree_size == size)).one())
    return head


def latest_head(conn: Connection) -> dict | None:
    row = conn.execute(select(log_heads).order_by(log_heads.c.tree_size.desc()).limit(1)).first()
    if row is None:
        return None
    head = _head_row(row)
    cosigs = conn.execute(
        select(log_cosignatures.c.party_id, log_cosignatures.c.public_key, log_cosignatures.c.signature)
        .where(log_cosignatures.c.tree_size == head["tree_size"])
    ).all()  # fmt: skip
    witnesses = profiles(conn, {c.party_id for c in cosigs})
    head["cosignatures"] = sorted(
        ({"witness": witnesses[c.party_id]["name"], "role": witnesses[c.party_id]["role"],
          "public_key": c.public_key, "signature": c.signature} for c in cosigs),
        key=lambda c: c["witness"],
    )  # fmt: skip
    return head


def recent_heads(conn: Connection, limit: int = 20) -> list[dict]:
    """The latest signed heads, largest tree first: what an overseer compares for consistency."""
    rows = conn.execute(select(log_heads).order_by(log_heads.c.tree_size.desc()).limit(limit)).all()
    return [_head_row(r) for r in rows]


def head_at(conn: Connection, size: int) -> dict:
    row = conn.execute(select(log_heads).where(log_heads.c.tree_size == size)).first()
    if row is None:
        raise Problem(404, "head_not_found", f"no signed tree head of size {size}")
    return _head_row(row)


def head_covering(conn: Connection, signer: LogSigner, index: int) -> dict:
    """The newest signed head that includes leaf `index`, signing one if none does yet."""
    head = latest_head(conn)
    if head is None or head["tree_size"] <= index:
        sign_head(conn, signer)
        head = latest_head(conn)
    return head


# Witnesses --------------------------------------------------------------------------------


def register_witness_key(conn: Connection, actor: Actor, public_key: str) -> dict:
    try:
        if len(bytes.fromhex(public_key)) != 32:
            raise ValueError
    except ValueError:
        raise Problem(422, "invalid_public_key", "public_key must be 32 bytes of Ed25519 key, hex") from None
    row = {"party_id": actor.party_id, "public_key": public_key.lower(), "registered_at": clock.now()}
    if conn.execute(select(log_witness_keys).where(log_witness_keys.c.party_id == actor.party_id)).first():
        conn.execute(update(log_witness_keys).where(log_witness_keys.c.party_id == actor.party_id).values(**row))
    else:
        conn.execute(insert(log_witness_keys).values(**row))
    return row


def cosign(conn: Connection, actor: Actor, head: dict, signature: str) -> dict:
    """Record a witness's cosignature of a head the log really signed."""
    key = conn.execute(
        select(log_witness_keys.c.public_key).where(log_witness_keys.c.party_id == actor.party_id)
    ).scalar()
    if key is None:
        raise Problem(409, "witness_key_missing", "register your witness key first (POST /v1/log/witnesses/key)")
    stored = conn.execute(select(log_heads).where(log_heads.c.tree_size == head["tree_size"])).first()
    if stored is None or (stored.root_hash, stored.timestamp) != (head["root_hash"], head["timestamp"]):
        raise Problem(409, "unknown_head", "the log never signed this tree head")
    try:
        verify_signature(key, cosign_message(head), signature)
    except VerificationError:
        raise Problem(422, "bad_cosignature", "the signature does not verify with your registered key") from None
    last = conn.execute(
        select(func.max(log_cosignatures.c.tree_size)).where(log_cosignatures.c.party_id == actor.party_id)
    ).scalar()
    if last is not None and last > head["tree_size"]:
        raise Problem(409, "cosign_rollback", "you already cosigned a larger tree")
    if last == head["tree_size"]:
        return {"tree_size": last, "party_id": actor.party_id}
    conn.execute(
        insert(log_cosignatures).values(
            tree_size=head["tree_size"], party_id=actor.party_id, public_key=key, signature=signature,
            cosigned_at=clock.now(),
        )
    )  # fmt: skip
    return {"tree_size": head["tree_size"], "party_id": actor.party_id}


def witness_status(conn: Connection) -> dict:
    """Each witness's last cosigned head and how far it lags the log."""
    size = tree_size(conn)
    head = latest_head(conn)
    last = (
        select(log_cosignatures.c.party_id, func.max(log_cosignatures.c.tree_size).label("size"))
        .group_by(log_cosignatures.c.party_id)
        .subquery()
    )
    rows = conn.execute(
        select(log_witness_keys.c.party_id, last.c.size)
        .outerjoin(last, last.c.party_id == log_witness_keys.c.party_id)
    ).all()  # fmt: skip
    witnesses = profiles(conn, {r.party_id for r in rows})
    return {
        "tree_size": size,
        "signed_tree_size": head["tree_size"] if head else 0,
        "witnesses": sorted(
            ({"party_id": r.party_id, "name": witnesses[r.party_id]["name"], "role": witnesses[r.party_id]["role"],
              "cosigned_tree_size": r.size or 0, "lag_leaves": size - (r.size or 0)} for r in rows),
            key=lambda w: w["name"],
        ),
    }  # fmt: skip


# Receipts -----------------------------------------------------------------------------------


def my_leaves(conn: Connection, actor: Actor, limit: int = 1000) -> list[dict]:
    rows = conn.execute(
        select(log_leaves.c.leaf_index, log_leaves.c.kind, log_leaves.c.created_at)
        .where(log_leaves.c.person_token == actor.person_token)
        .order_by(log_leaves.c.leaf_index)
        .limit(limit)
    ).all()
    return [{"leaf_index": r.leaf_index, "kind": r.kind, "at": r.created_at} for r in rows]


def events_about(conn: Connection, person_token: str, limit: int = 1000) -> list:
    """The logged events about a person, newest first: leaf_index and the leaf's canonical JSON."""
    return conn.execute(
        select(log_leaves.c.leaf_index, log_leaves.c.leaf)
        .where(log_leaves.c.person_token == person_token)
        .order_by(log_leaves.c.leaf_index.desc())
        .limit(limit)
    ).all()


def receipt(conn: Connection, signer: LogSigner, actor: Actor, leaf_index: int) -> dict:
    """Everything needed to check offline that this event about the person is in the log."""
    row = conn.execute(select(log_leaves).where(log_leaves.c.leaf_index == leaf_index)).first()
    if row is None or actor.person_token is None or row.person_token != actor.person_token:
        raise Problem(404, "receipt_not_found", "no such event about you")
    head = head_covering(conn, signer, leaf_index)
    return {
        "leaf_index": leaf_index,
        "leaf": row.leaf,
        "inclusion_proof": inclusion_proof(conn, leaf_index, head["tree_size"]),
        "sth": head,
        "log_key": {"key_id": head["key_id"], "public_key": signer.public_keys()[head["key_id"]]},
    }
