from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class AppReviewCreate(BaseModel):
    app: str = Field(min_length=1, max_length=200, description="The app's name as published")
    category: str = Field(min_length=1, max_length=48, description="Its type in the necessary-PI table")
    collected: list[str] = Field(max_length=200, description="The personal-information item ids it collects")


class Rectification(BaseModel):
    collected: list[str] = Field(max_length=200, description="What the app collects now (item ids)")


class AppReviewOut(BaseModel, extra="allow"):
    id: str
    app: str
    category: str
    necessary: list[str]
    collected: list[str]
    excessive: list[str] = Field(description="Collected beyond the type's necessary items")
    rectify_by: date | None = Field(description="Review day + rectification_days, when anything is excessive")
    status: Literal["compliant", "rectification_required", "rectified"]
    overdue: bool
    rule: str


class OrderCreate(BaseModel):
    furnisher: str = Field(min_length=1, max_length=200, description="The furnisher's party name")
    kind: Literal["rectification", "suspension", "information_request"]
    reason: str = Field(min_length=1, max_length=4000, description="What is ordered and why; kept sealed")
    due_on: date = Field(description="The last day for the furnisher's response")
    rule: str | None = Field(default=None, max_length=16, description="The rule id the order enforces, if any")


class OrderResponse(BaseModel):
    summary: str = Field(min_length=1, max_length=4000, description="What the furnisher did; kept sealed")


class OrderClose(BaseModel):
    accepted: bool = Field(description="true closes the order; false reopens it")
    note: str | None = Field(default=None, max_length=4000, description="The regulator's note; kept sealed")
    due_on: date | None = Field(default=None, description="A new due day for a reopened order")


class OrderOut(BaseModel, extra="allow"):
    id: str
    kind: str
    due_on: date
    status: Literal["open", "responded", "closed"]
    overdue: bool
    responded_late: bool | None = None
    created_at: datetime


class ShareholderCreate(BaseModel):
    holder: str = Field(min_length=1, max_length=200, description="The holder as named in the shareholder register")
    party: str | None = Field(default=None, description="The lender or furnisher the holder is, by party name")
    stake_bp: int = Field(gt=0, le=10_000, description="Stake in basis points (10000 = 100%)")


class ShareholderChange(BaseModel):
    party: str | None = Field(default=None, description="The lender or furnisher the holder is, by party name")
    stake_bp: int | None = Field(default=None, gt=0, le=10_000)
