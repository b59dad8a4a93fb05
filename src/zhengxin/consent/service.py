"""Granting, revoking and reading authorizations, and a person's withdrawal of consent to a
record type. Never commits: the route's unit of work does."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

from sqlalchemy import Connection, bindparam, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from zhengxin.audit import service as audit
from zhengxin.consent import artefact
from zhengxin.consent.tables import authorizations, consent_withdrawals
from zhengxin.decisions import service as decisions
from zhengxin.federation import pseudonyms
from zhengxin.kit import clock
from zhengxin.kit.db import Read, as_dicts, pipelined, read_all, write
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.parties.service import Actor, get_party, named_party_read
from zhengxin.records import repository as records
from zhengxin.runtime import Runtime

PRODUCTS = ("report", "score")
METHOD = "credit report and score supplied by the licensed credit reference agency, for this lender only"
# A scope beyond the catalog's record types: the agency may ask the other members of the
# federation of agencies for a summary of what they hold about the person (issue 20).
FEDERATION_SCOPE = "federation"
FEDERATION_NOTICE = (
    "Summaries from the other credit reference agencies of the federation, asked under this authorization: "
    "platforms, open accounts, total outstanding and limits (fen), worst repayment status in 24 months, new "
    "accounts and inquiries in the last 1, 3 and 6 months. No account, institution or identifier is shared."
)


def sensitive_types(catalog) -> list[str]:
    """Record types that need the person's separate consent (PIPL-29)."""
    return sorted(name for name, rt in catalog.record_types.items() if rt.separate_consent)


def find_lender_read(ref: str) -> Read:
    return named_party_read(ref, "lender", active_only=True)


def check_purpose(catalog, purpose: str) -> None:
    """A purpose the catalog in force names (CM-7), or 422 invalid_purpose."""
    if purpose not in catalog.purposes:
        raise Problem(422, "invalid_purpose", f"purpose must be one of {', '.join(catalog.purposes)}")


def grant_context(catalog, purpose: str, scopes: list[str], separate_consent: bool) -> dict:
    return {
        "purpose": purpose,
        "scopes": sorted(set(scopes)),
        "sensitive_types": sensitive_types(catalog),
        "separate_consent": separate_consent,
    }


def grant(
    conn: Connection,
    runtime: Runtime,
    individual: Actor,
    *,
    lender: str,
    purpose: str,
    scopes: list[str],
    products: list[str] | None = None,
    separate_consent: bool = False,
    expires_on: date | None = None,
) -> dict:
    """Issue a signed authorization from this person to a lender (a deny raises decisions.Denied)."""
    catalog = runtime.catalog
    if individual.person_token is None:
        raise Problem(403, "forbidden_role", "only an individual grants authorizations")
    products, scopes, expires_on, fair_use = _checked_terms(
        runtime, purpose=purpose, scopes=scopes, products=products, expires_on=expires_on
    )
    # One round trip: the lender, and the person's resident ID the artefact names.
    party, identity = read_all(conn, find_lender_read(lender), runtime.vault.reveal_read(individual.person_token))
    context = grant_context(catalog, purpose, scopes, separate_consent)
    decision = runtime.policy.decide(
        "grant_authorization", decisions.subject(individual), ("Person", individual.person_token), context
    )
    decisions.enforce(
        decision, individual, individual.person_token, "authorization.denied", lender=party["id"], purpose=purpose,
        scopes=scopes,
    )  # fmt: skip
    authorization_id = new_id("auth")

    resident_id = identity.get("person_id")
    if resident_id is None:
        raise Problem(409, "identity_unknown", "the agency holds no resident ID for this account")
    issued_at = clock.now()
    fields = _artefact_fields(
        runtime, authorization_id, resident_id, party, purpose=purpose, products=products, scopes=scopes,
        separate_consent=separate_consent, fair_use=fair_use, issued_at=issued_at, expires_on=expires_on,
    )  # fmt: skip
    if FEDERATION_SCOPE in scopes:
        pseudonym = pseudonyms.ensure(conn, runtime.settings, individual.person_token, resident_id, issued_at)
        fields["federation"] = artefact.pseudonym_binding(
            authorization_id, pseudonym, artefact.person_secret(runtime.pepper, authorization_id))
    text, signature = artefact.sign(fields, runtime.artefact_keys)
    row = {
        "id": authorization_id,
        "lender_id": party["id"],
        "person_token": individual.person_token,
        "purpose": purpose,
        "products": products,
        "scopes": scopes,
        "separate_consent": separate_consent,
        "max_inquiries": fair_use.inquiries,
        "per_days": fair_use.per_days,
        "issued_at": issued_at,
        "expires_on": expires_on,
        "revoked_at": None,
        "artefact": text,
        "key_id": runtime.artefact_keys.active_key_id,
        "signature": signature,
    }
    with pipelined(conn):  # the authorization, its decision and log event: one round trip
        write(conn, _INSERT, row)
        decisions.record(
            conn, decision, individual, individual.person_token, "authorization.granted",
            authorization=authorization_id, lender=party["id"], purpose=purpose, scopes=scopes,
            expires_on=expires_on.isoformat(), artefact_sha256=_sha256(text),
        )  # fmt: skip
    return _view(row, party["name"], runtime.pepper)


