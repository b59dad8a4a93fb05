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
