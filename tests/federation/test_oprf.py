"""RFC 9497 OPRF(ristretto255, SHA-512), OPRF mode: the RFC's test vectors (Appendix A.1.1),
and the properties the federation relies on."""

from __future__ import annotations

import os

import pytest

from zhengxin.federation import oprf

SEED = bytes.fromhex("a3" * 32)
KEY_INFO = bytes.fromhex("74657374206b6579")  # "test key"
SK = "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e"
BLIND = "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706"
VECTORS = [  # input, blinded element, evaluation element, output
    ("00", "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
     "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
     "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b"
     "7912ba9ee8aa7d0b5e24bcf6"),
    ("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
     "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
     "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ed"
     "e2e7621306d18951e7cf2c73"),
]  # fmt: skip


def test_the_key_derives_as_the_rfc_says():
    assert oprf.derive_key(SEED, KEY_INFO).hex() == SK


@pytest.mark.parametrize(("data", "blinded", "evaluated", "output"), VECTORS)
def test_rfc_9497_vectors(data, blinded, evaluated, output):
    key, data = bytes.fromhex(SK), bytes.fromhex(data)
    b = oprf.blind(data, bytes.fromhex(BLIND))
    assert b.element.hex() == blinded
    assert oprf.evaluate(key, b.element).hex() == evaluated
    assert oprf.finalize(data, b.blind, bytes.fromhex(evaluated)).hex() == output
    assert oprf.evaluate_directly(key, data).hex() == output


def test_expand_message_xmd_matches_rfc_9380():
    """RFC 9380 Appendix K.3, expand_message_xmd(SHA-512), DST QUUX-V01-CS02-with-expander-SHA512-256."""
    dst = b"QUUX-V01-CS02-with-expander-SHA512-256"
    assert oprf.expand_message_xmd(b"", dst, 0x20).hex() == (
        "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba"
    )
    assert oprf.expand_message_xmd(b"abc", dst, 0x20).hex() == (
        "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc"
    )


def test_the_same_person_gets_the_same_pseudonym_through_fresh_blinds_and_only_with_the_key():
    key, other = oprf.derive_key(os.urandom(32), b"federation"), oprf.derive_key(os.urandom(32), b"federation")
    person = b"11010519491231002X"
    outputs = set()
    for _ in range(3):  # each agency blinds afresh; the regulator sees unrelated elements
        b = oprf.blind(person)
        outputs.add(oprf.finalize(person, b.blind, oprf.evaluate(key, b.element)))
    assert outputs == {oprf.evaluate_directly(key, person)}
    assert oprf.evaluate_directly(other, person) not in outputs
    assert oprf.blind(person).element != oprf.blind(person).element  # blinded: nothing to link
    for bad in (bytes(32), b"\x01" + bytes(31), bytes(31), b"\xff" * 32):  # identity, negative, short, too big
        with pytest.raises(oprf.InvalidInput):
            oprf.evaluate(key, bad)
