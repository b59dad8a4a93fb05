"""person_token = HMAC-SHA256(pepper, normalised resident ID), hex.

Deterministic so records from every furnisher about one person meet under one key, and
keyed so that nobody without the pepper can turn the 10^17 possible IDs into tokens.
"""

from __future__ import annotations

import hmac

import polars as pl


def person_token(pepper: bytes, normalised_id: str) -> str:
    return hmac.digest(pepper, normalised_id.encode(), "sha256").hex()


def person_tokens(pepper: bytes, normalised_ids: pl.Series) -> pl.Series:
    """Tokens for a column of normalised IDs, hashing each distinct ID once."""
    unique = normalised_ids.unique()
    mapping = {v: person_token(pepper, v) for v in unique.to_list() if v is not None}
    return normalised_ids.replace_strict(mapping, default=None, return_dtype=pl.String)


def derived_key(pepper: bytes, label: str) -> bytes:
    """A separate key for another keyed hash, so one use never reveals another."""
    return hmac.digest(pepper, b"zhengxin:" + label.encode(), "sha256")
