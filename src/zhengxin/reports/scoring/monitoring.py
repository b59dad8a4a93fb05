"""Is the population a model scores still the one it was trained on? By month: the population
stability index (PSI) of the score against the training scores' deciles, and the characteristic
stability index (CSI) of every feature against its training bins, flagged at 0.10 (watch) and
0.25 (act), the thresholds model-risk practice uses.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from zhengxin.reports.scoring.columns import prepare
from zhengxin.reports.scoring.model import bin_index, score_frame
from zhengxin.reports.scoring.validation import stability_index

WATCH, ACT = 0.10, 0.25
ALL = "all"  # the month label when the data has no month column


def flag(index: float) -> str:
    return "act" if index >= ACT else "watch" if index >= WATCH else "stable"


def training_shares(card_feature: dict) -> np.ndarray:
    """A feature's training rows per bin, in `bin_index`'s order: its regular bins, then missing,
    then special (the card lists them as optbinning does: regular, Special, Missing)."""
    counts = {b["bin"]: b["count"] for b in card_feature["bins"]}
    regular = [b["count"] for b in card_feature["bins"] if b["bin"] not in ("Special", "Missing")]
    shares = np.array([*regular, counts.get("Missing", 0), counts.get("Special", 0)], dtype=float)
    return shares / shares.sum()


def monitor(model: dict, card: dict, frame: pl.DataFrame, *, month: str | None = None,
            as_of: date | None = None) -> list[dict]:  # fmt: skip
    """One row per month of `frame` (by the date or YYYY-MM column `month`; all rows as one
    otherwise): rows, the score's PSI and each feature's CSI, each with its flag."""
    reference = card["metrics"].get("score_reference")
    if not reference:
        raise ValueError(f"the card of {model['version']} keeps no training score distribution: retrain it")
    if month is not None and month not in frame.columns:
        raise ValueError(f"the data has no column {month!r}")
    labels = _month_labels(frame, month)
    scores = score_frame(model, frame)
    as_of = as_of or (date.fromisoformat(model["as_of"]) if model.get("as_of") else None)
    inputs = prepare(frame, model["features"], as_of)
    cards = {f["name"]: f for f in card["features"]}
    indices = {f["name"]: bin_index(f, inputs[f["name"]]) for f in model["features"]}
    rows = []
    for label in sorted(set(labels)):
        member = labels == label
        counts = np.bincount(np.searchsorted(reference["edges"], scores[member], side="right"),
                             minlength=len(reference["shares"]))  # fmt: skip
        psi = stability_index(reference["shares"], counts / member.sum())
        csi = {}
        for f in model["features"]:
            expected = training_shares(cards[f["name"]])
            actual = np.bincount(indices[f["name"]][member], minlength=len(expected)) / member.sum()
            value = stability_index(expected, actual)
            csi[f["name"]] = {"csi": round(value, 4), "flag": flag(value)}
        rows.append({"month": label, "rows": int(member.sum()), "psi": round(psi, 4), "flag": flag(psi), "csi": csi,
                     "mean_score": round(float(scores[member].mean()), 1)})  # fmt: skip
    return rows


def _month_labels(frame: pl.DataFrame, month: str | None) -> np.ndarray:
    if month is None:
        return np.full(frame.height, ALL, dtype=object)
    column = frame[month]
    if column.dtype.is_temporal():
        return column.cast(pl.Date).dt.strftime("%Y-%m").fill_null("unknown").to_numpy()
    labels = column.cast(pl.String).str.slice(0, 7)
    if not labels.drop_nulls().str.contains(r"^\d{4}-\d{2}$").all():
        raise ValueError(f"{month!r} must hold dates or YYYY-MM months")
    return labels.fill_null("unknown").to_numpy()
