"""A synthetic population: persons, their loans on up to five platforms, spending and travel.

The demo, the tests and the benchmarks need furnisher records that look like the real thing
(valid resident IDs, consistent loan states, 24-month payment histories, co-lending, CR-15
notices) and that carry a real credit signal, so that a scorecard trained on them learns
something. Default follows a latent risk built from observable features (age, income,
number of platforms, utilisation, recent new accounts) plus noise, through a logistic link.

Everything is drawn with NumPy arrays and assembled with Polars (no per-record Python loop),
so a million loan records take a few seconds; one seed gives the same population every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
# Furnishes court enforcements, dishonest-debtor listings, tax arrears and penalties.
PUBLIC_RECORDS = Organisation("Tianping Public Records Service", "tianping", _uscc("91110102MA0T00909"))

# The fields of each record type, in file order (the public record format), and their types.
COMMON = {
    "record_type": pl.String, "person_id": pl.String, "name": pl.String, "phone": pl.String,
    "consent_ref": pl.String, "as_of": pl.Date,
}  # fmt: skip
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "loan": {
        **COMMON, "account_id": pl.String, "product": pl.String, "opened_on": pl.Date,
        "principal_fen": pl.Int64, "credit_limit_fen": pl.Int64, "balance_fen": pl.Int64,
        "overdue_fen": pl.Int64, "days_past_due": pl.Int64, "status": pl.String, "closed_on": pl.Date,
        "platform_share": pl.Float64, "co_lender_uscc": pl.String, "payment_history": pl.String,
        "negative_notice_ref": pl.String, "scheduled_payment_fen": pl.Int64, "term_months": pl.Int64,
        "minimum_due_fen": pl.Int64, "statement_date": pl.Date,
    },
    "consumption": {
        **COMMON, "month": pl.String, "category": pl.String, "amount_fen": pl.Int64, "orders": pl.Int64,
    },
    "travel": {
        **COMMON, "month": pl.String, "trips": pl.Int64, "cities": pl.Int64,
        "separate_consent_ref": pl.String,
    },
    "liability": {
        **COMMON, "liability_id": pl.String, "kind": pl.String, "account_id": pl.String, "amount_fen": pl.Int64,
        "liability_fen": pl.Int64, "opened_on": pl.Date, "status": pl.String, "released_on": pl.Date,
    },
    "public_record": {
        **COMMON, "case_number": pl.String, "kind": pl.String, "authority": pl.String, "amount_fen": pl.Int64,
        "decided_on": pl.Date, "status": pl.String, "concluded_on": pl.Date,
    },
}  # fmt: skip
COLUMNS = {record_type: list(schema) for record_type, schema in SCHEMAS.items()}

# Region codes that python-stdnum accepts for every birth year 1930-2030 (a test checks it):
# Beijing, Tianjin and Shanghai districts, and counties around provincial capitals.
REGIONS = [
    "110101", "110102", "110105", "110106", "110108", "120101", "120102", "120103", "120104", "310101",
    "310104", "310105", "310106", "310107", "310109", "310110", "140121", "150121", "152201", "210224",
    "211021", "222401", "230722", "330122", "330127", "340121", "350121", "360121", "429001", "430121",
    "430321", "510121", "520203", "530124", "540121", "610326", "620123", "640121", "650121",
]  # fmt: skip
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋"
    "蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段"
    "雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国玉梅文辉力婷宇浩然子涵欣怡梓轩"
    "思远晨曦佳琪雨萱志鹏红燕飞海波春晓东亮雪琳嘉俊博瑞凯鑫颖慧琦"
)
PHONE_PREFIXES = [130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 157, 158, 159, 166, 173,
                  177, 180, 181, 182, 186, 187, 188, 189, 191, 198, 199]  # fmt: skip

PRODUCTS = ["microloan", "consumer_loan", "credit_line", "bnpl", "mortgage", "auto"]
LINE, BNPL, MORTGAGE = 2, 3, 4
# Product mix per platform (rows follow PLATFORMS, columns follow PRODUCTS).
PRODUCT_MIX = np.array([
    [0.30, 0.12, 0.38, 0.17, 0.003, 0.027],
    [0.58, 0.34, 0.05, 0.00, 0.000, 0.030],
    [0.25, 0.08, 0.12, 0.55, 0.000, 0.000],
    [0.10, 0.24, 0.20, 0.41, 0.005, 0.045],
    [0.35, 0.25, 0.10, 0.30, 0.000, 0.000],
])  # fmt: skip
PLATFORM_WEIGHT = np.array([0.32, 0.18, 0.20, 0.20, 0.10])  # how many persons use each platform
# Median amount (yuan) and possible terms (months) per product; revolving products have no term.
MEDIAN_YUAN = np.array([3_000, 25_000, 12_000, 3_000, 900_000, 120_000])
TERMS = np.array([[3, 6, 12], [12, 24, 36], [0, 0, 0], [0, 0, 0], [240, 300, 360], [36, 48, 60]])
MAX_AGE_DAYS = np.array([1500, 2200, 2200, 1500, 5000, 2500])
RECENT_DAYS = 183  # "recent new accounts": opened in the last six months

CATEGORIES = ["food_delivery", "groceries", "dining", "electronics", "apparel", "home", "transport",
              "entertainment", "education", "utilities", "telecom"]  # fmt: skip
# Which categories each spending platform reports (index into CATEGORIES).
PLATFORM_CATEGORIES = {0: [6, 2, 9, 10, 7, 1, 8, 0], 2: [0, 1, 2], 3: [3, 4, 5, 1, 8]}
MONTHLY_ORDERS = np.array([6.0, 3.0, 2.0, 0.3, 1.2, 0.6, 4.0, 1.0, 0.3, 1.0, 1.0])
TICKET_YUAN = np.array([35, 90, 120, 1500, 250, 300, 25, 80, 600, 150, 80])
CONSUMPTION_MONTHS = 6
TRAVEL_PLATFORMS = [4, 0]  # lvtu, and yunpay's ride-hailing and tickets
TRAVEL_MONTHS = 6

DEFAULT_RATE = 0.07
FORWARD_DEFAULT_RATE = 0.05  # of persons not in default now, who default in the next 12 months
BUCKET = np.frombuffer(b"N1234567", dtype=np.uint8)
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def empty(record_type: str) -> pl.DataFrame:
    """No records of this type, in its file schema with the `furnisher` column."""
    return pl.DataFrame(schema={"furnisher": pl.String, **SCHEMAS[record_type]})


@dataclass
class Population:
    persons: pl.DataFrame
    loans: pl.DataFrame  # the platforms' loans
    consumption: pl.DataFrame
    travel: pl.DataFrame
    bank_accounts: pl.DataFrame = field(default_factory=lambda: empty("loan"))  # the banks' cards and loans
    liabilities: pl.DataFrame = field(default_factory=lambda: empty("liability"))  # guarantees, co-borrowings
    public_records: pl.DataFrame = field(default_factory=lambda: empty("public_record"))

    @property
    def accounts(self) -> pl.DataFrame:
        """Every credit account: the platforms' and the banks'."""
        return pl.concat([self.loans, self.bank_accounts], how="vertical_relaxed")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _strings(codes: np.ndarray) -> pl.Series:
    """Rows of ASCII codes (uint8, one row per value) as a String series."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    return pl.Series(codes.view(f"S{codes.shape[1]}").ravel()).cast(pl.String)


