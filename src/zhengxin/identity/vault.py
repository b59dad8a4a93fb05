"""AES-256-GCM encryption for the PII vault, with key ids so keys can rotate.

One vault entry per person: the JSON of their resident ID, name and phone. The associated
data binds each ciphertext to its place (person token and key id), so a ciphertext moved to
another row fails to decrypt instead of revealing someone else.
"""

from __future__ import annotations

import hmac
import os

import orjson
import polars as pl
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, bindparam, delete, func, or_, select, update

from zhengxin.identity.tables import IDENTITY_VERSIONS, identity_versions, minors, pii_vault
from zhengxin.identity.tokens import derived_key
from zhengxin.kit import clock
from zhengxin.kit.db import Read, read
from zhengxin.kit.staging import insert_if_all_new, stage_frame, upsert_frame

VAULT_FIELDS = ("person_id", "name", "phone")


class Vault:
    def __init__(self, keys: dict[str, bytes], active_key_id: str, pepper: bytes):
        if active_key_id not in keys:
            raise ValueError("the active vault key id has no key")
        self.keys = {kid: AESGCM(k) for kid, k in keys.items()}
        self.active_key_id = active_key_id
        self._digest_key = derived_key(pepper, "vault-digest")

    @classmethod
    def from_settings(cls, settings) -> Vault:
        return cls(settings.vault_key_bytes(), settings.vault_active_key, settings.pepper_bytes())

    def seal(self, context: str, value: str | bytes) -> bytes:
        """Encrypt under the active key, bound to `context` (where the ciphertext belongs)."""
        data = value.encode() if isinstance(value, str) else value
        nonce = os.urandom(12)
        aad = f"{context}|{self.active_key_id}".encode()
        return nonce + self.keys[self.active_key_id].encrypt(nonce, data, aad)

    def unseal(self, context: str, key_id: str, blob: bytes) -> str:
        aad = f"{context}|{key_id}".encode()
        return self.keys[key_id].decrypt(blob[:12], blob[12:], aad).decode()

    def reseal(self, context: str, key_id: str, blob: bytes) -> bytes:
        """The same value sealed again under the active key (key rotation)."""
        return self.seal(context, self.unseal(context, key_id, blob))

    def _digest(self, plaintext: bytes) -> str:
        return hmac.digest(self._digest_key, plaintext, "sha256").hex()

    # Storage -----------------------------------------------------------------------

    def prepare(self, people: pl.DataFrame) -> pl.DataFrame:
        """Plaintext, keyed digest and ciphertext per person (person_token, person_id, name, [phone]).

        Pure CPU work, separate from `store` so intake can do it while the database is busy;
        a person turning out to be known and unchanged costs one wasted encryption.
        """
        fields = [f for f in VAULT_FIELDS if f in people.columns]
        people = people.unique("person_token", keep="last", maintain_order=True)
        plain = people.select(pl.col("person_token"), pl.struct(fields).struct.json_encode().alias("plain"))
        tokens, texts = plain["person_token"].to_list(), plain["plain"].to_list()
        digests = [self._digest(t.encode()) for t in texts]
        blobs = [self.seal(token, text) for token, text in zip(tokens, texts, strict=True)]
        return plain.with_columns(
            pl.Series("digest", digests, dtype=pl.String), pl.Series("ciphertext", blobs, dtype=pl.Binary)
        )

    def store(self, conn: Connection, people: pl.DataFrame) -> int:
        """Upsert persons; returns how many were written (the new and the changed).

        A record without a phone never erases a phone the vault already holds.
        """
        prepared = people if "digest" in people.columns else self.prepare(people)
        if prepared.height == 0:
            return 0
        if insert_if_all_new(conn, "pii_vault", self._rows(prepared)):
            return prepared.height  # all new: the common case of a first furnishing
        staged = stage_frame(conn, "vault_check", prepared.select("person_token", "digest"))
        # Known persons only: the unchanged ones come back without their ciphertext.
        known = conn.exec_driver_sql(
            f"SELECT s.person_token, v.digest, "
            f"CASE WHEN v.digest = s.digest THEN NULL ELSE v.key_id END, "
            f"CASE WHEN v.digest = s.digest THEN NULL ELSE v.ciphertext END "
            f"FROM {staged} s JOIN pii_vault v ON v.person_token = s.person_token"
        ).fetchall()
        conn.exec_driver_sql(f"DROP TABLE {staged}")
        known_tokens = pl.DataFrame({"person_token": [r[0] for r in known]}, schema={"person_token": pl.String})
        new = prepared.join(known_tokens, on="person_token", how="anti")
        tokens = new["person_token"].to_list()
        blobs = new["ciphertext"].to_list()
        digests = new["digest"].to_list()
        if known:
            plain = dict(zip(prepared["person_token"].to_list(), prepared["plain"].to_list(), strict=True))
            for token, old_digest, key_id, old in known:
                if old is None:
                    continue  # unchanged
                # A known person: keep what this record does not carry.
                values = {k: v for k, v in orjson.loads(plain[token]).items() if v is not None}
                merged = {**orjson.loads(self.unseal(token, key_id, old)), **values}
                text = orjson.dumps({f: merged.get(f) for f in VAULT_FIELDS if f in merged}).decode()
                digest = self._digest(text.encode())
                if digest != old_digest:
                    tokens.append(token)
                    blobs.append(self.seal(token, text))
                    digests.append(digest)
        if not tokens:
            return 0
        frame = pl.DataFrame(
            {"person_token": tokens, "ciphertext": blobs, "digest": digests},
            schema={"person_token": pl.String, "ciphertext": pl.Binary, "digest": pl.String},
        )
        upsert_frame(conn, "pii_vault", self._rows(frame), ["person_token"])
        return frame.height

    def _rows(self, prepared: pl.DataFrame) -> pl.DataFrame:
        return prepared.select(
            "person_token",
            pl.lit(self.active_key_id).alias("key_id"),
            "ciphertext",
            "digest",
            pl.lit(clock.now(), dtype=pl.Datetime("us", "UTC")).alias("updated_at"),
        )

    def store_one(self, conn: Connection, token: str, values: dict[str, str | None]) -> int:
        frame = pl.DataFrame(
            {"person_token": [token], **{f: [values.get(f)] for f in VAULT_FIELDS if f in values}},
            schema={"person_token": pl.String, **{f: pl.String for f in VAULT_FIELDS if f in values}},
        )
        return self.store(conn, frame)

    # Each furnisher's version ----------------------------------------------------------

    def prepare_versions(self, furnisher_id: str, people: pl.DataFrame) -> pl.DataFrame:
        """The furnisher's version of each person's name and phone in `people` (person_token,
        name, [phone], as_of): its latest report of them, sealed, with a keyed hash of the name.
        Pure CPU work, like `prepare`; nothing in clear leaves it."""
        latest = people.sort("as_of").unique("person_token", keep="last", maintain_order=True)
        tokens, names = latest["person_token"].to_list(), latest["name"].to_list()
        phones = latest["phone"].to_list() if "phone" in latest.columns else [None] * len(tokens)
        blobs = [
            IDENTITY_VERSIONS.seal(self, "ciphertext", orjson.dumps({"name": n, "phone": p}).decode(),
                                   person_token=t, furnisher_id=furnisher_id)
            for t, n, p in zip(tokens, names, phones, strict=True)
        ]  # fmt: skip
        return latest.select(
            "person_token",
            pl.lit(furnisher_id).alias("furnisher_id"),
            pl.lit(self.active_key_id).alias("key_id"),
            pl.Series("ciphertext", blobs, dtype=pl.Binary),
            pl.Series("name_digest", [self._digest(n.encode()) for n in names], dtype=pl.String),
            "as_of",
            pl.lit(clock.now(), dtype=pl.Datetime("us", "UTC")).alias("updated_at"),
        )

    def store_versions(self, conn: Connection, versions: pl.DataFrame) -> None:
        """Keep each furnisher's version; an older report never replaces a newer one."""
        upsert_frame(conn, "identity_versions", versions, ["person_token", "furnisher_id"],
                     update_where="identity_versions.as_of <= excluded.as_of")  # fmt: skip

    def versions(self, conn: Connection, token: str, current_name: str | None) -> list[dict]:
        """Every furnisher's version of the person's name and phone, newest report first, each
        marked whether its name differs from the current one (what a conflict is)."""
        rows = conn.execute(_VERSIONS, {"token": token}).mappings().all()
        out = []
        for row in rows:
            values = orjson.loads(IDENTITY_VERSIONS.open(self, "ciphertext", row))
            out.append({"furnisher_id": row["furnisher_id"], "as_of": row["as_of"], "updated_at": row["updated_at"],
                        **values, "differs": values.get("name") != current_name})  # fmt: skip
        return out

    def identity_read(self, token: str) -> Read:
        """`reveal`, and whether furnishers named the person differently, in one query."""

        def shape(rows) -> tuple[dict[str, str], bool]:
            if not rows:
                return {}, False
            key_id, ciphertext, conflicting = rows[0]
            return self._opened(token, key_id, ciphertext), bool(conflicting)

        return Read(_ENTRY_AND_CONFLICT, {"token": token}, shape)

    def reveal(self, conn: Connection, token: str) -> dict[str, str]:
        """Decrypt a person's identifiers: for the person themself and lawful uses only."""
        return read(conn, self.reveal_read(token))

    def reveal_read(self, token: str) -> Read:
        return Read(_ENTRY, {"token": token}, lambda rows: self._opened(token, *rows[0]) if rows else {})

    def _opened(self, token: str, key_id: str, ciphertext: bytes) -> dict[str, str]:
        """A vault entry's identifiers, the absent ones left out."""
        values = orjson.loads(self.unseal(token, key_id, ciphertext))
        return {k: v for k, v in values.items() if v is not None}

    def rotate(self, conn: Connection, page: int = 5000) -> int:
        """Re-encrypt every vault entry not under the active key; returns how many."""
        done = 0
        while True:
            rows = conn.execute(
                select(pii_vault.c.person_token, pii_vault.c.key_id, pii_vault.c.ciphertext)
                .where(pii_vault.c.key_id != self.active_key_id)
                .limit(page)
            ).all()
            if not rows:
                return done
            for r in rows:
                plaintext = self.unseal(r.person_token, r.key_id, r.ciphertext)
                conn.execute(
                    update(pii_vault)
                    .where(pii_vault.c.person_token == r.person_token)
                    .values(key_id=self.active_key_id, ciphertext=self.seal(r.person_token, plaintext))
                )
            done += len(rows)


