"""Inquiries over HTTP: a lender queries a person under their authorization and pays for it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from zhengxin.inquiries import flows, repository
from zhengxin.inquiries.schemas import DecisionRef, InquiryCreate, InquiryOut, InquiryResult
from zhengxin.kit.errors import Problem
from zhengxin.kit.metrics import INQUIRIES
from zhengxin.parties.auth import Lender, require
from zhengxin.parties.service import Actor
from zhengxin.runtime import RuntimeDep

router = APIRouter(prefix="/v1/inquiries", tags=["inquiries"])
Reader = Annotated[Actor, require("lender", "agency")]


@router.post("", status_code=201, response_model=InquiryResult)
def inquire(body: InquiryCreate, actor: Lender, runtime: RuntimeDep):
    """Query a person's credit report under their authorization; the fee is charged to you.

    A deny is 403 problem+json naming the rules (`rule`, `rules`) and the decision id; it
    charges nothing.
    """
    try:
        with runtime.transaction() as conn:
            result = flows.inquire(
                conn, runtime, actor, person_id=body.person_id, authorization_id=body.authorization_id,
                purpose=body.purpose, product=body.product, scopes=body.scopes,
                applicant_identity_verified=body.applicant_identity_verified,
            )  # fmt: skip
    except Problem as p:
        INQUIRIES.labels(body.product, "denied" if p.status == 403 else "refused").inc()
        raise
    INQUIRIES.labels(body.product, "allowed").inc()
    out = InquiryResult(
        inquiry_id=result.inquiry["id"],
        fee_fen=result.inquiry["fee_fen"],
        purpose=result.inquiry["purpose"],
        product=result.inquiry["product"],
        created_at=result.inquiry["created_at"],
        decision=DecisionRef(
            decision_id=result.decision.decision_id,
            rules=list(result.decision.rules),
            policy_revision=result.decision.revision,
        ),
        report=result.report,
    )
    # The model is built and checked here; serialising it directly saves FastAPI a second pass.
    return Response(
        out.model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/v1/inquiries/{result.inquiry['id']}"},
    )


@router.get("", response_model=list[InquiryOut])
def list_inquiries(
    actor: Reader,
    runtime: RuntimeDep,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    """Inquiries you made (a lender), or every inquiry (the agency), newest first."""
    with runtime.reading() as conn:
        return repository.list_for(conn, actor, since, limit)


@router.get("/{inquiry_id}", response_model=InquiryOut)
def get_inquiry(inquiry_id: str, actor: Reader, runtime: RuntimeDep):
    """One inquiry's record (the report itself is not kept: it went to the lender once)."""
    with runtime.reading() as conn:
        return repository.get_for(conn, actor, inquiry_id)
