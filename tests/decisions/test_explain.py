"""The policies as published and the dry run, through HTTP on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.bureau import Bureau
from zhengxin.billing.tables import charges
from zhengxin.decisions.tables import policy_decisions


@pytest.fixture
def bureau(client, parties) -> Bureau:
    return Bureau(client, parties)


def test_the_policy_files_are_published_with_their_revision(client, runtime, bureau):
    body = client.get("/v1/policy", headers=bureau.platform).json()
    assert body["revision"] == runtime.policy.revision
    assert "permits.cedar" in body["files"] and '@id("CR-18")' in body["files"]["credit_investigation.cedar"]
    revoked = next(r for r in body["rules"] if r["code"] == "authorization_revoked")
    assert revoked["rule"] == "PIPL-15" and revoked["effect"] == "forbid" and "withdrawn" in revoked["text"]


def test_explain_decides_a_described_inquiry_without_naming_or_reading_anyone(client, runtime, bureau, parties):
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    bureau.grant(person, bank)
    _, regulator = parties.add("regulator", "PBOC")
    query = {"action": "inquire", "principal": bank.name}
    allowed = client.get("/v1/policy/explain", params=query, headers=regulator).json()
    assert allowed["decision"] == "allow" and allowed["rules"] == ["CR-18"]
    assert allowed["context"]["authorization"]["revoked"] is False and allowed["context"]["uses"] == 0
    assert allowed["request"]["resource"] == {"type": "Person", "id": "described"}

    cases = {  # a described situation -> the rule that denies it
        "revoked": ({"authorization": "revoked"}, "PIPL-15", "authorization_revoked"),
        "used up": ({"uses": 1}, "CR-18", "fair_use_exceeded"),
        "another lender's": ({"authorized_lender": "another"}, "CR-18", None),
        "none at all": ({"authorization": "none"}, "CR-18", None),
        "monitoring a closed account": ({"purpose": "post_loan_management"}, None, None),
    }
    for name, (extra, rule, code) in cases.items():
        denied = client.get("/v1/policy/explain", params={**query, **extra}, headers=bureau.agency).json()
        assert denied["decision"] == "deny", (name, denied)
        assert rule is None or rule in denied["rules"], (name, denied["rules"])
        assert code is None or denied["code"] == code, (name, denied["code"])
    monitored = {**query, "purpose": "post_loan_management", "open_account": True}
    assert client.get("/v1/policy/explain", params=monitored, headers=regulator).json()["decision"] == "allow"

    platform = client.get("/v1/policy/explain", params={**query, "principal": "Platform One"}, headers=regulator)
    assert "CR-18" in platform.json()["rules"] and platform.json()["decision"] == "deny"
    direct = client.get("/v1/policy/explain", params={"action": "furnish", "principal": "Platform One",
                                                      "recipient": bank.name}, headers=regulator).json()  # fmt: skip
    assert (direct["decision"], direct["rules"]) == ("deny", ["BDL-1"])
    core = client.get("/v1/policy/explain", params={"action": "export", "principal": bank.name, "data_grade": "core",
                                                    "separate_consent": True}, headers=regulator).json()  # fmt: skip
    assert "XB-CORE" in core["rules"]
    own = client.get("/v1/policy/explain", params={"action": "self_query", "principal": "person-1"},
                     headers=regulator).json()  # fmt: skip
    other = client.get("/v1/policy/explain", params={"action": "self_query", "principal": "person-1",
                                                     "own_data": False}, headers=regulator).json()  # fmt: skip
    assert (own["decision"], other["decision"]) == ("allow", "deny")

    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(charges)).scalar_one() == 0
        # the dry run records no decision (only the real grant acted)
        assert conn.execute(select(func.count()).select_from(policy_decisions)
                            .where(policy_decisions.c.action == "inquire")).scalar_one() == 0  # fmt: skip
        tokens = set(conn.execute(select(policy_decisions.c.person_token)).scalars()) - {None}
    assert tokens and not any(t in str(r) for t in tokens for r in (allowed, own, other, monitored))
    assert client.get("/v1/policy/explain", params=query, headers=bank.headers).status_code == 403
    r = client.get("/v1/policy/explain", params={**query, "action": "fly"}, headers=regulator)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request") and "action" in r.text
    r = client.get("/v1/policy/explain", params={**query, "purpose": "marketing"}, headers=regulator)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_purpose")
    r = client.get("/v1/policy/explain", params={**query, "purpose": "Loan Application; drop"}, headers=regulator)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")


def test_no_route_takes_a_personal_identifier_in_its_path_or_query_string(client):
    """Resident IDs, names and phones travel in bodies only: URLs end up in access logs, proxies
    and browser histories."""
    personal = {"person_id", "resident_id", "id_number", "name", "phone", "person_token", "token"}
    checked = 0
    for route in _api_routes(client.app.routes):
        params = _url_params(route.dependant)
        checked += 1
        assert not params & personal, (route.path, params & personal)
    assert checked > 100


def _url_params(dependant) -> set[str]:
    """The query and path parameters of a route and of every dependency it has, however deep."""
    found = {p.alias for p in (*dependant.query_params, *dependant.path_params)}
    for sub in dependant.dependencies:
        found |= _url_params(sub)
    return found


def _api_routes(routes):
    """Every route with a dependant, through included routers (FastAPI keeps them as a branch
    holding the original router)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)
        elif getattr(route, "dependant", None) is not None:
            yield route
