"""Driving the portal through its forms with the TestClient, as a browser would."""

from __future__ import annotations

import re

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def api_key(headers: dict) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def sign_in(client, headers: dict, person_id: str | None = None, lang: str = "en"):
    """Sign in with the key in these API headers (and the resident ID for an individual)."""
    client.get(f"/portal/lang/{lang}")
    page = client.get("/portal/signin")
    response = client.post(
        "/portal/signin",
        data={"csrf_token": csrf_of(page.text), "api_key": api_key(headers), "person_id": person_id or ""},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response


def post_form(client, page_url: str, action: str, data: dict, **kwargs):
    """Submit a form found on `page_url` with the session's CSRF token."""
    page = client.get(page_url)
    assert page.status_code == 200, page.text
    return client.post(action, data={"csrf_token": csrf_of(page.text), **data}, follow_redirects=False, **kwargs)
