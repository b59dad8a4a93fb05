from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Role = Literal["agency", "furnisher", "lender", "individual", "regulator", "overseer"]


class PartyCreate(BaseModel):
    role: Role
    name: str = Field(min_length=1, max_length=200)
    uscc: str | None = Field(default=None, description="Unified social credit code (organisations)")
    person_id: str | None = Field(default=None, description="Resident ID (individuals); kept only as a token")
    staff: bool = Field(default=False, description="An agency account for one named member of staff")


class PartyOut(BaseModel):
    id: str
    role: Role
    name: str
    uscc: str | None = None
    active: bool
    staff: bool = False
    created_at: datetime


class PartyCreated(PartyOut):
    api_key: str = Field(description="Shown once; only its hash is stored")


class KeyIssued(BaseModel):
    key_id: str
    api_key: str
