"""The policies in force, and the dry run: how they would decide a described request. A dry run
names no person and reads no one's data, so it can reveal nothing about anyone (a resident ID
in its query string would also reach access logs and proxies)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from zhengxin.catalog import CATALOG_NAME
from zhengxin.consent import service as consent
from zhengxin.decisions.service import STAFF_READ_PURPOSES
from zhengxin.inquiries.flows import decision_context
from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.parties.auth import AnyParty, require
from zhengxin.parties.service import Actor, lookup_party, named_party
from zhengxin.policy import ACTIONS
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
AUTHORIZATION_STATES = Literal["active", "revoked", "expired", "none"]
NAME = Annotated[str, Query(max_length=200)]  # a party's name or id
LISTED = Annotated[str | None, Query(max_length=2000, description="Comma-separated record types")]


@router.get("/explain")
def explain(
    actor: Explainer,
    runtime: RuntimeDep,
    action: Literal[ACTIONS],
    principal: Annotated[
        str, Query(max_length=200, description="The acting party's name or id (an organisation, or a staff account)")
    ],
    purpose: Annotated[
        str,
        Query(
            pattern=CATALOG_NAME,
            description="inquire: a catalog purpose; staff_read: a staff purpose",
            json_schema_extra={"x-catalog": ["purposes", "staff_purposes"]},
        ),
    ] = ("loan_application"),
    product: Literal[consent.PRODUCTS] = "report",
    scopes: LISTED = None,
    separate_consent: bool = False,
    authorization: Annotated[AUTHORIZATION_STATES, Query(description="inquire: its state")] = "active",
    authorized_lender: Annotated[Literal["principal", "another"], Query(description="inquire: whom it names")] = (
        "principal"
    ),
    authorized_purpose: Annotated[
        str | None,
        Query(
            pattern=CATALOG_NAME,
            description="inquire: its purpose (default `purpose`)",
            json_schema_extra={"x-catalog": "purposes"},
        ),
    ] = None,
    authorized_products: Annotated[
        str | None, Query(max_length=100, description="inquire: comma-separated (default `product`)")
    ] = None,
    authorized_scopes: Annotated[
        str | None, Query(max_length=2000, description="inquire: comma-separated record types (default loan)")
    ] = None,
    uses: Annotated[int, Query(ge=0, le=1_000_000, description="inquire: earlier uses within the fair-use window")] = 0,
    open_account: Annotated[bool, Query(description="post-loan: the lender has an open account")] = False,
    own_data: Annotated[bool, Query(description="self_query, object: the person asks about themself")] = True,
    recipient: Annotated[str | None, Query(max_length=200, description="furnish: the receiving party's name or id")] = (
        None
    ),
    identifiers: bool = False,
    data_grade: Literal["general", "important", "core"] = "general",
    credit_data: bool = True,
    route: Literal["exempt", "standard_contract", "security_assessment"] = "exempt",
    approved: bool = False,
    approval_age_days: Annotated[int, Query(ge=0, le=36_500)] = 0,
    foreign_authority: bool = False,
):
    """A dry run (agency, regulator): the decision the policies would make on a *described*
    request, the rules that decide it and the context they were given. It names no person and
    reads no one's data: the authorization, past uses and open accounts are described by the
    parameters, and the person is always `described`. Nothing is granted, charged or logged."""
    if purpose not in runtime.catalog.purposes and purpose not in STAFF_READ_PURPOSES:
        raise Problem(422, "invalid_purpose", f"purpose must be a catalog or staff purpose, not {purpose}")
    scope_list = _listed(scopes)
    with runtime.reading() as conn:
        party = named_party(conn, principal)
        target = lookup_party(conn, recipient) if recipient else None
    # The principal as the policies see it; an individual principal stands for the described person.
    subject = Subject(party["role"], party["id"], DESCRIBED if party["role"] == "individual" else None)
    resource: tuple[str, str] = ("Person", DESCRIBED if own_data else "another person")
    context: dict = {}
    if action == "inquire":
        described = None if authorization == "none" else {
            "lender_id": party["id"] if authorized_lender == "principal" else "another lender",
            "person_token": DESCRIBED, "purpose": authorized_purpose or purpose,
            "products": _listed(authorized_products) or [product], "scopes": _listed(authorized_scopes) or ["loan"],
            "separate_consent": separate_consent,
            "expires_on": clock.today() + timedelta(days=-1 if authorization == "expired" else 30),
            "revoked_at": clock.now() if authorization == "revoked" else None,
            "max_inquiries": _fair_use(runtime, authorized_purpose or purpose),
        }  # fmt: skip
        context = decision_context(runtime, described, purpose=purpose, product=product, scopes=scope_list,
                                   open_account=open_account, uses=uses)  # fmt: skip
    elif action == "grant_authorization":
        context = consent.grant_context(runtime.catalog, purpose, scope_list or ["loan"], separate_consent)
    elif action == "furnish":
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
    return {
        **decision.explain(),
        "request": {"principal": subject.uid(), "action": action, "resource": {"type": resource[0], "id": resource[1]}},
        "context": context,
    }


def _fair_use(runtime, purpose: str) -> int:
    limit = runtime.settings.consent.fair_use.get(purpose)
    if limit is None:
        raise Problem(422, "invalid_purpose", f"no fair-use limit is configured for {purpose}")
    return limit.inquiries


def _listed(text: str | None) -> list[str] | None:
    return [s for s in (text or "").split(",") if s] or None
