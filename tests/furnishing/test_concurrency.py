"""Issue 15, finding 1: one furnisher's big batch must not stall the exchange. Reads never wait
for a writer; the intake's parsing, validation and encryption hold no lock; a write that truly
cannot get the database is answered 503 with Retry-After, and stores nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import make_settings
from tests.records import loan, to_csv
from zhengxin.app import create_app
from zhengxin.furnishing import service
from zhengxin.furnishing.tables import batches
from zhengxin.parties.service import Actor
from zhengxin.parties.tables import parties as parties_table
from zhengxin.records.tables import account_snapshots
from zhengxin.runtime import Runtime


def _count(runtime: Runtime, table) -> int:
    with runtime.reading() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_other_writers_go_on_while_a_batch_is_parsed_and_validated(runtime, parties, tmp_path):
    """While the intake works through its chunks, another request's write commits at once:
    on SQLite the writer lock is taken only to write what was prepared."""
    row, _ = parties.add("furnisher")
    actor = Actor(party_id=row["id"], role="furnisher", name=row["name"])
    path = tmp_path / "loans.csv"
    path.write_bytes(to_csv([loan(i, account_id=f"A{i}") for i in range(3500)]))  # 4 chunks of 1,000
    writes_meanwhile = []

    def meanwhile(records: int, _bytes: int) -> None:
        if records < 3500:  # between chunks: another party registers, on a writer of its own
            parties.add("lender")
            writes_meanwhile.append(records)

    result = service.submit_file(runtime, actor, path, "csv", "k1", progress=meanwhile)
    assert writes_meanwhile == [1000, 2000, 3000]
    assert result.batch["accepted"] == 3500
    assert _count(runtime, account_snapshots) == 3500
    with runtime.reading() as conn:
        lenders = conn.execute(select(func.count()).where(parties_table.c.role == "lender")).scalar_one()
    assert lenders == 3


@pytest.fixture
def sqlite_runtime(tmp_path) -> Runtime:
    from zhengxin.deployment import migrate

    url = f"sqlite:///{tmp_path / 'zhengxin.db'}"
    runtime = Runtime(make_settings(url, database_busy_seconds=0.2, log_schedule=False, data_dir=tmp_path))
    migrate(runtime.engine)
    yield runtime
    runtime.engine.dispose()


def _hold_writer_lock(url: str) -> sqlite3.Connection:
    """Another process's long write: the SQLite writer lock taken and kept."""
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE parties SET name = name WHERE 0")
    return holder


def test_reads_answer_while_the_writer_lock_is_held_and_writes_get_503(sqlite_runtime):
    from tests.conftest import Parties

    parties = Parties(sqlite_runtime)
    _, furnisher = parties.add("furnisher")
    _, lender = parties.add("lender")
    _, agency = parties.add("agency")
    from zhengxin.audit.service import log_signer, sign_head

    with sqlite_runtime.transaction() as conn:
        sign_head(conn, log_signer(sqlite_runtime))
    holder = _hold_writer_lock(sqlite_runtime.settings.url)
    try:
        with TestClient(create_app(runtime=sqlite_runtime), base_url="http://127.0.0.1") as client:
            assert client.get("/healthz").status_code == 200
            assert client.get("/v1/parties/me", headers=lender).status_code == 200
            assert client.get("/v1/furnishing/batches", headers=furnisher).status_code == 200
            assert client.get("/v1/log/sth", headers=lender).status_code == 200

            body = to_csv([loan(1)])
            r = client.post("/v1/furnishing/batches", content=body,
                            headers={**furnisher, "Content-Type": "text/csv", "Idempotency-Key": "b1"})  # fmt: skip
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "database_busy"
            assert int(r.headers["Retry-After"]) > 0
            assert _count(sqlite_runtime, batches) == 0

            r = client.post("/v1/parties", headers=agency, json={"role": "lender", "name": "another bank",
                                                                  "uscc": "91110000600037341L"})  # fmt: skip
            assert r.status_code == 503, r.text
        holder.rollback()
        # Once the other write is done, the same requests go through.
        with TestClient(create_app(runtime=sqlite_runtime), base_url="http://127.0.0.1") as client:
            r = client.post("/v1/furnishing/batches", content=body,
                            headers={**furnisher, "Content-Type": "text/csv", "Idempotency-Key": "b1"})  # fmt: skip
            assert r.status_code == 201, r.text
    finally:
        holder.close()


def test_readers_cannot_write(sqlite_runtime):
    """The readers' connections are query-only: a write slipped into a read path fails loudly."""
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError, match="readonly"), sqlite_runtime.reading() as conn:
        conn.execute(parties_table.delete())


def test_the_database_file_holds_the_batch_only_once_written(sqlite_runtime, tmp_path):
    """A batch that fails while being prepared (an unreadable file) never took the lock and
    left nothing behind, not even its spill files."""
    import tempfile

    from tests.conftest import Parties
    from zhengxin.kit.errors import Problem

    row, _ = Parties(sqlite_runtime).add("furnisher")
    actor = Actor(party_id=row["id"], role="furnisher", name=row["name"])
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 this is not parquet PAR1")
    spills_before = set(Path(tempfile.gettempdir()).glob("zx-intake-*"))
    holder = _hold_writer_lock(sqlite_runtime.settings.url)
    try:
        with pytest.raises(Problem) as failed:
            service.submit_file(sqlite_runtime, actor, path, "parquet")
        assert failed.value.status == 422
    finally:
        holder.close()
    assert _count(sqlite_runtime, batches) == 0
    assert set(Path(tempfile.gettempdir()).glob("zx-intake-*")) == spills_before
