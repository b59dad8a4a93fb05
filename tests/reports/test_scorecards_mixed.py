"""Scorecards on a lender's own mixed-type data (issue 19): categories, dates, missing values and
special codes; prohibited and protected columns; monitoring; fairness by group."""

from __future__ import annotations

import json
import re
from datetime import date

import altair as alt
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from tests.bureau import a_uscc
from tests.web.portal import sign_in
from zhengxin.cli import app
from zhengxin.kit import clock
from zhengxin.reports.scoring import fairness
from zhengxin.reports.scoring import service as scoring
from zhengxin.reports.scoring.columns import plan, prepare
from zhengxin.reports.scoring.model import _fit, points, score, score_frame, train
from zhengxin.reports.scoring.monitoring import flag, monitor
from zhengxin.reports.scoring.validation import Scaling, stability_index
from zhengxin.synth.applications import applications
from zhengxin.synth.population import _resident_ids

AS_OF = date(2026, 10, 31)
SPECIAL = ["months_since_delinquency=-1"]


@pytest.fixture(scope="module")
def data():
    return applications(4000, seed=5, as_of=AS_OF)


@pytest.fixture(scope="module")
def trained(data):
    chosen = plan(data, "bad", special=SPECIAL)
    model, card = train(data, "bad", plan=chosen, seed=2)
    return chosen, model, card


def _feature(model: dict, name: str) -> dict:
    return next(f for f in model["features"] if f["name"] == name)


def _points_of(feature: dict, category: str) -> float:
    return next(p for group, p in zip(feature["splits"], feature["points"], strict=True) if category in group)


def test_every_column_gets_a_kind_or_a_reason(trained):
    chosen, _, card = trained
    kinds = {s.name: s.kind for s in chosen.specs}
    assert kinds == {
        "checking_account": "categorical", "credit_history": "categorical", "purpose": "categorical",
        "savings": "categorical", "housing": "categorical", "duration_months": "numeric", "amount_yuan": "numeric",
        "installment_rate": "numeric", "employed_since": "date", "months_since_delinquency": "numeric",
        "phone_verified": "categorical",
    }  # fmt: skip
    assert {(x["column"], x["rule"]) for x in chosen.left_out} == {("application_id", None), ("resident_id", "PIPL-24")}
    assert chosen.resident_id == "resident_id" and chosen.as_of == AS_OF  # the latest date in the data
    assert [c["name"] for c in card["columns"]] == [s.name for s in chosen.specs]
    assert _feature(trained[1], "months_since_delinquency")["special"] == [-1.0]


def test_categorical_bins_order_the_categories_as_their_effects_made_them(trained):
    _, model, card = trained
    checking = _feature(model, "checking_account")
    assert _points_of(checking, "<0") < _points_of(checking, "0-2000") < _points_of(checking, "none")
    history = _feature(model, "credit_history")
    assert _points_of(history, "all_paid_here") < _points_of(history, "critical_elsewhere")
    # Every category seen is in exactly one bin; the card shows the bins with their categories.
    seen = {c for group in _feature(model, "purpose")["splits"] for c in group}
    assert seen == {"car_new", "car_used", "furniture", "appliances", "education", "business", "repairs", "other"}
    assert sum(len(g) for g in _feature(model, "purpose")["splits"]) == len(seen)
    card_bins = next(f for f in card["features"] if f["name"] == "checking_account")["bins"]
    assert {"Special", "Missing"} <= {b["bin"] for b in card_bins} and any(b["bin"] == "<0" for b in card_bins)
    # Numbers and dates keep monotonic bins.
    for f in model["features"]:
        if f.get("kind") != "categorical" and len(f["points"]) > 1:
            steps = np.diff(f["points"])
            assert (steps >= -1e-9).all() or (steps <= 1e-9).all(), f["name"]


def test_the_points_table_reproduces_the_librarys_scores_exactly(trained, data):
    chosen, model, _ = trained
    frame = data.head(2000)
    from sklearn.model_selection import train_test_split

    x, y = prepare(frame, chosen.specs, chosen.as_of).to_pandas(), frame["bad"].to_numpy()
    x_train, _, y_train, _ = train_test_split(x, y, test_size=0.3, random_state=2, stratify=y)  # as train splits
    library = _fit(chosen.specs, Scaling(), x_train, y_train)
    exported = train(frame, "bad", plan=chosen, seed=2)[0]
    assert np.abs(score_frame(exported, frame) - library.score(x)).max() < 1e-6


