"""The lender's pages through the portal: an inquiry's report, a refused inquiry with its code and
rule, the inquiry history and the invoices."""

from __future__ import annotations

import pytest

from tests.bureau import Bureau
from tests.records import loan
from tests.web.portal import post_form, sign_in

OVERDUE = {"negative_notice_ref": "NTC-1", "days_past_due": 45, "overdue_fen": 50000, "status": "overdue",
           "payment_history": "2N" + "N" * 18 + "####"}  # fmt: skip


@pytest.fixture
def bureau(client, parties) -> Bureau:
    return Bureau(client, parties)


def inquire(client, person_id: str, authorization_id: str, product: str = "report", purpose: str = "loan_application"):
    data = {"person_id": person_id, "authorization_id": authorization_id, "purpose": purpose, "product": product}
    return post_form(client, "/portal/lender", "/portal/lender", data)


def test_an_inquiry_shows_the_report_with_its_status_grid(client, bureau):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1, loan(1, **OVERDUE))
    granted = bureau.grant(person, bank)
    sign_in(client, bank.headers)
    form = client.get("/portal/lender")
    assert form.status_code == 200 and "<h1>Run an inquiry</h1>" in form.text
    assert "¥5.00" in form.text  # the report's price for this lender

    r = inquire(client, person.person_id, granted["id"])
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert "<h1>Credit report</h1>" in r.text
    assert "ACC-000001" in r.text and "Platform One" in r.text
    assert r.text.count('class="s-N"') >= 18 and 'class="s-2"' in r.text and 'class="s-none"' in r.text
    assert person.person_id not in r.text  # the report shows the identity masked

    history = client.get("/portal/lender/inquiries")
    assert history.status_code == 200 and granted["id"] in history.text and "Loan application" in history.text
    invoices = client.get("/portal/lender/invoices")
    assert invoices.status_code == 200 and "¥5.00" in invoices.text and "<h1>Invoices</h1>" in invoices.text


def test_an_inquiry_without_an_authorization_is_refused_with_its_code_and_rule(client, bureau):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    sign_in(client, bank.headers, lang="zh_CN")
    r = inquire(client, person.person_id, "auth_does_not_exist")
    assert r.status_code == 403
    assert "authorization_missing" in r.text and "CR-18" in r.text
    assert "<h1>查询信用报告</h1>" in r.text  # the form again, in Chinese
    assert "暂无" in client.get("/portal/lender/invoices").text  # nothing charged


def test_bad_inputs_are_refused_before_any_decision(client, bureau):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    granted = bureau.grant(person, bank)
    sign_in(client, bank.headers)
    wrong = person.person_id[:-1] + ("0" if person.person_id[-1] != "0" else "1")
    r = inquire(client, wrong, granted["id"])
    assert r.status_code == 422 and "resident_id_checksum" in r.text
    r = inquire(client, person.person_id, granted["id"], product="score")  # no live scoring model here
    assert r.status_code == 409 and "product_unavailable" in r.text
    r = inquire(client, person.person_id, granted["id"], purpose="curiosity")
    assert r.status_code == 422 and "invalid_purpose" in r.text


def test_the_inquiry_form_needs_the_csrf_token_and_the_lender_role(client, bureau, parties):
    bank = bureau.lender("Bank A", 1)
    sign_in(client, bank.headers)
    r = client.post("/portal/lender", data={"csrf_token": "forged", "person_id": "x", "authorization_id": "y",
                                                      "purpose": "loan_application", "product": "report"})  # fmt: skip
    assert r.status_code == 403 and "csrf_failed" in r.text
    _, furnisher = parties.add("furnisher")
    sign_in(client, furnisher)
    assert client.get("/portal/lender/inquiries").status_code == 403


def test_a_fraud_alert_needs_the_verification_box_ticked(client, parties):
    """Issue 18: while the person's file carries a fraud alert, the portal's inquiry is refused
    until the lender ticks that it verified the applicant, and the result says so in Chinese."""
    from tests.bureau import Bureau
    from tests.web.portal import post_form, sign_in

    bureau = Bureau(client, parties)
    person = bureau.person(1)
    lender = bureau.lender("Bank", 1)
    assert client.post("/v1/me/fraud-alerts", json={}, headers=person.headers).status_code == 201
    grant = bureau.grant(person, lender)
    sign_in(client, lender.headers, lang="zh_CN")
    form = {"person_id": person.person_id, "authorization_id": grant["id"], "purpose": "loan_application",
            "product": "report"}  # fmt: skip
    refused = post_form(client, "/portal/lender", "/portal/lender", form)
    assert refused.status_code == 409 and "fraud_alert_unconfirmed" in refused.text
    done = post_form(client, "/portal/lender", "/portal/lender", {**form, "applicant_identity_verified": "true"})
    assert done.status_code == 200, done.text
    assert "该个人信用档案有反欺诈警示" in done.text
