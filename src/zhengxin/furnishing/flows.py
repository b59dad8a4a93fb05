"""Intake from a file on disk, as `zhengxin furnish`, the demo and the benchmarks do it: the same
intake as the API's (furnishing.service.submit_file), as a named furnisher, then the log. And a
furnisher's correction of an account's holder, which moves records and may meet a new person."""

from __future__ import annotations

from pathlib import Path

from rich.progress import Progress

from zhengxin.audit import service as audit
from zhengxin.audit.service import sequence_all
from zhengxin.furnishing import readers
from zhengxin.furnishing.service import submit_file
from zhengxin.identity.resident_id import normalise
from zhengxin.identity.tokens import token_for
from zhengxin.kit import clock, spool
from zhengxin.kit.errors import Problem
from zhengxin.parties.service import FURNISHING_ROLES, Actor, find_party
from zhengxin.records import repository as records


def furnish_file(
    runtime,
    furnisher_name: str,
    path: Path,
    fmt: str | None = None,
    idempotency_key: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Furnish one file through the real intake path, as the named furnisher."""
    fmt = fmt or readers.format_for(path=path)
    if fmt is None:
        raise Problem(415, "unsupported_format", "the file must be .csv, .jsonl or .parquet (or give --format)")
    with runtime.engine.connect() as conn:
        party = find_party(conn, furnisher_name, FURNISHING_ROLES)
    if party is None:
        raise Problem(404, "furnisher_not_found", f"no furnisher named {furnisher_name!r}")
    actor = Actor(party_id=party["id"], role=party["role"], name=party["name"])
    label = f"{path.parent.name}/{path.name}"
    task = progress.add_task(label, total=path.stat().st_size, records=0) if progress else None

    def tick(records: int, bytes_read: int) -> None:
        if progress is not None:
            progress.update(task, completed=bytes_read, records=records)

    spool.sweep(runtime.settings.spool_dir)
    result = submit_file(runtime, actor, path, fmt, idempotency_key, progress=tick)
    if progress is not None:
        progress.update(task, description=f"{label} (logging)")
    sequence_all(runtime.engine)  # no server may be running to do it
    if progress is not None:
        progress.update(task, completed=path.stat().st_size)
    return {**result.batch, "replayed": result.replayed}


def reassign(
    conn, runtime, furnisher: Actor, *, account_id: str, person_id: str, name: str, phone: str | None, reference: str
) -> dict:
    """A furnisher's correction of whom one of its accounts belongs to (PIPL-46): every month of
    the account moves to the named person's file, both files show the correction, and each
    person's log records it. A holder no furnisher has named yet is named by this correction."""
    token = token_for(runtime.pepper, person_id)
    row = records.reassign_account(conn, furnisher.party_id, account_id, token, reference=reference, now=clock.now())
    if not runtime.vault.reveal(conn, token).get("name"):  # no furnisher has named them yet
        runtime.vault.store_one(conn, token, {"person_id": normalise(person_id), "name": name, "phone": phone})
    details = {"account": account_id, "furnisher": furnisher.party_id, "reassignment": row["id"], "rule": "PIPL-46"}
    audit.enqueue(conn, [
        audit.event("account.reassigned", furnisher, row["from_token"], direction="removed", **details),
        audit.event("account.reassigned", furnisher, token, direction="added", **details),
    ])  # fmt: skip
    return {k: row[k] for k in ("id", "account_id", "reference", "reassigned_at")}
