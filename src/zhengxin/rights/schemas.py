from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from zhengxin.reports.model import CreditReport


class SelfQueryResult(BaseModel):
    self_query_id: str
    channel: Literal["online", "counter"] = Field(description="online (API, portal: always free) or counter")
    fee_fen: int = Field(description="0 online (FEE-1) and for the free counter self-queries of the year (CR-17)")
    free: bool
    free_self_queries_left: int = Field(description="Free counter self-queries left this calendar year (CR-17)")
    created_at: datetime
    report: CreditReport


class CounterSelfQuery(BaseModel):
    """A person at the agency's counter asks for their report; the member of staff checked their
    identity document in person."""

    person_id: str = Field(min_length=15, max_length=18, description="Resident ID: in the body, never a URL")
    identity_verified: Literal[True] = Field(description="The staff member checked the person's ID document in person")
