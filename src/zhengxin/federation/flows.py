"""The federation's work across features (issue 20). A peer's side of a cross-agency summary:
check that the person authorized it, then answer with the report's own figures, signed, and
log the access in this agency's log so the person sees here too who asked, when and under
which authorization. A member's sides of the regulator's monthly PSI cardinality run."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection

from zhengxin.audit import service as audit
from zhengxin.consent import artefact
from zhengxin.consent.service import FEDERATION_SCOPE
from zhengxin.federation import members, peers, pseudonyms, psi, psi_runs, signatures
from zhengxin.kit import clock
from zhengxin.kit.calendar import month_label_of
from zhengxin.kit.canonical import canonical_json
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.kit.signing import SigningKeys
from zhengxin.parties.service import Actor
from zhengxin.records.repository import open_loan_holders
from zhengxin.reports.service import peer_summary

HEX = r"^[0-9a-f]+$"
log = logging.getLogger("zhengxin")


class _Authorization(BaseModel):
    model_config = ConfigDict(extra="forbid")
    artefact: str = Field(max_length=20_000)
    signature: str = Field(pattern=HEX, max_length=128)
    person_secret: str = Field(pattern=HEX, min_length=64, max_length=64)


class SummaryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: str = Field(pattern=f"^{peers.REQUEST_FORMAT}$")
    pseudonym: str = Field(pattern=HEX, min_length=128, max_length=128)
    purpose: str = Field(max_length=64)
    lender_uscc: str = Field(min_length=18, max_length=18)
    inquiry_id: str = Field(max_length=40)
    authorization: _Authorization


def authorized(member: dict, request: SummaryRequest, today: date) -> dict:
    """The artefact's fields, if the asking member signed it and it lets this summary be given
    (the person chose the `federation` scope, for this lender and purpose, still in force, about
    the pseudonym asked for); else 403 with the reason's code."""
    given = request.authorization
    try:
        fields = artefact.verify(given.artefact, given.signature, member["artefact_keys"])
    except artefact.InvalidArtefact as e:
        raise Problem(403, "artefact_invalid", f"the authorization is not one the asking member signed: {e}") from None
    if FEDERATION_SCOPE not in fields.get("scopes", []) or "federation" not in fields:
        raise Problem(403, "federation_not_authorized", "the person did not authorize asking the federation")
    if fields.get("purpose") != request.purpose or fields.get("lender", {}).get("uscc") != request.lender_uscc:
        raise Problem(403, "artefact_mismatch", "the request's purpose or lender is not the authorization's")
    if date.fromisoformat(fields["expires_on"]) < today:
        raise Problem(403, "artefact_expired", "the authorization has expired")
    bound = artefact.pseudonym_binding(fields["id"], request.pseudonym, given.person_secret)
    if bound != fields["federation"]:
        raise Problem(403, "artefact_mismatch", "the authorization was not given by the person asked about")
    return fields


def give_summary(conn: Connection, runtime, member: dict, body: bytes) -> dict:
    """The signed answer to a member's signed summary request."""
    try:
        request = SummaryRequest.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        raise Problem(422, "invalid_summary_request", f"the body must be a {peers.REQUEST_FORMAT} request") from None
    today = clock.today()
    fields = authorized(member, request, today)
    token = pseudonyms.person_with(conn, request.pseudonym)
    summary = peer_summary(conn, runtime, token, today) if token is not None else None
    own = runtime.settings.federation
    answer = {
        "format": peers.ANSWER_FORMAT, "member": own.uscc, "request_sha256": hashlib.sha256(body).hexdigest(),
        "held": summary is not None, "summary": summary, "answered_at": clock.now().isoformat(timespec="seconds"),
    }  # fmt: skip
    # Only the person's token goes into the log, and only when this agency holds them. The asking
    # member is the event's actor: the person's list of accesses here names it.
    asking = Actor(member["uscc"], "agency", member["name"])
    audit.enqueue(conn, [audit.event(
        "federation.summary_given", asking, token, member_name=member["name"], lender_uscc=request.lender_uscc,
        purpose=request.purpose, authorization=fields["id"], inquiry=request.inquiry_id, held=summary is not None,
        artefact_sha256=hashlib.sha256(request.authorization.artefact.encode()).hexdigest(),
    )])  # fmt: skip
    keys = SigningKeys({own.uscc: own.signing_key_bytes()}, own.uscc)
    return {"answer": answer, "signature": keys.sign(canonical_json(answer))}