def test_batch_and_one_row_score_categories_missing_values_and_special_codes_alike(trained, data):
    chosen, model, _ = trained
    odd = pl.DataFrame({
        "savings": [None, "<500", ">=5000"], "purpose": ["spaceship", "car_used", None],
        "months_since_delinquency": [-1, 3, None], "employed_since": [None, date(2026, 1, 15), date(2010, 1, 1)],
        "phone_verified": [None, True, False],
    }, schema_overrides={"employed_since": pl.Date})  # fmt: skip
    edge = data.head(3).drop(odd.columns).hstack(odd).select(data.columns)
    frame = pl.concat([data.head(300), edge], how="vertical_relaxed")
    batch = score_frame(model, frame)
    rows = prepare(frame, model["features"], AS_OF).to_dicts()
    assert np.allclose(batch, [points(model, r)[0] for r in rows])
    last = rows[-3]
    purpose, savings = _feature(model, "purpose"), _feature(model, "savings")
    delinquency = _feature(model, "months_since_delinquency")
    assert _lookup_points(model, last, "purpose") == purpose["missing_points"]  # unseen: as optbinning scores it
    assert _lookup_points(model, last, "savings") == savings["missing_points"]
    assert _lookup_points(model, last, "months_since_delinquency") == delinquency["special_points"]
    assert delinquency["special_points"] not in delinquency["points"]


def _lookup_points(model: dict, row: dict, name: str) -> float:
    only = {**model, "features": [_feature(model, name)]}
    return points(only, row)[0]


def test_reasons_name_the_bin_in_plain_words(trained):
    _, model, _ = trained
    row = {"checking_account": "<0", "credit_history": "existing_paid", "purpose": "education", "savings": "<500",
           "housing": "free", "duration_months": 48.0, "amount_yuan": 30000.0, "installment_rate": 4.0,
           "employed_since": 3.0, "months_since_delinquency": 2.0, "phone_verified": "false"}  # fmt: skip
    _, reasons = score(model, row)
    texts = {r["code"]: r["text"] for r in reasons}
    assert texts["X-checking_account"] == "checking_account: <0"
    assert all(r["points_lost"] > 0 for r in reasons)


def test_the_card_compares_with_the_default_scorecard_and_gradient_boosting(trained):
    _, _, card = trained
    ours, others = card["metrics"]["test"]["auc"], card["metrics"]["benchmarks"]
    assert ours >= others["optbinning_default_scorecard"]["auc"] - 0.01
    assert ours >= others["gradient_boosting"]["auc"] - 0.03
    assert card["metrics"]["distribution"] and card["metrics"]["score_reference"]["edges"]
    goods = sum(b["goods"] for b in card["metrics"]["distribution"])
    assert goods + sum(b["bads"] for b in card["metrics"]["distribution"]) == card["metrics"]["test"]["rows"]


def test_prohibited_columns_are_refused_with_the_rule_even_when_named():
    rng = np.random.default_rng(1)
    frame = pl.DataFrame({"income": rng.random(500), "religion": rng.integers(0, 3, 500),
                          "medical_history": ["none"] * 500, "fingerprint_hash": ["x"] * 500,
                          "blood_group": ["A"] * 500, "sex": ["m", "f"] * 250,
                          "bad": rng.integers(0, 2, 500)})  # fmt: skip
    chosen = plan(frame, "bad", named=["income", "religion", "medical_history", "fingerprint_hash", "blood_group"])
    assert [s.name for s in chosen.specs] == ["income"]
    refused = {x["column"]: x["rule"] for x in chosen.left_out}
    assert refused == {"religion": "CR-14a", "medical_history": "CR-14a", "fingerprint_hash": "CR-14a",
                       "blood_group": "CR-14a", "sex": None}  # fmt: skip
    unnamed = plan(frame, "bad")
    assert {x["column"]: x["rule"] for x in unnamed.left_out}["sex"] == "PIPL-24"


