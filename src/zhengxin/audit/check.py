"""Whole-log verification, as `zhengxin log verify` runs it: against the store, or against a
running server the way an outside auditor would (using only the public endpoints)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, func, select

from zhengxin.audit import merkle
from zhengxin.audit.service import LEVEL_SHIFT
from zhengxin.audit.tables import log_cosignatures, log_heads, log_leaves, log_nodes, log_queue, log_state
from zhengxin.audit.verify import (
    VerificationError,
    cosign_message,
    verify_consistency,
    verify_head,
    verify_signature,
)

PAGE = 10_000


def _levels(hashes: list[bytes]) -> list[list[bytes]]:
    """Every complete subtree hash, level by level."""
    levels = [hashes]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


class _Nodes(dict):
    def __init__(self, levels):
        super().__init__()
        self.levels = levels

    def __missing__(self, node):
        level, index = node
        return self.levels[level][index]


def verify_store(conn: Connection, public_keys: dict[str, str], progress: Callable[[int], None] | None = None) -> dict:
    """Recompute the tree from the stored leaves; check stored subtree hashes, every signed
    head (root and signature), every head's consistency with the latest, and cosignatures."""
    problems: list[str] = []
    hashes = _leaf_hashes(conn, problems, progress)
    size = len(hashes)
    state = conn.execute(select(log_state.c.tree_size).where(log_state.c.id == 1)).scalar() or 0
    if state != size:
        problems.append(f"log state says {state} leaves but {size} are stored")
    levels = _levels(hashes)
    _check_nodes(conn, levels, problems)
    heads = conn.execute(select(log_heads).order_by(log_heads.c.tree_size)).all()
    _check_heads(heads, _Nodes(levels), size, public_keys, problems)
    _check_cosignatures(conn, problems)
    cosigned = conn.execute(select(func.count()).select_from(log_cosignatures)).scalar_one()
    waiting = conn.execute(select(func.coalesce(func.sum(log_queue.c.count), 0))).scalar_one()
    return {"tree_size": size, "heads": len(heads), "cosignatures": cosigned, "queued": waiting, "problems": problems}


def _leaf_hashes(conn: Connection, problems: list[str], progress: Callable[[int], None] | None) -> list[bytes]:
    """Every stored leaf's hash, recomputed from its data a page at a time; a gap or a stored hash
    that does not match its leaf is a problem."""
    hashes: list[bytes] = []
    expected_index = 0
    last = -1
    while True:
        rows = conn.execute(
            select(log_leaves.c.leaf_index, log_leaves.c.leaf, log_leaves.c.leaf_hash)
            .where(log_leaves.c.leaf_index > last)
            .order_by(log_leaves.c.leaf_index)
            .limit(PAGE)
        ).all()
        if not rows:
            return hashes
        for index, leaf, stored in rows:
            if index != expected_index:
                problems.append(f"leaf {expected_index}: missing (next stored leaf is {index})")
                expected_index = index
            h = merkle.leaf_hash(leaf.encode())
            if bytes(stored) != h:
                problems.append(f"leaf {index}: stored hash does not match the stored leaf data")
            hashes.append(h)
            expected_index += 1
        last = rows[-1].leaf_index
        if progress:
            progress(len(hashes))


def _check_nodes(conn: Connection, levels: list[list[bytes]], problems: list[str]) -> None:
    """Every stored subtree hash against the tree recomputed from the leaves."""
    seen = 0
    for node_id, stored in conn.execute(select(log_nodes.c.node_id, log_nodes.c.hash).order_by(log_nodes.c.node_id)):
        level, index = node_id >> LEVEL_SHIFT, node_id & ((1 << LEVEL_SHIFT) - 1)
        if level >= len(levels) or index >= len(levels[level]):
            problems.append(f"subtree (level {level}, index {index}) covers leaves the log does not hold")
            continue
        seen += 1
        if bytes(stored) != levels[level][index]:
            first = index << level
            where = f"leaf {first}" if level == 0 else f"leaves {first}..{(index + 1 << level) - 1}"
            problems.append(f"{where}: stored hash does not match the stored leaf data")
    expected_nodes = sum(len(x) for x in levels[1:])
    if seen != expected_nodes:
        problems.append(f"{expected_nodes - seen} subtree hashes are missing")


