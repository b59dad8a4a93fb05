"""The score product end to end: a registered model made live scores lenders' score inquiries
and the person's self-query with the same reasons, every score names its model version and is
kept, and with no live model nothing is scored or charged."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from tests.bureau import Bureau, a_uscc
from tests.records import consumption, loan
from zhengxin.cli import app
from zhengxin.inquiries.tables import inquiries
from zhengxin.kit import clock
from zhengxin.reports.scoring import service as scoring
from zhengxin.reports.scoring.features import from_population
from zhengxin.reports.scoring.model import points, score_frame, train, write_card
from zhengxin.reports.scoring.tables import scores, scoring_models
from zhengxin.synth import generate

AS_OF = date(2026, 10, 31)


@pytest.fixture(scope="module")
def trained():
    population = generate(4_000, seed=11, as_of=AS_OF)
    frame = from_population(population, AS_OF)
    first = train(frame, "default_next_12m", seed=1)
    second = train(frame, "default_next_12m", seed=2)  # another split: another version
    return frame, first, second


def _live(runtime, model, card):
    with runtime.transaction() as conn:
        scoring.register(conn, model, card, now=clock.now())
        scoring.activate(conn, model["version"], now=clock.now())


def _late_person(bureau):
    """A person 95 days past due on one loan, with a second, clean one."""
    late = loan(41, days_past_due=95, overdue_fen=120000, status="overdue", payment_history="N" * 21 + "123",
                negative_notice_ref="NTC-41")  # fmt: skip
    return bureau.person(41, late, loan(41, account_id="ACC-041-B", balance_fen=10000))


def test_no_live_model_means_no_score_and_no_charge(client, parties, runtime, trained):
    _, (model, card), _ = trained
    bureau = Bureau(client, parties)
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(1)
    grant = bureau.grant(person, bank, products=["report", "score"])

    r = bureau.inquire(bank, person, grant["id"], product="score")
    assert r.status_code == 409 and r.json()["code"] == "product_unavailable"
    with runtime.transaction() as conn:
        scoring.register(conn, model, card, now=clock.now())  # registered, not live: still no score
    r = bureau.inquire(bank, person, grant["id"], product="score")
    assert r.status_code == 409 and r.json()["code"] == "product_unavailable"
    assert client.get("/v1/me/report", headers=person.headers).json()["report"]["score"] is None
    with runtime.reading() as conn:
        assert conn.execute(select(func.count()).select_from(inquiries)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(scores)).scalar_one() == 0
    assert bureau.invoices(bank) == []

    _live(runtime, model, card)
    assert bureau.inquire(bank, person, grant["id"], product="score").status_code == 201
    with runtime.transaction() as conn:
        assert scoring.deactivate(conn, now=clock.now()) == model["version"]
    r = bureau.inquire(bank, person, grant["id"], product="score")  # taken down: unavailable again
    assert r.status_code == 409 and r.json()["code"] == "product_unavailable"


def test_a_score_inquiry_sells_the_score_and_its_reasons_not_the_records(client, parties, runtime, trained):
    _, (model, card), _ = trained
    _live(runtime, model, card)
    bureau = Bureau(client, parties)
    bank = bureau.lender("Bank A", 1)
    person = _late_person(bureau)
    grant = bureau.grant(person, bank, products=["score"])

    r = bureau.inquire(bank, person, grant["id"], product="score")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["fee_fen"] == 300  # the score's own price (FEE-1)
    report = body["report"]
    assert set(report) == {"header", "identity", "score"}  # no accounts, no history: only what was bought
    got = report["score"]
    assert got["model_version"] == model["version"] and got["inputs"] == ["loan"]
    assert got["min_score"] <= got["score"] <= got["max_score"]
    assert got["reasons"][0]["code"] == "R02" and got["reasons"][0]["text"] == "An account is past due now"
    assert "PIPL-24" in got["review"] and f"every {model['scaling']['pdo']:g} points" in got["explanation"]
    # A report-only authorization does not buy a score, and a report does not carry one.
    assert bureau.inquire(bank, person, grant["id"], product="report").status_code == 403

    with runtime.reading() as conn:
        kept = conn.execute(select(scores)).mappings().one()
    assert kept["inquiry_id"] == body["inquiry_id"] and kept["model_version"] == model["version"]
    assert kept["score"] == got["score"] and kept["reasons"] == got["reasons"]
    assert kept["features"]["worst_dpd_now"] == 95
    # The stored inputs reproduce the score with the version it names.
    assert round(points(model, kept["features"])[0]) == got["score"]

    size = client.post("/v1/log/sth", headers=bureau.agency).json()["tree_size"]
    entries = client.get("/v1/log/entries", params={"start": 0, "end": size}, headers=bureau.agency).json()
    leaves = [json.loads(e["leaf"]) for e in entries["entries"]]
    assert any(leaf.get("score") == got["score_id"] and leaf.get("model") == model["version"] for leaf in leaves)


def test_a_score_needs_loan_in_scope_and_a_thin_file_gets_no_score(client, parties, runtime, trained):
    _, (model, card), _ = trained
    _live(runtime, model, card)
    bureau = Bureau(client, parties)
    bank = bureau.lender("Bank A", 1)
    person = bureau.person(2)
    grant = bureau.grant(person, bank, scopes=["consumption"], products=["score"])
    r = bureau.inquire(bank, person, grant["id"], product="score")
    assert r.status_code == 422 and r.json()["code"] == "score_requires_loan_scope"

    # A person whose only record is consumption: scored as "no score", not as a made-up number.
    thin = bureau.person(3, consumption(3))
    mine = client.get("/v1/me/report", headers=thin.headers).json()["report"]["score"]
    assert mine["score"] is None and mine["reasons"] == [] and "no loan account" in mine["explanation"]


def test_the_person_sees_the_score_and_reasons_a_lender_got(client, parties, runtime, trained):
    _, (model, card), (newer, newer_card) = trained
    _live(runtime, model, card)
    bureau = Bureau(client, parties)
    bank = bureau.lender("Bank A", 1)
    person = _late_person(bureau)
    grant = bureau.grant(person, bank, scopes=["loan", "consumption"], products=["score"])
    lender_view = bureau.inquire(bank, person, grant["id"], product="score").json()["report"]["score"]

    own = client.get("/v1/me/report", headers=person.headers).json()["report"]
    assert own["accounts"] and own["score"]["model_version"] == model["version"]
    # The self-query counts the lender's inquiry, which the lender's own score could not.
    assert own["score"]["reasons"][0] == lender_view["reasons"][0]

    # A new version made live: the next score names it; the history keeps both.
    _live(runtime, newer, newer_card)
    again = client.get("/v1/me/report", headers=person.headers).json()["report"]["score"]
    assert again["model_version"] == newer["version"]
    history = client.get("/v1/me/scores", headers=person.headers).json()
    assert [h["model_version"] for h in history] == [newer["version"], model["version"], model["version"]]
    assert history[-1]["inquiry_id"] and history[0]["self_query_id"]
    export = client.get("/v1/me/export", headers=person.headers).json()
    assert len(export["scores"]) == 3


def test_the_registry_refuses_edited_models_and_keeps_one_live(client, parties, runtime, trained):
    _, (model, card), (newer, newer_card) = trained
    edited = json.loads(json.dumps(model))
    edited["features"][0]["points"][0] += 10  # a points table changed after training
    with pytest.raises(Exception) as refused, runtime.transaction() as conn:
        scoring.register(conn, edited, card, now=clock.now())
    assert refused.value.code == "model_digest_mismatch"

    _live(runtime, model, card)
    _live(runtime, newer, newer_card)
    with runtime.transaction() as conn:
        scoring.register(conn, newer, newer_card, now=clock.now())  # again: a no-op
    with runtime.reading() as conn:
        rows = {r.version: r for r in conn.execute(select(scoring_models))}
    assert rows[newer["version"]].active and not rows[model["version"]].active
    assert rows[model["version"]].retired_at is not None
    # Two live models at once is refused by the database itself.
    with pytest.raises(IntegrityError), runtime.transaction() as conn:
        conn.execute(
            insert(scoring_models).values(
                version="sc-x", model="{}", model_sha256="0" * 64, card={}, active=True, registered_at=clock.now()
            )  # fmt: skip
        )

    _, lender = parties.add("lender", "Bank B", uscc=a_uscc(2))
    listed = client.get("/v1/scoring/models", headers=lender).json()
    assert [m["active"] for m in listed if m["version"] == newer["version"]] == [True]
    got = client.get(f"/v1/scoring/models/{model['version']}", headers=lender).json()
    assert got["metrics"]["test"]["auc"] == card["metrics"]["test"]["auc"]
    html = client.get(f"/v1/scoring/models/{model['version']}/card.html", headers=lender)
    assert html.status_code == 200 and model["version"] in html.text
    assert client.post(f"/v1/scoring/models/{model['version']}/activation", headers=lender).status_code == 403
    _, agency = parties.add("agency", "Operator")
    r = client.post(f"/v1/scoring/models/{model['version']}/activation", headers=agency)
    assert r.status_code == 200 and r.json()["active"]
    assert client.post("/v1/scoring/models/sc-none/activation", headers=agency).json()["code"] == "model_not_found"


def test_batch_scoring_equals_one_at_a_time(trained):
    frame, (model, _), _ = trained
    batch = score_frame(model, frame.head(500))
    one_by_one = np.array([points(model, row)[0] for row in frame.head(500).iter_rows(named=True)])
    assert np.allclose(batch, one_by_one)
    with_missing = frame.head(5).with_columns(spend_stability=None)
    assert np.allclose(score_frame(model, with_missing),
                       [points(model, row)[0] for row in with_missing.iter_rows(named=True)])  # fmt: skip


def test_the_cli_trains_registers_and_activates(runtime, trained, tmp_path):
    frame, _, _ = trained
    data = tmp_path / "training.parquet"
    frame.write_parquet(data)
    url = runtime.settings.url
    result = CliRunner().invoke(app, ["model", "train", "--data", str(data), "--target", "default_next_12m",
                                      "--out", str(tmp_path / "m"), "--db", url])  # fmt: skip
    assert result.exit_code == 0, result.output
    version = json.loads(result.stdout.strip().splitlines()[-1])["version"]
    with runtime.reading() as conn:
        assert scoring.get(conn, version)["active"] is False
    assert CliRunner().invoke(app, ["model", "activate", version, "--db", url]).exit_code == 0
    with runtime.reading() as conn:
        assert scoring.live_model(conn)["version"] == version
    listed = CliRunner().invoke(app, ["model", "list", "--db", url], env={"COLUMNS": "200"})
    assert version in listed.output and "yes" in listed.output
    missing = CliRunner().invoke(app, ["model", "activate", "sc-none", "--db", url])
    assert missing.exit_code == 2 and "model_not_found" in missing.output
    # A model directory registers as it was written; tampered, it is refused.
    other = tmp_path / "other"
    model, card = train(frame, "default_next_12m", seed=5)
    write_card(model, card, other)
    assert CliRunner().invoke(app, ["model", "register", str(other), "--db", url]).exit_code == 0
    model["scaling"]["pdo"] = 40
    (other / "model.json").write_text(json.dumps(model))
    refused = CliRunner().invoke(app, ["model", "register", str(other), "--db", url])
    assert refused.exit_code == 2 and "model_digest_mismatch" in refused.output
