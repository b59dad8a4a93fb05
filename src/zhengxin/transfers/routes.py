"""Cross-border transfers over HTTP: any party asks, the regulator decides, the requester
exports what was approved, once."""

from __future__ import annotations

import base64
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse

from zhengxin.parties.auth import AnyParty, Regulator
from zhengxin.runtime import RuntimeDep
from zhengxin.transfers import service
from zhengxin.transfers.schemas import ExportOut, TransferCreate, TransferDecision, TransferOut

router = APIRouter(prefix="/v1/transfers", tags=["transfers"])

PARQUET = "application/vnd.apache.parquet"


@router.post("", status_code=201, response_model=TransferOut)
def request_transfer(body: TransferCreate, actor: AnyParty, runtime: RuntimeDep):
    """Ask to send a dataset abroad. The gate answers with the route (XB-CORE, XB-ASSESS, XB-SC,
    XB-EXEMPT; counted with your earlier requests this year, XB-SPLIT; credit data never exempt,
    CR-24) and the status: approved at once, pending the regulator's decision, or denied."""
    with runtime.transaction() as conn:
        return service.request(conn, runtime, actor, **body.model_dump())


@router.get("")
def list_transfers(
    actor: AnyParty, runtime: RuntimeDep, status: Literal["pending", "approved", "rejected", "denied"] | None = None
):
    """Transfer requests, newest first: your own; every one for the regulator, overseers and agency."""
    with runtime.reading() as conn:
        return {"transfers": service.list_for(conn, actor, status)}


@router.get("/{transfer_id}", response_model=TransferOut)
def read_transfer(transfer_id: str, actor: AnyParty, runtime: RuntimeDep):
    with runtime.reading() as conn:
        return service.get_for(conn, actor, transfer_id)


@router.post("/{transfer_id}/decision", response_model=TransferOut)
def decide(transfer_id: str, body: TransferDecision, actor: Regulator, runtime: RuntimeDep):
    """Approve or reject a pending request; an approved security assessment holds for three
    years (XB-VALID)."""
    with runtime.transaction() as conn:
        return service.decide(conn, runtime, actor, transfer_id, decision=body.decision, note=body.note)


@router.post("/{transfer_id}/export", status_code=201, response_model=ExportOut)
def export(transfer_id: str, actor: AnyParty, runtime: RuntimeDep):
    """Produce the approved dataset (the requester, once per approval): the approved record
    types for at most the approved number of persons, person tokens only."""
    with runtime.transaction() as conn:
        return service.export(conn, runtime, actor, transfer_id)


@router.get("/{transfer_id}/export", response_class=FileResponse)
def download(transfer_id: str, actor: AnyParty, runtime: RuntimeDep):
    """Download the export as Parquet (the requester); `Repr-Digest` carries its SHA-256."""
    with runtime.transaction() as conn:
        done, path = service.export_for_download(conn, runtime, actor, transfer_id)
    digest = base64.b64encode(bytes.fromhex(done["sha256"])).decode()
    return FileResponse(
        path, media_type=PARQUET, filename=f"{transfer_id}.parquet", headers={"Repr-Digest": f"sha-256=:{digest}:"}
    )
