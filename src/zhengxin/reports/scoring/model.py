"""Training a points scorecard and scoring with it.

optbinning finds each feature's bins under the monotonic trend the domain demands and their
weight of evidence; a scikit-learn logistic regression weighs them; the Scorecard scales the
result to points (`base_points` at odds of `base_odds` good to bad, `pdo` points to double
the odds). What is kept is a plain table — per feature: the split points, the points of each
bin and of a missing value — so scoring is a lookup and a sum, reviewable by a risk officer
and by anyone reading the model card, with nothing unpickled at serving time.

Reason codes: for each feature, the points it cost = the most that feature can give minus
what the person got; the features that cost most, in order, with their stable codes.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl

from zhengxin.catalog import load_catalog
from zhengxin.catalog.model import PatternList
from zhengxin.reports.scoring.features import BY_NAME, NOT_TRAINED, TRAINED

# Attributes a score must not turn on unless the user names them (PIPL-24: no unreasonable
# differential treatment); they stay in the data for a fairness report.
PROTECTED = PatternList(rule="PIPL-24", patterns=(
    "sex", "gender", "age", "birth*", "dob", "region*", "province*", "hukou", "ethnic*", "nationality", "marital*",
))  # fmt: skip

MODEL_FORMAT = "zhengxin.scorecard/1"
MAX_REASONS = 4


@dataclass(frozen=True)
class Scaling:
    base_points: int = 600
    base_odds: float = 50.0  # good : bad at the base points
    pdo: float = 20.0  # points to double the odds


def train(
    frame: pl.DataFrame,
    target: str,
    *,
    features: list[str] | None = None,
    test_share: float = 0.3,
    seed: int = 0,
    scaling: Scaling = Scaling(),
    source: dict | None = None,
    left_out: list[dict] | None = None,
) -> tuple[dict, dict]:
    """Fit a scorecard on `frame` (feature columns and a 0/1 `target`, 1 = default) with a
    stratified holdout; returns (model, card)."""
    from sklearn.model_selection import train_test_split

    features = [f for f in (features or TRAINED) if f in frame.columns]
    if target not in frame.columns:
        raise ValueError(f"the data has no column {target!r}")
    y_all = frame[target].cast(pl.Int8).to_numpy()
    if set(np.unique(y_all)) - {0, 1} or len(np.unique(y_all)) < 2:
        raise ValueError(f"{target!r} must be a binary 0/1 column with both outcomes present")
    x_all = frame.select(features).to_pandas()
    x_train, x_test, y_train, y_test = train_test_split(
        x_all, y_all, test_size=test_share, random_state=seed, stratify=y_all
    )
    trends = {f: BY_NAME[f].trend if f in BY_NAME else "auto" for f in features}
    card = _scorecard(features, trends, scaling)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optbinning's own deprecation noise
        card.fit(x_train, y_train)
    model_features = _fitted_features(card, features, trends)
    trained_at = datetime.now(UTC).replace(microsecond=0)
    model = {
        "format": MODEL_FORMAT,
        "scaling": asdict(scaling),
        "features": [
            {k: f[k] for k in ("name", "trend", "splits", "points", "missing_points")} for f in model_features
        ],
    }
    digest = hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()
    model["version"] = f"sc-{trained_at:%Y%m%d%H%M%S}-{digest[:8]}"
    metrics = _evaluate(model, card, (x_train, x_test, y_train, y_test), trends, seed, scaling)
    model_card = {
        "version": model["version"],
        "model_sha256": digest,
        "trained_at": trained_at.isoformat().replace("+00:00", "Z"),
        "data": {**(source or {}), "target": target, "rows": len(y_all), "train_rows": len(y_train),
                 "test_rows": len(y_test), "event_rate": float(y_all.mean()), "seed": seed},
        "method": "optimal binning with monotonic trends (optbinning), weight of evidence, logistic regression "
                  "(scikit-learn), points scaled by points-to-double-odds",
        "scaling": asdict(scaling),
        "features": [
            {**{k: f[k] for k in ("name", "trend", "bins", "iv")}, "description": BY_NAME[f["name"]].description
             if f["name"] in BY_NAME else f["name"], "reason_code": _code(f["name"]),
             "answerable": BY_NAME[f["name"]].answerable if f["name"] in BY_NAME else None}
            for f in model_features
        ],
        # The agency's features left out, and why (PIPL-24: only what a borrower can answer for).
        "excluded_features": [{"name": n, "reason": r} for n, r in NOT_TRAINED.items() if n in frame.columns],
        "left_out": left_out or [],  # the data's columns not used, each with its reason and rule
        "protected_features": [f for f in features if PROTECTED.matches(f)],  # named by the user, said in bold
        "metrics": metrics,
    }  # fmt: skip
    return model, model_card


def _fitted_features(card, features: list[str], trends: dict[str, str]) -> list[dict]:
    """Each feature as the fitted scorecard holds it: its splits and points per bin (what the
    exported model scores with), and its bins' counts, event rates, WoE and IV (the card)."""
    table = card.table(style="detailed")
    fitted = card.binning_process_
    model_features = []
    for name in features:
        rows = table[table["Variable"] == name]
        splits = [float(s) for s in fitted.get_binned_variable(name).splits]
        regular = rows[~rows["Bin"].isin(["Special", "Missing"])]
        model_features.append(
            {
                "name": name,
                "trend": trends[name],
                "splits": splits,
                "points": [float(p) for p in regular["Points"]],
                "missing_points": float(rows[rows["Bin"] == "Missing"]["Points"].iloc[0]),
                "bins": [
                    {"bin": str(r["Bin"]), "count": int(r["Count"]), "event_rate": float(r["Event rate"]),
                     "woe": float(r["WoE"]), "points": float(r["Points"])}
                    for _, r in rows.iterrows()
                ],
                "iv": float(rows["IV"].sum()),
            }
        )  # fmt: skip
    return model_features


