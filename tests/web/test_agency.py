"""The agency's pages: parties and keys (register, issue, rotate, revoke), prices in yuan and
lender tiers, and the scoring model versions."""

from __future__ import annotations

import hashlib
import json
import re

from stdnum.cn import uscc as uscc_code

from tests.web.portal import api_key, csrf_of, post_form, sign_in
from zhengxin.kit import clock
from zhengxin.parties.service import key_id_of
from zhengxin.reports.scoring import service as scoring
from zhengxin.reports.scoring.model import MODEL_FORMAT

PERSON_ID = "11010519491231002X"
SECRET = re.compile(r'id="secret" class="secret" value="(zx_[^"]+)"')


def _uscc(n: int) -> str:
    body = f"91310000{n:09d}"
    return body + uscc_code.calc_check_digit(body)


def _agency(client, parties, lang="en"):
    agency, headers = parties.add("agency", name="The agency")
    sign_in(client, headers, lang=lang)
    return agency, headers


def _secret(html: str) -> str:
    match = SECRET.search(html)
    assert match, html
    return match.group(1)


def _register(client, **data):
    return post_form(client, "/portal/agency", "/portal/agency/parties", data)


def test_the_agency_registers_a_lender_and_sees_its_key_once(client, parties, runtime):
    _agency(client, parties)
    response = _register(client, role="lender", name="New Bank", uscc=_uscc(7))
    assert response.status_code == 200
    assert "New Bank is registered" in response.text and "shown only this once" in response.text
    key = _secret(response.text)
    page = client.get("/portal/agency")
    assert "New Bank" in page.text and key_id_of(key) in page.text
    assert key not in page.text and key.split("_", 2)[2] not in page.text  # never again after that page
    only_agencies = client.get("/portal/agency/parties?role=agency").text
    assert "The agency" in only_agencies and "New Bank" not in only_agencies
    # The key works: the new lender signs in to its own pages.
    client.cookies.clear()
    assert sign_in(client, {"Authorization": f"Bearer {key}"}).headers["location"] == "/portal/lender"


def test_a_refused_registration_shows_its_code_and_never_echoes_the_resident_id(client, parties):
    _agency(client, parties)
    response = _register(client, role="lender", name="No Code Bank")
    assert response.status_code == 422 and "uscc_required" in response.text
    assert 'value="No Code Bank"' in response.text  # the form keeps what was typed
    response = _register(client, role="individual", name="someone", person_id="110105194912310037")
    assert response.status_code == 422 and "resident_id_checksum" in response.text
    assert "110105194912310037" not in response.text
    response = _register(client, role="individual", name="a person", person_id=PERSON_ID)
    assert response.status_code == 200 and PERSON_ID not in response.text
    assert _register(client, role="individual", name="a person", person_id=PERSON_ID).status_code == 409
    assert "staff_not_allowed" in _register(client, role="lender", name="S", uscc=_uscc(8), staff="true").text
    assert _register(client, role="agency", name="Li Lei (staff)", staff="true").status_code == 200


