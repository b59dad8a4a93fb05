"""The `zhengxin` command line on an embedded deployment directory (and one on PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from tests.records import ENCODERS, loan, resident_id
from zhengxin.cli import app
from zhengxin.config import load_settings
from zhengxin.identity.tables import pii_vault
from zhengxin.kit.db import make_engine

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_init_add_furnish_and_rotate_on_an_embedded_deployment(tmp_path: Path):
    d = str(tmp_path / "dep")
    invoke("init", "--dir", d)
    assert (tmp_path / "dep" / "secrets.env").stat().st_mode & 0o777 == 0o600
    out = invoke("parties", "add", "furnisher", "Yunpay", "--uscc", "91110000600037341L", "--dir", d)
    assert json.loads(out.stdout.strip().splitlines()[-1])["api_key"].startswith("zx_")
    file = tmp_path / "loans.jsonl"
    file.write_bytes(ENCODERS["jsonl"]([loan(1), loan(2), loan(3, product="nope")]))
    out = invoke("furnish", str(file), "--furnisher", "Yunpay", "--dir", d)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert (summary["received"], summary["accepted"], summary["rejected"], summary["replayed"]) == (3, 2, 1, False)
    again = json.loads(invoke("furnish", str(file), "--furnisher", "Yunpay", "--dir", d).stdout.splitlines()[-1])
    assert again["replayed"] and again["id"] == summary["id"]

    out = invoke("vault", "rotate", "--dir", d)
    assert "re-encrypted 2 vault values and 1 quarantined" in out.output
    settings = load_settings(tmp_path / "dep")
    assert settings.vault_active_key == "k2"
    engine = make_engine(settings.url)
    with engine.connect() as conn:
        assert {r.key_id for r in conn.execute(select(pii_vault.c.key_id))} == {"k2"}
    engine.dispose()


def test_cli_errors_are_codes_not_tracebacks(tmp_path: Path):
    d = str(tmp_path / "dep")
    invoke("init", "--dir", d)
    result = runner.invoke(
        app, ["parties", "add", "individual", "x", "--person-id", resident_id(1)[:-1] + "Z", "--dir", d]
    )
    assert result.exit_code == 2 and "resident_id_checksum" in result.output
    file = tmp_path / "f.csv"
    file.write_text("a\n1\n")
    result = runner.invoke(app, ["furnish", str(file), "--furnisher", "nobody", "--dir", d])
    assert result.exit_code == 2 and "furnisher_not_found" in result.output


def test_init_migrates_a_fresh_postgres_database(pg_schema_url):
    import uuid

    from sqlalchemy import create_engine, inspect, text

    from tests.conftest import PG_URL

    schema = f"zx_cli_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        invoke("init", "--db", url)
        invoke("init", "--db", url)  # idempotent
        tables = set(inspect(admin).get_table_names(schema=schema))
        assert {"parties", "api_keys", "pii_vault", "account_snapshots", "furnishing_batches"} <= tables
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_demo_builds_a_deployment_whose_credentials_work(tmp_path: Path):
    from fastapi.testclient import TestClient

    from zhengxin.app import create_app
    from zhengxin.runtime import Runtime

    d = tmp_path / "demo"
    invoke("demo", "--dir", str(d), "--persons", "400", "--no-serve")
    credentials = json.loads((d / "credentials.json").read_text())
    roles = [c["role"] for c in credentials]
    assert {r: roles.count(r) for r in set(roles)} == {
        "agency": 2, "furnisher": 6, "lender": 3, "regulator": 1, "overseer": 2, "individual": 12,
    }  # fmt: skip
    individuals = [c for c in credentials if c["role"] == "individual"]
    assert all(len(c["person_id"]) == 18 for c in individuals)
    assert len({c["api_key"] for c in credentials}) == len(credentials)
    runtime = Runtime(load_settings(d))
    with TestClient(create_app(runtime=runtime)) as client:
        for c in credentials:
            me = client.get("/v1/parties/me", headers={"Authorization": f"Bearer {c['api_key']}"}).json()
            assert (me["role"], me["name"]) == (c["role"], c["name"])
        furnisher = {"Authorization": f"Bearer {next(c for c in credentials if c['role'] == 'furnisher')['api_key']}"}
        batches = client.get("/v1/furnishing/batches", headers=furnisher).json()
        assert sum(b["accepted"] for b in batches) > 0
        flawed = [b for b in batches if b["rejected"]]
        assert flawed and flawed[0]["rejected"] == 6
        head = client.get("/v1/log/sth", headers=furnisher).json()
        assert head["tree_size"] > 400 and len(head["cosignatures"]) == 3
        me = {"Authorization": f"Bearer {individuals[0]['api_key']}"}
        receipts = client.get("/v1/me/receipts", headers=me).json()["receipts"]
        assert receipts and receipts[0]["kind"] == "furnishing.records"
        # Every demo person authorized a lender, who queried them; the first then revoked.
        assert {"authorization.granted", "inquiry", "authorization.revoked", "inquiry.denied"} <= {
            r["kind"] for r in receipts
        }
        mine = client.get("/v1/authorizations", headers=me).json()
        assert mine and mine[-1]["status"] == "revoked"
        # One dispute went through to a verified close; another waits, flagged in reports.
        closed, waiting = (
            client.get("/v1/me/disputes", headers={"Authorization": f"Bearer {c['api_key']}"}).json()["disputes"]
            for c in individuals[1:3]
        )
        assert [(d["status"], d["outcome"]) for d in closed] == [("closed", "verified")]
        assert [d["status"] for d in waiting] == ["open"]
        own = client.get("/v1/me/report", headers={"Authorization": f"Bearer {individuals[2]['api_key']}"}).json()
        assert any(a["under_dispute"] and a["statement"] for a in own["report"]["accounts"])
        lenders = [c for c in credentials if c["role"] == "lender"]
        # The banks furnished their cards, loans and guarantees; the last three demo persons show
        # an identity conflict, an open public record and a guarantee in their own reports.
        bank = {"Authorization": f"Bearer {lenders[0]['api_key']}"}
        theirs = client.get("/v1/furnishing/batches", headers=bank).json()
        assert theirs and sum(b["accepted"] for b in theirs) > 0 and all(b["rejected"] == 0 for b in theirs)
        reports = [
            client.get("/v1/me/report", headers={"Authorization": f"Bearer {c['api_key']}"}).json()["report"]
            for c in individuals[-3:]
        ]
        assert reports[0]["identity"]["conflicting_sources"] and reports[0]["credit_cards"]
        assert reports[1]["summary"]["open_public_records"] >= 1
        assert reports[2]["liabilities"] and reports[2]["liabilities"][0]["covered_account"] is not None
        invoices = [
            invoice
            for lender in lenders
            for invoice in client.get(
                "/v1/billing/invoices", headers={"Authorization": f"Bearer {lender['api_key']}"}
            ).json()
        ]
        assert sum(i["inquiries"] for i in invoices) >= 12
        # A lender can run a fresh inquiry with the credentials: the person grants, the lender asks.
        person = individuals[1]
        granted = client.post(
            "/v1/authorizations",
            json={"lender": lenders[0]["name"], "purpose": "guarantee_review", "scopes": ["loan"]},
            headers={"Authorization": f"Bearer {person['api_key']}"},
        ).json()
        r = client.post(
            "/v1/inquiries",
            json={"person_id": person["person_id"], "authorization_id": granted["id"], "purpose": "guarantee_review",
                  "product": "report"},
            headers={"Authorization": f"Bearer {lenders[0]['api_key']}"},
        )  # fmt: skip
        assert r.status_code == 201 and r.json()["report"]["accounts"], r.text
        # A scorecard trained on the population is live: lenders bought scores, persons see theirs.
        models = client.get("/v1/scoring/models", headers=me).json()
        assert [m["active"] for m in models] == [True] and (d / "model" / "model-card.html").exists()
        scored = client.get("/v1/me/scores", headers=me).json()
        assert scored and all(s["model_version"] == models[0]["version"] for s in scored)
        assert own["report"]["score"]["score"] is not None
        # The regulator's views are filled by the demo's supervision run, with no person tokens.
        regulator = {"Authorization": f"Bearer {next(c for c in credentials if c['role'] == 'regulator')['api_key']}"}
        for view in ("obligations", "co-lending", "multi-lending", "inquiries", "disputes", "outstanding"):
            r = client.get(f"/v1/supervision/{view}", headers=regulator)
            assert r.status_code == 200 and r.json()["backend"] == "duckdb", (view, r.text)
        assert client.get("/v1/supervision/outstanding", headers=regulator).json()["rows"]
        # Three weeks of weekly loan files: one platform never sent its third, another sent it late;
        # the regulator's view and each furnisher's own obligation status say the same.
        rows = client.get("/v1/supervision/obligations", headers=regulator).json()["rows"]
        verdicts = {r["furnisher"]: (r["expected"], r["on_time"], r["late"], r["missing"]) for r in rows}
        assert sorted(verdicts.values()) == [(3, 2, 0, 1), (3, 2, 1, 0), (3, 3, 0, 0), (3, 3, 0, 0), (3, 3, 0, 0)]
        obliged = [c for c in credentials if c["role"] == "furnisher" and c["name"] in verdicts]
        assert len(obliged) == 5  # the platforms; the public-records service has no weekly file
        for furnisher in obliged:
            own = client.get("/v1/furnishing/obligations", headers={"Authorization": f"Bearer {furnisher['api_key']}"})
            expected, on_time, late, missing = verdicts[furnisher["name"]]
            status = "missing" if missing else "late" if late else "on_time"
            assert [o["status"] for o in own.json()] == [status], own.text
        assert [t["status"] for t in client.get("/v1/transfers", headers=regulator).json()["transfers"]] == ["pending"]
        assert client.get("/v1/supervision/app-reviews", headers=regulator).json()["reviews"][0]["excessive"]
    verified = runner.invoke(app, ["log", "verify", "--dir", str(d)])
    assert verified.exit_code == 0 and "3 cosignature(s)" in verified.output, verified.output
    # every individual has furnished loans
    from zhengxin.identity.resident_id import validate
    from zhengxin.identity.tokens import person_token
    from zhengxin.records.repository import latest_accounts

    with runtime.engine.connect() as conn:
        for c in individuals:
            token = person_token(runtime.pepper, validate(c["person_id"]))
            assert latest_accounts(conn, token)
    runtime.engine.dispose()
