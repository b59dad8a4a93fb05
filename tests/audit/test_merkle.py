"""RFC 6962 hashing and proofs: the Certificate Transparency reference vectors, then properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhengxin.audit import merkle
from zhengxin.audit.verify import VerificationError, verify_consistency, verify_inclusion

# The eight-leaf tree of the CT reference implementations (merkle_tree_test, testonly/constants.go).
LEAVES = [bytes.fromhex(x) for x in [
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
]]  # fmt: skip
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip
CONSISTENCY = {
    (1, 1): [],
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}  # fmt: skip


def build(leaves: list[bytes]) -> dict[merkle.Node, bytes]:
    """All complete-subtree hashes, built by appending one leaf at a time as the log does."""
    nodes: dict[merkle.Node, bytes] = {}
    for i, leaf in enumerate(leaves):
        frontier = {n: nodes[n] for n in merkle.frontier_nodes(i)}
        nodes.update(merkle.new_nodes(i, [merkle.leaf_hash(leaf)], frontier))
    return nodes


def proof(ranges, nodes) -> list[bytes]:
    return merkle.resolve(ranges, lambda wanted: {n: nodes[n] for n in wanted})


def test_roots_match_the_reference_vectors():
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    nodes = build(LEAVES)
    for size, expected in enumerate(ROOTS, start=1):
        hashes = [merkle.leaf_hash(x) for x in LEAVES[:size]]
        assert merkle.root(hashes).hex() == expected
        assert merkle.range_hash(0, size, nodes).hex() == expected


@pytest.mark.parametrize("index, size", list(INCLUSION))
def test_inclusion_proofs_match_the_reference_vectors(index, size):
    nodes = build(LEAVES)
    got = proof(merkle.inclusion_ranges(index, size), nodes)
    assert [h.hex() for h in got] == INCLUSION[(index, size)]
    verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), got, bytes.fromhex(ROOTS[size - 1]))


@pytest.mark.parametrize("first, second", list(CONSISTENCY))
def test_consistency_proofs_match_the_reference_vectors(first, second):
    nodes = build(LEAVES)
    got = proof(merkle.consistency_ranges(first, second), nodes)
    assert [h.hex() for h in got] == CONSISTENCY[(first, second)]
    verify_consistency(first, second, got, bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1]))


def flip(data: bytes, bit: int) -> bytes:
    i = (bit // 8) % len(data)
    return data[:i] + bytes([data[i] ^ (1 << (bit % 8))]) + data[i + 1 :]


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 3000), data=st.data())
def test_every_inclusion_proof_verifies_and_any_flipped_bit_breaks_it(size, data):
    leaves = [i.to_bytes(4, "big") for i in range(size)]
    nodes = build(leaves)
    root = merkle.range_hash(0, size, nodes)
    assert root == merkle.root([merkle.leaf_hash(x) for x in leaves])
    index = data.draw(st.integers(0, size - 1))
    leaf = merkle.leaf_hash(leaves[index])
    path = proof(merkle.inclusion_ranges(index, size), nodes)
    verify_inclusion(index, size, leaf, path, root)
    bit = data.draw(st.integers(0, 255))
    with pytest.raises(VerificationError):
        verify_inclusion(index, size, flip(leaf, bit), path, root)
    with pytest.raises(VerificationError):
        verify_inclusion(index, size, leaf, path, flip(root, bit))
    if path:
        k = data.draw(st.integers(0, len(path) - 1))
        with pytest.raises(VerificationError):
            verify_inclusion(index, size, leaf, [*path[:k], flip(path[k], bit), *path[k + 1 :]], root)


@settings(max_examples=60, deadline=None)
@given(second=st.integers(1, 3000), data=st.data())
def test_every_consistency_proof_verifies_and_any_flipped_bit_breaks_it(second, data):
    first = data.draw(st.integers(1, second))
    leaves = [i.to_bytes(4, "big") for i in range(second)]
    nodes = build(leaves)
    r1, r2 = merkle.range_hash(0, first, nodes), merkle.range_hash(0, second, nodes)
    path = proof(merkle.consistency_ranges(first, second), nodes)
    verify_consistency(first, second, path, r1, r2)
    bit = data.draw(st.integers(0, 255))
    with pytest.raises(VerificationError):
        verify_consistency(first, second, path, flip(r1, bit), r2)
    with pytest.raises(VerificationError):
        verify_consistency(first, second, path, r1, flip(r2, bit))
    if path:
        k = data.draw(st.integers(0, len(path) - 1))
        with pytest.raises(VerificationError):
            verify_consistency(first, second, [*path[:k], flip(path[k], bit), *path[k + 1 :]], r1, r2)


def test_a_proof_for_another_size_fails():
    nodes = build(LEAVES)
    path = proof(merkle.inclusion_ranges(2, 7), nodes)
    with pytest.raises(VerificationError):
        verify_inclusion(2, 8, merkle.leaf_hash(LEAVES[2]), path, bytes.fromhex(ROOTS[7]))
