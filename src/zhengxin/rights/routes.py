"""The person's own reads over HTTP: report, accesses with receipts, a copy of everything."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from zhengxin.audit import service as audit
from zhengxin.parties.auth import Agency, Individual
from zhengxin.rights import service
from zhengxin.rights.schemas import CounterSelfQuery, SelfQueryResult
from zhengxin.runtime import RuntimeDep

router = APIRouter(prefix="/v1/me", tags=["individual rights"])
counter = APIRouter(prefix="/v1/rights", tags=["individual rights"])


@router.get("/report", response_model=SelfQueryResult)
def my_report(actor: Individual, runtime: RuntimeDep):
    """Your own credit report, the same model lenders get, with every institution named. Online
    self-queries are free (FEE-1): this GET never charges; each one is logged like any access."""
    with runtime.transaction() as conn:
        result = service.self_query(conn, runtime, actor)
    return Response(SelfQueryResult(**result).model_dump_json(), media_type="application/json")


@router.get("/self-queries")
def my_self_queries(actor: Individual, runtime: RuntimeDep):
    """Your self-queries and what each cost."""
    with runtime.reading() as conn:
        return {"self_queries": service.self_query_history(conn, actor)}


@router.get("/accesses")
def my_accesses(actor: Individual, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=5000)] = 1000):
    """Who accessed your data: every inquiry, furnishing, consent change, dispute step and staff
    read about you, newest first, each with the proof that it is in the signed log."""
    audit.sequence_all(runtime.engine)
    with runtime.transaction() as conn:
        return service.accesses(conn, runtime, actor, limit)


@router.get("/export")
def my_export(actor: Individual, runtime: RuntimeDep):
    """A copy of everything held about you, machine-readable (PIPL-45)."""
    with runtime.transaction() as conn:
        document = service.export(conn, runtime, actor)
    return JSONResponse(
        jsonable_encoder(document), headers={"Content-Disposition": 'attachment; filename="zhengxin-export.json"'}
    )


@counter.post("/counter-self-queries", response_model=SelfQueryResult, status_code=201)
def counter_self_query(body: CounterSelfQuery, actor: Agency, runtime: RuntimeDep):
    """A self-query at the agency's counter, recorded by a member of staff under their personal
    account (CR-22) for a person who came in with their ID: the year's first free ones (CR-17),
    then `self_query_fee_fen` each (FEE-1). Logged as a staff read the person sees."""
    with runtime.transaction() as conn:
        result = service.counter_self_query(conn, runtime, actor, body.person_id)
    return Response(SelfQueryResult(**result).model_dump_json(), media_type="application/json", status_code=201)
