"""The person's pages through the portal: the report with its grid and dispute links, the accesses
with their receipts, granting and revoking an authorization, a dispute and a statement, the export."""

from __future__ import annotations

import json

import pytest

from tests.bureau import Bureau
from tests.records import loan
from tests.web.portal import post_form, sign_in
from zhengxin.audit.verify import verify_receipt

LATE = {"days_past_due": 45, "overdue_fen": 50000, "status": "overdue", "negative_notice_ref": "NTC-1",
        "payment_history": "2N" + "N" * 18 + "####"}  # fmt: skip


@pytest.fixture
def bureau(client, parties) -> Bureau:
    return Bureau(client, parties)


def test_the_report_is_fetched_on_request_with_its_grid_legend_and_dispute_links(client, bureau):
    person = bureau.person(1, loan(1, **LATE))
    sign_in(client, person.headers, person.person_id, lang="zh_CN")
    home = client.get("/portal/me")
    assert home.status_code == 200 and "<h1>我的信用报告</h1>" in home.text
    assert "在线查询本人信用报告始终免费" in home.text and "今年剩余免费次数：2" in home.text

    r = post_form(client, "/portal/me", "/portal/me/report", {})
    assert r.status_code == 200, r.text
    assert "ACC-000001" in r.text and 'class="s-2"' in r.text and 'class="legend"' in r.text
    assert "/portal/me/disputes?account=ACC-000001" in r.text
    assert "在线查询免费" in r.text  # FEE-1: the portal is an online channel
    assert "今年剩余免费次数：2" in client.get("/portal/me").text  # the counter's free two are untouched


def test_accesses_carry_receipts_that_verify_and_only_the_persons_own(client, bureau):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    granted = bureau.grant(person, bank)
    assert bureau.inquire(bank, person, granted["id"]).status_code == 201
    other = bureau.person(2)
    sign_in(client, person.headers, person.person_id)
    page = client.get("/portal/me/accesses")
    assert page.status_code == 200 and "Bank A" in page.text and "data-receipt=" in page.text

    index = int(page.text.split('data-receipt="/portal/me/receipts/')[1].split(".json")[0])
    receipt = client.get(f"/portal/me/receipts/{index}.json").json()
    verify_receipt(receipt, {receipt["log_key"]["key_id"]: receipt["log_key"]["public_key"]})
    assert "inquiry" in json.loads(receipt["leaf"])["kind"]

    client.cookies.clear()
    sign_in(client, other.headers, other.person_id)
    refused = client.get(f"/portal/me/receipts/{index}.json")
    assert refused.status_code == 404 and "receipt_not_found" in refused.text


def test_granting_and_revoking_an_authorization(client, bureau):
    bureau.lender("Bank A", 1)
    person = bureau.person(1)
    sign_in(client, person.headers, person.person_id)
    page = client.get("/portal/me/authorizations")
    assert "You have not authorized anyone." in page.text and '<option value="Bank A">' in page.text
    data = {"lender": "Bank A", "purpose": "loan_application", "scopes": ["loan"], "products": ["report"]}
    r = post_form(client, "/portal/me/authorizations", "/portal/me/authorizations", data)
    assert r.status_code == 303
    page = client.get("/portal/me/authorizations")
    assert "granted to Bank A" in page.text and "active" in page.text
    authorization_id = page.text.split("/portal/me/authorizations/")[1].split("/revoke")[0]

    r = post_form(client, "/portal/me/authorizations", f"/portal/me/authorizations/{authorization_id}/revoke", {})
    assert r.status_code == 303
    assert f"Authorization {authorization_id} revoked." in client.get("/portal/me/authorizations").text
    listed = client.get("/v1/authorizations", headers=person.headers).json()
    assert [a["status"] for a in listed] == ["revoked"]


def test_a_bad_grant_shows_its_code_and_writes_nothing(client, bureau):
    person = bureau.person(1)
    sign_in(client, person.headers, person.person_id, lang="zh_CN")
    data = {"lender": "No Such Bank", "purpose": "loan_application", "scopes": ["loan"]}
    r = post_form(client, "/portal/me/authorizations", "/portal/me/authorizations", data)
    assert r.status_code == 404 and "lender_not_found" in r.text and "请求被拒绝" in r.text
    r = post_form(client, "/portal/me/authorizations", "/portal/me/authorizations", {**data, "scopes": []})
    assert r.status_code == 422 and "scopes_required" in r.text
    assert client.get("/v1/authorizations", headers=person.headers).json() == []


