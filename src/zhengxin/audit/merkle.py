"""RFC 6962 / RFC 9162 Merkle tree hashing and proofs.

leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right), a tree of n
leaves splits at the largest power of two below n. Proofs are computed from the hashes of
complete subtrees ("nodes"), so no proof rehashes more than O(log n) of the tree: a node is
(level, index), covering leaves [index * 2^level, (index + 1) * 2^level).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping

Node = tuple[int, int]  # (level, index)
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: list[bytes]) -> bytes:
    """MTH of a list of leaf hashes, by the stack of complete subtrees (no recursion)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    stack: list[tuple[int, bytes]] = []  # (size, hash), sizes strictly decreasing
    for h in leaf_hashes:
        size, value = 1, h
        while stack and stack[-1][0] == size:
            left = stack.pop()[1]
            size, value = size * 2, node_hash(left, value)
        stack.append((size, value))
    value = stack.pop()[1]
    while stack:
        value = node_hash(stack.pop()[1], value)
    return value


def range_nodes(start: int, end: int) -> list[Node]:
    """The complete subtrees whose hashes make MTH(D[start:end]) for a range the RFC
    algorithms ask for (start is a multiple of the largest power of two <= end - start),
    left to right."""
    nodes = []
    while start < end:
        size = end - start
        level = size.bit_length() - 1
        if start % (1 << level):
            level = (start & -start).bit_length() - 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def range_hash(start: int, end: int, nodes: Mapping[Node, bytes]) -> bytes:
    """MTH(D[start:end]) from complete-subtree hashes: fold the right-most ones first."""
    parts = [nodes[n] for n in range_nodes(start, end)]
    value = parts[-1]
    for left in reversed(parts[:-1]):
        value = node_hash(left, value)
    return value


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTH form PATH(index, D[0:size]), RFC 6962 §2.1.1, leaf to root."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return list(reversed(ranges))


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose MTH form PROOF(first, D[0:second]), RFC 6962 §2.1.2, in proof order."""
    if not 0 < first <= second:
        raise ValueError("need 0 < first <= second")
    ranges: list[tuple[int, int]] = []
    start, end, m, complete = 0, second, first, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                ranges.append((start, end))
            break
        k = split(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    return list(reversed(ranges))


def proof_nodes(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    return {n for a, b in ranges for n in range_nodes(a, b)}


def resolve(ranges: list[tuple[int, int]], fetch: Callable[[set[Node]], Mapping[Node, bytes]]) -> list[bytes]:
    """Hashes of the ranges, fetching every complete subtree they need in one call."""
    nodes = fetch(proof_nodes(ranges))
    return [range_hash(a, b, nodes) for a, b in ranges]


def new_nodes(size: int, hashes: list[bytes], frontier: Mapping[Node, bytes]) -> dict[Node, bytes]:
    """Every complete subtree created by appending `hashes` to a tree of `size` leaves.

    `frontier` holds the existing right-most complete subtrees (see `frontier_nodes`).
    """
    known = dict(frontier)
    created: dict[Node, bytes] = {}
    for offset, h in enumerate(hashes):
        index, level, value = size + offset, 0, h
        created[(0, index)] = known[(0, index)] = value
        while index & 1:
            value = node_hash(known[(level, index - 1)], value)
            level, index = level + 1, index >> 1
            created[(level, index)] = known[(level, index)] = value
    return created


def frontier_nodes(size: int) -> list[Node]:
    """The complete subtrees an append to a tree of `size` leaves may combine with."""
    return range_nodes(0, size) if size else []
