"""An inquiry end to end: identify the person, decide under the policies, assemble the report,
record, charge and log it, all in the caller's unit of work (a deny ends it: kit.db.transaction
keeps the deny's record and answers with the problem naming the rules)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from zhengxin.billing import service as billing
from zhengxin.consent import service as consent
from zhengxin.consent.artefact import person_secret
from zhengxin.decisions import service as decisions
from zhengxin.federation import peers, pseudonyms
from zhengxin.identity.tokens import token_for
from zhengxin.inquiries import repository
from zhengxin.kit import clock
from zhengxin.kit.db import pipelined, read_all
from zhengxin.kit.errors import Problem
from zhengxin.kit.ids import new_id
from zhengxin.notifications import service as notifications
from zhengxin.parties.service import Actor, get_party
from zhengxin.policy import Decision, entity_ref, epoch_day
from zhengxin.records.repository import has_open_account_with, shown_accounts
from zhengxin.reports.model import CreditReport, ScoreReport
from zhengxin.reports.scoring import service as scoring
from zhengxin.reports.service import Viewer, assemble, with_federation
from zhengxin.runtime import Runtime


@dataclass
class InquiryResult:
    inquiry: dict
    report: CreditReport | ScoreReport  # the records, or (product `score`) the score and its reasons
    decision: Decision


def inquiry_context(
    conn: Connection,
    runtime: Runtime,
    lender: Actor,
    token: str,
    *,
    authorization: dict | None,
    use_times: list[datetime],
    purpose: str,
    product: str,
    scopes: list[str] | None,
) -> dict:
    """What the decision point is told about an inquiry, built from the stores (`use_times`:
    when the authorization was used for the product, read with it)."""
    open_account, uses = False, 0
    if purpose == "post_loan_management":
        party = get_party(conn, lender.party_id)
        accounts = shown_accounts(conn, runtime, token, clock.today())
        open_account = has_open_account_with(accounts, party and party["uscc"])
    if authorization is not None:
        window = authorization["per_days"]
        since = clock.now() - timedelta(days=window) if window else None
        uses = sum(1 for at in use_times if since is None or at > since)
    return decision_context(runtime, authorization, purpose=purpose, product=product, scopes=scopes,
                            open_account=open_account, uses=uses)  # fmt: skip


def decision_context(
    runtime: Runtime, authorization: dict | None, *, purpose: str, product: str, scopes: list[str] | None,
    open_account: bool, uses: int,
) -> dict:  # fmt: skip
    """The inquiry's context for the decision point, from facts already read (or described, for
    a dry run): no store is read here."""
    context = {
        "today": epoch_day(clock.today()),
        "purpose": purpose,
        "product": product,
        "scopes": sorted(set(scopes if scopes is not None else (authorization or {}).get("scopes", []))),
        "sensitive_types": consent.sensitive_types(runtime.catalog),
        "open_account": open_account,
        "uses": uses,
    }
    if authorization is not None:
        context["authorization"] = authorization_context(authorization)
    return context


def authorization_context(authorization: dict) -> dict:
    """What the decision point is told about the authorization an inquiry relies on."""
    return {
        "lender": entity_ref("Lender", authorization["lender_id"]),
        "person": entity_ref("Person", authorization["person_token"]),
        "purpose": authorization["purpose"],
        "products": list(authorization["products"]),
        "scopes": list(authorization["scopes"]),
        "separate_consent": authorization["separate_consent"],
        "expires_on": epoch_day(authorization["expires_on"]),
        "revoked": authorization["revoked_at"] is not None,
        "max_inquiries": authorization["max_inquiries"],
    }


def _live_model_for(conn: Connection, product: str, live_version: str | None) -> dict | None:
    """The live scorecard for a score inquiry (None for a report). Scores come only from it:
    with none live, nothing is scored or charged."""
    if product != "score":
        return None
    model = scoring.model_of(conn, live_version)
    if model is None:
        raise Problem(409, "product_unavailable", "no scoring model is active, so the score product is unavailable")
    return model


def _alert_confirmed(report, applicant_identity_verified: bool) -> dict:
    """While the file carries a fraud alert the lender must have verified the applicant; the
    confirmation goes into the inquiry's decision and log event."""
    if report.header.anti_fraud_note is None:
        return {}
    if not applicant_identity_verified:
        raise Problem(409, "fraud_alert_unconfirmed", "the person's file carries a fraud alert: verify the "
                      "applicant's identity and ask again with applicant_identity_verified = true")  # fmt: skip
    return {"applicant_identity_verified": True}


def _ask_federation(conn: Connection, runtime: Runtime, authorization: dict, token: str, row: dict, scopes):
    """With the `federation` scope on a report, ask every other member for its summary now, all at
    once (the answers are awaited once the report is assembled, so a peer's network time and the
    assembly overlap); None when there is nothing to ask."""
    if consent.FEDERATION_SCOPE not in scopes or row["product"] != "report" or not pseudonyms.enabled(runtime.settings):
        return None
    pseudonym = pseudonyms.of_person(conn, token)  # given when the authorization was granted
    if pseudonym is None:
        return None
    terms = json.loads(authorization["artefact"])
    body = peers.request_body(
        pseudonym=pseudonym, purpose=row["purpose"], lender_uscc=terms["lender"]["uscc"], inquiry_id=row["id"],
        authorization={"artefact": authorization["artefact"], "signature": authorization["signature"],
                       "person_secret": person_secret(runtime.pepper, authorization["id"])},
    )  # fmt: skip
    return peers.ask(conn, runtime.settings, body)


