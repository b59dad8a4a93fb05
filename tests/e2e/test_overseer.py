"""In the browser: an overseer builds the period's protection report and downloads its PDF, then
browses the log and checks the signed heads before and after the publication for consistency."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LANGS, sign_in, t
from zhengxin.audit import service as audit

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("lang", LANGS)
def test_the_overseer_publishes_the_report_and_checks_the_log(site, page, lang):
    sign_in(page, site, site.party("overseer"), lang)
    page.get_by_role("link", name=t(lang, "Protection report", "保护报告")).click()
    page.get_by_label(t(lang, "Period (2026-Q4, 2026-11 or 2026)", "期间（2026-Q4、2026-11 或 2026）")).fill("2026-Q4")
    page.get_by_role("button", name=t(lang, "Build the report", "生成报告")).click()
    page.wait_for_url("**/portal/overseer/report?period=2026-Q4")
    expect(page.get_by_text("95%").first).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name=t(lang, "Download the PDF", "下载 PDF")).click()
    assert download.value.path().read_bytes().startswith(b"%PDF")

    # The report signed a head of the log as it stood; its publication is a new entry, and the
    # agency's signer signs the log again.
    audit.sequence_all(site.runtime.engine)
    with site.runtime.transaction() as conn:
        audit.sign_head(conn, audit.log_signer(site.runtime))
    page.get_by_role("link", name=t(lang, "The log", "日志")).click()
    expect(page.get_by_role("heading", name=t(lang, "The transparency log", "透明日志"))).to_be_visible()
    expect(page.get_by_role("cell", name="oversight.report").first).to_be_visible()
    older = page.get_by_label(t(lang, "Older tree size", "较早的树大小"))
    sizes = older.locator("option").all_inner_texts()
    assert len(sizes) >= 2
    older.select_option(sizes[-1])
    page.get_by_label(t(lang, "Newer tree size", "较新的树大小")).select_option(sizes[0])
    page.get_by_role("button", name=t(lang, "Check consistency", "检查一致性")).click()
    page.wait_for_load_state()
    expect(page.get_by_role("status").filter(has_text=t(lang, "Consistent:", "一致："))).to_be_visible()
