"""Furnishing over HTTP on both databases: formats, every rejection code, idempotency, atomicity, scoping."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.records import CONTENT_TYPES, ENCODERS, consumption, loan, resident_id, travel
from zhengxin.furnishing.tables import batches, quarantine
from zhengxin.identity.tables import pii_vault
from zhengxin.records.repository import latest_accounts
from zhengxin.records.tables import account_snapshots, consumption_summaries, travel_summaries

FORMATS = ["csv", "jsonl", "parquet"]


def post(client, headers, records, fmt="jsonl", key=None, body=None):
    h = {**headers, "Content-Type": CONTENT_TYPES[fmt]}
    if key:
        h["Idempotency-Key"] = key
    return client.post(
        "/v1/furnishing/batches", content=body if body is not None else ENCODERS[fmt](records), headers=h
    )


def count(runtime, table) -> int:
    with runtime.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize("fmt", FORMATS)
def test_valid_file_is_accepted_in_every_format(client, runtime, parties, fmt):
    _, h = parties.add("furnisher")
    records = [
        loan(1),
        loan(2, product="credit_line", principal_fen=None, credit_limit_fen=1_000_000),
        consumption(3),
        travel(4),
    ]
    r = post(client, h, records, fmt)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["received"], body["accepted"], body["rejected"]) == (4, 4, 0)
    assert body["accepted_by_type"] == {"loan": 2, "consumption": 1, "travel": 1}
    assert count(runtime, account_snapshots) == 2
    assert count(runtime, consumption_summaries) == 1
    assert count(runtime, travel_summaries) == 1
    with runtime.engine.connect() as conn:
        row = (
            conn.execute(select(account_snapshots).where(account_snapshots.c.account_id == "ACC-000002"))
            .mappings()
            .one()
        )
    assert row["credit_limit_fen"] == 1_000_000 and row["principal_fen"] is None
    assert row["payment_history"] == "N" * 20 + "####"
    assert len(row["person_token"]) == 64


BAD = [
    (
        loan(11, person_id=resident_id(11)[:-1] + ("0" if resident_id(11)[-1] != "0" else "1")),
        "person_id",
        "resident_id_checksum",
        None,
    ),
    (loan(12, hobby="golf"), "hobby", "unknown_field", "CM-7"),
    (loan(13, blood_type="A"), "blood_type", "prohibited_field", "CR-14a"),
    (loan(14, consent_ref=None), "consent_ref", "missing_consent", "CR-29"),
    (travel(15, separate_consent_ref=None), "separate_consent_ref", "missing_separate_consent", "PIPL-29"),
    (loan(16, product="payday"), "product", "invalid_enum", None),
    (loan(17, balance_fen=-5), "balance_fen", "negative_amount", None),
    (loan(18, payment_history="NNNX"), "payment_history", "invalid_payment_history", None),
    (loan(19, monthly_income=1_000_000), "monthly_income", "written_consent_required", "CR-14b"),
    (
        loan(20, days_past_due=45, status="overdue", overdue_fen=1000),
        "negative_notice_ref",
        "missing_negative_notice",
        "CR-15",
    ),
    (loan(21, platform_share=1.5), "platform_share", "out_of_range", None),
    (loan(22, as_of="2026-02-30"), "as_of", "invalid_date", None),
    (loan(23, principal_fen=None), "principal_fen", "principal_or_limit", None),
    (consumption(24, month="2026-13"), "month", "invalid_month", None),
    (loan(25, co_lender_uscc="91110000600037341X"), "co_lender_uscc", "invalid_uscc", None),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_bad_record_is_rejected_with_its_own_code_and_kept(client, runtime, parties, fmt):
    _, h = parties.add("furnisher")
    good = [loan(1), consumption(2)]
    records = good + [b[0] for b in BAD]
    r = post(client, h, records, fmt)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["received"] == len(records) == body["accepted"] + body["rejected"]
    assert (body["accepted"], body["rejected"]) == (2, len(BAD))

    errors = client.get(f"/v1/furnishing/batches/{body['id']}/errors", headers=h).json()
    assert errors["total"] == len(BAD)
    first_line = 2 if fmt == "csv" else 1  # CSV line 1 is the header
    by_line = {e["line"]: e for e in errors["errors"]}
    for offset, (record, field, code, rule) in enumerate(BAD, start=len(good)):
        e = by_line[first_line + offset]
        assert (e["field"], e["code"], e["rule"]) == (field, code, rule), (record, e)
        assert (
            record["account_id" if "account_id" in record else "consent_ref"] in e["raw"]
            or record["person_id"] in e["raw"]
        )
        assert record["person_id"] not in e["message"]
    assert count(runtime, quarantine) == len(BAD)
    assert count(runtime, account_snapshots) == 1


def test_resend_with_same_key_changes_nothing(client, runtime, parties):
    _, h = parties.add("furnisher")
    records = [loan(1), loan(2), loan(3, product="nope")]
    first = post(client, h, records, key="batch-2026-10")
    assert first.status_code == 201
    before = (
        count(runtime, batches),
        count(runtime, account_snapshots),
        count(runtime, quarantine),
        count(runtime, pii_vault),
    )
    again = post(client, h, records, key="batch-2026-10")
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    after = (
        count(runtime, batches),
        count(runtime, account_snapshots),
        count(runtime, quarantine),
        count(runtime, pii_vault),
    )
    assert after == before
    clash = post(client, h, [loan(4)], key="batch-2026-10")
    assert clash.status_code == 409
    assert clash.json()["code"] == "idempotency_key_reused"


def test_resend_without_key_is_recognised_by_content(client, runtime, parties):
    _, h = parties.add("furnisher")
    records = [loan(1)]
    assert post(client, h, records).status_code == 201
    assert post(client, h, records).status_code == 200
    assert count(runtime, batches) == 1


def test_an_interrupted_batch_leaves_nothing(runtime, parties, monkeypatch):
    from fastapi.testclient import TestClient

    from zhengxin.app import create_app
    from zhengxin.furnishing import service

    _, h = parties.add("furnisher")
    vault_before = count(runtime, pii_vault)
    calls = {"n": 0}
    real = service.write_records

    def crash_on_third_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "write_records", crash_on_third_chunk)
    records = [loan(i, account_id=f"A{i}") for i in range(2500)]  # 3 chunks of 1,000
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
        r = post(client, h, records, key="k")
    assert r.status_code == 500
    assert r.json()["code"] == "internal_error"
    assert calls["n"] == 3
    for table in (batches, account_snapshots, quarantine):
        assert count(runtime, table) == 0
    assert count(runtime, pii_vault) == vault_before


def test_a_furnisher_cannot_read_another_furnishers_batches(client, parties):
    _, mine = parties.add("furnisher")
    _, theirs = parties.add("furnisher")
    batch = post(client, mine, [loan(1, product="x")]).json()
    for path in (f"/v1/furnishing/batches/{batch['id']}", f"/v1/furnishing/batches/{batch['id']}/errors"):
        r = client.get(path, headers=theirs)
        assert r.status_code == 404
        assert r.json()["code"] == "batch_not_found"
        assert client.get(path, headers=mine).status_code == 200
    assert client.get("/v1/furnishing/batches", headers=theirs).json() == []


def test_supervisors_see_error_codes_but_not_raw_records(client, parties):
    _, furnisher = parties.add("furnisher")
    _, regulator = parties.add("regulator")
    batch = post(client, furnisher, [loan(1, product="x")]).json()
    errors = client.get(f"/v1/furnishing/batches/{batch['id']}/errors", headers=regulator).json()
    assert errors["errors"][0]["code"] == "invalid_enum"
    assert errors["errors"][0]["raw"] is None


def test_only_furnishers_and_lenders_submit_and_only_with_a_valid_key(client, parties):
    _, regulator = parties.add("regulator")
    r = post(client, regulator, [loan(1)])
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "forbidden_role"
    assert post(client, {}, [loan(1)]).status_code == 401
    bad = post(client, {"Authorization": "Bearer zx_0000_nope"}, [loan(1)])
    assert (bad.status_code, bad.json()["code"]) == (401, "invalid_api_key")


def test_unsupported_and_empty_bodies_are_refused(client, parties):
    _, h = parties.add("furnisher")
    r = client.post("/v1/furnishing/batches", content=b"x", headers={**h, "Content-Type": "application/xml"})
    assert (r.status_code, r.json()["code"]) == (415, "unsupported_media_type")
    r = client.post("/v1/furnishing/batches", content=b"", headers={**h, "Content-Type": "text/csv"})
    assert (r.status_code, r.json()["code"]) == (422, "empty_batch")
    r = client.post(
        "/v1/furnishing/batches",
        content=b"not parquet",
        headers={**h, "Content-Type": "application/vnd.apache.parquet"},
    )
    assert (r.status_code, r.json()["code"]) == (422, "unreadable_file")


def test_malformed_lines_are_quarantined_not_dropped(client, runtime, parties):
    _, h = parties.add("furnisher")
    good = ENCODERS["jsonl"]([loan(1)])
    body = good + b"{not json\n" + b"[1,2]\n" + b"\xff\xfe\n" + ENCODERS["jsonl"]([loan(2)])
    r = post(client, h, [], body=body)
    assert r.json()["received"] == 5 and r.json()["accepted"] == 2 and r.json()["rejected"] == 3
    errors = client.get(f"/v1/furnishing/batches/{r.json()['id']}/errors", headers=h).json()["errors"]
    assert [e["code"] for e in errors] == ["invalid_json"] * 3

    csv_body = (ENCODERS["csv"]([loan(3)]) + b'"unterminated,quote\n' + b"a,b\n").replace(b"\r\n", b"\n")
    r = post(client, h, [], fmt="csv", body=csv_body)
    assert r.json()["received"] == r.json()["accepted"] + r.json()["rejected"]
    assert r.json()["accepted"] == 1 and r.json()["rejected"] >= 1


def test_duplicate_records_in_one_batch_are_rejected(client, parties):
    _, h = parties.add("furnisher")
    r = post(client, h, [loan(1), loan(1), loan(1, as_of="2026-09-30")])
    assert (r.json()["accepted"], r.json()["rejected"]) == (2, 1)
    errors = client.get(f"/v1/furnishing/batches/{r.json()['id']}/errors", headers=h).json()["errors"]
    assert errors[0]["code"] == "duplicate_record" and errors[0]["line"] == 2


def test_snapshots_keep_history_and_a_late_older_report_never_overwrites_a_newer_one(client, runtime, parties):
    _, h = parties.add("furnisher")
    post(client, h, [loan(1, as_of="2026-10-31", balance_fen=100)])
    post(client, h, [loan(1, as_of="2026-09-30", balance_fen=900)])
    post(client, h, [loan(1, as_of="2026-10-15", balance_fen=700)])  # older than what October holds
    with runtime.engine.connect() as conn:
        months = dict(conn.execute(select(account_snapshots.c.month, account_snapshots.c.balance_fen)).all())
        token = conn.execute(select(account_snapshots.c.person_token)).scalars().first()
        assert months == {"2026-10": 100, "2026-09": 900}
        assert [a["balance_fen"] for a in latest_accounts(conn, token)] == [100]
    post(client, h, [loan(1, as_of="2026-11-20", balance_fen=50)])
    with runtime.engine.connect() as conn:
        assert [a["balance_fen"] for a in latest_accounts(conn, token)] == [50]


def test_a_large_batch_leaves_fresh_planner_statistics(client, runtime, parties):
    from sqlalchemy import text

    runtime.settings.analyze_after_records = 3  # the fixture runtime is this test's own
    _, h = parties.add("furnisher")
    assert post(client, h, [loan(1), loan(2), loan(3)]).status_code == 201
    if runtime.engine.dialect.name != "postgresql":
        return  # SQLite plans these lookups by index without statistics
    with runtime.engine.connect() as conn:
        reltuples = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('account_snapshots')")
        ).scalar_one()
    assert reltuples == 3  # ANALYZE ran in the batch's transaction
