"""In the browser: a person reads their report's grid, verifies a receipt of who accessed their data
with WebCrypto, authorizes a lender, and disputes a record from their report."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LANGS, sign_in, t

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("lang", LANGS)
def test_a_person_reads_verifies_authorizes_and_disputes(site, page, lang):
    person = site.party("individual", LANGS.index(lang))  # a person of their own in each language
    sign_in(page, site, person, lang)
    assert page.url.endswith("/portal/me")

    page.get_by_role("button", name=t(lang, "Show my report", "查看我的报告")).click()
    page.wait_for_load_state()
    expect(page.locator("table.statusgrid").first).to_be_visible()
    expect(page.locator(".legend").get_by_text(t(lang, "normal", "正常")).first).to_be_visible()
    dispute_link = page.get_by_role("link", name=t(lang, "Dispute this record", "对此记录提出异议")).first
    account = re.search(r"account=([^&]+)", dispute_link.get_attribute("href")).group(1)

    page.get_by_role("link", name=t(lang, "Who accessed my data", "谁访问了我的数据")).click()
    page.get_by_role("button", name=t(lang, "Verify", "验证")).first.click()
    verified = t(lang, "Verified: in the signed log", "已验证：该条目在已签名的日志中")
    page.locator(".verify-result.ok").first.wait_for()
    assert verified in page.locator(".verify-result.ok").first.inner_text()

    page.get_by_role("link", name=t(lang, "My authorizations", "我的授权")).click()
    page.get_by_label(t(lang, "Lender", "放贷机构"), exact=True).select_option(index=0)
    page.get_by_role("button", name=t(lang, "Grant", "授权"), exact=True).click()
    page.wait_for_load_state()
    expect(page.get_by_role("status").filter(has_text=re.compile(t(lang, "granted to", "授权")))).to_be_visible()

    page.get_by_role("link", name=t(lang, "My report", "我的报告")).click()
    page.goto(f"{site.url}/portal/me/disputes?account={account}")
    assert page.get_by_label(t(lang, "Account", "账户"), exact=True).first.input_value() == account
    page.get_by_label(t(lang, "What is wrong", "错误之处")).fill("I never took this loan")
    page.get_by_role("button", name=t(lang, "Open a dispute", "提出异议")).click()
    page.wait_for_load_state()
    expect(page.get_by_role("status").filter(has_text=t(lang, "Dispute opened", "异议已提交"))).to_be_visible()
    expect(page.get_by_text("I never took this loan")).to_be_visible()
    expect(page.get_by_text(re.compile(t(lang, r"\d+ days left", r"剩余 \d+ 天"))).first).to_be_visible()


def test_a_person_downloads_their_data(site, page):
    sign_in(page, site, site.party("individual", 2), "en")
    page.get_by_role("link", name="Download my data").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download (JSON)").click()
    assert download.value.suggested_filename == "zhengxin-export.json"
