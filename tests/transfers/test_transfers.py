"""Cross-border transfers through the public surface: the gate's routes at every threshold
(XB-CORE, XB-ASSESS, XB-SC, XB-EXEMPT, CR-24), cumulative counting over the year (XB-SPLIT),
the regulator's decision and its validity (XB-VALID), and the one export an approval allows."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.bureau import Bureau
from tests.records import consumption, loan, resident_id, travel
from zhengxin.app import create_app
from zhengxin.audit import service as audit
from zhengxin.audit.tables import log_leaves
from zhengxin.catalog.model import DEFAULT_PATH
from zhengxin.kit import clock
from zhengxin.runtime import Runtime

# A record type held for something other than judging credit: it serves no catalog purpose.
NEWSLETTER = """
[record_types.newsletter]
description = "Newsletter subscriptions, kept for mailing only"
store = "generic"
key = ["list_id"]
retention = "12 months"
retention_months = 12
purposes = []
[record_types.newsletter.fields.list_id]
type = "ref"
required = true
"""


def ask(**overrides) -> dict:
    return {
        "destination": "SG",
        "recipient": "Acme Analytics Pte. Ltd.",
        "record_types": ["consumption"],
        "persons": 10,
        "sensitive_persons": 0,
        "data_grade": "general",
        "separate_consent": True,
        **overrides,
    }


def post(client, headers, **overrides):
    return client.post("/v1/transfers", json=ask(**overrides), headers=headers)


def requested(client, headers, **overrides) -> dict:
    r = post(client, headers, **overrides)
    assert r.status_code == 201, r.text
    return r.json()


def decide(client, headers, transfer_id, decision="approve", note="Filed contract checked"):
    return client.post(f"/v1/transfers/{transfer_id}/decision", json={"decision": decision, "note": note},
                       headers=headers)  # fmt: skip


def logged(runtime, prefix="transfer.") -> list[dict]:
    audit.sequence_all(runtime.engine)
    with runtime.reading() as conn:
        leaves = conn.execute(select(log_leaves.c.leaf).order_by(log_leaves.c.leaf_index)).scalars()
        return [json.loads(leaf) for leaf in leaves if json.loads(leaf)["kind"].startswith(prefix)]


@pytest.fixture
def regulator(parties):
    return parties.add("regulator", "PBOC Credit Bureau Division")[1]


@pytest.fixture
def exports_dir(runtime, tmp_path) -> Path:
    runtime.settings.data_dir = tmp_path
    return tmp_path / "transfers"


@pytest.fixture
def plain_client(runtime, tmp_path):
    """A deployment whose catalog also holds a record type that is not credit data."""
    path = tmp_path / "catalog.toml"
    path.write_text(DEFAULT_PATH.read_text(encoding="utf-8") + NEWSLETTER, encoding="utf-8")
    other = Runtime(runtime.settings.model_copy(update={"catalog_path": path}), engine=runtime.engine)
    with TestClient(create_app(runtime=other)) as c:
        yield c


# The gate ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persons", "sensitive", "route", "rules"),
    [
        (99_999, 0, "standard_contract", ["XB-SC", "CR-24"]),  # exempt by volume, but credit data
        (100_000, 0, "standard_contract", ["XB-SC"]),
        (999_999, 0, "standard_contract", ["XB-SC"]),
        (1_000_000, 0, "security_assessment", ["XB-ASSESS"]),
        (50_000, 0, "standard_contract", ["XB-SC", "CR-24"]),
        (50_000, 1, "standard_contract", ["XB-SC"]),
        (50_000, 9_999, "standard_contract", ["XB-SC"]),
        (50_000, 10_000, "security_assessment", ["XB-ASSESS"]),
    ],
)
def test_credit_data_routes_at_the_thresholds(client, parties, persons, sensitive, route, rules):
    _, platform = parties.add("furnisher")
    out = requested(client, platform, persons=persons, sensitive_persons=sensitive)
    assert (out["route"], out["status"], out["rules"]) == (route, "pending", rules)
    assert out["credit_data"] is True
    assert (out["cumulative_persons"], out["cumulative_sensitive"]) == (persons, sensitive)
    assert out["valid_until"] is None and out["reason"]


@pytest.mark.parametrize(
    ("persons", "sensitive", "route", "status", "rules"),
    [
        (99_999, 0, "exempt", "approved", ["XB-EXEMPT"]),
        (100_000, 0, "standard_contract", "pending", ["XB-SC"]),
        (999_999, 0, "standard_contract", "pending", ["XB-SC"]),
        (1_000_000, 0, "security_assessment", "pending", ["XB-ASSESS"]),
        (10, 1, "standard_contract", "pending", ["XB-SC"]),
        (10_000, 9_999, "standard_contract", "pending", ["XB-SC"]),
        (10_000, 10_000, "security_assessment", "pending", ["XB-ASSESS"]),
    ],
)
def test_other_data_routes_at_the_thresholds(plain_client, parties, persons, sensitive, route, status, rules):
    _, platform = parties.add("furnisher")
    out = requested(plain_client, platform, record_types=["newsletter"], persons=persons, sensitive_persons=sensitive)
    assert (out["route"], out["status"], out["rules"]) == (route, status, rules)
    assert out["credit_data"] is False


def test_credit_data_never_takes_the_exemption(plain_client, parties):
    _, platform = parties.add("furnisher")
    alone = requested(plain_client, platform, record_types=["newsletter"], persons=5)
    assert (alone["route"], alone["status"]) == ("exempt", "approved")
    _, other = parties.add("furnisher")
    mixed = requested(plain_client, other, record_types=["newsletter", "consumption"], persons=5)
    assert (mixed["route"], mixed["status"], mixed["rules"]) == ("standard_contract", "pending", ["XB-SC", "CR-24"])


def test_the_gate_grades_by_the_catalog_whatever_the_request_declares(client, parties, runtime):
    """Issue 18: travel is graded important in the catalog (DSL-21); declared general, it still
    needs a security assessment (DSL-31, XB-ASSESS), not a standard contract, and the request
    keeps the higher grade and names why."""
    from zhengxin.transfers.service import catalog_grade

    assert catalog_grade(runtime.catalog, ["travel"]) == "important"
    assert catalog_grade(runtime.catalog, ["consumption"]) == "general"
    _, platform = parties.add("furnisher")
    travel = requested(client, platform, record_types=["travel"], persons=10, sensitive_persons=10,
                       data_grade="general")  # fmt: skip
    assert (travel["route"], travel["status"], travel["data_grade"]) == ("security_assessment", "pending", "important")
    assert travel["rules"] == ["XB-ASSESS", "DSL-31", "DSL-21"]
    # Declared as the catalog grades it, or higher, nothing is added.
    declared = requested(client, platform, record_types=["travel"], persons=10, sensitive_persons=10,
                         data_grade="important")  # fmt: skip
    assert declared["rules"] == ["XB-ASSESS", "DSL-31"]
    mixed = requested(client, platform, record_types=["consumption", "travel"], persons=10, sensitive_persons=10)
    assert mixed["data_grade"] == "important" and "DSL-21" in mixed["rules"]
    general = requested(client, platform, record_types=["consumption"], persons=10)
    assert general["data_grade"] == "general" and "DSL-21" not in general["rules"]


def test_core_data_is_denied_and_important_data_needs_an_assessment(client, parties, regulator):
    _, platform = parties.add("furnisher")
    core = requested(client, platform, data_grade="core", persons=1)
    assert (core["route"], core["status"], core["rules"]) == ("denied", "denied", ["XB-CORE"])
    important = requested(client, platform, data_grade="important", persons=1)
    assert (important["route"], important["status"]) == ("security_assessment", "pending")
    assert important["rules"] == ["XB-ASSESS", "DSL-31"]
    # Both by grade and by volume: both rules are named.
    big = requested(client, platform, data_grade="important", persons=1_000_000)
    assert (big["route"], big["rules"]) == ("security_assessment", ["XB-ASSESS", "DSL-31"])
    # A denied request was never live: it counts towards nothing and cannot be decided.
    assert important["cumulative_persons"] == 1
    r = decide(client, regulator, core["id"])
    assert r.status_code == 409 and r.json()["code"] == "transfer_not_pending"


def test_without_the_persons_separate_consent_it_is_denied(client, parties):
    _, platform = parties.add("furnisher")
    out = requested(client, platform, separate_consent=False, persons=100_000)
    assert (out["route"], out["status"], out["rules"]) == ("standard_contract", "denied", ["XB-SC", "PIPL-39"])
    # Nobody's personal information, nobody's consent to ask.
    empty = requested(client, platform, separate_consent=False, persons=0)
    assert empty["status"] == "pending" and empty["rules"] == ["XB-SC", "CR-24"]


def test_a_foreign_authority_waits_for_the_regulator_even_when_exempt(plain_client, parties):
    _, platform = parties.add("furnisher")
    out = requested(plain_client, platform, record_types=["newsletter"], foreign_authority=True)
    assert (out["route"], out["status"], out["rules"]) == ("exempt", "pending", ["XB-EXEMPT", "PIPL-41"])


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"destination": "CN"}, "not_cross_border"),
        ({"destination": "cn"}, "not_cross_border"),
        ({"destination": "XX"}, "invalid_destination"),
        ({"destination": "SGP"}, "invalid_request"),
        ({"record_types": ["loan", "horoscope"]}, "unknown_record_type"),
        ({"record_types": []}, "invalid_request"),
        ({"persons": 10, "sensitive_persons": 11}, "sensitive_exceeds_persons"),
        ({"persons": -1}, "invalid_request"),
        ({"sensitive_persons": -1}, "invalid_request"),
        ({"data_grade": "secret"}, "invalid_data_grade"),
        # Loan and travel records hold sensitive PI (PIPL-28) of every person in them.
        ({"record_types": ["loan"], "persons": 10, "sensitive_persons": 0}, "sensitive_persons_understated"),
        ({"record_types": ["travel", "consumption"], "persons": 10, "sensitive_persons": 9},
         "sensitive_persons_understated"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_and_leave_nothing(client, parties, overrides, code):
    _, platform = parties.add("furnisher")
    r = post(client, platform, **overrides)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert client.get("/v1/transfers", headers=platform).json()["transfers"] == []


def test_hong_kong_is_a_cross_border_destination(client, parties):
    _, platform = parties.add("furnisher")
    assert requested(client, platform, destination="HK")["destination"] == "HK"


# Cumulative counting (XB-SPLIT) ------------------------------------------------------------------


def test_requests_are_counted_together_over_the_year(client, parties, regulator):
    _, platform = parties.add("furnisher")
    _, other = parties.add("furnisher")
    first = requested(client, platform, persons=600_000)
    assert (first["route"], first["rules"]) == ("standard_contract", ["XB-SC"])
    second = requested(client, platform, persons=500_000)  # each under 1,000,000; together over
    assert (second["route"], second["rules"]) == ("security_assessment", ["XB-ASSESS", "XB-SPLIT"])
    assert (second["cumulative_persons"], second["cumulative_sensitive"]) == (1_100_000, 0)
    # Another requester's figures are its own.
    assert requested(client, other, persons=500_000)["route"] == "standard_contract"
    # A rejected request sent nothing: it no longer counts.
    assert decide(client, regulator, second["id"], "reject").json()["status"] == "rejected"
    third = requested(client, platform, persons=300_000)
    assert (third["route"], third["rules"], third["cumulative_persons"]) == ("standard_contract", ["XB-SC"], 900_000)


def test_sensitive_persons_are_counted_together_too(plain_client, parties):
    _, platform = parties.add("furnisher")
    first = requested(plain_client, platform, record_types=["newsletter"], persons=60_000)
    assert first["route"] == "exempt"
    second = requested(plain_client, platform, record_types=["newsletter"], persons=60_000)
    assert (second["route"], second["rules"]) == ("standard_contract", ["XB-SC", "XB-SPLIT"])
    third = requested(plain_client, platform, record_types=["newsletter"], persons=6_000, sensitive_persons=6_000)
    fourth = requested(plain_client, platform, record_types=["newsletter"], persons=5_000, sensitive_persons=5_000)
    assert third["route"] == "standard_contract"
    assert (fourth["route"], fourth["rules"]) == ("security_assessment", ["XB-ASSESS", "XB-SPLIT"])
    assert (fourth["cumulative_persons"], fourth["cumulative_sensitive"]) == (131_000, 11_000)


def test_a_new_year_starts_the_count_again(client, parties):
    """The year is Beijing's (issue 18): it turns at 16:00 UTC on 31 December."""
    _, platform = parties.add("furnisher")
    with clock.frozen_at(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)):
        requested(client, platform, persons=600_000)
        late = requested(client, platform, persons=500_000)
    assert late["route"] == "security_assessment" and late["cumulative_persons"] == 1_100_000
    with clock.frozen_at(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)):
        fresh = requested(client, platform, persons=500_000)
    assert (fresh["route"], fresh["rules"], fresh["cumulative_persons"]) == ("standard_contract", ["XB-SC"], 500_000)