_CHECK = {"person_token": pl.String, "digest": pl.String}
_ENTRY = select(pii_vault.c.key_id, pii_vault.c.ciphertext).where(pii_vault.c.person_token == bindparam("token"))
_ENTRY_AND_CONFLICT = _ENTRY.add_columns(
    select(func.count(func.distinct(identity_versions.c.name_digest)) > 1)
    .where(identity_versions.c.person_token == bindparam("token"))
    .scalar_subquery()
    .label("conflicting")
)
_VERSIONS = (
    select(identity_versions)
    .where(identity_versions.c.person_token == bindparam("token"))
    .order_by(identity_versions.c.as_of.desc(), identity_versions.c.furnisher_id)
)


def purge(conn: Connection, still_needed) -> list[str]:
    """Delete the identity of every person nothing needs any more (PIPL-47); returns their
    tokens. `still_needed(token_column)` gives the SQL conditions under which an identity stays."""
    token = pii_vault.c.person_token
    query = delete(pii_vault).where(~or_(*still_needed(token))).returning(token)
    purged = list(conn.execute(query).scalars())
    for start in range(0, len(purged), 5_000):  # every furnisher's version, and the minor's note, go with it
        chunk = purged[start : start + 5_000]
        conn.execute(delete(identity_versions).where(identity_versions.c.person_token.in_(chunk)))
        conn.execute(delete(minors).where(minors.c.person_token.in_(chunk)))
    return purged
