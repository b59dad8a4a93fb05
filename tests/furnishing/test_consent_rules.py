"""Issue 18, the rules read exactly at intake: a person under 14 (by the resident ID's birth
date, on Beijing's day) is refused unless the record carries the guardian's consent (PIPL-31);
a CR-14b field is refused without the written consent's reference. Through the furnishing API,
on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from tests.conftest import Parties, _empty_all_tables, make_settings
from tests.records import CONTENT_TYPES, ENCODERS, loan, resident_id
from zhengxin.app import create_app
from zhengxin.catalog.model import DEFAULT_PATH
from zhengxin.kit import clock
from zhengxin.runtime import Runtime


def furnish(client, headers, records) -> dict:
    r = client.post("/v1/furnishing/batches", content=ENCODERS["jsonl"](records),
                    headers={**headers, "Content-Type": CONTENT_TYPES["jsonl"]})  # fmt: skip
    assert r.status_code == 201, r.text
    body = r.json()
    errors = client.get(f"/v1/furnishing/batches/{body['id']}/errors", headers=headers).json()["errors"]
    return {"accepted": body["accepted"], "errors": {e["line"]: (e["field"], e["code"], e["rule"]) for e in errors}}


def test_a_child_is_refused_without_a_guardians_consent_on_both_sides_of_the_14th_birthday(client, parties):
    _, h = parties.add("furnisher")
    born = "20121231"  # 14 on 31 December 2026, a day that begins at 16:00 UTC on the 30th
    records = [
        loan(1, person_id=resident_id(1, birth=born)),
        loan(2, person_id=resident_id(2, birth=born), guardian_consent_ref="GRD-2"),
        loan(3, person_id=resident_id(3, birth="19900101")),
    ]
    with clock.frozen_at(datetime(2026, 12, 30, 15, 59, tzinfo=UTC)):  # 30 December in Beijing: 13
        before = furnish(client, h, records)
    assert before["accepted"] == 2
    assert before["errors"] == {1: ("guardian_consent_ref", "guardian_consent_required", "PIPL-31")}
    with clock.frozen_at(datetime(2026, 12, 30, 16, 0, tzinfo=UTC)):  # 31 December in Beijing: 14
        after = furnish(client, h, [loan(4, person_id=resident_id(4, birth=born))])
    assert (after["accepted"], after["errors"]) == (1, {})


def test_a_written_consent_field_needs_its_reference(tmp_path, db_url):
    path = tmp_path / "catalog.toml"
    path.write_text(DEFAULT_PATH.read_text() + (
        '\n[record_types.loan.fields.annual_income_fen]\ntype = "money"\ngrade = "important"\npi = true\n'
        "written_consent = true\n"))  # fmt: skip
    runtime = Runtime(make_settings(db_url, catalog_path=path))
    _empty_all_tables(runtime.engine)
    _, h = Parties(runtime).add("furnisher")
    with TestClient(create_app(runtime=runtime)) as client:
        result = furnish(client, h, [
            loan(1, annual_income_fen=12_000_000),
            loan(2, annual_income_fen=12_000_000, written_consent_ref="WC-2"),
            loan(3),
        ])  # fmt: skip
    runtime.engine.dispose()
    assert result["accepted"] == 2
    assert result["errors"] == {1: ("written_consent_ref", "written_consent_required", "CR-14b")}


def test_a_child_is_noted_at_intake_and_counts_as_sensitive_in_an_export(runtime, client, parties, tmp_path):
    """PIPL-28: under 14, information is sensitive whatever the record type. Consumption is not a
    sensitive type, yet an export of a child's consumption declared without sensitive persons is
    refused (and writes nothing); declared with them, it leaves."""
    from sqlalchemy import select

    from tests.records import consumption
    from zhengxin.identity.tables import minors
    from zhengxin.identity.tokens import person_token

    runtime.settings.data_dir = tmp_path
    _, platform = parties.add("furnisher", "Platform One")
    _, regulator = parties.add("regulator", "PBOC")
    child = resident_id(1, birth="20150601")
    with clock.frozen_at(datetime(2026, 11, 2, 4, tzinfo=UTC)):
        made = furnish(client, platform, [
            consumption(1, person_id=child, guardian_consent_ref="GRD-1"), consumption(2), consumption(3),
        ])  # fmt: skip
        assert made["accepted"] == 3
        with runtime.reading() as conn:
            noted = conn.execute(select(minors.c.person_token, minors.c.adult_on)).all()
        assert [(t, str(d)) for t, d in noted] == [(person_token(runtime.pepper, child), "2029-06-01")]

        def export(sensitive: int):
            ask = {"destination": "SG", "recipient": "Acme Analytics Pte. Ltd.", "record_types": ["consumption"],
                   "persons": 3, "sensitive_persons": sensitive, "data_grade": "general", "separate_consent": True}
            transfer = client.post("/v1/transfers", json=ask, headers=platform).json()
            decided = client.post(f"/v1/transfers/{transfer['id']}/decision", headers=regulator,
                                  json={"decision": "approve", "note": "Filed contract checked"})  # fmt: skip
            assert decided.status_code == 200, decided.text
            return client.post(f"/v1/transfers/{transfer['id']}/export", headers=platform)

        refused = export(0)
        assert (refused.status_code, refused.json()["code"], refused.json()["minors"]) == (
            409, "sensitive_persons_understated", 1)
        assert not list((tmp_path / "transfers").glob("*.parquet"))  # nothing written
        assert export(1).status_code == 201
