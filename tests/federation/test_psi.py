"""The PSI cardinality (issue 20): the regulator's count equals the true intersection, and what
it receives holds no pseudonym and matches none computed without both secrets."""

from __future__ import annotations

import secrets

import pysodium

from zhengxin.federation import psi
from zhengxin.federation.oprf import hash_to_group


def test_the_count_is_the_size_of_the_intersection():
    common = [secrets.token_hex(64) for _ in range(137)]
    only_a = [secrets.token_hex(64) for _ in range(400)]
    only_b = [secrets.token_hex(64) for _ in range(250)]
    a, b = psi.Party(), psi.Party()
    to_b, to_a = a.blind(common + only_a), b.blind(only_b + common)
    from_b, from_a = b.reblind(to_b), a.reblind(to_a)
    assert psi.cardinality(from_b, from_a) == 137
    assert psi.cardinality(psi.Party().reblind(to_b), from_a) == 0  # another secret: nothing matches
    # What the regulator receives: elements only, none of them a pseudonym or its plain hash.
    received = set(from_b) | set(from_a)
    assert all(len(e) == 32 for e in received)
    assert not received & {hash_to_group(p.encode(), psi.DST) for p in common}
    assert not received & {pysodium.crypto_scalarmult_ristretto255(a.secret, hash_to_group(p.encode(), psi.DST))
                           for p in common}  # fmt: skip


def test_an_invalid_element_is_refused():
    import pytest

    with pytest.raises(ValueError):
        psi.Party().reblind([b"\x00" * 31])