# The regulator's national view: a PSI cardinality run between two members -------------------

EXCHANGE_PATH = "/v1/federation/psi/exchange"
SUBMISSIONS_PATH = "/v1/federation/psi/submissions"
BINARY = "application/octet-stream"


def psi_set(conn: Connection, month: str) -> list[str]:
    """This member's side of a run: the pseudonyms of the persons with an open loan at the end
    of `month` (a person furnished before pseudonyms existed has none, and is not counted)."""
    return pseudonyms.of_persons(conn, open_loan_holders(conn, psi_runs.checked_month(month)))


def _submit(settings, run_id: str, month: str, role: str, peer: str, elements: list[bytes]) -> None:
    url = f"{settings.federation.regulator_url.rstrip('/')}{SUBMISSIONS_PATH}?run={run_id}&month={month}" \
          f"&role={role}&peer={peer}"  # fmt: skip
    r = signatures.post(url, b"".join(elements), settings, content_type=BINARY, timeout=600)
    if r.status_code != 200:
        raise Problem(502, "regulator_refused", f"the regulator's node answered {r.status_code}: {r.text[:200]}")


def run_psi(runtime, peer_uscc: str, month: str) -> dict:
    """Start a run with another member, as its initiator: send it this member's set blinded with
    a fresh secret, take its set blinded with its own, blind that again and hand it to the
    regulator's node. This member learns the size of the peer's set, never the count."""
    with runtime.reading() as conn:
        peer = members.get(conn, peer_uscc)
        if peer is None or peer["removed_at"] is not None:
            raise Problem(404, "member_not_found", "no current member has this USCC")
        mine = psi_set(conn, month)
    party, run_id = psi.Party(), new_id("psi")
    sent = party.blind(mine)
    url = f"{peer['base_url']}{EXCHANGE_PATH}?run={run_id}&month={month}"
    r = signatures.post(url, b"".join(sent), runtime.settings, content_type=BINARY, timeout=600)
    if r.status_code != 200:
        raise Problem(502, "peer_refused", f"the peer answered {r.status_code}: {r.text[:200]}")
    theirs = psi_runs.elements(r.content)
    _submit(runtime.settings, run_id, month, "initiator", peer_uscc, party.reblind(theirs))
    return {"run_id": run_id, "month": month, "peer": peer_uscc, "own_persons": len(mine),
            "peer_persons": len(theirs), "bytes_sent": psi_runs.ELEMENT * (len(mine) + len(theirs)),
            "bytes_received": len(r.content)}  # fmt: skip


def answer_psi(runtime, member: dict, run_id: str, month: str, body: bytes) -> bytes:
    """The responder's side: the initiator's elements blinded again go to the regulator's node,
    this member's own set blinded goes back to the initiator (both with one fresh secret)."""
    theirs = psi_runs.elements(body)
    with runtime.reading() as conn:
        mine = psi_set(conn, month)
    party = psi.Party()
    try:
        reblinded = party.reblind(theirs)
    except ValueError:
        raise Problem(422, "invalid_elements", "an element is not a ristretto255 encoding") from None
    _submit(runtime.settings, run_id, month, "responder", member["uscc"], reblinded)
    return b"".join(party.blind(mine))


def run_due_psi(runtime, today: date) -> list[dict]:
    """The monthly runs this member starts (the background worker's job): for last month, once
    `psi_day` of this month has come (furnishers have reported it by then), with each peer due
    (psi_runs.peers_due). A peer or regulator that fails is tried again at the next turn."""
    federation = runtime.settings.federation
    if not pseudonyms.enabled(runtime.settings) or today.day < federation.psi_day:
        return []
    month = month_label_of(today, 1)
    with runtime.reading() as conn:
        due = psi_runs.peers_due(conn, federation.uscc, month)
    done = []
    for peer in due:
        try:
            result = run_psi(runtime, peer, month)
        except (Problem, httpx.HTTPError) as e:
            why = getattr(e, "code", type(e).__name__)
            log.warning("federation PSI run for %s with %s failed: %s", month, peer, why)
            continue
        with runtime.transaction() as conn:
            psi_runs.record_sent(conn, month, peer, result["run_id"], clock.now())
        done.append(result)
    return done
