"""Furnishing over HTTP: a furnisher posts a file; the body streams to disk, never all in memory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from zhengxin.furnishing import flows, readers, service
from zhengxin.furnishing.schemas import (
    BatchErrors,
    BatchOut,
    ObligationCreate,
    ObligationOut,
    ReassignmentCreate,
    ReassignmentOut,
)
from zhengxin.kit.errors import Problem
from zhengxin.parties.auth import Furnisher, Regulator, require
from zhengxin.parties.service import FURNISHING_ROLES, Actor, lookup_party, named_party
from zhengxin.runtime import RuntimeDep

router = APIRouter(prefix="/v1/furnishing", tags=["furnishing"])
Reader = Annotated[Actor, require(*FURNISHING_ROLES, "agency", "regulator")]

BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def _out(batch: dict) -> dict:
    return {**batch, "batch_id": batch["id"], "errors_url": f"/v1/furnishing/batches/{batch['id']}/errors"}


@router.post("/batches", status_code=201, response_model=BatchOut, openapi_extra=BATCH_BODY)
async def submit_batch(
    request: Request,
    response: Response,
    actor: Furnisher,
    runtime: RuntimeDep,
    content_type: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
):
    """Furnish a batch of records (CSV, JSONL or Parquet by Content-Type).

    Resending with the same `Idempotency-Key` returns the first result and changes nothing.
    """
    fmt = readers.format_for(content_type=content_type)
    if fmt is None:
        raise Problem(
            415,
            "unsupported_media_type",
            "Content-Type must be text/csv, application/x-ndjson or application/vnd.apache.parquet",
        )
    with service.Upload(runtime, fmt) as upload:
        async for block in request.stream():
            upload.write(block)
        result = await run_in_threadpool(upload.submit, actor, idempotency_key)
    if result.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/furnishing/batches/{result.batch['id']}"
    return _out(result.batch)


@router.get("/batches", response_model=list[BatchOut])
def list_batches(actor: Reader, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    """Batches you may see: a furnisher (or a lender) its own, agency and regulator all."""
    with runtime.reading() as conn:
        return [_out(b) for b in service.list_batches(conn, actor, limit)]


@router.get("/batches/{batch_id}", response_model=BatchOut)
def get_batch(batch_id: str, actor: Reader, runtime: RuntimeDep):
    """One batch's counts (404 for a batch that is not yours)."""
    with runtime.reading() as conn:
        return _out(service.get_batch(conn, actor, batch_id))


@router.get("/batches/{batch_id}/errors", response_model=BatchErrors)
def batch_errors(
    batch_id: str,
    actor: Reader,
    runtime: RuntimeDep,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,  # records are up to max_record_bytes each
    code: str | None = None,
):
    """The quarantined records of a batch: line, field, code, rule, message and raw text."""
    with runtime.reading() as conn:
        return service.batch_errors(conn, runtime, actor, batch_id, offset, limit, code)


@router.post("/reassignments", status_code=201, response_model=ReassignmentOut)
def reassign(body: ReassignmentCreate, actor: Furnisher, runtime: RuntimeDep):
    """Correct whom one of your accounts belongs to (PIPL-46): it moves, every month of it, to the
    true holder's file, and both persons' reports show the correction. Furnishing the account
    for another person is refused (`account_of_another_person`); this is the way to move it."""
    with runtime.transaction() as conn:
        return flows.reassign(
            conn, runtime, actor, account_id=body.account_id, person_id=body.person_id, name=body.name,
            phone=body.phone, reference=body.reference,
        )  # fmt: skip


@router.post("/obligations", status_code=201, response_model=ObligationOut)
def add_obligation(body: ObligationCreate, actor: Regulator, runtime: RuntimeDep):
    """Set what a furnisher must furnish and by when (regulator)."""
    with runtime.transaction() as conn:
        party = named_party(conn, body.furnisher, FURNISHING_ROLES)
        row = service.add_obligation(
            conn,
            actor,
            furnisher_id=party["id"],
            record_types=body.record_types,
            frequency=body.frequency,
            first_due_on=body.first_due_on,
            note=body.note,
            catalog=runtime.catalog,
        )
        return service.obligation_status(conn, row)


@router.get("/obligations", response_model=list[ObligationOut])
def list_obligations(actor: Reader, runtime: RuntimeDep, furnisher: str | None = None):
    """Obligations with their status: a furnisher sees its own; agency and regulator all."""
    with runtime.reading() as conn:
        furnisher_id = None
        if furnisher:
            party = lookup_party(conn, furnisher, FURNISHING_ROLES)
            furnisher_id = party["id"] if party else "-"  # nobody: an empty list
        return service.list_obligations(conn, actor, furnisher_id)