def _with_peers(report, asked: peers.Asked, runtime: Runtime, row: dict, details: dict):
    """The report with the peers' answers, or their absence once the budget is spent; which
    peers answered goes into the inquiry record and its log event."""
    outcomes = peers.collect(asked)
    row["federation"] = [{"member": o["uscc"], "status": o["status"], "code": o.get("code")} for o in outcomes]
    details["federation"] = row["federation"]
    return with_federation(report, outcomes, runtime.settings.rules, asked.budget_ms)


def _store(conn: Connection, runtime: Runtime, lender: Actor, row: dict, sources, decision: Decision, details: dict,
           *, tier: str, scored, model: dict | None) -> None:  # fmt: skip
    """What an allowed inquiry stores, in one round trip (none of it needs an answer): the
    inquiry and its sources, the score, the charge and the furnishers' shares, the person's
    notification, and the decision with its log event."""
    records: dict[str, int] = {}
    for source in sources:
        records[source.furnisher_id] = records.get(source.furnisher_id, 0) + source.records
    token, now = row["person_token"], row["created_at"]
    with pipelined(conn):
        repository.add(conn, row, sources)
        if scored is not None:
            scoring.record(conn, scored, token, now=now, inquiry_id=row["id"])
        billing.charge(conn, runtime.settings, inquiry_id=row["id"], payer_id=lender.party_id, product=row["product"],
                       tier=tier, fee_fen=row["fee_fen"], records_by_furnisher=records, now=now)  # fmt: skip
        at = now.isoformat(timespec="seconds").replace("+00:00", "Z")
        notifications.notify(
            conn, runtime, token, "inquiry",
            {"inquiry_id": row["id"], "lender": lender.name, "purpose": row["purpose"], "product": row["product"],
             "authorization_id": row["authorization_id"], "at": at},
        )  # fmt: skip
        decisions.record(
            conn, decision, lender, token, "inquiry", inquiry=row["id"], fee_fen=row["fee_fen"],
            report=row["report_id"], **({"model": model["version"], "score": scored.id} if model is not None else {}),
            **details,
        )  # fmt: skip


def inquire(
    conn: Connection,
    runtime: Runtime,
    lender: Actor,
    *,
    person_id: str,
    authorization_id: str,
    purpose: str,
    product: str,
    scopes: list[str] | None = None,
    applicant_identity_verified: bool = False,
) -> InquiryResult:
    """A lender's inquiry: allowed only under the person's authorization (CR-18), then recorded
    (CR-22), logged and charged (FEE-1). A deny raises decisions.Denied and charges nothing.
    While the person's file carries a fraud alert, the lender must confirm it verified the
    applicant's identity; the confirmation is kept with the inquiry's decision and log event."""
    consent.check_purpose(runtime.catalog, purpose)
    if product not in consent.PRODUCTS:
        raise Problem(422, "invalid_product", f"product must be one of {', '.join(consent.PRODUCTS)}")
    token = token_for(runtime.pepper, person_id)
    now, today = clock.now(), clock.today()
    # One round trip: the authorization, locked so concurrent uses count one after another (the
    # times are read after the lock is held), its uses, the price and the live scorecard.
    authorization, use_times, (tier, listed_fee), live_version = read_all(
        conn, consent.for_inquiry_read(authorization_id), repository.uses_read(authorization_id, product),
        billing.tier_and_listed_price_read(lender.party_id, product, today), scoring.live_version_read(),
    )  # fmt: skip
    model = _live_model_for(conn, product, live_version)
    context = inquiry_context(conn, runtime, lender, token, authorization=authorization, use_times=use_times,
                              purpose=purpose, product=product, scopes=scopes)  # fmt: skip
    if model is not None and "loan" not in context["scopes"]:
        raise Problem(422, "score_requires_loan_scope", "a score is computed from loan records: ask with loan in scope")
    decision = runtime.policy.decide("inquire", decisions.subject(lender), ("Person", token), context)
    details = {"authorization": authorization_id, "purpose": purpose, "product": product}
    decisions.enforce(decision, lender, token, "inquiry.denied", **details)

    fee = billing.fee_in_force(runtime.settings, product, tier, listed_fee)
    row = {
        "id": new_id("inq"),
        "lender_id": lender.party_id,
        "person_token": token,
        "authorization_id": authorization_id,
        "purpose": purpose,
        "product": product,
        "fee_fen": fee,
        "decision_id": decision.decision_id,
        "created_at": now,
    }
    asked = _ask_federation(conn, runtime, authorization, token, row, context["scopes"])
    built = assemble(
        conn, runtime, token, viewer=Viewer("lender", lender.party_id), scopes=context["scopes"], today=today, now=now,
        inquiry=row,
    )  # fmt: skip
    row["report_id"] = built.report.header.report_id
    report = built.report
    if asked is not None:
        report = _with_peers(report, asked, runtime, row, details)
    details.update(_alert_confirmed(report, applicant_identity_verified))
    scored = None
    if model is not None:
        # Scored before this inquiry is recorded, so it does not count itself as a recent inquiry.
        scored = scoring.score_person(model, token, built, scopes=context["scopes"], as_of=today)
        report = ScoreReport(
            header=report.header, identity=report.identity, score=scoring.section(model, scored, today)
        )
    _store(conn, runtime, lender, row, built.sources, decision, details, tier=tier,
           scored=scored, model=model)  # fmt: skip
    return InquiryResult(row, report, decision)