def _checked_terms(runtime, *, purpose: str, scopes: list[str], products: list[str] | None, expires_on: date | None):
    """The grant's terms as the catalog and the settings allow them: (products, scopes, expiry,
    fair-use limit), or the problem with the first term refused."""
    catalog, settings = runtime.catalog, runtime.settings
    check_purpose(catalog, purpose)
    products = sorted(set(products or PRODUCTS))
    if not set(products) <= set(PRODUCTS):
        raise Problem(422, "invalid_product", f"products are {', '.join(PRODUCTS)}")
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in catalog.record_types and s != FEDERATION_SCOPE]
    if unknown:
        raise Problem(422, "invalid_scope", f"unknown record types: {', '.join(unknown)}")
    # The federation's summaries are loan figures: they serve what loan records may serve.
    unfit = [s for s in scopes if purpose not in catalog.record_types[_record_type(s)].purposes]
    if unfit:
        raise Problem(
            422, "scope_not_for_purpose", f"{', '.join(unfit)} may not serve {purpose} (catalog purposes)", rule="CM-7"
        )
    today = clock.today()
    expires_on = expires_on or today + timedelta(days=settings.consent.default_days)
    if not today <= expires_on <= today + timedelta(days=settings.consent.max_days):
        raise Problem(
            422, "invalid_expiry", f"expires_on must be between today and {settings.consent.max_days} days from now"
        )
    fair_use = settings.consent.fair_use.get(purpose)
    if fair_use is None:
        raise Problem(422, "invalid_purpose", f"no fair-use limit is configured for {purpose}")
    return products, scopes, expires_on, fair_use


def _record_type(scope: str) -> str:
    return "loan" if scope == FEDERATION_SCOPE else scope


def _artefact_fields(
    runtime, authorization_id: str, resident_id: str, party: dict, *, purpose: str, products: list[str],
    scopes: list[str], separate_consent: bool, fair_use, issued_at, expires_on: date,
) -> dict:  # fmt: skip
    """What the signed artefact says: the lender, the person bound by a hiding commitment, the
    terms, and the notice the person was given (PIPL-23)."""
    catalog = runtime.catalog
    return {
        "id": authorization_id,
        "issuer": runtime.settings.agency_name,
        "lender": {"id": party["id"], "name": party["name"], "uscc": party["uscc"]},
        "person": artefact.person_binding(
            authorization_id, resident_id, artefact.person_secret(runtime.pepper, authorization_id)
        ),
        "purpose": purpose,
        "products": products,
        "scopes": scopes,
        "separate_consent": separate_consent,
        "fair_use": {"inquiries": fair_use.inquiries, "per_days": fair_use.per_days},
        "issued_at": issued_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "expires_on": expires_on.isoformat(),
        # PIPL-23: the recipient, purpose, method and categories the person was told of.
        "notice": {
            "recipient": party["name"],
            "purpose": catalog.purposes[purpose],
            "method": METHOD,
            "categories": [FEDERATION_NOTICE if s == FEDERATION_SCOPE else catalog.record_types[s].description
                           for s in scopes],  # fmt: skip
        },
    }


