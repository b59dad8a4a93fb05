"""In the browser: signing in by keyboard, the language switch, a page of one role refused
to another, signing out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LANGS, sign_in, t


@pytest.mark.parametrize("lang", LANGS)
def test_a_lender_is_refused_the_regulators_pages_and_signs_out(site, page, lang):
    sign_in(page, site, site.party("lender"), lang)
    assert page.url.endswith("/portal/lender")
    response = page.goto(f"{site.url}/portal/regulator")
    assert response.status == 403
    expect(page.get_by_role("heading", name=t(lang, "Not for your role", "无权访问"))).to_be_visible()
    page.get_by_role("button", name=t(lang, "Sign out", "退出登录")).click()
    page.wait_for_url(re.compile("/portal/signin"))
    page.goto(f"{site.url}/portal/lender")
    assert "/portal/signin" in page.url


def test_an_individual_cannot_open_an_organisations_pages(site, page):
    sign_in(page, site, site.party("individual"), "en")
    for role in ("lender", "furnisher", "regulator", "overseer", "agency"):
        assert page.goto(f"{site.url}/portal/{role}").status == 403, role


def test_the_language_switch_keeps_the_page(site, page):
    sign_in(page, site, site.party("regulator"), "zh_CN")
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.url.endswith("/portal/regulator")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"


def test_pages_read_without_javascript(site, browser):
    """Signing in, the dashboard's numbers and a person's report all work with scripts off."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, site, site.party("regulator"), "en")
        tables = page.locator("details.numbers table")
        assert tables.count() >= 5  # every chart's numbers are in the page itself
        assert page.locator("div.chart svg").count() == 0  # nothing was drawn: no script ran
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile("/portal/signin"))

        sign_in(page, site, site.party("individual", 3), "en")
        page.get_by_role("button", name="Show my report").click()
        page.wait_for_load_state()
        assert page.locator("table.statusgrid").count() >= 1
    finally:
        context.close()
