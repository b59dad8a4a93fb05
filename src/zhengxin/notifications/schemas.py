from datetime import datetime

from pydantic import BaseModel, Field


class NotificationOut(BaseModel):
    id: str
    kind: str = Field(description="inquiry, dispute.answered, dispute.closed, ...")
    payload: dict = Field(description="Institution names, purposes, ids and dates; never personal data")
    created_at: datetime
    read_at: datetime | None


class MarkRead(BaseModel):
    ids: list[str] | None = Field(default=None, max_length=1000, description="Omit to mark every alert read")


class Marked(BaseModel):
    marked: int = Field(description="How many were unread")


class WebhookIn(BaseModel):
    url: str = Field(max_length=2000, description="A public https URL that receives your alerts")


class WebhookCreated(BaseModel):
    url: str
    secret: str = Field(description="Standard Webhooks signing secret (whsec_...), shown only this once")
    created_at: datetime


class DeliveryCounts(BaseModel):
    pending: int
    delivered: int
    failed: int


class WebhookOut(BaseModel):
    url: str
    created_at: datetime
    deliveries: DeliveryCounts
