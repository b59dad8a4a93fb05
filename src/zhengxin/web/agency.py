"""The agency's pages: parties and their API keys, the price list and lender tiers, and the
scoring model versions. Each form calls the service function its API route calls."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from zhengxin.billing import service as billing
from zhengxin.billing.schemas import PriceSet
from zhengxin.kit import clock
from zhengxin.kit.errors import Problem
from zhengxin.kit.i18n import gettext_for, yuan
from zhengxin.parties import service as parties
from zhengxin.parties.service import ROLES
from zhengxin.reports.scoring import service as scoring
from zhengxin.runtime import RuntimeDep
from zhengxin.web.core import AgencyUser, CsrfChecked, PortalRoute, flash, locale_of, problem_message, redirect, render

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)

PRODUCT_NAMES = {"report": "Credit report", "score": "Credit score"}
AMOUNT = re.compile(r"^-?\d+(\.\d*)?$")


def tr(request: Request):
    return gettext_for(locale_of(request))


# Parties and keys --------------------------------------------------------------------------


def _parties_page(request: Request, runtime, status_code: int = 200, error: str | None = None, form=None, role=None):
    with runtime.reading() as conn:
        rows = parties.list_parties(conn, role or None)
        keys = parties.keys_by_party(conn, role)
    return render(
        request, "agency/parties.html", status_code, parties=rows, keys=keys, roles=ROLES, role=role or "",
        error=error, form=form or {}, own_key=request.session.get("key_id"),
    )  # fmt: skip


@router.get("/agency")
@router.get("/agency/parties")
def parties_page(request: Request, actor: AgencyUser, runtime: RuntimeDep, role: str | None = None):
    return _parties_page(request, runtime, role=role if role in ROLES else None)


@router.post("/agency/parties", dependencies=[CsrfChecked])
def register_party(
    request: Request,
    actor: AgencyUser,
    runtime: RuntimeDep,
    role: Annotated[str, Form()],
    name: Annotated[str, Form()],
    uscc: Annotated[str, Form()] = "",
    person_id: Annotated[str, Form()] = "",
    staff: Annotated[bool, Form()] = False,
):
    """Register a party (as POST /v1/parties). Its first key is shown on the page that answers,
    once; the resident ID is never written back into the form."""
    try:
        if not name.strip():
            raise Problem(422, "name_required", tr(request)("A party needs a name."))
        with runtime.transaction() as conn:
            row, key = parties.add_party(
                conn, runtime.settings, role=role, name=name.strip(), uscc=uscc.strip() or None,
                person_id=person_id.strip() or None, staff=staff,
            )  # fmt: skip
    except Problem as p:
        form = {"role": role, "name": name, "uscc": uscc, "staff": staff}
        return _parties_page(request, runtime, p.status, problem_message(request, p), form)
    return _key_page(request, row, parties.key_id_of(key), key, registered=True)


def _key_page(request: Request, party: dict, key_id: str, secret: str, **context) -> HTMLResponse:
    """The one page that ever shows a key's secret: rendered as the POST's answer, never kept in
    the session, and not cached (PortalRoute sends no-store)."""
    return render(request, "agency/key_issued.html", party=party, key_id=key_id, secret=secret, **context)


@router.post("/agency/parties/{party_id}/keys", dependencies=[CsrfChecked])
def issue_key(request: Request, party_id: str, actor: AgencyUser, runtime: RuntimeDep):
    """Another key for a party (as POST /v1/parties/{id}/keys)."""
    with runtime.transaction() as conn:
        party = parties.get_party(conn, party_id)
        if party is None:
            raise Problem(404, "party_not_found", "no such party")
        key_id, key = parties.issue_key(conn, party_id)
    return _key_page(request, party, key_id, key)


@router.get("/agency/keys/{key_id}")
def key_page(request: Request, key_id: str, actor: AgencyUser, runtime: RuntimeDep):
    """Confirm before revoking or rotating: either ends the key's use at once."""
    with runtime.reading() as conn:
        key = parties.get_key(conn, key_id)
    return render(request, "agency/key.html", key=key, own=key_id == request.session.get("key_id"))


