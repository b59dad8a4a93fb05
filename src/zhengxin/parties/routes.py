from typing import Annotated

from fastapi import APIRouter, Response

from zhengxin.kit.errors import Problem
from zhengxin.parties import service
from zhengxin.parties.auth import Agency, AnyParty, require
from zhengxin.parties.schemas import KeyIssued, PartyCreate, PartyCreated, PartyOut
from zhengxin.parties.service import Actor
from zhengxin.runtime import RuntimeDep

router = APIRouter(prefix="/v1/parties", tags=["parties"])


@router.post("", status_code=201, response_model=PartyCreated)
def create_party(body: PartyCreate, actor: Agency, runtime: RuntimeDep):
    """Register a party; its API key is in this response and nowhere else."""
    with runtime.transaction() as conn:
        row, key = service.add_party(
            conn,
            runtime.settings,
            role=body.role,
            name=body.name,
            uscc=body.uscc,
            person_id=body.person_id,
            staff=body.staff,
        )
    return {**row, "api_key": key}


@router.get("", response_model=list[PartyOut])
def list_parties(
    actor: Annotated[Actor, require("agency", "regulator", "overseer")], runtime: RuntimeDep, role: str | None = None
):
    """Every registered party (individuals are listed by their account name only)."""
    with runtime.reading() as conn:
        return service.list_parties(conn, role)


@router.get("/me", response_model=PartyOut)
async def who_am_i(actor: AnyParty):
    """The party this API key belongs to (as authentication read it: an active party)."""
    out = PartyOut(id=actor.party_id, role=actor.role, name=actor.name, uscc=actor.uscc, active=True,
                   staff=actor.staff, created_at=actor.created_at)  # fmt: skip
    # Built and checked here: serialised directly, FastAPI spares a second validation pass.
    return Response(out.model_dump_json(), media_type="application/json")


@router.post("/{party_id}/keys", status_code=201, response_model=KeyIssued)
def issue_key(party_id: str, actor: Agency, runtime: RuntimeDep):
    """Issue another API key for a party (for rotation); shown once."""
    with runtime.transaction() as conn:
        if service.get_party(conn, party_id) is None:
            raise Problem(404, "party_not_found", "no such party")
        key_id, key = service.issue_key(conn, party_id)
    return {"key_id": key_id, "api_key": key}


@router.delete("/keys/{key_id}", status_code=204)
def revoke_key(key_id: str, actor: Agency, runtime: RuntimeDep):
    """Revoke an API key at once."""
    with runtime.transaction() as conn:
        if not service.revoke_key(conn, key_id):
            raise Problem(404, "key_not_found", "no such active key")
