"""Disputes over HTTP: the person's objections and statements, the furnisher's queue, the
agency staff's desk (the regulator sees the list), and lenders' correction notices."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from zhengxin.catalog import CATALOG_NAME
from zhengxin.disputes import service
from zhengxin.disputes.schemas import (
    DisputeAnswer,
    DisputeCreate,
    DisputeDecision,
    DisputeOut,
    IdentityDisputeCreate,
    StatementCreate,
)
from zhengxin.parties.auth import Agency, Furnisher, Individual, Lender, require
from zhengxin.parties.service import Actor
from zhengxin.runtime import RuntimeDep

Watcher = Annotated[Actor, require("agency", "regulator", "overseer")]

me_router = APIRouter(prefix="/v1/me", tags=["disputes"])
furnisher_router = APIRouter(prefix="/v1/furnishing/disputes", tags=["disputes"])
desk_router = APIRouter(prefix="/v1/disputes", tags=["disputes"])
notices_router = APIRouter(prefix="/v1/corrections", tags=["disputes"])


@me_router.post("/disputes", status_code=201, response_model=DisputeOut)
def open_dispute(body: DisputeCreate, actor: Individual, runtime: RuntimeDep):
    """Object to one of your accounts: it shows as under dispute in every report at once, and
    the agency answers in writing by `due_on` (CR-25)."""
    with runtime.transaction() as conn:
        return service.open_dispute(
            conn, runtime, actor, account_id=body.account_id, reason=body.reason, furnisher=body.furnisher
        )


@me_router.post("/disputes/identity", status_code=201, response_model=DisputeOut)
def open_identity_dispute(body: IdentityDisputeCreate, actor: Individual, runtime: RuntimeDep):
    """Object to the name or phone a furnisher reported for your resident ID: your report shows
    its version under dispute; the furnisher corrects it (by furnishing your records again) or
    verifies it, and the agency answers in writing by `due_on` (CR-25, PIPL-46)."""
    with runtime.transaction() as conn:
        return service.open_identity_dispute(conn, runtime, actor, furnisher=body.furnisher, reason=body.reason)


@me_router.get("/disputes")
def my_disputes(actor: Individual, runtime: RuntimeDep):
    """Your disputes, newest first, each with its steps and the agency's answer."""
    with runtime.reading() as conn:
        return {"disputes": service.list_for_person(conn, runtime, actor)}


@me_router.get("/disputes/{dispute_id}", response_model=DisputeOut)
def my_dispute(dispute_id: str, actor: Individual, runtime: RuntimeDep):
    with runtime.reading() as conn:
        return service.get_for_person(conn, runtime, actor, dispute_id)


@me_router.post("/disputes/{dispute_id}/withdraw", response_model=DisputeOut)
def withdraw(dispute_id: str, actor: Individual, runtime: RuntimeDep):
    """Drop your objection; the record is no longer flagged."""
    with runtime.transaction() as conn:
        return service.withdraw(conn, runtime, actor, dispute_id)


@me_router.post("/statements", status_code=201)
def add_statement(body: StatementCreate, actor: Individual, runtime: RuntimeDep):
    """Attach your explanation to one of your accounts (CR-16); later reports show it beside it."""
    with runtime.transaction() as conn:
        return service.add_statement(
            conn, runtime, actor, account_id=body.account_id, text=body.text, furnisher=body.furnisher
        )


@me_router.get("/statements")
def my_statements(actor: Individual, runtime: RuntimeDep):
    with runtime.reading() as conn:
        return {"statements": service.statements_of(conn, runtime, actor)}


@me_router.delete("/statements/{statement_id}", status_code=204)
def remove_statement(statement_id: str, actor: Individual, runtime: RuntimeDep):
    with runtime.transaction() as conn:
        service.remove_statement(conn, actor, statement_id)
    return Response(status_code=204)


@furnisher_router.get("")
def furnisher_queue(actor: Furnisher, runtime: RuntimeDep, status: Literal["open", "answered", "closed"] | None = None):
    """Disputes on your records, the earliest due first."""
    with runtime.reading() as conn:
        return {"disputes": service.furnisher_queue(conn, runtime, actor, status)}


@furnisher_router.post("/{dispute_id}/answer")
def answer(dispute_id: str, body: DisputeAnswer, actor: Furnisher, runtime: RuntimeDep):
    """Answer a dispute: furnish the corrected record first and name its batch, or verify the
    record and name your evidence. A correction lists the lenders to be told."""
    with runtime.transaction() as conn:
        return service.answer(
            conn, runtime, actor, dispute_id, action=body.action, batch_id=body.batch_id,
            evidence_ref=body.evidence_ref, note=body.note,
        )  # fmt: skip


@desk_router.get("")
def all_disputes(
    actor: Watcher,
    runtime: RuntimeDep,
    status: Literal["open", "answered", "closed"] | None = None,
    escalated: bool | None = None,
):
    """Every dispute, the earliest due first, without the person or their text (agency,
    regulator, overseers); `escalated=true` lists those past their due day."""
    with runtime.reading() as conn:
        return {"disputes": service.list_for_agency(conn, actor, status=status, escalated=escalated)}


@desk_router.get("/{dispute_id}")
def read_dispute(
    dispute_id: str,
    actor: Agency,
    runtime: RuntimeDep,
    purpose: Annotated[
        str,
        Query(
            pattern=CATALOG_NAME,
            description="Why you read it: dispute_handling, "
            "rights_request or complaint; any other is refused (403) and the attempt logged",
        ),
    ],
):
    """A dispute in full, with the disputed record's history: for a member of staff under their
    own account, stating the purpose; the read is logged with both (CR-22)."""
    with runtime.transaction() as conn:
        return service.read(conn, runtime, actor, dispute_id, purpose)


@desk_router.post("/{dispute_id}/decision")
def decide(dispute_id: str, body: DisputeDecision, actor: Agency, runtime: RuntimeDep):
    """The agency's written answer: corrected, verified (the flag goes) or unconfirmable (the
    record and the objection both stay, CR-25)."""
    with runtime.transaction() as conn:
        return service.decide(conn, runtime, actor, dispute_id, outcome=body.outcome, note=body.note)


@desk_router.post("/escalations")
def escalate(actor: Agency, runtime: RuntimeDep):
    """Escalate now every dispute past its due day (the background worker does it every minute)."""
    with runtime.transaction() as conn:
        return {"escalated": service.escalate_overdue(conn, runtime)}


@notices_router.get("")
def correction_notices(actor: Lender, runtime: RuntimeDep):
    """Records you received in a report that were later corrected: re-check those decisions."""
    with runtime.reading() as conn:
        return {"notices": service.notices_for(conn, actor)}


@notices_router.post("/{dispute_id}/{inquiry_id}/acknowledge", status_code=204)
def acknowledge(dispute_id: str, inquiry_id: str, actor: Lender, runtime: RuntimeDep):
    with runtime.transaction() as conn:
        service.acknowledge(conn, actor, dispute_id, inquiry_id)
    return Response(status_code=204)