def test_issue_revoke_and_a_revoked_key_cannot_sign_in(client, parties, runtime):
    _agency(client, parties)
    bank, bank_headers = parties.add("lender", name="Bank B")
    issued = post_form(client, "/portal/agency", f"/portal/agency/parties/{bank['id']}/keys", {})
    assert issued.status_code == 200 and "New API key for Bank B" in issued.text
    new_key = _secret(issued.text)
    old_id = key_id_of(api_key(bank_headers))

    confirm = client.get(f"/portal/agency/keys/{old_id}")
    assert confirm.status_code == 200 and "Revoking takes effect at once" in confirm.text
    response = client.post(
        f"/portal/agency/keys/{old_id}/revoke", data={"csrf_token": csrf_of(confirm.text)}, follow_redirects=False
    )
    assert response.status_code == 303
    page = client.get("/portal/agency")
    assert f"Key {old_id} revoked" in page.text
    assert re.search(rf'id="key-{old_id}">.*?Revoked', page.text, re.S)
    # Revoking again is refused with its code; the revoked key no longer signs in; the new one does.
    again = client.post(f"/portal/agency/keys/{old_id}/revoke", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 404 and "key_not_found" in again.text
    client.cookies.clear()
    signin = client.get("/portal/signin")
    refused = client.post("/portal/signin", data={"csrf_token": csrf_of(signin.text), "api_key": api_key(bank_headers)})
    assert refused.status_code == 401
    assert sign_in(client, {"Authorization": f"Bearer {new_key}"}).headers["location"] == "/portal/lender"


def test_rotating_issues_a_new_key_and_revokes_the_old_in_one_step(client, parties, runtime):
    _agency(client, parties)
    _, headers = parties.add("furnisher", name="Platform P")
    old_id = key_id_of(api_key(headers))
    response = post_form(client, f"/portal/agency/keys/{old_id}", f"/portal/agency/keys/{old_id}/rotate", {})
    assert response.status_code == 200 and f"Key {old_id} is revoked and replaced" in response.text
    new_key = _secret(response.text)
    page = client.get("/portal/agency").text
    assert re.search(rf'id="key-{old_id}">.*?Revoked', page, re.S)
    assert re.search(rf'id="key-{key_id_of(new_key)}">.*?Active', page, re.S)
    rotated = client.post(f"/portal/agency/keys/{old_id}/rotate", data={"csrf_token": csrf_of(page)})
    assert rotated.status_code == 409 and "key_not_active" in rotated.text


def test_revoking_the_agencys_own_key_signs_it_out(client, parties):
    _, headers = _agency(client, parties)
    own = key_id_of(api_key(headers))
    confirm = client.get(f"/portal/agency/keys/{own}")
    assert "revoking it signs you out" in confirm.text
    client.post(f"/portal/agency/keys/{own}/revoke", data={"csrf_token": csrf_of(confirm.text)})
    assert client.get("/portal/agency", follow_redirects=False).headers["location"].startswith("/portal/signin")


def test_the_price_list_in_yuan_and_setting_a_price(client, parties):
    _agency(client, parties)
    page = client.get("/portal/agency/prices")
    assert page.status_code == 200 and "CN¥5.00" in page.text  # the configured report price, 500 fen
    response = post_form(
        client,
        "/portal/agency/prices",
        "/portal/agency/prices",
        {"product": "score", "tier": "standard", "fee_yuan": "3.2"},
    )
    assert response.status_code == 303
    page = client.get("/portal/agency/prices").text
    assert "Price of Credit score (standard) set to CN¥3.20" in page
    row = re.search(r"<tr><td>Credit score</td><td>standard</td>\s*<td class=\"num\">([^<]+)</td>", page)
    assert row and row.group(1) == "CN¥3.20"


def test_a_bad_price_is_refused_with_its_code(client, parties):
    _agency(client, parties, lang="zh_CN")
    for typed, code, chinese in [
        ("1.234", "amount_too_precise", "价格最多两位小数"),
        ("-1.00", "negative_amount", "价格不能为负数"),
        ("five", "invalid_amount", "请输入以元为单位的金额"),
        ("100001", "invalid_request", "请检查以下字段"),  # above the API's own ceiling (10,000,000 fen)
    ]:
        data = {"product": "report", "tier": "standard", "fee_yuan": typed}
        response = post_form(client, "/portal/agency/prices", "/portal/agency/prices", data)
        assert response.status_code == 422 and code in response.text and chinese in response.text, typed
        assert f'value="{typed}"' in response.text  # kept in the form to correct
    past = {"product": "report", "tier": "standard", "fee_yuan": "4.00", "effective_from": "2000-01-01"}
    response = post_form(client, "/portal/agency/prices", "/portal/agency/prices", past)
    assert response.status_code == 422 and "price_in_the_past" in response.text


def test_placing_a_lender_in_a_tier(client, parties):
    _agency(client, parties)
    bank, _ = parties.add("lender", name="Small Bank")
    response = post_form(
        client, "/portal/agency/prices", "/portal/agency/tiers", {"lender": bank["id"], "tier": "small"}
    )
    assert response.status_code == 303
    page = client.get("/portal/agency/prices").text
    assert "Small Bank is now in tier small" in page and "<td>Small Bank</td><td>small</td>" in page
    refused = post_form(client, "/portal/agency/prices", "/portal/agency/tiers", {"lender": bank["id"], "tier": "gold"})
    assert refused.status_code == 422 and "unknown_tier" in refused.text


def _model(seed: int) -> tuple[dict, dict]:
    """A tiny registered-shape scorecard (its content named by its digest, as training makes it)."""
    model = {"format": MODEL_FORMAT, "scaling": {"base_points": 600, "base_odds": 50, "pdo": 20},
             "features": [{"name": "f", "trend": "auto", "splits": [float(seed)], "points": [10.0, 20.0],
                           "missing_points": 0.0}]}  # fmt: skip
    digest = hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()
    model["version"] = f"sc-2026010{seed}000000-{digest[:8]}"
    split = {"auc": 0.7812, "gini": 0.5624, "ks": 0.4321, "rows": 100, "event_rate": 0.1}
    card = {"version": model["version"], "model_sha256": digest, "trained_at": f"2026-01-0{seed}T00:00:00Z",
            "data": {"target": "bad", "rows": 100, "event_rate": 0.1}, "method": "test", "scaling": model["scaling"],
            "features": [], "metrics": {"train": split, "test": split, "psi_train_test": 0.01}}  # fmt: skip
    return model, card


def test_model_versions_their_card_and_making_one_live(client, parties, runtime):
    _agency(client, parties)
    assert "No model is registered" in client.get("/portal/agency/models").text
    (first, first_card), (second, second_card) = _model(1), _model(2)
    with runtime.transaction() as conn:
        scoring.register(conn, first, first_card, now=clock.now())
        scoring.activate(conn, first["version"], now=clock.now())
        scoring.register(conn, second, second_card, now=clock.now())
    page = client.get("/portal/agency/models")
    assert page.status_code == 200 and "0.7812" in page.text and "0.4321" in page.text and "0.5624" in page.text
    assert "Registered, not live" in page.text and "Live" in page.text
    card = client.get(f"/portal/agency/models/{second['version']}/card")
    assert card.status_code == 200 and f"Scorecard {second['version']}" in card.text
    response = post_form(client, "/portal/agency/models", f"/portal/agency/models/{second['version']}/activation", {})
    assert response.status_code == 303
    page = client.get("/portal/agency/models").text
    assert f"Model {second['version']} is now live" in page and "Retired" in page
    with runtime.reading() as conn:
        assert scoring.live_model(conn)["version"] == second["version"]
    missing = post_form(client, "/portal/agency/models", "/portal/agency/models/sc-none/activation", {})
    assert missing.status_code == 404 and "model_not_found" in missing.text


def test_pages_read_in_chinese_and_forms_need_the_csrf_token(client, parties):
    _agency(client, parties, lang="zh_CN")
    for url, heading in [
        ("/portal/agency", "机构与密钥"),
        ("/portal/agency/prices", "价格"),
        ("/portal/agency/models", "模型版本"),
    ]:
        page = client.get(url)
        assert page.status_code == 200 and f"<h1>{heading}</h1>" in page.text, url
        assert 'aria-current="page">' + heading in page.text
    forged = client.post("/portal/agency/parties", data={"csrf_token": "forged", "role": "lender", "name": "X"})
    assert forged.status_code == 403 and "csrf_failed" in forged.text


def test_other_roles_are_refused(client, parties):
    _, headers = parties.add("regulator")
    sign_in(client, headers)
    for url in ("/portal/agency", "/portal/agency/prices", "/portal/agency/models"):
        assert client.get(url).status_code == 403
