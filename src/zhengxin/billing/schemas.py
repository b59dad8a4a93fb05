from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

Product = Literal["report", "score"]


class PriceOut(BaseModel):
    product: str
    tier: str
    fee_fen: int
    effective_from: date | None
    source: Literal["price_list", "default", "scheduled"]


class PriceSet(BaseModel):
    product: Product
    tier: str = Field(min_length=1, max_length=24, pattern=r"^[a-z][a-z0-9_]*$")
    fee_fen: int = Field(ge=0, le=10_000_000)
    effective_from: date | None = Field(default=None, description="Default: today")


class TierSet(BaseModel):
    tier: str = Field(min_length=1, max_length=24)


class PartyRef(BaseModel):
    id: str
    name: str


class TierOut(BaseModel):
    lender: PartyRef
    tier: str


class InvoiceLine(BaseModel):
    product: str
    tier: str
    unit_fee_fen: int
    inquiries: int
    amount_fen: int


class Invoice(BaseModel):
    id: str
    lender: PartyRef
    period: str
    status: Literal["open", "closed"]
    currency: str
    lines: list[InvoiceLine]
    inquiries: int
    total_fen: int


class Statement(BaseModel):
    id: str
    furnisher: PartyRef
    period: str
    status: Literal["open", "closed"]
    currency: str
    reports: int = Field(description="Reports sold that used your records")
    records: int = Field(description="Your records in those reports")
    share_fen: int


class Reconciliation(BaseModel):
    period: str
    charges: int
    fees_fen: int
    furnisher_shares_fen: int
    agency_retained_fen: int
    balanced: bool
