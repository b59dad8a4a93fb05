"""Scoring benchmark: the scorecard's holdout quality, its batch scoring rate over 1,000,000
persons, and the latency of one score from the store.

Quality: the scorecard (optbinning bins under monotonic trends, WoE, logistic regression,
points) trained on a sample of the synthetic population, against an unconstrained
scikit-learn logistic regression on the same raw features and the same train/test split
(median-imputed with missing indicators, standardised): holdout AUC, KS and their ratios.

Batch: features for the whole population (`features.compute`, the function an inquiry uses)
and points for every person (`score_frame`), persons per second, against the baseline
regression's predict_proba over the same feature matrix.

Online, in process on a deployment furnished through the real intake path: one person's
accounts, inquiries and spending read from the store and scored (`for_person`, `score`), and the whole score inquiry
(decide, assemble, score, record, charge, log), p50 and p99, against a report inquiry for the
same persons.

Mixed types: a lender's application data set (`synth.applications`: categorical columns with
known effects, missing values, a special code, a date, a resident ID), the scorecard trained
through `columns.plan` as `zhengxin model train` does, against optbinning's default Scorecard
and scikit-learn's HistGradientBoostingClassifier on the same split (the targets: at least the
default Scorecard's AUC, within 0.03 of the boosted model, with monotonic bins). Writes
benchmarks/results/scoring.json.

    python benchmarks/scoring.py                       # 1,000,000 persons; 100,000 in PostgreSQL
    python benchmarks/scoring.py --persons 200000 --store-persons 20000 --backends sqlite,postgresql --reuse
    python benchmarks/scoring.py --only-mixed          # the mixed-type data set alone (merged into the results)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
# The furnished deployment is the inquiry benchmark's (same names, so --reuse shares it).
from inquiry import RESULTS, deployment, grant_many, percentiles, person_ids, populate, runtime_for  # noqa: E402

TARGET = "default_next_12m"


def ks(y: np.ndarray, risk: np.ndarray) -> float:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, risk)
    return float(np.max(tpr - fpr))


def quality_and_batch(args) -> tuple[dict, dict, dict]:
    """(model, card, figures) for the batch population."""
    import polars as pl
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from zhengxin.reports.scoring.features import TRAINED, from_population
    from zhengxin.reports.scoring.model import score_frame, train
    from zhengxin.reports.scoring.validation import psi
    from zhengxin.synth import generate

    as_of = date(2026, 10, 31)
    started = time.perf_counter()
    population = generate(args.persons, seed=args.seed, as_of=as_of)
    generated = time.perf_counter() - started
    print(f"generated {args.persons:,} persons in {generated:.1f} s", flush=True)

    started = time.perf_counter()
    everyone = from_population(population, as_of)
    feature_seconds = time.perf_counter() - started
    print(f"features for {everyone.height:,} persons in {feature_seconds:.2f} s", flush=True)

    sample = everyone.sample(min(args.train_rows, everyone.height), seed=args.seed)
    started = time.perf_counter()
    model, card = train(sample, TARGET, seed=args.seed, test_share=0.3)
    fit_seconds = time.perf_counter() - started
    test = card["metrics"]["test"]
    print(f"scorecard on {sample.height:,} rows in {fit_seconds:.1f} s: holdout AUC {test['auc']} KS {test['ks']}")
    for name, other in card["metrics"]["benchmarks"].items():
        print(f"  same split, {name.replace('_', ' ')}: AUC {other['auc']} KS {other['ks']}")

    # The baseline: no binning, no monotonic constraint, the same rows in the same split.
    x = sample.select(TRAINED).to_pandas()
    y = sample[TARGET].cast(pl.Int8).to_numpy()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=args.seed, stratify=y)
    baseline = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler(),
                             LogisticRegression(max_iter=2000))  # fmt: skip
    started = time.perf_counter()
    baseline.fit(x_train, y_train)
    baseline_fit = time.perf_counter() - started
    risk = baseline.predict_proba(x_test)[:, 1]
    lr = {"auc": round(float(roc_auc_score(y_test, risk)), 4), "ks": round(ks(y_test, risk), 4)}
    print(f"unconstrained logistic regression: holdout AUC {lr['auc']} KS {lr['ks']}", flush=True)

    # Batch: every person of the population, features and points.
    started = time.perf_counter()
    scores = score_frame(model, everyone)
    points_seconds = time.perf_counter() - started
    matrix = everyone.select(TRAINED).to_pandas()
    started = time.perf_counter()
    baseline.predict_proba(matrix)
    baseline_seconds = time.perf_counter() - started
    y_all = everyone[TARGET].cast(pl.Int8).to_numpy()
    whole = {"auc": round(float(roc_auc_score(y_all, -scores)), 4), "ks": round(ks(y_all, -scores), 4)}
    train_scores = score_frame(model, sample)
    figures = {
        "population": args.persons,
        "generate_seconds": round(generated, 1),
        "training_rows": sample.height,
        "fit_seconds": round(fit_seconds, 2),
        "holdout": {"scorecard": {k: test[k] for k in ("auc", "ks", "gini", "auc_95", "ks_95")},
                    "logistic_regression": lr, **card["metrics"]["benchmarks"],
                    "ratio_auc": round(test["auc"] / lr["auc"], 4), "ratio_ks": round(test["ks"] / lr["ks"], 4)},
        "psi_train_test": card["metrics"]["psi_train_test"],
        "psi_sample_to_population": round(psi(train_scores, scores), 5),
        "whole_population": whole,
        "baseline_fit_seconds": round(baseline_fit, 2),
        "batch": {
            "features_seconds": round(feature_seconds, 2),
            "points_seconds": round(points_seconds, 3),
            "persons_per_second": round(args.persons / (feature_seconds + points_seconds)),
            "points_per_second": round(args.persons / points_seconds),
            "baseline_predict_seconds": round(baseline_seconds, 3),
            "baseline_predict_per_second": round(args.persons / baseline_seconds),
            "ratio_points_to_baseline_predict": round(baseline_seconds / points_seconds, 2),
        },
    }  # fmt: skip
    b = figures["batch"]
    print(
        f"batch: {b['persons_per_second']:,} persons/s with features ({b['points_per_second']:,} points/s; "
        f"baseline predict {b['baseline_predict_per_second']:,}/s, ratio {b['ratio_points_to_baseline_predict']})",
        flush=True,
    )
    return model, card, figures


def online(backend: str, model: dict, card: dict, args, rng: random.Random) -> dict:
    from zhengxin.audit.service import sequence_all
    from zhengxin.identity.tokens import person_token
    from zhengxin.inquiries.flows import inquire
    from zhengxin.kit import clock
    from zhengxin.parties.service import Actor, find_party
    from zhengxin.records.repository import shown_accounts
    from zhengxin.reports.scoring import service as scoring
    from zhengxin.reports.scoring.features import for_person
    from zhengxin.reports.scoring.model import score

    print(f"{backend}: {args.store_persons:,} persons in the store", flush=True)
    url, env, populated = deployment(backend, args.store_persons, args.reuse)
    runtime = runtime_for(url, env)
    if not populated:
        furnished = populate(runtime, args.store_persons, args.seed)
        print(f"  intake: {furnished['records']:,} records in {furnished['seconds']} s", flush=True)
    with runtime.transaction() as conn:
        scoring.register(conn, model, card, now=clock.now())
        scoring.activate(conn, model["version"], now=clock.now())
        lender = find_party(conn, "Dongfang Commercial Bank", "lender")
    ids = person_ids(args.store_persons, args.seed, args.samples, rng)
    grants, _ = grant_many(runtime, ids, lender["name"])
    sequence_all(runtime.engine)
    actor = Actor(lender["id"], "lender", "bench")
    today = clock.today()

    one = []
    with runtime.reading() as conn:
        live = scoring.live_model(conn)
        for pid, _ in grants:
            token = person_token(runtime.pepper, pid)
            started = time.perf_counter()
            accounts = shown_accounts(conn, runtime, token, today)
            score(live, for_person(conn, token, today, accounts=accounts, consumption=True))
            one.append(time.perf_counter() - started)
    whole = {"score": [], "report": []}
    for pid, authorization_id in grants:
        for product in ("report", "score"):
            started = time.perf_counter()
            with runtime.transaction() as conn:
                inquire(conn, runtime, actor, person_id=pid, authorization_id=authorization_id,
                        purpose="loan_application", product=product)  # fmt: skip
            whole[product].append(time.perf_counter() - started)
    sequence_all(runtime.engine)
    runtime.engine.dispose()
    single, score_inquiry, report_inquiry = percentiles(one), percentiles(whole["score"]), percentiles(whole["report"])
    print(
        f"  one score from the store p50 {single['p50_ms']} ms p99 {single['p99_ms']} ms; score inquiry p50 "
        f"{score_inquiry['p50_ms']} ms p99 {score_inquiry['p99_ms']} ms; report inquiry p50 "
        f"{report_inquiry['p50_ms']} ms",
        flush=True,
    )
    return {
        "backend": backend,
        "persons": args.store_persons,
        "single_score": single,
        "score_inquiry": score_inquiry,
        "report_inquiry": report_inquiry,
        "ratio_score_inquiry_to_report_inquiry_p50": round(score_inquiry["p50_ms"] / report_inquiry["p50_ms"], 2),
    }


def mixed(args) -> dict:
    """The scorecard on mixed-type application data against the two other models, same split."""
    import numpy as np

    from zhengxin.reports.scoring.columns import plan
    from zhengxin.reports.scoring.model import train
    from zhengxin.synth.applications import applications

    frame = applications(args.mixed_rows, seed=args.seed)
    chosen = plan(frame, "bad", special=["months_since_delinquency=-1"])
    started = time.perf_counter()
    model, card = train(frame, "bad", plan=chosen, seed=args.seed)
    seconds = time.perf_counter() - started
    test, others = card["metrics"]["test"], card["metrics"]["benchmarks"]
    default, boosted = others["optbinning_default_scorecard"], others["gradient_boosting"]
    monotonic = [f["name"] for f in model["features"] if f.get("kind") != "categorical"
                 and ((np.diff(f["points"]) >= -1e-9).all() or (np.diff(f["points"]) <= 1e-9).all())]  # fmt: skip
    numeric = [f["name"] for f in model["features"] if f.get("kind") != "categorical"]
    out = {
        "rows": frame.height, "event_rate": round(float(frame["bad"].mean()), 4), "fit_seconds": round(seconds, 1),
        "kinds": {s.name: s.kind for s in chosen.specs}, "left_out": chosen.left_out,
        "scorecard": {k: test[k] for k in ("auc", "ks", "gini", "auc_95", "ks_95")},
        "cross_validation": card["metrics"]["cross_validation"], "optbinning_default_scorecard": default,
        "gradient_boosting": boosted, "ratio_auc_to_default": round(test["auc"] / default["auc"], 4),
        "auc_gap_to_gradient_boosting": round(boosted["auc"] - test["auc"], 4),
        "monotonic_numeric_features": f"{len(monotonic)} of {len(numeric)}",
    }  # fmt: skip
    print(
        f"mixed types, {frame.height:,} applications: scorecard holdout AUC {test['auc']} {test['auc_95']} KS "
        f"{test['ks']}; optbinning default AUC {default['auc']} KS {default['ks']} (ratio "
        f"{out['ratio_auc_to_default']}); gradient boosting AUC {boosted['auc']} KS {boosted['ks']} (gap "
        f"{out['auc_gap_to_gradient_boosting']}); monotonic bins: {out['monotonic_numeric_features']}",
        flush=True,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000, help="the batch population")
    parser.add_argument("--train-rows", type=int, default=200_000, help="the training sample (30%% held out)")
    parser.add_argument("--store-persons", type=int, default=100_000, help="persons furnished into the store")
    parser.add_argument("--backends", default="postgresql")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1000, help="online measurements")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the furnished population")
    parser.add_argument("--mixed-rows", type=int, default=10_000, help="the mixed-type application data set")
    parser.add_argument("--only-mixed", action="store_true", help="measure the mixed-type data set alone")
    args = parser.parse_args()

    RESULTS.mkdir(exist_ok=True)
    if args.only_mixed:
        path = RESULTS / "scoring.json"
        kept = json.loads(path.read_text()) if path.exists() else {"benchmark": "scoring"}
        path.write_text(json.dumps({**kept, "mixed_types": mixed(args)}, indent=2, ensure_ascii=False))
        print(f"wrote {path}")
        return
    model, card, figures = quality_and_batch(args)
    rng = random.Random(args.seed)
    cases = [online(backend, model, card, args, rng) for backend in args.backends.split(",")]
    RESULTS.mkdir(exist_ok=True)
    out = {
        "benchmark": "scoring",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "model": {"version": model["version"], "features": [f["name"] for f in model["features"]]},
        **figures,
        "online": cases,
        "mixed_types": mixed(args),
    }
    (RESULTS / "scoring.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(f"wrote {RESULTS / 'scoring.json'}")


if __name__ == "__main__":
    main()
