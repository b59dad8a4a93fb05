"""Requests between members, signed per HTTP Message Signatures (RFC 9421) with Ed25519.

The signature covers the method, the authority and path the sender aimed at, the query, and the
body through its Content-Digest (RFC 9530), with `created`, `keyid` (the sender's USCC), `alg`
and a `nonce`. The receiver refuses a request that is unsigned, from no current member, signed
by another key, older than MAX_AGE_SECONDS or dated in the future, replayed (each nonce is
accepted once per sender, remembered past its age), or whose body does not match its digest.

The construction of the signature base and the Ed25519 step are the `http-message-signatures`
library's; what is here is which components are covered and the federation's checks.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import http_sf
import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, HTTPSignatureKeyResolver, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException
from sqlalchemy import Connection, delete, insert
from sqlalchemy.exc import IntegrityError

from zhengxin.federation import members
from zhengxin.federation.tables import federation_nonces
from zhengxin.kit.errors import Problem

LABEL = "zx"
TAG = "zhengxin-federation"  # signed: a signature made for another application is not one of ours
COVERED = ("@method", "@authority", "@path", "@query")
MAX_AGE_SECONDS = 60
CLOCK_SKEW_SECONDS = 5  # a sender's clock this far ahead is tolerated


@dataclass
class Message:
    """A request as the library reads it: method, URL and headers (case-insensitive)."""

    method: str
    url: str
    headers: httpx.Headers


class _Keys(HTTPSignatureKeyResolver):
    def __init__(self, private: Ed25519PrivateKey | None = None, public: dict[str, str] | None = None):
        self.private, self.public = private, public or {}

    def resolve_private_key(self, key_id: str):
        return self.private

    def resolve_public_key(self, key_id: str):
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(self.public[key_id]))


class _Verifier(HTTPMessageVerifier):
    def validate_created_and_expires(self, sig_input, max_age=None):
        """Left to `verify`, which checks `created` against the deployment's clock (kit.clock)."""


def sign(method: str, url: str, headers: dict, body: bytes, *, key_id: str, seed: bytes,
         created: dt.datetime | None = None, nonce: str | None = None) -> dict:  # fmt: skip
    """The headers to send: `headers` with Content-Digest, Signature-Input and Signature."""
    message = Message(method.upper(), url, httpx.Headers(headers))
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519,
                               key_resolver=_Keys(Ed25519PrivateKey.from_private_bytes(seed)))  # fmt: skip
    signer.sign(message, key_id=key_id, created=created or dt.datetime.now(dt.UTC), label=LABEL, tag=TAG, body=body,
                nonce=nonce or secrets.token_urlsafe(18), covered_component_ids=COVERED)  # fmt: skip
    return dict(message.headers)


def post(url: str, body: bytes, settings, *, content_type: str = "application/json", timeout=30,
         client: httpx.Client | None = None) -> httpx.Response:  # fmt: skip
    """POST `body` to another node, signed as this member (settings.federation), through
    `client` (a kept pool) or a connection of its own."""
    federation = settings.federation
    headers = sign("POST", url, {"content-type": content_type}, body, key_id=federation.uscc,
                   seed=federation.signing_key_bytes())  # fmt: skip
    return (client or httpx).post(url, content=body, headers=headers, timeout=timeout)


def verify(conn: Connection, method: str, url: str, headers, body: bytes, *, now: dt.datetime) -> dict:
    """The current member who signed this request, or a 401/403 problem with a stable code. The
    nonce is recorded in the caller's unit of work."""
    if "signature" not in headers or "signature-input" not in headers:
        raise Problem(401, "signature_missing", "a federation request must carry an RFC 9421 signature")
    message = Message(method.upper(), url, httpx.Headers(headers))
    key_id = _key_id(headers["signature-input"])
    member = members.get(conn, key_id) if key_id else None
    if member is None or member["removed_at"] is not None:
        raise Problem(403, "not_a_member", "the request is not signed by a current member of the federation")
    keys = _Keys(public={key_id: member["signing_key"]})
    verifier = _Verifier(signature_algorithm=algorithms.ED25519, key_resolver=keys)
    try:
        results = verifier.verify(message, expect_tag=TAG, expect_label=LABEL, max_age=None)
        results = verifier.verify_body(message, results, body)
    except HTTPMessageSignaturesException as e:
        raise Problem(401, "signature_invalid", f"the signature does not verify: {e}") from None
    params = results[0].parameters
    covered = [c.strip('"') for c in results[0].covered_components if c != '"@signature-params"']
    if covered[: len(COVERED)] != list(COVERED) or "content-digest" not in covered:
        raise Problem(401, "signature_invalid", f"the signature must cover {', '.join(COVERED)} and content-digest")
    created = params.get("created")
    if not isinstance(created, int) or not (
        now.timestamp() - MAX_AGE_SECONDS <= created <= now.timestamp() + CLOCK_SKEW_SECONDS
    ):
        raise Problem(401, "signature_stale", f"the signature must be dated within the last {MAX_AGE_SECONDS} s")
    _first_use(conn, key_id, params.get("nonce"), now)
    return member


def _key_id(signature_input: str) -> str | None:
    """The first `keyid` in the Signature-Input dictionary (RFC 8941), read before anything is
    verified: it names the member whose key verifies the rest."""
    try:
        signatures = http_sf.parse(signature_input.encode(), tltype="dictionary")
    except ValueError:
        return None
    ids = (params.get("keyid") for _, params in signatures.values())
    return next((key_id for key_id in ids if isinstance(key_id, str)), None)


def _first_use(conn: Connection, key_id: str, nonce, now: dt.datetime) -> None:
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
        raise Problem(401, "signature_invalid", "the signature must carry a nonce of 16 to 64 characters")
    # Nonces older than any request still accepted can be forgotten.
    conn.execute(delete(federation_nonces).where(
        federation_nonces.c.seen_at < now - dt.timedelta(seconds=2 * MAX_AGE_SECONDS)))  # fmt: skip
    try:
        with conn.begin_nested():
            conn.execute(insert(federation_nonces).values(key_id=key_id, nonce=nonce, seen_at=now))
    except IntegrityError:
        raise Problem(401, "signature_replayed", "this signed request was already received") from None
