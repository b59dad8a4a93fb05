"""Bearer authentication and the role check every route declares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from zhengxin.kit.errors import Problem
from zhengxin.parties.keycache import key_cache
from zhengxin.parties.service import FURNISHING_ROLES, Actor, authenticate
from zhengxin.runtime import Runtime, get_runtime

_bearer = HTTPBearer(auto_error=False, description="API key issued by the agency")


def _authenticate(runtime: Runtime, api_key: str) -> Actor | None:
    with runtime.reading() as conn:
        return authenticate(conn, api_key)


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Actor:
    """Async, so a key found in this process's cache (parties.keycache) costs no trip through
    the thread pool and none to the database."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "unauthenticated", "send `Authorization: Bearer <api key>`")
    api_key, cache = credentials.credentials, key_cache(runtime)
    actor = await cache.get(api_key) if cache is not None else None
    if actor is None and cache is None:
        actor = await run_in_threadpool(_authenticate, runtime, api_key)
    elif actor is None:
        actor = await run_in_threadpool(cache.remember, api_key, authenticate)
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
Furnisher = Annotated[Actor, require(*FURNISHING_ROLES)]  # a platform, or a lender for its own records
Regulator = Annotated[Actor, require("regulator")]
Individual = Annotated[Actor, require("individual")]
Lender = Annotated[Actor, require("lender")]
