"""Billing on both databases: prices and tiers, charges only for allowed inquiries, and
invoices and furnisher statements that add up to the fees charged, to the fen."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.bureau import Bureau
from tests.records import consumption, loan
from zhengxin.billing.service import split
from zhengxin.billing.tables import charges
from zhengxin.kit import clock


@pytest.fixture
def bureau(client, parties) -> Bureau:
    return Bureau(client, parties)


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=30))
def test_split_gives_whole_fen_that_add_up_and_follow_the_weights(total, weights):
    parts = split(total, weights)
    whole = sum(weights)
    if whole == 0:
        assert parts == [0] * len(weights)
        return
    assert sum(parts) == total and all(p >= 0 for p in parts)
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - total * weight / whole) < 1


def test_prices_and_tiers_are_set_by_the_agency_and_used_by_the_next_charge(client, bureau, parties):
    bank = bureau.lender("Bank A", 1)
    small = bureau.lender("Small Rural Bank", 2)
    person = bureau.person(1)
    prices = {(p["product"], p["tier"]): p for p in client.get("/v1/billing/prices", headers=bank.headers).json()}
    assert prices[("report", "standard")]["fee_fen"] == 500 and prices[("report", "standard")]["source"] == "default"

    r = client.put("/v1/billing/prices", json={"product": "report", "tier": "standard", "fee_fen": 450},
                   headers=bank.headers)  # fmt: skip
    assert r.status_code == 403
    r = client.put("/v1/billing/prices", json={"product": "report", "tier": "standard", "fee_fen": 450,
                                               "effective_from": "2020-01-01"}, headers=bureau.agency)  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (422, "price_in_the_past")
    r = client.put("/v1/billing/prices", json={"product": "report", "tier": "standard", "fee_fen": 450},
                   headers=bureau.agency)  # fmt: skip
    assert r.status_code == 200 and r.json()["source"] == "price_list"
    later = str(clock.today() + timedelta(days=40))
    client.put("/v1/billing/prices", json={"product": "report", "tier": "standard", "fee_fen": 480,
                                           "effective_from": later}, headers=bureau.agency)  # fmt: skip
    listed = client.get("/v1/billing/prices", headers=bank.headers).json()
    assert {"product": "report", "tier": "standard", "fee_fen": 480, "effective_from": later,
            "source": "scheduled"} in listed  # fmt: skip
    r = client.put(f"/v1/billing/tiers/{small.name}", json={"tier": "platinum"}, headers=bureau.agency)
    assert (r.status_code, r.json()["code"]) == (422, "unknown_tier")
    r = client.put(f"/v1/billing/tiers/{small.name}", json={"tier": "small"}, headers=bureau.agency)
    assert r.json() == {"lender": {"id": small.id, "name": small.name}, "tier": "small"}

    assert bureau.inquire(bank, person, bureau.grant(person, bank)["id"]).json()["fee_fen"] == 450
    assert bureau.inquire(small, person, bureau.grant(person, small)["id"]).json()["fee_fen"] == 350
    with clock.frozen_at(clock.now() + timedelta(days=41)):
        assert bureau.inquire(bank, person, bureau.grant(person, bank, purpose="guarantee_review")["id"],
                              purpose="guarantee_review").json()["fee_fen"] == 480  # fmt: skip


def test_invoices_and_statements_add_up_to_the_fees_charged_to_the_fen(client, runtime, bureau, parties):
    _, platform_two = parties.add("furnisher", "Platform Two")
    banks = [bureau.lender(f"Bank {c}", n) for n, c in enumerate("ABC", start=1)]
    client.put(f"/v1/billing/tiers/{banks[2].name}", json={"tier": "small"}, headers=bureau.agency)
    persons = []
    for n in range(1, 8):
        records = [loan(n), consumption(n)] if n % 2 else [loan(n)]
        person = bureau.person(n, *records)
        if n % 3 == 0:
            bureau.furnish([loan(n, account_id=f"TWO-{n}")], headers=platform_two)
        persons.append(person)

    october = datetime(2026, 10, 15, 3, 0, tzinfo=UTC)
    fees: dict[str, int] = {}
    denied = 0
    for month, instant in (("2026-10", october), (clock.now().strftime("%Y-%m"), None)):
        with clock.frozen_at(instant) if instant else nullcontext():
            if month != "2026-10":  # a price change between the months
                client.put("/v1/billing/prices", json={"product": "report", "tier": "standard", "fee_fen": 455},
                           headers=bureau.agency)  # fmt: skip
            for i, person in enumerate(persons):
                bank = banks[i % 3]
                scopes = ["loan", "consumption"] if i % 2 == 0 else ["loan"]
                granted = bureau.grant(person, bank, purpose="credit_card_application", scopes=scopes)
                r = bureau.inquire(bank, person, granted["id"], purpose="credit_card_application")
                assert r.status_code == 201, r.text
                fees[month] = fees.get(month, 0) + r.json()["fee_fen"]
                again = bureau.inquire(bank, person, granted["id"], purpose="credit_card_application")
                denied += again.status_code == 403
    assert denied == 14

    invoices = client.get("/v1/billing/invoices", headers=bureau.agency).json()
    statements = client.get("/v1/billing/statements", headers=bureau.agency).json()
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(charges)).scalar_one() == 14
    for month, total in fees.items():
        month_invoices = [i for i in invoices if i["period"] == month]
        assert sum(i["total_fen"] for i in month_invoices) == total
        for invoice in month_invoices:
            assert invoice["total_fen"] == sum(line["amount_fen"] for line in invoice["lines"])
            assert all(line["amount_fen"] == line["unit_fee_fen"] * line["inquiries"] for line in invoice["lines"])
        check = client.get(f"/v1/billing/reconciliation?period={month}", headers=bureau.agency).json()
        shared = sum(s["share_fen"] for s in statements if s["period"] == month)
        assert check["fees_fen"] == total and check["furnisher_shares_fen"] == shared and check["balanced"]
        assert shared + check["agency_retained_fen"] == total
        assert check["charges"] == 7
    assert {i["status"] for i in invoices if i["period"] == "2026-10"} == {"closed"}
    small_lines = [line for i in invoices if i["lender"]["name"] == "Bank C" for line in i["lines"]]
    assert {line["unit_fee_fen"] for line in small_lines} == {350}

    # Each party sees only its own.
    mine = client.get("/v1/billing/invoices", headers=banks[0].headers).json()
    assert mine and {i["lender"]["id"] for i in mine} == {banks[0].id}
    own = client.get("/v1/billing/statements", headers=platform_two).json()
    assert own and {s["furnisher"]["name"] for s in own} == {"Platform Two"}
    assert client.get("/v1/billing/statements", headers=banks[0].headers).status_code == 403
    assert client.get("/v1/billing/invoices", headers=platform_two).status_code == 403
