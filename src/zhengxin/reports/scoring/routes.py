"""Scoring over HTTP: which scorecard is live and its model card (public to every party: a
lender and a person may see how scores are made, PIPL-24), making a version live (the
agency), and a person's own scores with their reasons."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from zhengxin.kit import clock
from zhengxin.parties.auth import Agency, AnyParty, Individual
from zhengxin.reports.scoring import service
from zhengxin.runtime import RuntimeDep

Language = Literal["zh_CN", "en"]
router = APIRouter(prefix="/v1/scoring", tags=["scoring"])
me_router = APIRouter(prefix="/v1/me", tags=["individual rights"])


@router.get("/models")
def list_models(actor: AnyParty, runtime: RuntimeDep) -> list[dict]:
    """Registered scorecards, newest first; `active` marks the live one."""
    with runtime.reading() as conn:
        return service.list_models(conn)


@router.get("/models/{version}")
def model_card(version: str, actor: AnyParty, runtime: RuntimeDep) -> dict:
    """A model card: data, features and their bins, holdout AUC, KS, Gini and stability."""
    with runtime.reading() as conn:
        return service.card(conn, version)


@router.get("/models/{version}/card.html", response_class=HTMLResponse)
def model_card_html(version: str, actor: AnyParty, runtime: RuntimeDep, lang: Language = "zh_CN") -> HTMLResponse:
    """The model card as a page (in Chinese unless `lang=en`), with its monitoring by month."""
    from zhengxin.reports.scoring.model import render_card

    with runtime.reading() as conn:
        card, months = service.card(conn, version), service.monitoring(conn, version)
    return HTMLResponse(render_card(card, monitoring=months, locale=lang))


@router.get("/models/{version}/monitoring")
def monitoring(version: str, actor: AnyParty, runtime: RuntimeDep) -> list[dict]:
    """The model's stability by month (`zhengxin model monitor`): the score's PSI and every
    feature's CSI against the training sample, flagged watch (0.10) and act (0.25)."""
    with runtime.reading() as conn:
        service.card(conn, version)  # 404 for a version never registered
        return service.monitoring(conn, version)


@router.post("/models/{version}/activation")
def activate(version: str, actor: Agency, runtime: RuntimeDep) -> dict:
    """Make a registered version live; the one live before is retired."""
    with runtime.transaction() as conn:
        return service.activate(conn, version, now=clock.now())


@me_router.get("/scores")
def my_scores(actor: Individual, runtime: RuntimeDep) -> list[dict]:
    """Every score produced about you, newest first: for which inquiry or self-query, by which
    model, and the reasons."""
    with runtime.reading() as conn:
        return service.history(conn, actor.person_token)
