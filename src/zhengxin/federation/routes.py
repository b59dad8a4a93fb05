"""The federation over HTTP: the regulator admits and removes members; any party reads the
signed member list; a member checks its signed requests against this node (the handshake every
member runs on joining, and whenever its key or clock changes)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from zhengxin.audit import service as audit
from zhengxin.federation import flows, members, pseudonyms, psi_runs, signatures
from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.parties.auth import AnyParty, Regulator, require
from zhengxin.parties.service import Actor
from zhengxin.runtime import RuntimeDep

router = APIRouter(prefix="/v1/federation", tags=["federation"])


class MemberIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    uscc: str = Field(min_length=18, max_length=18, description="The agency's unified social credit code")
    base_url: str = Field(max_length=300, description="Where the agency's API answers the other members")
    signing_key: str = Field(min_length=64, max_length=64, description="Its Ed25519 request-signing key, hex")
    artefact_keys: dict[str, str] = Field(
        default={}, max_length=16,
        description="The keys its authorization artefacts are signed with (key id: Ed25519 public key, hex), as its "
        "GET /v1/authorizations/keys publishes them: the other members check the person's authorization with them",
    )  # fmt: skip


@router.post("/members", status_code=201)
def admit(body: MemberIn, actor: Regulator, runtime: RuntimeDep) -> dict:
    """Admit an agency to the federation (or admit it again, with the key and address given now)."""
    with runtime.transaction() as conn:
        return members.admit(conn, actor, **body.model_dump(), now=clock.now())


@router.delete("/members/{uscc}")
def remove(uscc: str, actor: Regulator, runtime: RuntimeDep) -> dict:
    """Remove a member: its requests are refused from the next one on, at every member."""
    with runtime.transaction() as conn:
        return members.remove(conn, actor, uscc, now=clock.now())


@router.get("/members")
def member_list(actor: AnyParty, runtime: RuntimeDep) -> dict:
    """The current members, signed by this node's artefact key (GET /v1/authorizations/keys
    publishes the public keys): what every member fetches and checks."""
    with runtime.reading() as conn:
        return members.document(conn, runtime.artefact_keys, now=clock.now())


async def _as_member(request: Request, runtime, answer):
    """A route signed by a member (RFC 9421) instead of keyed: the signature checked and its
    nonce kept, then `answer(conn, member, body)`, all in one unit of work off the event loop."""
    body = await request.body()

    def run() -> dict:
        with runtime.transaction() as conn:
            member = signatures.verify(conn, request.method, str(request.url), request.headers, body, now=clock.now())
            return answer(conn, member, body)

    return await run_in_threadpool(run)


@router.post("/handshake")
async def handshake(request: Request, runtime: RuntimeDep) -> dict:
    """Signed by a member (RFC 9421), no API key: answers who the federation says signed it, so a
    member can check its key, its clock and its membership before it asks for anything."""

    def answer(conn, member: dict, body: bytes) -> dict:
        return {"member": {k: member[k] for k in ("uscc", "name", "base_url")},
                "verified_at": clock.now(), "max_age_seconds": signatures.MAX_AGE_SECONDS}  # fmt: skip

    return await _as_member(request, runtime, answer)


@router.post("/oprf")
async def evaluate_blinded(request: Request, runtime: RuntimeDep) -> dict:
    """The regulator's node evaluates a member's blinded resident IDs with the federation's OPRF
    key (RFC 9497, OPRF mode). Signed by a member (RFC 9421), no API key; the node sees random
    group elements only, and logs who asked for how many."""

    def answer(conn, member: dict, body: bytes) -> dict:
        key = pseudonyms.server_key(runtime.settings)
        try:
            blinded = json.loads(body)["blinded"]
            if not isinstance(blinded, list) or not all(isinstance(b, str) for b in blinded):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise Problem(422, "invalid_batch", 'the body must be {"blinded": ["<hex>", ...]}') from None
        evaluated = pseudonyms.evaluate_all(key, blinded, runtime.settings.federation.max_blinded)
        audit.enqueue(conn, [audit.event("federation.oprf_evaluated", None, member=member["uscc"],
                                         elements=len(evaluated))])  # fmt: skip
        return {"evaluated": evaluated}

    return await _as_member(request, runtime, answer)


@router.post("/summaries")
async def summary(request: Request, runtime: RuntimeDep) -> dict:
    """A member asks what this agency holds about a person, by federation pseudonym, under the
    person's authorization artefact (signed by the asking member, `federation` in its scopes).
    Signed by the member (RFC 9421), no API key. The answer, signed with this agency's
    request-signing key, holds counts and sums only; the access goes into this agency's log."""

    def answer(conn, member: dict, body: bytes) -> dict:
        return flows.give_summary(conn, runtime, member, body)

    return await _as_member(request, runtime, answer)


class PsiQuery(BaseModel):
    """A PSI request's query, read once its signature verified (an unsigned request learns
    nothing of what a signed one must carry)."""

    run: str = Field(pattern=r"^psi_[0-9a-z]{26}$", description="The run, as its initiator named it")
    month: str = Field(pattern=psi_runs.MONTH.pattern, description="YYYY-MM: open loans at its end")
    role: Literal["initiator", "responder"] | None = None
    peer: str | None = Field(default=None, min_length=18, max_length=18)


def _psi_query(request: Request, *required: str) -> PsiQuery:
    try:
        query = PsiQuery.model_validate(dict(request.query_params))
    except ValidationError as e:
        field = ".".join(str(x) for x in e.errors()[0]["loc"])
        raise Problem(422, "invalid_query", f"{field}: {e.errors()[0]['msg']}") from None
    if any(getattr(query, name) is None for name in required):
        raise Problem(422, "invalid_query", f"{', '.join(required)} are required")
    return query


@router.post("/psi/exchange", response_class=Response)
async def psi_exchange(request: Request, runtime: RuntimeDep) -> Response:
    """A member starts a PSI cardinality run with this one (signed, RFC 9421; query `run`,
    `month`): the body is its set, blinded, as concatenated 32-byte ristretto255 elements. This
    member hands the regulator's node those elements blinded again and answers with its own set,
    blinded."""
    body = await request.body()
    # Verified in a unit of its own: the run's group operations take long, and hold no lock.
    member, query = await _as_member(request, runtime, lambda conn, member, _: (member, _psi_query(request)))
    answer = await run_in_threadpool(flows.answer_psi, runtime, member, query.run, query.month, body)
    return Response(answer, media_type=flows.BINARY)


@router.post("/psi/submissions")
async def psi_submission(request: Request, runtime: RuntimeDep) -> dict:
    """At the regulator's node: a member's half of a PSI cardinality run (signed, RFC 9421;
    query `run`, `month`, `role` initiator or responder, `peer`), its peer's set blinded by both,
    as concatenated 32-byte elements. Counted when both halves are in; the count is not told."""

    def answer(conn, member: dict, body: bytes) -> dict:
        q = _psi_query(request, "role", "peer")
        return psi_runs.submit(conn, member, run_id=q.run, month=q.month, role=q.role, peer=q.peer, body=body,
                               now=clock.now())  # fmt: skip

    return await _as_member(request, runtime, answer)


@router.get("/psi")
def psi_results(actor: Annotated[Actor, require("regulator", "overseer")], runtime: RuntimeDep) -> dict:
    """The regulator's national view: by month and pair of members, how many persons hold open
    loans at both (and each member's number), without anyone learning who."""
    with runtime.reading() as conn:
        return {"method": psi_runs.METHOD, "runs": psi_runs.results(conn)}
