"""The policies in force, and the dry run: how they would decide a described request. A dry run
names no person and reads no one's data, so it can reveal nothing about anyone (a resident ID
in its query string would also reach access logs and proxies).

An entry point of its own beside the app: the dry run builds the contexts the consent and inquiry
flows would give the policies, so it sits above those features rather than inside one of them."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from zhengxin.consent import service as consent
from zhengxin.decisions.schemas import Described
from zhengxin.decisions.service import STAFF_READ_PURPOSES
from zhengxin.inquiries.flows import decision_context
from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.parties.auth import AnyParty, require
from zhengxin.parties.service import Actor, lookup_party, named_party
from zhengxin.policy.engine import Subject
from zhengxin.runtime import RuntimeDep

router = APIRouter(prefix="/v1/policy", tags=["policy"])
Explainer = Annotated[Actor, require("agency", "regulator")]
RESOURCE_TYPES = {"agency": "Agency", "lender": "Lender", "furnisher": "Furnisher"}


@router.get("")
def policies(actor: AnyParty, runtime: RuntimeDep):
    """The policy files in force (Cedar), their revision, and every rule with its reason."""
    engine = runtime.policy
    return {"revision": engine.revision, "files": engine.files, "rules": engine.rules()}


DESCRIBED = "described"  # the one person a dry run is about: nobody


@router.get("/explain")
def explain(actor: Explainer, runtime: RuntimeDep, described: Annotated[Described, Query()]):
    """A dry run (agency, regulator): the decision the policies would make on a *described*
    request, the rules that decide it and the context they were given. It names no person and
    reads no one's data: the authorization, past uses and open accounts are described by the
    parameters, and the person is always `described`. Nothing is granted, charged or logged."""
    d = described
    if d.purpose not in runtime.catalog.purposes and d.purpose not in STAFF_READ_PURPOSES:
        raise Problem(422, "invalid_purpose", f"purpose must be a catalog or staff purpose, not {d.purpose}")
    with runtime.reading() as conn:
        party = named_party(conn, d.principal)
        target = lookup_party(conn, d.recipient) if d.recipient else None
    # The principal as the policies see it; an individual principal stands for the described person.
    subject = Subject(party["role"], party["id"], DESCRIBED if party["role"] == "individual" else None)
    resource, context = _resource_and_context(runtime, d, party, target)
    decision = runtime.policy.decide(d.action, subject, resource, context)
    return {
        **decision.explain(),
        "request": {"principal": subject.uid(), "action": d.action, "resource": {"type": resource[0],
                                                                                  "id": resource[1]}},
        "context": context,
    }  # fmt: skip


def _resource_and_context(runtime, d: Described, party: dict, target: dict | None) -> tuple[tuple[str, str], dict]:
    """What the described request acts on, and the context the policies are given for it."""
    scopes = _listed(d.scopes)
    resource: tuple[str, str] = ("Person", DESCRIBED if d.own_data else "another person")
    if d.action == "inquire":
        authorization = None if d.authorization == "none" else {
            "lender_id": party["id"] if d.authorized_lender == "principal" else "another lender",
            "person_token": DESCRIBED, "purpose": d.authorized_purpose or d.purpose,
            "products": _listed(d.authorized_products) or [d.product],
            "scopes": _listed(d.authorized_scopes) or ["loan"], "separate_consent": d.separate_consent,
            "expires_on": clock.today() + timedelta(days=-1 if d.authorization == "expired" else 30),
            "revoked_at": clock.now() if d.authorization == "revoked" else None,
            "max_inquiries": _fair_use(runtime, d.authorized_purpose or d.purpose),
        }  # fmt: skip
        return resource, decision_context(runtime, authorization, purpose=d.purpose, product=d.product,
                                          scopes=scopes, open_account=d.open_account, uses=d.uses)  # fmt: skip
    if d.action == "grant_authorization":
        return resource, consent.grant_context(runtime.catalog, d.purpose, scopes or ["loan"], d.separate_consent)
    if d.action == "furnish":
        kind = RESOURCE_TYPES.get(target["role"], "Agency") if target else "Agency"
        return (kind, target["id"] if target else "agency"), {}
    if d.action == "staff_read":
        return resource, {"staff": party["staff"], "purpose": d.purpose}
    if d.action == "read_supervision":
        return ("SupervisionView", "supervision"), {"identifiers": d.identifiers}
    if d.action == "export":
        return ("Dataset", "described"), {
            "data_grade": d.data_grade, "credit_data": d.credit_data, "route": d.route, "approved": d.approved,
            "approval_age_days": d.approval_age_days,
            "approval_valid_days": 365 * runtime.settings.rules.assessment_valid_years,
            "separate_consent": d.separate_consent, "foreign_authority": d.foreign_authority,
        }  # fmt: skip
    return resource, {}


def _fair_use(runtime, purpose: str) -> int:
    limit = runtime.settings.consent.fair_use.get(purpose)
    if limit is None:
        raise Problem(422, "invalid_purpose", f"no fair-use limit is configured for {purpose}")
    return limit.inquiries


def _listed(text: str | None) -> list[str] | None:
    return [s for s in (text or "").split(",") if s] or None
