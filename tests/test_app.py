"""The application shell: health, metrics, offline API docs, and the public route surface."""

from __future__ import annotations

import re

import pytest

from tests.records import CONTENT_TYPES, ENCODERS, loan, resident_id


def test_healthz_reports_the_database(client, runtime):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["database"] == runtime.engine.dialect.name
    assert r.json()["catalog_version"] == runtime.catalog.version


def test_metrics_count_requests_and_furnished_records(client, parties):
    _, h = parties.add("furnisher")
    client.post(
        "/v1/furnishing/batches",
        content=ENCODERS["csv"]([loan(1)]),
        headers={**h, "Content-Type": CONTENT_TYPES["csv"]},
    )
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=h).status_code == 403
    _, regulator = parties.add("regulator")
    _, agency = parties.add("agency")
    assert client.get("/metrics", headers=agency).status_code == 200
    text = client.get("/metrics", headers=regulator).text
    assert 'zhengxin_http_requests_total{method="POST",route="/v1/furnishing/batches",status="201"}' in text
    assert re.search(r'zhengxin_furnished_records_total\{outcome="accepted"\} [1-9]', text)


def test_docs_work_offline_with_assets_served_by_the_app(client):
    html = client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/") for a in assets), assets  # nothing from a CDN
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert client.get("/openapi.json").json()["info"]["title"] == "zhengxin"


def test_public_routes_are_pinned(client):
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {
        "/v1/furnishing/batches",
        "/v1/furnishing/batches/{batch_id}",
        "/v1/furnishing/batches/{batch_id}/errors",
        "/v1/furnishing/obligations",
        "/v1/parties",
        "/v1/parties/me",
        "/v1/authorizations",
        "/v1/authorizations/{authorization_id}",
        "/v1/authorizations/keys",
        "/v1/inquiries",
        "/v1/inquiries/{inquiry_id}",
        "/v1/billing/invoices",
        "/v1/billing/statements",
        "/v1/billing/prices",
        "/v1/policy",
        "/v1/policy/explain",
        "/v1/me/report",
        "/v1/me/accesses",
        "/v1/me/export",
        "/v1/me/disputes",
        "/v1/me/disputes/{dispute_id}",
        "/v1/me/receipts/{leaf_index}",
        "/v1/me/notifications",
        "/v1/me/webhook",
        "/v1/me/statements",
        "/v1/me/withdrawals",
        "/v1/furnishing/disputes",
        "/v1/furnishing/disputes/{dispute_id}/answer",
        "/v1/disputes",
        "/v1/disputes/{dispute_id}",
        "/v1/disputes/{dispute_id}/decision",
        "/v1/corrections",
        "/healthz",
    } <= paths


