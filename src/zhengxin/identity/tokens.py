"""person_token = HMAC-SHA256(pepper, normalised resident ID), hex.

Deterministic so records from every furnisher about one person meet under one key, and
keyed so that nobody without the pepper can turn the 10^17 possible IDs into tokens.
"""

from __future__ import annotations

import hmac

import polars as pl

from zhengxin.identity import resident_id
from zhengxin.kit.errors import Problem


def person_token(pepper: bytes, normalised_id: str) -> str:
    return hmac.digest(pepper, normalised_id.encode(), "sha256").hex()


def token_for(pepper: bytes, person_id: str) -> str:
    """The token of a resident ID given by a caller: checked (422 with its code when invalid),
    normalised, then keyed."""
    try:
        normalised = resident_id.validate(person_id)
    except resident_id.InvalidIdentifier as e:
        raise Problem(422, e.code, str(e)) from None
    return person_token(pepper, normalised)


def person_tokens(pepper: bytes, normalised_ids: pl.Series) -> pl.Series:
    """Tokens for a column of normalised IDs, hashing each distinct ID once."""
    unique = normalised_ids.unique()
    mapping = {v: person_token(pepper, v) for v in unique.to_list() if v is not None}
    return normalised_ids.replace_strict(mapping, default=None, return_dtype=pl.String)


def derived_key(pepper: bytes, label: str) -> bytes:
    """A separate key for another keyed hash, so one use never reveals another."""
    return hmac.digest(pepper, b"zhengxin:" + label.encode(), "sha256")
