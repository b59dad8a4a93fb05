"""The scorecard: trained under the domain's monotonic trends, scoring by its exported points
table, giving reasons that are the features that cost points, and fed by the same feature code
online (one person from the store) as in training (a whole population)."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from zhengxin.cli import app
from zhengxin.identity.tokens import person_token
from zhengxin.records.repository import latest_accounts
from zhengxin.reports.scoring.features import BY_NAME, NAMES, for_person, from_population
from zhengxin.reports.scoring.model import Scaling, points, render_card, score, train
from zhengxin.reports.scoring.validation import calibration
from zhengxin.synth import generate

AS_OF = date(2026, 10, 31)


@pytest.fixture(scope="module")
def population():
    return generate(12_000, seed=7, as_of=AS_OF)


@pytest.fixture(scope="module")
def trained(population):
    return train(from_population(population, AS_OF), "default_next_12m", seed=1)


def test_trained_bins_keep_the_domains_monotonic_trends(trained):
    model, card = trained
    checked = 0
    for feature in card["features"]:
        regular = [b for b in feature["bins"] if b["bin"] not in ("Special", "Missing")]
        rates, pts = [b["event_rate"] for b in regular], [b["points"] for b in regular]
        if feature["trend"] == "ascending":  # riskier as it grows: never more points for more
            assert rates == sorted(rates) and pts == sorted(pts, reverse=True), feature["name"]
            checked += len(regular) > 1
        elif feature["trend"] == "descending":
            assert rates == sorted(rates, reverse=True) and pts == sorted(pts), feature["name"]
            checked += len(regular) > 1
    assert checked >= 4  # most constrained features were actually split
    dpd = next(f for f in model["features"] if f["name"] == "worst_dpd_now")
    assert dpd["splits"] and dpd["points"][0] > dpd["points"][-1]


def test_every_trained_feature_is_one_a_borrower_can_answer_for(trained):
    """PIPL-24 (issue 19): the co-lent share says how a lender funded a loan, which the borrower
    neither chooses nor can change: it is computed (an older model may use it), never trained on,
    and the card says why; every feature trained on says why the borrower can answer for it."""
    model, card = trained
    assert "colent_share" not in {f["name"] for f in model["features"]}
    assert [x["name"] for x in card["excluded_features"]] == ["colent_share"]
    assert "PIPL-24" in card["excluded_features"][0]["reason"]
    assert card["features"] and all(f["answerable"] for f in card["features"])
    html = render_card(card, locale="en")
    assert "Features left out" in html and "Why a borrower can answer for it" in html
    chinese = render_card(card)  # the card reads in Chinese unless asked otherwise
    assert "未采用的特征" in chinese and "借款人为何能对此负责" in chinese and "Features left out" not in chinese


def test_the_card_states_intervals_and_calibration(trained):
    _, card = trained
    test = card["metrics"]["test"]
    for name in ("auc", "gini", "ks"):
        low, high = test[f"{name}_95"]
        assert low <= test[name] <= high and 0 < high - low < 0.2, name
    cal = card["metrics"]["calibration"]
    assert len(cal["bands"]) == 10 and sum(b["rows"] for b in cal["bands"]) == test["rows"]
    stated = [b["expected_bad_rate"] for b in cal["bands"]]
    assert stated == sorted(stated, reverse=True)  # a higher score stands for a lower bad rate
    assert 0 <= cal["hosmer_lemeshow"]["p_value"] <= 1 and cal["hosmer_lemeshow"]["df"] == 8
    assert "Hosmer–Lemeshow" in render_card(card, locale="en")
    cv = card["metrics"]["cross_validation"]
    assert cv["folds"] == 5 and len(cv["auc_by_fold"]) == 5 and cv["auc_sd"] < 0.05
    assert abs(cv["auc"] - test["auc"]) < 0.05  # the holdout agrees with the folds
    assert "5-fold cross-validation" in render_card(card, locale="en")
    others = card["metrics"]["benchmarks"]
    assert set(others) == {"optbinning_default_scorecard", "gradient_boosting"}
    # The constrained card gives up little against the default scorecard and the boosted model.
    assert test["auc"] >= others["optbinning_default_scorecard"]["auc"] - 0.02
    assert test["auc"] >= others["gradient_boosting"]["auc"] - 0.03


def test_the_hosmer_lemeshow_statistic_is_the_textbook_one():
    # 600 points: odds 50:1 (rate 1/51); 620 points: odds 100:1 (rate 1/101). One bad in the first band.
    scores = np.array([600.0] * 4 + [620.0] * 4)
    y = np.array([0, 0, 0, 1, 0, 0, 0, 0])
    cal = calibration(y, scores, Scaling(), bands=2)
    e1, e2 = 4 / 51, 4 / 101
    hand = (1 - e1) ** 2 / (e1 * (1 - e1 / 4)) + e2**2 / (e2 * (1 - e2 / 4))
    assert cal["hosmer_lemeshow"]["statistic"] == round(hand, 3)
    assert [b["expected_bad_rate"] for b in cal["bands"]] == [round(1 / 51, 4), round(1 / 101, 4)]
    assert [b["observed_bad_rate"] for b in cal["bands"]] == [0.25, 0.0]


def test_the_holdout_separates_and_the_score_is_stable(trained):
    _, card = trained
    test = card["metrics"]["test"]
    assert test["auc"] > 0.8 and test["ks"] > 0.4 and abs(test["gini"] - (2 * test["auc"] - 1)) < 1e-3
    assert card["metrics"]["psi_train_test"] < 0.1


def test_reasons_are_the_features_that_cost_points(trained, population):
    model, _ = trained
    features = from_population(population, AS_OF)
    late = features.filter(pl.col("worst_dpd_now") > 120).row(0, named=True)
    value, reasons = score(model, late)
    assert reasons[0]["code"] == BY_NAME["worst_dpd_now"].code and reasons[0]["text"]
    best = {f["name"]: f for f in model["features"]}
    for reason in reasons:
        # Moving that one feature to its best bin gives back exactly the points the reason names.
        f = best[reason["feature"]]
        top = int(np.argmax(f["points"]))
        better = dict(late, **{reason["feature"]: ([-1e18] + f["splits"])[top]})
        assert points(model, better)[0] - points(model, late)[0] == pytest.approx(reason["points_lost"], abs=0.06)
    assert [r["points_lost"] for r in reasons] == sorted((r["points_lost"] for r in reasons), reverse=True)
    clean = features.sort("utilisation").filter(pl.col("worst_dpd_now") == 0).row(0, named=True)
    assert score(model, clean)[0] > value


def test_online_features_equal_batch_features_for_the_same_person_and_day(runtime, population, tmp_path):
    from zhengxin.furnishing.flows import furnish_file
    from zhengxin.parties.service import add_party
    from zhengxin.synth import FURNISHERS, LENDERS, write_files

    small = generate(300, seed=3, as_of=AS_OF)
    with runtime.transaction() as conn:
        for org in FURNISHERS:  # the banks furnish as lenders
            role = "lender" if org in LENDERS else "furnisher"
            add_party(conn, runtime.settings, role=role, name=org.name, uscc=org.uscc)
    write_files(small, tmp_path, ["parquet"])
    for org in FURNISHERS:
        for path in sorted((tmp_path / org.slug).glob("*.parquet")):
            furnish_file(runtime, org.name, path)
    batch = from_population(small, AS_OF)
    with runtime.reading() as conn:
        for row in batch.head(120).iter_rows(named=True):
            token = person_token(runtime.pepper, row["person_id"])
            accounts = latest_accounts(conn, token, today=AS_OF)
            online = for_person(conn, token, AS_OF, accounts=accounts, consumption=True, liabilities=True,
                                public_records=True)  # fmt: skip
            for name in NAMES:
                assert online[name] == pytest.approx(row[name], nan_ok=True), (name, row["person_id"])


def test_the_cli_trains_on_an_outside_data_set_and_writes_the_card(tmp_path):
    rng = np.random.default_rng(0)
    n = 4000
    debt = rng.random(n)
    frame = pl.DataFrame({"debt_ratio": debt, "age": rng.integers(20, 70, n), "blood_type": rng.integers(0, 4, n),
                          "bad": (rng.random(n) < 0.05 + 0.3 * debt).astype(int)})  # fmt: skip
    data = tmp_path / "outside.csv"
    frame.write_csv(data)
    result = CliRunner().invoke(app, ["model", "train", "--data", str(data), "--target", "bad", "--out",
                                      str(tmp_path / "m")])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    card = json.loads((tmp_path / "m" / "model-card.json").read_text())
    assert summary["version"] == card["version"] == json.loads((tmp_path / "m" / "model.json").read_text())["version"]
    # Age is a protected attribute: left out unless named; blood type is never collected (CR-14a).
    assert {f["name"] for f in card["features"]} == {"debt_ratio"}
    assert {(x["column"], x["rule"]) for x in card["left_out"]} == {("age", "PIPL-24"), ("blood_type", "CR-14a")}
    assert "not used: blood_type" in result.output
    assert card["data"]["file"] == "outside.csv" and len(card["data"]["sha256"]) == 64
    assert "评分卡 " + card["version"] in (tmp_path / "m" / "model-card.html").read_text()
    named = CliRunner().invoke(app, ["model", "train", "--data", str(data), "--target", "bad", "--out",
                                     str(tmp_path / "n"), "--features", "debt_ratio,age,blood_type"])  # fmt: skip
    assert named.exit_code == 0, named.output
    card = json.loads((tmp_path / "n" / "model-card.json").read_text())
    assert {f["name"] for f in card["features"]} == {"debt_ratio", "age"} and card["protected_features"] == ["age"]
    assert [x["column"] for x in card["left_out"]] == ["blood_type"]  # refused even when named
    assert "<b>本模型使用了受保护属性" in (tmp_path / "n" / "model-card.html").read_text()
    missing = CliRunner().invoke(app, ["model", "train", "--data", str(data), "--target", "bad", "--features", "x"])
    assert missing.exit_code == 2 and "invalid_training_data" in missing.output
    bad = CliRunner().invoke(app, ["model", "train", "--data", str(data), "--target", "age"])
    assert bad.exit_code == 2 and "invalid_training_data" in bad.output


def test_worst_status_is_the_most_severe_symbol_of_the_history():
    from zhengxin.records.history import SEVERITY
    from zhengxin.reports.scoring.features import _worst_status

    rng = np.random.default_rng(4)
    symbols = list(SEVERITY)
    histories = ["".join(rng.choice(symbols, size=rng.integers(0, 25))) for _ in range(2000)] + ["", "NNNX"]
    got = pl.DataFrame({"payment_history": histories}).select(_worst_status())["payment_history"].to_list()
    assert got == [max((SEVERITY.get(c, 0) for c in h), default=0) for h in histories]
