"""In the browser: the demo furnisher uploads a file with one good and one bad record (the upload
goes through the progress-bar script), filters the batch's error table, downloads the rejects,
and answers a person's dispute on the record it just furnished."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LANGS, sign_in, t
from tests.records import loan, resident_id, to_csv
from zhengxin.disputes.service import open_dispute
from zhengxin.parties.service import Actor, add_party

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("lang", LANGS)
def test_the_furnisher_uploads_reads_its_rejects_and_answers_a_dispute(site, page, lang, tmp_path):
    n = 900 + LANGS.index(lang)  # a person of our own, different in each language's run
    person_id = resident_id(n, birth="19851203")
    account = f"E2E-{lang}-{n}"
    good = loan(n, person_id=person_id, account_id=account, as_of="2026-10-31")
    bad = loan(n + 10, account_id=f"{account}-BAD", product="payday_loan")
    path = tmp_path / "loans.csv"
    path.write_bytes(to_csv([good, bad]))

    sign_in(page, site, site.party("furnisher"), lang)
    expect(page.get_by_role("heading", name=t(lang, "Upload and batches", "上传与批次"), level=1)).to_be_visible()
    uploads = []
    page.on("request", lambda r: uploads.append(r.resource_type) if r.method == "POST" else None)
    page.get_by_label(t(lang, "File", "文件"), exact=True).set_input_files(path)
    page.get_by_role("button", name=t(lang, "Upload", "上传文件")).click()
    page.wait_for_url(re.compile(r"/portal/furnisher/batches/bat_"))
    assert uploads == ["xhr"]  # sent by the progress-bar script, not a plain form post
    received = t(lang, "Received 2 records: 1 accepted, 1 rejected.", "收到 2 条记录：接收 1 条，拒收 1 条。")
    assert page.get_by_role("status").filter(has_text=received).is_visible()  # the flash survived the XHR

    kpis = page.locator(".kpi")
    assert [kpis.nth(i).locator("b").inner_text() for i in range(3)] == ["2", "1", "1"]
    matches = t(lang, "1 records match.", "符合条件的记录：1 条。")
    expect(page.get_by_text(matches)).to_be_visible()
    expect(page.get_by_role("cell", name="invalid_enum")).to_be_visible()

    page.get_by_label(t(lang, "Error code", "错误代码"), exact=True).select_option("invalid_enum")
    page.get_by_role("button", name=t(lang, "Filter", "筛选")).click()
    page.wait_for_url(re.compile(r"code=invalid_enum"))
    page.get_by_label(t(lang, "Field", "字段"), exact=True).select_option("product")
    page.get_by_role("button", name=t(lang, "Filter", "筛选")).click()
    page.wait_for_url(re.compile(r"field=product"))
    expect(page.get_by_text(matches).is_visible() and page.get_by_role("cell", name="invalid_enum")).to_be_visible()
    batch_url = page.url.split("?")[0]
    page.goto(f"{batch_url}?field=person_id")  # a field with no error in this batch
    expect(page.get_by_text(t(lang, "0 records match.", "符合条件的记录：0 条。"))).to_be_visible()
    page.goto(f"{batch_url}?code=invalid_enum")

    with page.expect_download() as download:
        page.get_by_role("link", name=t(lang, "Download the rejects (CSV)", "下载拒收记录（CSV）")).click()
    text = download.value.path().read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "line,record_type,field,code,rule,message,raw"
    assert "invalid_enum" in text and f"{account}-BAD" in text and person_id not in text

    # The person objects to the account just furnished (as on their own pages) ...
    with site.runtime.transaction() as conn:
        row, _ = add_party(conn, site.runtime.settings, role="individual", name=f"e2e-{n}", person_id=person_id)
        open_dispute(conn, site.runtime, Actor(row["id"], "individual", row["name"], row["person_token"]),
                     account_id=account, reason="Not my loan")  # fmt: skip
    # ... and the furnisher verifies it.
    page.get_by_role("link", name=t(lang, "Disputes", "异议")).click()
    card = page.locator("section.card", has_text=account)
    expect(card.get_by_text("Not my loan")).to_be_visible()
    card.get_by_label(t(lang, "Evidence reference", "证据编号")).fill("LEDGER-E2E")
    card.get_by_label(t(lang, "Note for the agency", "给征信机构")).fill("Contract on file")
    card.get_by_role("button", name=t(lang, "Send the answer", "提交答复")).click()
    page.wait_for_load_state()
    expect(page.get_by_text(t(lang, "Your answer was sent to the agency.", "您的答复已提交征信机构。"))).to_be_visible()
    expect(page.locator("section.card", has_text=account).get_by_text("LEDGER-E2E")).to_be_visible()


@pytest.mark.parametrize("lang", LANGS)
def test_the_furnisher_sees_obligations_statements_and_a_refused_file(site, page, lang, tmp_path):
    sign_in(page, site, site.party("furnisher"), lang)
    page.get_by_role("link", name=t(lang, "Obligations", "报送义务")).click()
    expect(page.get_by_text("Weekly loan status file (demo)")).to_be_visible()
    page.get_by_role("link", name=t(lang, "Revenue statements", "收入结算单")).click()
    expect(page.get_by_role("heading", name=t(lang, "Revenue statements", "收入结算单"))).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile(r"¥\d")).first).to_be_visible()

    page.get_by_role("link", name=t(lang, "Upload and batches", "上传与批次")).click()
    wrong = tmp_path / "notes.txt"
    wrong.write_text("hello")
    page.get_by_label(t(lang, "File", "文件"), exact=True).set_input_files(wrong)
    page.get_by_role("button", name=t(lang, "Upload", "上传文件")).click()
    page.wait_for_load_state()
    assert "[unsupported_media_type]" in page.get_by_role("alert").inner_text()
