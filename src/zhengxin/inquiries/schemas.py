from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from zhengxin.catalog import AuthorizationScope, Purpose
from zhengxin.reports.model import CreditReport, ScoreReport


class InquiryCreate(BaseModel):
    person_id: str = Field(description="The person's resident ID (checked, then kept only as a token)")
    authorization_id: str
    purpose: Purpose
    product: Literal["report", "score"]
    scopes: list[AuthorizationScope] | None = Field(
        max_length=32, default=None,
        description="Record types (and `federation`) to include; default: all the authorization allows",
    )
    applicant_identity_verified: bool = Field(
        default=False, description="You verified the applicant's identity: required while a fraud alert is in force"
    )


class DecisionRef(BaseModel):
    decision_id: str
    rules: list[str]
    policy_revision: str


class InquiryOut(BaseModel):
    inquiry_id: str
    lender: dict
    authorization_id: str
    purpose: str
    product: str
    fee_fen: int
    report_id: str
    decision_id: str
    created_at: datetime


class InquiryResult(BaseModel):
    inquiry_id: str
    fee_fen: int
    purpose: str
    product: str
    created_at: datetime
    decision: DecisionRef
    report: CreditReport | ScoreReport = Field(
        description="Product `report`: the credit report. Product `score`: the score with its reasons, no records"
    )
