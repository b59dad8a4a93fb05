"""The sequencer takes what was queued when it started: under a steady stream of inquiries the
queue is never empty, and a sequencer chasing it would run without pause (and a request that
sequences before answering, a receipt say, would not return while the stream lasts)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from zhengxin.audit import service
from zhengxin.audit.service import enqueue, sequence_all
from zhengxin.audit.tables import log_leaves, log_queue


def _queued(runtime) -> int:
    with runtime.reading() as conn:
        return conn.execute(select(func.coalesce(func.sum(log_queue.c.count), 0))).scalar_one()


def test_sequence_all_takes_everything_queued_in_order(runtime):
    with runtime.transaction() as conn:
        enqueue(conn, [{"kind": "test.first", "n": 1}, {"kind": "test.first", "n": 2}])
    with runtime.transaction() as conn:
        enqueue(conn, [{"kind": "test.second", "n": 3}])
    assert sequence_all(runtime.engine) == 3 and _queued(runtime) == 0
    with runtime.reading() as conn:
        leaves = conn.execute(select(log_leaves.c.leaf).order_by(log_leaves.c.leaf_index)).scalars()
        assert [json.loads(leaf)["n"] for leaf in leaves] == [1, 2, 3]
    assert sequence_all(runtime.engine) == 0


def test_sequence_all_does_not_chase_what_arrives_while_it_runs(runtime, monkeypatch):
    with runtime.transaction() as conn:
        enqueue(conn, [{"kind": "test.before", "n": 0}])
    passes = []
    real = service.sequence

    def sequence_while_events_arrive(conn, *args, **kwargs):
        passes.append(1)
        if len(passes) > 5:
            pytest.fail("sequence_all keeps chasing the queue")
        done = real(conn, *args, **kwargs)
        enqueue(conn, [{"kind": "test.during", "n": len(passes)}])  # an event that lands mid-run
        return done

    monkeypatch.setattr(service, "sequence", sequence_while_events_arrive)
    assert sequence_all(runtime.engine) == 1
    assert len(passes) == 1 and _queued(runtime) == 1  # what arrived during the run waits for the next
    monkeypatch.undo()
    assert sequence_all(runtime.engine) == 1 and _queued(runtime) == 0
