"""Where the vault's ciphertexts live outside the vault: one registry of sealed text columns, so
key rotation re-encrypts every one of them with one implementation, and the context a text is
sealed under (bound into the ciphertext, so it does not open in another row) is written once.

Each feature declares its sealed columns beside its tables:

    DISPUTE_TEXTS = sealed(dispute_steps, "key_id", text_sealed="dispute:{dispute_id}:{seq}")

and seals and opens with `DISPUTE_TEXTS.seal(vault, "text_sealed", text, dispute_id=…, seq=…)` and
`DISPUTE_TEXTS.open(vault, "text_sealed", row)`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Table, and_, select, update

REGISTRY: list[SealedText] = []


@dataclass(frozen=True)
class SealedText:
    table: Table
    key_id: str  # the column naming the key the row's texts are sealed under
    texts: dict[str, str]  # sealed column -> its context, a template filled from the row's columns

    def context(self, column: str, **row) -> str:
        return self.texts[column].format(**row)

    def seal(self, vault, column: str, text: str, **row) -> bytes:
        return vault.seal(self.context(column, **row), text)

    def open(self, vault, column: str, row: Mapping) -> str:
        return vault.unseal(self.context(column, **row), row[self.key_id], row[column])


def sealed(table: Table, key_id: str, **texts: str) -> SealedText:
    """Declare (and register) sealed text columns of `table`."""
    spec = SealedText(table, key_id, texts)
    REGISTRY.append(spec)
    return spec


def reseal_all(conn: Connection, vault, page: int = 5000) -> dict[str, int]:
    """Re-encrypt every registered text not under the vault's active key; rows by table. One
    pass per table, a page at a time, in the caller's transaction (all or nothing)."""
    done: dict[str, int] = {}
    for spec in REGISTRY:
        key_id = spec.table.c[spec.key_id]
        primary = list(spec.table.primary_key.columns)
        while True:
            rows = conn.execute(select(spec.table).where(key_id != vault.active_key_id).limit(page)).mappings().all()
            if not rows:
                break
            for row in rows:
                values = {spec.key_id: vault.active_key_id}
                for column in spec.texts:
                    if row[column] is not None:
                        values[column] = vault.reseal(spec.context(column, **row), row[spec.key_id], row[column])
                match = and_(*(c == row[c.name] for c in primary))
                conn.execute(update(spec.table).where(match).values(**values))
            done[spec.table.name] = done.get(spec.table.name, 0) + len(rows)
    return done
