"""In the browser: the regulator reads the supervision dashboard's charts (drawn by the vendored
Vega) and decides a pending cross-border transfer from the queue."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LANGS, sign_in, t
from zhengxin.parties.service import authenticate
from zhengxin.transfers import service as transfers

pytestmark = pytest.mark.slow


def pending_transfer(site) -> str:
    """A platform asks to send a million persons' loans abroad: that waits for an assessment."""
    with site.runtime.transaction() as conn:
        platform = authenticate(conn, site.party("furnisher")["api_key"])
        made = transfers.request(
            conn, site.runtime, platform, destination="SG", recipient="Acme Analytics Pte. Ltd.",
            record_types=["loan"], persons=1_000_000, sensitive_persons=1_000_000, data_grade="general",
            separate_consent=True,
        )  # fmt: skip
    assert made["status"] == "pending", made
    return made["id"]


@pytest.mark.parametrize("lang", LANGS)
def test_the_regulator_reads_the_dashboard_and_decides_a_transfer(site, page, lang):
    transfer_id = pending_transfer(site)
    sign_in(page, site, site.party("regulator"), lang)
    expect(page.get_by_role("heading", name=t(lang, "Supervision dashboard", "监管看板"), level=1)).to_be_visible()
    charts = page.locator('div.chart[data-rendered="1"]')
    charts.nth(5).wait_for()  # all six drawn by vega-embed
    assert charts.count() == 6 and page.locator("div.chart svg").count() >= 6
    caption = t(lang, "Co-lent loans below the minimum platform share", "平台出资比例低于下限")
    expect(page.locator("figcaption", has_text=caption)).to_be_visible()

    page.get_by_role("link", name=t(lang, "Cross-border transfers", "数据出境")).first.click()
    card = page.locator("section.card", has_text=transfer_id)
    card.get_by_label(t(lang, "Note", "备注")).fill("Security assessment filed")
    card.get_by_role("button", name=t(lang, "Approve", "批准")).click()
    page.wait_for_load_state()
    done = t(lang, f"Transfer {transfer_id}: approved.", f"出境申请 {transfer_id}：已批准。")
    expect(page.get_by_role("status").filter(has_text=done)).to_be_visible()
