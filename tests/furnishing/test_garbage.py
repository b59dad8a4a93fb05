"""Hypothesis throws garbage at intake: never a 500, never a lost record."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.records import CONTENT_TYPES, loan, to_csv
from zhengxin.furnishing.tables import quarantine

FIELD_NAMES = [
    "record_type",
    "person_id",
    "name",
    "consent_ref",
    "as_of",
    "account_id",
    "product",
    "opened_on",
    "principal_fen",
    "balance_fen",
    "status",
    "payment_history",
    "religion",
    "x",
    "month",
    "trips",
]
values = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.booleans(),
    st.sampled_from(["loan", "travel", "consumption", "2026-10-31", "NNNN"]),
    st.lists(st.integers(), max_size=3),
)
records = st.lists(
    st.one_of(
        st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=12),
        st.builds(lambda k, v, n: {**loan(n), k: v}, st.sampled_from(FIELD_NAMES), values, st.integers(0, 999)),
    ),
    max_size=12,
)
GARBAGE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check(client, runtime, h, body: bytes, content_type: str) -> None:
    r = client.post("/v1/furnishing/batches", content=body, headers={**h, "Content-Type": content_type})
    assert r.status_code < 500, r.text
    if r.status_code in (200, 201):
        b = r.json()
        assert b["received"] == b["accepted"] + b["rejected"]
        with runtime.engine.connect() as conn:
            kept = conn.execute(
                select(func.count()).select_from(quarantine).where(quarantine.c.batch_id == b["id"])
            ).scalar_one()
        assert kept == b["rejected"]
    else:
        assert r.json()["code"]


@GARBAGE
@given(records)
def test_jsonl_garbage(client, runtime, parties, rows):
    h = getattr(test_jsonl_garbage, "_h", None) or parties.add("furnisher")[1]
    test_jsonl_garbage._h = h
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    _check(client, runtime, h, body, CONTENT_TYPES["jsonl"])


@GARBAGE
@given(st.one_of(records.map(lambda rows: to_csv(rows) if rows and any(rows) else b"a\n1\n"), st.binary(max_size=300)))
def test_csv_garbage(client, runtime, parties, body):
    h = getattr(test_csv_garbage, "_h", None) or parties.add("furnisher")[1]
    test_csv_garbage._h = h
    _check(client, runtime, h, body, CONTENT_TYPES["csv"])


def test_a_csv_header_with_a_bare_carriage_return_is_refused_with_a_code(client, runtime, parties):
    _, h = parties.add("furnisher")
    r = client.post("/v1/furnishing/batches", content=b"a\rb,c\n1,2\n", headers={**h, "Content-Type": "text/csv"})
    assert (r.status_code, r.json()["code"]) == (422, "malformed_header")


def test_an_unknown_record_type_is_quarantined_without_repeating_it(client, runtime, parties):
    _, h = parties.add("furnisher")
    body = b'record_type\n"[0, -100000000000000000000000000]"\n'
    r = client.post("/v1/furnishing/batches", content=body, headers={**h, "Content-Type": "text/csv"})
    assert (r.status_code, r.json()["rejected"]) == (201, 1), r.text
    errors = client.get(f"/v1/furnishing/batches/{r.json()['id']}/errors", headers=h).json()["errors"]
    assert errors[0]["record_type"] is None and errors[0]["raw"] == '"[0, -100000000000000000000000000]"'


def _two_row_groups(tmp_path) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.records import loan

    table = pa.Table.from_pylist([loan(i, account_id=f"A{i}") for i in range(400)])
    path = tmp_path / "two.parquet"
    pq.write_table(table, path, row_group_size=200, compression="NONE")
    return path


@pytest.mark.parametrize("broken", ["duplicate_columns", "corrupt_later_row_group"])
def test_a_parquet_file_that_fails_at_any_row_group_is_a_4xx_and_stores_nothing(client, runtime, parties, tmp_path,
                                                                                  broken):  # fmt: skip
    import pyarrow as pa
    import pyarrow.parquet as pq

    from zhengxin.furnishing.tables import batches, quarantine
    from zhengxin.records.tables import account_snapshots

    _, h = parties.add("furnisher")
    if broken == "duplicate_columns":
        table = pa.table([pa.array(["a"]), pa.array(["b"])], names=["person_id", "person_id"])
        path = tmp_path / "dup.parquet"
        pq.write_table(table, path)
        body = path.read_bytes()
    else:
        path = _two_row_groups(tmp_path)
        meta = pq.ParquetFile(path).metadata
        second = meta.row_group(1).column(0)
        start = second.data_page_offset
        body = bytearray(path.read_bytes())
        body[start : start + second.total_compressed_size] = b"\xff" * second.total_compressed_size
        body = bytes(body)
        assert pq.ParquetFile(pa.BufferReader(body)).metadata.num_row_groups == 2  # the footer still reads
    r = client.post("/v1/furnishing/batches", content=body,
                    headers={**h, "Content-Type": "application/vnd.apache.parquet"})  # fmt: skip
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == ("duplicate_columns" if broken == "duplicate_columns" else "unreadable_file")
    with runtime.reading() as conn:
        for table in (batches, account_snapshots, quarantine):
            assert conn.execute(table.select()).first() is None


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_giant_record_is_rejected_and_kept_truncated_and_errors_are_paged(client, runtime, parties, fmt):
    """Finding 4: one line of megabytes is one record too large, not a server's memory."""
    from tests.records import ENCODERS

    _, h = parties.add("furnisher")
    good = ENCODERS[fmt]([loan(1, account_id="A1"), loan(2, account_id="A2")]).decode()
    lines = good.splitlines()
    giant = ("x" * (5 * 1024 * 1024)) if fmt == "csv" else '{"note": "' + "x" * (5 * 1024 * 1024) + '"}'
    body = "\n".join([*lines[:-1], giant, lines[-1]]) + "\n"
    r = client.post("/v1/furnishing/batches", content=body.encode(), headers={**h, "Content-Type": CONTENT_TYPES[fmt]})
    assert r.status_code == 201, r.text
    assert (r.json()["received"], r.json()["accepted"], r.json()["rejected"]) == (3, 2, 1)
    batch = r.json()["batch_id"]
    errors = client.get(f"/v1/furnishing/batches/{batch}/errors", headers=h).json()
    assert [e["code"] for e in errors["errors"]] == ["record_too_large"]
    assert len(errors["errors"][0]["raw"]) < 2048  # its first KiB is kept, not 5 MiB
    with runtime.reading() as conn:
        sealed = conn.execute(select(func.max(func.length(quarantine.c.raw_ciphertext)))).scalar_one()
    assert sealed < 4096
    r = client.get(f"/v1/furnishing/batches/{batch}/errors", params={"limit": 1001}, headers=h)
    assert r.status_code == 422  # one page holds at most 1,000


@pytest.mark.parametrize("body", [b"[false]", b"[false]\n", b"a,b,c\n1,2,3\n"])
def test_a_csv_without_a_header_of_catalog_fields_is_refused_not_an_empty_batch(client, runtime, parties, body):
    """Issue 15, finding 13: `[false]` was accepted as a batch of 0 records."""
    from zhengxin.furnishing.tables import batches

    _, h = parties.add("furnisher")
    r = client.post("/v1/furnishing/batches", content=body, headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "unknown_header"
    with runtime.reading() as conn:
        assert conn.execute(batches.select()).first() is None
