"""The credit report, versioned: the PBOC second-generation structure (RPT-1) for lenders
and, unchanged, for the person's own self-query; institutions coded or named by viewer (RPT-2).

Amounts are integer fen; dates ISO; instants UTC. A field added later gets a default and a
new minor version; a field changed or removed is a new major version.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

# 1.1: dispute ids, furnishers and due days on objections and statements; 1.2: score; 1.3: credit
# cards apart from the other accounts, repayment liabilities, public records, schedules and debt service;
# 1.4: the federation's summaries, and multi-platform figures over the agencies that answered
REPORT_VERSION = "1.4"


class Institution(BaseModel):
    """A lender or platform: a lender sees other lenders by code only (RPT-2); a person sees names."""

    code: str = Field(description="Stable code of the institution, the same in every report")
    name: str | None = Field(description="Shown to the person, and to a lender for itself and for furnishers")


class InquiryRef(BaseModel):
    inquiry_id: str
    institution: Institution
    purpose: str
    product: str


class Header(BaseModel):
    report_id: str
    report_version: str = REPORT_VERSION
    generated_at: datetime
    viewer: Literal["lender", "individual"]
    inquiry: InquiryRef | None = Field(description="The inquiry this report answers (none for a self-query)")
    scope: list[str] = Field(description="Record types this report may show")
    catalog_version: str
    objection_note: str | None = Field(description="Set when any record in this report is under dispute")
    anti_fraud_note: str | None = None


class IdentitySource(BaseModel):
    """One furnisher's version of the person's name and phone (masked), in the person's own report."""

    furnisher: Institution
    name: str | None
    phone: str | None
    reported_on: date = Field(description="The date of the report the version comes from")
    differs: bool = Field(description="Its name differs from the current one")
    under_dispute: bool = Field(default=False, description="The person objected to this version (CR-25)")


class Identity(BaseModel):
    """Masked: enough to confirm whom the report is about, never the full identifiers. The current
    values are those of the most recent report received."""

    name: str | None
    resident_id: str | None
    phone: str | None
    other_id_numbers: list[str] = []
    conflicting_sources: bool = Field(
        default=False, description="Furnishers named this resident ID differently: confirm the applicant's identity"
    )
    sources: list[IdentitySource] = Field(
        default=[], description="Each furnisher's version, when they conflict (the person's own report only)"
    )


class Summary(BaseModel):
    accounts: int
    open_accounts: int
    closed_accounts: int
    overdue_accounts: int
    written_off_accounts: int
    total_balance_fen: int
    total_limit_fen: int = Field(description="Open accounts' principal or credit limit")
    overdue_fen: int
    worst_days_past_due: int = Field(description="Worst current delinquency across accounts")
    worst_status_24m: str = Field(description="Worst monthly status symbol in the last 24 months (N best, 7 worst)")
    credit_cards: int = Field(default=0, description="Card accounts (counted in accounts too)")
    card_limit_fen: int = Field(default=0, description="Open cards' credit limits")
    card_used_fen: int = Field(default=0, description="Open cards' balances")
    monthly_debt_service_fen: int = Field(
        default=0, description="What open accounts ask each month: loans' scheduled payments and cards' minimum due"
    )
    accounts_without_schedule: int = Field(
        default=0, description="Open accounts whose furnisher sent no monthly figure (not in the debt service)"
    )
    guaranteed_fen: int = Field(default=0, description="Active guarantees: the person's contingent liability")
    co_borrowed_fen: int = Field(default=0, description="Active co-borrowings: the person's joint liability")
    open_public_records: int = 0


class Counts(BaseModel):
    last_1m: int
    last_3m: int
    last_6m: int


class LoanLimit(BaseModel):
    rule: str
    limit_fen: int
    outstanding_fen: int
    exceeded: bool


class MultiPlatform(BaseModel):
    """Borrowing across platforms: what supervision and lenders watch for over-indebtedness."""

    agencies: int = Field(default=1, description="Agencies whose figures are summed here: this one and every "
                          "federation member that answered")  # fmt: skip
    active_platforms: int
    platform_threshold: int = Field(description="MULTI: borrowing on more platforms than this is flagged")
    above_threshold: bool
    new_accounts: Counts
    inquiries: Counts
    total_outstanding_fen: int
    limits: list[LoanLimit]


class PeerFigures(BaseModel):
    """What a federation member holds about the person: counts and sums only."""

    platforms: int
    open_accounts: int
    total_outstanding_fen: int
    total_limit_fen: int
    unsecured_outstanding_fen: int
    worst_status_24m: str
    new_accounts: Counts
    inquiries: Counts
    as_of: date


class FederationMember(BaseModel):
    name: str
    uscc: str
    status: Literal["answered", "unavailable", "refused"]
    held: bool | None = Field(description="Whether the member holds loans about the person (answered only)")
    summary: PeerFigures | None
    code: str | None = Field(default=None, description="Why it did not answer: unreachable, over_budget, or the "
                             "member's refusal code")  # fmt: skip


class Federation(BaseModel):
    """The other agencies' summaries, asked under the person's `federation` authorization scope."""

    members: list[FederationMember]
    partial: bool = Field(description="Some member did not answer within the budget: the multi-platform figures "
                          "cover only the agencies that did")  # fmt: skip
    budget_ms: int


class MonthStatus(BaseModel):
    month: str
    status: str


