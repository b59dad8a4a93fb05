"""A person's alerts and webhook over HTTP (individuals only, each seeing only their own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from zhengxin.notifications import service
from zhengxin.notifications.schemas import Marked, MarkRead, NotificationOut, WebhookCreated, WebhookIn, WebhookOut
from zhengxin.parties.auth import Individual
from zhengxin.runtime import RuntimeDep

router = APIRouter(prefix="/v1/me", tags=["notifications"])


@router.get("/notifications", response_model=list[NotificationOut])
def list_notifications(
    actor: Individual,
    runtime: RuntimeDep,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
):
    """Your alerts, newest first: every inquiry about you the moment it is made, and more."""
    with runtime.reading() as conn:
        return service.list_for(conn, actor, unread=unread, limit=limit)


@router.post("/notifications/read", response_model=Marked)
def mark_read(actor: Individual, runtime: RuntimeDep, body: MarkRead | None = None):
    """Mark the given alerts read (no ids: all of them)."""
    with runtime.transaction() as conn:
        return {"marked": service.mark_read(conn, actor, body.ids if body else None)}


@router.put("/webhook", response_model=WebhookCreated)
def set_webhook(body: WebhookIn, actor: Individual, runtime: RuntimeDep):
    """Register (or replace) the URL your alerts are pushed to; the signing secret is shown only here."""
    with runtime.transaction() as conn:
        return service.set_webhook(conn, runtime, actor, body.url)


@router.get("/webhook", response_model=WebhookOut)
def get_webhook(actor: Individual, runtime: RuntimeDep):
    """Your webhook and how many alerts are pending, delivered or given up."""
    with runtime.reading() as conn:
        return service.get_webhook(conn, runtime, actor)


@router.delete("/webhook", status_code=204)
def delete_webhook(actor: Individual, runtime: RuntimeDep) -> Response:
    """Stop pushing alerts (they stay in your inbox)."""
    with runtime.transaction() as conn:
        service.delete_webhook(conn, runtime, actor)
    return Response(status_code=204)
