"""The described request of a dry run (`GET /v1/policy/explain`): every fact the policies may be
told, as query parameters with their bounds."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from zhengxin.catalog import CATALOG_NAME
from zhengxin.policy import ACTIONS


class Described(BaseModel):
    action: Literal[ACTIONS]
    principal: str = Field(max_length=200, description="The acting party's name or id (an organisation, or a staff "
                                                       "account)")  # fmt: skip
    purpose: str = Field(
        "loan_application", pattern=CATALOG_NAME, description="inquire: a catalog purpose; staff_read: a staff purpose",
        json_schema_extra={"x-catalog": ["purposes", "staff_purposes"]},
    )  # fmt: skip
    product: Literal["report", "score"] = "report"
    scopes: str | None = Field(None, max_length=2000, description="Comma-separated record types")
    separate_consent: bool = False
    authorization: Literal["active", "revoked", "expired", "none"] = Field("active", description="inquire: its state")
    authorized_lender: Literal["principal", "another"] = Field("principal", description="inquire: whom it names")
    authorized_purpose: str | None = Field(
        None, pattern=CATALOG_NAME, description="inquire: its purpose (default `purpose`)",
        json_schema_extra={"x-catalog": "purposes"},
    )  # fmt: skip
    authorized_products: str | None = Field(None, max_length=100, description="inquire: comma-separated (default "
                                                                              "`product`)")  # fmt: skip
    authorized_scopes: str | None = Field(None, max_length=2000, description="inquire: comma-separated record types "
                                                                             "(default loan)")  # fmt: skip
    uses: int = Field(0, ge=0, le=1_000_000, description="inquire: earlier uses within the fair-use window")
    open_account: bool = Field(False, description="post-loan: the lender has an open account")
    own_data: bool = Field(True, description="self_query, object: the person asks about themself")
    recipient: str | None = Field(None, max_length=200, description="furnish: the receiving party's name or id")
    identifiers: bool = False
    data_grade: Literal["general", "important", "core"] = "general"
    credit_data: bool = True
    route: Literal["exempt", "standard_contract", "security_assessment"] = "exempt"
    approved: bool = False
    approval_age_days: int = Field(0, ge=0, le=36_500)
    foreign_authority: bool = False
