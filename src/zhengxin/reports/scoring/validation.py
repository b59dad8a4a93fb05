"""What a model-risk reviewer reads in the card: discrimination with bootstrap intervals,
calibration by score band, k-fold cross-validation, the score distributions of goods and bads,
stability, and the same split scored by optbinning's default scorecard and by an unconstrained
gradient-boosted model."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

BOOTSTRAP = 200  # resamples behind each 95% interval


@dataclass(frozen=True)
class Scaling:
    base_points: int = 600
    base_odds: float = 50.0  # good : bad at the base points
    pdo: float = 20.0  # points to double the odds


def auc_ks(y: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import roc_auc_score, roc_curve

    risk = -scores  # a higher score means a lower risk
    fpr, tpr, _ = roc_curve(y, risk)
    return float(roc_auc_score(y, risk)), float(np.max(tpr - fpr))


def metrics(y: np.ndarray, scores: np.ndarray, seed: int = 0) -> dict:
    """AUC, Gini and KS of the scores, each with a bootstrap 95% interval (percentile, 200
    resamples of the rows with replacement)."""
    auc, ks = auc_ks(y, scores)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(BOOTSTRAP):
        rows = rng.integers(0, len(y), len(y))
        if 0 < y[rows].sum() < len(rows):  # a resample needs both outcomes
            draws.append(auc_ks(y[rows], scores[rows]))
    aucs, kss = np.array([d[0] for d in draws]), np.array([d[1] for d in draws])

    def interval(values: np.ndarray) -> list[float]:
        return [round(float(v), 4) for v in np.percentile(values, [2.5, 97.5])]

    return {"auc": round(auc, 4), "gini": round(2 * auc - 1, 4), "ks": round(ks, 4), "rows": int(len(y)),
            "event_rate": round(float(y.mean()), 4), "auc_95": interval(aucs), "gini_95": interval(2 * aucs - 1),
            "ks_95": interval(kss)}  # fmt: skip


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


def score_reference(scores: np.ndarray, buckets: int = 10) -> dict:
    """The training scores' deciles and the share in each: what monitoring compares a later
    population's scores with (PSI)."""
    edges = [float(e) for e in np.unique(np.quantile(scores, np.linspace(0, 1, buckets + 1)[1:-1]))]
    counts = np.bincount(np.searchsorted(edges, scores, side="right"), minlength=len(edges) + 1)
    return {"edges": edges, "shares": [round(float(c), 6) for c in counts / len(scores)]}


def stability_index(expected_shares, actual_shares) -> float:
    """sum((a - e) * ln(a / e)) over the buckets: the PSI of a score, the CSI of a feature's bins.
    An empty bucket counts as 1e-6 so that the index stays finite."""
    e = np.clip(np.asarray(expected_shares, dtype=float), 1e-6, None)
    a = np.clip(np.asarray(actual_shares, dtype=float), 1e-6, None)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(expected: np.ndarray, actual: np.ndarray, buckets: int = 10) -> float:
    """Population stability index of `actual` against the deciles of `expected`."""
    reference = score_reference(expected, buckets)
    a = np.bincount(np.searchsorted(reference["edges"], actual, side="right"), minlength=len(reference["shares"]))
    return stability_index(reference["shares"], a / len(actual))


def distributions(y: np.ndarray, scores: np.ndarray, width: int = 20) -> list[dict]:
    """Goods and bads by score band of `width` points: how far apart the two populations sit."""
    low = int(np.floor(scores.min() / width) * width)
    bands = ((scores - low) // width).astype(int)
    out = []
    for band in range(int(bands.max()) + 1):
        rows = bands == band
        if rows.any():
            out.append({"from": low + band * width, "to": low + (band + 1) * width,
                        "goods": int((rows & (y == 0)).sum()), "bads": int((rows & (y == 1)).sum())})  # fmt: skip
    return out


def cross_validated(fit, x, y: np.ndarray, seed: int, folds: int = 5) -> dict:
    """AUC and KS of the same scorecard (`fit(x, y)` fits one) refitted on each of `folds`
    stratified folds of the training rows and scored on the fold left out."""
    from sklearn.model_selection import StratifiedKFold

    results = []
    for fit_rows, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        card = fit(x.iloc[fit_rows], y[fit_rows])
        results.append(auc_ks(y[held], card.score(x.iloc[held])))
    aucs, kss = np.array([r[0] for r in results]), np.array([r[1] for r in results])
    return {"folds": folds, "auc": round(float(aucs.mean()), 4), "auc_sd": round(float(aucs.std(ddof=1)), 4),
            "ks": round(float(kss.mean()), 4), "ks_sd": round(float(kss.std(ddof=1)), 4),
            "auc_by_fold": [round(float(a), 4) for a in aucs]}  # fmt: skip


def other_models(split: tuple, categorical: list[str], seed: int) -> dict:
    """The same split scored by optbinning's default scorecard (no trends imposed) and by an
    unconstrained gradient-boosted model (scikit-learn, categories as its native categorical
    splits): what the constrained, explainable card gives up, if anything. Test AUC and KS."""
    from optbinning import BinningProcess, Scorecard
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    x_train, x_test, y_train, y_test = split
    features = list(x_train.columns)
    default = Scorecard(BinningProcess(features, categorical_variables=categorical or None),
                        LogisticRegression(max_iter=1000))  # fmt: skip
    boosted = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")

    def as_categories(x):
        x = x.copy()
        for c in categorical:
            x[c] = x[c].astype("category").cat.set_categories(sorted(x_train[c].dropna().unique()))
        return x

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default.fit(x_train, y_train)
        boosted.fit(as_categories(x_train), y_train)
        risks = {"optbinning_default_scorecard": default.predict_proba(x_test)[:, 1],
                 "gradient_boosting": boosted.predict_proba(as_categories(x_test))[:, 1]}  # fmt: skip
    out = {}
    for name, risk in risks.items():
        auc, ks = auc_ks(y_test, -risk)
        out[name] = {"auc": round(auc, 4), "ks": round(ks, 4)}
    return out
