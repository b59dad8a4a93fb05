from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from zhengxin.catalog import AuthorizationScope, Purpose

Product = Literal["report", "score"]


class AuthorizationCreate(BaseModel):
    lender: str = Field(description="The lender's party name (or id)")
    purpose: Purpose
    scopes: list[AuthorizationScope] = Field(
        min_length=1, max_length=32,
        description="Record types the lender may see, e.g. loan, consumption; `federation`: the agency may also ask "
        "the other agencies of the federation for a summary of what they hold",
    )  # fmt: skip
    products: list[Product] = Field(default=["report", "score"], min_length=1)
    separate_consent: bool = Field(
        default=False, description="Separate consent for sensitive record types such as travel (PIPL-29)"
    )
    expires_on: date | None = Field(default=None, description="Last valid day (in Beijing); default 90 days on")


class FairUseOut(BaseModel):
    inquiries: int
    per_days: int = Field(description="0: over the authorization's whole life")


class LenderRef(BaseModel):
    id: str
    name: str


class AuthorizationOut(BaseModel):
    id: str
    lender: LenderRef
    purpose: str
    products: list[str]
    scopes: list[str]
    separate_consent: bool
    fair_use: FairUseOut
    issued_at: datetime
    expires_on: date
    status: Literal["active", "expired", "revoked"]
    days_left: int = Field(default=0, description="Days of validity left after today (0 unless active)")
    revoked_at: datetime | None
    artefact: str = Field(description="The canonical JSON the agency signed")
    key_id: str
    signature: str = Field(description="Ed25519 over the artefact's bytes, hex; key at /v1/authorizations/keys")
    person_secret: str | None = Field(
        default=None,
        description="Opens the artefact's commitment to the person: with it and the resident ID the person and the "
        "lender check whom the artefact is about. Given only to them, beside the artefact, never inside it "
        "(null for v1 artefacts, which bound the person without one)",
    )


class SigningKey(BaseModel):
    key_id: str
    public_key: str


class SigningKeys(BaseModel):
    active_key_id: str
    keys: list[SigningKey]


class WithdrawalCreate(BaseModel):
    record_type: str = Field(description="A catalog record type, e.g. travel or consumption (loan cannot be withdrawn)")


class WithdrawalOut(BaseModel):
    record_type: str
    withdrawn_at: datetime


class WithdrawalMade(WithdrawalOut):
    erased: int = Field(description="Stored records of this type about you erased by this request")


class WithdrawalLifted(WithdrawalOut):
    lifted_at: datetime
