"""Assembling a person's credit report from the records store, for one viewer and scope.

The same function serves a lender's inquiry and the person's own self-query; only the viewer
changes what is named and what is coded (RPT-2). It reads and never writes: the caller
records the inquiry and what the report was built from (`sources`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import Connection

from zhengxin.alerts.repository import active_alert_read
from zhengxin.disputes.repository import IDENTITY, flagged_read, statements_read
from zhengxin.identity.tokens import derived_key
from zhengxin.inquiries.repository import asked_about_read
from zhengxin.kit import clock
from zhengxin.kit.calendar import add_months, month_label_of
from zhengxin.kit.db import read_all, read_named
from zhengxin.kit.ids import new_id
from zhengxin.parties.service import directory
from zhengxin.records.history import SEVERITY
from zhengxin.records.repository import (
    OPEN_STATUSES,
    account_states,
    catalog_records_read,
    consumption_since_read,
    reassignments_about_read,
    shown_accounts_read,
    travel_since_read,
)
from zhengxin.reports.model import (
    Account,
    CategorySpend,
    CoLending,
    Consumption,
    Correction,
    Counts,
    CoveredAccount,
    CreditCard,
    CreditReport,
    Federation,
    FederationMember,
    Header,
    Identity,
    IdentitySource,
    InquiryRecord,
    InquiryRef,
    Institution,
    Liability,
    LoanLimit,
    MonthSpend,
    MonthStatus,
    MultiPlatform,
    ObjectionLabel,
    PeerFigures,
    PersonalStatement,
    PublicRecord,
    Summary,
    Travel,
    TravelMonth,
)

UNSECURED = {"microloan", "consumer_loan", "credit_line", "bnpl"}  # what the lending caps count
CARD = "credit_card"
CATALOG_SECTIONS = ("liability", "public_record")  # report sections of catalog-only record types
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
    liabilities: list[dict] = field(default_factory=list)
    public_records: list[dict] = field(default_factory=list)


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


@dataclass(frozen=True)
class Facts:
    """Everything a report is built from, read in one place (`fetch`); the sections are built
    from it by pure functions, testable without a database."""

    accounts: list[dict]  # latest state per account, as a report may show it today
    spend: list[dict]  # monthly consumption summaries of the last SUMMARY_MONTHS
    trips: list[dict]  # monthly travel summaries of the last SUMMARY_MONTHS
    asked: list  # inquiries about the person within the inquiry record's years
    flagged: list[dict]  # disputes marking records
    said: list[dict]  # the person's statements
    identity: dict  # name, resident ID, phone from the vault
    by_id: dict  # organisations by party id
    by_uscc: dict  # organisations by USCC
    alert: dict | None = None  # the fraud alert in force
    conflicting: bool = False  # furnishers named the person differently
    identity_sources: list[dict] = field(default_factory=list)  # each furnisher's version, when conflicting
    liabilities: list[dict] = field(default_factory=list)  # guarantees and co-borrowings
    public_records: list[dict] = field(default_factory=list)
    covered: dict = field(default_factory=dict)  # (furnisher, account) -> the covered account's latest state
    corrections: list[dict] = field(default_factory=list)  # accounts moved into or out of the file


def fetch(
    conn: Connection, runtime, person_token: str, *, scopes: list[str], today: date, inquiry: dict | None
) -> Facts:
    """Read what the report needs from its owners: one query per kind of fact, all sent
    together (kit.db.read_all), then what depends on their answers."""
    rules = runtime.settings.rules
    first_month = month_label_of(today, SUMMARY_MONTHS - 1)
    since = clock.legal_start(add_months(today, -12 * rules.inquiry_record_years))
    catalog_types = [t for t in CATALOG_SECTIONS if t in scopes]
    got = read_named(
        conn,
        accounts=shown_accounts_read(runtime, person_token, today) if "loan" in scopes else None,
        spend=consumption_since_read(person_token, first_month) if "consumption" in scopes else None,
        trips=travel_since_read(person_token, first_month) if "travel" in scopes else None,
        asked=asked_about_read(person_token, since),
        flagged=flagged_read(person_token),
        said=statements_read(runtime, person_token),
        held=catalog_records_read(person_token, catalog_types) if catalog_types else None,
        corrections=reassignments_about_read(person_token) if "loan" in scopes else None,
        identity=runtime.vault.identity_read(person_token),
        alert=active_alert_read(person_token),
    )
    accounts, spend, trips = got.get("accounts", []), got.get("spend", []), got.get("trips", [])
    asked, flagged, said, corrections = got["asked"], got["flagged"], got["said"], got.get("corrections", [])
    held = got.get("held", {})
    identity, conflicting = got["identity"]
    liabilities, public_records = held.get("liability", []), held.get("public_record", [])
    covered = account_states(conn, {(x["furnisher_id"], x["account_id"]) for x in liabilities})
    ids = {a["furnisher_id"] for a in accounts}
    ids |= {r["furnisher_id"] for r in spend + trips + liabilities + public_records + corrections}
    ids |= {d["furnisher_id"] for d in flagged} | {s["furnisher_id"] for s in said}
    ids |= {q.lender_id for q in asked} | ({inquiry["lender_id"]} if inquiry else set())
    sources = runtime.vault.versions(conn, person_token, identity.get("name")) if conflicting else []
    ids |= {s["furnisher_id"] for s in sources}
    usccs = {a["co_lender_uscc"] for a in accounts if a["co_lender_uscc"]}
    by_id, by_uscc = directory(runtime).lookup(conn, ids, usccs)
    alert = got["alert"]
    return Facts(
        accounts, spend, trips, asked, flagged, said, identity, by_id, by_uscc, alert, conflicting, sources,
        liabilities, public_records, covered, corrections,
    )  # fmt: skip


@dataclass(frozen=True)
class Naming:
    """How a report names institutions to its viewer (RPT-2): a lender sees other lenders coded,
    furnishers and itself by name; the person sees every name."""

    viewer: Viewer
    codes: InstitutionCodes
    by_id: dict
    by_uscc: dict
    # One Institution per party for the report: a report names the same few many times (each
    # account, each inquiry record), and the models are only read.
    named: dict = field(default_factory=dict)

    def institution(self, party_id: str) -> Institution:
        found = self.named.get(party_id)
        if found is None:
            org = self.by_id.get(party_id)
            named = (
                self.viewer.kind == "individual" or party_id == self.viewer.party_id
                or (org is not None and org.role != "lender")
            )  # fmt: skip
            name = org.name if org is not None and named else None
            found = self.named[party_id] = Institution(code=self.codes.code(party_id), name=name)
        return found

    def co_lender(self, uscc: str) -> Institution:
        org = self.by_uscc.get(uscc)
        if org is not None:
            return self.institution(org.id)
        return Institution(code=self.codes.code(uscc), name=None if self.viewer.kind == "lender" else f"USCC {uscc}")


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
    facts = fetch(conn, runtime, person_token, scopes=scopes, today=today, inquiry=inquiry)
    report = build(
        facts, Naming(viewer, InstitutionCodes(runtime.pepper), facts.by_id, facts.by_uscc), runtime.settings.rules,
        scopes=scopes, today=today, now=now, inquiry=inquiry, catalog_version=runtime.catalog.version,
    )  # fmt: skip
    asked_on = [q.created_at.date() for q in facts.asked]
    return Assembled(
        report, _sources(facts), facts.accounts, facts.spend, asked_on, facts.liabilities, facts.public_records
    )


def build(
    facts: Facts, naming: Naming, rules, *, scopes: list[str], today: date, now: datetime, inquiry: dict | None,
    catalog_version: str,
) -> CreditReport:  # fmt: skip
    """The report from its facts: no database, no clock."""
    institution = naming.institution
    accounts, co_lending = account_sections(facts, naming, rules)
    identity_disputed = {d["furnisher_id"] for d in facts.flagged if d["record_type"] == IDENTITY}
    liabilities, public_records = catalog_sections(facts, naming)
    return CreditReport(
        header=Header(
            report_id=new_id("rpt"),
            generated_at=now,
            viewer=naming.viewer.kind,
            inquiry=InquiryRef(
                inquiry_id=inquiry["id"],
                institution=institution(inquiry["lender_id"]),
                purpose=inquiry["purpose"],
                product=inquiry["product"],
            )
            if inquiry
            else None,
            scope=sorted(scopes),
            catalog_version=catalog_version,
            anti_fraud_note=fraud_alert_note(facts.alert),
            objection_note=(
                f"{len(facts.flagged)} record(s) in this report are under objection (CR-25); see objections"
                if facts.flagged
                else None
            ),
        ),  # fmt: skip
        identity=Identity(
            name=mask_name(facts.identity.get("name")),
            resident_id=mask_resident_id(facts.identity.get("person_id")),
            phone=mask_phone(facts.identity.get("phone")),
            conflicting_sources=facts.conflicting,
            sources=[
                IdentitySource(furnisher=institution(s["furnisher_id"]), name=mask_name(s.get("name")),
                               phone=mask_phone(s.get("phone")), reported_on=s["as_of"], differs=s["differs"],
                               under_dispute=s["furnisher_id"] in identity_disputed)
                for s in facts.identity_sources
            ] if naming.viewer.kind == "individual" else [],
        ),  # fmt: skip
        summary=summary_section(facts.accounts, facts.liabilities, facts.public_records),
        multi_platform=multi_platform_section(facts.accounts, facts.asked, rules, today),
        accounts=[a for a in accounts if not isinstance(a, CreditCard)],
        credit_cards=[a for a in accounts if isinstance(a, CreditCard)],
        liabilities=liabilities,
        public_records=public_records,
        co_lending=co_lending,
        consumption=consumption_section(facts.spend) if "consumption" in scopes else None,
        travel=travel_section(facts.trips) if "travel" in scopes else None,
        **marks_sections(facts, naming),
        inquiry_records=[
            InquiryRecord(
                date=q.created_at.date(), institution=institution(q.lender_id), purpose=q.purpose, product=q.product
            )
            for q in facts.asked
        ],  # fmt: skip
    )


def marks_sections(facts: Facts, naming: Naming) -> dict:
    """The person's statements (CR-16), the objections (CR-25) and the corrections of an
    account's holder (PIPL-46)."""
    institution = naming.institution
    return dict(
        statements=[
            PersonalStatement(account_id=s["account_id"], text=s["text"], added_on=s["added_at"].date(),
                              furnisher=institution(s["furnisher_id"]))
            for s in facts.said
        ],
        objections=[
            ObjectionLabel(
                account_id=d["record_key"] if d["record_type"] != IDENTITY else None, record_type=d["record_type"],
                status=d["outcome"] or d["status"], opened_on=d["opened_at"].date(),
                furnisher=institution(d["furnisher_id"]), dispute_id=d["id"], due_on=d["due_on"],
            )
            for d in facts.flagged
        ],
        corrections=[
            Correction(furnisher=institution(c["furnisher_id"]), account_id=c["account_id"], direction=c["direction"],
                       reassigned_on=clock.legal_day(c["reassigned_at"]), reference=c["reference"])
            for c in facts.corrections
        ],
    )  # fmt: skip