def test_the_options_overrule_inference_and_bad_options_are_refused(data):
    chosen = plan(data, "bad", categorical=["installment_rate"], exclude=["purpose"],
                  monotonic=["duration_months=descending"], special=["savings=<500"])  # fmt: skip
    by_name = {s.name: s for s in chosen.specs}
    assert by_name["installment_rate"].kind == "categorical" and by_name["installment_rate"].chosen == "named"
    assert "purpose" not in by_name and {"column": "purpose", "reason": "excluded with --exclude", "rule": None} in (
        chosen.left_out)
    assert by_name["duration_months"].trend == "descending" and by_name["savings"].special == ["<500"]
    for bad in ({"monotonic": ["duration_months=sideways"]}, {"monotonic": ["purpose=ascending"]},
                {"special": ["amount_yuan=none"]}, {"categorical": ["nope"]},
                {"special": ["amount_yuan"]}):  # fmt: skip
        with pytest.raises(ValueError):
            plan(data, "bad", **bad)


def test_stability_flags_at_the_boundaries_and_the_index_by_hand():
    assert [flag(x) for x in (0.0, 0.0999, 0.10, 0.2499, 0.25, 3.0)] == [
        "stable", "stable", "watch", "watch", "act", "act"]  # fmt: skip
    by_hand = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert stability_index([0.5, 0.5], [0.25, 0.75]) == pytest.approx(by_hand)


def test_monitoring_finds_a_shifted_month_and_the_feature_that_moved(trained):
    _, model, card = trained
    same = applications(3000, seed=6, as_of=AS_OF).with_columns(month=pl.lit(date(2026, 11, 3)))
    shifted = applications(3000, seed=7, as_of=AS_OF).filter(pl.col("checking_account") == "<0")
    months = monitor(model, card, pl.concat([same, shifted.with_columns(month=pl.lit(date(2026, 12, 9)))]),
                     month="month")  # fmt: skip
    assert [m["month"] for m in months] == ["2026-11", "2026-12"]
    assert months[0]["flag"] == "stable" and months[0]["psi"] < 0.05
    assert months[1]["flag"] == "act" and months[1]["csi"]["checking_account"]["flag"] == "act"
    assert months[1]["csi"]["housing"]["flag"] == "stable"
    with pytest.raises(ValueError):
        monitor(model, card, same, month="nope")


def test_fairness_figures_equal_a_hand_computation():
    rng = np.random.default_rng(3)
    scores = np.concatenate([rng.normal(560, 30, 100), rng.normal(540, 30, 100), rng.normal(500, 30, 20)])
    y = (rng.random(220) < 0.3).astype(int)
    groups = pl.DataFrame({"sex": ["female"] * 100 + ["male"] * 100 + [None] * 20,
                           "province": ["北京"] * 100 + ["上海"] * 100 + ["西藏"] * 20})  # fmt: skip
    got = fairness.report(groups, y, scores, cutoff=550.0)
    sex = {g["group"]: g for g in got["attributes"][0]["groups"]}
    assert set(sex) == {"female", "male"}  # a row without the attribute is in no group
    for name, rows in (("female", slice(0, 100)), ("male", slice(100, 200))):
        ys, ss = y[rows], scores[rows]
        assert sex[name]["rows"] == 100 and sex[name]["bad_rate"] == round(ys.mean(), 4)
        assert sex[name]["mean_score"] == round(ss.mean(), 1)
        assert sex[name]["share_above_cutoff"] == round((ss >= 550).mean(), 4)
        pairs = [(g, b) for g in ss[ys == 0] for b in ss[ys == 1]]  # AUC: a good outscores a bad
        assert sex[name]["auc"] == round(sum((g > b) + 0.5 * (g == b) for g, b in pairs) / len(pairs), 4)
    best = max(sex["female"]["share_above_cutoff"], sex["male"]["share_above_cutoff"])
    low = min(sex.values(), key=lambda g: g["share_above_cutoff"])
    assert low["ratio_to_most_favoured"] == round(low["share_above_cutoff"] / best, 4)
    assert low["below_four_fifths"] == (low["share_above_cutoff"] / best < 0.8)
    tibet = next(g for g in got["attributes"][1]["groups"] if g["group"] == "西藏")
    assert tibet["rows"] == 20 and not tibet["below_four_fifths"] and tibet["auc"] is None  # too few to judge


