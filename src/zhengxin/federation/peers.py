"""Asking the other members for their summary of a person, all at once and within a budget.

The asking agency sends every current member but itself one request, signed per RFC 9421
(federation/signatures.py), carrying the person's federation pseudonym, the purpose, the
lender's USCC and the person's signed authorization artefact with the secret that opens its
commitments. Each peer answers with a summary it signs with its own request-signing key over
the canonical JSON of the answer, which names the SHA-256 of the request it answers: an answer
cannot be replayed into another inquiry. A peer that has not answered, correctly signed, when
the budget runs out is `unavailable`; the inquiry goes on without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Connection

from zhengxin.federation import members, signatures
from zhengxin.kit.canonical import canonical_json
from zhengxin.kit.signing import signature_valid

log = logging.getLogger("zhengxin")
PATH = "/v1/federation/summaries"
REQUEST_FORMAT = "zhengxin.federation-summary-request/1"
ANSWER_FORMAT = "zhengxin.federation-summary/1"

# Shared by every inquiry: threads block on the network, not on the CPU, and the client keeps
# one keep-alive connection pool per peer.
_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="federation-peer")
_CLIENT = httpx.Client(limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))


class Recent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    last_1m: int
    last_3m: int
    last_6m: int


class Figures(BaseModel):
    """What a peer may say about a person: counts and sums only (reports.service.peer_summary)."""

    model_config = ConfigDict(extra="forbid")
    platforms: int
    open_accounts: int
    total_outstanding_fen: int
    total_limit_fen: int
    unsecured_outstanding_fen: int
    worst_status_24m: str
    new_accounts: Recent
    inquiries: Recent
    as_of: str


@dataclass
class Asked:
    """Requests in flight, one per peer."""

    pending: dict[str, tuple[dict, Future]]
    deadline: float
    budget_ms: int


def request_body(*, pseudonym: str, purpose: str, lender_uscc: str, inquiry_id: str, authorization: dict) -> bytes:
    """`authorization`: the artefact text, its signature and the person secret that opens it."""
    return canonical_json({
        "format": REQUEST_FORMAT, "pseudonym": pseudonym, "purpose": purpose, "lender_uscc": lender_uscc,
        "inquiry_id": inquiry_id,
        "authorization": {k: authorization[k] for k in ("artefact", "signature", "person_secret")},
    })  # fmt: skip


def ask(conn: Connection, settings, body: bytes) -> Asked:
    """Send `body` to every other current member; returns at once."""
    federation = settings.federation
    budget = federation.peer_budget_ms / 1000
    peers = [m for m in members.current(conn) if m["uscc"] != federation.uscc]
    pending = {m["uscc"]: (m, _POOL.submit(_post, m, body, settings, budget)) for m in peers}
    return Asked(pending, time.monotonic() + budget, federation.peer_budget_ms)


def _post(member: dict, body: bytes, settings, budget: float) -> dict:
    started = time.monotonic()
    try:
        r = signatures.post(member["base_url"] + PATH, body, settings, timeout=budget, client=_CLIENT)
    except httpx.HTTPError:
        return {"status": "unavailable", "code": "unreachable"}
    elapsed = round((time.monotonic() - started) * 1000)
    if r.status_code != 200:
        return {"status": "refused", "code": _refusal_code(r), "elapsed_ms": elapsed}
    return {**_checked_answer(member, body, r.content), "elapsed_ms": elapsed}


def _refusal_code(r: httpx.Response) -> str:
    """The peer's problem code, if it sent a problem+json; else the status."""
    try:
        code = r.json().get("code")
    except (ValueError, AttributeError):
        code = None
    return code if isinstance(code, str) and len(code) <= 64 else f"http_{r.status_code}"


def _checked_answer(member: dict, body: bytes, content: bytes) -> dict:
    """The peer's figures if it signed an answer to exactly this request."""
    try:
        signed = json.loads(content)
        answer = signed["answer"]
        valid = signature_valid(member["signing_key"], canonical_json(answer), str(signed["signature"]))
        if not valid or answer["format"] != ANSWER_FORMAT or answer["member"] != member["uscc"]:
            raise ValueError
        if answer["request_sha256"] != hashlib.sha256(body).hexdigest():
            raise ValueError
        figures = Figures.model_validate(answer["summary"]) if answer["held"] else None
    except (ValueError, KeyError, TypeError, ValidationError):
        return {"status": "refused", "code": "answer_invalid"}
    return {"status": "answered", "held": figures is not None, "summary": figures}


def collect(asked: Asked) -> list[dict]:
    """Each peer's outcome, in member order, waiting no longer than the budget allows:
    {uscc, name, status (answered | unavailable | refused), held, summary, code, elapsed_ms}."""
    futures = {future: uscc for uscc, (_, future) in asked.pending.items()}
    waiting = set(futures)
    while waiting and (left := asked.deadline - time.monotonic()) > 0:
        _, waiting = wait(waiting, timeout=left, return_when=FIRST_COMPLETED)
    out = []
    for uscc, (member, future) in sorted(asked.pending.items()):
        if not future.done():
            outcome = {"status": "unavailable", "code": "over_budget"}
        elif future.exception() is not None:  # whatever went wrong with one peer, the inquiry goes on
            log.warning("federation peer %s: %s", uscc, type(future.exception()).__name__)
            outcome = {"status": "unavailable", "code": "error"}
        else:
            outcome = future.result()
        out.append({"uscc": uscc, "name": member["name"], "held": None, "summary": None, **outcome})
    return out