def test_a_dispute_is_opened_from_a_record_followed_and_withdrawn_and_a_statement_added(client, bureau):
    person = bureau.person(1)
    sign_in(client, person.headers, person.person_id)
    form = client.get("/portal/me/disputes?account=ACC-000001")
    assert 'value="ACC-000001"' in form.text
    r = post_form(
        client, "/portal/me/disputes", "/portal/me/disputes", {"account_id": "ACC-000001", "reason": "Not mine"}
    )
    assert r.status_code == 303
    page = client.get("/portal/me/disputes")
    assert "Dispute opened. The agency answers by" in page.text and "Not mine" in page.text
    assert "days left" in page.text and "Answer due by" in page.text

    r = post_form(client, "/portal/me/disputes", "/portal/me/disputes", {"account_id": "NOPE", "reason": "x"})
    assert r.status_code == 404 and "record_not_found" in r.text

    dispute_id = page.text.split("/portal/me/disputes/")[1].split("/withdraw")[0]
    r = post_form(client, "/portal/me/disputes", f"/portal/me/disputes/{dispute_id}/withdraw", {})
    assert r.status_code == 303 and "no longer flagged" in client.get("/portal/me/disputes").text

    data = {"account_id": "ACC-000001", "text": "I repaid late because of a hospital stay."}
    assert post_form(client, "/portal/me/disputes", "/portal/me/statements", data).status_code == 303
    assert "hospital stay" in client.get("/portal/me/disputes").text


def test_the_export_downloads_everything_held(client, bureau):
    person = bureau.person(1)
    sign_in(client, person.headers, person.person_id)
    assert "<h1>Download my data</h1>" in client.get("/portal/me/export").text
    r = client.get("/portal/me/export?download=true")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    api = client.get("/v1/me/export", headers=person.headers).json()
    assert {k: v for k, v in r.json().items() if k != "generated_at"} == {
        k: v for k, v in api.items() if k != "generated_at"
    }


def test_conflicting_identity_versions_are_shown_in_chinese(client, bureau, parties):
    """Issue 18: the person's report page lists every furnisher's version when they conflict."""
    from tests.records import CONTENT_TYPES, ENCODERS

    person = bureau.person(1, loan(1, name="张伟"))
    _, second = parties.add("furnisher", "Platform Two")
    r = client.post("/v1/furnishing/batches", content=ENCODERS["jsonl"]([loan(1, account_id="P2-1", name="李伟",
                    as_of="2026-11-30")]), headers={**second, "Content-Type": CONTENT_TYPES["jsonl"]})  # fmt: skip
    assert r.status_code == 201 and r.json()["accepted"] == 1
    sign_in(client, person.headers, person.person_id, lang="zh_CN")
    page = post_form(client, "/portal/me", "/portal/me/report", {})
    assert page.status_code == 200, page.text
    assert "各报送机构报送的您的身份信息" in page.text and "不一致" in page.text
    assert "Platform Two" in page.text and "李*" in page.text and "张*" in page.text and "张伟" not in page.text
    # The person objects to the other version from the page; the report then marks it.
    made = post_form(client, "/portal/me", "/portal/me/disputes/identity",
                     {"furnisher": "Platform Two", "reason": "我不姓李"})  # fmt: skip
    assert made.status_code == 303 and made.headers["location"] == "/portal/me/disputes"
    assert "报送的姓名和手机号" in client.get("/portal/me/disputes").text
    again = post_form(client, "/portal/me", "/portal/me/report", {})
    assert "对此版本提出异议" not in again.text.split("Platform Two")[1].split("</tr>")[0]  # already under dispute


def test_a_person_places_and_lifts_a_fraud_alert_from_the_portal(client, bureau):
    person = bureau.person(1)
    sign_in(client, person.headers, person.person_id, lang="zh_CN")
    assert "设置欺诈警示" in client.get("/portal/me").text
    r = post_form(client, "/portal/me", "/portal/me/fraud-alerts", {"statement": "手机丢失"})
    assert r.status_code == 303
    home = client.get("/portal/me").text
    assert "您的信用档案带有欺诈警示" in home and "已设置欺诈警示" in home
    (alert,) = client.get("/v1/me/fraud-alerts", headers=person.headers).json()["fraud_alerts"]
    assert alert["active"] and alert["statement"] == "手机丢失"
    report = post_form(client, "/portal/me", "/portal/me/report", {})
    assert "您的信用档案有反欺诈警示" in report.text
    r = post_form(client, "/portal/me", f"/portal/me/fraud-alerts/{alert['id']}/lift", {})
    assert r.status_code == 303 and "设置欺诈警示" in client.get("/portal/me").text
    assert client.get("/v1/me/fraud-alerts", headers=person.headers).json()["fraud_alerts"][0]["active"] is False
