"""The person's own reads over HTTP: report, accesses with receipts, a copy of everything."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from zhengxin.audit import service as audit
from zhengxin.decisions.service import unit_of_work
from zhengxin.parties.auth import Individual
from zhengxin.rights import service
from zhengxin.rights.schemas import SelfQueryResult
from zhengxin.runtime import RuntimeDep

router = APIRouter(prefix="/v1/me", tags=["individual rights"])


@router.get("/report", response_model=SelfQueryResult)
def my_report(actor: Individual, runtime: RuntimeDep):
    """Your own credit report, the same model lenders get, with every institution named. The
    first self-queries of each year are free (CR-17); `fee_fen` says what this one cost."""
    with unit_of_work(runtime) as conn:
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
    with unit_of_work(runtime) as conn:
        return service.accesses(conn, runtime, actor, limit)


@router.get("/export")
def my_export(actor: Individual, runtime: RuntimeDep):
    """A copy of everything held about you, machine-readable (PIPL-45)."""
    with unit_of_work(runtime) as conn:
        document = service.export(conn, runtime, actor)
    return JSONResponse(
        jsonable_encoder(document), headers={"Content-Disposition": 'attachment; filename="zhengxin-export.json"'}
    )
