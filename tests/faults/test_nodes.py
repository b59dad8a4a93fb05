"""Issue 17, beyond one box: two `zhengxin serve` processes on two ports over one PostgreSQL
database take inquiries side by side; exactly one of them leads the background work
(sequencing and signing the log) at a time, by a PostgreSQL advisory lock; killing the leader
with SIGKILL hands the lead to the other within seconds, and the log verifies afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.bureau import Bureau
from tests.conftest import _empty_all_tables, make_settings
from tests.servers import Server, secrets_env
from zhengxin.app import create_app
from zhengxin.audit import service as audit
from zhengxin.runtime import Runtime

pytestmark = pytest.mark.slow

LEADERS = text("""
    SELECT a.application_name FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
    WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = ANY(:names)
""")


@pytest.fixture
def pg_runtime(pg_schema_url, tmp_path):
    """The runtime fixture on PostgreSQL only: the same emptied schema of this test process."""
    runtime = Runtime(make_settings(pg_schema_url, data_dir=tmp_path / "data"))
    _empty_all_tables(runtime.engine)
    yield runtime
    runtime.engine.dispose()


def leaders(runtime: Runtime, servers: list[Server]) -> list[Server]:
    """The servers whose background worker holds the lead (their pid names the lock's session)."""
    names = {f"zhengxin background {s.proc.pid}": s for s in servers if s.proc and s.proc.poll() is None}
    with runtime.reading() as conn:
        held = conn.execute(LEADERS, {"names": list(names)}).scalars().all()
    return [names[n] for n in held]


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


def test_two_nodes_one_leader_and_a_takeover_after_sigkill(pg_runtime, tmp_path):
    runtime = pg_runtime
    with TestClient(create_app(runtime=runtime), base_url="http://127.0.0.1") as client:
        from tests.conftest import Parties

        bureau = Bureau(client, Parties(runtime))
        lender = bureau.lender("Bank", 1)
        people = [bureau.person(n) for n in range(1, 41)]
        grants = [bureau.grant(p, lender)["id"] for p in people]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    nodes = [Server(runtime.settings.url, runtime.settings, tmp_path / "a").start(),
             Server(runtime.settings.url, runtime.settings, tmp_path / "b").start()]  # fmt: skip
    try:
        answered: list[int] = []

        def ask(node: Server, person, authorization_id):
            body = {"person_id": person.person_id, "authorization_id": authorization_id,
                    "purpose": "loan_application", "product": "report"}  # fmt: skip
            r = httpx.post(f"{node.base}/v1/inquiries", json=body, headers=lender.headers, timeout=30)
            answered.append(r.status_code)

        def drive(pairs, through: list[Server]):
            threads = [threading.Thread(target=ask, args=(through[i % len(through)], *pg))
                       for i, pg in enumerate(pairs)]  # fmt: skip
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        first = wait_for(lambda: leaders(runtime, nodes), 10, "a leader")
        pairs = list(zip(people, grants, strict=True))
        drive(pairs[:24], nodes)  # both nodes answer inquiries
        assert answered == [201] * 24
        for _ in range(10):  # never two leaders, and the lead stays put while its holder lives
            assert leaders(runtime, nodes) == first
            time.sleep(0.1)
        # The leader sequences what both nodes queued.
        wait_for(lambda: pg_queue_empty(runtime), 10, "the log sequenced")

        (leader,) = first
        survivor = next(n for n in nodes if n is not leader)
        killed_at = time.monotonic()
        leader.kill()
        taken = wait_for(lambda: leaders(runtime, nodes), 10, "the survivor taking the lead")
        assert taken == [survivor]
        handover = time.monotonic() - killed_at
        assert handover < 5, f"the lead passed after {handover:.1f} s"
        print(f"the lead passed to the survivor {handover:.2f} s after the SIGKILL")

        drive(pairs[24:], [survivor])
        assert answered == [201] * 40
        wait_for(lambda: pg_queue_empty(runtime), 10, "the survivor sequencing the log")
        with runtime.transaction() as conn:
            audit.sign_head(conn, audit.log_signer(runtime))
    finally:
        for node in nodes:
            node.kill()
    verify = subprocess.run(
        [sys.executable, "-c", "from zhengxin.cli import main; main()", "log", "verify", "--db", runtime.settings.url],
        env={**os.environ, **secrets_env(runtime.settings), "ZHENGXIN_DATA_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "log verified" in verify.stdout + verify.stderr  # the console writes to stderr


def pg_queue_empty(runtime: Runtime) -> bool:
    with runtime.reading() as conn:
        return audit.queued(conn) == 0


def test_a_revoked_key_is_refused_at_once_by_every_node(pg_runtime, tmp_path):
    """Each node keeps who holds a key (parties.keycache); a revocation through one node is
    refused by the other on the very next request, for every one of 20 keys in turn."""
    from tests.conftest import Parties

    parties = Parties(pg_runtime)
    _, agency = parties.add("agency")
    lender, _ = parties.add("lender")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Server(pg_runtime.settings.url, pg_runtime.settings, tmp_path / "a").start()
    b = Server(pg_runtime.settings.url, pg_runtime.settings, tmp_path / "b").start()
    try:
        with httpx.Client(timeout=10) as http:
            for _ in range(20):
                issued = http.post(f"{a.base}/v1/parties/{lender['id']}/keys", headers=agency).json()
                key = {"Authorization": f"Bearer {issued['api_key']}"}
                for node in (a, b, a, b):  # both nodes have seen (and may keep) the holder
                    me = http.get(f"{node.base}/v1/parties/me", headers=key)
                    assert me.status_code == 200 and me.json()["id"] == lender["id"]
                assert http.delete(f"{a.base}/v1/parties/keys/{issued['key_id']}", headers=agency).status_code == 204
                assert http.get(f"{b.base}/v1/parties/me", headers=key).status_code == 401
                assert http.get(f"{a.base}/v1/parties/me", headers=key).status_code == 401
    finally:
        a.kill()
        b.kill()
