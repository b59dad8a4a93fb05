"""Bearer authentication and the role check every route declares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from zhengxin.kit.errors import Problem
from zhengxin.parties.service import Actor, authenticate
from zhengxin.runtime import Runtime, get_runtime

_bearer = HTTPBearer(auto_error=False, description="API key issued by the agency")


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "unauthenticated", "send `Authorization: Bearer <api key>`")
    with runtime.reading() as conn:
        actor = authenticate(conn, credentials.credentials)
    if actor is None:
        raise Problem(401, "invalid_api_key", "the API key is unknown or revoked")
    request.state.actor = actor
    return actor


def require(*roles: str):
    """A dependency admitting only parties of these roles (403 with the roles otherwise)."""

    async def check(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        if actor.role not in roles:
            raise Problem(
                403,
                "forbidden_role",
                f"this operation is for {' or '.join(roles)}; you are {actor.role}",
                allowed_roles=list(roles),
            )
        return actor

    check.roles = roles  # machine-readable: the role x route matrix test reads it
    return Depends(check)


AnyParty = Annotated[Actor, Depends(current_actor)]
Agency = Annotated[Actor, require("agency")]
Furnisher = Annotated[Actor, require("furnisher")]
Regulator = Annotated[Actor, require("regulator")]
Individual = Annotated[Actor, require("individual")]
Lender = Annotated[Actor, require("lender")]
