"""The regulator's supervision tools over HTTP: app collection reviews, orders to furnishers, the
agency's shareholders and neutrality, and the yearly data-security risk assessment. Every
answer is an aggregate or the regulator's own record, never a person."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from zhengxin.kit import clock
from zhengxin.parties.auth import Agency, AnyParty, Furnisher, Regulator, require
from zhengxin.parties.service import FURNISHING_ROLES, Actor
from zhengxin.runtime import RuntimeDep
from zhengxin.supervision import assessment, service
from zhengxin.supervision.schemas import (
    AppReviewCreate,
    AppReviewOut,
    OrderClose,
    OrderCreate,
    OrderOut,
    OrderResponse,
    Rectification,
    ShareholderChange,
    ShareholderCreate,
)

Watcher = Annotated[Actor, require("regulator", "overseer")]
OrderReader = Annotated[Actor, require(*FURNISHING_ROLES, "regulator", "overseer")]
RegisterReader = Annotated[Actor, require("agency", "regulator", "overseer")]
Assessor = Annotated[Actor, require("agency", "regulator")]

router = APIRouter(prefix="/v1/supervision", tags=["supervision"])


# App collection reviews (APP-NPI) ----------------------------------------------------------------


@router.get("/necessary-pi")
def necessary_pi(actor: AnyParty):
    """The necessary-PI table the reviews apply: app types, their necessary items, and the
    known items no listed type needs (CAC/MIIT 2021)."""
    return service.necessary_pi().model_dump()


@router.post("/app-reviews", status_code=201, response_model=AppReviewOut)
def review_app(body: AppReviewCreate, actor: Regulator, runtime: RuntimeDep):
    """Review an app's collection against its type's necessary PI; anything excessive must be
    rectified by `rectify_by` (review day + `rectification_days`)."""
    with runtime.transaction() as conn:
        return service.review_app(conn, runtime, actor, app=body.app, category=body.category, collected=body.collected)


@router.get("/app-reviews")
def list_app_reviews(
    actor: Watcher,
    runtime: RuntimeDep,
    status: Literal["compliant", "rectification_required", "rectified"] | None = None,
    overdue: bool | None = None,
):
    """Every review, newest first; `overdue=true` lists those past `rectify_by` still excessive."""
    with runtime.reading() as conn:
        return {"reviews": service.list_reviews(conn, status=status, overdue=overdue)}


@router.get("/app-reviews/{review_id}", response_model=AppReviewOut)
def get_app_review(review_id: str, actor: Watcher, runtime: RuntimeDep):
    with runtime.reading() as conn:
        return service.get_review(conn, review_id)


@router.post("/app-reviews/{review_id}/rectification", response_model=AppReviewOut)
def record_rectification(review_id: str, body: Rectification, actor: Regulator, runtime: RuntimeDep):
    """Record what the app collects now: nothing excessive closes the review as rectified (late
    after `rectify_by`); anything still excessive keeps it open."""
    with runtime.transaction() as conn:
        return service.record_rectification(conn, runtime, actor, review_id, body.collected)


# Orders to furnishers --------------------------------------------------------------------------------


@router.post("/orders", status_code=201, response_model=OrderOut)
def issue_order(body: OrderCreate, actor: Regulator, runtime: RuntimeDep):
    """Order a furnisher to rectify, suspend or provide information by `due_on`."""
    with runtime.transaction() as conn:
        return service.issue_order(
            conn, runtime, actor, furnisher=body.furnisher, kind=body.kind, reason=body.reason, due_on=body.due_on,
            rule=body.rule,
        )  # fmt: skip


@router.get("/orders")
def list_orders(
    actor: OrderReader,
    runtime: RuntimeDep,
    status: Literal["open", "responded", "closed"] | None = None,
    overdue: bool | None = None,
):
    """Orders, the earliest due first: a furnisher sees its own, the regulator and overseers all
    (overseers without the texts)."""
    with runtime.reading() as conn:
        return {"orders": service.list_orders(conn, runtime, actor, status=status, overdue=overdue)}


@router.get("/orders/{order_id}", response_model=OrderOut)
def get_order(order_id: str, actor: OrderReader, runtime: RuntimeDep):
    """One order with its steps."""
    with runtime.reading() as conn:
        return service.get_order(conn, runtime, actor, order_id)


@router.post("/orders/{order_id}/response", response_model=OrderOut)
def respond(order_id: str, body: OrderResponse, actor: Furnisher, runtime: RuntimeDep):
    """Answer an order addressed to you; after `due_on` the response is recorded as late."""
    with runtime.transaction() as conn:
        return service.respond_to_order(conn, runtime, actor, order_id, body.summary)


@router.post("/orders/{order_id}/close", response_model=OrderOut)
def close(order_id: str, body: OrderClose, actor: Regulator, runtime: RuntimeDep):
    """Judge the furnisher's response: accepted closes the order, not accepted reopens it."""
    with runtime.transaction() as conn:
        return service.close_order(conn, runtime, actor, order_id, accepted=body.accepted, note=body.note,
                                   due_on=body.due_on)  # fmt: skip


