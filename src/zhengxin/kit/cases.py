"""Cases with steps (disputes, supervision orders): each step a numbered row of its case's steps
table, with who took it, its details, and an optional text sealed by the vault. One
implementation of appending a step, for every kind of case."""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select

from zhengxin.kit import clock
from zhengxin.kit.sealing import SealedText


def append_step(
    conn: Connection, steps: SealedText, case_column: str, case_id: str, step: str, *, vault,
    actor_id: str | None, actor_role: str | None, details: dict, text: str | None = None,
) -> int:  # fmt: skip
    """Add the case's next step (its number is returned); the text, if any, sealed under the
    vault's active key in the context the case's steps declare."""
    table = steps.table
    seq = conn.execute(
        select(func.coalesce(func.max(table.c.seq), 0)).where(table.c[case_column] == case_id)
    ).scalar_one() + 1  # fmt: skip
    sealed = steps.seal(vault, "text_sealed", text, **{case_column: case_id, "seq": seq}) if text else None
    conn.execute(
        insert(table).values(
            **{case_column: case_id}, seq=seq, step=step, actor_id=actor_id, actor_role=actor_role, details=details,
            key_id=vault.active_key_id if sealed else None, text_sealed=sealed, at=clock.now(),
        )
    )  # fmt: skip
    return seq
