"""AES-256-GCM field encryption for the PII vault, with key ids so keys can rotate.

The associated data binds each ciphertext to its person token, field and key id, so a
ciphertext moved to another row fails to decrypt instead of revealing someone else.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable

import polars as pl
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, select, update

from zhengxin.identity.tables import pii_vault
from zhengxin.identity.tokens import derived_key
from zhengxin.kit import clock
from zhengxin.kit.staging import stage_frame

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

    def digest(self, token: str, field: str, value: str) -> str:
        return hmac.digest(self._digest_key, f"{token}\x1f{field}\x1f{value}".encode(), "sha256").hex()

    def seal(self, context: str, value: str) -> bytes:
        """Encrypt under the active key, bound to `context` (where the ciphertext belongs)."""
        nonce = os.urandom(12)
        aad = f"{context}|{self.active_key_id}".encode()
        return nonce + self.keys[self.active_key_id].encrypt(nonce, value.encode(), aad)

    def unseal(self, context: str, key_id: str, blob: bytes) -> str:
        aad = f"{context}|{key_id}".encode()
        return self.keys[key_id].decrypt(blob[:12], blob[12:], aad).decode()

    def encrypt(self, token: str, field: str, value: str) -> bytes:
        return self.seal(f"{token}|{field}", value)

    def decrypt(self, token: str, field: str, key_id: str, blob: bytes) -> str:
        return self.unseal(f"{token}|{field}", key_id, blob)

    # Storage -----------------------------------------------------------------------

    def store(self, conn: Connection, entries: pl.DataFrame) -> int:
        """Upsert (person_token, field, value) rows; only new or changed values are encrypted."""
        entries = entries.filter(pl.col("value").is_not_null()).unique(["person_token", "field"], keep="last")
        if entries.height == 0:
            return 0
        digests = [self.digest(t, f, v) for t, f, v in entries.select("person_token", "field", "value").iter_rows()]
        entries = entries.with_columns(pl.Series("digest", digests, dtype=pl.String))
        staged = stage_frame(conn, "vault_check", entries.select("person_token", "field", "digest"))
        changed = conn.exec_driver_sql(
            f"SELECT s.person_token, s.field FROM {staged} s LEFT JOIN pii_vault v "
            "ON v.person_token = s.person_token AND v.field = s.field "
            "WHERE v.digest IS NULL OR v.digest <> s.digest"
        ).fetchall()
        conn.exec_driver_sql(f"DROP TABLE {staged}")
        if not changed:
            return 0
        todo = entries.join(
            pl.DataFrame(changed, schema={"person_token": pl.String, "field": pl.String}, orient="row"),
            on=["person_token", "field"],
        )
        now = clock.now()
        rows = pl.DataFrame(
            {
                "person_token": todo["person_token"],
                "field": todo["field"],
                "key_id": [self.active_key_id] * todo.height,
                "ciphertext": [
                    self.encrypt(t, f, v) for t, f, v in todo.select("person_token", "field", "value").iter_rows()
                ],
                "digest": todo["digest"],
            },
            schema={
                "person_token": pl.String,
                "field": pl.String,
                "key_id": pl.String,
                "ciphertext": pl.Binary,
                "digest": pl.String,
            },
        ).with_columns(pl.lit(now).alias("updated_at"))
        staged = stage_frame(conn, "vault_rows", rows)
        conn.exec_driver_sql(
            "INSERT INTO pii_vault (person_token, field, key_id, ciphertext, digest, updated_at) "
            f"SELECT person_token, field, key_id, ciphertext, digest, updated_at FROM {staged} WHERE true "
            "ON CONFLICT (person_token, field) DO UPDATE SET key_id = excluded.key_id, "
            "ciphertext = excluded.ciphertext, digest = excluded.digest, updated_at = excluded.updated_at"
        )
        conn.exec_driver_sql(f"DROP TABLE {staged}")
        return todo.height

    def store_one(self, conn: Connection, token: str, values: dict[str, str | None]) -> None:
        frame = pl.DataFrame(
            {"person_token": [token] * len(values), "field": list(values), "value": list(values.values())},
            schema={"person_token": pl.String, "field": pl.String, "value": pl.String},
        )
        self.store(conn, frame)

    def reveal(self, conn: Connection, token: str, fields: Iterable[str] = VAULT_FIELDS) -> dict[str, str]:
        """Decrypt a person's identifiers: for the person themself and lawful uses only."""
        rows = conn.execute(
            select(pii_vault.c.field, pii_vault.c.key_id, pii_vault.c.ciphertext).where(
                pii_vault.c.person_token == token, pii_vault.c.field.in_(list(fields))
            )
        ).all()
        return {r.field: self.decrypt(token, r.field, r.key_id, r.ciphertext) for r in rows}

    def rotate(self, conn: Connection, page: int = 5000) -> int:
        """Re-encrypt every vault value not under the active key; returns how many."""
        done = 0
        while True:
            rows = conn.execute(
                select(pii_vault.c.person_token, pii_vault.c.field, pii_vault.c.key_id, pii_vault.c.ciphertext)
                .where(pii_vault.c.key_id != self.active_key_id)
                .limit(page)
            ).all()
            if not rows:
                return done
            for r in rows:
                value = self.decrypt(r.person_token, r.field, r.key_id, r.ciphertext)
                conn.execute(
                    update(pii_vault)
                    .where(pii_vault.c.person_token == r.person_token, pii_vault.c.field == r.field)
                    .values(
                        key_id=self.active_key_id,
                        ciphertext=self.encrypt(r.person_token, r.field, value),
                    )
                )
            done += len(rows)
