"""Issue 15, faults: a server killed with SIGKILL in the middle of an upload or of inquiries
leaves every unit of work whole or absent; a PostgreSQL restart under load is answered 503
and the server recovers by itself; a full SQLite disk is a clear error with nothing half
written. The server is a real `zhengxin serve` process."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from tests.bureau import Bureau
from tests.records import loan, to_csv
from tests.servers import Server, free_port
from zhengxin.app import create_app
from zhengxin.audit.tables import log_leaves, log_queue
from zhengxin.billing.tables import charges
from zhengxin.furnishing.tables import batches, quarantine
from zhengxin.inquiries.tables import inquiries
from zhengxin.records.tables import account_snapshots

pytestmark = pytest.mark.slow


def _count(runtime, table, *where) -> int:
    with runtime.reading() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def _logged_inquiries(runtime) -> set[str]:
    """Inquiry ids named by "inquiry" events, queued or already in the tree."""
    with runtime.reading() as conn:
        leaves = [leaf for (text,) in conn.execute(select(log_queue.c.leaves)) for leaf in text.split("\n")]
        leaves += [leaf for (leaf,) in conn.execute(select(log_leaves.c.leaf).where(log_leaves.c.kind == "inquiry"))]
    events = [orjson.loads(leaf) for leaf in leaves if leaf]
    return {e["inquiry"] for e in events if e.get("kind") == "inquiry"}


def _assert_inquiries_whole(runtime) -> int:
    """Every inquiry has its charge and its log event, and nothing of the kind exists alone."""
    with runtime.reading() as conn:
        asked = set(conn.execute(select(inquiries.c.id)).scalars())
        charged = set(conn.execute(select(charges.c.inquiry_id)).scalars())
    assert asked == charged, "an inquiry without its charge, or a charge without its inquiry"
    assert _logged_inquiries(runtime) == asked, "an inquiry without its log event, or the reverse"
    return len(asked)


def test_sigkill_during_inquiries_leaves_each_whole_or_absent(runtime, parties, tmp_path):
    with TestClient(create_app(runtime=runtime), base_url="http://127.0.0.1") as client:
        bureau = Bureau(client, parties)
        lender = bureau.lender("Bank", 1)
        people = [bureau.person(n) for n in range(1, 25)]
        grants = [bureau.grant(p, lender)["id"] for p in people]
    server = Server(runtime.settings.url, runtime.settings, tmp_path).start()
    answered = []

    def ask(person, authorization_id):
        body = {"person_id": person.person_id, "authorization_id": authorization_id,
                "purpose": "loan_application", "product": "report"}  # fmt: skip
        try:
            r = httpx.post(f"{server.base}/v1/inquiries", json=body, headers=lender.headers, timeout=30)
            answered.append(r.status_code)
        except httpx.HTTPError:
            answered.append(None)  # the connection died with the server

    threads = [threading.Thread(target=ask, args=pg) for pg in zip(people, grants, strict=True)]
    for t in threads[:8]:
        t.start()
    for t in threads[:8]:
        t.join()
    for t in threads[8:]:
        t.start()
    time.sleep(0.05)
    server.kill()
    for t in threads[8:]:
        t.join()
    done = _assert_inquiries_whole(runtime)
    assert answered.count(201) >= 8 and done >= answered.count(201)  # every answered one was kept
    # A restarted server takes inquiries again, and the log verifies.
    server.start()
    try:
        r = httpx.get(f"{server.base}/v1/parties/me", headers=lender.headers, timeout=10)
        assert r.status_code == 200
    finally:
        server.kill()
    _assert_inquiries_whole(runtime)


def test_sigkill_during_an_upload_leaves_the_batch_whole_or_absent(runtime, parties, tmp_path):
    _, furnisher = parties.add("furnisher")
    body = to_csv([loan(i, account_id=f"A{i}") for i in range(40_000)])
    server = Server(runtime.settings.url, runtime.settings, tmp_path).start()
    outcome = {}

    def upload():
        try:
            r = httpx.post(f"{server.base}/v1/furnishing/batches", content=body, timeout=120,
                           headers={**furnisher, "Content-Type": "text/csv", "Idempotency-Key": "big"})  # fmt: skip
            outcome["status"] = r.status_code
        except httpx.HTTPError:
            outcome["status"] = None

    thread = threading.Thread(target=upload)
    thread.start()
    deadline = time.monotonic() + 60  # kill once the server is at work on the file
    spooled = "zhengxin-spool-*/*/zx-*"  # the server's TMPDIR is tmp_path
    while time.monotonic() < deadline and not any(tmp_path.glob(spooled)):
        time.sleep(0.01)
    time.sleep(0.3)
    server.kill()
    thread.join()
    stored = _count(runtime, batches)
    if stored:  # it committed before the kill: then all of it
        assert outcome.get("status") in (201, None)
        assert _count(runtime, account_snapshots) + _count(runtime, quarantine) == 40_000
    else:
        assert _count(runtime, account_snapshots) == 0 and _count(runtime, quarantine) == 0
    # The next start removes what the killed process left in its spool.
    server.start()
    server.kill()
    assert not list(tmp_path.glob(spooled)), "a spooled upload outlived the crash"


def test_a_full_sqlite_disk_is_a_clear_error_and_nothing_is_half_written(tmp_path):
    from tests.conftest import Parties, make_settings
    from zhengxin.deployment import migrate
    from zhengxin.runtime import Runtime

    runtime = Runtime(make_settings(f"sqlite:///{tmp_path / 'zhengxin.db'}", log_schedule=False, data_dir=tmp_path))
    migrate(runtime.engine)
    _, furnisher = Parties(runtime).add("furnisher")
    with runtime.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()

    @event.listens_for(runtime.engine, "connect")
    def _small_disk(dbapi_conn, _record):  # the file may grow by 40 pages (160 KiB) and no more
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 40}")

    runtime.engine.dispose()
    body = to_csv([loan(i, account_id=f"A{i}") for i in range(5000)])
    with TestClient(create_app(runtime=runtime), base_url="http://127.0.0.1") as client:
        r = client.post("/v1/furnishing/batches", content=body,
                        headers={**furnisher, "Content-Type": "text/csv", "Idempotency-Key": "full"})  # fmt: skip
        assert r.status_code == 507, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "storage_full"
        assert client.get("/healthz").status_code == 200  # reads go on
    assert _count(runtime, batches) == 0 and _count(runtime, account_snapshots) == 0
    runtime.engine.dispose()


PG_BIN = Path("/usr/lib/postgresql") / (sorted(os.listdir("/usr/lib/postgresql"))[-1] if Path(
    "/usr/lib/postgresql").exists() else "none") / "bin"  # fmt: skip


class PrivateCluster:
    """A PostgreSQL cluster of this test's own (initdb as the postgres user when run as root),
    so restarting it disturbs no other test."""

    def __init__(self):
        # Outside pytest's root-only temporary tree, which the postgres user cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix="pgcluster-"))
        self.dir = self.root / "pgdata"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.as_postgres, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr + done.stdout

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def init(self) -> PrivateCluster:
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres", "--no-sync")
        return self

    def pg_ctl(self, action: str) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-w", "-m", "fast", "-l", str(self.dir / "log"),
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", action)  # fmt: skip


def test_a_postgresql_restart_under_load_is_503_and_the_server_recovers(tmp_path):
    from tests.conftest import Parties, make_settings
    from zhengxin.deployment import migrate
    from zhengxin.runtime import Runtime

    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL's server binaries are missing ({PG_BIN}): install the postgresql package")
    cluster = PrivateCluster().init()
    cluster.pg_ctl("start")
    runtime = Runtime(make_settings(cluster.url, log_schedule=False, data_dir=tmp_path))
    server = None
    try:
        migrate(runtime.engine)
        _, lender = Parties(runtime).add("lender")
        server = Server(cluster.url, runtime.settings, tmp_path).start()
        statuses: list[int | None] = []
        stop = threading.Event()

        def load():
            with httpx.Client(base_url=server.base, timeout=15) as client:
                while not stop.is_set():
                    try:
                        statuses.append(client.get("/v1/parties/me", headers=lender).status_code)
                    except httpx.HTTPError as e:
                        statuses.append(None)
                        failures.append(repr(e))

        failures: list[str] = []
        workers = [threading.Thread(target=load) for _ in range(4)]
        for w in workers:
            w.start()
        time.sleep(1.0)
        cluster.pg_ctl("stop")
        time.sleep(1.5)
        down = len(statuses)
        cluster.pg_ctl("start")
        recovered_at = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if statuses[-20:] and all(s == 200 for s in statuses[-20:]) and len(statuses) > down + 20:
                recovered_at = time.monotonic()
                break
            time.sleep(0.1)
        stop.set()
        for w in workers:
            w.join()
        assert 500 not in statuses and None not in statuses, (sorted(set(statuses), key=str), failures[:3])
        assert 503 in statuses, "the requests made while the database was down were not answered 503"
        assert recovered_at is not None, "the server did not recover by itself"
    finally:
        if server is not None:
            server.kill()
        runtime.engine.dispose()
        cluster.pg_ctl("stop")
        cluster.remove()
