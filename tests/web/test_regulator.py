"""The regulator's pages through the portal: the dashboard drawn from the stored supervision run,
the transfer queue with its decisions, and orders to furnishers."""

from __future__ import annotations

import json
import re

from tests.analytics.population import AS_OF, write_lake
from tests.transfers.test_transfers import ask
from tests.web.portal import post_form, sign_in
from zhengxin.analytics.flows import run_supervision


def test_before_any_run_the_dashboard_says_so(client, parties):
    _, regulator = parties.add("regulator", "PBOC")
    sign_in(client, regulator, lang="zh_CN")
    page = client.get("/portal/regulator")
    assert page.status_code == 200 and "<h1>监管看板</h1>" in page.text and "no_supervision_run" in page.text


def test_the_dashboard_draws_the_stored_run_as_charts_with_their_numbers(client, parties, runtime, tmp_path):
    _, regulator = parties.add("regulator", "PBOC")
    run = run_supervision(runtime, write_lake(tmp_path / "lake"), backend="duckdb", as_of=AS_OF, export=False)
    sign_in(client, regulator)
    page = client.get("/portal/regulator").text
    assert run["id"] in page
    specs = re.findall(r'<script type="application/json" id="(\w+)-spec">(.*?)</script>', page, re.S)
    assert [name for name, _ in specs] == ["compliance", "records", "colending", "platforms", "inquiries", "disputes"]
    for _name, spec in specs:
        assert json.loads(spec)["data"]["values"] is not None  # Vega-Lite specs with their data inline
    stored = run["results"]
    below = sum(r["below_min_loans"] for r in stored["co-lending"])
    shown = json.loads(dict(specs)["colending"])["data"]["values"]
    assert sum(v["loans"] for v in shown) == below  # the chart is the run's numbers
    assert '<details class="numbers"' in page  # and the numbers read without JavaScript
    for token in ("tok_", "person_token"):
        assert token not in page


def test_a_pending_transfer_is_decided_from_the_queue(client, parties):
    _, regulator = parties.add("regulator", "PBOC")
    _, platform = parties.add("furnisher", "Platform One")
    body = ask(record_types=["loan"], persons=1_000_000, sensitive_persons=1_000_000)
    made = client.post("/v1/transfers", json=body, headers=platform).json()
    assert made["status"] == "pending", made
    sign_in(client, regulator)
    queue = client.get("/portal/regulator/transfers")
    assert made["id"] in queue.text and "Platform One" in queue.text
    data = {"decision": "approve", "note": "Assessment filed"}
    r = post_form(client, "/portal/regulator/transfers", f"/portal/regulator/transfers/{made['id']}/decision", data)
    assert r.status_code == 303
    assert f"Transfer {made['id']}: approved." in client.get("/portal/regulator/transfers?status=all").text
    again = post_form(client, "/portal/regulator/transfers", f"/portal/regulator/transfers/{made['id']}/decision", data)
    assert again.status_code == 409 and "transfer_not_pending" in again.text


def test_an_order_is_issued_and_listed_with_its_deadline(client, parties):
    _, regulator = parties.add("regulator", "PBOC")
    parties.add("furnisher", "Platform One")
    sign_in(client, regulator)
    data = {"furnisher": "Platform One", "kind": "rectification", "reason": "Late furnishing", "due_on": "2027-01-15",
            "rule": "CR-11"}  # fmt: skip
    r = post_form(client, "/portal/regulator/orders", "/portal/regulator/orders", data)
    assert r.status_code == 303
    page = client.get("/portal/regulator/orders").text
    assert "issued." in page and "Platform One" in page and "CR-11" in page and "Jan 15, 2027" in page
    bad = post_form(client, "/portal/regulator/orders", "/portal/regulator/orders", {**data, "kind": "fine"})
    assert bad.status_code == 422 and "invalid_request" in bad.text