def account_sections(facts: Facts, naming: Naming, rules) -> tuple[list[Account], list[CoLending]]:
    """Each account (open ones first, the newest first) with its status grid, dispute mark and
    statement; and the co-lent ones with the platform's share against the minimum."""
    disputed = {(d["furnisher_id"], d["record_key"]) for d in facts.flagged
                if d["status"] != "closed" and d["record_type"] != IDENTITY}  # fmt: skip
    statement_of = {(s["furnisher_id"], s["account_id"]): s["text"] for s in facts.said}  # the newest wins
    accounts, co_lending = [], []
    for a in sorted(facts.accounts, key=lambda a: (a["status"] not in OPEN_STATUSES, -a["opened_on"].toordinal())):
        grid = [MonthStatus(month=month_label_of(a["as_of"], i), status=s) for i, s in enumerate(a["payment_history"])]
        key = (a["furnisher_id"], a["account_id"])
        common = dict(
            furnisher=naming.institution(a["furnisher_id"]), account_id=a["account_id"], product=a["product"],
            opened_on=a["opened_on"], closed_on=a["closed_on"], principal_fen=a["principal_fen"],
            credit_limit_fen=a["credit_limit_fen"], balance_fen=a["balance_fen"], overdue_fen=a["overdue_fen"],
            days_past_due=a["days_past_due"], status=a["status"], as_of=a["as_of"],
            payment_history=a["payment_history"], status_grid=grid, co_lent=a["co_lender_uscc"] is not None,
            under_dispute=key in disputed, statement=statement_of.get(key),
            scheduled_payment_fen=a.get("scheduled_payment_fen"), term_months=a.get("term_months"),
        )  # fmt: skip
        if a["product"] == CARD:
            limit = a["credit_limit_fen"]
            accounts.append(CreditCard(
                **common, minimum_due_fen=a.get("minimum_due_fen"), statement_date=a.get("statement_date"),
                utilisation=round(a["balance_fen"] / limit, 4) if limit else None,
            ))  # fmt: skip
        else:
            accounts.append(Account(**common))
        if a["co_lender_uscc"] is not None and a["platform_share"] is not None:
            co_lending.append(
                CoLending(
                    account_id=a["account_id"], furnisher=naming.institution(a["furnisher_id"]),
                    co_lender=naming.co_lender(a["co_lender_uscc"]), platform_share=a["platform_share"],
                    min_platform_share=rules.min_platform_share,
                    below_minimum=a["platform_share"] < rules.min_platform_share,
                )
            )  # fmt: skip
    return accounts, co_lending


