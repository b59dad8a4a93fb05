"""Writes sent together (kit.db.pipelined): all of them land, or a failing one fails the unit
of work with the error SQLAlchemy would have raised, and nothing of it stays."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from zhengxin.audit.service import enqueue
from zhengxin.audit.tables import log_queue
from zhengxin.identity.tables import minors
from zhengxin.kit.db import pipelined


def _count(runtime, table) -> int:
    with runtime.reading() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_pipelined_writes_all_land(runtime):
    with runtime.transaction() as conn, pipelined(conn):
        conn.execute(insert(minors), [{"person_token": f"t{i}", "adult_on": date(2030, 1, 1)} for i in range(3)])
        conn.execute(insert(minors).values(person_token="t9", adult_on=date(2031, 1, 1)))
        enqueue(conn, [{"kind": "test.event", "n": 1}])  # no RETURNING: it joins the pipeline
    assert _count(runtime, minors) == 4 and _count(runtime, log_queue) == 1


def test_a_failing_write_fails_the_unit_of_work_and_leaves_nothing(runtime):
    with pytest.raises(IntegrityError), runtime.transaction() as conn, pipelined(conn):
        enqueue(conn, [{"kind": "test.event", "n": 2}])
        conn.execute(insert(minors).values(person_token="same", adult_on=date(2030, 1, 1)))
        conn.execute(insert(minors).values(person_token="same", adult_on=date(2030, 1, 1)))
    assert _count(runtime, minors) == 0 and _count(runtime, log_queue) == 0
