"""The overseers' pages through the portal: the log browser with a consistency check between two
signed heads, complaints without texts, and the protection report built, previewed and downloaded."""

from __future__ import annotations

from tests.bureau import Bureau
from tests.web.portal import post_form, sign_in
from zhengxin.audit import service as audit


def test_the_log_browser_shows_entries_heads_and_proves_consistency(client, parties, runtime):
    bureau = Bureau(client, parties)
    bureau.person(1)
    audit.sequence_all(runtime.engine)
    with runtime.transaction() as conn:
        first = audit.sign_head(conn, audit.log_signer(runtime))
    bureau.person(2)
    audit.sequence_all(runtime.engine)
    with runtime.transaction() as conn:
        second = audit.sign_head(conn, audit.log_signer(runtime))
    assert second["tree_size"] > first["tree_size"]
    _, overseer = parties.add("overseer", "Member One")
    sign_in(client, overseer)
    page = client.get("/portal/overseer")
    assert page.status_code == 200 and "<h1>The transparency log</h1>" in page.text
    assert first["root_hash"][:16] in page.text and "furnishing" in page.text

    checked = client.get(f"/portal/overseer?first={first['tree_size']}&second={second['tree_size']}")
    assert "Consistent: the tree of" in checked.text
    missing = client.get(f"/portal/overseer?first={first['tree_size'] + 1}&second={second['tree_size']}")
    assert missing.status_code == 404 and "head_not_found" in missing.text


def test_complaints_are_listed_without_texts(client, parties):
    _, person = parties.add("individual", person_id="11010519491231002X")
    r = client.post("/v1/me/complaints", json={"subject": "inquiry", "text": "A bank I never applied to"},
                    headers=person)  # fmt: skip
    assert r.status_code == 201, r.text
    _, overseer = parties.add("overseer", "Member One")
    sign_in(client, overseer, lang="zh_CN")
    page = client.get("/portal/overseer/complaints").text
    assert "inquiry" in page and "A bank I never applied to" not in page and "<h1>投诉</h1>" in page


def test_the_report_is_built_previewed_and_downloaded(client, parties):
    Bureau(client, parties).person(1)
    _, overseer = parties.add("overseer", "Member One")
    sign_in(client, overseer)
    r = post_form(client, "/portal/overseer/report", "/portal/overseer/report", {"period": "2026-Q4"})
    assert r.status_code == 303 and r.headers["location"] == "/portal/overseer/report?period=2026-Q4"
    page = client.get(r.headers["location"]).text
    assert "The report for 2026-Q4 was built." in page and "95%" in page
    pdf = client.get("/portal/overseer/report/2026-Q4/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    html = client.get("/portal/overseer/report/2026-Q4/html")
    assert html.status_code == 200 and "Personal information protection report" in html.text
    bad = post_form(client, "/portal/overseer/report", "/portal/overseer/report", {"period": "2026-Q5"})
    assert bad.status_code == 422 and "invalid_period" in bad.text