def catalog_sections(facts: Facts, naming: Naming) -> tuple[list[Liability], list[PublicRecord]]:
    """Repayment liabilities (active first), each with the covered account's latest state, and
    public records (open first, the newest first)."""
    liabilities = [
        Liability(
            furnisher=naming.institution(x["furnisher_id"]), liability_id=x["liability_id"], kind=x["kind"],
            account_id=x["account_id"], amount_fen=x["amount_fen"], liability_fen=x["liability_fen"],
            opened_on=x["opened_on"], status=x["status"], released_on=x.get("released_on"), as_of=x["as_of"],
            covered_account=CoveredAccount(**covered) if (covered := facts.covered.get(
                (x["furnisher_id"], x["account_id"]))) else None,
        )  # fmt: skip
        for x in sorted(facts.liabilities, key=lambda x: (x["status"] != "active", -_ordinal(x["opened_on"])))
    ]
    records = [
        PublicRecord(
            furnisher=naming.institution(r["furnisher_id"]), case_number=r["case_number"], kind=r["kind"],
            authority=r["authority"], amount_fen=r.get("amount_fen"), decided_on=r["decided_on"], status=r["status"],
            concluded_on=r.get("concluded_on"), as_of=r["as_of"],
        )  # fmt: skip
        for r in sorted(facts.public_records, key=lambda r: (r["status"] != "open", -_ordinal(r["decided_on"])))
    ]
    return liabilities, records


