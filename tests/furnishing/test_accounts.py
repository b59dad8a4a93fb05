"""Issue 18: an account belongs to one person at its furnisher. A record naming another person
for an account already held (in the store, earlier in the batch, or earlier in the chunk) is
rejected with its own code and kept; the holder's file is untouched."""

from __future__ import annotations

from tests.records import CONTENT_TYPES, ENCODERS, loan, resident_id
from zhengxin.records.repository import latest_accounts


def furnish(client, headers, records, key=None) -> dict:
    h = {**headers, "Content-Type": CONTENT_TYPES["jsonl"]}
    if key:
        h["Idempotency-Key"] = key
    r = client.post("/v1/furnishing/batches", content=ENCODERS["jsonl"](records), headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    errors = client.get(f"/v1/furnishing/batches/{body['id']}/errors", headers=headers).json()["errors"]
    return {"accepted": body["accepted"], "errors": {e["line"]: (e["field"], e["code"], e["rule"]) for e in errors}}


def test_an_account_of_one_person_cannot_be_written_into_anothers_file(client, runtime, parties):
    _, platform = parties.add("furnisher")
    _, other_platform = parties.add("furnisher")
    first = furnish(client, platform, [loan(1)], key="a")
    assert first["accepted"] == 1
    # The same account id, another person: in the next batch, and twice within one batch.
    intruder = loan(1, person_id=resident_id(2), as_of="2026-11-30")
    second = furnish(client, platform, [
        intruder,
        loan(3, as_of="2026-11-30"),
        loan(4, account_id="ACC-NEW", as_of="2026-10-31"),
        loan(5, account_id="ACC-NEW", as_of="2026-11-30"),
    ], key="b")  # fmt: skip
    assert second["accepted"] == 2
    assert second["errors"] == {
        1: ("account_id", "account_of_another_person", "PIPL-46"),
        4: ("account_id", "account_of_another_person", "PIPL-46"),
    }
    # Another furnisher's accounts are its own: the same id names another account there.
    assert furnish(client, other_platform, [loan(2, account_id="ACC-000001")], key="c")["accepted"] == 1
    # The holder's own later months are accepted, and the intruder's record reached no file.
    assert furnish(client, platform, [loan(1, as_of="2026-11-30")], key="d")["accepted"] == 1
    from zhengxin.identity.tokens import person_token

    with runtime.reading() as conn:
        intruded = latest_accounts(conn, person_token(runtime.pepper, resident_id(2)))
    assert [a["account_id"] for a in intruded] == ["ACC-000001"]  # only the other furnisher's


def test_a_furnisher_corrects_an_accounts_holder_and_both_files_show_it(client, runtime, parties):
    """The reassignment path: the furnisher names the true holder; every month moves; the wrong
    holder's report and the true holder's both show the correction; intake then follows it."""
    _, platform = parties.add("furnisher", "Platform One")
    _, other = parties.add("furnisher", "Platform Two")
    assert furnish(client, platform, [loan(1, as_of="2026-09-30"), loan(1)], key="a")["accepted"] == 2
    _, wrong = parties.add("individual", "wrong", person_id=resident_id(1))
    _, right = parties.add("individual", "right", person_id=resident_id(2))
    body = {"account_id": "ACC-000001", "person_id": resident_id(2), "name": "李娜", "reference": "FIX-2026-001"}

    def reassign(headers, **change):
        return client.post("/v1/furnishing/reassignments", json={**body, **change}, headers=headers)

    assert (reassign(other).status_code, reassign(other).json()["code"]) == (404, "account_not_found")
    assert reassign(platform, person_id=resident_id(1)).json()["code"] == "same_person"
    assert reassign(platform, person_id="110105199001010000").status_code == 422  # a bad check digit
    assert reassign(right).status_code == 403  # a person cannot move accounts
    made = reassign(platform)
    assert made.status_code == 201, made.text
    assert made.json()["reference"] == "FIX-2026-001" and resident_id(2) not in made.text

    def report(headers) -> dict:
        return client.get("/v1/me/report", headers=headers).json()["report"]

    theirs, mine = report(right), report(wrong)
    assert [a["account_id"] for a in theirs["accounts"]] == ["ACC-000001"] and mine["accounts"] == []
    shown = [(c["direction"], c["account_id"], c["reference"], c["furnisher"]["name"]) for c in theirs["corrections"]]
    assert shown == [("added", "ACC-000001", "FIX-2026-001", "Platform One")]
    assert [c["direction"] for c in mine["corrections"]] == ["removed"]
    assert theirs["identity"]["name"] == "李*"  # a holder the agency had not met is known from the correction
    with runtime.reading() as conn:
        from zhengxin.identity.tokens import person_token

        moved = latest_accounts(conn, person_token(runtime.pepper, resident_id(2)))
    assert moved[0]["month"] == "2026-10" and len(moved) == 1
    # Intake now follows the correction: the true holder's months are accepted, the other's refused.
    later = furnish(client, platform, [loan(2, as_of="2026-11-30"), loan(1, as_of="2026-11-30")], key="b")
    assert later["accepted"] == 1 and later["errors"] == {2: ("account_id", "account_of_another_person", "PIPL-46")}
    # Each person's log records it, for the person alone.
    kinds = [r["kind"] for r in client.get("/v1/me/receipts", headers=right).json()["receipts"]]
    assert "account.reassigned" in kinds