def revoke(conn: Connection, runtime, individual: Actor, authorization_id: str) -> dict:
    """Withdraw an authorization (PIPL-15): the next inquiry with it is denied. Idempotent."""
    row = _own(conn, individual, authorization_id)
    if row["revoked_at"] is None:
        now = clock.now()
        conn.execute(update(authorizations).where(authorizations.c.id == authorization_id).values(revoked_at=now))
        row["revoked_at"] = now
        audit.enqueue(
            conn,
            [audit.event("authorization.revoked", individual, individual.person_token, authorization=row["id"],
                         lender=row["lender_id"])],
        )  # fmt: skip
    return _view(row, _lender_name(conn, row["lender_id"]), runtime.pepper)


def _readable(actor: Actor):
    """Authorizations this party may see: a person their own, a lender those given to it."""
    query = select(authorizations)
    if actor.role == "individual":
        return query.where(authorizations.c.person_token == actor.person_token)
    if actor.role == "lender":
        return query.where(authorizations.c.lender_id == actor.party_id)
    return query.where(False)


def _own(conn: Connection, actor: Actor, authorization_id: str) -> dict:
    row = conn.execute(_readable(actor).where(authorizations.c.id == authorization_id)).mappings().first()
    if row is None:
        raise Problem(404, "authorization_not_found", "no such authorization of yours")
    return dict(row)


def get(conn: Connection, runtime, actor: Actor, authorization_id: str) -> dict:
    row = _own(conn, actor, authorization_id)
    return _view(row, _lender_name(conn, row["lender_id"]), runtime.pepper)


def list_for(conn: Connection, runtime, actor: Actor, limit: int = 200) -> list[dict]:
    rows = conn.execute(_readable(actor).order_by(authorizations.c.issued_at.desc()).limit(limit)).mappings().all()
    names: dict[str, str] = {}
    out = []
    for row in rows:
        if row["lender_id"] not in names:
            names[row["lender_id"]] = _lender_name(conn, row["lender_id"])
        out.append(_view(dict(row), names[row["lender_id"]], runtime.pepper))
    return out


def for_inquiry_read(authorization_id: str) -> Read:
    """The authorization an inquiry names, locked so concurrent uses count one after another
    (SQLite, whose writers are serialised, renders no FOR UPDATE)."""
    return Read(_LOCKED, {"id": authorization_id}, lambda rows: _BY_ID_ROWS(rows)[0] if rows else None)


_INSERT = insert(authorizations)
_BY_ID = select(authorizations).where(authorizations.c.id == bindparam("id"))
_LOCKED = _BY_ID.with_for_update()
_BY_ID_ROWS = as_dicts(_BY_ID)


def status(row: dict, today: date | None = None) -> str:
    if row["revoked_at"] is not None:
        return "revoked"
    return "expired" if (today or clock.today()) > row["expires_on"] else "active"


def _lender_name(conn: Connection, lender_id: str) -> str:
    party = get_party(conn, lender_id)
    return party["name"] if party else lender_id


def _view(row: dict, lender_name: str, pepper: bytes) -> dict:
    """An authorization as its person and its lender see it: with the secret that opens the
    artefact's commitment to the person (v2 artefacts; v1 ones bound the person without one)."""
    version = json.loads(row["artefact"]).get("v")
    return {
        "id": row["id"],
        "lender": {"id": row["lender_id"], "name": lender_name},
        "purpose": row["purpose"],
        "products": row["products"],
        "scopes": row["scopes"],
        "separate_consent": row["separate_consent"],
        "fair_use": {"inquiries": row["max_inquiries"], "per_days": row["per_days"]},
        "issued_at": row["issued_at"],
        "expires_on": row["expires_on"],
        "status": status(row),
        # What a person's overview shows beside an active authorization: how long it has left.
        "days_left": max(0, (row["expires_on"] - clock.today()).days) if status(row) == "active" else 0,
        "revoked_at": row["revoked_at"],
        "artefact": row["artefact"],
        "key_id": row["key_id"],
        "signature": row["signature"],
        "person_secret": artefact.person_secret(pepper, row["id"]) if version != 1 else None,
    }


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# Withdrawing consent to a record type (PIPL-15, PIPL-47) ----------------------------------


