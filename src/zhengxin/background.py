"""The deployment's one background worker: periodic jobs, each on its own interval.

The server runs it in a thread (`log_schedule`); `zhengxin serve --workers N` runs it in one
process beside the request workers, and `zhengxin worker` (alias `zhengxin log keep`) alone.
A deployment may run several (N API nodes behind a load balancer, each with its own): on
PostgreSQL exactly one leads at a time, the one holding a session advisory lock of the
deployment's schema on a connection of its own; the others try again every
`background_takeover_seconds`. A leader that dies (even by SIGKILL) loses its session and so its
lock, and another takes over at its next try. On SQLite a deployment is one machine's file and
its writers queue on the file's lock. A job that fails is logged and tried again at its next
turn; the others go on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from zhengxin.audit import service as audit
from zhengxin.config import Settings
from zhengxin.disputes import service as disputes
from zhengxin.notifications import delivery
from zhengxin.runtime import Runtime

log = logging.getLogger("zhengxin")


@dataclass(frozen=True)
class Job:
    name: str
    interval: Callable[[Settings], float]  # seconds between the end of one run and the next
    run: Callable[[Runtime], object]


def sequence_log(runtime: Runtime) -> None:
    audit.sequence_all(runtime.engine)


def sign_head(runtime: Runtime) -> None:
    """Sign the tree with everything queued so far (a no-op when the tree has not grown)."""
    audit.sequence_all(runtime.engine)
    with runtime.transaction() as conn:
        audit.sign_head(conn, audit.log_signer(runtime))


def deliver_webhooks(runtime: Runtime) -> None:
    delivery.deliver_due(runtime)


def federation_psi(runtime: Runtime) -> None:
    """A federation member starts last month's PSI cardinality runs with its peers once due."""
    from zhengxin.federation.flows import run_due_psi
    from zhengxin.kit import clock

    run_due_psi(runtime, clock.today())


def escalate_disputes(runtime: Runtime) -> None:
    """Escalate disputes past their due day (CR-25); their alerts go out with the next deliveries."""
    with runtime.transaction() as conn:
        disputes.escalate_overdue(conn, runtime)


# Jobs due at the same moment run in this order.
JOBS: list[Job] = [
    Job("sequence the log", lambda s: s.log_sequence_interval_seconds, sequence_log),
    Job("sign a tree head", lambda s: s.log_sth_interval_seconds, sign_head),
    Job("deliver webhooks", lambda s: s.notifications.deliver_interval_seconds, deliver_webhooks),
    Job("escalate disputes", lambda s: s.disputes.escalation_interval_seconds, escalate_disputes),
    Job("federation PSI runs", lambda s: s.federation.psi_check_interval_seconds, federation_psi),
]


def keep(runtime: Runtime, stop: threading.Event, jobs: Sequence[Job] | None = None) -> None:
    """Run each job every its interval until `stop` is set (the first run after one interval),
    while this worker leads the deployment's background work."""
    jobs = JOBS if jobs is None else jobs
    if not jobs:
        stop.wait()
        return
    while not stop.is_set():
        with leading(runtime) as still_leading:
            if still_leading is None:  # another worker leads: try again later
                stop.wait(runtime.settings.background_takeover_seconds)
                continue
            _run_schedule(runtime, stop, jobs, still_leading)


# The advisory lock's first key: "the background worker"; the second is the deployment's schema,
# so deployments sharing a database (one schema each) lead apart.
LEADER_LOCK = 0x7A58


@contextmanager
def leading(runtime: Runtime) -> Iterator[Callable[[], bool] | None]:
    """A check that this worker still leads, or None when another worker does. On PostgreSQL
    the lead is a session advisory lock held on a connection kept for it; the connection is
    named after this process in pg_stat_activity, so an operator sees who leads."""
    if runtime.engine.dialect.name != "postgresql":
        yield lambda: True
        return
    conn, took = None, False
    try:
        conn = runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        took = conn.execute(
            text("SELECT pg_try_advisory_lock(:lock, hashtext(current_schema()))"), {"lock": LEADER_LOCK}
        ).scalar_one()
        if took:
            conn.execute(text("SELECT set_config('application_name', :name, false)"),
                         {"name": f"zhengxin background {os.getpid()}"})  # fmt: skip
            log.info("background worker %d leads this deployment's background work", os.getpid())
    except DBAPIError:
        log.warning("background worker: the database is unreachable; trying again")
        took = False

    def still_leading() -> bool:
        try:
            conn.execute(text("SELECT 1"))
            return True
        except DBAPIError:  # the session is gone, and its lock with it
            log.warning("background worker %d lost its lead", os.getpid())
            return False

    try:
        yield still_leading if took else None
    finally:
        if conn is not None:
            conn.invalidate()  # ending the session frees the lock; the pool never sees it again
            conn.close()


def _run_schedule(runtime: Runtime, stop: threading.Event, jobs: Sequence[Job], still_leading) -> None:
    started = time.monotonic()
    due = [started + job.interval(runtime.settings) for job in jobs]
    while not stop.wait(max(0.0, min(due) - time.monotonic())):
        if not still_leading():
            return
        now = time.monotonic()
        for i, job in enumerate(jobs):
            if now < due[i] or stop.is_set():
                continue
            try:
                job.run(runtime)
            except Exception:  # keep the schedule alive; the failure is in the log
                log.exception("background job %r failed", job.name)
            due[i] = time.monotonic() + job.interval(runtime.settings)