@router.post("/agency/keys/{key_id}/revoke", dependencies=[CsrfChecked])
def revoke_key(request: Request, key_id: str, actor: AgencyUser, runtime: RuntimeDep):
    """Revoke a key (as DELETE /v1/parties/keys/{key_id}); a portal session signed in with it ends."""
    with runtime.transaction() as conn:
        if not parties.revoke_key(conn, key_id):
            raise Problem(404, "key_not_found", "no such active key")
    flash(request, tr(request)("Key {key_id} revoked: it no longer works.").format(key_id=key_id))
    return redirect("/portal/agency")


@router.post("/agency/keys/{key_id}/rotate", dependencies=[CsrfChecked])
def rotate_key(request: Request, key_id: str, actor: AgencyUser, runtime: RuntimeDep):
    """A new key and the old one revoked in one transaction: never both missing, never both live
    longer than this request."""
    with runtime.transaction() as conn:
        old = parties.get_key(conn, key_id)
        new_id, secret = parties.issue_key(conn, old["party_id"])
        if not parties.revoke_key(conn, key_id):
            raise Problem(409, "key_not_active", "the key is already revoked; issue a new one instead")
    own = key_id == request.session.get("key_id")
    return _key_page(request, old["party"], new_id, secret, replaced=key_id, own=own)


# Prices and tiers ----------------------------------------------------------------------------


def fen_of(text: str, gettext) -> int:
    """Yuan as typed (at most two decimals, not negative) to integer fen, exactly (Decimal)."""
    text = text.strip().removeprefix("¥").strip()
    if not AMOUNT.match(text):
        raise Problem(422, "invalid_amount", gettext("Enter an amount in yuan, for example 5.00."))
    amount = Decimal(text)
    if amount < 0:
        raise Problem(422, "negative_amount", gettext("A price cannot be negative."))
    if -amount.as_tuple().exponent > 2:
        raise Problem(422, "amount_too_precise", gettext("A price has at most two decimals (whole fen)."))
    return int(amount * 100)


def _prices_page(request: Request, runtime, status_code: int = 200, error: str | None = None, form=None):
    today = clock.today()
    with runtime.reading() as conn:
        prices = billing.price_list(conn, runtime.settings, today)
        tiers = sorted(billing.tiers(conn, runtime.settings))
        lenders = [
            {**p, "tier": billing.tier_and_price(conn, runtime.settings, p["id"], "report", today)[0]}
            for p in parties.list_parties(conn, "lender")
        ]
    return render(
        request, "agency/prices.html", status_code, prices=prices, tiers=tiers, lenders=lenders, products=PRODUCT_NAMES,
        today=today, error=error, form=form or {},
    )  # fmt: skip


@router.get("/agency/prices")
def prices_page(request: Request, actor: AgencyUser, runtime: RuntimeDep):
    return _prices_page(request, runtime)


@router.post("/agency/prices", dependencies=[CsrfChecked])
def set_price(
    request: Request,
    actor: AgencyUser,
    runtime: RuntimeDep,
    product: Annotated[str, Form()],
    tier: Annotated[str, Form()],
    fee_yuan: Annotated[str, Form()],
    effective_from: Annotated[str, Form()] = "",
):
    """Set a price (as PUT /v1/billing/prices), entered in yuan and kept in fen."""
    gettext = tr(request)
    try:
        try:
            body = PriceSet(
                product=product, tier=tier.strip(), fee_fen=fen_of(fee_yuan, gettext),
                effective_from=effective_from or None,
            )  # fmt: skip
        except ValidationError as e:  # the API's own checks on the body, with the API's code
            fields = ", ".join(str(err["loc"][0]) for err in e.errors())
            raise Problem(422, "invalid_request", f"{gettext('Check these fields:')} {fields}") from None
        with runtime.transaction() as conn:
            row = billing.set_price(
                conn, actor, product=body.product, tier=body.tier, fee_fen=body.fee_fen,
                effective_from=body.effective_from or clock.today(),
            )  # fmt: skip
    except Problem as p:
        form = {"product": product, "tier": tier, "fee_yuan": fee_yuan, "effective_from": effective_from}
        return _prices_page(request, runtime, p.status, problem_message(request, p), form)
    fee = yuan(row["fee_fen"], locale_of(request))
    product_name = {"report": gettext("Credit report"), "score": gettext("Credit score")}[row["product"]]
    message = gettext("Price of {product} ({tier}) set to {fee} from {day}.")
    flash(
        request, message.format(product=product_name, tier=row["tier"], fee=fee, day=row["effective_from"].isoformat())
    )
    return redirect("/portal/agency/prices")