def withdraw(conn: Connection, runtime: Runtime, individual: Actor, record_type: str) -> tuple[dict, bool]:
    """Withdraw consent to a record type: its stored records about the person are erased at
    once and intake refuses new ones until the person lifts it. Returns (withdrawal, new);
    withdrawing again changes nothing but erases any record that arrived meanwhile."""
    token = _person(individual)
    catalog = runtime.catalog
    spec = catalog.record_types.get(record_type)
    if spec is None:
        raise Problem(422, "unknown_record_type", f"record_type must be one of {', '.join(catalog.record_types)}")
    context = {"record_type": record_type, "credit_record": spec.credit_record}
    decision = runtime.policy.decide("withdraw_consent", decisions.subject(individual), ("Person", token), context)
    decisions.enforce(decision, individual, token, "consent.withdrawal_denied", record_type=record_type)
    row = _withdrawal(conn, token, record_type)
    new = row is None
    erased = records.erase_type(conn, catalog, token, record_type)
    if new:
        row = {"person_token": token, "record_type": record_type, "withdrawn_at": clock.now()}
        try:
            with conn.begin_nested():  # the same withdrawal sent twice at once: one wins
                conn.execute(insert(consent_withdrawals).values(**row))
        except IntegrityError:
            row, new = _withdrawal(conn, token, record_type), False
    decisions.keep(conn, decision, individual, token)
    if new or erased:
        audit.enqueue(
            conn,
            [audit.event("consent.withdrawn", individual, token, record_type=record_type, erased=erased,
                         decision=decision.record(), rules=["PIPL-15", "PIPL-47"])],
        )  # fmt: skip
    return {**_withdrawal_view(row), "erased": erased}, new


def withdrawals(conn: Connection, individual: Actor) -> list[dict]:
    """The person's withdrawals in force, oldest first."""
    rows = conn.execute(
        select(consent_withdrawals)
        .where(consent_withdrawals.c.person_token == _person(individual))
        .order_by(consent_withdrawals.c.withdrawn_at, consent_withdrawals.c.record_type)
    ).mappings()
    return [_withdrawal_view(r) for r in rows]


def lift(conn: Connection, individual: Actor, record_type: str) -> dict:
    """Lift a withdrawal: from now on intake accepts that type about the person again (what was
    erased stays erased)."""
    token = _person(individual)
    row = _withdrawal(conn, token, record_type)
    if row is None:
        raise Problem(404, "withdrawal_not_found", f"you have not withdrawn consent to {record_type} records")
    conn.execute(
        delete(consent_withdrawals).where(
            consent_withdrawals.c.person_token == token, consent_withdrawals.c.record_type == record_type
        )
    )
    lifted_at = clock.now()
    audit.enqueue(conn, [audit.event("consent.withdrawal_lifted", individual, token, record_type=record_type)])
    return {**_withdrawal_view(row), "lifted_at": lifted_at}


def withdrawn_persons(conn: Connection) -> dict[str, list[str]]:
    """Every withdrawal in force, as person tokens by record type (intake reads them once a batch)."""
    out: dict[str, list[str]] = {}
    for record_type, token in conn.execute(_WITHDRAWN):
        out.setdefault(record_type, []).append(token)
    return out


_WITHDRAWN = select(consent_withdrawals.c.record_type, consent_withdrawals.c.person_token)


def _person(actor: Actor) -> str:
    if actor.role != "individual" or actor.person_token is None:
        raise Problem(403, "forbidden_role", "only the person themself withdraws consent to their records")
    return actor.person_token


def _withdrawal(conn: Connection, token: str, record_type: str) -> dict | None:
    row = (
        conn.execute(
            select(consent_withdrawals).where(
                consent_withdrawals.c.person_token == token, consent_withdrawals.c.record_type == record_type
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def _withdrawal_view(row) -> dict:
    return {"record_type": row["record_type"], "withdrawn_at": row["withdrawn_at"]}


# For the retention run ---------------------------------------------------------------------------


def withdrawn_of_type(record_type: str):
    """SQL: the tokens of the persons who withdrew consent to this record type (few)."""
    return select(consent_withdrawals.c.person_token).where(consent_withdrawals.c.record_type == record_type)


def live_authorization_exists(person_token, today):
    """SQL: an unexpired, unrevoked authorization names this person (`person_token`: a column):
    the lender may still inquire, and the report names the person."""
    a = authorizations.c
    return exists().where(a.person_token == person_token, a.revoked_at.is_(None), a.expires_on >= today)
