"""RFC 9497 OPRF(ristretto255, SHA-512) in OPRF mode (mode 0x00): the federation's pseudonyms.

An agency blinds a normalised resident ID, the regulator's node evaluates the blinded element
with a key only it holds, the agency unblinds and finalises. The result is the same for one
person at every agency, the regulator never sees the ID (only a uniformly random group
element), and nobody without the key can test guesses offline.

The group arithmetic is libsodium's (through pysodium: `crypto_core_ristretto255_*`,
`crypto_scalarmult_ristretto255*`); what is written here is the protocol's glue as RFC 9497
states it: the context string, expand_message_xmd (RFC 9380, SHA-512), HashToGroup,
HashToScalar, DeriveKeyPair, Blind, BlindEvaluate and Finalize. Checked against the RFC's own
test vectors (tests/federation/test_oprf.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pysodium

MODE_OPRF = 0x00
SUITE = b"ristretto255-SHA512"
CONTEXT = b"OPRFV1-" + bytes([MODE_OPRF]) + b"-" + SUITE
ELEMENT_SIZE = 32
SCALAR_SIZE = 32


class InvalidInput(ValueError):
    """The input hashes to the identity element, or an element does not decode."""


def _i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 §5.3.1 with SHA-512 (b_in_bytes 64, s_in_bytes 128)."""
    if len(dst) > 255:
        raise ValueError("domain separation tag too long")
    ell = -(-length // 64)
    if ell > 255 or length > 65535:
        raise ValueError("requested too many bytes")
    dst_prime = dst + _i2osp(len(dst), 1)
    b0 = hashlib.sha512(bytes(128) + msg + _i2osp(length, 2) + b"\x00" + dst_prime).digest()
    blocks = [hashlib.sha512(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, ell + 1):
        previous = bytes(x ^ y for x, y in zip(b0, blocks[-1], strict=True))
        blocks.append(hashlib.sha512(previous + _i2osp(i, 1) + dst_prime).digest())
    return b"".join(blocks)[:length]


def hash_to_group(data: bytes, dst: bytes = b"HashToGroup-" + CONTEXT) -> bytes:
    """HashToGroup: hash_to_ristretto255 (RFC 9380 / RFC 9496 one-way map), with the OPRF's DST
    unless another protocol names its own."""
    uniform = expand_message_xmd(data, dst, 64)
    return pysodium.crypto_core_ristretto255_from_hash(uniform)


def hash_to_scalar(data: bytes, dst: bytes | None = None) -> bytes:
    """HashToScalar: 64 uniform bytes reduced modulo the group order, little-endian."""
    uniform = expand_message_xmd(data, dst or b"HashToScalar-" + CONTEXT, 64)
    return pysodium.crypto_core_ristretto255_scalar_reduce(uniform)


def derive_key(seed: bytes, info: bytes) -> bytes:
    """DeriveKeyPair's secret scalar from a 32-byte seed and public info (RFC 9497 §3.2.1)."""
    if len(seed) != 32:
        raise ValueError("the seed must be 32 bytes")
    derive_input = seed + _i2osp(len(info), 2) + info
    for counter in range(256):
        key = hash_to_scalar(derive_input + _i2osp(counter, 1), b"DeriveKeyPair" + CONTEXT)
        if key != bytes(SCALAR_SIZE):
            return key
    raise ValueError("DeriveKeyPairError")


def public_key(key: bytes) -> bytes:
    return pysodium.crypto_scalarmult_ristretto255_base(key)


@dataclass(frozen=True)
class Blinded:
    """What the client keeps (the blind) and what it sends (the blinded element)."""

    blind: bytes
    element: bytes


def blind(data: bytes, blind_scalar: bytes | None = None) -> Blinded:
    """Blind(input): a fresh random blind unless one is given (the RFC's vectors give one)."""
    point = hash_to_group(data)
    if point == bytes(ELEMENT_SIZE):
        raise InvalidInput("the input maps to the identity element")
    r = blind_scalar or pysodium.crypto_core_ristretto255_scalar_random()
    return Blinded(r, pysodium.crypto_scalarmult_ristretto255(r, point))


def _multiply(scalar: bytes, element: bytes) -> bytes:
    """scalar · element, refusing what is not a valid, non-identity ristretto255 encoding (and a
    product that is the identity), as libsodium does."""
    if len(element) != ELEMENT_SIZE or not pysodium.crypto_core_ristretto255_is_valid_point(element):
        raise InvalidInput("the element is not a valid ristretto255 encoding")
    try:
        return pysodium.crypto_scalarmult_ristretto255(scalar, element)
    except ValueError:
        raise InvalidInput("the element is the identity or the product is") from None


def evaluate(key: bytes, blinded_element: bytes) -> bytes:
    """BlindEvaluate: the server's one step, on an element that tells it nothing of the input."""
    return _multiply(key, blinded_element)


def finalize(data: bytes, blind_scalar: bytes, evaluated_element: bytes) -> bytes:
    """Finalize: unblind and hash with the input, 64 bytes."""
    inverse = pysodium.crypto_core_ristretto255_scalar_invert(blind_scalar)
    unblinded = _multiply(inverse, evaluated_element)
    hash_input = _i2osp(len(data), 2) + data + _i2osp(len(unblinded), 2) + unblinded + b"Finalize"
    return hashlib.sha512(hash_input).digest()


def evaluate_directly(key: bytes, data: bytes) -> bytes:
    """Evaluate(skS, input) of RFC 9497 §3.3.1: what the whole exchange yields, computed by the
    key holder alone (tests and the key holder's own checks)."""
    point = hash_to_group(data)
    evaluated = pysodium.crypto_scalarmult_ristretto255(key, point)
    hash_input = _i2osp(len(data), 2) + data + _i2osp(len(evaluated), 2) + evaluated + b"Finalize"
    return hashlib.sha512(hash_input).digest()
