"""The regulator's supervision tools through the public surface: app collection reviews against
the necessary-PI table, orders to furnishers and their clock, the agency's shareholder register
and the neutrality view, and the yearly risk assessment (HTTP and CLI)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect, select
from typer.testing import CliRunner

from tests.bureau import Bureau
from tests.records import consumption, loan, travel
from zhengxin.cli import app as cli_app
from zhengxin.kit import clock
from zhengxin.kit.db import UTCDateTime
from zhengxin.supervision import assessment
from zhengxin.supervision.tables import order_steps

LENDING_NECESSARY = ["phone_number", "name", "id_type", "id_number", "id_validity", "id_copy", "bank_card_number"]
DAY = date(2026, 3, 2)


def at(day: date):
    return clock.frozen_at(datetime.combine(day, datetime.min.time()).replace(hour=12, tzinfo=UTC))


@pytest.fixture
def regulator(parties):
    return parties.add("regulator", "PBOC")[1]


@pytest.fixture
def overseer(parties):
    return parties.add("overseer", "Oversight member")[1]


@pytest.fixture
def agency(parties):
    return parties.add("agency", "The Operator")[1]


def review(client, headers, category, collected, app="Some App"):
    return client.post(
        "/v1/supervision/app-reviews", json={"app": app, "category": category, "collected": collected}, headers=headers
    )


def filled(table, party_id: str, **values) -> dict:
    """A row for a table this test does not own: the values given, and a plain value for every
    other required column (a party id where it refers to one)."""
    row = dict(values)
    plain = {str: "x", int: 0, bool: False, dict: {}, list: [], date: clock.today(), datetime: clock.now()}
    for c in table.columns:
        if c.name in row or c.nullable or c.server_default is not None:
            continue
        row[c.name] = party_id if c.foreign_keys else plain.get(c.type.python_type, "x")
    return row


# App collection reviews ---------------------------------------------------------------------------


def test_app_reviews_flag_what_an_app_collects_beyond_its_type(client, parties, regulator, overseer):
    with at(DAY):
        r = review(client, regulator, "online_lending", [*LENDING_NECESSARY, "contact_list", "call_log"], "QuickCash")
    assert r.status_code == 201, r.text
    lending = r.json()
    assert lending["necessary"] == LENDING_NECESSARY
    assert lending["excessive"] == ["contact_list", "call_log"]
    assert lending["status"] == "rectification_required"
    assert date.fromisoformat(lending["rectify_by"]) == DAY + timedelta(days=15)  # rectification_days
    assert lending["rule"] == "APP-NPI" and lending["overdue"] is False

    with at(DAY):
        r = review(client, regulator, "ride_hailing", ["phone_number", "start_location", "destination",
                                                        "location_track", "payment_amount"], "GoRide")  # fmt: skip
    assert r.status_code == 201, r.text
    riding = r.json()
    assert (riding["status"], riding["excessive"], riding["rectify_by"]) == ("compliant", [], None)

    for headers in (regulator, overseer):
        listed = client.get("/v1/supervision/app-reviews", headers=headers)
        assert listed.status_code == 200
        assert {x["app"]: x["status"] for x in listed.json()["reviews"]} == {
            "QuickCash": "rectification_required", "GoRide": "compliant",
        }  # fmt: skip
    open_only = client.get("/v1/supervision/app-reviews?status=rectification_required", headers=regulator).json()
    assert [x["id"] for x in open_only["reviews"]] == [lending["id"]]

    _, lender = parties.add("lender", "A Bank")
    assert client.get("/v1/supervision/app-reviews", headers=lender).status_code == 403
    assert review(client, overseer, "ride_hailing", []).status_code == 403  # only the regulator reviews


def test_unknown_items_and_app_types_are_refused_and_nothing_is_kept(client, regulator):
    r = review(client, regulator, "online_lending", ["phone_number", "heartbeat", "contact_list", "shoe_size"])
    assert r.status_code == 422
    assert r.json()["code"] == "unknown_pi_items" and r.json()["unknown"] == ["heartbeat", "shoe_size"]

    r = review(client, regulator, "astrology", ["phone_number"])
    assert r.status_code == 422 and r.json()["code"] == "unknown_app_category"
    assert "online_lending" in r.json()["categories"] and "ride_hailing" in r.json()["categories"]

    assert client.get("/v1/supervision/app-reviews", headers=regulator).json()["reviews"] == []
    table = client.get("/v1/supervision/necessary-pi", headers=regulator).json()
    assert "contact_list" in table["non_necessary"] and table["categories"]["online_lending"]["necessary"] == (
        LENDING_NECESSARY
    )


def test_rectification_on_time_and_late(client, regulator):
    with at(DAY):
        on_time = review(client, regulator, "online_lending", [*LENDING_NECESSARY, "contact_list", "call_log"]).json()
        late = review(client, regulator, "online_shopping", ["phone_number", "photos"], "ShopNow").json()
        compliant = review(client, regulator, "instant_messaging", ["phone_number", "account_id"]).json()

    # Still excessive: recorded, the review stays open.
    with at(DAY + timedelta(days=5)):
        r = client.post(f"/v1/supervision/app-reviews/{on_time['id']}/rectification",
                        json={"collected": [*LENDING_NECESSARY, "call_log"]}, headers=regulator)  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["excessive"]) == ("rectification_required", ["call_log"])
    with at(DAY + timedelta(days=15)):  # the last day is still on time
        r = client.post(f"/v1/supervision/app-reviews/{on_time['id']}/rectification",
                        json={"collected": LENDING_NECESSARY}, headers=regulator)  # fmt: skip
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["rectified_late"], r.json()["excessive"]) == ("rectified", False, [])
    assert [x["excessive"] for x in r.json()["rectifications"]] == [["call_log"], []]

    with at(DAY + timedelta(days=16)):
        overdue = client.get("/v1/supervision/app-reviews?overdue=true", headers=regulator).json()["reviews"]
        assert [x["id"] for x in overdue] == [late["id"]]
        r = client.post(f"/v1/supervision/app-reviews/{late['id']}/rectification",
                        json={"collected": ["phone_number", "recipient_address"]}, headers=regulator)  # fmt: skip
        assert (r.json()["status"], r.json()["rectified_late"], r.json()["overdue"]) == ("rectified", True, False)
        assert client.get("/v1/supervision/app-reviews?overdue=true", headers=regulator).json()["reviews"] == []

    for done in (late, compliant):
        r = client.post(f"/v1/supervision/app-reviews/{done['id']}/rectification",
                        json={"collected": []}, headers=regulator)  # fmt: skip
        assert r.status_code == 409 and r.json()["code"] == "review_not_open"


# Orders to furnishers ----------------------------------------------------------------------------------


def test_an_orders_life_overdue_late_response_reopening_and_close(client, parties, runtime, regulator, overseer):
    _, mine = parties.add("furnisher", "Yunpay")
    _, other = parties.add("furnisher", "Other Platform")
    _, lender = parties.add("lender", "A Bank")
    body = {"furnisher": "Yunpay", "kind": "rectification", "reason": "Stop furnishing 张伟's closed accounts late",
            "due_on": (DAY + timedelta(days=10)).isoformat(), "rule": "CR-16"}  # fmt: skip

    with at(DAY):
        for who in (mine, lender, overseer):
            r = client.post("/v1/supervision/orders", json=body, headers=who)
            assert r.status_code == 403 and r.json()["code"] == "forbidden_role"
        r = client.post("/v1/supervision/orders", json=body, headers=regulator)
        assert r.status_code == 201, r.text
        order = r.json()
        assert (order["status"], order["overdue"], order["kind"]) == ("open", False, "rectification")
        assert order["reason"] == body["reason"]
        assert client.post("/v1/supervision/orders", json={**body, "furnisher": "No Such Platform"},
                           headers=regulator).status_code == 404  # fmt: skip
        r = client.post("/v1/supervision/orders", json={**body, "due_on": "2026-03-01"}, headers=regulator)
        assert r.status_code == 422 and r.json()["code"] == "due_on_past"

    # The furnisher sees its own order and the reason; another furnisher sees nothing of it.
    seen = client.get("/v1/supervision/orders", headers=mine).json()["orders"]
    assert [(o["id"], o["reason"]) for o in seen] == [(order["id"], body["reason"])]
    assert client.get("/v1/supervision/orders", headers=other).json()["orders"] == []
    assert client.get(f"/v1/supervision/orders/{order['id']}", headers=other).status_code == 404
    r = client.post(f"/v1/supervision/orders/{order['id']}/response", json={"summary": "x"}, headers=other)
    assert r.status_code == 404
    # Overseers follow the clock, not the words.
    watched = client.get("/v1/supervision/orders", headers=overseer).json()["orders"]
    assert [o["id"] for o in watched] == [order["id"]] and "reason" not in watched[0]
    assert client.get("/v1/supervision/orders", headers=lender).json()["orders"] == []  # a lender: its own only

    with at(DAY + timedelta(days=11)):
        listed = client.get("/v1/supervision/orders?overdue=true", headers=regulator).json()["orders"]
        assert [(o["id"], o["overdue_days"]) for o in listed] == [(order["id"], 1)]
        r = client.post(f"/v1/supervision/orders/{order['id']}/response",
                        json={"summary": "Fixed the retention job"}, headers=mine)  # fmt: skip
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["responded_late"], r.json()["overdue"]) == ("responded", True, False)
        assert r.json()["response"] == "Fixed the retention job"
        r = client.post(f"/v1/supervision/orders/{order['id']}/response", json={"summary": "again"}, headers=mine)
        assert r.status_code == 409 and r.json()["code"] == "order_not_open"

        # Not accepted: the order opens again, with a new due day.
        new_due = (DAY + timedelta(days=20)).isoformat()
        r = client.post(f"/v1/supervision/orders/{order['id']}/close",
                        json={"accepted": False, "note": "Show the deletion log", "due_on": new_due},
                        headers=regulator)  # fmt: skip
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["accepted"], r.json()["due_on"]) == ("open", False, new_due)
        assert r.json()["overdue"] is False

    with at(DAY + timedelta(days=12)):
        r = client.post(f"/v1/supervision/orders/{order['id']}/response",
                        json={"summary": "Deletion log attached"}, headers=mine)  # fmt: skip
        assert r.json()["responded_late"] is False
        r = client.post(f"/v1/supervision/orders/{order['id']}/close", json={"accepted": True}, headers=regulator)
        assert (r.json()["status"], r.json()["accepted"]) == ("closed", True)
    assert [s["step"] for s in r.json()["steps"]] == ["issued", "responded", "reopened", "responded", "accepted"]
    assert [s["details"].get("late") for s in r.json()["steps"] if s["step"] == "responded"] == [True, False]
    r = client.post(f"/v1/supervision/orders/{order['id']}/close", json={"accepted": True}, headers=regulator)
    assert r.status_code == 409 and r.json()["code"] == "order_not_responded"

    # The texts are kept only sealed (they may name people).
    with runtime.engine.connect() as conn:
        sealed = conn.execute(select(order_steps.c.text_sealed)).scalars().all()
    assert len([s for s in sealed if s]) == 4
    assert all("张伟".encode() not in s and b"deletion" not in s.lower() for s in sealed if s)


# Shareholders and neutrality -------------------------------------------------------------------------


def test_stakes_cannot_exceed_the_whole_agency(client, parties, agency, regulator, overseer):
    _, furnisher = parties.add("furnisher", "Yunpay")
    add = lambda **b: client.post("/v1/supervision/shareholders", json=b, headers=agency)  # noqa: E731

    assert add(holder="National Internet Finance Association", stake_bp=6000).status_code == 201
    r = add(holder="Yunpay Holdings", party="Yunpay", stake_bp=5000)
    assert r.status_code == 422 and r.json()["code"] == "stakes_exceed_total"
    assert (r.json()["total_bp"], r.json()["available_bp"]) == (11000, 4000)
    yunpay = add(holder="Yunpay Holdings", party="Yunpay", stake_bp=4000)
    assert yunpay.status_code == 201 and yunpay.json()["party"]["name"] == "Yunpay"
    assert add(holder="Anyone", stake_bp=1).json()["code"] == "stakes_exceed_total"
    assert add(holder="Ghost", party="No Such Bank", stake_bp=1).status_code == 404
    assert add(holder="Yunpay Holdings", stake_bp=1).status_code == 409

    r = client.patch(f"/v1/supervision/shareholders/{yunpay.json()['id']}", json={"stake_bp": 4001}, headers=agency)
    assert r.status_code == 422 and r.json()["code"] == "stakes_exceed_total"
    r = client.patch(f"/v1/supervision/shareholders/{yunpay.json()['id']}", json={"stake_bp": 3000}, headers=agency)
    assert r.status_code == 200 and r.json()["stake_bp"] == 3000

    for headers in (agency, regulator, overseer):
        register = client.get("/v1/supervision/shareholders", headers=headers)
        assert register.status_code == 200
        assert register.json()["total_bp"] == 9000
        assert [s["stake_bp"] for s in register.json()["shareholders"]] == [6000, 3000]
    assert client.get("/v1/supervision/shareholders", headers=furnisher).status_code == 403
    assert client.post("/v1/supervision/shareholders", json={"holder": "X", "stake_bp": 1},
                       headers=regulator).status_code == 403  # fmt: skip

    assert client.delete(f"/v1/supervision/shareholders/{yunpay.json()['id']}", headers=agency).status_code == 204
    assert client.get("/v1/supervision/shareholders", headers=regulator).json()["total_bp"] == 6000
    assert add(holder="Fresh Capital", stake_bp=4000).status_code == 201


def test_neutrality_sets_shareholders_volumes_beside_the_others(client, parties, agency, regulator, overseer):
    bureau = Bureau(client, parties)
    _, second_platform = parties.add("furnisher", "Platform Two")
    first, second = bureau.lender("First Bank", 1), bureau.lender("Second Bank", 2)
    people = [bureau.person(n) for n in (1, 2, 3)]  # three batches from Platform One
    bureau.furnish([loan(10), loan(11)], headers=second_platform)  # one batch of two from Platform Two
    for lender, person in ((first, people[0]), (first, people[1]), (second, people[2])):
        assert bureau.inquire(lender, person, bureau.grant(person, lender)["id"]).status_code == 201
    for body in ({"holder": "Platform One Group", "party": "Platform One", "stake_bp": 3000},
                 {"holder": "First Bank", "party": "First Bank", "stake_bp": 2000},
                 {"holder": "State Fund", "stake_bp": 5000}):  # fmt: skip
        assert client.post("/v1/supervision/shareholders", json=body, headers=agency).status_code == 201

    today = clock.today().isoformat()
    r = client.get(f"/v1/supervision/neutrality?since={today}&until={today}", headers=regulator)
    assert r.status_code == 200, r.text
    view = r.json()
    furnishers = {f["party"]["name"]: f for f in view["furnishers"]}
    seen = {n: (f["shareholder"], f["stake_bp"], f["batches"], f["records_accepted"]) for n, f in furnishers.items()}
    assert seen == {"Platform One": (True, 3000, 3, 3), "Platform Two": (False, 0, 1, 2)}
    lenders = {x["party"]["name"]: x for x in view["lenders"]}
    assert {n: (x["shareholder"], x["stake_bp"], x["inquiries"]) for n, x in lenders.items()} == {
        "First Bank": (True, 2000, 2), "Second Bank": (False, 0, 1),
    }  # fmt: skip
    assert lenders["First Bank"]["fees_fen"] > 0 and lenders["Second Bank"]["fees_fen"] > 0
    summary = view["summary"]
    assert summary["furnishers"]["shareholders"] == {"parties": 1, "batches": 3, "records_accepted": 3}
    assert summary["furnishers"]["others"] == {"parties": 1, "batches": 1, "records_accepted": 2}
    assert summary["furnishers"]["shareholder_share"]["records_accepted"] == 0.6
    assert summary["lenders"]["shareholder_share"]["inquiries"] == round(2 / 3, 4)
    assert "person" not in r.text and "token" not in r.text  # aggregates only

    # A period before any of it: the same parties, nothing counted.
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    earlier = client.get(f"/v1/supervision/neutrality?until={yesterday}", headers=overseer).json()
    assert [f["records_accepted"] for f in earlier["furnishers"]] == [0, 0]
    assert [x["inquiries"] for x in earlier["lenders"]] == [0, 0]
    r = client.get(f"/v1/supervision/neutrality?since={today}&until={yesterday}", headers=regulator)
    assert r.status_code == 422 and r.json()["code"] == "invalid_period"
    assert client.get("/v1/supervision/neutrality", headers=agency).status_code == 403
    assert client.get("/v1/supervision/neutrality", headers=first.headers).status_code == 403


# The yearly risk assessment (DSL-30) ------------------------------------------------------------------


def test_risk_assessment_counts_what_the_stores_hold(client, parties, runtime, regulator, tmp_path):
    bureau = Bureau(client, parties)
    lender = bureau.lender("First Bank", 1)
    one = bureau.person(1, loan(1), loan(1, account_id="ACC-B"), consumption(1), travel(1))
    bureau.person(2)
    assert bureau.inquire(lender, one, bureau.grant(one, lender)["id"]).status_code == 201
    assert client.get("/v1/me/report", headers=one.headers).status_code == 200  # a self-query
    year = clock.today().year

    r = client.get(f"/v1/supervision/risk-assessment?year={year}", headers=regulator)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["rule"], doc["year"], doc["interval"]) == ("DSL-30", year, "1y")
    assert doc["important_data"] is True and doc["core_data"] is False
    types = {t["record_type"]: t for t in doc["data"]["record_types"]}
    assert {n: (t["rows"], t["persons"]) for n, t in types.items()} == {
        "loan": (3, 2), "consumption": (1, 1), "travel": (1, 1), "liability": (0, 0), "public_record": (0, 0),
    }  # fmt: skip
    assert types["loan"]["accounts"] == 3
    assert (
        types["travel"]["sensitive"] and types["travel"]["separate_consent"] and types["travel"]["grade"] == "important"
    )
    assert types["loan"]["retention_months"] == runtime.catalog.record_types["loan"].retention_months
    assert doc["data"]["identifiers"]["persons"] == 2 and doc["data"]["identifiers"]["sensitive"] is True
    assert doc["holdings"]["persons_in_vault"] == 2 and doc["holdings"]["persons_with_records"] == 2
    assert doc["holdings"]["parties"] == {"agency": 1, "furnisher": 1, "lender": 1, "individual": 2,
                                          "regulator": 1, "overseer": 0}  # fmt: skip
    volumes = doc["volumes"]
    assert volumes["intake"] == {"batches": 2, "records_accepted": 5, "records_rejected": 0}
    assert volumes["inquiry"] == {"inquiries": 1, "by_product": {"report": 1}}
    assert volumes["self_query"] == {"self_queries": 1}
    assert volumes["disputes"] == {"opened": 0, "closed": 0}
    assert volumes["transfer"] is None or volumes["transfer"]["requests"] == 0
    assert {a["id"] for a in doc["processing_activities"]} == {
        "intake", "inquiry", "self_query", "disputes", "retention", "export", "transfer",
    }  # fmt: skip
    measures = {c["module"]: c["in_place"] for risk in doc["risks"] for c in risk["countermeasures"]}
    for module in ("zhengxin.identity.vault", "zhengxin.identity.tokens", "zhengxin.policy", "zhengxin.audit",
                   "zhengxin.flows.retention", "zhengxin.decisions.service"):  # fmt: skip
        assert measures[module] is True, module
    assert "zhengxin.transfers" in measures
    assert doc["controls"]["staff_reads"] == 0 and doc["controls"]["policy_decisions"]["denied"] == 0
    assert "person_token" not in r.text

    # A past year saw none of it; a future year cannot be assessed.
    past = client.get(f"/v1/supervision/risk-assessment?year={year - 1}", headers=bureau.agency).json()
    assert past["volumes"]["inquiry"]["inquiries"] == 0 and past["volumes"]["intake"]["batches"] == 0
    r = client.get(f"/v1/supervision/risk-assessment?year={year + 1}", headers=regulator)
    assert r.status_code == 422 and r.json()["code"] == "invalid_year" and r.json()["rule"] == "DSL-30"
    assert client.get("/v1/supervision/risk-assessment", headers=lender.headers).status_code == 403

    # Transfers are counted when the deployment has their table (looked up, not assumed).
    requester = lender.id  # any registered party will do
    with runtime.engine.connect() as conn, conn.begin() as tx:
        if not inspect(conn).has_table("transfers"):
            Table("transfers", MetaData(), Column("id", String(40), primary_key=True), Column("route", String(24)),
                  Column("status", String(16)), Column("persons", Integer), Column("created_at", UTCDateTime)
                  ).create(conn)  # fmt: skip
        transfers = Table("transfers", MetaData(), autoload_with=conn)
        now = clock.now()
        conn.execute(
            transfers.insert(),
            [filled(transfers, requester, id="t1", route="standard_contract", status="pending", persons=120_000,
                    created_at=now),
             filled(transfers, requester, id="t2", route="denied", status="denied", persons=5, created_at=now),
             filled(transfers, requester, id="t3", route="denied", status="denied", persons=7,
                    created_at=now.replace(year=year - 1))],
        )  # fmt: skip
        transfer = assessment.build(conn, runtime, year)["volumes"]["transfer"]
        assert (transfer["requests"], transfer["persons"]) == (2, 120_005)
        assert transfer["by_route"] == {"standard_contract": 1, "denied": 1}
        assert transfer["by_status"] == {"pending": 1, "denied": 1}
        tx.rollback()

    # The same document from the command line.
    out = tmp_path / "assessment.json"
    result = CliRunner().invoke(
        cli_app,
        ["supervision", "risk-assessment", "--year", str(year), "--out", str(out), "--db", runtime.settings.url],
    )
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written["data"]["record_types"] == doc["data"]["record_types"]
    assert written["volumes"] == doc["volumes"] and written["holdings"] == doc["holdings"]
