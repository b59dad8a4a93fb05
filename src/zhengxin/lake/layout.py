"""The lake's tables: names, columns and Arrow types, how each is partitioned and refreshed.

This is the contract the analytics read (the shared lake format, zhengxin.analytics): column
names and types are the store's (dates as Date, instants as UTC timestamps, money as Int64
fen). No table here holds a resident ID, a name of a person, a phone, free text, sealed
ciphertext or an API key; `parties` holds organisations only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

TYPES = {
    "str": pa.string(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "ts": pa.timestamp("us", tz="UTC"),
    "strlist": pa.list_(pa.string()),
}

# How a table is kept up to date:
#   months  rows change in place (resends, retention): per-month fingerprints pick the months to rewrite
#   append  rows are only ever added: each run appends a part file of the rows past the watermark
#   digest  small tables that change: rewritten (per month, or whole) when their content changes
MODES = ("months", "append", "digest")


@dataclass(frozen=True)
class LakeTable:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, kind in TYPES)
    mode: str
    partitioned: bool = True  # by month (Hive `month=YYYY-MM`); else one snapshot.parquet

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(name, TYPES[kind]) for name, kind in self.columns])

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def _cols(spec: str) -> tuple[tuple[str, str], ...]:
    return tuple((part.split(":")[0], part.split(":")[1] if ":" in part else "str") for part in spec.split())


ACCOUNTS = LakeTable(
    "accounts",
    _cols(
        "furnisher_id account_id person_token product opened_on:date principal_fen:int64 credit_limit_fen:int64 "
        "balance_fen:int64 overdue_fen:int64 days_past_due:int32 status closed_on:date platform_share:float64 "
        "co_lender_uscc payment_history as_of:date batch_id updated_at:ts"
    ),
    "months",
)
CONSUMPTION = LakeTable(
    "consumption",
    _cols("furnisher_id person_token category amount_fen:int64 orders:int32 as_of:date batch_id updated_at:ts"),
    "months",
)
TRAVEL = LakeTable(
    "travel",
    _cols("furnisher_id person_token trips:int32 cities:int32 as_of:date batch_id updated_at:ts"),
    "months",
)
INQUIRIES = LakeTable(
    "inquiries",
    _cols("id lender_id person_token authorization_id purpose product fee_fen:int64 created_at:ts"),
    "append",
)
DENIALS = LakeTable("denials", _cols("decision_id kind rules:strlist created_at:ts"), "append")
DISPUTES = LakeTable(
    "disputes",
    _cols(
        "id person_token furnisher_id record_type status outcome opened_at:ts due_on:date escalated_at:ts "
        "answered_at:ts closed_at:ts"
    ),
    "digest",
)
LOG_INDEX = LakeTable("log_index", _cols("leaf_index:int64 kind person_token created_at:ts"), "append")
BATCHES = LakeTable(
    "batches",
    _cols("id furnisher_id format received:int32 accepted:int32 rejected:int32 created_at:ts completed_at:ts"),
    "append",
)
# What each batch delivered: its accepted records by record type (what obligations are judged by).
DELIVERIES = LakeTable(
    "deliveries", _cols("batch_id furnisher_id record_type accepted:int32 created_at:ts completed_at:ts"), "append"
)
REJECTIONS = LakeTable("rejections", _cols("batch_id furnisher_id line:int32 record_type field code rule"), "append")
PARTIES = LakeTable("parties", _cols("id role name uscc created_at:ts"), "digest", partitioned=False)
OBLIGATIONS = LakeTable(
    "obligations",
    _cols("id furnisher_id record_types:strlist frequency first_due_on:date active:bool created_at:ts"),
    "digest",
    partitioned=False,
)

TABLES = (
    ACCOUNTS, CONSUMPTION, TRAVEL, INQUIRIES, DENIALS, DISPUTES, LOG_INDEX, BATCHES, DELIVERIES, REJECTIONS, PARTIES,
    OBLIGATIONS,
)  # fmt: skip