def score(model: dict, features: dict) -> tuple[int, list[dict]]:
    """The score (rounded points) and the reasons: features that cost points, most first."""
    total, lost = points(model, features)
    lost.sort(key=lambda c: (-c[0], c[1]))
    reasons = [
        {"code": _code(name), "feature": name, "text": BY_NAME[name].reason if name in BY_NAME else name,
         "points_lost": round(cost, 1)}
        for cost, name in lost[:MAX_REASONS]
    ]  # fmt: skip
    return round(total), reasons


def points(model: dict, features: dict) -> tuple[float, list[tuple[float, str]]]:
    """The unrounded points, and what each feature that cost points cost."""
    total = 0.0
    lost = []
    for f in model["features"]:
        value = features.get(f["name"])
        if value is None or (isinstance(value, float) and np.isnan(value)):
            got = f["missing_points"]
        else:
            got = f["points"][int(np.searchsorted(f["splits"], value, side="right"))]
        total += got
        cost = max(f["points"]) - got
        if cost > 1e-9:
            lost.append((cost, f["name"]))
    return total, lost


def score_frame(model: dict, frame: pl.DataFrame) -> np.ndarray:
    """Unrounded points for every row of a features frame at once: the batch path, the same
    lookup as `points` done a column at a time."""
    total = np.zeros(frame.height)
    for f in model["features"]:
        values = (
            frame[f["name"]].cast(pl.Float64).to_numpy()
            if f["name"] in frame.columns
            else np.full(frame.height, np.nan)
        )
        table = np.asarray(f["points"] + [f["missing_points"]])
        index = np.searchsorted(np.asarray(f["splits"], dtype=float), values, side="right")
        total += table[np.where(np.isnan(values), len(f["points"]), index)]
    return total


