from datetime import datetime

from pydantic import BaseModel, Field

from zhengxin.reports.model import CreditReport


class SelfQueryResult(BaseModel):
    self_query_id: str
    fee_fen: int = Field(description="0 for the free self-queries of the year (CR-17)")
    free: bool
    free_self_queries_left: int = Field(description="Free self-queries left this calendar year")
    created_at: datetime
    report: CreditReport
