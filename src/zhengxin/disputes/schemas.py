from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class DisputeCreate(BaseModel):
    account_id: str = Field(min_length=1, max_length=64, description="The account you object to")
    reason: str = Field(min_length=1, max_length=4000, description="What is wrong; kept sealed")
    furnisher: str | None = Field(default=None, description="The platform's name, when two use the same account id")


class IdentityDisputeCreate(BaseModel):
    furnisher: str = Field(min_length=1, max_length=200,
                           description="The furnisher whose version of your name or phone is wrong, as your report "
                           "names it")  # fmt: skip
    reason: str = Field(min_length=1, max_length=4000, description="What is wrong; kept sealed")


class DisputeOut(BaseModel, extra="allow"):
    id: str
    status: Literal["open", "answered", "closed"]
    due_on: date = Field(description="The last day for the agency's written answer (CR-25)")
    outcome: str | None = None
    opened_at: datetime


class DisputeAnswer(BaseModel):
    action: Literal["correction", "verification"]
    batch_id: str | None = Field(default=None, description="correction: the batch that furnished the corrected record")
    evidence_ref: str | None = Field(
        default=None, max_length=200, description="verification: your evidence's reference"
    )
    note: str | None = Field(default=None, max_length=4000, description="For the agency and the person; kept sealed")


class DisputeDecision(BaseModel):
    outcome: Literal["corrected", "verified", "unconfirmable"]
    note: str = Field(min_length=1, max_length=4000, description="The written answer to the person (CR-25)")


class StatementCreate(BaseModel):
    account_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=1000, description="Shown beside the record in later reports")
    furnisher: str | None = None
