"""Resident IDs, person tokens and the PII vault."""

from __future__ import annotations

import polars as pl
import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

from tests.records import resident_id as make_id
from zhengxin.identity import resident_id
from zhengxin.identity.tables import pii_vault
from zhengxin.identity.tokens import person_token, person_tokens
from zhengxin.identity.vault import Vault

REGIONS = ["110105", "310115", "440305", "510107", "999999", "000000", "330106"]


def stdnum_verdict(value: str) -> bool:
    try:
        ric.validate(value)
    except stdnum_errors.ValidationError:
        return False
    return ric.get_birth_date(value).year >= 1900 and ric.get_birth_date(value) <= __import__("datetime").date.today()


id_like = st.one_of(
    st.builds(
        lambda region, year, month, day, seq, check: f"{region}{year:04d}{month:02d}{day:02d}{seq:03d}{check}",
        st.sampled_from(REGIONS),
        st.integers(1890, 2030),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 999),
        st.sampled_from("0123456789Xx"),
    ),
    st.text(alphabet="0123456789Xx ", min_size=0, max_size=20),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(id_like, min_size=1, max_size=30))
def test_column_wise_validation_agrees_with_stdnum(values):
    problems = resident_id.problems(pl.Series(values, dtype=pl.String)).to_list()
    for value, problem in zip(values, problems, strict=True):
        assert (problem is None) == stdnum_verdict(resident_id.normalise(value)), (value, problem)


def test_validate_names_the_problem_without_repeating_the_value():
    good = make_id(7)
    assert resident_id.validate(good.lower()) == good
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")
    with pytest.raises(resident_id.InvalidIdentifier) as e:
        resident_id.validate(bad)
    assert e.value.code == "resident_id_checksum" and bad not in str(e.value)
    with pytest.raises(resident_id.InvalidIdentifier) as e:
        resident_id.validate("1101051990")
    assert e.value.code == "resident_id_length"


def test_person_tokens_are_keyed_and_deterministic():
    ids = pl.Series([make_id(1), make_id(2), make_id(1)])
    a = person_tokens(b"pepper-a" * 4, ids).to_list()
    assert a[0] == a[2] != a[1]
    assert a[0] == person_token(b"pepper-a" * 4, make_id(1))
    assert person_tokens(b"pepper-b" * 4, ids).to_list()[0] != a[0]


def test_vault_round_trip_binds_ciphertext_to_its_row(runtime):
    vault = runtime.vault
    with runtime.transaction() as conn:
        vault.store_one(conn, "t" * 64, {"person_id": make_id(3), "name": "赵敏", "phone": None})
        assert vault.reveal(conn, "t" * 64) == {"person_id": make_id(3), "name": "赵敏"}
        row = conn.execute(select(pii_vault)).mappings().one()
    assert "赵敏".encode() not in row["ciphertext"] and make_id(3).encode() not in row["ciphertext"]
    with pytest.raises(InvalidTag):  # moved to another person, the tag no longer verifies
        vault.unseal("u" * 64, row["key_id"], row["ciphertext"])


def test_vault_rewrites_only_new_or_changed_persons_and_keeps_a_known_phone(runtime):
    vault = runtime.vault
    with runtime.transaction() as conn:
        assert vault.store_one(conn, "t" * 64, {"person_id": make_id(3), "name": "赵敏", "phone": "13800000000"}) == 1
        assert vault.store_one(conn, "t" * 64, {"person_id": make_id(3), "name": "赵敏", "phone": "13800000000"}) == 0
        people = pl.DataFrame(
            {"person_token": ["t" * 64, "s" * 64], "person_id": [make_id(3), make_id(4)], "name": ["赵敏敏", "周芷若"]}
        )
        assert vault.store(conn, people) == 2
        assert vault.reveal(conn, "t" * 64) == {"person_id": make_id(3), "name": "赵敏敏", "phone": "13800000000"}
        assert vault.reveal(conn, "s" * 64) == {"person_id": make_id(4), "name": "周芷若"}
        assert vault.store(conn, people) == 0


def test_rotation_re_encrypts_everything_under_the_new_key(runtime):
    import secrets

    keys = {**runtime.settings.vault_key_bytes(), "k2": secrets.token_bytes(32)}
    with runtime.transaction() as conn:
        runtime.vault.store_one(conn, "t" * 64, {"person_id": make_id(3), "name": "赵敏"})
        runtime.vault.store_one(conn, "s" * 64, {"person_id": make_id(4), "name": "周芷若"})
        rotated = Vault(keys, "k2", runtime.pepper)
        assert rotated.rotate(conn) == 2
        assert rotated.rotate(conn) == 0
        assert {r.key_id for r in conn.execute(select(pii_vault.c.key_id))} == {"k2"}
        only_new = Vault({"k2": keys["k2"]}, "k2", runtime.pepper)
        assert only_new.reveal(conn, "t" * 64)["name"] == "赵敏"


def test_an_unknown_county_in_a_known_province_is_an_invalid_region():
    """stdnum's own lookup raises KeyError here (the province and city exist, the county does
    not): before, that reached the caller as a 500 on the path of every inquiry."""
    body = "110199" + "19900101" + "123"
    value = body + ric.calc_check_digit(body + "0")  # the check digit of the first 17
    with pytest.raises(resident_id.InvalidIdentifier) as e:
        resident_id.validate(value)
    assert e.value.code == "resident_id_region"
    assert resident_id.problems(pl.Series([value, make_id(3)], dtype=pl.String)).to_list()[1] is None
    assert resident_id.problems(pl.Series([value], dtype=pl.String)).to_list()[0] is not None