# The regulator's decision ------------------------------------------------------------------------


def test_the_regulator_approves_or_rejects_once(client, parties, regulator, runtime):
    _, platform = parties.add("furnisher")
    _, agency = parties.add("agency")
    contract = requested(client, platform, persons=200_000)
    assessment = requested(client, platform, persons=900_000)  # 1,100,000 together
    rejected = requested(client, platform, persons=10)

    for headers in (platform, agency):
        r = decide(client, headers, contract["id"])
        assert r.status_code == 403 and r.json()["code"] == "forbidden_role"

    with clock.frozen_at(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)):
        ok = decide(client, regulator, contract["id"])
        assessed = decide(client, regulator, assessment["id"])
    assert ok.status_code == 200, ok.text
    assert (ok.json()["status"], ok.json()["valid_until"]) == ("approved", None)
    assert ok.json()["note"] == "Filed contract checked"
    assert (assessed.json()["status"], assessed.json()["valid_until"]) == ("approved", "2029-03-02")

    no = decide(client, regulator, rejected["id"], "reject")
    assert (no.json()["status"], no.json()["valid_until"]) == ("rejected", None)

    for transfer_id in (contract["id"], rejected["id"]):
        again = decide(client, regulator, transfer_id, "reject")
        assert again.status_code == 409 and again.json()["code"] == "transfer_not_pending"
    assert decide(client, regulator, "xfr_nope").status_code == 404
    bad = client.post(f"/v1/transfers/{contract['id']}/decision", json={"decision": "maybe"}, headers=regulator)
    assert bad.status_code == 422

    kinds = [(e["kind"], e.get("decision")) for e in logged(runtime)]
    assert kinds.count(("transfer.decided", "approve")) == 2 and kinds.count(("transfer.decided", "reject")) == 1
    assert [k for k, _ in kinds].count("transfer.requested") == 3


