"""Building an approved cross-border export (for transfers): one Parquet file (zstd) holding
the approved record types for at most the approved number of persons, read from the record store.

Persons are known by their token only; no identifier exists in the store to leak, and the
provenance columns (consent references, batch ids, load times) stay home. One row per stored
record, its `record_type` first; columns a record type does not have are null.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, Table, func, select, union

from zhengxin.records.tables import account_snapshots, consumption_summaries, generic_records, travel_summaries

CHUNK = 50_000

STORES: dict[str, tuple[Table, list[tuple[str, pa.DataType]]]] = {
    "accounts": (account_snapshots, [
        ("account_id", pa.string()), ("month", pa.string()), ("product", pa.string()), ("opened_on", pa.date32()),
        ("principal_fen", pa.int64()), ("credit_limit_fen", pa.int64()), ("balance_fen", pa.int64()),
        ("overdue_fen", pa.int64()), ("days_past_due", pa.int64()), ("status", pa.string()),
        ("closed_on", pa.date32()), ("platform_share", pa.float64()), ("co_lender_uscc", pa.string()),
        ("payment_history", pa.string()), ("scheduled_payment_fen", pa.int64()), ("term_months", pa.int64()),
        ("minimum_due_fen", pa.int64()), ("statement_date", pa.date32()), ("as_of", pa.date32()),
    ]),
    "consumption": (consumption_summaries, [
        ("month", pa.string()), ("category", pa.string()), ("amount_fen", pa.int64()), ("orders", pa.int64()),
        ("as_of", pa.date32()),
    ]),
    "travel": (travel_summaries, [
        ("month", pa.string()), ("trips", pa.int64()), ("cities", pa.int64()), ("as_of", pa.date32()),
    ]),
    "generic": (generic_records, [("record_key", pa.string()), ("payload", pa.string()), ("as_of", pa.date32())]),
}  # fmt: skip
LEADING = [("record_type", pa.string()), ("furnisher_id", pa.string()), ("person_token", pa.string())]


def build(
    conn: Connection, catalog, record_types: list[str], max_persons: int, furnisher_id: str | None, path: Path
) -> dict:
    """Write the export to `path`; `furnisher_id` limits it to that furnisher's records (None:
    every record). Returns the persons and records it holds, its size and SHA-256."""
    sources = [(name, catalog.record_types[name].store) for name in record_types]
    schema = _schema([store for _, store in sources])
    chosen = chosen_persons(catalog, record_types, max_persons, furnisher_id)
    persons = conn.execute(select(func.count()).select_from(chosen)).scalar_one()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        records = _write(conn, partial, schema, sources, chosen, furnisher_id)
    except BaseException:
        partial.unlink(missing_ok=True)  # no half-written dataset stays behind
        raise
    digest = hashlib.sha256()
    with partial.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    size = partial.stat().st_size
    os.replace(partial, path)
    return {"persons": persons, "records": records, "bytes": size, "sha256": digest.hexdigest()}


def _write(conn: Connection, path: Path, schema: pa.Schema, sources, chosen, furnisher_id: str | None) -> int:
    records = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for name, store in sources:
            table, columns = STORES[store]
            query = (
                select(table.c.furnisher_id, table.c.person_token, *(table.c[c] for c, _ in columns))
                .where(table.c.person_token.in_(select(chosen.c.person_token)), *_scope(table, name, furnisher_id))
                .order_by(*table.primary_key.columns)
                .execution_options(yield_per=CHUNK)
            )
            for part in conn.execute(query).mappings().partitions():
                rows = [_row(name, store, r) for r in part]
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                records += len(rows)
    return records


def _schema(stores: list[str]) -> pa.Schema:
    fields = dict(LEADING)
    for store in stores:
        for column, kind in STORES[store][1]:
            fields.setdefault(column, kind)
    return pa.schema(list(fields.items()))


def _scope(table: Table, record_type: str, furnisher_id: str | None) -> list:
    where = [table.c.record_type == record_type] if table is generic_records else []
    if furnisher_id is not None:
        where.append(table.c.furnisher_id == furnisher_id)
    return where


def chosen_persons(catalog, record_types: list[str], limit: int, furnisher_id: str | None):
    """The first `limit` persons (by token) holding any of the record types in scope: those an
    export holds (a subquery with a `person_token` column)."""
    sources = [(name, catalog.record_types[name].store) for name in record_types]
    held = union(*(
        select(STORES[store][0].c.person_token).where(*_scope(STORES[store][0], name, furnisher_id)).distinct()
        for name, store in sources
    )).subquery()  # fmt: skip
    return select(held.c.person_token).order_by(held.c.person_token).limit(limit).subquery()


def _row(record_type: str, store: str, row) -> dict:
    out = dict(row)
    out["record_type"] = record_type
    if store == "generic" and not isinstance(out["payload"], str):
        out["payload"] = orjson.dumps(out["payload"], option=orjson.OPT_SORT_KEYS).decode()
    return out
