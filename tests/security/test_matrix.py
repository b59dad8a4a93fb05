"""Issue 15: the role x route matrix, generated from the app's own route table. Every API route
is tried with every role's key, a revoked key, and no key: a role the route does not admit gets
403 forbidden_role, a missing or revoked key 401, and nothing is ever a 5xx. A route that
declares no roles (neither `require(...)` nor any-party) and is not listed as public fails."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from tests.records import resident_id
from zhengxin.app import create_app
from zhengxin.kit.http import flat_routes
from zhengxin.parties.auth import current_actor
from zhengxin.parties.tables import ROLES

# Routes anyone may call, without a key.
PUBLIC = {("GET", "/healthz")}
# Routes a federation member calls with an RFC 9421 signature instead of a key (federation.signatures).
SIGNED = {
    ("POST", "/v1/federation/handshake"), ("POST", "/v1/federation/oprf"), ("POST", "/v1/federation/summaries"),
    ("POST", "/v1/federation/psi/exchange"), ("POST", "/v1/federation/psi/submissions"),
}


def _declared_roles(dependant) -> tuple[str, ...] | None:
    """The roles a route admits: those of its `require(...)`, all six for any party, None if
    it asks for no key at all."""
    found: list[tuple[str, ...]] = []
    anyone = False

    def walk(d):
        nonlocal anyone
        roles = getattr(d.call, "roles", None)
        if roles is not None:
            found.append(tuple(roles))
        if d.call is current_actor:
            anyone = True
        for sub in d.dependencies:
            walk(sub)

    walk(dependant)
    if found:
        return found[0]
    return ROLES if anyone else None


def api_routes(app) -> list[tuple[str, str, tuple[str, ...] | None]]:
    rows = []
    for route in flat_routes(app.routes):
        if not isinstance(route, APIRoute) or not (route.path.startswith("/v1/") or route.path == "/metrics"):
            continue
        for method in sorted(route.methods):
            rows.append((method, route.path, _declared_roles(route.dependant)))
    return rows


def test_every_api_route_declares_who_may_call_it(runtime):
    app = create_app(runtime=runtime)
    undeclared = [(m, p) for m, p, roles in api_routes(app) if roles is None and (m, p) not in PUBLIC | SIGNED]
    assert undeclared == [], f"routes with no declared role: {undeclared}"
    assert len(api_routes(app)) > 80  # the table was read, not an empty walk


def test_the_role_route_matrix(client, runtime, parties):
    keys = {}
    for role in ROLES:
        extra = {"person_id": resident_id(900)} if role == "individual" else {}
        _, keys[role] = parties.add(role, **extra)
    row, revoked = parties.add("lender", "revoked bank")
    from zhengxin.parties.service import revoke_key
    from zhengxin.parties.tables import api_keys

    with runtime.transaction() as conn:
        key_id = conn.execute(api_keys.select().where(api_keys.c.party_id == row["id"])).mappings().first()["id"]
        revoke_key(conn, key_id)
    failures, seen = [], {"forbidden": 0, "unauthenticated": 0, "admitted": 0}
    for method, path, roles in api_routes(client.app):
        url = re.sub(r"\{[^}]+\}", "zz_unknown", path)
        kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        for who in (*ROLES, "revoked", "none"):
            headers = keys.get(who) or (revoked if who == "revoked" else {})
            r = client.request(method, url, headers=headers, **kwargs)
            body = r.json() if r.headers.get("content-type", "").endswith("json") and r.content else None
            code = body.get("code") if isinstance(body, dict) else None
            expect_ok = roles is not None and who in roles
            seen["forbidden" if code == "forbidden_role" else "unauthenticated" if r.status_code == 401
                 else "admitted"] += 1  # fmt: skip
            if r.status_code >= 500:
                failures.append((method, path, who, r.status_code))
            elif who in ("revoked", "none") and roles is not None:
                if r.status_code != 401:
                    failures.append((method, path, who, r.status_code, "expected 401"))
            elif roles is not None and not expect_ok:
                if (r.status_code, code) != (403, "forbidden_role"):
                    failures.append((method, path, who, r.status_code, code, "expected 403 forbidden_role"))
            elif expect_ok and (r.status_code == 401 or code == "forbidden_role"):
                failures.append((method, path, who, r.status_code, code, "admitted role refused"))
    assert failures == [], failures[:20]
    assert min(seen.values()) > 100, seen  # every kind of answer was met, many times


def test_signed_routes_refuse_every_api_key(client, parties):
    """A key is not a member's signature: every role's key is refused as unsigned."""
    for role in ROLES:
        extra = {"person_id": resident_id(901)} if role == "individual" else {}
        _, headers = parties.add(role, **extra)
        for method, path in SIGNED:
            r = client.request(method, path, headers=headers, json={})
            assert (r.status_code, r.json()["code"]) == (401, "signature_missing"), (role, path)


@pytest.mark.parametrize("path", ["/healthz"])
def test_public_routes_answer_without_a_key(client, path):
    assert client.get(path).status_code == 200


EXPECTED = Path(__file__).with_name("route_roles.json")


def test_the_matrix_is_the_one_reviewed(runtime):
    """Who may call what is a decision, not a side effect: the table of every API route and the
    roles it admits is kept in route_roles.json, and a route added, removed or opened to
    another role fails here until that file is changed with it (regenerate it with
    `ZHENGXIN_WRITE_ROUTE_ROLES=1 pytest tests/security` and review the diff)."""
    routes = api_routes(create_app(runtime=runtime))
    table = {f"{m} {p}": sorted(roles) if roles else "public" for m, p, roles in routes}
    if os.environ.get("ZHENGXIN_WRITE_ROUTE_ROLES"):
        EXPECTED.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    assert table == json.loads(EXPECTED.read_text())
