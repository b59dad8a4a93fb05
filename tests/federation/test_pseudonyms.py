"""Federation pseudonyms through the regulator's node (issue 20): the same person gets the same
pseudonym through fresh blinds, it is the OPRF of the ID under the regulator's key, and the
regulator's node never receives an ID."""

from __future__ import annotations

import secrets
from types import SimpleNamespace

import httpx
import pytest

from tests.bureau import a_uscc
from tests.conftest import make_settings
from tests.records import resident_id
from tests.servers import Server
from zhengxin.config import FederationSettings
from zhengxin.federation import members, oprf, pseudonyms
from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.parties.service import Actor
from zhengxin.runtime import Runtime

from .test_membership import _keypair


def test_pseudonyms_are_the_oprf_of_the_id_and_the_regulator_never_sees_one(runtime, db_url, tmp_path):
    oprf_seed = secrets.token_hex(32)
    regulator_settings = make_settings(db_url, federation={"oprf_key": oprf_seed}, data_dir=tmp_path / "regulator")
    seed, public = _keypair()
    with runtime.transaction() as conn:
        members.admit(conn, Actor("reg", "regulator", "PBOC"), name="Baihang Credit", uscc=a_uscc(71),
                      base_url="https://baihang.example", signing_key=public, now=clock.now())  # fmt: skip
    server = Server(db_url, regulator_settings, tmp_path).start()
    try:
        member = SimpleNamespace(federation=FederationSettings(
            uscc=a_uscc(71), signing_key=seed.hex(), regulator_url=server.base, max_blinded=2))  # fmt: skip
        ids = [resident_id(n) for n in (1, 2, 3)]
        sent: list[bytes] = []
        with httpx.Client(timeout=30, event_hooks={"request": [lambda r: sent.append(r.read())]}) as client:
            first = pseudonyms.derive(ids, member, client=client)
            again = pseudonyms.derive([f" {i.lower()} " for i in ids], member, client=client)  # normalised alike
        key = oprf.derive_key(bytes.fromhex(oprf_seed), pseudonyms.KEY_INFO)
        assert first == again == [oprf.evaluate_directly(key, i.encode()).hex() for i in ids]
        assert len(set(first)) == 3 and all(len(p) == 128 for p in first)
        assert len(sent) == 4  # two batches of at most two, twice
        assert not any(i.encode() in body or i[:17].encode() in body for body in sent for i in ids)

        stranger_seed, _ = _keypair()
        stranger = SimpleNamespace(federation=FederationSettings(
            uscc=a_uscc(72), signing_key=stranger_seed.hex(), regulator_url=server.base))  # fmt: skip
        with pytest.raises(Problem) as refused:
            pseudonyms.derive(ids[:1], stranger)
        assert refused.value.code == "oprf_refused" and "not_a_member" in refused.value.detail
    finally:
        server.kill()


def test_a_node_without_the_key_and_bad_elements_are_refused(runtime):
    with pytest.raises(Problem) as no_key:
        pseudonyms.server_key(runtime.settings)
    assert no_key.value.code == "not_the_oprf_node"
    key = oprf.derive_key(secrets.token_bytes(32), pseudonyms.KEY_INFO)
    for batch in ([], ["00" * 32], ["zz"], ["01" * 40]):
        with pytest.raises(Problem) as bad:
            pseudonyms.evaluate_all(key, batch, limit=10)
        assert bad.value.code in ("invalid_batch", "invalid_element")
    with pytest.raises(Problem):
        pseudonyms.evaluate_all(key, [oprf.blind(b"x").element.hex()] * 11, limit=10)


def test_runtime_settings_carry_the_federation_key():
    settings = make_settings("sqlite://", federation={"oprf_key": "11" * 32, "uscc": a_uscc(73)})
    assert Runtime(settings).settings.federation.oprf_key_bytes() == bytes.fromhex("11" * 32)


def test_intake_gives_each_new_person_a_pseudonym_through_the_regulator(runtime, db_url, parties, tmp_path):
    """A member node furnishing records derives its new persons' pseudonyms in batches at intake;
    with the regulator's node down the records are still accepted, and the persons get theirs
    when next furnished."""
    from sqlalchemy import select

    from tests.records import loan, to_jsonl
    from zhengxin.federation.tables import federation_pseudonyms
    from zhengxin.furnishing.flows import furnish_file
    from zhengxin.identity.tokens import person_token

    parties.add("furnisher", "Platform One")
    oprf_seed = secrets.token_hex(32)
    seed, public = _keypair()
    with runtime.transaction() as conn:
        members.admit(conn, Actor("reg", "regulator", "PBOC"), name="This agency", uscc=a_uscc(74),
                      base_url="https://this.example", signing_key=public, now=clock.now())  # fmt: skip
    server = Server(db_url, make_settings(db_url, federation={"oprf_key": oprf_seed}), tmp_path).start()
    member = {"uscc": a_uscc(74), "signing_key": seed.hex(), "regulator_url": server.base, "max_blinded": 2}
    agency = Runtime(runtime.settings.model_copy(update={"federation": FederationSettings(**member)}))
    down = Runtime(runtime.settings.model_copy(update={"federation": FederationSettings(
        **{**member, "regulator_url": "http://127.0.0.1:9"})}))  # fmt: skip

    def furnish(rt, records, name):
        path = tmp_path / name
        path.write_bytes(to_jsonl(records))
        return furnish_file(rt, "Platform One", path)

    def stored():
        with runtime.reading() as conn:
            rows = conn.execute(select(federation_pseudonyms.c.person_token, federation_pseudonyms.c.pseudonym))
            return dict(rows.all())

    try:
        assert furnish(down, [loan(9)], "down.jsonl")["accepted"] == 1  # unreachable: accepted, no pseudonym
        assert stored() == {}
        batch = furnish(agency, [loan(n) for n in (1, 2, 3, 9)] + [loan(1, account_id="ACC-000101")], "up.jsonl")
        assert batch["accepted"] == 5
    finally:
        server.kill()
    key = oprf.derive_key(bytes.fromhex(oprf_seed), pseudonyms.KEY_INFO)
    expected = {person_token(runtime.pepper, resident_id(n)): oprf.evaluate_directly(key, resident_id(n).encode()).hex()
                for n in (1, 2, 3, 9)}  # fmt: skip
    assert stored() == expected
    # The retention run's purge of identities nothing needs takes their pseudonyms with them.
    from sqlalchemy import false

    from zhengxin.flows.retention import NEIGHBOURS

    with runtime.transaction() as conn:
        NEIGHBOURS.purge_identities(conn, lambda token: [false()])
    assert stored() == {}
