"""Offline verification: inclusion and consistency proofs (RFC 9162 §2.1.3.2 and §2.1.4.2),
signed tree heads and receipts. Needs only hashlib, cryptography and the canonical-JSON
and signature functions of `kit`."""

from __future__ import annotations

import json

from zhengxin.audit.merkle import leaf_hash, node_hash
from zhengxin.kit.canonical import canonical_json as canonical
from zhengxin.kit.signing import signature_valid


class VerificationError(ValueError):
    pass


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    if not 0 <= index < size:
        raise VerificationError("leaf index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("inclusion proof too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    """`leaf` is a leaf hash. Raises VerificationError unless the proof leads to `root`."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise VerificationError("inclusion proof does not lead to the root")


def verify_consistency(first: int, second: int, proof: list[bytes], first_root: bytes, second_root: bytes) -> None:
    """Raises VerificationError unless the tree of `second` leaves extends that of `first`."""
    if not 0 < first <= second:
        raise VerificationError("need 0 < first <= second")
    if first == second:
        if proof:
            raise VerificationError("a proof between equal sizes must be empty")
        if first_root != second_root:
            raise VerificationError("equal sizes with different roots")
        return
    if first & (first - 1) == 0:  # a power of two: the first root is the proof's start
        proof = [first_root, *proof]
    if not proof:
        raise VerificationError("empty consistency proof")
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise VerificationError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("consistency proof too short")
    if fr != first_root:
        raise VerificationError("consistency proof does not lead to the first root")
    if sr != second_root:
        raise VerificationError("consistency proof does not lead to the second root")


def head_message(head: dict) -> bytes:
    """What a tree-head signature covers."""
    return canonical({"root_hash": head["root_hash"], "timestamp": head["timestamp"], "tree_size": head["tree_size"]})


def cosign_message(head: dict) -> bytes:
    """What a witness signs: the same head, labelled so it cannot pass for the log's own signature."""
    return b"zhengxin-cosignature/v1\n" + head_message(head)


def verify_signature(public_key_hex: str, message: bytes, signature_hex: str) -> None:
    if not signature_valid(public_key_hex, message, signature_hex):
        raise VerificationError("bad signature")


def verify_head(head: dict, public_keys: dict[str, str]) -> None:
    """Check a signed tree head against the log's public keys (key id -> hex)."""
    key = public_keys.get(head["key_id"])
    if key is None:
        raise VerificationError(f"unknown log key {head['key_id']}")
    verify_signature(key, head_message(head), head["signature"])


def verify_receipt(receipt: dict, public_keys: dict[str, str]) -> None:
    """A receipt: the leaf (canonical JSON text), its index, inclusion proof and signed head."""
    head = receipt["sth"]
    verify_head(head, public_keys)
    leaf = receipt["leaf"].encode()
    if canonical(json.loads(leaf)) != leaf:
        raise VerificationError("the leaf is not canonical JSON")
    proof = receipt["inclusion_proof"]
    if proof["tree_size"] != head["tree_size"] or proof["index"] != receipt["leaf_index"]:
        raise VerificationError("the proof is for another leaf or tree size")
    h = leaf_hash(leaf)
    if proof["leaf_hash"] != h.hex():
        raise VerificationError("the leaf does not hash to the proof's leaf hash")
    verify_inclusion(
        receipt["leaf_index"], head["tree_size"], h, [bytes.fromhex(x) for x in proof["audit_path"]],
        bytes.fromhex(head["root_hash"]),
    )  # fmt: skip
