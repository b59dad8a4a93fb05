"""Fraud alerts over HTTP: the person's own (/v1/me/fraud-alerts) and the agency's on a verified
identity-theft report (/v1/fraud-alerts)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from zhengxin.alerts import service
from zhengxin.identity import resident_id
from zhengxin.identity.tokens import person_token
from zhengxin.kit.errors import Problem
from zhengxin.parties.auth import Agency, Individual
from zhengxin.runtime import RuntimeDep

mine = APIRouter(prefix="/v1/me/fraud-alerts", tags=["fraud alerts"])
agency = APIRouter(prefix="/v1/fraud-alerts", tags=["fraud alerts"])


class AlertCreate(BaseModel):
    statement: str | None = Field(default=None, min_length=1, max_length=2000,
                                  description="Why (kept sealed); not tied to any one account")  # fmt: skip


class IdentityTheftAlert(BaseModel):
    person_id: str = Field(description="The person's resident ID (checked, then kept only as a token)")
    statement: str = Field(min_length=1, max_length=2000, description="The identity-theft report, kept sealed")
    report_verified: Literal[True] = Field(description="Staff verified the identity-theft report")


@mine.post("", status_code=201)
def place_my_alert(body: AlertCreate, actor: Individual, runtime: RuntimeDep):
    """Place a fraud alert on your file: every report then carries it, every lender must confirm
    it verified the applicant is you, and you are told of every inquiry."""
    with runtime.transaction() as conn:
        return service.place(conn, runtime, actor, actor.person_token, kind="person", statement=body.statement)


@mine.get("")
def my_alerts(actor: Individual, runtime: RuntimeDep):
    """Your fraud alerts, in force and lifted."""
    with runtime.reading() as conn:
        return {"fraud_alerts": service.list_for(conn, runtime, actor.person_token)}


@mine.post("/{alert_id}/lift")
def lift_my_alert(alert_id: str, actor: Individual, runtime: RuntimeDep):
    """Lift your fraud alert."""
    with runtime.transaction() as conn:
        return service.lift(conn, runtime, actor, alert_id)


@agency.post("", status_code=201)
def place_identity_theft_alert(body: IdentityTheftAlert, actor: Agency, runtime: RuntimeDep):
    """A fraud alert placed by a named member of staff on a verified identity-theft report."""
    try:
        number = resident_id.validate(body.person_id)
    except resident_id.InvalidIdentifier as e:
        raise Problem(422, e.code, str(e)) from None
    with runtime.transaction() as conn:
        alert = service.place(conn, runtime, actor, person_token(runtime.pepper, number), kind="identity_theft",
                              statement=body.statement)  # fmt: skip
    return {k: v for k, v in alert.items() if k != "statement"}  # the person's text is theirs to read
