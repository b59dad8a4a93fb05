"""The deployment's one background worker: periodic jobs, each on its own interval.

The server runs it in a thread (`log_schedule`); `zhengxin serve --workers N` runs it in one
process beside the request workers, and `zhengxin worker` (alias `zhengxin log keep`) alone.
One per deployment is enough; more only wait on each other's locks. A job that fails is
logged and tried again at its next turn; the others go on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
]


def keep(runtime: Runtime, stop: threading.Event, jobs: Sequence[Job] | None = None) -> None:
    """Run each job every its interval until `stop` is set (the first run after one interval)."""
    jobs = JOBS if jobs is None else jobs
    if not jobs:
        stop.wait()
        return
    started = time.monotonic()
    due = [started + job.interval(runtime.settings) for job in jobs]
    while not stop.wait(max(0.0, min(due) - time.monotonic())):
        now = time.monotonic()
        for i, job in enumerate(jobs):
            if now < due[i] or stop.is_set():
                continue
            try:
                job.run(runtime)
            except Exception:  # keep the schedule alive; the failure is in the log
                log.exception("background job %r failed", job.name)
            due[i] = time.monotonic() + job.interval(runtime.settings)
