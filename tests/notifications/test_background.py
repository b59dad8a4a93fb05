"""The deployment's background worker: every job on its own interval, a failing job logged
and the others kept going, and a clean stop."""

from __future__ import annotations

import threading
import time

from zhengxin import background
from zhengxin.audit.service import latest_head, queued, tree_size


def wait_for(condition, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_the_worker_runs_every_job_and_survives_one_failing(client, runtime, bureau, receiver, caplog):
    receiver.start()
    settings = runtime.settings
    settings.log_sequence_interval_seconds = 0.05
    settings.log_sth_interval_seconds = 0.2
    settings.notifications.deliver_interval_seconds = 0.05
    bank = bureau.lender("Bank A", 1)
    me = bureau.person(1)
    assert client.put("/v1/me/webhook", json={"url": receiver.url}, headers=me.headers).status_code == 200
    assert bureau.inquire(bank, me, bureau.grant(me, bank)["id"]).status_code == 201

    failures = []

    def broken(_runtime):
        failures.append(1)
        raise RuntimeError("this job always fails")

    jobs = [background.Job("broken", lambda s: 0.02, broken), *background.JOBS]
    stop = threading.Event()
    worker = threading.Thread(target=background.keep, args=(runtime, stop, jobs))
    worker.start()
    try:

        def done() -> bool:
            with runtime.engine.connect() as conn:
                head = latest_head(conn)
                size, waiting = tree_size(conn), queued(conn)
            return bool(receiver.received) and waiting == 0 and head is not None and head["tree_size"] == size > 0

        assert wait_for(done)
        assert wait_for(lambda: len(failures) >= 3)  # tried again at each turn
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()
    assert len(receiver.received) == 1
    assert "background job 'broken' failed" in caplog.text
    delivered = client.get("/v1/me/webhook", headers=me.headers).json()["deliveries"]
    assert delivered == {"pending": 0, "delivered": 1, "failed": 0}


def test_the_worker_stops_at_once_between_long_intervals(runtime):
    runtime.settings.log_sequence_interval_seconds = 3600
    stop = threading.Event()
    worker = threading.Thread(target=background.keep, args=(runtime, stop))
    worker.start()
    time.sleep(0.1)
    began = time.monotonic()
    stop.set()
    worker.join(5)
    assert not worker.is_alive() and time.monotonic() - began < 1


def test_the_worker_commands_exist():
    from typer.testing import CliRunner

    from zhengxin.cli import app

    for command in (["worker", "--help"], ["log", "keep", "--help"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, result.output
