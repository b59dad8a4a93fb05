"""Building furnisher records for tests: valid by default, broken one field at a time."""

from __future__ import annotations

import io
import json

import polars as pl
from stdnum.cn import ric

LOAN_FIELDS = [
    "record_type",
    "person_id",
    "name",
    "phone",
    "consent_ref",
    "as_of",
    "account_id",
    "product",
    "opened_on",
    "principal_fen",
    "credit_limit_fen",
    "balance_fen",
    "overdue_fen",
    "days_past_due",
    "status",
    "closed_on",
    "platform_share",
    "co_lender_uscc",
    "payment_history",
    "negative_notice_ref",
]


def resident_id(n: int, region: str = "110105", birth: str = "19900101") -> str:
    body = f"{region}{birth}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def loan(n: int = 1, **overrides) -> dict:
    record = {
        "record_type": "loan",
        "person_id": resident_id(n),
        "name": "张伟",
        "phone": f"138{n:08d}",
        "consent_ref": f"CNS-{n:06d}",
        "as_of": "2026-10-31",
        "account_id": f"ACC-{n:06d}",
        "product": "microloan",
        "opened_on": "2025-03-01",
        "principal_fen": 500000,
        "credit_limit_fen": None,
        "balance_fen": 320000,
        "overdue_fen": 0,
        "days_past_due": 0,
        "status": "current",
        "closed_on": None,
        "platform_share": 0.35,
        "co_lender_uscc": None,
        "payment_history": "N" * 20 + "####",
        "negative_notice_ref": None,
    }
    record.update(overrides)
    return record


def consumption(n: int = 1, **overrides) -> dict:
    record = {
        "record_type": "consumption",
        "person_id": resident_id(n),
        "name": "李娜",
        "consent_ref": f"CNS-{n:06d}",
        "as_of": "2026-10-31",
        "month": "2026-10",
        "category": "groceries",
        "amount_fen": 123456,
        "orders": 17,
    }
    record.update(overrides)
    return record


def travel(n: int = 1, **overrides) -> dict:
    record = {
        "record_type": "travel",
        "person_id": resident_id(n),
        "name": "王芳",
        "consent_ref": f"CNS-{n:06d}",
        "as_of": "2026-10-31",
        "month": "2026-10",
        "trips": 3,
        "cities": 2,
        "separate_consent_ref": f"SEP-{n:06d}",
    }
    record.update(overrides)
    return record


def card(n: int = 1, **overrides) -> dict:
    """A bank's credit card: limit, balance used, minimum due and statement date."""
    terms = {
        "account_id": f"CARD-{n:06d}", "product": "credit_card", "principal_fen": None, "credit_limit_fen": 2_000_000,
        "balance_fen": 500_000, "minimum_due_fen": 50_000, "statement_date": "2026-10-20", "platform_share": None,
    }  # fmt: skip
    return loan(n, **{**terms, **overrides})


def liability(n: int = 1, **overrides) -> dict:
    """A guarantee by person `n` of another person's account at the same furnisher."""
    record = {
        "record_type": "liability",
        "person_id": resident_id(n),
        "name": "赵敏",
        "consent_ref": f"CNS-G{n:05d}",
        "as_of": "2026-10-31",
        "liability_id": f"GUA-{n:06d}",
        "kind": "guarantee",
        "account_id": "ACC-000001",
        "amount_fen": 1_000_000,
        "liability_fen": 500_000,
        "opened_on": "2025-03-01",
        "status": "active",
        "released_on": None,
    }
    record.update(overrides)
    return record


def public_record(n: int = 1, **overrides) -> dict:
    record = {
        "record_type": "public_record",
        "person_id": resident_id(n),
        "name": "张伟",
        "consent_ref": f"PUB-{n:06d}",
        "as_of": "2026-10-31",
        "case_number": f"(2025)京0105执{n:04d}号",
        "kind": "court_enforcement",
        "authority": "北京市朝阳区人民法院",
        "amount_fen": 3_000_000,
        "decided_on": "2025-06-01",
        "status": "open",
        "concluded_on": None,
    }
    record.update(overrides)
    return record


def to_jsonl(records: list[dict]) -> bytes:
    return "".join(
        json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False) + "\n" for r in records
    ).encode()


def to_csv(records: list[dict]) -> bytes:
    columns: dict[str, None] = {}
    for r in records:
        columns.update(dict.fromkeys(r))
    frame = pl.DataFrame(
        [{c: (None if r.get(c) is None else str(r.get(c))) for c in columns} for r in records],
        schema={c: pl.String for c in columns},
    )
    return frame.write_csv().encode()


def to_parquet(records: list[dict]) -> bytes:
    frame = pl.DataFrame(records, infer_schema_length=None)
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}
ENCODERS = {"csv": to_csv, "jsonl": to_jsonl, "parquet": to_parquet}
