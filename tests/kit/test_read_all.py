"""Reads sent together (kit.db.read_all): each answer is what `conn.execute` gives for the same
statement (bind and result conversions included), in the order asked, and a bad read fails the
whole call with the error SQLAlchemy would have raised."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import bindparam, column, insert, select, table
from sqlalchemy.exc import DBAPIError

from zhengxin.audit.service import enqueue
from zhengxin.audit.tables import log_queue
from zhengxin.identity.tables import minors
from zhengxin.kit.db import Read, as_dicts, read, read_all, read_named

_MINORS = select(minors.c.person_token, minors.c.adult_on).where(minors.c.adult_on >= bindparam("from")).order_by(
    minors.c.person_token
)
_QUEUE = select(log_queue.c.count, log_queue.c.created_at).where(log_queue.c.created_at >= bindparam("since"))


def test_answers_match_execute_in_order(runtime):
    started = datetime.now(UTC) - timedelta(seconds=1)
    with runtime.transaction() as conn:
        conn.execute(insert(minors), [{"person_token": f"t{i}", "adult_on": date(2030, 1, i + 1)} for i in range(3)])
        enqueue(conn, [{"kind": "test.event", "n": 1}])
    queries = [Read(_MINORS, {"from": date(2030, 1, 2)}, as_dicts(_MINORS)), Read(_QUEUE, {"since": started})]
    with runtime.transaction() as conn:
        minors_rows, queued = read_all(conn, *queries)
        assert minors_rows == [dict(r) for r in conn.execute(_MINORS, {"from": date(2030, 1, 2)}).mappings()]
        assert [tuple(r) for r in queued] == [tuple(r) for r in conn.execute(_QUEUE, {"since": started})]
    assert [m["person_token"] for m in minors_rows] == ["t1", "t2"]
    (count, created_at), = queued  # fmt: skip
    assert count == 1 and created_at.tzinfo is not None and created_at.utcoffset() == timedelta(0)


def test_a_missing_parameter_is_refused_before_anything_is_sent(runtime):
    with runtime.reading() as conn, pytest.raises(Exception, match="from"):
        read(conn, Read(_MINORS, {}))


def test_an_in_list_is_refused(runtime):
    listed = select(minors.c.person_token).where(minors.c.person_token.in_(["a", "b"]))
    with runtime.reading() as conn, pytest.raises(ValueError, match="IN list"):
        read(conn, Read(listed, {}))


def test_a_failing_read_raises_as_sqlalchemy_would(runtime):
    missing = select(column("x")).select_from(table("no_such_table"))
    with runtime.reading() as conn, pytest.raises(DBAPIError, match="no_such_table"):
        read_all(conn, Read(_MINORS, {"from": date(2030, 1, 1)}), Read(missing, {}))


def test_read_named_answers_by_name_and_leaves_out_what_was_not_asked(runtime):
    with runtime.transaction() as conn:
        conn.execute(insert(minors), [{"person_token": "t1", "adult_on": date(2030, 1, 1)}])
    with runtime.reading() as conn:
        got = read_named(conn, minors=Read(_MINORS, {"from": date(2029, 1, 1)}, as_dicts(_MINORS)), queue=None)
    assert got == {"minors": [{"person_token": "t1", "adult_on": date(2030, 1, 1)}]}
