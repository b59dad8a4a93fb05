"""The signed authorization artefact: built, signed and checked without a database.

The artefact is canonical JSON (sorted keys, no spaces, UTF-8); the agency's Ed25519
signature covers exactly those bytes. The person appears as a binding, SHA-256 over the
authorization id and their resident ID: the lender, who holds the ID, can check the
artefact is about that person; nobody learns the person token from it.
"""

from __future__ import annotations

import hashlib
import json

from zhengxin.kit.canonical import canonical_json
from zhengxin.kit.signing import SigningKeys, signature_valid

ARTEFACT_TYPE = "zhengxin.authorization"
VERSION = 1


class InvalidArtefact(ValueError):
    pass


def person_binding(authorization_id: str, resident_id: str) -> str:
    """What the artefact holds in place of the person (`resident_id` normalised)."""
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


def is_about(body: dict, resident_id: str) -> bool:
    """Whether a verified artefact was given by the person with this (normalised) resident ID."""
    return body.get("person") == person_binding(body["id"], resident_id)
