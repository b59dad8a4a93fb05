"""Billing over HTTP: the price list, lender tiers, invoices, furnisher statements."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from zhengxin.billing import service
from zhengxin.billing.schemas import Invoice, PriceOut, PriceSet, Reconciliation, Statement, TierOut, TierSet
from zhengxin.kit import clock
from zhengxin.parties.auth import Agency, AnyParty, require
from zhengxin.parties.service import Actor, named_party
from zhengxin.runtime import RuntimeDep

router = APIRouter(prefix="/v1/billing", tags=["billing"])
Period = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM (UTC)")]


@router.get("/prices", response_model=list[PriceOut])
def get_prices(actor: AnyParty, runtime: RuntimeDep):
    """The price list in force today, per product and lender tier, and prices scheduled later."""
    with runtime.reading() as conn:
        return service.price_list(conn, runtime.settings, clock.today())


@router.put("/prices", response_model=PriceOut)
def put_price(body: PriceSet, actor: Agency, runtime: RuntimeDep):
    """Set a price from a day on (today by default); charges already made keep their price."""
    with runtime.transaction() as conn:
        row = service.set_price(
            conn, actor, product=body.product, tier=body.tier, fee_fen=body.fee_fen,
            effective_from=body.effective_from or clock.today(),
        )  # fmt: skip
    source = "price_list" if row["effective_from"] <= clock.today() else "scheduled"
    return {**row, "source": source}


@router.put("/tiers/{lender}", response_model=TierOut)
def put_tier(lender: str, body: TierSet, actor: Agency, runtime: RuntimeDep):
    """Place a lender in a price tier (for example `small`, which FEE-1 discounts)."""
    with runtime.transaction() as conn:
        party = named_party(conn, lender, "lender")
        return service.set_tier(conn, runtime.settings, actor, party["id"], body.tier)


@router.get("/invoices", response_model=list[Invoice])
def get_invoices(
    actor: Annotated[Actor, require("lender", "agency")],
    runtime: RuntimeDep,
    period: Period = None,
    lender: str | None = None,
):
    """Monthly invoices: a lender sees its own; the agency every lender's (or one `lender`'s)."""
    with runtime.reading() as conn:
        lender_id = named_party(conn, lender, "lender")["id"] if lender and actor.role == "agency" else None
        return service.invoices(conn, actor, period, lender_id)


@router.get("/statements", response_model=list[Statement])
def get_statements(
    actor: Annotated[Actor, require("furnisher", "agency")],
    runtime: RuntimeDep,
    period: Period = None,
    furnisher: str | None = None,
):
    """Monthly revenue statements: a furnisher sees its own; the agency every furnisher's."""
    with runtime.reading() as conn:
        furnisher_id = named_party(conn, furnisher, "furnisher")["id"] if furnisher and actor.role == "agency" else None
        return service.statements(conn, actor, period, furnisher_id)


@router.get("/reconciliation", response_model=Reconciliation)
def get_reconciliation(
    actor: Annotated[Actor, require("agency", "regulator")], runtime: RuntimeDep, period: Period = None
):
    """A month's fees against furnisher shares and the agency's part (they must add up to the fen)."""
    with runtime.reading() as conn:
        return service.reconciliation(conn, period or service.period_of(clock.now()))