class Account(BaseModel):
    furnisher: Institution
    account_id: str
    product: str
    opened_on: date
    closed_on: date | None
    principal_fen: int | None
    credit_limit_fen: int | None
    balance_fen: int
    overdue_fen: int
    days_past_due: int
    status: str
    as_of: date
    payment_history: str = Field(description="24 monthly PBOC status symbols, newest first")
    status_grid: list[MonthStatus]
    co_lent: bool
    under_dispute: bool = False
    statement: str | None = None
    scheduled_payment_fen: int | None = Field(default=None, description="The monthly payment due, when furnished")
    term_months: int | None = None


class CreditCard(Account):
    """A credit card (RPT-1's 贷记卡 part): the limit, what is used, the minimum due and the
    statement date, with the same 24-month grid."""

    minimum_due_fen: int | None
    statement_date: date | None
    utilisation: float | None = Field(description="Balance over limit")


class CoveredAccount(BaseModel):
    """The state of the account a liability answers for, as its furnisher last reported it;
    nothing about whose account it is."""

    status: str
    balance_fen: int
    overdue_fen: int
    days_past_due: int
    month: str


class Liability(BaseModel):
    """A repayment liability for another's account (RPT-1's 相关还款责任): a guarantee or a
    co-borrowing."""

    furnisher: Institution
    liability_id: str
    kind: Literal["guarantee", "co_borrower"]
    account_id: str = Field(description="The covered account, as the furnisher numbers it")
    amount_fen: int = Field(description="The amount covered")
    liability_fen: int = Field(description="What the person answers for")
    opened_on: date
    status: str
    released_on: date | None
    as_of: date
    covered_account: CoveredAccount | None = Field(description="None when the furnisher has not reported it")


class PublicRecord(BaseModel):
    """A court enforcement, a dishonest-debtor listing, tax arrears or an administrative penalty."""

    furnisher: Institution
    case_number: str
    kind: str
    authority: str
    amount_fen: int | None
    decided_on: date
    status: str
    concluded_on: date | None
    as_of: date


class CoLending(BaseModel):
    account_id: str
    furnisher: Institution
    co_lender: Institution
    platform_share: float
    min_platform_share: float
    below_minimum: bool = Field(description="BANK-JL: the platform funds less than the minimum share")


class CategorySpend(BaseModel):
    category: str
    amount_fen: int
    orders: int


class MonthSpend(BaseModel):
    month: str
    amount_fen: int
    orders: int


class Consumption(BaseModel):
    months: int
    total_fen: int
    by_category: list[CategorySpend]
    by_month: list[MonthSpend]


class TravelMonth(BaseModel):
    month: str
    trips: int
    cities: int


class Travel(BaseModel):
    months: list[TravelMonth]
    total_trips: int


class PersonalStatement(BaseModel):
    """The person's explanation beside a record (CR-16)."""

    account_id: str | None
    text: str
    added_on: date
    furnisher: Institution | None = None


class ObjectionLabel(BaseModel):
    """A record under objection (CR-25): open or answered until the agency decides, and kept
    with the record when the agency could neither confirm nor correct it (`unconfirmable`)."""

    account_id: str | None = Field(description="The account objected to; none for an identity")
    status: str
    opened_on: date
    furnisher: Institution | None = None
    dispute_id: str | None = None
    due_on: date | None = None
    record_type: str = Field(default="loan", description="loan, or identity: a furnisher's version of the name")


class Correction(BaseModel):
    """A furnisher's correction of whom an account belongs to (PIPL-46), shown in both files."""

    furnisher: Institution
    account_id: str
    direction: Literal["added", "removed"] = Field(description="Moved into this file, or out of it")
    reassigned_on: date
    reference: str = Field(description="The furnisher's reference for the correction")


class InquiryRecord(BaseModel):
    date: date
    institution: Institution
    purpose: str
    product: str


class ScoreReason(BaseModel):
    code: str = Field(description="Stable reason code (R01…), the same in every model version")
    feature: str
    text: str = Field(description="Plain language, for the lender and the person")
    points_lost: float = Field(description="Points this factor cost against its best value")


class Score(BaseModel):
    """A credit score with its reasons (PIPL-24: an automated assessment is explained to the
    person it is about; CM-3: it is credit information like the records behind it)."""

    score_id: str
    model_version: str = Field(description="The scorecard that produced it; its model card is public")
    score: int | None = Field(description="None when there is no loan account to score")
    min_score: int
    max_score: int
    as_of: date
    inputs: list[str] = Field(description="Record types the score read; features outside them count as missing")
    reasons: list[ScoreReason] = Field(description="The factors that cost most points, most first (at most 4)")
    explanation: str
    review: str = Field(description="How to have the score reviewed by a person")


class ScoreReport(BaseModel):
    """What a lender buys with the `score` product: the score and its reasons, not the records."""

    header: Header
    identity: Identity
    score: Score


class CreditReport(BaseModel):
    header: Header
    identity: Identity
    summary: Summary
    multi_platform: MultiPlatform
    accounts: list[Account] = Field(description="Credit accounts other than cards")
    credit_cards: list[CreditCard] = []
    liabilities: list[Liability] = Field(default=[], description="Only when the scope includes liability")
    co_lending: list[CoLending]
    consumption: Consumption | None = Field(description="Only when the scope includes consumption")
    travel: Travel | None = Field(description="Only when the scope includes travel, with separate consent")
    public_records: list[PublicRecord] = Field(default=[], description="Only when the scope includes public_record")
    statements: list[PersonalStatement]
    objections: list[ObjectionLabel]
    corrections: list[Correction] = Field(default=[], description="Accounts a furnisher moved into or out of this file")
    inquiry_records: list[InquiryRecord] = Field(description="Inquiries of the last two years, newest first")
    score: Score | None = Field(default=None, description="The person's own score, when a model is live")
    federation: Federation | None = Field(default=None, description="Only when the scope includes federation")
