"""Persons, their loans on up to five platforms, and their consumption and travel summaries.

Everything is drawn with NumPy arrays (no per-record Python loop), so a million loan records
take seconds. Risk is a latent score from age, income, the number of platforms used and
recent borrowing, plus noise; defaults and delinquency follow it through a logistic link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from stdnum.cn import uscc as stdnum_uscc


@dataclass(frozen=True)
class Organisation:
    name: str
    slug: str
    uscc: str


def _uscc(body: str) -> str:
    return body + stdnum_uscc.calc_check_digit(body)


PLATFORMS = [
    Organisation("Yunpay Credit", "yunpay", _uscc("91330100MA2A00101")),
    Organisation("Kuaidai Finance", "kuaidai", _uscc("91440300MA5K00202")),
    Organisation("Meishi Consumer Services", "meishi", _uscc("91110105MA0M00303")),
    Organisation("Jingxi Mall", "jingxi", _uscc("91110108MA0J00404")),
    Organisation("Lvtu Travel", "lvtu", _uscc("91310104MA1L00505")),
]
LENDERS = [
    Organisation("Dongfang Commercial Bank", "dongfang", _uscc("91110000100D00606")),
    Organisation("Xinhe Consumer Finance", "xinhe", _uscc("91310000MA1X00707")),
    Organisation("Pingshan Rural Bank", "pingshan", _uscc("91510100MA6P00808")),
]

# Region codes that stdnum's table accepts for every birth year drawn here (1955-2006).
REGIONS = [
    "110101", "110102", "110105", "110107", "110108", "120101", "120105", "310101", "310104", "330122",
    "330127", "140121", "222402", "230722", "520203", "610326", "620123", "513232",
]  # fmt: skip
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国玉梅文辉力婷宇浩然子涵欣怡梓轩思远晨曦佳琪雨萱")
CATEGORIES = ["food_delivery", "groceries", "dining", "electronics", "apparel", "home", "transport",
              "entertainment", "education", "utilities", "telecom"]  # fmt: skip
PRODUCTS = np.array(["microloan", "consumer_loan", "credit_line", "bnpl", "mortgage", "auto"])
# Product mix per platform (rows follow PLATFORMS).
PRODUCT_MIX = np.array([
    [0.25, 0.15, 0.40, 0.18, 0.00, 0.02],
    [0.55, 0.35, 0.05, 0.00, 0.00, 0.05],
    [0.20, 0.10, 0.20, 0.50, 0.00, 0.00],
    [0.10, 0.25, 0.20, 0.40, 0.01, 0.04],
    [0.30, 0.30, 0.20, 0.20, 0.00, 0.00],
])  # fmt: skip
CONSUMPTION_PLATFORMS = [0, 2, 3]  # yunpay, meishi, jingxi report spending
TRAVEL_PLATFORMS = [4]  # lvtu reports travel
ID_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)])
BUCKET_SYMBOLS = np.frombuffer(b"N1234567", dtype="S1")


@dataclass
class Population:
    persons: pl.DataFrame
    loans: pl.DataFrame
    consumption: pl.DataFrame
    travel: pl.DataFrame


def _resident_ids(rng: np.random.Generator, birth: np.ndarray, n: int) -> np.ndarray:
    region = np.array(REGIONS)[rng.integers(0, len(REGIONS), n)]
    ymd = np.datetime_as_string(birth, unit="D").astype("U10")
    ymd = np.char.replace(ymd, "-", "")
    seq = rng.integers(0, 1000, n)
    while True:  # the 3-digit sequence must make each ID unique
        body = np.char.add(np.char.add(region, ymd), np.char.zfill(seq.astype("U3"), 3))
        _, first, counts = np.unique(body, return_index=True, return_counts=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        seq[dup] = rng.integers(0, 1000, int(dup.sum()))
    digits = np.frombuffer(body.astype("S17").tobytes(), dtype=np.uint8).reshape(n, 17) - 48
    check = (12 - (digits @ ID_WEIGHTS) % 11) % 11
    check_char = np.where(check == 10, "X", check.astype("U2"))
    return np.char.add(body, check_char)


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    surname = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), n)]
    given = np.array(GIVEN)[rng.integers(0, len(GIVEN), (n, 2))]
    two = rng.random(n) < 0.6
    return np.char.add(surname, np.where(two, np.char.add(given[:, 0], given[:, 1]), given[:, 0]))


def _ref(prefix: str, slug: pl.Series, rng: np.random.Generator) -> pl.Series:
    """References such as CNS-yunpay-004211958340, built column-wise."""
    number = pl.Series(rng.integers(0, 10**12, len(slug), dtype=np.int64)).cast(pl.String).str.zfill(12)
    return pl.select(pl.concat_str([pl.lit(prefix + "-"), slug, pl.lit("-"), number])).to_series()


def _pick(values: list[str], index: np.ndarray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(index)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def generate(persons: int, seed: int = 0, as_of: date = date(2026, 10, 31)) -> Population:
    rng = np.random.default_rng(seed)
    n = persons
    as_of64 = np.datetime64(as_of, "D")

    age = rng.integers(20, 71, n)
    birth = as_of64 - (age * 365.25).astype("timedelta64[D]") - rng.integers(0, 365, n).astype("timedelta64[D]")
    person_id = _resident_ids(rng, birth, n)
    income_band = np.clip(rng.normal(1.6 + (age > 30) * 0.6 - (age > 60) * 0.6, 1.0, n).round(), 0, 4).astype(int)
    n_platforms = rng.choice([1, 2, 3, 4, 5], n, p=[0.44, 0.28, 0.14, 0.09, 0.05])
    recent_new = rng.poisson(0.3 + 0.35 * (n_platforms - 1), n)
    latent = (
        -0.45 * (income_band - 2)
        + 0.45 * (n_platforms - 1)
        + 0.35 * recent_new
        + 0.5 * (age < 25)
        - 0.2 * (age > 45)
        + rng.normal(0, 0.7, n)
    )
    defaulted = rng.random(n) < _sigmoid(-3.4 + latent)
    phones = np.char.add(
        np.char.add("1", np.array(list("35789"))[rng.integers(0, 5, n)]),
        np.char.zfill(rng.integers(0, 10**9, n).astype("U9"), 9),
    )
    names = _names(rng, n)
    persons_frame = pl.DataFrame({
        "person_id": person_id, "name": names, "phone": phones, "birth_date": birth.astype("datetime64[D]"),
        "income_band": income_band, "latent_risk": latent, "defaulted": defaulted.astype(np.int8),
        "n_platforms": n_platforms,
    }).with_columns(
        pl.col("birth_date").cast(pl.Date),
        pl.when(pl.col("person_id").str.slice(16, 1).cast(pl.Int8) % 2 == 1).then(pl.lit("M")).otherwise(pl.lit("F"))
        .alias("gender"),
        pl.col("person_id").str.slice(0, 2).alias("province_code"),
    )  # fmt: skip

    # Which platforms each person uses: the first n_platforms of a random order.
    order = np.argsort(rng.random((n, len(PLATFORMS))), axis=1)
    used = np.arange(len(PLATFORMS))[None, :] < n_platforms[:, None]
    pair_person, rank = np.nonzero(used)
    pair_platform = order[pair_person, rank]

    ids, who, phone = persons_frame["person_id"], persons_frame["name"], persons_frame["phone"]
    loans = _loans(rng, pair_person, pair_platform, ids, who, phone, latent, defaulted, recent_new, as_of64)
    consumption = _consumption(rng, pair_person, pair_platform, ids, who, income_band, as_of64)
    travel = _travel(rng, pair_person, pair_platform, ids, who, as_of64)
    return Population(persons=persons_frame, loans=loans, consumption=consumption, travel=travel)


def _loans(rng, pair_person, pair_platform, ids, names, phones, latent, defaulted, recent_new, as_of64):
    per_pair = rng.choice([1, 2, 3, 4], len(pair_person), p=[0.56, 0.28, 0.11, 0.05])
    p = np.repeat(pair_person, per_pair)
    platform = np.repeat(pair_platform, per_pair)
    m = len(p)
    risk = latent[p]
    cum = PRODUCT_MIX[platform].cumsum(axis=1)
    product_idx = (rng.random(m)[:, None] > cum).sum(axis=1).clip(0, 5)
    revolving = np.isin(product_idx, [2, 3])
    long_term = np.isin(product_idx, [4, 5])
    # Recent borrowers have younger accounts.
    age_days = np.where(long_term, rng.integers(200, 3000, m), rng.integers(20, 1400, m))
    recent = rng.random(m) < np.minimum(0.8, recent_new[p] * 0.25)
    age_days = np.where(recent, rng.integers(5, 180, m), age_days)
    opened = as_of64 - age_days.astype("timedelta64[D]")
    scale = np.select([product_idx == 4, product_idx == 5, revolving], [60_000_000, 12_000_000, 2_000_000], 800_000)
    amount = (scale * rng.lognormal(0, 0.6, m)).round(-2).astype(np.int64)

    bad = defaulted[p] & (rng.random(m) < 0.75)
    slip = ~bad & (rng.random(m) < 0.015 + 0.03 * _sigmoid(risk))
    dpd = np.where(bad, rng.choice([45, 75, 100, 130, 160, 200, 300, 400], m), 0)
    dpd = np.where(slip, rng.integers(1, 31, m), dpd)
    closed = (dpd == 0) & (rng.random(m) < 0.22) & (age_days > 60)
    utilisation = np.clip(rng.beta(2, 3, m) + 0.12 * risk, 0.02, 1.0)
    balance = np.where(closed, 0, (amount * utilisation).round(-2)).astype(np.int64)
    balance = np.where((dpd > 0) & (balance == 0), amount // 2, balance)
    written_off = dpd >= 180
    status = np.select([closed, written_off, dpd > 0], [2, 3, 1], 0)
    overdue = np.where(written_off, balance, np.where(dpd > 0, (balance * rng.uniform(0.05, 0.5, m)).round(), 0))
    overdue = np.minimum(overdue, balance).astype(np.int64)
    closed_days = (rng.random(m) * np.maximum(age_days - 1, 1)).astype(int)
    closed_on = np.where(closed, as_of64 - closed_days.astype("timedelta64[D]"), np.datetime64("NaT"))

    colent = rng.random(m) < 0.2
    share = np.where(rng.random(m) < 0.15, rng.uniform(0.05, 0.29, m), rng.uniform(0.30, 0.5, m)).round(2)
    lender = rng.integers(0, len(LENDERS), m)

    history = _payment_history(rng, dpd, age_days, closed, closed_days, risk)
    negative = (dpd > 0) | (overdue > 0)
    slug = _pick([x.slug for x in PLATFORMS], platform)
    account = pl.Series(np.arange(m)).cast(pl.String).str.zfill(9)
    return pl.DataFrame({
        "furnisher": slug,
        "record_type": pl.Series(["loan"]).gather(np.zeros(m, dtype=np.int64)),
        "person_id": ids.gather(p),
        "name": names.gather(p),
        "phone": phones.gather(p),
        "consent_ref": _ref("CNS", slug, rng),
        "as_of": np.full(m, as_of64),
        "account_id": pl.select(pl.concat_str([slug, pl.lit("-L"), account])).to_series(),
        "product": _pick(list(PRODUCTS), product_idx),
        "opened_on": opened,
        "principal_fen": pl.Series(amount).scatter(np.nonzero(revolving)[0], None),
        "credit_limit_fen": pl.Series(amount).scatter(np.nonzero(~revolving)[0], None),
        "balance_fen": balance,
        "overdue_fen": overdue,
        "days_past_due": dpd.astype(np.int64),
        "status": _pick(["current", "overdue", "closed", "written_off"], status),
        "closed_on": closed_on.astype("datetime64[D]"),
        "platform_share": pl.Series(share).scatter(np.nonzero(~colent)[0], None),
        "co_lender_uscc": _pick([x.uscc for x in LENDERS], lender).scatter(np.nonzero(~colent)[0], None),
        "payment_history": pl.Series(history).cast(pl.String),
        "negative_notice_ref": _ref("NTC", slug, rng).scatter(np.nonzero(~negative)[0], None),
    }).with_columns(pl.col("as_of", "opened_on", "closed_on").cast(pl.Date))  # fmt: skip


def _bucket(days: np.ndarray) -> np.ndarray:
    """PBOC monthly status: 0 -> N, 1-30 -> 1, 31-60 -> 2, ... over 180 -> 7."""
    return np.clip(np.ceil(days / 30), 0, 7).astype(int)


def _payment_history(rng, dpd, age_days, closed, closed_days, risk) -> np.ndarray:
    m = len(dpd)
    months_ago = np.arange(24)[None, :]
    open_months = (age_days // 30)[:, None]
    # Delinquency ages backwards: a loan 100 days late was 70 days late a month ago, and so on.
    past_dpd = dpd[:, None] - 30 * months_ago
    symbols = BUCKET_SYMBOLS[_bucket(np.maximum(past_dpd, 0))]
    # Occasional old 1-30 day slips, more often for riskier persons.
    slips = rng.random((m, 24)) < (0.01 + 0.04 * _sigmoid(risk))[:, None]
    symbols = np.where((past_dpd <= 0) & slips & (months_ago > 0), b"1", symbols)
    closed_months = (closed_days // 30)[:, None]
    symbols = np.where(closed[:, None] & (months_ago <= closed_months), b"C", symbols)
    symbols = np.where(months_ago > open_months, b"#", symbols)
    return np.ascontiguousarray(symbols).view("S24").ravel()


def _consumption(rng, pair_person, pair_platform, ids, names, income_band, as_of64):
    keep = np.isin(pair_platform, CONSUMPTION_PLATFORMS)
    pp, pf = pair_person[keep], pair_platform[keep]
    months, cats = 3, 2
    p = np.repeat(pp, months * cats)
    platform = np.repeat(pf, months * cats)
    k = len(p)
    month_offset = np.tile(np.repeat(np.arange(months), cats), len(pp))
    first = np.repeat(rng.integers(0, len(CATEGORIES), len(pp)), months * cats)
    category = (first + np.tile(np.arange(cats) * 5, len(pp) * months)) % len(CATEGORIES)
    month = as_of64.astype("datetime64[M]") - month_offset.astype("timedelta64[M]")
    amount = (30_000 * (1 + income_band[p]) * rng.lognormal(0, 0.5, k)).round().astype(np.int64)
    slug = _pick([x.slug for x in PLATFORMS], platform)
    return pl.DataFrame({
        "furnisher": slug, "record_type": pl.Series(["consumption"]).gather(np.zeros(k, dtype=np.int64)),
        "person_id": ids.gather(p), "name": names.gather(p), "consent_ref": _ref("CNS", slug, rng),
        "as_of": np.full(k, as_of64), "month": month.astype("datetime64[D]"), "category": _pick(CATEGORIES, category),
        "amount_fen": amount, "orders": rng.poisson(6, k).astype(np.int64),
    }).with_columns(pl.col("as_of").cast(pl.Date), pl.col("month").cast(pl.Date).dt.strftime("%Y-%m"))  # fmt: skip


def _travel(rng, pair_person, pair_platform, ids, names, as_of64):
    keep = np.isin(pair_platform, TRAVEL_PLATFORMS) & (rng.random(len(pair_person)) < 0.3)
    pp, pf = pair_person[keep], pair_platform[keep]
    months = 6
    p = np.repeat(pp, months)
    platform = np.repeat(pf, months)
    k = len(p)
    month = as_of64.astype("datetime64[M]") - np.tile(np.arange(months), len(pp)).astype("timedelta64[M]")
    trips = rng.poisson(2, k).astype(np.int64)
    cities = np.minimum(trips, rng.poisson(1.5, k)).astype(np.int64)
    slug = _pick([x.slug for x in PLATFORMS], platform)
    return pl.DataFrame({
        "furnisher": slug, "record_type": pl.Series(["travel"]).gather(np.zeros(k, dtype=np.int64)),
        "person_id": ids.gather(p), "name": names.gather(p), "consent_ref": _ref("CNS", slug, rng),
        "as_of": np.full(k, as_of64), "month": month.astype("datetime64[D]"), "trips": trips, "cities": cities,
        "separate_consent_ref": _ref("SEP", slug, rng),
    }).with_columns(pl.col("as_of").cast(pl.Date), pl.col("month").cast(pl.Date).dt.strftime("%Y-%m"))  # fmt: skip
