"""Federation pseudonyms: one per person, the same at every member, derived with the OPRF
(RFC 9497, federation/oprf.py) whose key only the regulator's node holds.

A member blinds each normalised resident ID, sends the blinded elements to the regulator's node
in a signed request (RFC 9421), and finalises what comes back: the regulator sees only
uniformly random group elements, never an ID, and no member can compute a pseudonym without
asking (so none can test guesses offline). The pseudonym is the OPRF output, 64 bytes, hex.
"""

from __future__ import annotations

import json
from datetime import datetime

import httpx
import polars as pl
from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from zhengxin.federation import oprf, signatures
from zhengxin.federation.tables import federation_pseudonyms
from zhengxin.identity.resident_id import normalise
from zhengxin.kit.errors import Problem
from zhengxin.kit.staging import insert_if_all_new, upsert_frame

KEY_INFO = b"zhengxin federation pseudonyms v1"  # DeriveKeyPair's info: the key's one purpose
PATH = "/v1/federation/oprf"
GRANT_TIMEOUT_SECONDS = 5


def server_key(settings) -> bytes:
    """The OPRF private key of the regulator's node, derived from its configured seed."""
    seed = settings.federation.oprf_key_bytes()
    if seed is None:
        raise Problem(409, "not_the_oprf_node", "this node holds no OPRF key: pseudonyms are evaluated by the "
                      "regulator's node")  # fmt: skip
    return oprf.derive_key(seed, KEY_INFO)


def evaluate_all(key: bytes, blinded: list[str], limit: int) -> list[str]:
    """The regulator's step for a batch: each blinded element times the key."""
    if not 1 <= len(blinded) <= limit:
        raise Problem(422, "invalid_batch", f"send 1 to {limit} blinded elements")
    try:
        return [oprf.evaluate(key, bytes.fromhex(b)).hex() for b in blinded]
    except (ValueError, oprf.InvalidInput):
        raise Problem(422, "invalid_element", "every element must be a valid ristretto255 encoding, hex") from None


def derive(resident_ids: list[str], settings, *, client: httpx.Client | None = None, timeout: float = 30) -> list[str]:
    """Pseudonyms for these resident IDs, in order, through the regulator's node."""
    federation = settings.federation
    if not federation.regulator_url:
        raise Problem(409, "no_regulator", "ZHENGXIN_FEDERATION__REGULATOR_URL is not set")
    federation.signing_key_bytes()  # a node without its request-signing key fails here, before any request
    url = federation.regulator_url.rstrip("/") + PATH
    inputs = [normalise(i).encode() for i in resident_ids]
    out: list[str] = []
    own = client is None
    client = client or httpx.Client(timeout=timeout)
    try:
        for start in range(0, len(inputs), federation.max_blinded):
            batch = inputs[start : start + federation.max_blinded]
            blinds = [oprf.blind(x) for x in batch]
            body = json.dumps({"blinded": [b.element.hex() for b in blinds]}).encode()
            r = signatures.post(url, body, settings, timeout=client.timeout, client=client)
            if r.status_code != 200:
                raise Problem(502, "oprf_refused", f"the regulator's node answered {r.status_code}: {r.text[:200]}")
            evaluated = r.json()["evaluated"]
            out += [oprf.finalize(x, b.blind, bytes.fromhex(e)).hex() for x, b, e in zip(batch, blinds, evaluated,
                                                                                        strict=True)]  # fmt: skip
    finally:
        if own:
            client.close()
    return out


def enabled(settings) -> bool:
    """Whether this node derives pseudonyms at intake: it is a member that knows its regulator."""
    f = settings.federation
    return bool(f.regulator_url and f.uscc and f.signing_key)


def without_pseudonym(conn: Connection, tokens: list[str]) -> set[str]:
    """Which of these persons have no pseudonym yet."""
    if not tokens:
        return set()
    c = federation_pseudonyms.c
    have = set(conn.execute(select(c.person_token).where(c.person_token.in_(tokens))).scalars())
    return set(tokens) - have


def of_person(conn: Connection, person_token: str) -> str | None:
    c = federation_pseudonyms.c
    return conn.execute(select(c.pseudonym).where(c.person_token == person_token)).scalar_one_or_none()


def of_persons(conn: Connection, tokens: list[str]) -> list[str]:
    """The pseudonyms of those of these persons who have one."""
    c = federation_pseudonyms.c
    out: list[str] = []
    for start in range(0, len(tokens), 5_000):
        out += conn.execute(select(c.pseudonym).where(c.person_token.in_(tokens[start : start + 5_000]))).scalars()
    return out


def person_with(conn: Connection, pseudonym: str) -> str | None:
    """The token of the person this agency holds under a pseudonym, if any."""
    c = federation_pseudonyms.c
    return conn.execute(select(c.person_token).where(c.pseudonym == pseudonym)).scalar_one_or_none()


def ensure(conn: Connection, settings, person_token: str, resident_id: str, now: datetime) -> str:
    """The person's pseudonym, derived through the regulator's node if they have none yet (a
    person this agency holds no records about authorizes a federation inquiry, say)."""
    known = of_person(conn, person_token)
    if known is not None:
        return known
    if not enabled(settings):
        raise Problem(409, "not_a_federation_member", "this agency is not a member of a federation of agencies")
    try:
        # Asked inside the grant's unit of work: a regulator slow to answer must not hold it long.
        [derived] = derive([resident_id], settings, timeout=GRANT_TIMEOUT_SECONDS)
    except (httpx.HTTPError, Problem):
        raise Problem(503, "regulator_unreachable", "the regulator's node did not give the person's federation "
                      "pseudonym: try again later") from None  # fmt: skip
    try:
        with conn.begin_nested():
            conn.execute(insert(federation_pseudonyms).values(person_token=person_token, pseudonym=derived,
                                                              derived_at=now))  # fmt: skip
    except IntegrityError:  # intake gave them one meanwhile: the same one
        pass
    return derived


def for_intake(people: pl.DataFrame, settings, known) -> tuple[pl.DataFrame | None, int]:
    """(person_token, pseudonym) for the persons of a chunk (person_token, person_id) who have
    none, derived through the regulator's node; and how many could not be (the node unreachable
    or refusing: they get theirs when next furnished). `known(tokens)` says who has none yet."""
    people = people.unique("person_token")
    missing = known(people["person_token"].to_list())
    todo = people.filter(pl.col("person_token").is_in(list(missing)))
    if todo.is_empty():
        return None, 0
    try:
        derived = derive(todo["person_id"].to_list(), settings)
    except (Problem, httpx.HTTPError):
        return None, todo.height
    return pl.DataFrame({"person_token": todo["person_token"], "pseudonym": derived}), 0


def store(conn: Connection, frame: pl.DataFrame, now: datetime) -> None:
    """Keep pseudonyms; a person given one meanwhile by another batch keeps the first."""
    frame = frame.with_columns(derived_at=pl.lit(now))
    if not insert_if_all_new(conn, "federation_pseudonyms", frame):
        upsert_frame(conn, "federation_pseudonyms", frame, ["person_token"])


def forget(conn: Connection, tokens: list[str]) -> None:
    """A person's pseudonym goes with their identity (PIPL-47): nothing here may link them on."""
    for start in range(0, len(tokens), 5_000):
        chunk = tokens[start : start + 5_000]
        conn.execute(delete(federation_pseudonyms).where(federation_pseudonyms.c.person_token.in_(chunk)))
