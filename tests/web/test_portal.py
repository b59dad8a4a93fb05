"""The portal's shared parts: signing in and out, the session cookie, CSRF, role gates,
languages and the vendored assets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.web.portal import api_key, csrf_of, post_form, sign_in
from zhengxin.web import ROLE_MODULES

VENDOR = Path(__file__).parents[2] / "src" / "zhengxin" / "web" / "static" / "vendor"
PERSON_ID = "11010519491231002X"


def test_sign_in_sets_a_signed_httponly_strict_cookie_and_lands_on_the_role_home(client, parties):
    _, headers = parties.add("lender")
    response = sign_in(client, headers)
    assert response.headers["location"] == "/portal/lender"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/portal" in cookie
    assert api_key(headers).split("_", 2)[2] not in response.headers["set-cookie"]  # the secret never goes in it


def test_a_wrong_key_is_refused_on_the_sign_in_page(client):
    page = client.get("/portal/signin")
    response = client.post("/portal/signin", data={"csrf_token": csrf_of(page.text), "api_key": "zx_nope_nope"})
    assert response.status_code == 401
    assert "密钥无效或已被吊销" in response.text  # Chinese is the default


def test_an_individual_needs_their_own_resident_id(client, parties):
    _, headers = parties.add("individual", person_id=PERSON_ID)
    page = client.get("/portal/signin")
    response = client.post(
        "/portal/signin",
        data={"csrf_token": csrf_of(page.text), "api_key": api_key(headers), "person_id": "110105194912310037"},
    )
    assert response.status_code == 401
    assert sign_in(client, headers, person_id=PERSON_ID.lower()).headers["location"] == "/portal/me"


def test_a_form_without_the_session_csrf_token_is_refused(client, parties):
    _, headers = parties.add("lender")
    client.get("/portal/signin")
    response = client.post("/portal/signin", data={"csrf_token": "forged", "api_key": api_key(headers)})
    assert response.status_code == 403
    assert "csrf_failed" in response.text
    assert client.get("/portal/home", follow_redirects=False).headers["location"].startswith("/portal/signin")


@pytest.mark.parametrize("role", ["lender", "furnisher", "regulator", "overseer", "agency"])
def test_pages_of_another_role_are_refused(client, parties, role):
    _, headers = parties.add(role)
    sign_in(client, headers)
    others = [r for r in ("lender", "furnisher", "regulator", "overseer", "agency") if r != role]
    for other in others:
        response = client.get(f"/portal/{other}")
        assert response.status_code == 403, other
    assert client.get("/portal/me").status_code == 403


def test_revoking_the_key_ends_the_session_at_once(client, parties, runtime):
    from zhengxin.parties.service import key_id_of, revoke_key

    _, headers = parties.add("regulator")
    sign_in(client, headers)
    assert client.get("/portal/home", follow_redirects=False).headers["location"] == "/portal/regulator"
    with runtime.transaction() as conn:
        assert revoke_key(conn, key_id_of(api_key(headers)))
    assert client.get("/portal/home", follow_redirects=False).headers["location"].startswith("/portal/signin")


def test_signing_out_ends_the_session_on_the_server_for_every_copy_of_the_cookie(client, parties):
    _, headers = parties.add("lender")
    sign_in(client, headers)
    saved = client.cookies.get("zx_portal")  # what a thief or a careless browser kept
    response = post_form(client, "/portal/lender", "/portal/signout", {})
    assert response.headers["location"] == "/portal/signin"
    assert client.get("/portal/home", follow_redirects=False).headers["location"].startswith("/portal/signin")
    client.cookies.set("zx_portal", saved, path="/portal")
    replayed = client.get("/portal/lender", follow_redirects=False)
    assert replayed.status_code in (302, 303) and replayed.headers["location"].startswith("/portal/signin")


def test_a_session_expires_on_the_server(client, parties):
    from datetime import timedelta

    from zhengxin.kit import clock
    from zhengxin.web.core import SESSION_MAX_AGE

    _, headers = parties.add("lender")
    sign_in(client, headers)
    later = clock.now() + timedelta(seconds=SESSION_MAX_AGE + 1)
    assert client.get("/portal/lender", follow_redirects=False).status_code == 200
    with clock.frozen_at(later):  # the cookie's own max-age is the browser's business; the server checks
        assert client.get("/portal/lender", follow_redirects=False).headers["location"].startswith("/portal/signin")


def test_the_cookie_is_secure_except_over_plain_http_on_loopback(runtime, parties):
    from fastapi.testclient import TestClient

    from zhengxin.app import create_app

    _, headers = parties.add("lender")
    app = create_app(runtime=runtime)
    for base, secure in (("http://127.0.0.1:8000", False), ("http://localhost", False), ("http://[::1]", False),
                         ("https://127.0.0.1", True), ("http://portal.bank.example", True),
                         ("https://zhengxin.example", True), ("http://10.0.0.5", True)):  # fmt: skip
        with TestClient(app, base_url=base) as other:
            cookie = other.get("/portal/signin").headers["set-cookie"].lower()
            assert ("; secure" in cookie) is secure, (base, cookie)


def test_next_never_leaves_the_portal(client, parties):
    _, headers = parties.add("lender")
    page = client.get("/portal/signin?next=https://evil.example/")
    response = client.post(
        "/portal/signin",
        data={"csrf_token": csrf_of(page.text), "api_key": api_key(headers), "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/portal/lender"


def test_chinese_is_the_default_and_english_a_switch_away(client):
    assert "登录" in client.get("/portal/signin").text
    assert '<html lang="zh-CN">' in client.get("/portal/signin").text
    client.get("/portal/lang/en")
    page = client.get("/portal/signin").text
    assert '<html lang="en">' in page and "Sign in" in page and "登录" not in page


def test_every_role_has_its_pages():
    for name in ROLE_MODULES:
        from importlib import import_module

        assert import_module(f"zhengxin.web.{name}").router.routes, name


def test_assets_are_served_from_the_package_and_match_their_manifest(client):
    sums = dict(reversed(line.split()) for line in (VENDOR / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == {"htmx.min.js", "vega.min.js", "vega-lite.min.js", "vega-embed.min.js"}
    for name, digest in sums.items():
        body = client.get(f"/portal/static/vendor/{name}").content
        assert hashlib.sha256(body).hexdigest() == digest, name
    page = client.get("/portal/signin").text
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page  # no CDN


def test_pages_allow_scripts_only_from_the_portal_and_are_never_cached(client):
    response = client.get("/portal/signin")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["cache-control"] == "no-store"