def _check_heads(heads: list, nodes: _Nodes, size: int, public_keys: dict[str, str], problems: list[str]) -> None:
    """Each signed head: its signature, its root against the stored leaves, and its consistency
    with the latest head."""
    latest = heads[-1] if heads else None
    for h in heads:
        head = {"tree_size": h.tree_size, "timestamp": h.timestamp, "root_hash": h.root_hash,
                "key_id": h.key_id, "signature": h.signature}  # fmt: skip
        try:
            verify_head(head, public_keys)
        except VerificationError as e:
            problems.append(f"head at size {h.tree_size}: {e}")
        if h.tree_size > size:
            problems.append(f"head at size {h.tree_size} covers leaves the log no longer holds ({size})")
            continue
        actual = merkle.range_hash(0, h.tree_size, nodes) if h.tree_size else merkle.EMPTY_ROOT
        if actual.hex() != h.root_hash:
            problems.append(f"head at size {h.tree_size}: signed root differs from the root of the stored leaves")
        elif latest is not None and 0 < h.tree_size <= latest.tree_size <= size:
            proof = [
                merkle.range_hash(a, b, nodes) for a, b in merkle.consistency_ranges(h.tree_size, latest.tree_size)
            ]
            try:
                verify_consistency(
                    h.tree_size, latest.tree_size, proof, bytes.fromhex(h.root_hash), bytes.fromhex(latest.root_hash)
                )
            except VerificationError as e:
                problems.append(f"head at size {h.tree_size} is not consistent with the latest head: {e}")


def _check_cosignatures(conn: Connection, problems: list[str]) -> None:
    """Each witness's cosignature over the head it signed."""
    for c in conn.execute(
        select(log_cosignatures, log_heads.c.root_hash, log_heads.c.timestamp).join(
            log_heads, log_heads.c.tree_size == log_cosignatures.c.tree_size
        )
    ):
        head = {"tree_size": c.tree_size, "timestamp": c.timestamp, "root_hash": c.root_hash}
        try:
            verify_signature(c.public_key, cosign_message(head), c.signature)
        except VerificationError:
            problems.append(f"cosignature of {c.party_id} on head {c.tree_size} does not verify")


def verify_remote(base_url: str, api_key: str, state: Path | None = None, client=None) -> dict:
    """What an outside auditor does: fetch every entry, recompute the root, check the signed
    head and its cosignatures, and the head's consistency with the one verified last time."""
    import httpx

    http = client or httpx.Client(base_url=base_url, timeout=60)
    headers = {"Authorization": f"Bearer {api_key}"}

    def get(path: str, **params):
        r = http.get(path, params=params, headers=headers)
        r.raise_for_status()
        return r.json()

    problems: list[str] = []
    head = get("/v1/log/sth")
    keys = {k["key_id"]: k["public_key"] for k in get("/v1/log/keys")["keys"]}
    try:
        verify_head(head, keys)
    except VerificationError as e:
        problems.append(f"signed tree head: {e}")
    hashes: list[bytes] = []
    while len(hashes) < head["tree_size"]:
        batch = get("/v1/log/entries", start=len(hashes), end=head["tree_size"])["entries"]
        if not batch:
            problems.append(f"the server stopped returning entries at {len(hashes)}")
            break
        for e in batch:
            if e["leaf"] is None:
                problems.append(f"leaf {e['index']} withheld: verify with a regulator or overseer key")
                hashes.append(bytes.fromhex(e["leaf_hash"]))
            else:
                hashes.append(merkle.leaf_hash(e["leaf"].encode()))
    if merkle.root(hashes).hex() != head["root_hash"]:
        problems.append(f"the entries do not hash to the signed root at size {head['tree_size']}")
    for c in head.get("cosignatures", []):
        try:
            verify_signature(c["public_key"], cosign_message(head), c["signature"])
        except VerificationError:
            problems.append(f"cosignature of {c['witness']} does not verify")
    if state is not None and state.exists():
        before = json.loads(state.read_text())
        if before["tree_size"] > head["tree_size"]:
            problems.append(f"the log shrank from {before['tree_size']} to {head['tree_size']} leaves")
        elif before["tree_size"]:
            proof = get("/v1/log/proof/consistency", first=before["tree_size"], second=head["tree_size"])["proof"]
            try:
                verify_consistency(
                    before["tree_size"], head["tree_size"], [bytes.fromhex(p) for p in proof],
                    bytes.fromhex(before["root_hash"]), bytes.fromhex(head["root_hash"]),
                )  # fmt: skip
            except VerificationError as e:
                problems.append(f"not consistent with the head verified before (size {before['tree_size']}): {e}")
    if state is not None and not problems:
        state.write_text(json.dumps({k: head[k] for k in ("tree_size", "timestamp", "root_hash")}))
    return {"tree_size": head["tree_size"], "cosignatures": len(head.get("cosignatures", [])), "problems": problems}
