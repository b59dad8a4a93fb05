"""The regulator's supervision routes over HTTP, serving the latest stored run (both databases),
and `zhengxin supervision run` end to end: the store exported to a lake, analysed, served."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.analytics.population import AS_OF, TOKENS, write_lake
from tests.analytics.test_views import EXPECTED
from tests.bureau import Bureau
from tests.records import loan
from zhengxin.analytics import VIEWS
from zhengxin.analytics.flows import run_supervision
from zhengxin.audit.service import sequence_all, tree_size
from zhengxin.cli import app

runner = CliRunner()


@pytest.fixture
def lake(tmp_path):
    return write_lake(tmp_path / "lake")


def test_before_any_run_the_views_are_404(client, parties):
    _, regulator = parties.add("regulator", "PBOC")
    for view in VIEWS:
        r = client.get(f"/v1/supervision/{view}", headers=regulator)
        assert r.status_code == 404 and r.json()["code"] == "no_supervision_run", r.text


def test_the_routes_serve_the_stored_run_without_any_person_token(client, parties, runtime, lake):
    _, regulator = parties.add("regulator", "PBOC")
    run = run_supervision(runtime, lake, backend="duckdb", as_of=AS_OF, export=False)
    for view in VIEWS:
        r = client.get(f"/v1/supervision/{view}", headers=regulator)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["run_id"], body["as_of"], body["backend"]) == (run["id"], "2026-06-15", "duckdb")
        assert body["generated_at"].startswith(run["finished_at"].date().isoformat())
        assert body["rows"] == EXPECTED[view]
        assert "person_token" not in r.text
        assert not [token for token in TOKENS.values() if token in r.text]


def test_overseers_and_the_agency_read_them_other_parties_do_not(client, parties, runtime, lake):
    run_supervision(runtime, lake, backend="duckdb", as_of=AS_OF, export=False)
    for role in ("overseer", "agency"):
        _, headers = parties.add(role)
        assert client.get("/v1/supervision/co-lending", headers=headers).status_code == 200
    for role, extra in (("furnisher", {}), ("lender", {}), ("individual", {"person_id": loan(1)["person_id"]})):
        _, headers = parties.add(role, **extra)
        r = client.get("/v1/supervision/co-lending", headers=headers)
        assert r.status_code == 403 and r.json()["code"] == "forbidden_role"
    assert client.get("/v1/supervision/co-lending").status_code == 401


def test_the_latest_run_is_served_and_each_run_is_logged(client, parties, runtime, lake):
    _, regulator = parties.add("regulator", "PBOC")
    run_supervision(runtime, lake, backend="duckdb", as_of=AS_OF, export=False)
    later = run_supervision(runtime, lake, backend="duckdb", as_of=AS_OF.replace(day=16), export=False)
    body = client.get("/v1/supervision/disputes", headers=regulator).json()
    assert (body["run_id"], body["as_of"]) == (later["id"], "2026-06-16")
    # dsp_6 was opened on 06-16: one more dispute at Platform B
    assert {r["furnisher_id"]: r["opened"] for r in body["rows"]}["fur_b"] == 3

    sequence_all(runtime.engine)
    with runtime.engine.connect() as conn:
        size = tree_size(conn)
    entries = client.get(f"/v1/log/entries?start=0&end={size}", headers=regulator).json()["entries"]
    runs = [json.loads(e["leaf"]) for e in entries if '"supervision.run"' in e["leaf"]]
    assert [r["run_id"] for r in runs][-1] == later["id"]
    assert runs[-1]["rows"] == {view: len(rows) for view, rows in later["results"].items()}


def test_supervision_run_exports_the_store_analyses_it_and_stores_the_run(client, parties, runtime, tmp_path):
    bureau = Bureau(client, parties)
    bank = bureau.lender("Bank of Co-lending", 7)
    _, regulator = parties.add("regulator", "PBOC")
    bureau.furnish(
        [
            loan(1, account_id="ACC-1", platform_share=0.25, co_lender_uscc=bank.uscc, balance_fen=400_000),
            loan(2, account_id="ACC-2", platform_share=0.40, co_lender_uscc=bank.uscc, balance_fen=600_000),
            loan(3, account_id="ACC-3", co_lender_uscc=None, balance_fen=100_000),
        ]
    )
    url = runtime.settings.database_url
    lake = tmp_path / "lake"
    result = runner.invoke(app, ["supervision", "run", "--db", url, "--lake", str(lake), "--as-of", "2026-11-30"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert (summary["as_of"], summary["backend"], summary["exported"]) == ("2026-11-30", "duckdb", True)
    assert summary["rows"]["outstanding"] == 1 and (lake / "_lake.json").exists()

    body = client.get("/v1/supervision/co-lending", headers=regulator).json()
    assert body["run_id"] == summary["id"]
    [row] = body["rows"]
    assert (row["furnisher"], row["co_lender"], row["co_lender_uscc"]) == ("Platform One", bank.name, bank.uscc)
    assert (row["loans"], row["below_min_loans"], row["below_min_balance_fen"]) == (2, 1, 400_000)
    [outstanding] = client.get("/v1/supervision/outstanding", headers=regulator).json()["rows"]
    assert (outstanding["accounts"], outstanding["persons"], outstanding["balance_fen"]) == (3, 3, 1_100_000)


def test_supervision_run_refuses_an_unknown_engine_before_any_work(runtime, tmp_path):
    lake = tmp_path / "lake"
    url = runtime.settings.database_url
    result = runner.invoke(app, ["supervision", "run", "--db", url, "--lake", str(lake), "--backend", "sqlite"])
    assert result.exit_code == 2
    assert "unknown_backend" in result.output
    assert not lake.exists()