def psi(expected: np.ndarray, actual: np.ndarray, buckets: int = 10) -> float:
    """Population stability index of `actual` against the deciles of `expected`."""
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, buckets + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=len(edges) + 1) / len(expected)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1) / len(actual)
    e, a = np.clip(e, 1e-6, None), np.clip(a, 1e-6, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _scorecard(features: list[str], trends: dict[str, str], scaling: Scaling):
    """The scorecard as trained: optimal bins under each feature's trend, WoE, logistic regression."""
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    binning = BinningProcess(features, binning_fit_params={f: {"monotonic_trend": t} for f, t in trends.items()})
    return Scorecard(
        binning,
        LogisticRegression(max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": scaling.pdo, "odds": scaling.base_odds, "scorecard_points": scaling.base_points},
    )


def cross_validated(x, y: np.ndarray, trends: dict[str, str], scaling: Scaling, seed: int, folds: int = 5) -> dict:
    """AUC and KS of the same scorecard refitted on each of `folds` stratified folds of the
    training rows and scored on the fold left out: their mean and spread."""
    from sklearn.model_selection import StratifiedKFold

    results = []
    for fit_rows, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        card = _scorecard(list(trends), trends, scaling)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            card.fit(x.iloc[fit_rows], y[fit_rows])
        results.append(_auc_ks(y[held], card.score(x.iloc[held])))
    aucs, kss = np.array([r[0] for r in results]), np.array([r[1] for r in results])
    return {"folds": folds, "auc": round(float(aucs.mean()), 4), "auc_sd": round(float(aucs.std(ddof=1)), 4),
            "ks": round(float(kss.mean()), 4), "ks_sd": round(float(kss.std(ddof=1)), 4),
            "auc_by_fold": [round(float(a), 4) for a in aucs]}  # fmt: skip


def _evaluate(model: dict, fitted, split: tuple, trends: dict[str, str], seed: int, scaling: Scaling) -> dict:
    """The exported model on both splits: AUC, Gini and KS with intervals, stability,
    calibration, k-fold cross-validation, and the other models on the same split."""
    x_train, x_test, y_train, y_test = split
    features = list(trends)
    train_scores = np.array([points(model, r)[0] for r in x_train.to_dict("records")])
    test_scores = np.array([points(model, r)[0] for r in x_test.to_dict("records")])
    # The exported table must score exactly as the library's scorecard does, or it is not the model.
    drift = float(np.max(np.abs(test_scores - fitted.score(x_test))))
    if drift > 1e-6:
        raise RuntimeError(f"the exported points table differs from the scorecard by {drift} points")
    metrics = {"train": _metrics(y_train, train_scores, seed), "test": _metrics(y_test, test_scores, seed)}
    metrics["psi_train_test"] = psi(train_scores, test_scores)
    metrics["calibration"] = calibration(y_test, test_scores, scaling)
    metrics["benchmarks"] = benchmarks(x_train, x_test, y_train, y_test, features, seed)
    metrics["cross_validation"] = cross_validated(x_train, y_train, trends, scaling, seed)
    return metrics


def benchmarks(x_train, x_test, y_train, y_test, features: list[str], seed: int) -> dict:
    """The same split scored by optbinning's default scorecard (no trends imposed) and by an
    unconstrained gradient-boosted model (scikit-learn): what the constrained, explainable card
    gives up, if anything. Test AUC and KS of each."""
    from optbinning import BinningProcess, Scorecard
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    default = Scorecard(BinningProcess(features), LogisticRegression(max_iter=1000))
    boosted = HistGradientBoostingClassifier(random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default.fit(x_train, y_train)
        boosted.fit(x_train, y_train)
        risks = {"optbinning_default_scorecard": default.predict_proba(x_test)[:, 1],
                 "gradient_boosting": boosted.predict_proba(x_test)[:, 1]}  # fmt: skip
    out = {}
    for name, risk in risks.items():
        auc, ks = _auc_ks(y_test, -risk)
        out[name] = {"auc": round(auc, 4), "ks": round(ks, 4)}
    return out


BOOTSTRAP = 200  # resamples behind each 95% interval


def _metrics(y: np.ndarray, scores: np.ndarray, seed: int = 0) -> dict:
    """AUC, Gini and KS of the scores, each with a bootstrap 95% interval (percentile, 200
    resamples of the rows with replacement)."""
    auc, ks = _auc_ks(y, scores)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(BOOTSTRAP):
        rows = rng.integers(0, len(y), len(y))
        if 0 < y[rows].sum() < len(rows):  # a resample needs both outcomes
            draws.append(_auc_ks(y[rows], scores[rows]))
    aucs, kss = np.array([d[0] for d in draws]), np.array([d[1] for d in draws])

    def interval(values: np.ndarray) -> list[float]:
        return [round(float(v), 4) for v in np.percentile(values, [2.5, 97.5])]

    return {"auc": round(auc, 4), "gini": round(2 * auc - 1, 4), "ks": round(ks, 4), "rows": int(len(y)),
            "event_rate": round(float(y.mean()), 4), "auc_95": interval(aucs), "gini_95": interval(2 * aucs - 1),
            "ks_95": interval(kss)}  # fmt: skip


def _auc_ks(y: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import roc_auc_score, roc_curve

    risk = -scores  # a higher score means a lower risk
    fpr, tpr, _ = roc_curve(y, risk)
    return float(roc_auc_score(y, risk)), float(np.max(tpr - fpr))


def default_rate(scores: np.ndarray, scaling: Scaling) -> np.ndarray:
    """The bad rate a score stands for: odds good:bad of `base_odds` at `base_points`, doubling
    every `pdo` points."""
    odds = scaling.base_odds * 2.0 ** ((np.asarray(scores, dtype=float) - scaling.base_points) / scaling.pdo)
    return 1 / (1 + odds)


def calibration(y: np.ndarray, scores: np.ndarray, scaling: Scaling, bands: int = 10) -> dict:
    """Expected against observed bad rate by score band (deciles of the scores), and the
    Hosmer-Lemeshow statistic over them (chi-squared with bands - 2 degrees of freedom)."""
    from scipy.stats import chi2

    expected = default_rate(scores, scaling)
    order = np.argsort(scores, kind="stable")
    table, statistic = [], 0.0
    for part in np.array_split(order, bands):
        if len(part) == 0:
            continue
        n, observed, e = len(part), float(y[part].sum()), float(expected[part].sum())
        statistic += (observed - e) ** 2 / (e * (1 - e / n)) if 0 < e < n else 0.0
        table.append({"rows": n, "min_score": round(float(scores[part].min()), 1),
                      "max_score": round(float(scores[part].max()), 1), "expected_bad_rate": round(e / n, 4),
                      "observed_bad_rate": round(observed / n, 4)})  # fmt: skip
    df = max(len(table) - 2, 1)
    return {"bands": table, "hosmer_lemeshow": {"statistic": round(statistic, 3), "df": df,
                                                "p_value": round(float(chi2.sf(statistic, df)), 4)}}  # fmt: skip


def _code(name: str) -> str:
    return BY_NAME[name].code if name in BY_NAME else f"X-{name}"


def read_training_data(path) -> pl.DataFrame:
    """A training set from CSV or Parquet (by extension)."""
    from pathlib import Path

    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return pl.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return pl.read_csv(path, infer_schema_length=10_000)
    raise ValueError("the data must be a .csv or .parquet file")


def usable_features(
    frame: pl.DataFrame, target: str, named: list[str] | None = None
) -> tuple[list[str], list[dict]]:
    """(features, left out): the scorecard's own features where the data has them; otherwise (an
    outside data set) its numeric columns, or those `named`, each with the trend left to the
    data. Never silently: every column left out is listed with its reason and rule. A category
    never collected (CR-14a) is refused even when named; a protected attribute (PIPL-24) is a
    feature only when named."""
    own = [f for f in TRAINED if f in frame.columns]
    if own and not named:
        return own, []
    prohibited = load_catalog().prohibited
    features, left_out = [], []
    for column, dtype in frame.schema.items():
        if column == target:
            continue
        if prohibited.matches(column):
            reason, rule = "a category that is never collected, whatever the consent", prohibited.rule
        elif named and column not in named:
            reason, rule = "not named in --features", None
        elif PROTECTED.matches(column) and not named:
            reason, rule = "a protected attribute: for the fairness report; a feature only when named", PROTECTED.rule
        elif not dtype.is_numeric():
            reason, rule = "not numeric: categorical columns are not binned yet", None
        else:
            features.append(column)
            continue
        left_out.append({"column": column, "reason": reason, "rule": rule})
    unknown = sorted(set(named or []) - set(frame.columns))
    if unknown:
        raise ValueError(f"--features names columns the data does not have: {', '.join(unknown)}")
    return features, left_out


def render_card(card: dict) -> str:
    """The model card as a standalone HTML page."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("zhengxin.reports.scoring"), autoescape=select_autoescape())
    return env.get_template("model_card.html").render(card=card)


def write_card(model: dict, card: dict, out) -> list:
    """model.json, model-card.json and model-card.html in `out`."""
    from pathlib import Path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "model.json", out / "model-card.json", out / "model-card.html"]
    paths[0].write_text(json.dumps(model, indent=2, sort_keys=True))
    paths[1].write_text(json.dumps(card, indent=2, sort_keys=True))
    paths[2].write_text(render_card(card))
    return paths