# Shareholders and neutrality --------------------------------------------------------------------------


@router.post("/shareholders", status_code=201)
def add_shareholder(body: ShareholderCreate, actor: Agency, runtime: RuntimeDep):
    """Register a holder of a stake in the agency (all stakes together at most 10000 bp)."""
    with runtime.transaction() as conn:
        return service.add_shareholder(conn, actor, holder=body.holder, party=body.party, stake_bp=body.stake_bp)


@router.get("/shareholders")
def list_shareholders(actor: RegisterReader, runtime: RuntimeDep):
    """The shareholder register in force, largest stake first, with the total."""
    with runtime.reading() as conn:
        return service.list_shareholders(conn)


@router.patch("/shareholders/{shareholder_id}")
def change_shareholder(shareholder_id: str, body: ShareholderChange, actor: Agency, runtime: RuntimeDep):
    with runtime.transaction() as conn:
        return service.change_shareholder(conn, actor, shareholder_id, stake_bp=body.stake_bp, party=body.party)


@router.delete("/shareholders/{shareholder_id}", status_code=204)
def remove_shareholder(shareholder_id: str, actor: Agency, runtime: RuntimeDep):
    """The holder sold its stake."""
    with runtime.transaction() as conn:
        service.remove_shareholder(conn, actor, shareholder_id)
    return Response(status_code=204)


@router.get("/neutrality")
def neutrality(
    actor: Watcher,
    runtime: RuntimeDep,
    since: Annotated[date | None, Query(description="First day (default: 1 January of `until`'s year)")] = None,
    until: Annotated[date | None, Query(description="Last day, inclusive (default: today)")] = None,
):
    """Each furnisher's and lender's volumes in the period beside the stake it holds in the
    agency, and the shareholders' share of the whole (aggregates only)."""
    with runtime.reading() as conn:
        return service.neutrality(conn, since, until)


@router.get("/identity-conflicts")
def identity_conflicts(actor: Watcher, runtime: RuntimeDep):
    """Per furnisher, the persons whose name it reported differs from another furnisher's for
    the same resident ID (issue 18; aggregates only, nothing decrypted)."""
    with runtime.reading() as conn:
        return service.identity_conflicts(conn)


# The yearly risk assessment (DSL-30) -------------------------------------------------------------------


@router.get("/risk-assessment")
def risk_assessment(
    actor: Assessor,
    runtime: RuntimeDep,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="The year assessed (default: this year)")] = None,
):
    """The data-security risk assessment for the year (DSL-30): the data held with its grades,
    the processing activities and their volumes, and the risks with the countermeasures in place."""
    with runtime.reading() as conn:
        return assessment.build(conn, runtime, year or clock.today().year)
