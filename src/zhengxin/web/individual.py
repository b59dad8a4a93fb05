"""The person's own pages: their report and score, who accessed their data (with receipts the
browser verifies), their authorizations, disputes and statements, and a copy of everything."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from zhengxin.alerts import service as alerts
from zhengxin.audit import service as audit
from zhengxin.consent import service as consent
from zhengxin.consent.service import PRODUCTS
from zhengxin.disputes import service as disputes
from zhengxin.federation import pseudonyms
from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.kit.i18n import gettext_for
from zhengxin.parties.service import list_parties
from zhengxin.rights import service as rights
from zhengxin.runtime import RuntimeDep
from zhengxin.web.core import (
    CsrfChecked,
    IndividualUser,
    PortalRoute,
    flash,
    locale_of,
    redirect,
    render,
)
from zhengxin.web.labels import LABELS, STATUSES

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)


@router.get("/me")
def overview(request: Request, person: IndividualUser, runtime: RuntimeDep):
    """The person's home: what fetching the report costs, and their open matters at a glance."""
    with runtime.reading() as conn:
        free_left = rights.counter_free_left(conn, runtime, person.person_token)
        grants = consent.list_for(conn, runtime, person)
        open_disputes = [d for d in disputes.list_for_person(conn, runtime, person) if d["status"] != "closed"]
        alert = next((a for a in alerts.list_for(conn, runtime, person.person_token) if a["active"]), None)
    return render(
        request, "individual/overview.html", free_left=free_left, fee_fen=runtime.settings.rules.self_query_fee_fen,
        active=[g for g in grants if g["status"] == "active"], open_disputes=open_disputes, alert=alert,
    )  # fmt: skip


@router.post("/me/fraud-alerts", dependencies=[CsrfChecked])
def place_fraud_alert(
    request: Request, person: IndividualUser, runtime: RuntimeDep,
    statement: Annotated[str, Form(max_length=2000)] = "",
):  # fmt: skip
    """The alert of POST /v1/me/fraud-alerts: lenders must verify the applicant is the person."""
    with runtime.transaction() as conn:
        alerts.place(conn, runtime, person, person.person_token, kind="person", statement=statement.strip() or None)
    flash(request, gettext_for(locale_of(request))("Fraud alert placed: every lender must now verify it is you."))
    return redirect("/portal/me")


@router.post("/me/fraud-alerts/{alert_id}/lift", dependencies=[CsrfChecked])
def lift_fraud_alert(request: Request, alert_id: str, person: IndividualUser, runtime: RuntimeDep):
    with runtime.transaction() as conn:
        alerts.lift(conn, runtime, person, alert_id)
    flash(request, gettext_for(locale_of(request))("Fraud alert lifted."))
    return redirect("/portal/me")


@router.post("/me/report", dependencies=[CsrfChecked])
def my_report(request: Request, person: IndividualUser, runtime: RuntimeDep):
    """The self-query of GET /v1/me/report, shown at once (online: logged, never charged)."""
    with runtime.transaction() as conn:
        result = rights.self_query(conn, runtime, person)
    return render(request, "individual/report.html", result=result, statuses=STATUSES, labels=LABELS)


@router.get("/me/accesses")
def my_accesses(request: Request, person: IndividualUser, runtime: RuntimeDep):
    """Who accessed my data, each entry with a receipt the browser checks against the signed log."""
    audit.sequence_all(runtime.engine)
    with runtime.transaction() as conn:
        found = rights.accesses(conn, runtime, person, limit=200)
    return render(request, "individual/accesses.html", accesses=found["accesses"], labels=LABELS)


@router.get("/me/receipts/{leaf_index}.json")
def my_receipt(leaf_index: int, person: IndividualUser, runtime: RuntimeDep):
    """One of the person's own receipts (as GET /v1/me/receipts/{index}), which portal.js verifies."""
    audit.sequence_all(runtime.engine)
    with runtime.transaction() as conn:
        return JSONResponse(jsonable_encoder(audit.receipt(conn, audit.log_signer(runtime), person, leaf_index)))


@router.get("/me/authorizations")
def my_authorizations(request: Request, person: IndividualUser, runtime: RuntimeDep):
    federation_member = pseudonyms.enabled(runtime.settings)
    with runtime.reading() as conn:
        grants = consent.list_for(conn, runtime, person)
        lenders = list_parties(conn, "lender")
    return render(
        request, "individual/authorizations.html", grants=grants, lenders=lenders, labels=LABELS,
        purposes=runtime.catalog.purposes, products=PRODUCTS,
        # A member of a federation may also be allowed to ask the other agencies for a summary.
        scopes=sorted(runtime.catalog.record_types) + ([consent.FEDERATION_SCOPE] if federation_member else []),
        sensitive=consent.sensitive_types(runtime.catalog),
    )  # fmt: skip


