"""A lender's application data set of mixed types, for training and testing scorecards on data
like a bank's own: mostly categorical, with missing values, a special code, a date and a
resident ID, and a 0/1 outcome whose dependence on each column is known.

Its shape follows the public credit data sets of about a thousand applicants and twenty
attributes (current-account status, credit history, purpose, savings, employment...), at any
size. The effects are fixed log-odds per category (`EFFECTS`), so a test can check that the
bins found put the categories in the order that made the data. Sex, age and province (from the
resident ID) have no effect of their own: the fairness report should find groups scored alike
except where the other columns differ.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from zhengxin.synth.population import _resident_ids

# Log-odds of default added by each category (0: the reference); a null draws the "missing" effect.
EFFECTS = {
    "checking_account": {"none": -1.1, ">=2000": -0.6, "0-2000": 0.2, "<0": 0.9},
    "credit_history": {"all_paid_here": 0.9, "no_credits": 0.8, "existing_paid": 0.0, "delayed_before": 0.3,
                       "critical_elsewhere": -0.5},
    "purpose": {"car_new": 0.3, "car_used": -0.5, "furniture": 0.0, "appliances": -0.1, "education": 0.5,
                "business": 0.2, "repairs": 0.2, "other": 0.1},
    "savings": {"<500": 0.3, "500-5000": 0.0, ">=5000": -0.7, "missing": 0.2},
    "housing": {"own": -0.3, "rent": 0.2, "free": 0.3},
}  # fmt: skip
SHARES = {
    "checking_account": [0.39, 0.06, 0.27, 0.28],
    "credit_history": [0.04, 0.04, 0.53, 0.09, 0.30],
    "purpose": [0.23, 0.10, 0.18, 0.28, 0.05, 0.10, 0.03, 0.03],
    "savings": [0.55, 0.20, 0.10, 0.15],
    "housing": [0.71, 0.18, 0.11],
}
NEVER = -1  # months_since_delinquency's special code: no delinquency on record
INTERCEPT = -0.8  # about a 30% bad rate


def applications(n: int, seed: int = 0, as_of: date = date(2026, 10, 31)) -> pl.DataFrame:
    """`n` applications as of `as_of`, with the outcome `bad` (1: defaulted within 12 months)."""
    rng = np.random.default_rng([seed, 19])
    columns, logit = {}, np.full(n, INTERCEPT)
    for name, effects in EFFECTS.items():
        values = rng.choice(list(effects), size=n, p=SHARES[name])
        logit += np.vectorize(effects.get)(values)
        columns[name] = [None if v == "missing" else v for v in values]
    duration = rng.choice([6, 9, 12, 18, 24, 30, 36, 48, 60], size=n, p=[.08, .07, .25, .15, .2, .05, .1, .07, .03])
    amount = np.round(np.exp(rng.normal(9.4, 0.75, n)) / 10) * 10
    rate = rng.integers(1, 5, n)
    logit += 0.025 * (duration - 20) + 0.25 * (np.log(amount) - 9.4) + 0.12 * (rate - 2.5)
    employed_months = rng.gamma(1.6, 40, n).astype(int)
    logit += np.where(employed_months < 12, 0.5, np.where(employed_months < 48, 0.1, -0.2))
    employed_since = np.array([as_of - timedelta(days=int(30.44 * m)) for m in employed_months])
    since_delinquency = np.where(rng.random(n) < 0.6, NEVER, rng.integers(0, 60, n))
    logit += np.where(since_delinquency == NEVER, -0.3, np.where(since_delinquency < 12, 0.7, 0.1))
    verified = rng.random(n) < 0.6
    logit += np.where(verified, -0.2, 0.0)
    age_days = rng.integers(19 * 365, 70 * 365, n)
    birth = np.datetime64(as_of) - age_days.astype("timedelta64[D]")
    male = (rng.random(n) < 0.52).astype(np.int64)
    bad = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    employed = [None if r < 0.05 else d for r, d in zip(rng.random(n), employed_since, strict=True)]
    return pl.DataFrame({
        "application_id": [f"A{seed:03d}{i:07d}" for i in range(n)],
        "resident_id": _resident_ids(rng, birth, male),
        **{name: pl.Series(values, dtype=pl.String) for name, values in columns.items()},
        "duration_months": duration, "amount_yuan": amount.astype(np.int64), "installment_rate": rate,
        "employed_since": pl.Series(employed, dtype=pl.Date),
        "months_since_delinquency": since_delinquency, "phone_verified": verified,
        "bad": bad,
    })  # fmt: skip
