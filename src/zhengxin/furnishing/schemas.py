from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class BatchOut(BaseModel):
    id: str
    batch_id: str
    status: Literal["completed"] = "completed"
    format: str
    catalog_version: str
    received: int
    accepted: int
    rejected: int
    accepted_by_type: dict[str, int]
    created_at: datetime
    completed_at: datetime
    errors_url: str


class QuarantinedRecord(BaseModel):
    line: int
    record_type: str | None
    field: str
    code: str
    rule: str | None
    message: str
    errors: list[dict]
    raw: str | None = Field(default=None, description="The record as sent (shown to its furnisher only)")


class BatchErrors(BaseModel):
    batch_id: str
    total: int
    offset: int
    by_code: dict[str, int]
    errors: list[QuarantinedRecord]


class ObligationCreate(BaseModel):
    furnisher: str = Field(description="Furnisher party name or id")
    record_types: list[str] = Field(min_length=1)
    frequency: Literal["daily", "weekly", "monthly"]
    first_due_on: date
    note: str | None = Field(default=None, max_length=500)


class ObligationPeriod(BaseModel):
    due_on: date
    status: Literal["on_time", "late", "missing", "pending"]
    missing: list[str]


class ObligationOut(BaseModel):
    id: str
    furnisher_id: str
    record_types: list[str]
    frequency: str
    first_due_on: date
    note: str | None
    created_at: datetime
    status: Literal["on_time", "late", "missing", "pending"]
    missing: list[str]
    periods: list[ObligationPeriod]


class ReassignmentCreate(BaseModel):
    account_id: str = Field(min_length=1, max_length=64, description="Your account furnished for the wrong person")
    person_id: str = Field(min_length=15, max_length=20, description="The resident ID of the account's true holder")
    name: str = Field(pattern=r"^[^\x00-\x1f0-9@]{1,64}$", description="The true holder's name")
    phone: str | None = Field(default=None, pattern=r"^(\+86|0086)?1[3-9][0-9]{9}$")
    reference: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="Your reference for this correction")


class ReassignmentOut(BaseModel):
    id: str
    account_id: str
    reference: str
    reassigned_at: datetime
