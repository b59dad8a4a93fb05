"""Issue 16: report assembly is one fetch plus pure section builders. The sections are built here
from facts alone, with no database and no clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

from zhengxin.config import RuleParameters
from zhengxin.reports.service import Facts, InstitutionCodes, Naming, Viewer, build

TODAY = date(2026, 11, 30)


def account(n: int, **extra) -> dict:
    return {
        "furnisher_id": f"pty_platform{n % 2}", "account_id": f"ACC-{n}", "product": "consumer_loan",
        "opened_on": date(2026, 10 - n, 1), "closed_on": None, "principal_fen": 100_000, "credit_limit_fen": None,
        "balance_fen": 60_000, "overdue_fen": 0, "days_past_due": 0, "status": "current", "as_of": date(2026, 10, 31),
        "payment_history": "N" * 24, "co_lender_uscc": None, "platform_share": None, **extra,
    }  # fmt: skip


def facts(accounts: list[dict], asked: list) -> Facts:
    orgs = {f"pty_platform{i}": SimpleNamespace(id=f"pty_platform{i}", name=f"Platform {i}", role="furnisher")
            for i in (0, 1)}  # fmt: skip
    orgs["pty_bank"] = SimpleNamespace(id="pty_bank", name="A Bank", role="lender")
    spend = [
        {"furnisher_id": "pty_platform0", "month": "2026-10", "category": "food", "amount_fen": 500, "orders": 2},
        {"furnisher_id": "pty_platform1", "month": "2026-10", "category": "food", "amount_fen": 300, "orders": 1},
    ]
    return Facts(accounts, spend, [], asked, [], [], {"name": "张伟", "person_id": "110101199003071234",
                                                     "phone": "13800138000"}, orgs, {})  # fmt: skip


def test_a_report_is_built_from_its_facts_alone():
    asked = [SimpleNamespace(lender_id="pty_bank", purpose="loan_application", product="report",
                             created_at=datetime(2026, 11, 20, tzinfo=UTC))]  # fmt: skip
    overdue = account(2, status="overdue", days_past_due=45, overdue_fen=5_000, payment_history="2" + "N" * 23)
    built = facts([account(1), overdue, account(3, status="closed", balance_fen=0)], asked)
    naming = Naming(Viewer("lender", "pty_other"), InstitutionCodes(b"k" * 32), built.by_id, built.by_uscc)
    report = build(built, naming, RuleParameters(), scopes=["loan", "consumption"], today=TODAY,
                   now=datetime(2026, 11, 30, tzinfo=UTC), inquiry=None, catalog_version="test")  # fmt: skip
    assert (report.summary.accounts, report.summary.open_accounts, report.summary.overdue_accounts) == (3, 2, 1)
    assert report.summary.worst_status_24m == "2" and report.summary.worst_days_past_due == 45
    assert report.multi_platform.active_platforms == 2 and report.multi_platform.inquiries.last_1m == 1
    assert report.consumption.total_fen == 800 and report.consumption.by_category[0].orders == 3
    assert (report.identity.name, report.identity.resident_id) == ("张*", "110101********1234")
    # RPT-2: a lender sees another lender coded, a platform by name.
    assert report.inquiry_records[0].institution.name is None
    assert report.accounts[0].furnisher.name in ("Platform 0", "Platform 1")
    assert [a.status for a in report.accounts][-1] == "closed"  # open accounts first
