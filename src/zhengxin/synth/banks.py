"""The banks' records of a synthetic population, and the public records about it.

Banks furnish their own credit cards and consumer loans, and the guarantees and co-borrowings
that back those loans; a public-records service furnishes court enforcements, dishonest-debtor
listings, tax arrears and administrative penalties. A few card holders are named differently
at their bank than on their platforms (a mistyped given name and another phone), so reports
meet identity conflicts. Risk follows the person's latent risk, as on the platforms: defaulters
are late on their bank accounts too and more often have a public record.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from zhengxin.synth.population import (
    GIVEN,
    LENDERS,
    PUBLIC_RECORDS,
    SCHEMAS,
    _days,
    _months_between,
    _payment_history,
    _phones,
    _refs,
    _strings,
)

CARD_SHARE = 0.2  # of persons hold a bank card, plus 6 points per income band
BANK_LOAN_SHARE = 0.12
GUARANTEED_SHARE = 0.3  # of bank loans carry a guarantor or a co-borrower
CONFLICT_SHARE = 0.03  # of card holders whom the bank names differently
MINIMUM_DUE = 0.1  # of a card's balance
COURTS = ["北京市朝阳区人民法院", "上海市浦东新区人民法院", "深圳市南山区人民法院", "杭州市西湖区人民法院",
          "成都市武侯区人民法院"]  # fmt: skip
TAX_OFFICES = ["国家税务总局北京市税务局", "国家税务总局上海市税务局", "国家税务总局广东省税务局"]
REGULATORS = ["北京市市场监督管理局", "上海市市场监督管理局", "浙江省市场监督管理局"]
RECORD_KINDS = ["court_enforcement", "dishonest_debtor", "tax_arrears", "administrative_penalty"]


def bank_records(rng: np.random.Generator, people: pl.DataFrame, as_of: date):
    """(bank accounts, liabilities, public records) as furnisher files, with a `furnisher` column."""
    accounts = _bank_accounts(rng, people, as_of)
    return accounts, _liabilities(rng, people, accounts), _public_records(rng, people, as_of)


def _bank_accounts(rng: np.random.Generator, people: pl.DataFrame, as_of: date) -> pl.DataFrame:
    n = people.height
    as_of64 = np.datetime64(as_of, "D")
    income = people["income_band"].to_numpy().astype(np.int64)
    util, risk = people["util"].to_numpy(), people["risk"].to_numpy()
    defaulted = people["defaulted"].to_numpy().astype(bool)
    cards = np.where(rng.random(n) < CARD_SHARE + 0.06 * income, rng.choice([1, 2], n, p=[0.75, 0.25]), 0)
    loans = (rng.random(n) < BANK_LOAN_SHARE).astype(np.int64)
    p = np.concatenate([np.repeat(np.arange(n), cards), np.repeat(np.arange(n), loans)])
    card = np.arange(len(p)) < cards.sum()
    m = len(p)
    bank = rng.integers(0, len(LENDERS), m)
    adult_days = (as_of64 - people["birth_date"].to_numpy().astype("datetime64[D]")).astype(np.int64) - 18 * 365
    age_days = np.where(card, rng.integers(90, 3000, m), rng.integers(60, 1100, m))
    age_days = np.minimum(age_days, np.maximum(adult_days[p], 91))
    opened = as_of64 - age_days.astype("timedelta64[D]")
    size = (0.6 + 0.2 * income[p]) * rng.lognormal(0, 0.4, m)
    amount = (np.round(np.where(card, 20_000, 50_000) * size, -3) * 100).astype(np.int64)  # whole thousands of yuan
    term = np.where(card, 0, rng.choice([12, 24, 36], m))
    elapsed = _months_between(np.full(m, as_of64), opened)
    closed = ~card & (elapsed >= term)
    closed_on = np.where(closed, opened + (term * 30.44).astype("timedelta64[D]"), np.datetime64("NaT"))
    closed_days_ago = np.where(closed, (as_of64 - closed_on).astype(np.int64), 0).clip(0)
    drawn = np.clip(util[p] + rng.normal(0, 0.2, m), 0, 1)
    used = np.where(card, drawn, np.clip(1 - elapsed / np.maximum(term, 1), 0, 1))
    balance = np.where(closed, 0, np.round(amount * used)).astype(np.int64)
    scheduled = np.where(card, 0, -(-amount // np.maximum(term, 1)))
    minimum_due = np.ceil(balance * MINIMUM_DUE).astype(np.int64)

    bad = defaulted[p] & ~closed & (age_days > 120) & (rng.random(m) < 0.5)
    dpd = np.where(bad, rng.integers(91, 400, m), 0)
    dpd = np.where(~bad & ~closed & (rng.random(m) < 0.03 * risk[p]), rng.integers(1, 31, m), dpd)
    dpd = np.minimum(dpd, age_days - 30)
    balance = np.where((dpd > 0) & (balance == 0), amount // 4, balance)
    months_late = np.ceil(dpd / 30)
    overdue = np.minimum(np.where(card, minimum_due, scheduled) * months_late, balance).astype(np.int64)
    overdue = np.where(dpd > 0, np.maximum(overdue, 1), overdue)
    written_off = bad & (dpd >= 180) & (rng.random(m) < 0.5)
    overdue = np.where(written_off, balance, overdue)
    status = np.select([closed, written_off, dpd > 0], [2, 3, 1], 0)
    history = _payment_history(
        rng, dpd, _months_between(np.full(m, as_of64), opened), closed, closed_days_ago, bad, risk[p], as_of64
    )
    slug = pl.Series([x.slug for x in LENDERS]).gather(bank)
    number = pl.Series(np.arange(1, m + 1)).cast(pl.String).str.zfill(9)
    name, phone = _bank_identity(rng, people, p, card)
    negative = (dpd > 0) | (status == 3)
    frame = pl.DataFrame({
        "furnisher": slug, "record_type": "loan", "person_id": people["person_id"].gather(p), "name": name,
        "phone": phone, "consent_ref": _refs("CNS", slug, rng), "as_of": pl.repeat(as_of, m, eager=True),
        "account_id": pl.select(pl.concat_str([slug, pl.Series(np.where(card, "-C", "-B")), number])).to_series(),
        "product": np.where(card, "credit_card", "consumer_loan"), "opened_on": _days(opened),
        "principal_fen": _where(~card, amount), "credit_limit_fen": _where(card, amount),
        "balance_fen": balance, "overdue_fen": overdue, "days_past_due": dpd.astype(np.int64),
        "status": pl.Series(["current", "overdue", "closed", "written_off"]).gather(status),
        "closed_on": _days(closed_on), "platform_share": None, "co_lender_uscc": None,
        "payment_history": _strings(history),
        "negative_notice_ref": _where(negative, _refs("NTC", slug, rng)),
        "scheduled_payment_fen": _where(~card, scheduled), "term_months": _where(~card, term),
        "minimum_due_fen": _where(card, minimum_due),
        "statement_date": _days(np.where(card, as_of64 - rng.integers(0, 28, m).astype("timedelta64[D]"),
                                         np.datetime64("NaT"))),
    }, strict=False)  # fmt: skip
    return frame.cast({"furnisher": pl.String, **SCHEMAS["loan"]})


def _where(mask: np.ndarray, values) -> pl.Series:
    """`values` where `mask` holds, null elsewhere."""
    return pl.select(pl.when(pl.Series(mask)).then(pl.Series(values))).to_series()


def _bank_identity(rng: np.random.Generator, people: pl.DataFrame, p: np.ndarray, card: np.ndarray):
    """The name and phone each bank account carries: the person's, except for a few card
    holders (always the first, so that even a small population has one) whose bank mistyped
    the first given name and holds another phone."""
    name, phone = people["name"].gather(p), people["phone"].gather(p)
    differ = pl.Series(card & ((rng.random(len(p)) < CONFLICT_SHARE) | (np.arange(len(p)) == 0)))
    typo = pl.Series(GIVEN).gather(rng.integers(0, len(GIVEN), len(p)))
    same = typo == name.str.slice(1, 1)  # a "typo" that is the right character: two instead
    typo = pl.select(pl.when(same).then(pl.lit(GIVEN[0] + GIVEN[1])).otherwise(typo)).to_series()
    mistyped = pl.select(pl.concat_str([name.str.slice(0, 1), typo, name.str.slice(2)])).to_series()
    name = pl.select(pl.when(differ).then(mistyped).otherwise(name)).to_series()
    phone = pl.select(pl.when(differ).then(_phones(rng, len(p))).otherwise(phone)).to_series()
    return name, phone


def _liabilities(rng: np.random.Generator, people: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Guarantors and co-borrowers of the banks' consumer loans: each another person."""
    loans = accounts.filter(pl.col("product") == "consumer_loan")
    loans = loans.filter(pl.Series(rng.random(loans.height) < GUARANTEED_SHARE))
    k, n = loans.height, people.height
    if k == 0 or n < 2:
        return pl.DataFrame(schema={"furnisher": pl.String, **SCHEMAS["liability"]})
    index = {pid: i for i, pid in enumerate(people["person_id"].to_list())}
    debtor = np.array([index[pid] for pid in loans["person_id"].to_list()])
    other = (debtor + rng.integers(1, n, k)) % n  # never the borrower
    co_borrower = rng.random(k) < 0.2
    amount = loans["principal_fen"].to_numpy()
    share = np.where(co_borrower, 1.0, rng.choice([1.0, 0.5], k))
    released = loans["status"] == "closed"
    frame = pl.DataFrame({
        "furnisher": loans["furnisher"], "record_type": "liability", "person_id": people["person_id"].gather(other),
        "name": people["name"].gather(other), "phone": people["phone"].gather(other),
        "consent_ref": _refs("CNS", loans["furnisher"], rng), "as_of": loans["as_of"],
        "liability_id": loans["account_id"].str.replace("-B", "-G", literal=True),
        "kind": np.where(co_borrower, "co_borrower", "guarantee"), "account_id": loans["account_id"],
        "amount_fen": amount, "liability_fen": np.round(amount * share).astype(np.int64),
        "opened_on": loans["opened_on"], "status": pl.select(pl.when(released).then(pl.lit("released"))
                                                              .otherwise(pl.lit("active"))).to_series(),
        "released_on": pl.select(pl.when(released).then(loans["closed_on"])).to_series(),
    })  # fmt: skip
    return frame.cast({"furnisher": pl.String, **SCHEMAS["liability"]})