@router.post("/me/authorizations", dependencies=[CsrfChecked])
def grant(
    request: Request,
    person: IndividualUser,
    runtime: RuntimeDep,
    lender: Annotated[str, Form()],
    purpose: Annotated[str, Form()],
    scopes: Annotated[list[str], Form()] = (),
    products: Annotated[list[str], Form()] = (),
    expires_on: Annotated[str, Form()] = "",
    separate_consent: Annotated[bool, Form()] = False,
):
    """The grant of POST /v1/authorizations."""
    _ = gettext_for(locale_of(request))
    try:
        expiry = date.fromisoformat(expires_on) if expires_on else None
    except ValueError:
        expiry = None
        flash(request, _("The expiry date was not a date; the default of 90 days applies."), "warn")
    if not scopes:
        raise Problem(422, "scopes_required", "choose at least one record type the lender may see")
    with runtime.transaction() as conn:
        made = consent.grant(
            conn, runtime, person, lender=lender, purpose=purpose, scopes=list(scopes),
            products=list(products) or None, separate_consent=separate_consent, expires_on=expiry,
        )  # fmt: skip
    flash(
        request, _("Authorization %(id)s granted to %(lender)s.") % {"id": made["id"], "lender": made["lender"]["name"]}
    )
    return redirect("/portal/me/authorizations")


@router.post("/me/authorizations/{authorization_id}/revoke", dependencies=[CsrfChecked])
def revoke(request: Request, authorization_id: str, person: IndividualUser, runtime: RuntimeDep):
    """The revocation of DELETE /v1/authorizations/{id}: the lender can no longer inquire with it."""
    with runtime.transaction() as conn:
        consent.revoke(conn, runtime, person, authorization_id)
    flash(request, gettext_for(locale_of(request))("Authorization %(id)s revoked.") % {"id": authorization_id})
    return redirect("/portal/me/authorizations")


@router.get("/me/disputes")
def my_disputes(request: Request, person: IndividualUser, runtime: RuntimeDep, account: str = ""):
    """Disputes with their clock, the form to open one (pre-filled from a record) and statements."""
    with runtime.reading() as conn:
        found = disputes.list_for_person(conn, runtime, person)
        statements = disputes.statements_of(conn, runtime, person)
    return render(
        request, "individual/disputes.html", disputes=found, statements=statements, account=account[:64],
        today=clock.today(),
    )  # fmt: skip


@router.post("/me/disputes", dependencies=[CsrfChecked])
def open_dispute(
    request: Request,
    person: IndividualUser,
    runtime: RuntimeDep,
    account_id: Annotated[str, Form()],
    reason: Annotated[str, Form()],
):
    """The objection of POST /v1/me/disputes: the record shows as under dispute at once (CR-25)."""
    reason = _reason(reason)
    with runtime.transaction() as conn:
        made = disputes.open_dispute(conn, runtime, person, account_id=account_id.strip(), reason=reason)
    return _dispute_opened(request, made)


@router.post("/me/disputes/identity", dependencies=[CsrfChecked])
def open_identity_dispute(
    request: Request,
    person: IndividualUser,
    runtime: RuntimeDep,
    furnisher: Annotated[str, Form(max_length=200)],
    reason: Annotated[str, Form()],
):
    """The objection of POST /v1/me/disputes/identity, from the identity part of the report."""
    reason = _reason(reason)
    with runtime.transaction() as conn:
        made = disputes.open_identity_dispute(conn, runtime, person, furnisher=furnisher, reason=reason)
    return _dispute_opened(request, made)


def _reason(reason: str) -> str:
    if not reason.strip() or len(reason) > 4000:
        raise Problem(422, "invalid_request", "the reason is required, at most 4,000 characters")
    return reason.strip()


def _dispute_opened(request: Request, made: dict):
    _ = gettext_for(locale_of(request))
    flash(request, _("Dispute opened. The agency answers by %(due)s.") % {"due": made["due_on"]})
    return redirect("/portal/me/disputes")


@router.post("/me/disputes/{dispute_id}/withdraw", dependencies=[CsrfChecked])
def withdraw(request: Request, dispute_id: str, person: IndividualUser, runtime: RuntimeDep):
    with runtime.transaction() as conn:
        disputes.withdraw(conn, runtime, person, dispute_id)
    flash(request, gettext_for(locale_of(request))("Dispute withdrawn; the record is no longer flagged."))
    return redirect("/portal/me/disputes")


@router.post("/me/statements", dependencies=[CsrfChecked])
def add_statement(
    request: Request,
    person: IndividualUser,
    runtime: RuntimeDep,
    account_id: Annotated[str, Form()],
    text: Annotated[str, Form()],
):
    """The statement of POST /v1/me/statements (CR-16): later reports show it beside the record."""
    if not text.strip() or len(text) > 1000:
        raise Problem(422, "invalid_request", "the statement is required, at most 1,000 characters")
    with runtime.transaction() as conn:
        disputes.add_statement(conn, runtime, person, account_id=account_id.strip(), text=text.strip())
    flash(request, gettext_for(locale_of(request))("Your statement was added to the record."))
    return redirect("/portal/me/disputes")


@router.get("/me/export")
def my_export(request: Request, person: IndividualUser, runtime: RuntimeDep, download: bool = False):
    """A copy of everything held (PIPL-45), the same document as GET /v1/me/export."""
    if not download:
        return render(request, "individual/export.html")
    with runtime.transaction() as conn:
        document = rights.export(conn, runtime, person)
    return JSONResponse(
        jsonable_encoder(document), headers={"Content-Disposition": 'attachment; filename="zhengxin-export.json"'}
    )
