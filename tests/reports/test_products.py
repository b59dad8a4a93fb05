"""Banks furnish their cards, loans and guarantees; a public-records service its cases; reports
and scores show them (issue 18), on both databases, through the public HTTP surface."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from tests.bureau import Bureau
from tests.records import CONTENT_TYPES, ENCODERS, card, liability, loan, public_record
from zhengxin.flows import retention
from zhengxin.kit import clock
from zhengxin.records.tables import generic_records
from zhengxin.reports.scoring.features import of_rows


@pytest.fixture
def bureau(client, parties) -> Bureau:
    return Bureau(client, parties)


def post(client, headers: dict, records: list[dict], key: str) -> dict:
    r = client.post(
        "/v1/furnishing/batches", content=ENCODERS["jsonl"](records),
        headers={**headers, "Content-Type": CONTENT_TYPES["jsonl"], "Idempotency-Key": key},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


def errors(client, headers: dict, batch: dict) -> list[tuple[int, str]]:
    found = client.get(batch["errors_url"], headers=headers).json()["errors"]
    return sorted((e["line"], e["code"]) for e in found)


def self_report(client, headers: dict) -> dict:
    r = client.get("/v1/me/report", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["report"]


def test_a_lender_furnishes_its_cards_and_loans_and_sees_only_its_own_batches(client, bureau):
    bank = bureau.lender("Dongfang Bank", 1)
    batch = post(client, bank.headers, [
        card(1),
        card(2, minimum_due_fen=None),  # a card without its minimum due
        card(3, credit_limit_fen=None, principal_fen=2_000_000),  # a principal, not a limit
        card(4, statement_date="2026-11-02"),  # a statement after the as_of day
        loan(5, account_id="BANK-L5", scheduled_payment_fen=41_667, term_months=12),
    ], "bank-1")  # fmt: skip
    assert (batch["accepted"], batch["rejected"]) == (2, 3)
    assert errors(client, bank.headers, batch) == [(2, "card_terms_missing"), (3, "card_terms_missing"),
                                                   (4, "date_order")]  # fmt: skip
    mine = client.get("/v1/furnishing/batches", headers=bank.headers).json()
    assert [b["id"] for b in mine] == [batch["id"]]
    bureau.furnish([loan(6)])  # the platform's batch is not the bank's to see
    assert [b["id"] for b in client.get("/v1/furnishing/batches", headers=bank.headers).json()] == [batch["id"]]
    other = client.get(f"/v1/furnishing/batches/{bureau.furnish([loan(7)])['id']}", headers=bank.headers)
    assert other.status_code == 404


def test_a_card_reaches_the_report_its_summary_and_the_score_features(client, bureau, parties):
    bank = bureau.lender("Dongfang Bank", 1)
    post(client, bank.headers, [card(1)], "bank-1")
    person = bureau.person(1, loan(1, scheduled_payment_fen=45_000, term_months=12))
    report = self_report(client, person.headers)
    assert report["header"]["report_version"] == "1.4"
    assert [a["account_id"] for a in report["accounts"]] == ["ACC-000001"]  # the card is in its own part
    (c,) = report["credit_cards"]
    assert (c["account_id"], c["credit_limit_fen"], c["balance_fen"], c["minimum_due_fen"], c["utilisation"]) == (
        "CARD-000001", 2_000_000, 500_000, 50_000, 0.25)
    assert c["statement_date"] == "2026-10-20" and c["furnisher"]["name"] == "Dongfang Bank"
    assert len(c["status_grid"]) == 24
    s = report["summary"]
    assert (s["accounts"], s["credit_cards"], s["card_limit_fen"], s["card_used_fen"]) == (2, 1, 2_000_000, 500_000)
    assert s["monthly_debt_service_fen"] == 45_000 + 50_000 and s["accounts_without_schedule"] == 0
    assert report["accounts"][0]["scheduled_payment_fen"] == 45_000 and report["accounts"][0]["term_months"] == 12

    features = of_rows("p", date(2026, 10, 31), accounts=[
        _state(balance_fen=500_000, credit_limit_fen=2_000_000, principal_fen=None)
    ], asked_on=[], spend=None)  # fmt: skip
    assert features["utilisation"] == 0.25
    assert features["liabilities_for_others"] is None and features["open_public_records"] is None  # out of scope
    held = of_rows("p", date(2026, 10, 31), accounts=[_state()], asked_on=[], spend=None, public_records=[
        {"status": "open"}, {"status": "concluded"}], liabilities=[{"status": "active", "liability_fen": 500_000},
                                                                  {"status": "released", "liability_fen": 9}])
    assert (held["liabilities_for_others"], held["open_public_records"]) == (5000.0, 1.0)
    none = of_rows("p", date(2026, 10, 31), accounts=[_state()], asked_on=[], spend=None, public_records=[],
                   liabilities=[])  # fmt: skip
    assert (none["liabilities_for_others"], none["open_public_records"]) == (0.0, 0.0)  # in scope, none held


def test_a_guarantee_shows_the_covered_accounts_state_and_counts_as_a_liability(client, bureau):
    bank = bureau.lender("Dongfang Bank", 1)
    borrower_loan = loan(1, account_id="BANK-L1", status="overdue", days_past_due=40, overdue_fen=80_000,
                         negative_notice_ref="NTC-1", payment_history="2" + "N" * 19 + "####")  # fmt: skip
    batch = post(client, bank.headers, [
        borrower_loan,
        liability(2, account_id="BANK-L1"),
        liability(3, liability_id="GUA-X", account_id="BANK-L1", liability_fen=2_000_000),  # more than covered
        liability(4, liability_id="GUA-Y", account_id="BANK-L1", status="released"),  # released when?
        liability(5, liability_id="GUA-Z", kind="co_borrower", account_id="BANK-L1", liability_fen=1_000_000),
    ], "bank-1")  # fmt: skip
    assert errors(client, bank.headers, batch) == [(3, "liability_exceeds_amount"), (4, "release_date_missing")]
    guarantor = bureau.person(2)
    report = self_report(client, guarantor.headers)
    (x,) = report["liabilities"]
    assert (x["kind"], x["account_id"], x["amount_fen"], x["liability_fen"], x["status"]) == (
        "guarantee", "BANK-L1", 1_000_000, 500_000, "active")
    assert x["covered_account"] == {"status": "overdue", "balance_fen": 320_000, "overdue_fen": 80_000,
                                    "days_past_due": 40, "month": "2026-10"}  # fmt: skip
    assert report["summary"]["guaranteed_fen"] == 500_000 and report["summary"]["co_borrowed_fen"] == 0
    assert "ACC" not in str(x["covered_account"]) and borrower_loan["person_id"] not in str(report)

    lender = bureau.lender("Xinhe Finance", 2)
    grant = bureau.grant(guarantor, lender, scopes=["loan", "liability"], purpose="guarantee_review")
    r = bureau.inquire(lender, guarantor, grant["id"], purpose="guarantee_review")
    assert r.status_code == 201, r.text
    (seen,) = r.json()["report"]["liabilities"]
    assert seen["furnisher"]["name"] is None  # another lender: coded (RPT-2)
    narrow = bureau.grant(guarantor, lender, scopes=["loan"])
    assert bureau.inquire(lender, guarantor, narrow["id"]).json()["report"]["liabilities"] == []  # out of scope


def test_public_records_are_shown_refuse_withdrawal_and_go_five_years_after_conclusion(runtime, client, bureau):
    _, service = bureau.parties.add("furnisher", "Tianping Public Records")
    with clock.frozen_at(datetime(2026, 11, 2, 4, tzinfo=UTC)):
        batch = post(client, service, [
            public_record(1),
            public_record(1, case_number="(2020)tax-1", kind="tax_arrears", authority="国家税务总局北京市税务局",
                          decided_on="2019-03-01", status="concluded", concluded_on="2021-06-15"),
            public_record(1, case_number="(2021)x", status="concluded"),  # concluded when?
        ], "pub-1")  # fmt: skip
        assert errors(client, service, batch) == [(3, "conclusion_date_missing")]
        person = bureau.person(1)
        report = self_report(client, person.headers)
    assert [(r["kind"], r["status"]) for r in report["public_records"]] == [
        ("court_enforcement", "open"), ("tax_arrears", "concluded")]
    assert report["summary"]["open_public_records"] == 1
    refused = client.post("/v1/me/withdrawals", json={"record_type": "public_record"}, headers=person.headers)
    assert refused.status_code == 403 and refused.json()["code"] == "credit_record_kept_by_law"

    def kept() -> list[str]:
        with runtime.engine.connect() as conn:
            return sorted(conn.execute(select(generic_records.c.record_key)).scalars())

    def run_on(day: str) -> dict:
        with clock.frozen_at(datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)), runtime.transaction() as c:
            return retention.run(c, runtime, date.fromisoformat(day))

    assert run_on("2026-06-14")["erased"] == {}  # the day before: five years after 2021-06-15 is 2026-06-15
    assert run_on("2026-11-03")["erased"] == {"public_record": 1}
    assert kept() == ["(2025)京0105执0001号"]  # the open case stays while it is open


def _state(**overrides) -> dict:
    """An account as the store returns it (for the scoring features)."""
    state = {
        "furnisher_id": "f", "opened_on": date(2024, 1, 1), "status": "current", "balance_fen": 0,
        "credit_limit_fen": None, "principal_fen": 100_000, "days_past_due": 0, "payment_history": "N" * 24,
        "as_of": date(2026, 10, 31), "co_lender_uscc": None,
    }  # fmt: skip
    return {**state, **overrides}
