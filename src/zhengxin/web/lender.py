"""The lender's pages: run an inquiry and read the report or score, past inquiries, invoices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from zhengxin.billing import service as billing
from zhengxin.consent.service import PRODUCTS
from zhengxin.inquiries import flows, repository
from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.kit.metrics import INQUIRIES
from zhengxin.reports.model import ScoreReport
from zhengxin.runtime import RuntimeDep
from zhengxin.web.core import CsrfChecked, LenderUser, PortalRoute, problem_message, render
from zhengxin.web.labels import LABELS, STATUSES

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)


def _form(request: Request, runtime, actor, status_code: int = 200, error: str | None = None, **values):
    """The inquiry form, with each product's fee for this lender today."""
    today = clock.today()
    with runtime.reading() as conn:
        fees = {p: billing.tier_and_price(conn, runtime.settings, actor.party_id, p, today)[1] for p in PRODUCTS}
    return render(
        request, "lender/inquire.html", status_code=status_code, purposes=list(runtime.catalog.purposes),
        products=PRODUCTS, fees=fees, error=error, values=values, labels=LABELS,
    )  # fmt: skip


@router.get("/lender")
def inquiry_form(request: Request, actor: LenderUser, runtime: RuntimeDep):
    return _form(request, runtime, actor)


@router.post("/lender", dependencies=[CsrfChecked])
def run_inquiry(
    request: Request,
    actor: LenderUser,
    runtime: RuntimeDep,
    person_id: Annotated[str, Form()],
    authorization_id: Annotated[str, Form()],
    purpose: Annotated[str, Form()],
    product: Annotated[str, Form()],
    applicant_identity_verified: Annotated[bool, Form()] = False,
):
    """The same flow as POST /v1/inquiries. The result is rendered at once (not redirected to):
    the report went to the lender once and is not kept, and the page is never cached."""
    values = {"person_id": person_id, "authorization_id": authorization_id, "purpose": purpose, "product": product,
              "applicant_identity_verified": applicant_identity_verified}  # fmt: skip
    try:
        with runtime.transaction() as conn:
            result = flows.inquire(
                conn, runtime, actor, person_id=person_id.strip(), authorization_id=authorization_id.strip(),
                purpose=purpose, product=product, applicant_identity_verified=applicant_identity_verified,
            )  # fmt: skip
    except Problem as p:
        INQUIRIES.labels(product if product in PRODUCTS else "other", "denied" if p.status == 403 else "refused").inc()
        return _form(request, runtime, actor, p.status, problem_message(request, p), **values)
    INQUIRIES.labels(product, "allowed").inc()
    return render(
        request, "lender/result.html", inquiry=result.inquiry, decision=result.decision, report=result.report,
        is_score=isinstance(result.report, ScoreReport), statuses=STATUSES, labels=LABELS,
    )  # fmt: skip


@router.get("/lender/inquiries")
def inquiries(request: Request, actor: LenderUser, runtime: RuntimeDep):
    with runtime.reading() as conn:
        rows = repository.list_for(conn, actor, None, 200)
    return render(request, "lender/inquiries.html", inquiries=rows, labels=LABELS)


@router.get("/lender/invoices")
def invoices(request: Request, actor: LenderUser, runtime: RuntimeDep):
    with runtime.reading() as conn:
        rows = billing.invoices(conn, actor)
    return render(request, "lender/invoices.html", invoices=rows, labels=LABELS)
