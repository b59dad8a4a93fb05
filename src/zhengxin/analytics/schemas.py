from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel


class SupervisionView(BaseModel):
    run_id: str
    as_of: date
    backend: str
    generated_at: datetime
    rows: list[dict[str, Any]]
