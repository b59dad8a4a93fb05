"""A small known population written as a lake by hand, in the lake format (Hive `month=`
partitions, a snapshot.parquet for parties and obligations, _lake.json), so each supervision
view's answer can be worked out on paper. The answers are in test_views.py.

Judged as of AS_OF = 2026-06-15. Four platforms (A-D), four lenders (Bank One and Bank Two
co-lend; Lender Three only queries; Platform C Credit shares Platform C's USCC), ten persons.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from zhengxin.lake.layout import TABLES

AS_OF = date(2026, 6, 15)
TOKENS = {f"p{n:02d}": f"{n:02d}" + "ab" * 31 for n in range(1, 11)}  # 64 characters, like real tokens

U = {  # unified social credit codes
    "A": "91110000000000001A",
    "B": "91110000000000002B",
    "C": "91110000000000003C",
    "D": "91110000000000004D",
    "bank1": "91110000000000011X",
    "bank2": "91110000000000012X",
    "lender3": "91110000000000013X",
}


BANK1, BANK2 = U["bank1"], U["bank2"]


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


PARTIES = [
    {"id": "fur_a", "role": "furnisher", "name": "Platform A", "uscc": U["A"]},
    {"id": "fur_b", "role": "furnisher", "name": "Platform B", "uscc": U["B"]},
    {"id": "fur_c", "role": "furnisher", "name": "Platform C", "uscc": U["C"]},
    {"id": "fur_d", "role": "furnisher", "name": "Platform D", "uscc": U["D"]},
    {"id": "len_1", "role": "lender", "name": "Bank One", "uscc": U["bank1"]},
    {"id": "len_2", "role": "lender", "name": "Bank Two", "uscc": U["bank2"]},
    {"id": "len_3", "role": "lender", "name": "Lender Three", "uscc": U["lender3"]},
    {"id": "len_c", "role": "lender", "name": "Platform C Credit", "uscc": U["C"]},
    {"id": "reg_1", "role": "regulator", "name": "PBOC", "uscc": None},
]


def _account(furnisher, account, person, product, opened, month, balance, status="current", **extra) -> dict:
    return {
        "furnisher_id": furnisher, "account_id": account, "person_token": TOKENS[person], "product": product,
        "opened_on": date.fromisoformat(opened), "principal_fen": balance, "credit_limit_fen": extra.get("limit"),
        "balance_fen": balance, "overdue_fen": extra.get("overdue", 0), "days_past_due": extra.get("dpd", 0),
        "status": status, "closed_on": date.fromisoformat(extra["closed_on"]) if "closed_on" in extra else None,
        "platform_share": extra.get("share"), "co_lender_uscc": extra.get("co_lender"),
        "payment_history": "N" * 24, "as_of": date.fromisoformat(month + "-28"), "batch_id": f"bat_{furnisher}",
        "updated_at": at(month + "-28"), "month": month,
    }  # fmt: skip


ACCOUNTS = [
    # Platform A
    _account("fur_a", "a1", "p01", "microloan", "2025-10-01", "2026-05", 5_000_000),
    _account("fur_a", "a1", "p01", "microloan", "2025-10-01", "2026-06", 5_000_000),
    _account("fur_a", "a2", "p02", "consumer_loan", "2025-01-01", "2026-06", 18_000_000),
    _account("fur_a", "a3", "p03", "consumer_loan", "2026-06-01", "2026-06", 12_000_000),
    _account("fur_a", "a4", "p04", "microloan", "2026-02-01", "2026-05", 1_000_000, share=0.25, co_lender=BANK1),
    _account("fur_a", "a4", "p04", "microloan", "2026-02-01", "2026-06", 1_000_000, share=0.25, co_lender=BANK1),
    _account("fur_a", "a5", "p04", "consumer_loan", "2025-12-01", "2026-05", 2_000_000, share=0.35, co_lender=BANK1),
    _account("fur_a", "a5", "p04", "consumer_loan", "2025-12-01", "2026-06", 2_000_000, share=0.35, co_lender=BANK1),
    # closed after as_of: still open as of 2026-06-15
    _account("fur_a", "a5", "p04", "consumer_loan", "2025-12-01", "2026-07", 0, "closed", share=0.35,
             co_lender=BANK1, closed_on="2026-07-03"),
    _account("fur_a", "a6", "p05", "microloan", "2025-06-01", "2026-06", 500_000, share=0.30, co_lender=BANK1),
    _account("fur_a", "a7", "p06", "microloan", "2025-03-01", "2026-05", 300_000),
    _account("fur_a", "a7", "p06", "microloan", "2025-03-01", "2026-06", 0, "closed", closed_on="2026-06-05"),
    # Platform B
    _account("fur_b", "b1", "p01", "microloan", "2025-11-01", "2026-06", 4_000_000),
    _account("fur_b", "b2", "p02", "credit_line", "2024-05-01", "2026-06", 15_000_000, limit=20_000_000),
    _account("fur_b", "b3", "p05", "consumer_loan", "2026-03-01", "2026-04", 3_000_000, share=0.25, co_lender=BANK2),
    _account("fur_b", "b3", "p05", "consumer_loan", "2026-03-01", "2026-05", 3_000_000, share=0.25, co_lender=BANK2),
    _account("fur_b", "b3", "p05", "consumer_loan", "2026-03-01", "2026-06", 3_000_000, "overdue", share=0.25,
             co_lender=BANK2, dpd=10, overdue=100_000),
    _account("fur_b", "b4", "p06", "microloan", "2025-08-01", "2026-05", 200_000, share=0.10, co_lender=BANK2),
    _account("fur_b", "b4", "p06", "microloan", "2025-08-01", "2026-06", 0, "closed", share=0.10, co_lender=BANK2,
             closed_on="2026-06-02"),
    # Platform C
    _account("fur_c", "c1", "p01", "microloan", "2026-01-15", "2026-06", 3_000_000),
    _account("fur_c", "c2", "p02", "mortgage", "2020-01-01", "2026-06", 100_000_000),
    _account("fur_c", "c3", "p03", "credit_line", "2025-09-01", "2026-04", 10_000_000),  # latest snapshot: April
    _account("fur_c", "c4", "p07", "bnpl", "2026-03-10", "2026-05", 800_000),
    _account("fur_c", "c4", "p07", "bnpl", "2026-03-10", "2026-06", 800_000, "overdue", dpd=45, overdue=50_000),
    # Platform D
    _account("fur_d", "d1", "p01", "microloan", "2026-02-20", "2026-06", 2_000_000),
    _account("fur_d", "d2", "p07", "microloan", "2026-07-02", "2026-07", 900_000),  # after as_of
    _account("fur_d", "d4", "p10", "microloan", "2025-01-01", "2026-06", 600_000, co_lender=BANK2),  # no share given
    _account("fur_d", "d3", "p08", "microloan", "2026-04-01", "2026-06", 700_000, "written_off", share=0.20,
             co_lender=BANK1),
]  # fmt: skip

CONSUMPTION = [
    {"furnisher_id": "fur_b", "person_token": TOKENS["p01"], "category": "groceries", "amount_fen": 120_000,
     "orders": 12, "as_of": date(2026, 5, 31), "batch_id": "bat_b", "updated_at": at("2026-06-01"), "month": "2026-05"},
]  # fmt: skip


def _inquiry(n, lender, person, purpose, day) -> dict:
    return {
        "id": f"inq_{n}", "lender_id": lender, "person_token": TOKENS[person], "authorization_id": f"aut_{n}",
        "purpose": purpose, "product": "report", "fee_fen": 500, "created_at": at(day), "month": day[:7],
    }  # fmt: skip


INQUIRIES = [
    _inquiry(1, "len_1", "p04", "loan_application", "2026-01-10"),  # a4 co-lent by Bank One, opened 2026-02-01
    _inquiry(2, "len_1", "p05", "loan_application", "2026-01-20"),  # p05's Bank One loan is older: none
    _inquiry(3, "len_2", "p05", "loan_application", "2026-02-05"),  # b3 co-lent by Bank Two, opened 2026-03-01
    _inquiry(4, "len_3", "p09", "loan_application", "2026-01-05"),  # no account
    _inquiry(5, "len_3", "p10", "loan_application", "2026-01-06"),  # no account
    _inquiry(6, "len_3", "p01", "credit_card_application", "2026-02-10"),  # accounts, none with Lender Three
    _inquiry(7, "len_3", "p09", "loan_application", "2026-06-01"),  # its 90 days have not passed
    _inquiry(8, "len_2", "p02", "post_loan_management", "2026-05-20"),  # not an application
    _inquiry(9, "len_c", "p07", "loan_application", "2026-03-01"),  # c4 at Platform C (same USCC), 2026-03-10
    _inquiry(10, "len_1", "p03", "loan_application", "2026-06-20"),  # after as_of
    _inquiry(11, "len_1", "p03", "loan_application", "2026-02-01"),  # a3 opened 2026-06-01: 120 days later
    _inquiry(12, "len_1", "p08", "loan_application", "2026-01-01"),  # d3 co-lent, opened on day 90 exactly
]

OBLIGATIONS = [
    {"id": "obl_1", "furnisher_id": "fur_a", "record_types": ["loan", "consumption"], "frequency": "monthly",
     "first_due_on": date(2026, 2, 10), "active": True, "created_at": at("2026-01-15")},
    {"id": "obl_2", "furnisher_id": "fur_b", "record_types": ["loan"], "frequency": "weekly",
     "first_due_on": date(2026, 5, 18), "active": True, "created_at": at("2026-05-01")},
    {"id": "obl_3", "furnisher_id": "fur_c", "record_types": ["travel"], "frequency": "daily",
     "first_due_on": date(2026, 6, 13), "active": True, "created_at": at("2026-06-01")},
    {"id": "obl_4", "furnisher_id": "fur_d", "record_types": ["loan"], "frequency": "monthly",
     "first_due_on": date(2026, 7, 1), "active": True, "created_at": at("2026-06-01")},
    {"id": "obl_5", "furnisher_id": "fur_a", "record_types": ["travel"], "frequency": "daily",
     "first_due_on": date(2026, 1, 1), "active": False, "created_at": at("2025-12-01")},
]  # fmt: skip


def _batch(id_, furnisher, day, received, accepted, hour=10) -> dict:
    return {
        "id": id_, "furnisher_id": furnisher, "format": "csv", "received": received, "accepted": accepted,
        "rejected": received - accepted, "created_at": at(day, hour), "completed_at": at(day, hour).replace(minute=30),
        "month": day[:7],
    }  # fmt: skip


BATCHES = [
    _batch("bat_a1", "fur_a", "2026-02-05", 10, 8),
    _batch("bat_a2", "fur_a", "2026-03-05", 3, 0),  # everything rejected: not a delivery
    _batch("bat_a3", "fur_a", "2026-03-15", 5, 5),
    _batch("bat_a4", "fur_a", "2026-04-08", 5, 4),
    _batch("bat_a5", "fur_a", "2026-05-20", 5, 5),
    _batch("bat_a6", "fur_a", "2026-06-12", 2, 2),
    _batch("bat_a7", "fur_a", "2026-06-20", 4, 3),  # after as_of
    _batch("bat_b1", "fur_b", "2026-04-01", 4, 2),  # before the obligation
    _batch("bat_b2", "fur_b", "2026-05-10", 3, 3),
    _batch("bat_b3", "fur_b", "2026-05-24", 3, 3),
    _batch("bat_c1", "fur_c", "2026-06-12", 2, 2),
    _batch("bat_c2", "fur_c", "2026-06-15", 1, 1, hour=23),
]


# What each batch accepted, by record type: Platform A's consumption comes in three batches only.
TYPES = {"bat_a1": {"loan": 5, "consumption": 3}, "bat_a3": {"loan": 5}, "bat_a4": {"loan": 2, "consumption": 2},
         "bat_a5": {"loan": 5}, "bat_a6": {"loan": 1, "consumption": 1}, "bat_a7": {"loan": 3},
         "bat_b1": {"loan": 2}, "bat_b2": {"loan": 3}, "bat_b3": {"loan": 3}, "bat_c1": {"travel": 2},
         "bat_c2": {"travel": 1}}  # fmt: skip
DELIVERIES = [
    {"batch_id": b["id"], "furnisher_id": b["furnisher_id"], "record_type": t, "accepted": n,
     "created_at": b["created_at"], "completed_at": b["completed_at"], "month": b["month"]}
    for b in BATCHES for t, n in TYPES.get(b["id"], {}).items()
]  # fmt: skip


def _rejection(batch, line, code, rule=None, record_type="loan", field="person_id") -> dict:
    found = next(b for b in BATCHES if b["id"] == batch)
    return {
        "batch_id": batch, "furnisher_id": found["furnisher_id"], "line": line, "record_type": record_type,
        "field": field, "code": code, "rule": rule, "month": found["month"],
    }  # fmt: skip


REJECTIONS = [
    _rejection("bat_a1", 3, "invalid_resident_id"),
    _rejection("bat_a1", 7, "prohibited_field", "CR-14a", field="religion"),
    _rejection("bat_a2", 1, "invalid_resident_id"),
    _rejection("bat_a2", 2, "invalid_resident_id"),
    _rejection("bat_a2", 3, "missing_consent", "CR-29", field="consent_ref"),
    _rejection("bat_a4", 5, "invalid_resident_id"),
    _rejection("bat_a7", 2, "invalid_date", field="as_of"),  # after as_of
    _rejection("bat_b1", 1, "unknown_field", "CM-7", field="wechat_id"),
    _rejection("bat_b1", 4, "unknown_field", "CM-7", field="wechat_id"),
]


def _dispute(id_, furnisher, person, status, opened, due, outcome=None, answered=None, closed=None) -> dict:
    return {
        "id": id_, "person_token": TOKENS[person], "furnisher_id": furnisher, "record_type": "loan",
        "status": status, "outcome": outcome, "opened_at": at(opened), "due_on": date.fromisoformat(due),
        "escalated_at": None, "answered_at": at(answered) if answered else None,
        "closed_at": at(closed) if closed else None, "month": opened[:7],
    }  # fmt: skip


DISPUTES = [
    _dispute("dsp_1", "fur_a", "p01", "open", "2026-05-01", "2026-05-29"),
    _dispute("dsp_2", "fur_a", "p02", "answered", "2026-05-20", "2026-06-17", answered="2026-06-01"),
    _dispute("dsp_3", "fur_a", "p03", "closed", "2026-04-01", "2026-04-29", "corrected", "2026-04-10", "2026-04-20"),
    # closed after as_of: open (and overdue) on 2026-06-15
    _dispute("dsp_4", "fur_b", "p05", "closed", "2026-05-10", "2026-06-07", "verified", "2026-06-05", "2026-06-20"),
    _dispute("dsp_5", "fur_b", "p06", "closed", "2026-03-01", "2026-03-27", "withdrawn", None, "2026-03-25"),
    _dispute("dsp_6", "fur_b", "p01", "open", "2026-06-16", "2026-07-14"),  # after as_of
    _dispute("dsp_7", "fur_c", "p07", "closed", "2026-02-01", "2026-03-03", "unconfirmable", "2026-02-20",
             "2026-03-10"),
]  # fmt: skip

ROWS = {
    "accounts": ACCOUNTS,
    "consumption": CONSUMPTION,
    "inquiries": INQUIRIES,
    "disputes": DISPUTES,
    "batches": BATCHES,
    "deliveries": DELIVERIES,
    "rejections": REJECTIONS,
    "parties": [{**p, "created_at": at("2025-01-01")} for p in PARTIES],
    "obligations": OBLIGATIONS,
    # travel, denials and log_index stay empty: the views must cope with a table with no file
}


def write_lake(out: Path) -> Path:
    """Write the population under `out` as the lake export would."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table in TABLES:
        rows = ROWS.get(table.name, [])
        counts[table.name] = len(rows)
        if not rows:
            continue
        folder = out / table.name
        if not table.partitioned:
            folder.mkdir(parents=True, exist_ok=True)
            snapshot = pa.Table.from_pylist(rows, schema=table.schema)
            pq.write_table(snapshot, folder / "snapshot.parquet", compression="zstd")
            continue
        by_month = defaultdict(list)
        for row in rows:
            by_month[row["month"]].append({k: v for k, v in row.items() if k != "month"})
        for month, part in sorted(by_month.items()):
            (folder / f"month={month}").mkdir(parents=True, exist_ok=True)
            pq.write_table(
                pa.Table.from_pylist(part, schema=table.schema), folder / f"month={month}" / "part-0.parquet",
                compression="zstd",
            )  # fmt: skip
    (out / "_lake.json").write_text(json.dumps({"exported_at": "2026-06-15T12:00:00Z", "rows": counts}))
    return out
