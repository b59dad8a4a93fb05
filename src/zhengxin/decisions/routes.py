"""The policies in force, and the dry run: how they would decide a described request."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from zhengxin.audit import service as audit
from zhengxin.consent import service as consent
from zhengxin.decisions import service as decisions
from zhengxin.inquiries.flows import inquiry_context, token_for
from zhengxin.kit.errors import Problem
from zhengxin.parties.auth import AnyParty, require
from zhengxin.parties.service import Actor, find_party, get_party
from zhengxin.policy import ACTIONS
from zhengxin.runtime import RuntimeDep

router = APIRouter(prefix="/v1/policy", tags=["policy"])
Explainer = Annotated[Actor, require("agency", "regulator")]
RESOURCE_TYPES = {"agency": "Agency", "lender": "Lender", "furnisher": "Furnisher"}


@router.get("")
def policies(actor: AnyParty, runtime: RuntimeDep):
    """The policy files in force (Cedar), their revision, and every rule with its reason."""
    engine = runtime.policy
    return {"revision": engine.revision, "files": engine.files, "rules": engine.rules()}


@router.get("/explain")
def explain(
    actor: Explainer,
    runtime: RuntimeDep,
    action: Annotated[str, Query(description=f"One of {', '.join(ACTIONS)}")],
    principal: Annotated[str, Query(description="The acting party's name or id")],
    person_id: str | None = None,
    authorization_id: str | None = None,
    purpose: str = "loan_application",
    product: str = "report",
    scopes: Annotated[str | None, Query(description="Comma-separated record types")] = None,
    separate_consent: bool = False,
    recipient: Annotated[str | None, Query(description="furnish: the receiving party's name or id")] = None,
    identifiers: bool = False,
    data_grade: Literal["general", "important", "core"] = "general",
    credit_data: bool = True,
    route: Literal["exempt", "standard_contract", "security_assessment"] = "exempt",
    approved: bool = False,
    approval_age_days: int = 0,
    foreign_authority: bool = False,
):
    """A dry run (agency, regulator): the decision the policies would make, the rules that
    decide it and the context they were given. Nothing is granted or charged; a run that
    looks at a person's data is itself logged."""
    if action not in ACTIONS:
        raise Problem(422, "invalid_action", f"action must be one of {', '.join(ACTIONS)}")
    scope_list = [s for s in (scopes or "").split(",") if s] or None
    with runtime.transaction() as conn:
        party = get_party(conn, principal) or find_party(conn, principal)
        if party is None:
            raise Problem(404, "party_not_found", "no party with this name or id")
        acting = Actor(party["id"], party["role"], party["name"], party["person_token"], party["staff"])
        subject = decisions.subject(acting)
        token = token_for(runtime, person_id) if person_id else party["person_token"]
        resource: tuple[str, str] = ("Person", token or "unknown")
        context: dict = {}
        if action == "inquire":
            authorization = consent.for_inquiry(conn, authorization_id, lock=False) if authorization_id else None
            context = inquiry_context(
                conn, runtime, acting, resource[1], authorization=authorization, purpose=purpose, product=product,
                scopes=scope_list,
            )  # fmt: skip
        elif action == "grant_authorization":
            context = consent.grant_context(runtime.catalog, purpose, scope_list or ["loan"], separate_consent)
        elif action == "furnish":
            target = (get_party(conn, recipient) or find_party(conn, recipient)) if recipient else None
            kind = RESOURCE_TYPES.get(target["role"], "Agency") if target else "Agency"
            resource = (kind, target["id"] if target else "agency")
        elif action == "staff_read":
            context = {"staff": party["staff"], "purpose": purpose}
        elif action == "read_supervision":
            resource = ("SupervisionView", "supervision")
            context = {"identifiers": identifiers}
        elif action == "export":
            resource = ("Dataset", "described")
            context = {
                "data_grade": data_grade, "credit_data": credit_data, "route": route, "approved": approved,
                "approval_age_days": approval_age_days,
                "approval_valid_days": 365 * runtime.settings.rules.assessment_valid_years,
                "separate_consent": separate_consent, "foreign_authority": foreign_authority,
            }  # fmt: skip
        decision = runtime.policy.decide(action, subject, resource, context)
        if resource[0] == "Person" and token:
            audit.enqueue(
                conn,
                [audit.event("policy.explain", actor, token, action=action, principal=party["id"],
                             decision=decision.record())],
            )  # fmt: skip
    return {
        **decision.explain(),
        "request": {"principal": subject.uid(), "action": action, "resource": {"type": resource[0], "id": resource[1]}},
        "context": context,
    }
