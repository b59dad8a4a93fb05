"""The catalog is data: validated at load, and a new sector needs entries, not code."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import make_settings
from tests.records import CONTENT_TYPES, ENCODERS, resident_id
from zhengxin.app import create_app
from zhengxin.catalog import load_catalog
from zhengxin.catalog.model import DEFAULT_PATH, parse_catalog
from zhengxin.records.tables import generic_records
from zhengxin.runtime import Runtime

TELECOM = """
[record_types.telecom_bill]
description = "Monthly mobile bill and whether it was paid on time"
store = "generic"
key = ["month"]
retention = "36 months"
retention_months = 36
purposes = ["loan_application"]

[record_types.telecom_bill.fields.month]
type = "month"
required = true

[record_types.telecom_bill.fields.billed_fen]
type = "money"
required = true
pi = true

[record_types.telecom_bill.fields.paid_on_time]
type = "enum"
values = ["yes", "no"]
required = true
pi = true
"""


def test_packaged_catalog_grades_and_flags_every_field():
    catalog = load_catalog()
    travel = catalog.fields_of("travel")
    assert catalog.record_types["travel"].separate_consent
    assert travel["trips"].sensitive and travel["trips"].grade == "important"
    assert catalog.fields_of("loan")["person_id"].sensitive
    assert set(catalog.record_types["consumption"].purposes) <= set(catalog.purposes)
    assert catalog.prohibited.matches("patient_blood_type") and not catalog.prohibited.matches("general_note")


@pytest.mark.parametrize(
    "extra, message",
    [
        ('\n[record_types.loan.fields.religion]\ntype = "string"\n', "prohibited"),
        ('\n[record_types.loan.fields.annual_income]\ntype = "money"\n', "written_consent"),
        ('\n[record_types.loan.fields.tier]\ntype = "enum"\n', "enum needs values"),
    ],
)
def test_a_catalog_that_breaks_a_rule_fails_to_load(extra, message):
    with pytest.raises(ValueError, match=message):
        parse_catalog(DEFAULT_PATH.read_text() + extra)


def test_a_new_sector_is_onboarded_by_catalog_entries_alone(tmp_path: Path, db_url):
    path = tmp_path / "catalog.toml"
    path.write_text(DEFAULT_PATH.read_text() + TELECOM)
    runtime = Runtime(make_settings(db_url, catalog_path=path))
    from tests.conftest import Parties, _empty_all_tables

    _empty_all_tables(runtime.engine)
    _, h = Parties(runtime).add("furnisher", "telecom-co")
    bill = {
        "record_type": "telecom_bill",
        "person_id": resident_id(5),
        "name": "周杰",
        "consent_ref": "C-1",
        "as_of": "2026-10-31",
        "month": "2026-10",
        "billed_fen": 8800,
        "paid_on_time": "yes",
    }
    bad = {**bill, "person_id": resident_id(6), "paid_on_time": "maybe"}
    with TestClient(create_app(runtime=runtime)) as client:
        # The API document of this deployment names the new record type wherever one is asked for.
        scopes = client.get("/openapi.json").json()["components"]["schemas"]["AuthorizationCreate"]["properties"]
        assert "telecom_bill" in scopes["scopes"]["items"]["enum"]
        r = client.post(
            "/v1/furnishing/batches",
            content=ENCODERS["jsonl"]([bill, bad]),
            headers={**h, "Content-Type": CONTENT_TYPES["jsonl"]},
        )
    assert (r.json()["accepted"], r.json()["rejected"]) == (1, 1)
    with runtime.engine.connect() as conn:
        row = conn.execute(select(generic_records)).mappings().one()
    assert row["record_type"] == "telecom_bill" and row["record_key"] == "2026-10"
    assert row["payload"] == {"month": "2026-10", "billed_fen": 8800, "paid_on_time": "yes"}
    runtime.engine.dispose()
