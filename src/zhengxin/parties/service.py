"""Registering parties and issuing, checking and revoking their API keys.

A key is `zx_<key id>_<secret>` from the OS's secure RNG; only SHA-256 of the secret is
stored (the secret has 256 bits of entropy, so a slow password hash adds nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, bindparam, exists, insert, or_, select, update

from zhengxin.config import Settings
from zhengxin.identity import resident_id
from zhengxin.identity.tokens import person_token
from zhengxin.identity.vault import Vault
from zhengxin.kit import clock
from zhengxin.kit.db import Read, as_dicts, read
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.parties.tables import ROLES, api_keys, parties, portal_sessions
from zhengxin.runtime import Runtime

ORGANISATION_ROLES = {"furnisher", "lender"}
# Who may furnish records: the platforms, and lenders for their own loans, cards and guarantees.
FURNISHING_ROLES = ("furnisher", "lender")


@dataclass(frozen=True)
class Actor:
    """The party making a request."""

    party_id: str
    role: str
    name: str
    person_token: str | None = None
    staff: bool = False  # an agency account held by one named member of staff (CR-22)
    # The rest of the party's row as authentication read it (GET /v1/parties/me shows it).
    uscc: str | None = None
    created_at: datetime | None = None

    @classmethod
    def of(cls, row) -> Actor:
        return cls(party_id=row.id, role=row.role, name=row.name, person_token=row.person_token, staff=row.staff,
                   uscc=row.uscc, created_at=row.created_at)  # fmt: skip


def add_party(
    conn: Connection,
    settings: Settings,
    *,
    role: str,
    name: str,
    uscc: str | None = None,
    person_id: str | None = None,
    staff: bool = False,
) -> tuple[dict, str]:
    """Register a party and issue its first API key; returns (party row, api key). A staff
    account is an agency account for one named member of staff."""
    if role not in ROLES:
        raise Problem(422, "invalid_role", f"role must be one of {', '.join(ROLES)}")
    if staff and role != "agency":
        raise Problem(422, "staff_not_allowed", "only agency accounts are staff accounts")
    if conn.execute(select(parties.c.id).where(parties.c.name == name)).first():
        raise Problem(409, "party_exists", "a party with this name already exists")
    token = None
    if uscc is not None:
        try:
            uscc = resident_id.validate_uscc(uscc)
        except resident_id.InvalidIdentifier as e:
            raise Problem(422, e.code, str(e)) from None
    elif role in ORGANISATION_ROLES:
        raise Problem(422, "uscc_required", f"a {role} needs its unified social credit code")
    if role == "individual":
        if not person_id:
            raise Problem(422, "person_id_required", "an individual registers with their resident ID")
        try:
            normalised = resident_id.validate(person_id)
        except resident_id.InvalidIdentifier as e:
            raise Problem(422, e.code, str(e)) from None
        token = person_token(settings.pepper_bytes(), normalised)
        if conn.execute(select(parties.c.id).where(parties.c.person_token == token)).first():
            raise Problem(409, "party_exists", "this person already has an account")
        Vault.from_settings(settings).store_one(conn, token, {"person_id": normalised})
    elif person_id is not None:
        raise Problem(422, "person_id_not_allowed", "only individuals carry a resident ID")
    row = {
        "id": new_id("pty"),
        "role": role,
        "name": name,
        "uscc": uscc,
        "person_token": token,
        "active": True,
        "staff": staff,
        "created_at": clock.now(),
    }
    conn.execute(insert(parties).values(**row))
    _, key = issue_key(conn, row["id"])
    return row, key


def issue_key(conn: Connection, party_id: str) -> tuple[str, str]:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    conn.execute(
        insert(api_keys).values(
            id=key_id,
            party_id=party_id,
            secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
            created_at=clock.now(),
        )
    )
    return key_id, f"zx_{key_id}_{secret}"


def revoke_key(conn: Connection, key_id: str) -> bool:
    result = conn.execute(
        update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=clock.now())
    )
    return result.rowcount == 1


# Built once: every request authenticates, and building a statement costs more than running it.
_KEY_HOLDER = (
    select(
        api_keys.c.secret_sha256,
        parties.c.id,
        parties.c.role,
        parties.c.name,
        parties.c.person_token,
        parties.c.staff,
        parties.c.uscc,
        parties.c.created_at,
    )
    .join(parties, parties.c.id == api_keys.c.party_id)
    .where(api_keys.c.id == bindparam("key_id"), api_keys.c.revoked_at.is_(None), parties.c.active.is_(True))
)


def authenticate(conn: Connection, api_key: str) -> Actor | None:
    """The party holding this key, or None for an unknown, malformed or revoked key."""
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "zx":
        return None
    _, key_id, secret = parts
    row = conn.execute(_KEY_HOLDER, {"key_id": key_id}).first()
    if row is None:
        return None
    if not hmac.compare_digest(row.secret_sha256, hashlib.sha256(secret.encode()).hexdigest()):
        return None
    return Actor.of(row)


def open_session(conn: Connection, actor_key_id: str, hours: float) -> str:
    """A portal session for a signed-in key; returns its id (256 random bits) for the cookie."""
    session_id = secrets.token_urlsafe(32)
    now = clock.now()
    conn.execute(insert(portal_sessions).values(
        id_sha256=_digest(session_id), key_id=actor_key_id, created_at=now, expires_at=now + timedelta(hours=hours),
    ))  # fmt: skip
    return session_id


def session_holder(conn: Connection, session_id: str) -> Actor | None:
    """The party of a live session: not ended, not expired, its key still active."""
    row = conn.execute(_SESSION_HOLDER, {"id": _digest(session_id), "now": clock.now()}).first()
    if row is None:
        return None
    return Actor.of(row)


def end_session(conn: Connection, session_id: str) -> None:
    conn.execute(
        update(portal_sessions)
        .where(portal_sessions.c.id_sha256 == _digest(session_id), portal_sessions.c.ended_at.is_(None))
        .values(ended_at=clock.now())
    )


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


_SESSION_HOLDER = (
    select(parties.c.id, parties.c.role, parties.c.name, parties.c.person_token, parties.c.staff, parties.c.uscc,
           parties.c.created_at)  # fmt: skip
    .select_from(portal_sessions)
    .join(api_keys, api_keys.c.id == portal_sessions.c.key_id)
    .join(parties, parties.c.id == api_keys.c.party_id)
    .where(
        portal_sessions.c.id_sha256 == bindparam("id"),
        portal_sessions.c.ended_at.is_(None),
        portal_sessions.c.expires_at > bindparam("now"),
        api_keys.c.revoked_at.is_(None),
        parties.c.active.is_(True),
    )
)


def key_id_of(api_key: str) -> str | None:
    parts = api_key.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "zx" else None


class Directory:
    """Names, USCCs and roles of the organisations (furnishers and lenders), read in one query
    and kept: none of them changes after registration. An id or USCC not seen before reloads
    the list; one still unknown after a reload (a co-lender never registered) is looked for
    again after a minute."""

    def __init__(self):
        self.by_id: dict[str, Row] = {}
        self.by_uscc: dict[str, Row] = {}
        self._absent: set[str] = set()
        self._loaded_at = float("-inf")

    def lookup(self, conn: Connection, ids: set[str], usccs: set[str]) -> tuple[dict[str, Row], dict[str, Row]]:
        missing = (ids - self.by_id.keys()) | (usccs - self.by_uscc.keys())
        if missing and (missing - self._absent or time.monotonic() - self._loaded_at > 60):
            rows = conn.execute(_ORGANISATIONS).all()
            self.by_id = {r.id: r for r in rows}
            self.by_uscc = {r.uscc: r for r in rows if r.uscc}
            self._absent = (ids - self.by_id.keys()) | (usccs - self.by_uscc.keys())
            self._loaded_at = time.monotonic()
        return self.by_id, self.by_uscc


def directory(runtime: Runtime) -> Directory:
    """The deployment's one directory of organisations."""
    return runtime.kept(Directory, Directory)


