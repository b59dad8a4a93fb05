"""Issue 16: one unit of work. A policy deny inside any transaction rolls the work back, keeps
the deny's decision and log event in a transaction of their own and answers with the problem
naming the rules; no caller can lose the record by choosing another kind of transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from zhengxin.audit.tables import log_queue
from zhengxin.decisions import service as decisions
from zhengxin.decisions.tables import policy_decisions
from zhengxin.kit.errors import Problem
from zhengxin.parties.service import Actor, add_party
from zhengxin.parties.tables import parties
from zhengxin.policy import Subject


def test_a_deny_in_any_transaction_keeps_its_record_and_nothing_else(runtime):
    lender = Actor(party_id="pty_lender", role="lender", name="A Bank")
    decision = runtime.policy.decide("self_query", Subject("lender", "pty_lender", None), ("Person", "tok"), {})
    assert not decision.allowed
    with pytest.raises(Problem) as refused, runtime.transaction() as conn:
        add_party(conn, runtime.settings, role="regulator", name="written then rolled back")
        decisions.enforce(decision, lender, "tok", "self_query.denied", note="test")
    assert refused.value.status == 403 and refused.value.rule
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(parties)).scalar_one() == 0
        kept = conn.execute(select(policy_decisions)).mappings().all()
        assert [(d["action"], d["allowed"], d["party_id"]) for d in kept] == [("self_query", False, "pty_lender")]
        assert conn.execute(select(func.count()).select_from(log_queue)).scalar_one() == 1