def _ordinal(day) -> int:
    return (day if isinstance(day, date) else date.fromisoformat(day)).toordinal()


def summary_section(accounts: list[dict], liabilities: list[dict] = (), public_records: list[dict] = ()) -> Summary:
    open_accounts = [a for a in accounts if a["status"] in OPEN_STATUSES]
    histories = "".join(a["payment_history"] for a in accounts) or "#"
    open_cards = [a for a in open_accounts if a["product"] == CARD]
    monthly = [a.get("minimum_due_fen") if a["product"] == CARD else a.get("scheduled_payment_fen")
               for a in open_accounts]  # fmt: skip
    active = [x for x in liabilities if x["status"] == "active"]
    return Summary(
        credit_cards=sum(a["product"] == CARD for a in accounts),
        card_limit_fen=sum(a["credit_limit_fen"] or 0 for a in open_cards),
        card_used_fen=sum(a["balance_fen"] for a in open_cards),
        monthly_debt_service_fen=sum(m for m in monthly if m is not None),
        accounts_without_schedule=sum(m is None for m in monthly),
        guaranteed_fen=sum(x["liability_fen"] for x in active if x["kind"] == "guarantee"),
        co_borrowed_fen=sum(x["liability_fen"] for x in active if x["kind"] == "co_borrower"),
        open_public_records=sum(r["status"] == "open" for r in public_records),
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


def multi_platform_section(accounts: list[dict], asked: list, rules, today: date) -> MultiPlatform:
    """Borrowing across platforms: how many hold an open account, recent openings and inquiries,
    and the unsecured balance against the lending caps."""

    def within(months: int, days: list[date]) -> int:
        start = add_months(today, -months)
        return sum(d > start for d in days)

    open_accounts = [a for a in accounts if a["status"] in OPEN_STATUSES]
    opened = [a["opened_on"] for a in accounts]
    asked_on = [q.created_at.date() for q in asked]
    return _multi_platform(
        rules, platforms=len({a["furnisher_id"] for a in open_accounts}),
        new_accounts=Counts(last_1m=within(1, opened), last_3m=within(3, opened), last_6m=within(6, opened)),
        inquiries=Counts(last_1m=within(1, asked_on), last_3m=within(3, asked_on), last_6m=within(6, asked_on)),
        outstanding=sum(a["balance_fen"] for a in open_accounts),
        unsecured=sum(a["balance_fen"] for a in open_accounts if a["product"] in UNSECURED),
    )  # fmt: skip


def _multi_platform(rules, *, platforms: int, new_accounts: Counts, inquiries: Counts, outstanding: int,
                    unsecured: int, agencies: int = 1) -> MultiPlatform:  # fmt: skip
    """The multi-platform section from its figures: the MULTI threshold and the caps (ML-2020,
    BANK-IL) applied in one place, for one agency's accounts or summed over the federation's."""
    return MultiPlatform(
        agencies=agencies,
        active_platforms=platforms,
        platform_threshold=rules.multi_platform_threshold,
        above_threshold=platforms > rules.multi_platform_threshold,
        new_accounts=new_accounts,
        inquiries=inquiries,
        total_outstanding_fen=outstanding,
        limits=[
            LoanLimit(rule="ML-2020", limit_fen=rules.individual_cap_fen, outstanding_fen=unsecured,
                      exceeded=unsecured > rules.individual_cap_fen),
            LoanLimit(rule="BANK-IL", limit_fen=rules.internet_consumer_cap_fen, outstanding_fen=unsecured,
                      exceeded=unsecured > rules.internet_consumer_cap_fen),
        ],
    )  # fmt: skip


def with_federation(report: CreditReport, outcomes: list[dict], rules, budget_ms: int) -> CreditReport:
    """The report with the federation's section and its multi-platform figures summed over this
    agency and every member that answered (federation.peers.collect's outcomes). A platform that
    furnishes the person's loans to two agencies counts at each: the summaries name no platform."""
    listed = [FederationMember(
        name=o["name"], uscc=o["uscc"], status=o["status"], held=o["held"], code=o.get("code"),
        summary=PeerFigures.model_validate(o["summary"].model_dump()) if o["summary"] is not None else None,
    ) for o in outcomes]  # fmt: skip
    answered = [m for m in listed if m.status == "answered"]
    figures = [m.summary for m in answered if m.summary is not None]
    local = report.multi_platform

    def counts(attr: str) -> Counts:
        mine = getattr(local, attr)
        return Counts(**{k: getattr(mine, k) + sum(getattr(getattr(f, attr), k) for f in figures)
                         for k in ("last_1m", "last_3m", "last_6m")})  # fmt: skip

    multi = _multi_platform(
        rules, agencies=1 + len(answered), platforms=local.active_platforms + sum(f.platforms for f in figures),
        new_accounts=counts("new_accounts"), inquiries=counts("inquiries"),
        outstanding=local.total_outstanding_fen + sum(f.total_outstanding_fen for f in figures),
        unsecured=local.limits[0].outstanding_fen + sum(f.unsecured_outstanding_fen for f in figures),
    )  # fmt: skip
    section = Federation(members=listed, partial=len(answered) < len(listed), budget_ms=budget_ms)
    return report.model_copy(update={"multi_platform": multi, "federation": section})


def consumption_section(spend: list[dict]) -> Consumption:
    by_category: dict[str, list[int]] = {}
    by_month: dict[str, list[int]] = {}
    for r in spend:
        for bucket in (by_category.setdefault(r["category"], [0, 0]), by_month.setdefault(r["month"], [0, 0])):
            bucket[0] += r["amount_fen"]
            bucket[1] += r["orders"]
    return Consumption(
        months=len(by_month),
        total_fen=sum(v[0] for v in by_month.values()),
        by_category=[
            CategorySpend(category=c, amount_fen=v[0], orders=v[1])
            for c, v in sorted(by_category.items(), key=lambda kv: -kv[1][0])
        ],
        by_month=[MonthSpend(month=m, amount_fen=v[0], orders=v[1]) for m, v in sorted(by_month.items())],
    )


def travel_section(trips: list[dict]) -> Travel:
    per_month: dict[str, list[int]] = {}
    for r in trips:
        bucket = per_month.setdefault(r["month"], [0, 0])
        bucket[0] += r["trips"]
        bucket[1] = max(bucket[1], r["cities"])  # cities are not additive across platforms
    return Travel(
        months=[TravelMonth(month=m, trips=v[0], cities=v[1]) for m, v in sorted(per_month.items())],
        total_trips=sum(v[0] for v in per_month.values()),
    )


def _sources(facts: Facts) -> list[Source]:
    sources = [Source(a["furnisher_id"], "loan", a["account_id"], 1) for a in facts.accounts]
    sources += [Source(x["furnisher_id"], "liability", x["record_key"], 1) for x in facts.liabilities]
    sources += [Source(r["furnisher_id"], "public_record", r["record_key"], 1) for r in facts.public_records]
    for record_type, rows in (("consumption", facts.spend), ("travel", facts.trips)):
        per_furnisher: dict[str, list[str]] = {}
        for r in rows:
            per_furnisher.setdefault(r["furnisher_id"], []).append(r["month"])
        for furnisher_id, months in per_furnisher.items():
            sources.append(Source(furnisher_id, record_type, f"{min(months)}..{max(months)}", len(months)))
    return sources


def fraud_alert_note(alert: dict | None) -> str | None:
    if alert is None:
        return None
    by = "the person" if alert["kind"] == "person" else "the agency, on a verified identity-theft report"
    return (f"fraud alert since {clock.legal_day(alert['placed_at']).isoformat()}, placed by {by}: verify the "
            "applicant's identity before lending")  # fmt: skip



def peer_summary(conn: Connection, runtime, person_token: str, today: date) -> dict:
    """What this agency tells another federation member about a person (issue 20): counts and
    sums only — never an account, a name, an institution or an identifier. The figures are the
    report's own (summary_section, multi_platform_section), so a peer's view and this agency's
    report can never count differently."""
    accounts, asked = read_all(conn, shown_accounts_read(runtime, person_token, today),
                               asked_about_read(person_token, clock.legal_start(add_months(today, -6))))
    summary = summary_section(accounts)
    multi = multi_platform_section(accounts, asked, runtime.settings.rules, today)
    return {
        "platforms": multi.active_platforms,
        "open_accounts": summary.open_accounts,
        "total_outstanding_fen": multi.total_outstanding_fen,
        "total_limit_fen": summary.total_limit_fen,
        "unsecured_outstanding_fen": multi.limits[0].outstanding_fen,  # what ML-2020 and BANK-IL sum over members
        "worst_status_24m": summary.worst_status_24m,
        "new_accounts": multi.new_accounts.model_dump(),
        "inquiries": multi.inquiries.model_dump(),
        "as_of": today.isoformat(),
    }