def test_bodies_over_their_cap_are_413_before_they_are_read(client, runtime, parties):
    """Issue 15, finding 11: a 100 MB JSON body was read and parsed before its 422."""
    _, person = parties.add("individual", person_id=resident_id(11))
    _, furnisher = parties.add("furnisher")
    big = b'{"lender": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = client.post("/v1/authorizations", content=big, headers={**person, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
    assert r.headers["content-type"] == "application/problem+json"

    def chunks():  # no Content-Length: the cap holds as the body streams
        for _ in range(40):
            yield b"x" * 65536

    r = client.post("/v1/authorizations", content=chunks(), headers={**person, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
    runtime.settings.max_batch_bytes = 4096
    r = client.post("/v1/furnishing/batches", content=b"x" * 5000, headers={**furnisher, "Content-Type": "text/csv"})
    assert r.status_code == 413 and r.json()["code"] == "batch_too_large"
    # Under the caps, requests go on as before.
    assert client.post("/v1/authorizations", json={}, headers=person).status_code == 422


@pytest.mark.parametrize("store", ["process", "redis"])
def test_rate_limits_answer_429_with_retry_after_and_show_in_metrics(runtime, parties, store):
    """Issue 15, finding 11: per key and per address, in Redis when configured."""
    import uuid

    from fastapi.testclient import TestClient

    from zhengxin.app import create_app

    limits = {"enabled": True, "per_key_per_second": 0.5, "per_key_burst": 3,
              "per_address_per_second": 1000, "per_address_burst": 1000}  # fmt: skip
    if store == "redis":
        limits["redis_url"] = "redis://127.0.0.1:6379/15"
    runtime.settings.rate_limits = type(runtime.settings.rate_limits)(**limits)
    _, lender = parties.add("lender", f"bank-{uuid.uuid4().hex[:6]}")  # a fresh key: a fresh bucket in Redis
    _, other = parties.add("lender", f"bank-{uuid.uuid4().hex[:6]}")
    _, regulator = parties.add("regulator")
    with TestClient(create_app(runtime=runtime), base_url="http://127.0.0.1") as client:
        assert [client.get("/v1/parties/me", headers=lender).status_code for _ in range(3)] == [200] * 3
        r = client.get("/v1/parties/me", headers=lender)
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert r.headers["content-type"] == "application/problem+json"
        assert int(r.headers["Retry-After"]) >= 1
        assert client.get("/v1/parties/me", headers=other).status_code == 200  # another key has its own
        runtime.settings.rate_limits.per_key_burst = 100  # (the regulator's own bucket)
        text = client.get("/metrics", headers=regulator).text
    assert 'zhengxin_rate_limited_total{scope="key"}' in text
    assert 'zhengxin_rate_limit{parameter="burst",scope="key"} 3.0' in text
    if store == "redis":  # the buckets were kept there, for every API node to share
        import redis

        assert redis.Redis.from_url(limits["redis_url"]).keys("zhengxin:rl:k:*")


def test_a_method_not_allowed_names_the_allowed_ones(client):
    r = client.delete("/v1/furnishing/batches")
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/problem+json"
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_the_openapi_document_lists_every_problem_answer(client):
    """Issue 15, finding 13: most routes did not document their 4xx or problem+json."""
    doc = client.get("/openapi.json").json()
    assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "code", "detail"]
    operations = [(p, m, op) for p, ops in doc["paths"].items() for m, op in ops.items() if p.startswith("/v1/")]
    assert len(operations) > 80
    for path, method, op in operations:
        needed = {"401", "403", "422", "429", "503"} | ({"404"} if "{" in path else set())
        needed |= {"413"} if method == "post" else set()
        assert needed <= set(op["responses"]), (method, path)
        for status in needed:
            schema = op["responses"][status]["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}
    assert "415" in doc["paths"]["/v1/furnishing/batches"]["post"]["responses"]  # uploads check their media type


def test_the_openapi_document_lists_the_catalogs_names(client, runtime):
    """Issue 15, finding 13: free-text purposes. The schema now lists the purposes and record
    types of the catalog in force, and the code refuses any other with its own code."""
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    purposes, record_types = list(runtime.catalog.purposes), list(runtime.catalog.record_types)
    assert schemas["AuthorizationCreate"]["properties"]["purpose"]["enum"] == purposes
    assert schemas["AuthorizationCreate"]["properties"]["scopes"]["items"]["enum"] == [*record_types, "federation"]
    assert schemas["InquiryCreate"]["properties"]["purpose"]["enum"] == purposes
    params = {p["name"]: p["schema"] for p in doc["paths"]["/v1/policy/explain"]["get"]["parameters"]}
    assert params["purpose"]["enum"] == [*purposes, "dispute_handling", "rights_request", "complaint"]
    assert params["action"]["enum"][:3] == ["furnish", "grant_authorization", "inquire"]
    assert "x-catalog" not in str(doc)
    person = {"Authorization": "Bearer nobody"}
    r = client.post("/v1/authorizations", json={"lender": "x", "purpose": "Marketing!", "scopes": ["loan"]},
                    headers=person)  # fmt: skip
    assert r.status_code in (401, 422)


def test_integers_beyond_what_the_databases_hold_are_refused_not_500(client, parties):
    """Found by scripts/fuzz.py: an error-page offset of 10^23 reached SQLite and overflowed."""
    _, furnisher = parties.add("furnisher")
    _, person = parties.add("individual", person_id=resident_id(901))
    huge = 163117645769600749535232
    r = client.get("/v1/furnishing/batches/bat_x/errors", params={"offset": huge}, headers=furnisher)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")
    r = client.get("/v1/log/proof/inclusion", params={"index": huge, "size": huge}, headers=furnisher)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")
    assert client.get(f"/v1/me/receipts/{huge}", headers=person).status_code == 404
    r = client.post("/v1/transfers", headers=furnisher, json={"destination": "SG", "recipient": "x", "record_types":
                    ["loan"], "persons": huge, "sensitive_persons": huge, "data_grade": "general"})  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")
