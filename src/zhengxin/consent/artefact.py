"""The signed authorization artefact: built, signed and checked without a database.

The artefact is canonical JSON (sorted keys, no spaces, UTF-8); the agency's Ed25519
signature covers exactly those bytes. The person appears as a hiding commitment (v2): an
HMAC-SHA256, keyed by a random 256-bit secret, over the authorization id and the resident ID.
The secret is given to the person and the lender beside the artefact, never inside it: they,
who hold the ID, can open the commitment; anyone holding the artefact alone learns nothing
(v1 artefacts bound the person with an unkeyed SHA-256, which a birth date and a few thousand
guesses opened; they still verify, and their binding is checked as it was made).
"""

from __future__ import annotations

import hashlib
import hmac
import json

from zhengxin.kit.canonical import canonical_json
from zhengxin.kit.signing import SigningKeys, signature_valid

ARTEFACT_TYPE = "zhengxin.authorization"
VERSION = 2


class InvalidArtefact(ValueError):
    pass


def person_secret(pepper: bytes, authorization_id: str) -> str:
    """The commitment's secret for one authorization, hex: derived from the agency's pepper
    (domain-separated), so it is never stored and is the same whenever it is handed out."""
    return hmac.new(pepper, f"zhengxin-authorization-secret/v2|{authorization_id}".encode(), "sha256").hexdigest()


def person_binding(authorization_id: str, resident_id: str, secret: str) -> str:
    """What the artefact holds in place of the person (`resident_id` normalised): a commitment
    that only `secret` opens."""
    message = f"zhengxin-authorization-person/v2|{authorization_id}|{resident_id}".encode()
    return hmac.new(bytes.fromhex(secret), message, "sha256").hexdigest()


def pseudonym_binding(authorization_id: str, pseudonym: str, secret: str) -> str:
    """With the `federation` scope, what binds the artefact to the person's federation pseudonym:
    a peer agency asked for a summary under it checks the pseudonym it is asked about opens it."""
    message = f"zhengxin-authorization-pseudonym/v2|{authorization_id}|{pseudonym}".encode()
    return hmac.new(bytes.fromhex(secret), message, "sha256").hexdigest()


def _v1_binding(authorization_id: str, resident_id: str) -> str:
    return hashlib.sha256(f"zhengxin-authorization-person/v1|{authorization_id}|{resident_id}".encode()).hexdigest()


def sign(fields: dict, keys: SigningKeys) -> tuple[str, str]:
    """The artefact text (with type, version and signing key id added) and its signature, hex."""
    body = {**fields, "type": ARTEFACT_TYPE, "v": VERSION, "key_id": keys.active_key_id}
    text = canonical_json(body)
    return text.decode(), keys.sign(text)


def verify(artefact: str | bytes, signature: str, public_keys: dict[str, str]) -> dict:
    """The artefact's fields if the agency signed exactly these bytes; InvalidArtefact otherwise."""
    data = artefact.encode() if isinstance(artefact, str) else artefact
    try:
        body = json.loads(data)
    except ValueError:
        raise InvalidArtefact("the artefact is not JSON") from None
    if not isinstance(body, dict) or body.get("type") != ARTEFACT_TYPE:
        raise InvalidArtefact("not an authorization artefact")
    if canonical_json(body) != data:
        raise InvalidArtefact("the artefact is not in canonical form")
    key = public_keys.get(body.get("key_id"))
    if key is None:
        raise InvalidArtefact(f"unknown signing key {body.get('key_id')!r}")
    if not signature_valid(key, data, signature):
        raise InvalidArtefact("the signature does not match the artefact")
    return body


def is_about(body: dict, resident_id: str, secret: str | None) -> bool:
    """Whether a verified artefact was given by the person with this (normalised) resident ID;
    a v2 artefact needs the secret handed out beside it."""
    if body.get("v") == 1:
        expected = _v1_binding(body["id"], resident_id)
    elif secret is None:
        raise InvalidArtefact("the person's commitment opens only with the secret given beside the artefact")
    else:
        try:
            expected = person_binding(body["id"], resident_id, secret)
        except ValueError:
            raise InvalidArtefact("the secret is not hex") from None
    return hmac.compare_digest(body.get("person", ""), expected)