def _hex(rng: np.random.Generator, k: int) -> pl.Series:
    return _strings(HEX[rng.integers(0, 16, (k, 12))])


def _refs(prefix: str, slugs: pl.Series, rng: np.random.Generator) -> pl.Series:
    """References such as CNS-yunpay-3f09a1c2b7de."""
    parts = [pl.lit(prefix + "-"), slugs, pl.lit("-"), _hex(rng, len(slugs))]
    return pl.select(pl.concat_str(parts)).to_series()


def _days(dates: np.ndarray) -> pl.Series:
    """datetime64[D] (NaT for null) as a Polars Date series."""
    return pl.Series(dates.astype("datetime64[D]")).cast(pl.Date)


def _month_labels(as_of: date, months_back: np.ndarray) -> pl.Series:
    """YYYY-MM of the as_of month (0), the month before (1), and so on."""
    months = np.datetime64(as_of, "M") - np.arange(int(months_back.max(initial=0)) + 1)
    labels = np.datetime_as_string(months, "M")
    return pl.Series(labels.tolist()).gather(months_back)


def _months_between(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    return (later.astype("datetime64[M]") - earlier.astype("datetime64[M]")).astype(np.int64)


def _resident_ids(rng: np.random.Generator, birth: np.ndarray, male: np.ndarray) -> pl.Series:
    """GB 11643 numbers: region, birth date, a sequence (odd for men) and the MOD 11-2 check."""
    n = len(birth)
    region = np.array(REGIONS, dtype=np.int64)[rng.integers(0, len(REGIONS), n)]
    month = birth.astype("datetime64[M]")
    year = month.astype("datetime64[Y]").astype(np.int64) + 1970
    ymd = year * 10000 + (month.astype(np.int64) % 12 + 1) * 100 + (birth - month).astype(np.int64) + 1
    seq = 2 * rng.integers(0, 500, n) + male
    while True:  # the sequence number makes each ID unique
        body = (region * 10**8 + ymd) * 1000 + seq
        _, first = np.unique(body, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        seq[dup] = 2 * rng.integers(0, 500, int(dup.sum())) + male[dup]
    digits = (body[:, None] // 10 ** np.arange(16, -1, -1)) % 10
    check = (12 - (digits @ np.array([pow(2, 17 - i, 11) for i in range(17)])) % 11) % 11
    codes = np.empty((n, 18), dtype=np.uint8)
    codes[:, :17] = digits + ord("0")
    codes[:, 17] = np.where(check == 10, ord("X"), check + ord("0"))
    return _strings(codes)


def _names(rng: np.random.Generator, n: int) -> pl.Series:
    surname = pl.Series(SURNAMES).gather(rng.integers(0, len(SURNAMES), n))
    first = pl.Series(GIVEN).gather(rng.integers(0, len(GIVEN), n))
    second = pl.Series(GIVEN).gather(rng.integers(0, len(GIVEN), n))
    two = pl.Series(rng.random(n) < 0.65)  # most given names have two characters
    second = pl.select(pl.when(two).then(second).otherwise(pl.lit(""))).to_series()
    return pl.select(pl.concat_str([surname, first, second])).to_series()


def _phones(rng: np.random.Generator, n: int) -> pl.Series:
    prefix = np.array(PHONE_PREFIXES, dtype=np.int64)[rng.integers(0, len(PHONE_PREFIXES), n)]
    return pl.Series(prefix * 10**8 + rng.integers(0, 10**8, n)).cast(pl.String)


def platforms(persons: int, seed: int = 0, as_of: date = date(2026, 10, 31)) -> tuple[Population, pl.DataFrame]:
    """A population of `persons` persons and the records their platforms furnish as of `as_of`;
    and the persons with the latent traits (`util`, `risk`) the banks' records draw on."""
    if persons < 1:
        raise ValueError("persons must be at least 1")
    rng = np.random.default_rng(seed)
    n = persons
    as_of64 = np.datetime64(as_of, "D")

    # Persons ----------------------------------------------------------------------------
    age = (20 + rng.beta(2.0, 3.2, n) * 51).astype(np.int64)  # 20..70, most 25-45
    birth = as_of64 - (np.floor(age * 365.2425) + rng.integers(1, 365, n)).astype("timedelta64[D]")
    male = (rng.random(n) < 0.5).astype(np.int64)
    person_id = _resident_ids(rng, birth, male)
    income_mu = 2.4 + 0.7 * ((age >= 28) & (age < 55)) - 0.5 * (age >= 60) - 0.4 * (age < 24)
    income = np.clip(np.round(rng.normal(income_mu, 1.0, n)), 1, 5).astype(np.int64)
    # Number of platforms: skewed (half use one), more for the young and the low-income.
    appetite = rng.normal(0, 1, n) - 0.25 * (income - 3) + 0.3 * (age < 30)
    cuts = np.quantile(appetite, np.cumsum([0.50, 0.26, 0.12, 0.08])) if n > 1 else np.full(4, np.inf)
    n_platforms = 1 + np.searchsorted(cuts, appetite)
    util_p = np.clip(rng.beta(2, 3, n) + 0.05 * (3 - income), 0.01, 0.99)  # how much of their credit they use
    recent_p = np.clip(0.06 + 0.09 * (n_platforms - 1) + 0.3 * rng.beta(1, 5, n), 0, 0.9)

    # Which platforms: the first n_platforms of a popularity-weighted random order (Gumbel top-k).
    keys = np.log(PLATFORM_WEIGHT)[None, :] + rng.gumbel(size=(n, len(PLATFORMS)))
    order = np.argsort(-keys, axis=1)
    pair_person, rank = np.nonzero(np.arange(len(PLATFORMS))[None, :] < n_platforms[:, None])
    pair_platform = order[pair_person, rank]
    pair_consent = _refs("CNS", pl.Series([x.slug for x in PLATFORMS]).gather(pair_platform), rng)

    # Loans, before delinquency -----------------------------------------------------------
    per_pair = rng.choice([1, 2, 3, 4], len(pair_person), p=[0.68, 0.21, 0.08, 0.03])
    pair = np.repeat(np.arange(len(pair_person)), per_pair)
    p = pair_person[pair]
    platform = pair_platform[pair]
    m = len(p)
    product = (rng.random(m)[:, None] > PRODUCT_MIX[platform].cumsum(axis=1)).sum(axis=1).clip(0, 5)
    revolving = (product == LINE) | (product == BNPL)
    recent = rng.random(m) < recent_p[p]
    older = rng.integers(RECENT_DAYS, MAX_AGE_DAYS[product] + 1)
    age_days = np.where(recent, rng.integers(3, RECENT_DAYS, m), older)
    age_days = np.minimum(age_days, (age[p] - 18) * 365)
    term = TERMS[product, rng.integers(0, 3, m)]
    amount = MEDIAN_YUAN[product] * (0.55 + 0.18 * income[p]) * rng.lognormal(0, 0.5, m)
    amount = (np.maximum(np.round(amount, -2), 500) * 100).astype(np.int64)  # whole hundreds of yuan, in fen

    elapsed = age_days / 30.44
    remaining = np.clip(1 - elapsed / np.maximum(term, 1), 0, 1)
    used = np.where(
        revolving,
        np.clip(util_p[p] + rng.normal(0, 0.15, m), 0, 1) * (rng.random(m) > 0.1),
        np.clip(remaining * (0.7 + 0.6 * util_p[p]), 0, 1),
    )
    balance = np.round(amount * used).astype(np.int64)

    matured = ~revolving & (elapsed >= term)
    early = (age_days > 60) & (rng.random(m) < np.where(revolving, 0.08, 0.10))
    closed = matured | early
    closed_age = np.where(matured, age_days - np.floor(term * 30.44), rng.random(m) * (age_days - 30))
    closed_days_ago = np.where(closed, np.maximum(closed_age, 0), 0).astype(np.int64)
    balance[closed] = 0

    # Person risk from what the records show, then the default draw -------------------------
    is_open = ~closed
    open_count = np.bincount(p, weights=is_open, minlength=n)
    utilisation = np.bincount(p, weights=is_open * balance / amount, minlength=n) / np.maximum(open_count, 1)
    recent_count = np.bincount(p, weights=age_days < RECENT_DAYS, minlength=n)
    z = (
        0.5 * (n_platforms - 1)
        + 1.8 * (utilisation - 0.4)
        + 0.4 * np.minimum(recent_count, 4)
        - 0.3 * (income - 3)
        + 0.5 * (age < 25)
        + 0.2 * ((age >= 25) & (age < 30))
        - 0.15 * ((age >= 40) & (age < 60))
        + 0.2 * (age >= 62)
        + rng.normal(0, 1.0, n)
    )
    latent = z + _intercept(z, DEFAULT_RATE)
    defaulted = rng.random(n) < _sigmoid(latent)

    # Delinquency ----------------------------------------------------------------------------
    # Every defaulter has at least one loan 90+ days past due (their oldest open loan, else their
    # oldest loan); their other open loans may follow.
    by_age = np.lexsort((-age_days, closed, p))
    first_loan = by_age[np.r_[0, np.flatnonzero(np.diff(p[by_age])) + 1]]
    bad = np.zeros(m, dtype=bool)
    bad[first_loan[defaulted]] = True
    bad |= defaulted[p] & ~closed & (age_days >= 121) & (rng.random(m) < 0.4)
    age_days = np.where(bad & (age_days < 121), 121 + rng.integers(0, 300, m), age_days)
    months_late = 4 + np.minimum(rng.geometric(0.18, m) - 1, 20)
    dpd = np.where(bad, np.minimum(30 * (months_late - 1) + rng.integers(1, 31, m), age_days - 30), 0)
    # Others slip now and then, riskier persons more often, never 90+ days.
    risk = _sigmoid(latent[p] + 1)
    late = ~bad & ~closed & (age_days >= 61) & (rng.random(m) < 0.006 + 0.05 * risk)
    dpd = np.where(late, rng.integers(1, 31, m), dpd)
    late2 = ~bad & ~closed & (age_days >= 91) & (rng.random(m) < 0.015 * risk)
    dpd = np.where(late2, rng.integers(31, 61, m), dpd)
    closed &= dpd == 0
    closed_days_ago[~closed] = 0
    # A defaulted loan stops amortising; a matured one still owes part of its principal.
    owed = np.round(amount * rng.uniform(0.1, 0.5, m)).astype(np.int64)
    balance = np.where(bad & (balance == 0), owed, balance)
    balance = np.where((dpd > 0) & (balance < amount // 20), amount // 20, balance)
    written_off = bad & (dpd >= 180) & (rng.random(m) < np.where(dpd > 360, 0.85, 0.45))
    missed = np.ceil(dpd / 30)
    instalment = amount / np.maximum(term, 1)
    overdue = np.where(revolving, balance * np.minimum(1, 0.1 * missed), missed * instalment)
    overdue = np.where(written_off, balance, np.clip(np.round(overdue), dpd > 0, balance)).astype(np.int64)
    status = np.select([closed, written_off, dpd > 0], [2, 3, 1], 0)
    negative = (dpd > 0) | (overdue > 0) | (status == 1) | (status == 3)

    opened = as_of64 - age_days.astype("timedelta64[D]")
    closed_on = np.where(closed, as_of64 - closed_days_ago.astype("timedelta64[D]"), np.datetime64("NaT"))
    history = _payment_history(
        rng, dpd, _months_between(np.full(m, as_of64), opened), closed, closed_days_ago, bad, risk, as_of64
    )

    # Co-lending: a fifth of non-mortgage loans; shares mostly 30-50%, some below the 30% floor.
    colent = (product != MORTGAGE) & (rng.random(m) < 0.2)
    share = np.where(rng.random(m) < 0.15, rng.uniform(0.05, 0.29, m), rng.uniform(0.30, 0.50, m)).round(2)
    lender = pl.Series([x.uscc for x in LENDERS]).gather(rng.integers(0, len(LENDERS), m))

    slugs = pl.Series([x.slug for x in PLATFORMS])
    loan_slug = slugs.gather(platform)
    number = np.zeros(m, dtype=np.int64)  # account numbers count up per platform
    for j in range(len(PLATFORMS)):
        mine = platform == j
        number[mine] = np.arange(1, int(mine.sum()) + 1)
    person_name, person_phone = _names(rng, n), _phones(rng, n)
    flags = pl.DataFrame({"_rev": revolving, "_colent": colent, "_neg": negative})
    loans = pl.DataFrame({
        "furnisher": loan_slug,
        "record_type": pl.repeat("loan", m, eager=True, dtype=pl.String),
        "person_id": person_id.gather(p),
        "name": person_name.gather(p),
        "phone": person_phone.gather(p),
        "consent_ref": pair_consent.gather(pair),
        "as_of": pl.repeat(as_of, m, eager=True, dtype=pl.Date),
        "account_id": pl.select(
            pl.concat_str([loan_slug, pl.lit("-L"), pl.Series(number).cast(pl.String).str.zfill(9)])
        ).to_series(),
        "product": pl.Series(PRODUCTS).gather(product),
        "opened_on": _days(opened),
        "principal_fen": amount,
        "credit_limit_fen": amount,
        "balance_fen": balance,
        "overdue_fen": overdue,
        "days_past_due": dpd.astype(np.int64),
        "status": pl.Series(["current", "overdue", "closed", "written_off"]).gather(status),
        "closed_on": _days(closed_on),
        "platform_share": share,
        "co_lender_uscc": lender,
        "payment_history": _strings(history),
        "negative_notice_ref": _refs("NTC", loan_slug, rng),
        # An instalment loan's level payment over its term (no interest modelled); lines have none.
        "scheduled_payment_fen": -(-amount // np.maximum(term, 1)),
        "term_months": term,
        "minimum_due_fen": pl.repeat(None, m, eager=True, dtype=pl.Int64),
        "statement_date": pl.repeat(None, m, eager=True, dtype=pl.Date),
    }).hstack(flags).with_columns(
        pl.when(~pl.col("_rev")).then(pl.col("principal_fen")).alias("principal_fen"),
        pl.when(pl.col("_rev")).then(pl.col("credit_limit_fen")).alias("credit_limit_fen"),
        pl.when(pl.col("_colent")).then(pl.col("platform_share")).alias("platform_share"),
        pl.when(pl.col("_colent")).then(pl.col("co_lender_uscc")).alias("co_lender_uscc"),
        pl.when(pl.col("_neg")).then(pl.col("negative_notice_ref")).alias("negative_notice_ref"),
        pl.when(pl.col("term_months") > 0).then(pl.col("scheduled_payment_fen")).alias("scheduled_payment_fen"),
        pl.when(pl.col("term_months") > 0).then(pl.col("term_months")).alias("term_months"),
    ).drop("_rev", "_colent", "_neg")  # fmt: skip

    people = (person_id, person_name, person_phone)
    consumption = _consumption(rng, pair_person, pair_platform, pair_consent, people, income, as_of)
    travel = _travel(rng, pair_person, pair_platform, pair_consent, people, age, as_of)
    # The outcome a scorecard predicts: default in the twelve months after `as_of`. Drawn last
    # (so every record above is what it was) from the same latent risk, independently of the
    # current delinquency: today's records predict it, they do not define it.
    clean = ~defaulted
    future = rng.random(n) < _sigmoid(latent + _intercept(latent[clean], FORWARD_DEFAULT_RATE))
    future = clean & future | defaulted & (rng.random(n) < 0.8)  # most defaulters stay in default

    persons_frame = pl.DataFrame({
        "person_id": person_id,
        "name": person_name,
        "phone": person_phone,
        "birth_date": _days(birth),
        "gender": pl.Series(["F", "M"]).gather(male),
        "province_code": person_id.str.slice(0, 2),
        "income_band": income.astype(np.int8),
        "latent_risk": latent,
        "defaulted": defaulted.astype(np.int8),
        "default_next_12m": future.astype(np.int8),
        "n_platforms": n_platforms.astype(np.int8),
    })  # fmt: skip
    people = persons_frame.with_columns(util=util_p, risk=_sigmoid(latent))
    return Population(persons_frame, loans, consumption, travel), people


def _intercept(z: np.ndarray, rate: float) -> float:
    """The constant c for which the mean of sigmoid(z + c) is `rate` (bisection)."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _sigmoid(z + mid).mean() < rate else (lo, mid)
    return (lo + hi) / 2


def _payment_history(rng, dpd, open_months, closed, closed_days_ago, bad, risk, as_of64) -> np.ndarray:
    """24 PBOC monthly symbols per loan, newest (the as_of month) first."""
    m = len(dpd)
    k = np.arange(24)[None, :]
    opened = open_months[:, None]
    # Old 1-30 day slips, more often for riskier persons.
    slip_rate = (0.004 + 0.04 * risk).astype(np.float32)[:, None]
    slips = (rng.random((m, 24), dtype=np.float32) < slip_rate) & (k >= 1) & (k < opened)
    history = np.where(slips, ord("1"), ord("N")).astype(np.uint8)

    # A loan now N days past due was N - 30 days past due a month ago, and so on back; before a
    # default set in, the months show more slips.
    late = np.flatnonzero(dpd > 0)
    past = dpd[late, None] - 30 * k
    onset = (dpd[late, None] + 29) // 30
    rows = history[late]
    warning = bad[late, None] & (k >= onset) & (k < onset + 3) & (k < opened[late])
    rows[warning & (rng.random(rows.shape, dtype=np.float32) < 0.3)] = ord("1")
    history[late] = np.where(past > 0, BUCKET[np.clip((past + 29) // 30, 0, 7)], rows)

    ended = np.flatnonzero(closed)
    closed_months = _months_between(
        np.full(len(ended), as_of64), as_of64 - closed_days_ago[ended].astype("timedelta64[D]")
    )
    history[ended] = np.where(k <= closed_months[:, None], ord("C"), history[ended])
    # Rarely the account ended otherwise: guarantor paid (D), settled with assets (Z), other (G).
    other = (closed_months >= 1) & (closed_months < 24) & (rng.random(len(ended)) < 0.01)
    symbol = np.frombuffer(b"DZG", dtype=np.uint8)[rng.integers(0, 3, int(other.sum()))]
    history[ended[other], closed_months[other]] = symbol
    history[k > opened] = ord("#")
    return history


def _consumption(rng, pair_person, pair_platform, pair_consent, people, income, as_of) -> pl.DataFrame:
    """Monthly spending per category, for users of the platforms that report it."""
    table = np.full((len(PLATFORMS), 11), -1)
    sizes = np.zeros(len(PLATFORMS), dtype=np.int64)
    for j, cats in PLATFORM_CATEGORIES.items():
        table[j, : len(cats)] = cats
        sizes[j] = len(cats)
    keep = np.flatnonzero((sizes[pair_platform] > 0) & (rng.random(len(pair_person)) < 0.75))
    platform = pair_platform[keep]
    n_cat = np.minimum(rng.choice([1, 2, 3], len(keep), p=[0.35, 0.4, 0.25]), sizes[platform])
    start = rng.integers(0, 1 << 30, len(keep)) % sizes[platform]
    activity = rng.lognormal(0, 0.5, len(keep))
    rows = n_cat * CONSUMPTION_MONTHS
    row_pair = np.repeat(np.arange(len(keep)), rows)
    within = np.arange(len(row_pair)) - np.repeat(np.cumsum(rows) - rows, rows)
    slot, month_back = within // CONSUMPTION_MONTHS, within % CONSUMPTION_MONTHS
    plat = platform[row_pair]
    category = table[plat, (start[row_pair] + slot) % sizes[plat]]
    k = len(row_pair)
    person = pair_person[keep][row_pair]
    orders = rng.poisson(MONTHLY_ORDERS[category] * activity[row_pair]).astype(np.int64)
    ticket = TICKET_YUAN[category] * 100 * (0.55 + 0.18 * income[person]) * rng.lognormal(0, 0.3, k)
    frame = _summary_frame("consumption", keep[row_pair], plat, person, pair_consent, people, as_of, {
        "month": _month_labels(as_of, month_back),
        "category": pl.Series(CATEGORIES).gather(category),
        "amount_fen": np.round(orders * ticket).astype(np.int64),
        "orders": orders,
    })  # fmt: skip
    return frame.filter(pl.col("orders") > 0)  # a month without orders is not reported


def _travel(rng, pair_person, pair_platform, pair_consent, people, age, as_of) -> pl.DataFrame:
    """Monthly trips and cities, for the users (about 30%) who gave a travel platform separate consent."""
    keep = np.flatnonzero(np.isin(pair_platform, TRAVEL_PLATFORMS) & (rng.random(len(pair_person)) < 0.3))
    separate = _refs("SEP", pl.Series([x.slug for x in PLATFORMS]).gather(pair_platform[keep]), rng)
    row_pair = np.repeat(np.arange(len(keep)), TRAVEL_MONTHS)
    month_back = np.tile(np.arange(TRAVEL_MONTHS), len(keep))
    person = pair_person[keep][row_pair]
    rate = rng.gamma(2.0, 0.6, len(keep)) * np.where(age[pair_person[keep]] > 60, 0.5, 1.0)
    trips = rng.poisson(rate[row_pair]).astype(np.int64)
    cities = np.where(trips > 0, 1 + rng.binomial(np.maximum(trips - 1, 0), 0.5), 0).astype(np.int64)
    platform = pair_platform[keep][row_pair]
    return _summary_frame("travel", keep[row_pair], platform, person, pair_consent, people, as_of, {
        "month": _month_labels(as_of, month_back),
        "trips": trips,
        "cities": cities,
        "separate_consent_ref": separate.gather(row_pair),
    })  # fmt: skip


def _summary_frame(record_type, pair, platform, person, pair_consent, people, as_of, fields) -> pl.DataFrame:
    person_id, name, phone = people
    k = len(person)
    frame = pl.DataFrame({
        "furnisher": pl.Series([x.slug for x in PLATFORMS]).gather(platform),
        "record_type": pl.repeat(record_type, k, eager=True, dtype=pl.String),
        "person_id": person_id.gather(person),
        "name": name.gather(person),
        "phone": phone.gather(person),
        "consent_ref": pair_consent.gather(pair),
        "as_of": pl.repeat(as_of, k, eager=True, dtype=pl.Date),
        **fields,
    })  # fmt: skip
    return frame.cast(SCHEMAS[record_type])
