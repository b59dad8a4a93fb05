"""Who is in the federation. The regulator's node keeps the list — each agency's name, USCC,
base URL and Ed25519 request-signing key — admits and removes members, and publishes the list
as a document signed with its artefact key, which every member fetches and checks. A member
removed is refused from the next request on: verification reads the list every time."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection, insert, select, update

from zhengxin.audit import service as audit
from zhengxin.federation.tables import federation_members
from zhengxin.identity.resident_id import InvalidIdentifier, validate_uscc
from zhengxin.kit.canonical import canonical_json
from zhengxin.kit.errors import Problem
from zhengxin.kit.signing import signature_valid
from zhengxin.parties.service import Actor

DOCUMENT_FORMAT = "zhengxin.federation-members/1"
_c = federation_members.c
_VIEW = (_c.uscc, _c.name, _c.base_url, _c.signing_key, _c.artefact_keys, _c.admitted_at, _c.removed_at)
_LISTED = ("uscc", "name", "base_url", "signing_key", "artefact_keys")


def _public_key(value) -> str:
    try:
        if not isinstance(value, str) or len(bytes.fromhex(value)) != 32:
            raise ValueError
    except ValueError:
        raise Problem(422, "invalid_signing_key", "a key must be a raw Ed25519 public key in hex") from None
    return value.lower()


def _checked(name: str, uscc: str, base_url: str, signing_key: str, artefact_keys: dict | None = None) -> dict:
    try:
        uscc = validate_uscc(uscc)
    except InvalidIdentifier as e:
        raise Problem(422, e.code, str(e)) from None
    url = urlsplit(base_url)
    if url.scheme not in ("https", "http") or not url.hostname or url.query or url.fragment:
        raise Problem(422, "invalid_base_url", "base_url must be an http(s) URL with a host and no query")
    if url.scheme == "http" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise Problem(422, "invalid_base_url", "a member outside this machine is reached over https only")
    keys = {str(key_id): _public_key(value) for key_id, value in (artefact_keys or {}).items()}
    return {"uscc": uscc, "name": name.strip(), "base_url": base_url.rstrip("/"),
            "signing_key": _public_key(signing_key), "artefact_keys": keys}  # fmt: skip


def admit(conn: Connection, regulator: Actor, *, name: str, uscc: str, base_url: str, signing_key: str,
          now: datetime, artefact_keys: dict | None = None) -> dict:  # fmt: skip
    """Admit an agency (or admit it again after a removal, with the keys and address it gives
    now). `artefact_keys` verify the authorizations it signs, which its peers check."""
    row = _checked(name, uscc, base_url, signing_key, artefact_keys)
    existing = get(conn, row["uscc"])
    if existing is None:
        conn.execute(insert(federation_members).values(**row, admitted_at=now))
    else:
        conn.execute(update(federation_members).where(federation_members.c.uscc == row["uscc"])
                     .values(**row, admitted_at=now, removed_at=None))  # fmt: skip
    audit.enqueue(conn, [audit.event("federation.member_admitted", regulator, uscc=row["uscc"], name=row["name"],
                                     base_url=row["base_url"], signing_key=row["signing_key"],
                                     artefact_keys=row["artefact_keys"])])  # fmt: skip
    return get(conn, row["uscc"])


def remove(conn: Connection, regulator: Actor, uscc: str, *, now: datetime) -> dict:
    member = get(conn, uscc)
    if member is None or member["removed_at"] is not None:
        raise Problem(404, "member_not_found", "no current member has this USCC")
    conn.execute(update(federation_members).where(federation_members.c.uscc == uscc).values(removed_at=now))
    audit.enqueue(conn, [audit.event("federation.member_removed", regulator, uscc=uscc)])
    return get(conn, uscc)


def get(conn: Connection, uscc: str) -> dict | None:
    row = conn.execute(select(*_VIEW).where(federation_members.c.uscc == uscc)).mappings().first()
    return None if row is None else _member(row)


def current(conn: Connection) -> list[dict]:
    rows = conn.execute(select(*_VIEW).where(federation_members.c.removed_at.is_(None))
                        .order_by(federation_members.c.uscc)).mappings().all()  # fmt: skip
    return [_member(r) for r in rows]


def _member(row) -> dict:
    return {**row, "artefact_keys": row["artefact_keys"] or {}}


def document(conn: Connection, keys, *, now: datetime) -> dict:
    """The current list as the regulator's node signs it (Ed25519 over the canonical JSON of
    `document`, with the key named by `key_id`)."""
    body = {
        "format": DOCUMENT_FORMAT,
        "issued_at": _utc(now),
        "members": [{**{k: m[k] for k in _LISTED},
                     "admitted_at": _utc(m["admitted_at"])} for m in current(conn)],
    }  # fmt: skip
    return {"document": body, "key_id": keys.active_key_id, "signature": keys.sign(canonical_json(body))}


def _utc(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def verify_document(signed: dict, public_keys: dict[str, str]) -> dict:
    """The document, if the regulator's key `key_id` signed it; else 422 members_signature_invalid."""
    key = public_keys.get(signed.get("key_id", ""))
    body = signed.get("document")
    if key is None or not isinstance(body, dict) or body.get("format") != DOCUMENT_FORMAT:
        raise Problem(422, "members_signature_invalid", "not a member list signed by a known regulator key")
    if not signature_valid(key, canonical_json(body), str(signed.get("signature", ""))):
        raise Problem(422, "members_signature_invalid", "the member list's signature does not verify")
    return body


def fetch_list(regulator_url: str, api_key: str) -> dict:
    """The regulator node's signed member list as it serves it (checked by `adopt`, against
    keys given out of band); 502 when the node cannot be reached or refuses."""
    try:
        r = httpx.get(f"{regulator_url.rstrip('/')}/v1/federation/members",
                      headers={"Authorization": f"Bearer {api_key}"}, timeout=10)  # fmt: skip
    except httpx.HTTPError as e:
        raise Problem(502, "regulator_unreachable", f"cannot reach the regulator's node: {e}") from None
    if r.status_code != 200:
        raise Problem(502, "regulator_refused", f"the regulator's node answered {r.status_code}")
    return r.json()


def adopt(conn: Connection, signed: dict, regulator_keys: dict[str, str], *, now: datetime) -> dict:
    """A member node takes the regulator's signed list as its own: members listed are current
    (with the key and address listed), members no longer listed are removed. Returns what changed."""
    body = verify_document(signed, regulator_keys)
    listed = {m["uscc"]: _checked(m["name"], m["uscc"], m["base_url"], m["signing_key"], m.get("artefact_keys"))
              for m in body["members"]}  # fmt: skip
    before = {m["uscc"]: m for m in current(conn)}
    changed = {"admitted": [], "updated": [], "removed": sorted(set(before) - set(listed))}
    for uscc, row in listed.items():
        old = get(conn, uscc)
        if old is None:
            conn.execute(insert(federation_members).values(**row, admitted_at=now))
            changed["admitted"].append(uscc)
        elif old["removed_at"] is not None or any(old[k] != row[k] for k in _LISTED):
            conn.execute(update(federation_members).where(_c.uscc == uscc).values(**row, removed_at=None))
            changed["updated"].append(uscc)
    if changed["removed"]:
        conn.execute(update(federation_members).where(_c.uscc.in_(changed["removed"])).values(removed_at=now))
    if any(changed.values()):
        audit.enqueue(conn, [audit.event("federation.members_adopted", None, issued_at=body["issued_at"], **changed)])
    return changed
