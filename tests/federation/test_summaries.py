"""Cross-agency summaries (issue 20) between real server processes: two agencies and the
regulator's node, each with its own database, pepper, keys and log. A lender's inquiry at agency
1 under the person's `federation` authorization shows agency 2's summary; the figures are
checked against a hand computation over both agencies' records."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest

from tests.conftest import BACKENDS
from tests.records import loan, resident_id
from zhengxin.audit.verify import verify_receipt
from zhengxin.federation import peers, signatures
from zhengxin.kit import clock

from .nodes import Federation, Fixed, databases


@pytest.fixture(params=BACKENDS)
def federation(request, tmp_path):
    urls, drop = databases(request.param, tmp_path, 3)
    fed = Federation(urls, tmp_path)
    try:
        yield fed
    finally:
        fed.stop()
        drop()


def ago(days: int) -> str:
    return (clock.today() - timedelta(days=days)).isoformat()


def _populate(fed: Federation):
    """Person 1 borrows from platform A (furnishing to agency 1) and from platforms B and C
    (furnishing to agency 2); person 2 only from platform A."""
    one, two = fed.agencies
    bureau1, bureau2 = fed.bureau(one), fed.bureau(two)
    person = bureau1.person(
        1, loan(1, as_of=ago(0), opened_on=ago(20), principal_fen=300000, balance_fen=250000, product="microloan"))
    bureau1.person(2, loan(2, as_of=ago(0)))
    _, platform_c = two.parties.add("furnisher", "Platform C")
    there = bureau2.person(1, loan(1, as_of=ago(0), account_id="B-1", opened_on=ago(50), principal_fen=200000,
                           balance_fen=150000, payment_history="N" * 22 + "1N"))  # fmt: skip
    bureau2.furnish([loan(1, as_of=ago(0), account_id="C-1", opened_on=ago(400), principal_fen=100000,
                          balance_fen=80000, product="consumer_loan")], headers=platform_c)  # fmt: skip
    lender = bureau1.lender("First Bank", 1)
    return bureau1, bureau2, person, lender, there


def test_an_inquiry_with_the_federation_scope_sums_both_agencies(federation):
    fed = federation
    one, two = fed.agencies
    bureau1, bureau2, person, lender, there = _populate(fed)
    granted = bureau1.grant(person, lender, scopes=["loan", "federation"])
    assert any("other credit reference agencies" in c for c in json.loads(granted["artefact"])["notice"]["categories"])

    r = bureau1.inquire(lender, person, granted["id"])
    assert r.status_code == 201, r.text
    report = r.json()["report"]
    [peer] = report["federation"]["members"]
    assert (peer["uscc"], peer["status"], peer["held"]) == (two.settings.federation.uscc, "answered", True)
    assert peer["summary"] == {
        "platforms": 2, "open_accounts": 2, "total_outstanding_fen": 230000, "total_limit_fen": 300000,
        "unsecured_outstanding_fen": 230000, "worst_status_24m": "1",
        "new_accounts": {"last_1m": 0, "last_3m": 1, "last_6m": 1},
        "inquiries": {"last_1m": 0, "last_3m": 0, "last_6m": 0}, "as_of": clock.today().isoformat(),
    }  # fmt: skip
    multi = report["multi_platform"]
    assert report["federation"]["partial"] is False and multi["agencies"] == 2
    assert multi["active_platforms"] == 3 and multi["total_outstanding_fen"] == 480000
    assert multi["new_accounts"] == {"last_1m": 1, "last_3m": 2, "last_6m": 2}
    assert [limit["outstanding_fen"] for limit in multi["limits"]] == [480000, 480000]
    assert "B-1" not in r.text and "Platform C" not in r.text

    # Agency 2's log holds the access, about the person, and the person's receipt verifies there.
    receipts = two.http.get("/v1/me/receipts", headers=there.headers).json()["receipts"]
    given = [x for x in receipts if x["kind"] == "federation.summary_given"]
    assert len(given) == 1
    two.http.post("/v1/log/sth", headers=bureau2.agency)
    receipt = two.http.get(f"/v1/me/receipts/{given[0]['leaf_index']}", headers=there.headers).json()
    leaf = json.loads(receipt["leaf"])
    assert leaf["actor"] == {"party": one.settings.federation.uscc, "role": "agency"}
    assert leaf["authorization"] == granted["id"] and leaf["member_name"] == "Agency 1"
    assert leaf["lender_uscc"] == lender.uscc and leaf["purpose"] == "loan_application"
    page = _portal_page(two, there.headers, "/portal/me/accesses", person_id=there.person_id)
    assert "federation.summary_given" in page and "Agency 1" in page
    keys = {k["key_id"]: k["public_key"] for k in two.http.get("/v1/log/keys", headers=bureau2.agency).json()["keys"]}
    verify_receipt(receipt, keys)

    # The regulator's node received blinded elements and signed requests, never an ID.
    ids = [resident_id(1), resident_id(2)]
    assert fed.proxy.received and all(path == "/v1/federation/oprf" for path, _, _ in fed.proxy.received)
    for _, body, headers in fed.proxy.received:
        seen = body + json.dumps(headers).encode()
        assert not any(i.encode() in seen or i[:17].encode() in seen for i in ids)

    # The regulator, at agency 1, sees how the members answered its inquiries.
    _, regulator = one.parties.add("regulator", "PBOC")
    page = _portal_page(one, regulator, "/portal/regulator")
    assert "近 30 天联盟成员对本机构查询的应答情况" in page and "Agency 2" in page

    # Without the scope, nobody is asked.
    plain = bureau1.grant(person, lender, scopes=["loan"])
    report = bureau1.inquire(lender, person, plain["id"]).json()["report"]
    assert report["federation"] is None and report["multi_platform"]["agencies"] == 1


def test_a_peer_down_or_silent_leaves_the_view_partial_and_a_removed_member_is_refused(federation):
    fed = federation
    one, two = fed.agencies
    bureau1, _, person, lender, _ = _populate(fed)

    def inquire():  # one inquiry per authorization for an application (fair use)
        granted = bureau1.grant(person, lender, scopes=["loan", "federation"])
        return bureau1.inquire(lender, person, granted["id"])

    # A member that accepts connections and never answers: left out when the budget runs out.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    fed.admit(two, base_url=f"http://127.0.0.1:{silent.getsockname()[1]}")
    fed.publish()
    r = inquire()
    silent.close()
    assert r.status_code == 201, r.text
    federation_section = r.json()["report"]["federation"]
    assert federation_section["partial"] is True and federation_section["budget_ms"] == 300
    [peer] = federation_section["members"]
    assert peer["status"] == "unavailable" and peer["summary"] is None
    assert r.json()["report"]["multi_platform"]["agencies"] == 1
    assert r.json()["fee_fen"] > 0  # the lender is charged the same

    # A member answering what no member would: a refusal that is no problem+json, an answer
    # that is not signed JSON. Refused, and the inquiry answered.
    for status, content, code in ((403, b"[1, 2]", "http_403"), (200, b"not json", "answer_invalid")):
        odd = Fixed(status, content)
        fed.admit(two, base_url=odd.base)
        fed.publish()
        r = inquire()
        odd.close()
        assert r.status_code == 201, r.text
        [peer] = r.json()["report"]["federation"]["members"]
        assert (peer["status"], peer["code"]) == ("refused", code)

    # A member whose server is down: unreachable, the inquiry answered all the same.
    fed.admit(two)
    fed.publish()
    two.server.kill()
    r = inquire()
    assert r.status_code == 201 and r.json()["report"]["federation"]["members"][0]["code"] == "unreachable"
    two.server.start()

    # Agency 1 removed by the regulator: agency 2 refuses it from the next request on.
    fed.remove(one)
    fed.publish()
    r = inquire()
    [peer] = r.json()["report"]["federation"]["members"]
    assert (peer["status"], peer["code"]) == ("refused", "not_a_member")


def test_a_peer_refuses_a_request_the_person_did_not_authorize(federation):
    fed = federation
    one, two = fed.agencies
    bureau1, _, person, lender, _ = _populate(fed)
    granted = bureau1.grant(person, lender, scopes=["loan", "federation"])
    plain = bureau1.grant(person, lender, scopes=["loan"])
    seed = one.settings.federation.signing_key_bytes()
    uscc = one.settings.federation.uscc
    with one.runtime.reading() as conn:
        from zhengxin.federation import pseudonyms
        from zhengxin.identity.tokens import person_token

        pseudonym = pseudonyms.of_person(conn, person_token(one.runtime.pepper, person.person_id))
    url = two.server.base + peers.PATH

    def ask(authorization: dict, **change) -> tuple[int, str]:
        terms = {"pseudonym": pseudonym, "purpose": "loan_application", "lender_uscc": lender.uscc,
                 "inquiry_id": "inq_test", "authorization": authorization, **change}  # fmt: skip
        body = peers.request_body(**terms)
        headers = signatures.sign("POST", url, {"content-type": "application/json"}, body, key_id=uscc, seed=seed)
        r = two.http.post(peers.PATH, content=body, headers=headers)
        return r.status_code, r.json().get("code") or r.json()["answer"]["format"]

    given = {k: granted[k] for k in ("artefact", "signature")} | {"person_secret": granted["person_secret"]}
    assert ask(given) == (200, peers.ANSWER_FORMAT)
    assert ask(given, purpose="post_loan_management") == (403, "artefact_mismatch")
    assert ask(given, lender_uscc=one.settings.federation.uscc) == (403, "artefact_mismatch")
    assert ask(given, pseudonym="ab" * 64) == (403, "artefact_mismatch")  # another person
    without = {k: plain[k] for k in ("artefact", "signature")} | {"person_secret": plain["person_secret"]}
    assert ask(without) == (403, "federation_not_authorized")
    # Signed by agency 2's own artefact key, not by the asking member's: refused.
    forged_text = granted["artefact"]
    forged = {"artefact": forged_text, "signature": two.runtime.artefact_keys.sign(forged_text.encode()),
              "person_secret": granted["person_secret"]}  # fmt: skip
    assert ask(forged) == (403, "artefact_invalid")
    # Not a summary request at all; then unsigned, and replayed.
    junk = b'{"format": "zhengxin.federation-summary-request/1"}'
    headers = signatures.sign("POST", url, {"content-type": "application/json"}, junk, key_id=uscc, seed=seed)
    r = two.http.post(peers.PATH, content=junk, headers=headers)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_summary_request")
    body = peers.request_body(pseudonym=pseudonym, purpose="loan_application", lender_uscc=lender.uscc,
                              inquiry_id="inq_x", authorization=given)  # fmt: skip
    assert two.http.post(peers.PATH, content=body).json()["code"] == "signature_missing"
    headers = signatures.sign("POST", url, {"content-type": "application/json"}, body, key_id=uscc, seed=seed)
    assert two.http.post(peers.PATH, content=body, headers=headers).status_code == 200
    assert two.http.post(peers.PATH, content=body, headers=headers).json()["code"] == "signature_replayed"
    # Stale, and forged (agency 1's key id, another key).
    import datetime as dt

    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=signatures.MAX_AGE_SECONDS + 5)
    stale = signatures.sign("POST", url, {"content-type": "application/json"}, body, key_id=uscc, seed=seed,
                            created=old)  # fmt: skip
    assert two.http.post(peers.PATH, content=body, headers=stale).json()["code"] == "signature_stale"
    forged = signatures.sign("POST", url, {"content-type": "application/json"}, body, key_id=uscc,
                             seed=two.settings.federation.signing_key_bytes())  # fmt: skip
    assert two.http.post(peers.PATH, content=body, headers=forged).json()["code"] == "signature_invalid"


def test_the_regulator_counts_persons_at_both_members_without_learning_who(federation):
    """The monthly PSI cardinality run between the two agencies, over signed requests: the
    regulator's node counts the persons with open loans at both, and what it received holds no
    pseudonym, let alone an ID."""
    from zhengxin.federation.flows import run_psi
    from zhengxin.federation.pseudonyms import of_persons

    fed = federation
    one, two = fed.agencies
    _populate(fed)
    month = clock.today().strftime("%Y-%m")
    fed.proxy.received.clear()
    result = run_psi(one.runtime, two.settings.federation.uscc, month)
    assert (result["own_persons"], result["peer_persons"]) == (2, 1)  # the initiator learns sizes only
    assert "count" not in result

    _, regulator = fed.regulator.parties.add("regulator", "PBOC")
    _, overseer = fed.regulator.parties.add("overseer", "Board member")
    view = fed.regulator.http.get("/v1/federation/psi", headers=overseer).json()
    assert "PSI cardinality" in view["method"]
    [run] = view["runs"]
    assert (run["month"], run["initiator"], run["responder"]) == (month, one.settings.federation.uscc,
                                                                  two.settings.federation.uscc)  # fmt: skip
    assert (run["count"], run["initiator_persons"], run["responder_persons"]) == (1, 2, 1)
    assert fed.regulator.http.get("/v1/federation/psi", headers=bureau_lender(fed)).status_code == 403
    page = _portal_page(fed.regulator, regulator, "/portal/regulator")
    assert "联盟全国视图" in page and "两家均有" in page and "Agency 1 · Agency 2" in page

    paths = sorted({path.split("?")[0] for path, _, _ in fed.proxy.received})
    assert paths == ["/v1/federation/psi/submissions"]
    with one.runtime.reading() as conn:
        known = of_persons(conn, [t for (t,) in conn.exec_driver_sql("SELECT person_token FROM federation_pseudonyms")])
    for _, body, _ in fed.proxy.received:
        assert not any(p.encode() in body or bytes.fromhex(p) in body for p in known)
        assert not any(resident_id(n).encode() in body for n in (1, 2))

    # The initiator's half again: refused, the count stands.
    from zhengxin.federation import signatures as sig

    url = f"{fed.proxy.base}/v1/federation/psi/submissions?run={run['run_id']}&month={month}&role=initiator" \
          f"&peer={two.settings.federation.uscc}"  # fmt: skip
    again = sig.post(url, bytes(32), one.settings, content_type="application/octet-stream")
    assert (again.status_code, again.json()["code"]) == (409, "psi_already_submitted")


def bureau_lender(fed) -> dict:
    _, headers = fed.regulator.parties.add("lender", "A bank")
    return headers


def _portal_page(node, headers: dict, path: str, person_id: str | None = None) -> str:
    """A portal page of a served node, signed in as these API headers' party, in Chinese."""
    import httpx

    from tests.web.portal import sign_in

    with httpx.Client(base_url=node.server.base, timeout=30) as browser:
        sign_in(browser, headers, person_id, lang="zh_CN")
        r = browser.get(path)
    assert r.status_code == 200, r.text
    return r.text


def test_the_worker_starts_last_months_run_once_per_pair(federation):
    """The background job: after psi_day, last month's run with each peer whose USCC sorts after
    this member's, once; the other member starts none with it."""
    from zhengxin.background import JOBS
    from zhengxin.federation.flows import run_due_psi

    assert "federation PSI runs" in [job.name for job in JOBS]
    fed = federation
    one, two = fed.agencies
    _populate(fed)
    this_month = clock.today().replace(day=1)
    next_month = (this_month + timedelta(days=32)).replace(day=1)
    assert run_due_psi(one.runtime, next_month.replace(day=10)) == []  # before psi_day (15)
    [started] = run_due_psi(one.runtime, next_month.replace(day=20))
    assert (started["month"], started["peer"]) == (this_month.strftime("%Y-%m"), two.settings.federation.uscc)
    assert run_due_psi(one.runtime, next_month.replace(day=21)) == []  # once
    assert run_due_psi(two.runtime, next_month.replace(day=20)) == []  # started by the other
    _, overseer = fed.regulator.parties.add("overseer", "Board member")
    [run] = fed.regulator.http.get("/v1/federation/psi", headers=overseer).json()["runs"]
    assert (run["month"], run["count"]) == (this_month.strftime("%Y-%m"), 1)

