"""The credit report's sections computed from known records, masking, and naming by viewer
(RPT-1, RPT-2), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.bureau import Bureau
from tests.records import loan
from zhengxin.identity.resident_id import validate
from zhengxin.identity.tokens import person_token
from zhengxin.kit import clock
from zhengxin.kit.calendar import add_months
from zhengxin.reports.model import REPORT_VERSION, CreditReport
from zhengxin.reports.service import Viewer, assemble, mask_name, mask_phone, mask_resident_id

TODAY = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def bureau(client, parties) -> Bureau:
    with clock.frozen_at(TODAY):
        yield Bureau(client, parties)


def test_masks_keep_enough_to_recognise_and_no_more():
    assert mask_name("张伟") == "张*" and mask_name("欧阳娜娜") == "欧***" and mask_name(None) is None
    assert mask_resident_id("11010519900101001X") == "110105********001X"
    assert mask_phone("13800000001") == "138****0001"
    assert add_months(datetime(2026, 3, 31).date(), -1).isoformat() == "2026-02-28"


def test_sections_from_known_records(client, runtime, bureau, parties):
    _, platform_two = parties.add("furnisher", "Platform Two")
    bank = bureau.lender("Bank A", 1)
    with clock.frozen_at(TODAY):
        person = bureau.person(
            1,
            loan(1, co_lender_uscc=bank.uscc, platform_share=0.2),
            loan(1, account_id="ACC-B", status="overdue", days_past_due=45, overdue_fen=10_000,
                 negative_notice_ref="NTC-1", opened_on="2026-10-25", payment_history="21" + "N" * 22),
        )  # fmt: skip
        bureau.furnish(
            [loan(1, account_id="C-1", product="credit_line", principal_fen=None, credit_limit_fen=25_000_000,
                  balance_fen=24_000_000),
             loan(1, account_id="C-2", status="closed", balance_fen=0, closed_on="2026-06-30",
                  payment_history="C" + "N" * 23)],
            headers=platform_two,
        )  # fmt: skip
        granted = bureau.grant(person, bank)
        r = bureau.inquire(bank, person, granted["id"])
    assert r.status_code == 201, r.text
    report = CreditReport.model_validate(r.json()["report"])
    assert report.header.report_version == REPORT_VERSION and report.header.viewer == "lender"
    s = report.summary
    assert (s.accounts, s.open_accounts, s.closed_accounts, s.overdue_accounts) == (4, 3, 1, 1)
    assert s.total_balance_fen == 320_000 + 320_000 + 24_000_000
    assert s.total_limit_fen == 500_000 + 500_000 + 25_000_000  # open accounts only
    assert (s.overdue_fen, s.worst_days_past_due, s.worst_status_24m) == (10_000, 45, "2")
    m = report.multi_platform
    assert m.active_platforms == 2 and not m.above_threshold
    assert (m.new_accounts.last_1m, m.new_accounts.last_6m) == (1, 1)
    assert m.total_outstanding_fen == 24_640_000
    limits = {limit.rule: limit for limit in m.limits}
    assert limits["BANK-IL"].exceeded and not limits["ML-2020"].exceeded  # 246,400 yuan: over 200k, under 300k
    assert [a.account_id for a in report.accounts][-1] == "C-2"  # closed accounts last
    overdue = next(a for a in report.accounts if a.account_id == "ACC-B")
    assert [(g.month, g.status) for g in overdue.status_grid[:3]] == [("2026-10", "2"), ("2026-09", "1"),
                                                                      ("2026-08", "N")]  # fmt: skip
    assert len(overdue.status_grid) == 24
    (co,) = report.co_lending
    assert (co.account_id, co.platform_share, co.below_minimum, co.min_platform_share) == ("ACC-000001", 0.2, True, 0.3)
    assert co.co_lender.name == "Bank A"  # the viewer itself
    assert report.identity.name == "张*" and report.identity.phone == "138****0001"
    assert report.consumption is None and report.travel is None
    assert report.statements == [] and report.objections == []


def test_the_person_sees_every_institution_named_a_lender_sees_other_lenders_coded(client, runtime, bureau):
    bank_a, bank_b = bureau.lender("Bank A", 1), bureau.lender("Bank B", 2)
    with clock.frozen_at(TODAY):
        person = bureau.person(1, loan(1, co_lender_uscc=bank_b.uscc, platform_share=0.35))
        bureau.inquire(bank_b, person, bureau.grant(person, bank_b)["id"])
        token = person_token(runtime.pepper, validate(person.person_id))
        with runtime.engine.connect() as conn:
            as_lender = assemble(conn, runtime, token, viewer=Viewer("lender", bank_a.id), scopes=["loan"],
                                 today=TODAY.date(), now=TODAY).report  # fmt: skip
            as_person = assemble(conn, runtime, token, viewer=Viewer("individual", "pty_me"), scopes=["loan"],
                                 today=TODAY.date(), now=TODAY).report  # fmt: skip
    assert as_lender.co_lending[0].co_lender.name is None
    assert as_lender.inquiry_records[0].institution.name is None
    assert as_lender.accounts[0].furnisher.name == "Platform One"  # furnishers are named
    assert as_person.co_lending[0].co_lender.name == "Bank B"
    assert as_person.inquiry_records[0].institution.name == "Bank B"
    assert as_person.inquiry_records[0].institution.code == as_lender.inquiry_records[0].institution.code


def test_inquiry_records_reach_back_two_years_only(client, runtime, bureau):
    bank = bureau.lender("Bank A", 1)
    long_ago = datetime(2024, 11, 20, tzinfo=UTC)
    with clock.frozen_at(long_ago):
        person = bureau.person(1, loan(1, as_of="2024-10-31", opened_on="2024-01-01"))
        bureau.inquire(bank, person, bureau.grant(person, bank)["id"])
    with clock.frozen_at(datetime(2025, 6, 1, tzinfo=UTC)):
        bureau.inquire(bank, person, bureau.grant(person, bank)["id"])
    with clock.frozen_at(TODAY):
        report = bureau.inquire(bank, person, bureau.grant(person, bank)["id"]).json()["report"]
    assert [r["date"] for r in report["inquiry_records"]] == ["2025-06-01"]