def _public_records(rng: np.random.Generator, people: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """About 1% of persons, and 12% of defaulters, have a public record."""
    n = people.height
    defaulted = people["defaulted"].to_numpy().astype(bool)
    who = np.flatnonzero(rng.random(n) < 0.01 + 0.12 * defaulted)
    k = len(who)
    kind = rng.choice(len(RECORD_KINDS), k, p=[0.45, 0.2, 0.2, 0.15])
    as_of64 = np.datetime64(as_of, "D")
    decided = as_of64 - rng.integers(30, 6 * 365, k).astype("timedelta64[D]")
    concluded = (rng.random(k) < 0.4) & (kind != 1)  # a listing stays until the debtor pays: open
    span = (as_of64 - decided).astype(np.int64)
    concluded_on = np.where(concluded, decided + (rng.random(k) * span).astype("timedelta64[D]"), np.datetime64("NaT"))
    offices = [COURTS if kd in (0, 1) else TAX_OFFICES if kd == 2 else REGULATORS for kd in kind]
    authority = [names[rng.integers(0, len(names))] for names in offices]
    year = decided.astype("datetime64[Y]").astype(np.int64) + 1970
    prefix = np.array(["执", "执恢", "税欠", "罚"])[kind]
    case = [f"({y}){pre}{i:05d}号" for y, pre, i in zip(year, prefix, rng.integers(1, 99_999, k), strict=True)]
    amount = (np.round(np.array([80_000, 80_000, 15_000, 5_000])[kind] * rng.lognormal(0, 0.6, k), -2) * 100)
    frame = pl.DataFrame({
        "furnisher": PUBLIC_RECORDS.slug, "record_type": "public_record", "person_id": people["person_id"].gather(who),
        "name": people["name"].gather(who), "phone": None, "consent_ref": _refs(
            "PUB", pl.Series([PUBLIC_RECORDS.slug] * k, dtype=pl.String), rng),
        "as_of": pl.repeat(as_of, k, eager=True), "case_number": pl.Series(case, dtype=pl.String),
        "kind": pl.Series(RECORD_KINDS).gather(kind), "authority": pl.Series(authority, dtype=pl.String),
        "amount_fen": amount.astype(np.int64), "decided_on": _days(decided),
        "status": np.where(concluded, "concluded", "open"), "concluded_on": _days(concluded_on),
    }, strict=False)  # fmt: skip
    return frame.cast({"furnisher": pl.String, **SCHEMAS["public_record"]})