def test_groups_come_from_the_resident_id():
    birth = np.array([np.datetime64("2001-10-31"), np.datetime64("2001-11-01"), np.datetime64("1971-10-31")])
    ids = _resident_ids(np.random.default_rng(0), birth, np.array([1, 0, 1]))
    got = fairness.from_resident_id(ids, AS_OF).to_dicts()
    assert [g["sex"] for g in got] == ["male", "female", "male"]
    assert [g["age_band"] for g in got] == ["25-34", "<25", "55+"]  # 25 on the day, 24 the day before
    assert [g["province"] for g in got] == [fairness.PROVINCES[i[:2]] for i in ids.to_list()]


def test_the_cli_trains_monitors_and_the_deployment_shows_it(runtime, client, parties, tmp_path):
    data = tmp_path / "applications.csv"
    applications(3000, seed=8, as_of=AS_OF).write_csv(data)
    out = tmp_path / "m"
    trained = CliRunner().invoke(app, ["model", "train", "--data", str(data), "--target", "bad", "--out", str(out),
                                       "--special", SPECIAL[0], "--db", runtime.settings.url], env={"COLUMNS": "200"})
    assert trained.exit_code == 0, trained.output
    assert "feature checking_account: categorical (inferred)" in trained.output
    assert "feature employed_since: date, trend auto_asc_desc (inferred)" in trained.output
    assert "not used: resident_id" in trained.output
    version = json.loads(trained.stdout.strip().splitlines()[-1])["version"]
    card = json.loads((out / "model-card.json").read_text())
    assert card["fairness"]["from"] == ["sex", "age_band", "province"]
    later = tmp_path / "later.csv"
    applications(2000, seed=9, as_of=AS_OF).filter(pl.col("checking_account") == "<0").with_columns(
        month=pl.lit("2026-11")).write_csv(later)  # fmt: skip
    monitored = CliRunner().invoke(app, ["model", "monitor", "--data", str(later), "--version", version, "--month",
                                         "month", "--db", runtime.settings.url], env={"COLUMNS": "200"})  # fmt: skip
    assert monitored.exit_code == 0, monitored.output
    assert json.loads(monitored.stdout.strip().splitlines()[-1])["months"][0]["flag"] == "act"
    in_dir = CliRunner().invoke(app, ["model", "monitor", "--data", str(later), "--model", str(out)])
    assert in_dir.exit_code == 0 and 'id="monitoring"' in (out / "model-card.html").read_text()
    with runtime.reading() as conn:
        assert [m["month"] for m in scoring.monitoring(conn, version)] == ["2026-11"]
    neither = CliRunner().invoke(app, ["model", "monitor", "--data", str(later)])
    assert neither.exit_code == 2 and "invalid_arguments" in neither.output

    _, lender = parties.add("lender", "Bank M", uscc=a_uscc(3))
    got = client.get(f"/v1/scoring/models/{version}/monitoring", headers=lender)
    assert got.status_code == 200 and got.json()[0]["flag"] == "act" and got.json()[0]["psi"] >= 0.25
    assert client.get("/v1/scoring/models/sc-none/monitoring", headers=lender).json()["code"] == "model_not_found"
    html = client.get(f"/v1/scoring/models/{version}/card.html", headers=lender).text
    assert 'id="monitoring"' in html and "公平性" in html and "须处置" in html
    assert "Fairness (PIPL-24)" in client.get(f"/v1/scoring/models/{version}/card.html?lang=en", headers=lender).text
    with runtime.transaction() as conn:
        scoring.activate(conn, version, now=clock.now())
    _, agency = parties.add("agency", "The agency")
    sign_in(client, agency, lang="zh_CN")
    page = client.get("/portal/agency/models").text
    assert "现行模型的稳定性" in page and 'id="stability"' in page and "须处置" in page
    spec = re.search(r'<script type="application/json" id="stability-spec">(.*?)</script>', page, re.S).group(1)
    spec = json.loads(spec.replace("<\\/", "</"))
    alt.LayerChart.from_dict(spec, validate=True)  # a valid Vega-Lite layer
    assert [r["at"] for r in spec["layer"][1]["data"]["values"]] == [0.10, 0.25]  # the watch and act lines