_ORGANISATIONS = select(parties.c.id, parties.c.name, parties.c.uscc, parties.c.role).where(
    parties.c.role.in_(ORGANISATION_ROLES)
)


def get_party(conn: Connection, party_id: str) -> dict | None:
    row = conn.execute(select(parties).where(parties.c.id == party_id)).mappings().first()
    return dict(row) if row else None


def names(conn: Connection, ids: set[str]) -> dict[str, str]:
    """Party names by id, in one query."""
    if not ids:
        return {}
    return dict(conn.execute(select(parties.c.id, parties.c.name).where(parties.c.id.in_(ids))).all())


def profiles(conn: Connection, ids: set[str]) -> dict[str, dict]:
    """Each party's id, name and role, by id, in one query: what other features show of a party."""
    if not ids:
        return {}
    rows = conn.execute(select(parties.c.id, parties.c.name, parties.c.role).where(parties.c.id.in_(ids))).mappings()
    return {r["id"]: dict(r) for r in rows}


def lock_party(conn: Connection, party_id: str) -> None:
    """Serialise one party's writes for the rest of the transaction. SQLite's BEGIN IMMEDIATE
    already serialises every writer; PostgreSQL locks the party's row."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(parties.c.id).where(parties.c.id == party_id).with_for_update())


def lookup_party(conn: Connection, ref: str, role: str | tuple[str, ...] | None = None) -> dict | None:
    """The party `ref` names, by id or by name (of `role`, or one of the roles, when given), or None."""
    return read(conn, lookup_party_read(ref, role))


def lookup_party_read(ref: str, role: str | tuple[str, ...] | None = None) -> Read:
    """`lookup_party` as one query: the party with this id, else one of `role` with this name."""

    def shape(rows) -> dict | None:
        found = _BY_ID_OR_NAME_ROWS(rows)
        fits = [p for p in found if role is None or p["role"] in _roles(role)]
        by_id = next((p for p in found if p["id"] == ref), None)
        if by_id is not None:  # the id decides when it matches, even a party of another role (then: none)
            return by_id if by_id in fits else None
        return next((p for p in fits if p["name"] == ref), None)

    return Read(_BY_ID_OR_NAME, {"ref": ref}, shape)


_BY_ID_OR_NAME = (
    select(parties).where(or_(parties.c.id == bindparam("ref"), parties.c.name == bindparam("ref")))
    .order_by(parties.c.created_at)
)  # fmt: skip
_BY_ID_OR_NAME_ROWS = as_dicts(_BY_ID_OR_NAME)


def named_party(
    conn: Connection, ref: str, role: str | tuple[str, ...] | None = None, *, active_only: bool = False
) -> dict:
    """The party `ref` names, by id or by name (of `role`, when given); 404 `<role>_not_found`
    (`party_not_found`) when there is none, or, with `active_only`, none still active."""
    return read(conn, named_party_read(ref, role, active_only=active_only))


def named_party_read(ref: str, role: str | tuple[str, ...] | None = None, *, active_only: bool = False) -> Read:
    lookup = lookup_party_read(ref, role)

    def shape(rows) -> dict:
        party = lookup.shape(rows)
        if party is None or (active_only and not party["active"]):
            who = _roles(role)[0] if role else "party"
            raise Problem(404, f"{who}_not_found", f"no {'active ' if active_only else ''}{who} with this name or id")
        return party

    return Read(lookup.statement, lookup.params, shape)


def active_account_exists(person_token):
    """SQL: an active individual account belongs to this person (`person_token`: a column)."""
    return exists().where(parties.c.person_token == person_token, parties.c.active.is_(True))


def _roles(role: str | tuple[str, ...]) -> tuple[str, ...]:
    return (role,) if isinstance(role, str) else role


def find_party(conn: Connection, name: str, role: str | tuple[str, ...] | None = None) -> dict | None:
    query = select(parties).where(parties.c.name == name)
    if role:
        query = query.where(parties.c.role.in_(_roles(role)))
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def list_parties(conn: Connection, role: str | None = None) -> list[dict]:
    query = select(parties).order_by(parties.c.created_at)
    if role:
        query = query.where(parties.c.role == role)
    return [dict(r) for r in conn.execute(query).mappings()]


KEY_COLUMNS = (api_keys.c.id, api_keys.c.party_id, api_keys.c.created_at, api_keys.c.revoked_at)  # never the hash


def keys_by_party(conn: Connection, role: str | None = None) -> dict[str, list[dict]]:
    """Every party's keys, newest first: ids and dates only (only a hash of a secret is stored)."""
    query = select(*KEY_COLUMNS).join(parties, parties.c.id == api_keys.c.party_id)
    if role:
        query = query.where(parties.c.role == role)
    found: dict[str, list[dict]] = {}
    for row in conn.execute(query.order_by(api_keys.c.created_at.desc())).mappings():
        found.setdefault(row["party_id"], []).append(dict(row))
    return found


def get_key(conn: Connection, key_id: str) -> dict:
    row = conn.execute(select(*KEY_COLUMNS).where(api_keys.c.id == key_id)).mappings().first()
    if row is None:
        raise Problem(404, "key_not_found", "no such key")
    return {**row, "party": get_party(conn, row["party_id"])}