def test_who_sees_which_requests(client, parties, regulator):
    _, platform = parties.add("furnisher")
    _, other = parties.add("furnisher")
    _, overseer = parties.add("overseer")
    _, agency = parties.add("agency")
    mine = requested(client, platform)
    theirs = requested(client, other)
    listed = client.get("/v1/transfers", headers=platform).json()["transfers"]
    assert [t["id"] for t in listed] == [mine["id"]]
    assert client.get(f"/v1/transfers/{theirs['id']}", headers=platform).status_code == 404
    assert client.get(f"/v1/transfers/{mine['id']}", headers=platform).json()["recipient"] == "Acme Analytics Pte. Ltd."
    for headers in (regulator, overseer, agency):
        seen = client.get("/v1/transfers", headers=headers).json()["transfers"]
        assert {t["id"] for t in seen} == {mine["id"], theirs["id"]}
        assert client.get(f"/v1/transfers/{theirs['id']}", headers=headers).status_code == 200
    pending = client.get("/v1/transfers", params={"status": "pending"}, headers=regulator).json()["transfers"]
    assert len(pending) == 2
    assert client.get("/v1/transfers", params={"status": "approved"}, headers=regulator).json()["transfers"] == []


# The export ---------------------------------------------------------------------------------------


def test_an_approved_export_holds_only_what_was_approved(client, parties, regulator, runtime, exports_dir):
    bureau = Bureau(client, parties)
    bureau.furnish([loan(n) for n in (1, 2, 3)] + [consumption(n) for n in (1, 2, 3)] + [travel(1)])
    _, elsewhere = parties.add("furnisher", "Platform Two")
    bureau.furnish([loan(7, account_id="OTHER-7")], headers=elsewhere)

    ask_loans = {"record_types": ["loan"], "persons": 2, "sensitive_persons": 2}
    transfer = requested(client, bureau.platform, **ask_loans)
    assert (transfer["route"], transfer["status"]) == ("standard_contract", "pending")

    early = client.post(f"/v1/transfers/{transfer['id']}/export", headers=bureau.platform)
    assert early.status_code == 409 and early.json()["code"] == "transfer_not_approved"
    assert decide(client, regulator, transfer["id"]).json()["status"] == "approved"

    stranger = client.post(f"/v1/transfers/{transfer['id']}/export", headers=elsewhere)
    assert stranger.status_code == 404 and stranger.json()["code"] == "transfer_not_found"  # not told it exists
    watcher = client.post(f"/v1/transfers/{transfer['id']}/export", headers=bureau.agency)
    assert watcher.status_code == 403 and watcher.json()["code"] == "not_requester"  # sees it, may not export it
    r = client.post(f"/v1/transfers/{transfer['id']}/export", headers=bureau.platform)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["persons"], made["records"]) == (2, 2)

    again = client.post(f"/v1/transfers/{transfer['id']}/export", headers=bureau.platform)
    assert again.status_code == 409 and again.json()["code"] == "already_exported"
    assert client.get(f"/v1/transfers/{transfer['id']}/export", headers=elsewhere).status_code == 404

    got = client.get(f"/v1/transfers/{transfer['id']}/export", headers=bureau.platform)
    assert got.status_code == 200
    blob = got.content
    shown = client.get(f"/v1/transfers/{transfer['id']}", headers=bureau.platform).json()["export"]
    assert hashlib.sha256(blob).hexdigest() == made["sha256"] == shown["sha256"]
    assert got.headers["repr-digest"] == f"sha-256=:{base64.b64encode(hashlib.sha256(blob).digest()).decode()}:"
    assert (exports_dir / f"{transfer['id']}.parquet").read_bytes() == blob

    table = pq.read_table(io.BytesIO(blob)).to_pylist()
    assert len(table) == 2 and {row["record_type"] for row in table} == {"loan"}
    assert len({row["person_token"] for row in table}) == 2
    assert {row["furnisher_id"] for row in table} == {transfer["requester"]["id"]}  # never Platform Two's
    assert {row["account_id"] for row in table} <= {"ACC-000001", "ACC-000002", "ACC-000003"}
    columns = set(pq.read_schema(io.BytesIO(blob)).names)
    assert not columns & {"person_id", "name", "phone", "consent_ref", "batch_id"}
    for n in (1, 2, 3, 7):
        assert resident_id(n).encode() not in blob
    assert "张伟".encode() not in blob

    kinds = [e["kind"] for e in logged(runtime)]
    assert kinds == ["transfer.requested", "transfer.decided", "transfer.exported", "transfer.downloaded"]
    exported = next(e for e in logged(runtime) if e["kind"] == "transfer.exported")
    assert (exported["persons"], exported["records"], exported["decision"]["allowed"]) == (2, 2, True)


