"""Complaints over HTTP: the person files and follows theirs; staff answer; the agency, the
overseers and the regulator list them and read one (each read logged)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from zhengxin.complaints import service
from zhengxin.parties.auth import Agency, Individual, require
from zhengxin.parties.service import Actor
from zhengxin.runtime import RuntimeDep

me_router = APIRouter(prefix="/v1/me/complaints", tags=["individual rights"])
router = APIRouter(prefix="/v1/complaints", tags=["oversight"])
Watcher = Annotated[Actor, require("agency", "overseer", "regulator")]


class ComplaintCreate(BaseModel):
    subject: Literal["inquiry", "dispute", "report", "score", "data_use", "other"]
    reference: str | None = Field(default=None, max_length=64, description="The inquiry, dispute or score id")
    text: str = Field(max_length=service.MAX_TEXT)


class AnswerCreate(BaseModel):
    text: str = Field(max_length=service.MAX_TEXT)


@me_router.post("", status_code=201)
def file_complaint(body: ComplaintCreate, actor: Individual, runtime: RuntimeDep) -> dict:
    """Complain about how your data was handled; the agency answers by `due_on`."""
    with runtime.transaction() as conn:
        return service.file(conn, runtime, actor, subject=body.subject, reference=body.reference, text=body.text)


@me_router.get("")
def my_complaints(actor: Individual, runtime: RuntimeDep) -> dict:
    with runtime.reading() as conn:
        return {"complaints": service.list_mine(conn, runtime, actor)}


@router.get("")
def list_complaints(
    actor: Watcher, runtime: RuntimeDep, status: Literal["open", "answered"] | None = None,
    overdue: bool | None = None,
) -> dict:  # fmt: skip
    """Every complaint, without texts or person: subject, dates, whether answered late."""
    with runtime.reading() as conn:
        return {"complaints": service.list_all(conn, status=status, overdue=overdue)}


@router.get("/{complaint_id}")
def read_complaint(complaint_id: str, actor: Watcher, runtime: RuntimeDep) -> dict:
    """One complaint with its texts; the read is logged, and staff read under the CR-22 policy."""
    with runtime.transaction() as conn:
        return service.read(conn, runtime, actor, complaint_id)


@router.post("/{complaint_id}/answer")
def answer_complaint(complaint_id: str, body: AnswerCreate, actor: Agency, runtime: RuntimeDep) -> dict:
    with runtime.transaction() as conn:
        return service.answer(conn, runtime, actor, complaint_id, body.text)
