"""Fairness of a scorecard across groups of people (PIPL-24: automated decisions fair and just,
no unreasonable differential treatment).

Groups come from the resident ID where the data has one — its region code gives the province,
its birth date the age band on the data's day, its 17th digit the sex (odd: male) — derived at
training time and kept only as group counts; or from columns named for it (sex, age, province
and the like, which a score may not use as features unless named). For each group: its rows,
bad rate, mean score, the share scoring at or above the cut-off and that share's ratio to the
most favoured group's (under 0.8 is flagged: the four-fifths rule as a flag, not a verdict),
and the AUC within the group.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from zhengxin.identity.resident_id import birth_date_expr, coming_of_age_expr, normalised_expr

FOUR_FIFTHS = 0.8
AGE_BANDS = (25, 35, 45, 55)  # under 25, 25-34, 35-44, 45-54, 55 and over
MIN_ROWS_FOR_AUC = 30
# A group smaller than this is shown but neither flagged nor taken as the most favoured: its
# share above the cut-off moves by several points from sampling alone.
MIN_ROWS_FOR_FLAG = 100
# GB/T 2260: the first two digits of a region code name the province-level division.
PROVINCES = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古", "21": "辽宁", "22": "吉林",
    "23": "黑龙江", "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西",
    "37": "山东", "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏", "61": "陕西", "62": "甘肃",
    "63": "青海", "64": "宁夏", "65": "新疆", "71": "台湾", "81": "香港", "82": "澳门",
}  # fmt: skip


def _banded(missing: pl.Expr, younger_than) -> pl.Expr:
    """<25, 25-34, 35-44, 45-54, 55+ (null where `missing`); `younger_than(bound)` says who is under it."""
    expr = pl.when(missing).then(pl.lit(None, dtype=pl.String))
    low = None
    for bound in AGE_BANDS:
        expr = expr.when(younger_than(bound)).then(pl.lit(f"<{bound}" if low is None else f"{low}-{bound - 1}"))
        low = bound
    return expr.otherwise(pl.lit(f"{low}+"))


def age_band(age: pl.Expr) -> pl.Expr:
    """The band of a numeric age."""
    return _banded(age.is_null(), lambda bound: age < bound)


def from_resident_id(ids: pl.Series, as_of: date) -> pl.DataFrame:
    """sex, age_band and province for each ID (null where the ID does not carry it). The age is
    the project's one rule for a birthday (resident_id.coming_of_age_expr), as intake uses it."""
    n = normalised_expr("id")
    birth = birth_date_expr(n)
    sex_digit = n.str.slice(16, 1).cast(pl.Int32, strict=False)
    return pl.DataFrame({"id": ids.cast(pl.String)}).select(
        sex=pl.when(sex_digit.is_null()).then(None).when(sex_digit % 2 == 1).then(pl.lit("male")).otherwise(
            pl.lit("female")),
        age_band=_banded(birth.is_null(), lambda bound: coming_of_age_expr(n, bound) > pl.lit(as_of)),
        province=n.str.slice(0, 2).replace_strict(PROVINCES, default=None),
    )  # fmt: skip


def from_columns(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Named columns as groups: a numeric one called age (or *_age) in age bands, others as they are."""
    out = {}
    for c in columns:
        series = frame[c]
        if series.dtype.is_numeric() and "age" in c.lower().split("_"):
            out[c] = frame.select(age_band(pl.col(c)).alias(c))[c]
        else:
            out[c] = series.cast(pl.String)
    return pl.DataFrame(out)


def report(groups: pl.DataFrame, y: np.ndarray, scores: np.ndarray, cutoff: float) -> dict:
    """Every attribute's groups with their figures; `groups` is aligned with `y` and `scores`."""
    from sklearn.metrics import roc_auc_score

    attributes = []
    for attribute in groups.columns:
        values = groups[attribute].to_numpy()
        rows = []
        present = {v for v in values if v is not None}
        for value in sorted(present, key=lambda v: (not str(v).startswith("<"), str(v))):  # "<25" first
            member = values == value
            yg, sg = y[member], scores[member]
            both = 0 < yg.sum() < len(yg)
            rows.append({
                "group": str(value), "rows": int(member.sum()), "bad_rate": round(float(yg.mean()), 4),
                "mean_score": round(float(sg.mean()), 1), "share_above_cutoff": round(float((sg >= cutoff).mean()), 4),
                "auc": round(float(roc_auc_score(yg, -sg)), 4) if both and len(yg) >= MIN_ROWS_FOR_AUC else None,
            })  # fmt: skip
        best = max((r["share_above_cutoff"] for r in rows if r["rows"] >= MIN_ROWS_FOR_FLAG), default=0.0)
        for r in rows:
            r["ratio_to_most_favoured"] = round(r["share_above_cutoff"] / best, 4) if best else None
            ratio = r["ratio_to_most_favoured"]
            r["below_four_fifths"] = r["rows"] >= MIN_ROWS_FOR_FLAG and ratio is not None and ratio < FOUR_FIFTHS
        attributes.append({"attribute": attribute, "groups": rows})
    return {"cutoff": round(float(cutoff), 1), "four_fifths": FOUR_FIFTHS, "min_rows_to_flag": MIN_ROWS_FOR_FLAG,
            "attributes": attributes}
