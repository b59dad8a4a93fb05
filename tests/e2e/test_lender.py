"""In the browser: the demo lender queries a person who authorized it, reads the report with its
repayment grid, buys a score with its reasons, and finds both in its history and invoice."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LANGS, sign_in, t
from zhengxin.consent.service import grant
from zhengxin.parties.service import Actor, find_party

pytestmark = pytest.mark.slow


def authorization_for(site, person: dict, lender: dict) -> str:
    """What the person would do on their own pages: authorize this lender (a fresh one per test)."""
    with site.runtime.reading() as conn:
        row = find_party(conn, person["name"], "individual")
    actor = Actor(row["id"], "individual", row["name"], row["person_token"])
    with site.runtime.transaction() as conn:
        granted = grant(conn, site.runtime, actor, lender=lender["name"], purpose="loan_application",
                        scopes=["loan", "consumption"])  # fmt: skip
    return granted["id"]


def run_inquiry(page, lang: str, person_id: str, authorization_id: str, product: str) -> None:
    page.get_by_label(t(lang, "Resident ID of the person", "被查询人居民身份证号")).fill(person_id)
    page.get_by_label(t(lang, "Authorization ID", "授权编号")).fill(authorization_id)
    page.get_by_label(t(lang, "Purpose", "查询用途")).select_option("loan_application")
    page.get_by_label(t(lang, "Product", "产品")).select_option(product)
    page.get_by_role("button", name=t(lang, "Run the inquiry", "提交查询")).click()
    page.wait_for_load_state()


@pytest.mark.parametrize("lang", LANGS)
def test_the_lender_queries_a_report_and_a_score(site, page, lang):
    lender, person = site.party("lender"), site.party("individual", 3)
    authorization_id = authorization_for(site, person, lender)
    sign_in(page, site, lender, lang)
    expect(page.get_by_role("heading", name=t(lang, "Run an inquiry", "查询信用报告"))).to_be_visible()

    run_inquiry(page, lang, person["person_id"], authorization_id, "report")
    expect(page.get_by_role("heading", name=t(lang, "Credit report", "信用报告"))).to_be_visible()
    assert person["person_id"] not in page.url and person["person_id"] not in page.content()  # masked
    grid = page.locator("table.statusgrid").first
    assert grid.is_visible() and grid.locator("td").count() == 24
    expect(page.get_by_text(t(lang, "Inquiries of the last two years", "近两年查询记录"))).to_be_visible()

    page.get_by_role("link", name=t(lang, "Run another inquiry", "再次查询")).click()
    run_inquiry(page, lang, person["person_id"], authorization_id, "score")
    expect(page.get_by_role("heading", name=t(lang, "Score", "信用评分"), level=1)).to_be_visible()
    assert page.locator("p.score b").inner_text().isdigit()
    expect(page.get_by_role("heading", name=t(lang, "Reasons", "原因"))).to_be_visible()

    page.get_by_role("link", name=t(lang, "Inquiry history", "查询记录")).click()
    expect(page.get_by_role("heading", name=t(lang, "Inquiry history", "查询记录"))).to_be_visible()
    assert page.get_by_text(authorization_id).count() == 2
    page.get_by_role("link", name=t(lang, "Invoices", "账单")).click()
    expect(page.get_by_role("heading", name=t(lang, "Invoices", "账单"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"¥\d")).first).to_be_visible()


@pytest.mark.parametrize("lang", LANGS)
def test_an_inquiry_without_authorization_is_refused_with_its_code(site, page, lang):
    sign_in(page, site, site.party("lender"), lang)
    run_inquiry(page, lang, site.party("individual", 4)["person_id"], "auth_none", "report")
    alert = page.get_by_role("alert")
    assert "authorization_missing" in alert.inner_text() and "CR-18" in alert.inner_text()
    assert t(lang, "Denied by policy", "依规则拒绝") in alert.inner_text()
