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
