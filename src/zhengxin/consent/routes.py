"""Authorizations over HTTP: a person grants, lists and revokes; a lender reads what it was given.
And a person's withdrawals of consent to a record type, under /v1/me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from zhengxin.consent import service
from zhengxin.consent.schemas import (
    AuthorizationCreate,
    AuthorizationOut,
    SigningKeys,
    WithdrawalCreate,
    WithdrawalLifted,
    WithdrawalMade,
    WithdrawalOut,
)
from zhengxin.parties.auth import AnyParty, Individual, require
from zhengxin.parties.service import Actor
from zhengxin.runtime import RuntimeDep

router = APIRouter(prefix="/v1/authorizations", tags=["authorizations"])
me_router = APIRouter(prefix="/v1/me", tags=["consent withdrawals"])
Holder = Annotated[Actor, require("individual", "lender")]


@router.post("", status_code=201, response_model=AuthorizationOut)
def grant(body: AuthorizationCreate, actor: Individual, runtime: RuntimeDep):
    """Authorize a lender to query you for one purpose, scope and time; returns the signed artefact."""
    with runtime.transaction() as conn:
        return service.grant(
            conn,
            runtime,
            actor,
            lender=body.lender,
            purpose=body.purpose,
            scopes=body.scopes,
            products=body.products,
            separate_consent=body.separate_consent,
            expires_on=body.expires_on,
        )


@router.get("/keys", response_model=SigningKeys)
def signing_keys(actor: AnyParty, runtime: RuntimeDep):
    """The agency's public keys that sign authorization artefacts (Ed25519, raw 32 bytes, hex)."""
    keys = runtime.artefact_keys
    return {
        "active_key_id": keys.active_key_id,
        "keys": [{"key_id": k, "public_key": v} for k, v in keys.public_keys().items()],
    }


@router.get("", response_model=list[AuthorizationOut])
def list_authorizations(actor: Holder, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200):
    """Yours (a person) or those given to you (a lender), newest first, each with its status."""
    with runtime.reading() as conn:
        return service.list_for(conn, runtime, actor, limit)


@router.get("/{authorization_id}", response_model=AuthorizationOut)
def get_authorization(authorization_id: str, actor: Holder, runtime: RuntimeDep):
    """One authorization with its artefact and signature (404 unless it is yours or given to you)."""
    with runtime.reading() as conn:
        return service.get(conn, runtime, actor, authorization_id)


@router.delete("/{authorization_id}", response_model=AuthorizationOut)
def revoke(authorization_id: str, actor: Individual, runtime: RuntimeDep):
    """Revoke at once: the next inquiry with this authorization is denied (PIPL-15)."""
    with runtime.transaction() as conn:
        return service.revoke(conn, runtime, actor, authorization_id)


@me_router.post("/withdrawals", status_code=201, response_model=WithdrawalMade)
def withdraw(body: WithdrawalCreate, actor: Individual, runtime: RuntimeDep, response: Response):
    """Withdraw your consent to a record type (PIPL-15): what the agency holds of it about you is
    erased at once (PIPL-47), reports stop showing it and furnishers' new records of it are
    refused. Credit accounts (loan) are kept by law and refused with the rules that keep them.
    Withdrawing again answers 200 and erases anything that arrived meanwhile."""
    with runtime.transaction() as conn:
        made, new = service.withdraw(conn, runtime, actor, body.record_type)
    if not new:
        response.status_code = 200
    return made


@me_router.get("/withdrawals", response_model=list[WithdrawalOut])
def list_withdrawals(actor: Individual, runtime: RuntimeDep):
    """Your withdrawals in force."""
    with runtime.reading() as conn:
        return service.withdrawals(conn, actor)


@me_router.delete("/withdrawals/{record_type}", response_model=WithdrawalLifted)
def lift_withdrawal(record_type: str, actor: Individual, runtime: RuntimeDep):
    """Lift a withdrawal: furnishers' records of this type about you are accepted again."""
    with runtime.transaction() as conn:
        return service.lift(conn, actor, record_type)
