"""In the browser: the demo agency registers a lender, issues it a key and sees the secret once,
revokes the key, and sets a price in yuan."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from stdnum.cn import uscc as uscc_code

from tests.e2e.conftest import LANGS, sign_in, t
from zhengxin.kit.i18n import yuan

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("lang", LANGS)
def test_the_agency_registers_a_lender_issues_and_revokes_a_key_and_sets_a_price(site, page, lang):
    sign_in(page, site, site.party("agency"), lang)
    assert page.url.endswith("/portal/agency")
    expect(page.get_by_role("heading", name=t(lang, "Parties and keys", "机构与密钥"), exact=True)).to_be_visible()

    # Register a lender: its first key is on the answer, once.
    name = f"E2E Bank {lang}"
    body = "91440300" + ("000000001" if lang == "en" else "000000002")
    register = page.locator("form[method=post][action='/portal/agency/parties']")
    register.get_by_label(t(lang, "Role", "角色")).select_option("lender")
    register.get_by_label(t(lang, "Name", "名称"), exact=True).fill(name)
    register.get_by_label(re.compile(t(lang, "Unified social credit code", "统一社会信用代码"))).fill(
        body + uscc_code.calc_check_digit(body)
    )
    register.get_by_role("button", name=t(lang, "Register", "登记"), exact=True).click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name=t(lang, f"{name} is registered", f"{name} 已登记"))).to_be_visible()
    first_key = page.locator("#secret").input_value()
    assert first_key.startswith("zx_")

    # Issue it another key: the secret is shown with the warning to store it, then never again.
    page.get_by_role("link", name=t(lang, "back to parties and keys", "返回机构与密钥"), exact=False).click()
    row = page.get_by_role("row").filter(has_text=name)
    row.get_by_role("button", name=re.compile(t(lang, "Issue a new key", "签发新密钥"))).click()
    page.wait_for_load_state()
    expect(
        page.get_by_role("heading", name=t(lang, f"New API key for {name}", f"{name} 的新 API 密钥"))
    ).to_be_visible()
    expect(page.get_by_text(t(lang, "it is shown only this once", "它只显示这一次"))).to_be_visible()
    key = page.get_by_label(re.compile(t(lang, "API key", "API 密钥"))).input_value()
    assert key.startswith("zx_") and key != first_key
    key_id = key.split("_")[1]
    page.get_by_role("link", name=t(lang, "back to parties and keys", "返回机构与密钥"), exact=False).click()
    page.wait_for_load_state()
    assert key not in page.content() and first_key not in page.content()

    # Revoke it, after a confirmation; it is then shown as revoked.
    row = page.get_by_role("row").filter(has_text=name)
    row.get_by_role("link", name=re.compile(f"{t(lang, 'Revoke or rotate', '吊销或轮换')} {key_id}")).click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name=re.compile(key_id))).to_be_visible()
    page.get_by_role("button", name=t(lang, "Revoke key", "吊销密钥")).click()
    page.wait_for_load_state()
    expect(page.get_by_text(t(lang, f"Key {key_id} revoked", f"密钥 {key_id} 已吊销"))).to_be_visible()
    assert t(lang, "Revoked", "已吊销") in page.locator(f"#key-{key_id}").inner_text()
    assert t(lang, "Active", "有效") in page.locator(f"#key-{first_key.split('_')[1]}").inner_text()

    # Set a price (for a tier of its own, so no other test's charges change) and see it in yuan.
    page.get_by_role("link", name=t(lang, "Prices", "价格"), exact=True).click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name=t(lang, "Prices", "价格"), exact=True)).to_be_visible()
    tier = "e2e_" + lang[:2]
    page.get_by_label(t(lang, "Product", "产品")).select_option("report")
    page.get_by_label(t(lang, "Tier", "档位")).first.fill(tier)
    page.get_by_label(re.compile(t(lang, "Price in yuan", "价格（元"))).fill("2.75")
    page.get_by_role("button", name=t(lang, "Set price", "设定价格")).click()
    page.wait_for_load_state()
    shown = yuan(275, lang)
    expect(page.get_by_role("status").filter(has_text=shown)).to_be_visible()
    price_row = page.get_by_role("row").filter(has_text=tier)
    assert shown in price_row.inner_text()
    assert t(lang, "Credit report", "信用报告") in price_row.inner_text()
