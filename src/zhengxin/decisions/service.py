"""Recording decisions. An allowed decision is kept in the caller's unit of work, with the
write it allowed; a denied one rolls that unit of work back and is kept on its own, so a
refused request leaves no partial write and still leaves its trace."""

from __future__ import annotations

from sqlalchemy import Connection, insert

from zhengxin.audit import service as audit
from zhengxin.decisions.tables import policy_decisions
from zhengxin.kit import clock
from zhengxin.kit.db import RecordedRefusal, write
from zhengxin.parties.service import Actor
from zhengxin.policy import Decision, Subject

# The purposes for which agency staff may read a person's data (CR-22; the staff_read policy).
STAFF_READ_PURPOSES = ("dispute_handling", "rights_request", "complaint")


class Denied(RecordedRefusal):
    """A policy deny, carried out of the unit of work it ends (kit.db.transaction keeps its
    record in a transaction of its own, then raises the problem naming the rules)."""

    def __init__(self, decision: Decision, actor: Actor, person_token: str | None, kind: str, details: dict):
        super().__init__(decision.code)
        self.decision, self.actor, self.person_token, self.kind, self.details = (
            decision, actor, person_token, kind, details,
        )  # fmt: skip

    def record(self, conn: Connection) -> None:
        record(conn, self.decision, self.actor, self.person_token, self.kind, **self.details)

    def answer(self) -> Exception:
        return self.decision.problem()


def subject(actor: Actor) -> Subject:
    return Subject(actor.role, actor.party_id, actor.person_token)


def record(conn: Connection, decision: Decision, actor: Actor, person_token: str | None, kind: str, **details) -> None:
    """Keep the decision and queue one log event of `kind` carrying it (with `details`)."""
    keep(conn, decision, actor, person_token)
    audit.enqueue(conn, [audit.event(kind, actor, person_token, decision=decision.record(), **details)])


def keep(conn: Connection, decision: Decision, actor: Actor, person_token: str | None) -> None:
    """Keep the decision row only; the caller puts `decision.record()` in its own log event."""
    write(
        conn,
        _INSERT,
        {
            "id": decision.decision_id,
            "action": decision.action,
            "party_id": actor.party_id,
            "role": actor.role,
            "person_token": person_token,
            "allowed": decision.allowed,
            "rules": list(decision.rules),
            "code": None if decision.allowed else decision.code,
            "revision": decision.revision,
            "created_at": clock.now(),
        },
    )


_INSERT = insert(policy_decisions)  # built once: on the path of every inquiry


def enforce(decision: Decision, actor: Actor, person_token: str | None, denied_kind: str, **details) -> None:
    """Go on if allowed; otherwise end the unit of work with Denied."""
    if not decision.allowed:
        raise Denied(decision, actor, person_token, denied_kind, details)


def staff_read(conn: Connection, runtime, staff: Actor, person_token: str, purpose: str, **details) -> Decision:
    """A member of staff reads a person's data: allowed only under a personal staff account and
    a stated purpose (CR-22), and logged naming them and the purpose."""
    context = {"staff": staff.staff, "purpose": purpose}
    decision = runtime.policy.decide("staff_read", subject(staff), ("Person", person_token), context)
    enforce(decision, staff, person_token, "staff.read.denied", purpose=purpose, **details)
    record(conn, decision, staff, person_token, "staff.read", purpose=purpose, **details)
    return decision
