"""The transparency log over HTTP (RFC 6962 shapes, hashes as lowercase hex)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from zhengxin.audit import service
from zhengxin.audit.schemas import (
    MAX_TREE_SIZE,
    ConsistencyProof,
    CosignRequest,
    Entries,
    InclusionProof,
    LogKey,
    LogKeys,
    Receipt,
    SignedTreeHead,
    WitnessKey,
)
from zhengxin.kit.errors import Problem
from zhengxin.parties.auth import Agency, AnyParty, Individual, require
from zhengxin.parties.service import Actor
from zhengxin.runtime import RuntimeDep

router = APIRouter(prefix="/v1/log", tags=["transparency log"])
me_router = APIRouter(prefix="/v1/me", tags=["transparency log"])
Witness = Annotated[Actor, require("regulator", "overseer")]
LogIndex = Annotated[int, Query(ge=0, le=MAX_TREE_SIZE)]


@router.get("/sth", response_model=SignedTreeHead)
def get_sth(actor: AnyParty, runtime: RuntimeDep):
    """The latest signed tree head and its witnesses' cosignatures."""
    with runtime.reading() as conn:
        head = service.latest_head(conn)
    if head is None:
        with runtime.transaction() as conn:
            service.sign_head(conn, service.log_signer(runtime))
            head = service.latest_head(conn)
    return head


@router.post("/sth", response_model=SignedTreeHead)
def sign_sth(actor: Agency, runtime: RuntimeDep):
    """Sequence queued events and sign the tree now (both also happen on a schedule)."""
    service.sequence_all(runtime.engine)
    with runtime.transaction() as conn:
        service.sign_head(conn, service.log_signer(runtime))
        return service.latest_head(conn)


@router.get("/key", response_model=LogKey)
def get_key(actor: AnyParty, runtime: RuntimeDep):
    """The key that signs new tree heads."""
    signer = service.log_signer(runtime)
    return {"key_id": signer.active_key_id, "public_key": signer.public_keys()[signer.active_key_id]}


@router.get("/keys", response_model=LogKeys)
def get_keys(actor: AnyParty, runtime: RuntimeDep):
    """Every key that has signed tree heads, so heads signed before a rotation stay verifiable."""
    return {"keys": [{"key_id": k, "public_key": v} for k, v in service.log_signer(runtime).public_keys().items()]}


@router.get("/entries", response_model=Entries)
def get_entries(
    actor: AnyParty,
    runtime: RuntimeDep,
    start: Annotated[int, Query(ge=0, le=MAX_TREE_SIZE)],
    end: Annotated[int, Query(ge=1, le=MAX_TREE_SIZE)],
):
    """Leaves [start, end), at most 1,000 per call, each the exact canonical JSON that was hashed."""
    with runtime.reading() as conn:
        return service.entries(conn, actor, start, end)


@router.get("/proof/inclusion", response_model=InclusionProof)
def get_inclusion(actor: AnyParty, runtime: RuntimeDep, index: LogIndex, size: LogIndex):
    """Audit path for leaf `index` in the tree of `size` leaves (RFC 6962 §2.1.1)."""
    with runtime.reading() as conn:
        return service.inclusion_proof(conn, index, size)


@router.get("/proof/consistency", response_model=ConsistencyProof)
def get_consistency(actor: AnyParty, runtime: RuntimeDep, first: LogIndex, second: LogIndex):
    """Consistency proof between two tree sizes (RFC 6962 §2.1.2)."""
    with runtime.reading() as conn:
        return service.consistency_proof(conn, first, second)


@router.post("/witnesses/key", status_code=201)
def register_witness_key(body: WitnessKey, actor: Witness, runtime: RuntimeDep):
    """Register (or replace) your witness public key."""
    with runtime.transaction() as conn:
        row = service.register_witness_key(conn, actor, body.public_key)
    return {"party_id": row["party_id"], "public_key": row["public_key"]}


@router.post("/cosign", status_code=201)
def cosign(body: CosignRequest, actor: Witness, runtime: RuntimeDep):
    """Countersign a tree head after checking it is consistent with the last one you signed."""
    with runtime.transaction() as conn:
        return service.cosign(conn, actor, body.model_dump(exclude={"signature"}), body.signature)


@router.get("/witnesses")
def witnesses(actor: Annotated[Actor, require("agency", "regulator", "overseer")], runtime: RuntimeDep):
    """How far each witness's cosignature lags the log."""
    with runtime.reading() as conn:
        return service.witness_status(conn)


@me_router.get("/receipts")
def my_receipts(actor: Individual, runtime: RuntimeDep):
    """The log events about you, newest last."""
    service.sequence_all(runtime.engine)
    with runtime.reading() as conn:
        return {"receipts": service.my_leaves(conn, actor)}


@me_router.get("/receipts/{leaf_index}", response_model=Receipt)
def my_receipt(leaf_index: int, actor: Individual, runtime: RuntimeDep):
    """One event about you with its inclusion proof and signed tree head, checkable offline
    (`zhengxin log check-receipt`)."""
    if not 0 <= leaf_index <= MAX_TREE_SIZE:
        raise Problem(404, "receipt_not_found", "no such event about you")
    service.sequence_all(runtime.engine)
    with runtime.transaction() as conn:
        return service.receipt(conn, service.log_signer(runtime), actor, leaf_index)
