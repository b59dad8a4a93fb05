"""Authorizations over HTTP: a person grants, lists and revokes; a lender reads what it was given."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from zhengxin.consent import service
from zhengxin.consent.schemas import AuthorizationCreate, AuthorizationOut, SigningKeys
from zhengxin.decisions.service import unit_of_work
from zhengxin.parties.auth import AnyParty, require
from zhengxin.parties.service import Actor
from zhengxin.runtime import Runtime, get_runtime

router = APIRouter(prefix="/v1/authorizations", tags=["authorizations"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Individual = Annotated[Actor, require("individual")]
Holder = Annotated[Actor, require("individual", "lender")]


@router.post("", status_code=201, response_model=AuthorizationOut)
def grant(body: AuthorizationCreate, actor: Individual, runtime: RuntimeDep):
    """Authorize a lender to query you for one purpose, scope and time; returns the signed artefact."""
    with unit_of_work(runtime) as conn:
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
        return service.list_for(conn, actor, limit)


@router.get("/{authorization_id}", response_model=AuthorizationOut)
def get_authorization(authorization_id: str, actor: Holder, runtime: RuntimeDep):
    """One authorization with its artefact and signature (404 unless it is yours or given to you)."""
    with runtime.reading() as conn:
        return service.get(conn, actor, authorization_id)


@router.delete("/{authorization_id}", response_model=AuthorizationOut)
def revoke(authorization_id: str, actor: Individual, runtime: RuntimeDep):
    """Revoke at once: the next inquiry with this authorization is denied (PIPL-15)."""
    with runtime.transaction() as conn:
        return service.revoke(conn, actor, authorization_id)
