"""Training a points scorecard and scoring with it.

optbinning finds each feature's bins — numeric ones under the monotonic trend the domain
demands, categorical ones as groups of categories, missing values and special codes each in a
bin of their own — and their weight of evidence; a scikit-learn logistic regression weighs
them; the Scorecard scales the result to points (`base_points` at odds of `base_odds` good to
bad, `pdo` points to double the odds). What is kept is a plain table — per feature: the split
points (or the categories of each bin), the points of each bin, of a missing value and of a
special code — so scoring is a lookup and a sum, reviewable by a risk officer and by anyone
reading the model card, with nothing unpickled at serving time.

Reason codes: for each feature, the points it cost = the most that feature can give minus
what the person got; the features that cost most, in order, with their stable codes and, for
a feature of the user's data, the bin in plain words ("checking_account: none").
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict
from datetime import UTC, date, datetime

import numpy as np
import polars as pl

from zhengxin.reports.scoring import columns, fairness, validation
from zhengxin.reports.scoring.columns import PROTECTED, Plan, category, prepare
from zhengxin.reports.scoring.features import BY_NAME, NOT_TRAINED
from zhengxin.reports.scoring.validation import Scaling

__all__ = ["PROTECTED", "Scaling", "train", "score", "points", "score_frame"]

MODEL_FORMAT = "zhengxin.scorecard/1"
MAX_REASONS = 4
METHOD = ("optimal binning (optbinning): numbers and dates under monotonic trends, categories grouped by their "
          "default rates, missing values and special codes in bins of their own; weight of evidence, logistic "
          "regression (scikit-learn), points scaled by points-to-double-odds")


def train(
    frame: pl.DataFrame,
    target: str,
    *,
    plan: Plan | None = None,
    test_share: float = 0.3,
    seed: int = 0,
    scaling: Scaling = Scaling(),
    source: dict | None = None,
    groups: list[str] | None = None,
    cutoff: float | None = None,
) -> tuple[dict, dict]:
    """Fit a scorecard on `frame` (the columns `plan` makes features, and a 0/1 `target`, 1 =
    default) with a stratified holdout; returns (model, card). `groups` names columns for the
    fairness report besides those the resident ID gives; `cutoff` is its approval score
    (default: the training scores' median)."""
    from sklearn.model_selection import train_test_split

    plan = plan or columns.plan(frame, target)
    specs = plan.specs
    if target not in frame.columns:
        raise ValueError(f"the data has no column {target!r}")
    if not specs:
        raise ValueError("no column of the data can be a feature (see the columns left out)")
    y_all = frame[target].cast(pl.Int8).to_numpy()
    if set(np.unique(y_all)) - {0, 1} or len(np.unique(y_all)) < 2:
        raise ValueError(f"{target!r} must be a binary 0/1 column with both outcomes present")
    x_all = prepare(frame, specs, plan.as_of).to_pandas()
    x_train, x_test, y_train, y_test = train_test_split(
        x_all, y_all, test_size=test_share, random_state=seed, stratify=y_all
    )
    card = _fit(specs, scaling, x_train, y_train)
    model_features = _fitted_features(card, specs)
    trained_at = datetime.now(UTC).replace(microsecond=0)
    model = {"format": MODEL_FORMAT, "scaling": asdict(scaling), "features": [
        {k: f[k] for k in ("name", "kind", "trend", "splits", "points", "missing_points", "special", "special_points")
         if k in f} for f in model_features]}  # fmt: skip
    if any(s.kind == "date" for s in specs):
        model["as_of"] = plan.as_of.isoformat()
    digest = hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()
    model["version"] = f"sc-{trained_at:%Y%m%d%H%M%S}-{digest[:8]}"
    metrics, train_scores, test_scores = _evaluate(model, card, (x_train, x_test, y_train, y_test), specs, seed,
                                                   scaling)  # fmt: skip
    model_card = {
        "version": model["version"],
        "model_sha256": digest,
        "trained_at": trained_at.isoformat().replace("+00:00", "Z"),
        "data": {**(source or {}), "target": target, "rows": len(y_all), "train_rows": len(y_train),
                 "test_rows": len(y_test), "event_rate": float(y_all.mean()), "seed": seed,
                 "as_of": plan.as_of.isoformat() if plan.as_of else None},
        "method": METHOD,
        "scaling": asdict(scaling),
        "columns": [s.as_dict() for s in specs],  # each feature's kind, trend and special codes, and how chosen
        "features": [_card_feature(f) for f in model_features],
        # The agency's features left out, and why (PIPL-24: only what a borrower can answer for).
        "excluded_features": [{"name": n, "reason": r} for n, r in NOT_TRAINED.items() if n in frame.columns],
        "left_out": plan.left_out,  # the data's columns not used, each with its reason and rule
        "protected_features": [s.name for s in specs if PROTECTED.matches(s.name)],  # named by the user, in bold
        "metrics": metrics,
    }  # fmt: skip
    groups_frame = _groups(frame, plan, groups)
    if groups_frame is not None:
        held = groups_frame[x_test.index.to_numpy()]
        cut = cutoff if cutoff is not None else float(np.median(train_scores))
        model_card["fairness"] = {**fairness.report(held, y_test, test_scores, cut), "split": "test",
                                  "from": groups_frame.columns}  # fmt: skip
    return model, model_card


def _groups(frame: pl.DataFrame, plan: Plan, named: list[str] | None) -> pl.DataFrame | None:
    """The fairness groups: from the resident ID (on the data's day, or today) and from the named
    columns, or else from the protected attributes the data holds."""
    parts = []
    if plan.resident_id:
        parts.append(fairness.from_resident_id(frame[plan.resident_id], plan.as_of or date.today()))
    columns = named if named is not None else [x["column"] for x in plan.left_out if x["rule"] == PROTECTED.rule
                                               and x["column"] != plan.resident_id]  # fmt: skip
    unknown = sorted(set(columns) - set(frame.columns))
    if unknown:
        raise ValueError(f"--groups names columns the data does not have: {', '.join(unknown)}")
    if columns:
        parts.append(fairness.from_columns(frame, columns))
    return pl.concat(parts, how="horizontal") if parts else None


def _fitted_features(card, specs) -> list[dict]:
    """Each feature as the fitted scorecard holds it: its splits (or each bin's categories) and
    points per bin, of a missing value and of a special code (what the exported model scores
    with), and its bins' counts, event rates, WoE and IV (the card)."""
    table = card.table(style="detailed")
    fitted = card.binning_process_
    model_features = []
    for spec in specs:
        rows = table[table["Variable"] == spec.name]
        binned = fitted.get_binned_variable(spec.name)
        if spec.kind == "categorical":
            splits = [sorted(str(c) for c in group) for group in binned.splits]
        else:
            splits = [float(s) for s in binned.splits]
        label = rows["Bin"].map(lambda b: b if isinstance(b, str) else "")  # a categorical bin is an array
        regular = rows[~label.isin(["Special", "Missing"])]
        feature = {
            "name": spec.name, "trend": spec.trend, "splits": splits,
            "points": [float(p) for p in regular["Points"]],
            "missing_points": float(rows[label == "Missing"]["Points"].iloc[0]),
            "bins": [{"bin": _bin_text(r["Bin"]), "count": int(r["Count"]), "event_rate": float(r["Event rate"]),
                      "woe": float(r["WoE"]), "points": float(r["Points"])} for _, r in rows.iterrows()],
            "iv": float(rows["IV"].sum()),
        }  # fmt: skip
        if spec.kind != "numeric":
            feature["kind"] = spec.kind
        if spec.special:
            feature["special"] = spec.special
            feature["special_points"] = float(rows[label == "Special"]["Points"].iloc[0])
        model_features.append(feature)
    return model_features


def _bin_text(value) -> str:
    """A bin as the card names it: its interval, Special, Missing, or its categories."""
    if isinstance(value, str):
        return value
    return ", ".join(sorted(str(v) for v in list(value)))  # a categorical bin: an array of categories


def _card_feature(f: dict) -> dict:
    own = BY_NAME.get(f["name"])
    return {**{k: f[k] for k in ("name", "trend", "bins", "iv")}, "kind": f.get("kind", "numeric"),
            "special": f.get("special", []), "description": own.description if own else f["name"],
            "reason_code": _code(f["name"]), "answerable": own.answerable if own else None}  # fmt: skip


def score(model: dict, features: dict) -> tuple[int, list[dict]]:
    """The score (rounded points) and the reasons: features that cost points, most first."""
    total, lost = points(model, features)
    lost.sort(key=lambda c: (-c[0], c[1]))
    reasons = [
        {"code": _code(name), "feature": name,
         "text": BY_NAME[name].reason if name in BY_NAME else f"{name}: {label}", "points_lost": round(cost, 1)}
        for cost, name, label in lost[:MAX_REASONS]
    ]  # fmt: skip
    return round(total), reasons


def points(model: dict, features: dict) -> tuple[float, list[tuple[float, str, str]]]:
    """The unrounded points, and what each feature that cost points cost, with its bin in words.
    `features` holds the model's inputs (`columns.prepare`: categories as text, dates as months)."""
    total = 0.0
    lost = []
    for f in model["features"]:
        got, label = _lookup(f, features.get(f["name"]))
        total += got
        cost = max(f["points"]) - got
        if cost > 1e-9:
            lost.append((cost, f["name"], label))
    return total, lost


def _lookup(f: dict, value) -> tuple[float, str]:
    """A feature's points for one value, and the value's bin in words. An unseen category scores
    as a missing value, as optbinning scores it."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return f["missing_points"], "missing"
    categorical = f.get("kind") == "categorical"
    key = category(value) if categorical else value
    if key in f.get("special", ()):
        return f["special_points"], f"code {key}"
    if categorical:
        for i, group in enumerate(f["splits"]):
            if key in group:
                return f["points"][i], key
        return f["missing_points"], key
    i = int(np.searchsorted(f["splits"], value, side="right"))
    low = f"{f['splits'][i - 1]:g}" if i > 0 else "-inf"
    high = f"{f['splits'][i]:g}" if i < len(f["splits"]) else "inf"
    return f["points"][i], f"[{low}, {high})"


def score_frame(model: dict, frame: pl.DataFrame) -> np.ndarray:
    """Unrounded points for every row of a frame of raw columns at once: the batch path, the same
    lookup as `points` done a column at a time."""
    as_of = date.fromisoformat(model["as_of"]) if model.get("as_of") else None
    inputs = prepare(frame, model["features"], as_of)
    total = np.zeros(frame.height)
    for f in model["features"]:
        total += _points_of_column(f, inputs[f["name"]])
    return total


def _points_of_column(f: dict, column: pl.Series) -> np.ndarray:
    table = np.asarray(f["points"] + [f["missing_points"], f.get("special_points", 0.0)])
    return table[bin_index(f, column)]


def bin_index(f: dict, column: pl.Series) -> np.ndarray:
    """Each value's bin: 0..n-1 the regular bins, n a missing value (and an unseen category),
    n + 1 a special code. `column` holds the model's inputs (`columns.prepare`)."""
    missing, special = len(f["points"]), len(f["points"]) + 1
    if f.get("kind") == "categorical":
        bins = {c: i for i, group in enumerate(f["splits"]) for c in group}
        index = column.replace_strict(bins, default=missing, return_dtype=pl.Int64).fill_null(missing).to_numpy()
        return np.where(column.is_in(f.get("special", [])).fill_null(False).to_numpy(), special, index)
    values = column.cast(pl.Float64).to_numpy()
    index = np.searchsorted(np.asarray(f["splits"], dtype=float), values, side="right")
    index = np.where(np.isnan(values), missing, index)
    return np.where(np.isin(values, np.asarray(f.get("special", []), dtype=float)), special, index)


def _scorecard(specs, scaling: Scaling):
    """The scorecard as trained: optimal bins (numeric under each feature's trend, categories
    grouped, special codes on their own), WoE, logistic regression."""
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    params = {s.name: {**({"monotonic_trend": s.trend} if s.kind != "categorical" else {}),
                       **({"special_codes": s.special} if s.special else {})} for s in specs}  # fmt: skip
    binning = BinningProcess([s.name for s in specs], binning_fit_params=params,
                             categorical_variables=[s.name for s in specs if s.kind == "categorical"] or None)
    return Scorecard(
        binning,
        LogisticRegression(max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": scaling.pdo, "odds": scaling.base_odds, "scorecard_points": scaling.base_points},
    )


def _fit(specs, scaling: Scaling, x, y: np.ndarray):
    """The scorecard fitted to (x, y). A missing value and a special code weigh by their own
    evidence (their bins' empirical WoE), not as the average person."""
    card = _scorecard(specs, scaling)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optbinning's own deprecation noise
        card.fit(x, y, metric_special="empirical", metric_missing="empirical")
    return card


def _evaluate(model: dict, fitted, split: tuple, specs, seed: int, scaling: Scaling) -> tuple[dict, np.ndarray,
                                                                                               np.ndarray]:
    """The exported model on both splits: AUC, Gini and KS with intervals, stability,
    calibration, the score distributions, k-fold cross-validation, and the other models on the
    same split. Returns the metrics and the train and test scores."""
    x_train, x_test, y_train, y_test = split
    train_scores = np.array([points(model, r)[0] for r in x_train.to_dict("records")])
    test_scores = np.array([points(model, r)[0] for r in x_test.to_dict("records")])
    # The exported table must score exactly as the library's scorecard does, or it is not the model.
    drift = float(np.max(np.abs(test_scores - fitted.score(x_test))))
    if drift > 1e-6:
        raise RuntimeError(f"the exported points table differs from the scorecard by {drift} points")
    metrics = {"train": validation.metrics(y_train, train_scores, seed),
               "test": validation.metrics(y_test, test_scores, seed),
               "psi_train_test": validation.psi(train_scores, test_scores),
               "calibration": validation.calibration(y_test, test_scores, scaling),
               "score_reference": validation.score_reference(train_scores),
               "distribution": validation.distributions(y_test, test_scores),
               "benchmarks": validation.other_models(split, [s.name for s in specs if s.kind == "categorical"], seed),
               "cross_validation": validation.cross_validated(lambda x, y: _fit(specs, scaling, x, y), x_train,
                                                              y_train, seed)}  # fmt: skip
    return metrics, train_scores, test_scores


def _code(name: str) -> str:
    return BY_NAME[name].code if name in BY_NAME else f"X-{name}"


def read_training_data(path) -> pl.DataFrame:
    """A training set from CSV or Parquet (by extension)."""
    from pathlib import Path

    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return pl.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return pl.read_csv(path, infer_schema_length=10_000, try_parse_dates=True)
    raise ValueError("the data must be a .csv or .parquet file")


PSI_AXIS = 0.5  # the chart's top: a larger PSI is drawn to it (the table gives the figure)
COLOURS = {"stable": "#2e8b57", "watch": "#d9822b", "act": "#b03a2e"}


def render_card(card: dict, *, monitoring: list[dict] | None = None, locale: str = "zh_CN") -> str:
    """The model card as a standalone HTML page, in Chinese unless another locale is asked for;
    with `monitoring` (months from `model monitor`), its stability chart and table too."""
    from jinja2 import PackageLoader

    from zhengxin.kit.i18n import gettext_for, jinja_environment

    env = jinja_environment(PackageLoader("zhengxin.reports.scoring"), locale)
    _ = gettext_for(locale)
    dist = card["metrics"].get("distribution") or []
    charts = {
        "goods": [(b["from"], b["goods"], "#2e8b57") for b in dist],
        "bads": [(b["from"], b["bads"], "#b03a2e") for b in dist],
        "goods_max": max((b["goods"] for b in dist), default=0), "bads_max": max((b["bads"] for b in dist), default=0),
        "psi": [(m["month"] if m["month"] != "all" else _("all rows"), m["psi"], COLOURS[m["flag"]])
                for m in monitoring or []],
        "psi_max": PSI_AXIS,
        "group_sources": ", ".join(_(x) for x in (card.get("fairness") or {}).get("from", [])),
    }  # fmt: skip
    return env.get_template("model_card.html").render(card=card, monitoring=monitoring, charts=charts)


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
