"""Assembling a person's credit report from the records store, for one viewer and scope.

The same function serves a lender's inquiry and the person's own self-query; only the viewer
changes what is named and what is coded (RPT-2). It reads and never writes: the caller
records the inquiry and what the report was built from (`sources`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from sqlalchemy import Connection

from zhengxin.disputes.repository import marks_for_report
from zhengxin.identity.tokens import derived_key
from zhengxin.inquiries.repository import asked_about
from zhengxin.kit.calendar import add_months, month_label_of
from zhengxin.kit.ids import new_id
from zhengxin.records.history import SEVERITY
from zhengxin.records.repository import OPEN_STATUSES, consumption_since, shown_accounts, travel_since
from zhengxin.reports.model import (
    Account,
    CategorySpend,
    CoLending,
    Consumption,
    Counts,
    CreditReport,
    Header,
    Identity,
    InquiryRecord,
    InquiryRef,
    Institution,
    LoanLimit,
    MonthSpend,
    MonthStatus,
    MultiPlatform,
    ObjectionLabel,
    PersonalStatement,
    Summary,
    Travel,
    TravelMonth,
)

UNSECURED = {"microloan", "consumer_loan", "credit_line", "bnpl"}  # what the lending caps count
SUMMARY_MONTHS = 12


@dataclass(frozen=True)
class Viewer:
    """Who will read the report: a lender (party id) or the person themself."""

    kind: str  # lender | individual
    party_id: str


@dataclass(frozen=True)
class Source:
    furnisher_id: str
    record_type: str
    record_key: str
    records: int


@dataclass(frozen=True)
class Assembled:
    report: CreditReport
    sources: list[Source]
    # What the report read, so a score is computed from the same records without reading again.
    accounts: list[dict]
    spend: list[dict]
    asked_on: list[date]


def mask_name(name: str | None) -> str | None:
    return None if not name else name[0] + "*" * (len(name) - 1)


def mask_resident_id(number: str | None) -> str | None:
    return None if not number else number[:6] + "*" * 8 + number[-4:]


def mask_phone(phone: str | None) -> str | None:
    return None if not phone else phone[:3] + "****" + phone[-4:]


class InstitutionCodes:
    """Stable, keyed codes for institutions (so a report cannot be decoded without the agency)."""

    def __init__(self, pepper: bytes):
        self._key = derived_key(pepper, "institution-code")

    def code(self, party_id_or_uscc: str) -> str:
        return _institution_code(self._key, party_id_or_uscc)


@lru_cache(maxsize=65536)
def _institution_code(key: bytes, party_id_or_uscc: str) -> str:
    return "I" + hmac.digest(key, party_id_or_uscc.encode(), "sha256").hex()[:10].upper()


def assemble(
    conn: Connection,
    runtime,
    person_token: str,
    *,
    viewer: Viewer,
    scopes: list[str],
    today: date,
    now: datetime,
    inquiry: dict | None = None,
) -> Assembled:
    rules = runtime.settings.rules
    codes = InstitutionCodes(runtime.pepper)
    accounts = shown_accounts(conn, runtime, person_token, today) if "loan" in scopes else []
    first_month = month_label_of(today, SUMMARY_MONTHS - 1)
    spend = consumption_since(conn, person_token, first_month) if "consumption" in scopes else []
    trips = travel_since(conn, person_token, first_month) if "travel" in scopes else []
    since = add_months(today, -12 * rules.inquiry_record_years)
    asked = asked_about(conn, person_token, _midnight(since))
    flagged, said = marks_for_report(conn, runtime, person_token)

    # One query for every institution the report names.
    ids = {a["furnisher_id"] for a in accounts} | {r["furnisher_id"] for r in spend + trips}
    ids |= {d["furnisher_id"] for d in flagged} | {s["furnisher_id"] for s in said}
    ids |= {q.lender_id for q in asked} | ({inquiry["lender_id"]} if inquiry else set())
    usccs = {a["co_lender_uscc"] for a in accounts if a["co_lender_uscc"]}
    by_id, by_uscc = runtime.directory.lookup(conn, ids, usccs)

    def institution(party_id: str) -> Institution:
        org = by_id.get(party_id)
        # RPT-2: a lender sees other lenders coded; furnishers and itself by name.
        named = viewer.kind == "individual" or party_id == viewer.party_id or (org is not None and org.role != "lender")
        return Institution(code=codes.code(party_id), name=org.name if org is not None and named else None)

    def co_lender(uscc: str) -> Institution:
        org = by_uscc.get(uscc)
        if org is not None:
            return institution(org.id)
        return Institution(code=codes.code(uscc), name=None if viewer.kind == "lender" else f"USCC {uscc}")

    identity = runtime.vault.reveal(conn, person_token)
    disputed = {(d["furnisher_id"], d["record_key"]) for d in flagged if d["status"] != "closed"}
    statement_of = {(s["furnisher_id"], s["account_id"]): s["text"] for s in said}  # the newest wins
    report_accounts, co_lending = [], []
    for a in sorted(accounts, key=lambda a: (a["status"] not in OPEN_STATUSES, -a["opened_on"].toordinal())):
        grid = [MonthStatus(month=month_label_of(a["as_of"], i), status=s) for i, s in enumerate(a["payment_history"])]
        report_accounts.append(
            Account(
                furnisher=institution(a["furnisher_id"]),
                account_id=a["account_id"],
                product=a["product"],
                opened_on=a["opened_on"],
                closed_on=a["closed_on"],
                principal_fen=a["principal_fen"],
                credit_limit_fen=a["credit_limit_fen"],
                balance_fen=a["balance_fen"],
                overdue_fen=a["overdue_fen"],
                days_past_due=a["days_past_due"],
                status=a["status"],
                as_of=a["as_of"],
                payment_history=a["payment_history"],
                status_grid=grid,
                co_lent=a["co_lender_uscc"] is not None,
                under_dispute=(a["furnisher_id"], a["account_id"]) in disputed,
                statement=statement_of.get((a["furnisher_id"], a["account_id"])),
            )  # fmt: skip
        )
        if a["co_lender_uscc"] is not None and a["platform_share"] is not None:
            co_lending.append(
                CoLending(
                    account_id=a["account_id"],
                    furnisher=institution(a["furnisher_id"]),
                    co_lender=co_lender(a["co_lender_uscc"]),
                    platform_share=a["platform_share"],
                    min_platform_share=rules.min_platform_share,
                    below_minimum=a["platform_share"] < rules.min_platform_share,
                )  # fmt: skip
            )

    open_accounts = [a for a in accounts if a["status"] in OPEN_STATUSES]
    histories = "".join(a["payment_history"] for a in accounts) or "#"
    summary = Summary(
        accounts=len(accounts),
        open_accounts=len(open_accounts),
        closed_accounts=sum(a["status"] == "closed" for a in accounts),
        overdue_accounts=sum(a["days_past_due"] > 0 or a["status"] == "overdue" for a in accounts),
        written_off_accounts=sum(a["status"] == "written_off" for a in accounts),
        total_balance_fen=sum(a["balance_fen"] for a in accounts),
        total_limit_fen=sum(a["credit_limit_fen"] or a["principal_fen"] or 0 for a in open_accounts),
        overdue_fen=sum(a["overdue_fen"] for a in accounts),
        worst_days_past_due=max((a["days_past_due"] for a in accounts), default=0),
        worst_status_24m=max(histories, key=lambda s: SEVERITY.get(s, 0)),
    )

    def within(months: int, days: list[date]) -> int:
        start = add_months(today, -months)
        return sum(d > start for d in days)

    opened = [a["opened_on"] for a in accounts]
    asked_on = [q.created_at.date() for q in asked]
    unsecured = sum(a["balance_fen"] for a in open_accounts if a["product"] in UNSECURED)
    platforms = len({a["furnisher_id"] for a in open_accounts})
    multi = MultiPlatform(
        active_platforms=platforms,
        platform_threshold=rules.multi_platform_threshold,
        above_threshold=platforms > rules.multi_platform_threshold,
        new_accounts=Counts(last_1m=within(1, opened), last_3m=within(3, opened), last_6m=within(6, opened)),
        inquiries=Counts(last_1m=within(1, asked_on), last_3m=within(3, asked_on), last_6m=within(6, asked_on)),
        total_outstanding_fen=sum(a["balance_fen"] for a in open_accounts),
        limits=[
            LoanLimit(rule="ML-2020", limit_fen=rules.individual_cap_fen, outstanding_fen=unsecured,
                      exceeded=unsecured > rules.individual_cap_fen),
            LoanLimit(rule="BANK-IL", limit_fen=rules.internet_consumer_cap_fen, outstanding_fen=unsecured,
                      exceeded=unsecured > rules.internet_consumer_cap_fen),
        ],
    )  # fmt: skip

    consumption = None
    if "consumption" in scopes:
        by_category: dict[str, list[int]] = {}
        by_month: dict[str, list[int]] = {}
        for r in spend:
            for bucket in (by_category.setdefault(r["category"], [0, 0]), by_month.setdefault(r["month"], [0, 0])):
                bucket[0] += r["amount_fen"]
                bucket[1] += r["orders"]
        consumption = Consumption(
            months=len(by_month),
            total_fen=sum(v[0] for v in by_month.values()),
            by_category=[
                CategorySpend(category=c, amount_fen=v[0], orders=v[1])
                for c, v in sorted(by_category.items(), key=lambda kv: -kv[1][0])
            ],
            by_month=[MonthSpend(month=m, amount_fen=v[0], orders=v[1]) for m, v in sorted(by_month.items())],
        )
    travel = None
    if "travel" in scopes:
        per_month: dict[str, list[int]] = {}
        for r in trips:
            bucket = per_month.setdefault(r["month"], [0, 0])
            bucket[0] += r["trips"]
            bucket[1] = max(bucket[1], r["cities"])  # cities are not additive across platforms
        travel = Travel(
            months=[TravelMonth(month=m, trips=v[0], cities=v[1]) for m, v in sorted(per_month.items())],
            total_trips=sum(v[0] for v in per_month.values()),
        )

    header = Header(
        report_id=new_id("rpt"),
        generated_at=now,
        viewer=viewer.kind,
        inquiry=InquiryRef(
            inquiry_id=inquiry["id"], institution=institution(inquiry["lender_id"]), purpose=inquiry["purpose"],
            product=inquiry["product"],
        ) if inquiry else None,
        scope=sorted(scopes),
        catalog_version=runtime.catalog.version,
        objection_note=(
            f"{len(flagged)} record(s) in this report are under objection (CR-25); see objections" if flagged else None
        ),
    )  # fmt: skip
    report = CreditReport(
        header=header,
        identity=Identity(
            name=mask_name(identity.get("name")),
            resident_id=mask_resident_id(identity.get("person_id")),
            phone=mask_phone(identity.get("phone")),
        ),
        summary=summary,
        multi_platform=multi,
        accounts=report_accounts,
        co_lending=co_lending,
        consumption=consumption,
        travel=travel,
        statements=[
            PersonalStatement(
                account_id=s["account_id"],
                text=s["text"],
                added_on=s["added_at"].date(),
                furnisher=institution(s["furnisher_id"]),
            )
            for s in said
        ],
        objections=[
            ObjectionLabel(
                account_id=d["record_key"],
                status=d["outcome"] or d["status"],
                opened_on=d["opened_at"].date(),
                furnisher=institution(d["furnisher_id"]),
                dispute_id=d["id"],
                due_on=d["due_on"],
            )
            for d in flagged
        ],
        inquiry_records=[
            InquiryRecord(
                date=q.created_at.date(), institution=institution(q.lender_id), purpose=q.purpose, product=q.product
            )
            for q in asked
        ],  # fmt: skip
    )
    return Assembled(report, _sources(accounts, spend, trips), accounts, spend, asked_on)


def _sources(accounts: list[dict], spend: list[dict], trips: list[dict]) -> list[Source]:
    sources = [Source(a["furnisher_id"], "loan", a["account_id"], 1) for a in accounts]
    for record_type, rows in (("consumption", spend), ("travel", trips)):
        per_furnisher: dict[str, list[str]] = {}
        for r in rows:
            per_furnisher.setdefault(r["furnisher_id"], []).append(r["month"])
        for furnisher_id, months in per_furnisher.items():
            sources.append(Source(furnisher_id, record_type, f"{min(months)}..{max(months)}", len(months)))
    return sources


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
