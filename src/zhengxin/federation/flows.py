"""A peer's side of a cross-agency summary (issue 20): check that the person authorized it,
then answer with the report's own figures, signed, and log the access in this agency's log so
the person sees here too who asked, when and under which authorization."""

from __future__ import annotations

import hashlib
import json
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection

from zhengxin.audit import service as audit
from zhengxin.consent import artefact
from zhengxin.consent.service import FEDERATION_SCOPE
from zhengxin.federation import peers, pseudonyms
from zhengxin.kit import clock
from zhengxin.kit.canonical import canonical_json
from zhengxin.kit.errors import Problem
from zhengxin.kit.signing import SigningKeys
from zhengxin.reports.service import peer_summary

HEX = r"^[0-9a-f]+$"


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
    # Only the person's token goes into the log, and only when this agency holds them.
    audit.enqueue(conn, [audit.event(
        "federation.summary_given", None, token, member=member["uscc"], lender=request.lender_uscc,
        purpose=request.purpose, authorization=fields["id"], inquiry=request.inquiry_id, held=summary is not None,
        artefact_sha256=hashlib.sha256(request.authorization.artefact.encode()).hexdigest(),
    )])  # fmt: skip
    keys = SigningKeys({own.uscc: own.signing_key_bytes()}, own.uscc)
    return {"answer": answer, "signature": keys.sign(canonical_json(answer))}
