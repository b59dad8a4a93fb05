"""The regulator's supervision views over HTTP, served from the latest stored run of the
analytics (`zhengxin supervision run`). Aggregates only: no person token, no personal data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from zhengxin.analytics import service
from zhengxin.analytics.schemas import SupervisionView
from zhengxin.parties.auth import require
from zhengxin.parties.service import Actor
from zhengxin.runtime import RuntimeDep

Supervisor = Annotated[Actor, require("regulator", "overseer", "agency")]

router = APIRouter(prefix="/v1/supervision", tags=["supervision"])


def _view(runtime, name: str) -> dict:
    with runtime.reading() as conn:
        return service.latest_view(conn, name)


@router.get("/obligations", response_model=SupervisionView)
def obligations(actor: Supervisor, runtime: RuntimeDep):
    """Furnishing compliance per furnisher and obligation: periods due, on time, late and
    missing; record types required but never accepted; rejection rate and top error codes."""
    return _view(runtime, "obligations")


@router.get("/co-lending", response_model=SupervisionView)
def co_lending(actor: Supervisor, runtime: RuntimeDep):
    """Open co-lent loans per furnisher and co-lender below the platform's minimum funding share
    (BANK-JL), with the distribution of shares."""
    return _view(runtime, "co-lending")


@router.get("/multi-lending", response_model=SupervisionView)
def multi_lending(actor: Supervisor, runtime: RuntimeDep):
    """Persons borrowing on more platforms than the threshold (MULTI), and over the individual
    (ML-2020) and internet consumer (BANK-IL) caps: counts and excess, never persons."""
    return _view(runtime, "multi-lending")


@router.get("/inquiries", response_model=SupervisionView)
def inquiries(actor: Supervisor, runtime: RuntimeDep):
    """Inquiry volume by lender, purpose and month, and inquiries followed by no account at the
    lender within 90 days (a data harvesting signal)."""
    return _view(runtime, "inquiries")


@router.get("/disputes", response_model=SupervisionView)
def disputes(actor: Supervisor, runtime: RuntimeDep):
    """Disputes by furnisher: open, overdue past the answer period (CR-25), and outcomes."""
    return _view(runtime, "disputes")


@router.get("/outstanding", response_model=SupervisionView)
def outstanding(actor: Supervisor, runtime: RuntimeDep):
    """Open credit by platform and product: accounts, persons, balance and arrears."""
    return _view(runtime, "outstanding")