def test_the_agency_exports_across_furnishers_within_the_approved_types(
    client, parties, regulator, runtime, exports_dir
):
    bureau = Bureau(client, parties)
    bureau.furnish([loan(1), consumption(1), consumption(2, category="dining")])
    _, elsewhere = parties.add("furnisher", "Platform Two")
    bureau.furnish([consumption(3)], headers=elsewhere)
    transfer = requested(client, bureau.agency, record_types=["consumption"], persons=5)
    decide(client, regulator, transfer["id"])
    made = client.post(f"/v1/transfers/{transfer['id']}/export", headers=bureau.agency).json()
    assert (made["persons"], made["records"]) == (3, 3)  # at most 5 persons: all 3 there are
    rows = pq.read_table(exports_dir / f"{transfer['id']}.parquet").to_pylist()
    assert {r["record_type"] for r in rows} == {"consumption"} and "account_id" not in rows[0]  # loans stay
    assert sorted(r["amount_fen"] for r in rows) == [123456] * 3


def test_an_assessment_approval_lapses_after_three_years(client, parties, regulator, exports_dir):
    _, platform = parties.add("furnisher")
    with clock.frozen_at(datetime(2026, 1, 10, 8, 0, tzinfo=UTC)):
        last_day = requested(client, platform, persons=1_000_000)
        lapsed = requested(client, platform, persons=1_000_000)
        for t in (last_day, lapsed):
            assert decide(client, regulator, t["id"]).json()["valid_until"] == "2029-01-10"
    with clock.frozen_at(datetime(2029, 1, 10, 15, 59, tzinfo=UTC)):  # 23:59 on the last day in Beijing
        r = client.post(f"/v1/transfers/{last_day['id']}/export", headers=platform)
        assert r.status_code == 201, r.text
        assert r.json()["persons"] == 0  # this furnisher holds no records: nothing else leaves
    with clock.frozen_at(datetime(2029, 1, 10, 16, 0, tzinfo=UTC)):  # 11 January in Beijing
        r = client.post(f"/v1/transfers/{lapsed['id']}/export", headers=platform)
    assert r.status_code == 403
    assert (r.json()["code"], r.json()["rule"]) == ("approval_expired", "XB-VALID")