@router.post("/agency/tiers", dependencies=[CsrfChecked])
def set_tier(
    request: Request,
    actor: AgencyUser,
    runtime: RuntimeDep,
    lender: Annotated[str, Form()],
    tier: Annotated[str, Form()],
):
    """Place a lender in a price tier (as PUT /v1/billing/tiers/{lender})."""
    try:
        with runtime.transaction() as conn:
            row = billing.set_tier(conn, runtime.settings, actor, lender, tier)
    except Problem as p:
        return _prices_page(request, runtime, p.status, problem_message(request, p))
    flash(request, tr(request)("{lender} is now in tier {tier}.").format(lender=row["lender"]["name"], tier=tier))
    return redirect("/portal/agency/prices")


# Scoring models ------------------------------------------------------------------------------


@router.get("/agency/models")
def models_page(request: Request, actor: AgencyUser, runtime: RuntimeDep):
    with runtime.reading() as conn:
        models = scoring.list_models(conn)
        live = next((m for m in models if m["active"]), None)
        months = scoring.monitoring(conn, live["version"]) if live else []
    chart = _stability_chart(months, locale_of(request)) if months else None
    return render(request, "agency/models.html", models=models, live=live, stability=chart)


def _stability_chart(months: list[dict], locale: str):
    """The live model's PSI by month, coloured by its flag (stable, watch at 0.10, act at 0.25)."""
    from zhengxin.web.charts import BAD, GOOD, WARN, bars

    _ = gettext_for(locale)
    flags = {"stable": _("stable"), "watch": _("watch"), "act": _("act")}
    data = [{"month": _("all rows") if m["month"] == "all" else m["month"], "psi": m["psi"], "flag": flags[m["flag"]]}
            for m in months]  # fmt: skip
    flagged = [
        ", ".join(f"{n} {c['csi']:.3f}" for n, c in m["csi"].items() if c["flag"] != "stable") or "—" for m in months
    ]
    return bars(
        "stability", _("PSI of the score by month against the training sample"), data, x="month", y="psi",
        color="flag", x_title=_("month"), y_title="PSI", color_title=_("flag"), value_format=".2f",
        thresholds=[0.10, 0.25],
        colors={flags["stable"]: GOOD, flags["watch"]: WARN, flags["act"]: BAD},
        columns=[_("month"), _("rows"), "PSI", _("flag"), _("features flagged (CSI)")],
        rows=[[d["month"], f"{m['rows']:,}", f"{m['psi']:.4f}", d["flag"], f]
              for d, m, f in zip(data, months, flagged, strict=True)],
    )  # fmt: skip


@router.get("/agency/models/{version}/card")
def model_card(request: Request, version: str, actor: AgencyUser, runtime: RuntimeDep):
    """The model card the API serves at /v1/scoring/models/{version}/card.html, behind the portal's session."""
    from zhengxin.reports.scoring.model import render_card

    with runtime.reading() as conn:
        card, months = scoring.card(conn, version), scoring.monitoring(conn, version)
    return HTMLResponse(render_card(card, monitoring=months, locale=locale_of(request)))


@router.post("/agency/models/{version}/activation", dependencies=[CsrfChecked])
def activate_model(request: Request, version: str, actor: AgencyUser, runtime: RuntimeDep):
    """Make a version live (as POST /v1/scoring/models/{version}/activation); the live one retires."""
    with runtime.transaction() as conn:
        scoring.activate(conn, version, now=clock.now())
    flash(request, tr(request)("Model {version} is now live.").format(version=version))
    return redirect("/portal/agency/models")
