from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from zhengxin.catalog import RecordTypeName


class TransferCreate(BaseModel):
    destination: str = Field(
        pattern="^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 code of the receiving country or region (not CN)"
    )
    recipient: str = Field(min_length=1, max_length=200, description="The receiving organisation abroad")
    record_types: list[RecordTypeName] = Field(
        min_length=1, max_length=32, description="Catalog record types the dataset holds"
    )
    persons: int = Field(ge=0, le=2_000_000_000, description="Persons whose personal information the dataset holds")
    sensitive_persons: int = Field(
        ge=0, le=2_000_000_000, description="Of them, persons whose sensitive personal information it holds"
    )
    data_grade: str = Field(
        description="DSL-21 grade of the dataset", json_schema_extra={"enum": ["general", "important", "core"]}
    )
    separate_consent: bool = Field(
        default=False, description="You hold each person's separate consent to this transfer after notice (PIPL-39)"
    )
    foreign_authority: bool = Field(
        default=False, description="The recipient is a foreign court or police body (PIPL-41, DSL-36)"
    )


class TransferDecision(BaseModel):
    decision: Literal["approve", "reject"]
    note: str | None = Field(default=None, max_length=2000)


class TransferOut(BaseModel, extra="allow"):
    id: str
    route: Literal["denied", "security_assessment", "standard_contract", "exempt"]
    status: Literal["pending", "approved", "rejected", "denied"]
    rules: list[str] = Field(description="Every rule id that decided the route and the status")
    reason: str
    valid_until: date | None = Field(default=None, description="XB-VALID: the last day an assessment approval holds")
    created_at: datetime


class ExportOut(BaseModel):
    transfer_id: str
    persons: int
    records: int
    bytes: int
    sha256: str
    created_at: datetime
