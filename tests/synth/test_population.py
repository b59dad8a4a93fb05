"""The synthetic population: valid identifiers, consistent records, real signal, determinism, files."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest
from stdnum.cn import ric, uscc

from zhengxin.synth import FURNISHERS, LENDERS, PLATFORMS, Population, generate, write_files
from zhengxin.synth.population import REGIONS

# The public record format, written out here so that a drift in the implementation fails.
COMMON = ["record_type", "person_id", "name", "phone", "consent_ref", "as_of"]
RECORD_FORMAT = {
    "loan": COMMON + [
        "account_id", "product", "opened_on", "principal_fen", "credit_limit_fen", "balance_fen",
        "overdue_fen", "days_past_due", "status", "closed_on", "platform_share", "co_lender_uscc",
        "payment_history", "negative_notice_ref", "scheduled_payment_fen", "term_months", "minimum_due_fen",
        "statement_date",
    ],
    "consumption": COMMON + ["month", "category", "amount_fen", "orders"],
    "travel": COMMON + ["month", "trips", "cities", "separate_consent_ref"],
    "liability": COMMON + [
        "liability_id", "kind", "account_id", "amount_fen", "liability_fen", "opened_on", "status", "released_on",
    ],
    "public_record": COMMON + [
        "case_number", "kind", "authority", "amount_fen", "decided_on", "status", "concluded_on",
    ],
}  # fmt: skip
REF = r"^[A-Za-z0-9._:-]{1,64}$"
AS_OF = date(2026, 10, 31)
N = 5000


@pytest.fixture(scope="module")
def pop() -> Population:
    return generate(N, seed=3)


def _auc(score: pl.Series, label: pl.Series) -> float:
    """Probability that a random defaulter scores above a random non-defaulter (ties count half)."""
    ranks = score.rank().to_numpy()
    pos = label.to_numpy() == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_organisations():
    assert len(PLATFORMS) == 5 and len(LENDERS) == 3
    orgs = PLATFORMS + LENDERS
    for org in orgs:
        assert uscc.validate(org.uscc) == org.uscc
        assert org.slug.isascii() and org.slug.isalpha() and org.slug.islower()
    assert len({o.slug for o in orgs}) == len({o.uscc for o in orgs}) == len({o.name for o in orgs}) == 8


def test_every_region_code_is_valid_in_every_birth_year():
    for region in REGIONS:
        for year in range(1930, 2031):
            ric.validate(_with_check(f"{region}{year}0615001"))


def _with_check(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


def test_persons_and_identifiers(pop):
    persons = pop.persons
    assert persons.height == N and persons["person_id"].n_unique() == N
    for pid in persons["person_id"].to_list():
        ric.validate(pid)
    for frame in (pop.loans, pop.consumption, pop.travel):
        assert frame["person_id"].is_in(persons["person_id"].implode()).all()
    assert persons["phone"].str.contains(r"^1[3-9][0-9]{9}$").all()
    assert persons["name"].str.contains(r"^[\u4e00-\u9fff]{2,3}$").all()
    ages = persons.select((pl.lit(AS_OF) - pl.col("birth_date")).dt.total_days() / 365.2425).to_series()
    assert ages.min() >= 20 and ages.max() < 71
    years = persons["birth_date"].dt.year()
    assert years.min() >= 1955 and years.max() <= 2006
    # the 17th digit is odd for men
    odd = persons["person_id"].str.slice(16, 1).cast(pl.Int8) % 2 == 1
    assert ((persons["gender"] == "M") == odd).all()
    assert set(persons["income_band"].unique()) == {1, 2, 3, 4, 5}
    assert persons["defaulted"].dtype == pl.Int8 and set(persons["defaulted"].unique()) == {0, 1}


def test_loan_fields_are_consistent(pop):
    loans = pop.loans
    assert loans["account_id"].n_unique() == loans.height
    assert loans["account_id"].str.contains(REF).all()
    assert loans["consent_ref"].str.contains(REF).all()
    assert loans["negative_notice_ref"].drop_nulls().str.contains(REF).all()
    assert (loans["as_of"] == AS_OF).all() and (loans["opened_on"] <= loans["as_of"]).all()
    assert set(loans["product"].unique()) <= {
        "microloan",
        "consumer_loan",
        "credit_line",
        "bnpl",
        "mortgage",
        "auto",
    }
    assert set(loans["status"].unique()) == {"current", "overdue", "closed", "written_off"}

    closed = loans.filter(pl.col("status") == "closed")
    assert closed.height and (closed["balance_fen"] == 0).all() and (closed["days_past_due"] == 0).all()
    assert (closed["closed_on"] >= closed["opened_on"]).all()
    assert (closed["closed_on"] <= closed["as_of"]).all()
    assert loans.filter(pl.col("status") != "closed")["closed_on"].is_null().all()
    assert (loans.filter(pl.col("status") == "overdue")["days_past_due"] > 0).all()
    assert (loans.filter(pl.col("status") == "written_off")["days_past_due"] >= 180).all()
    assert (loans.filter(pl.col("status") == "current")["days_past_due"] == 0).all()
    assert (loans["overdue_fen"] >= 0).all() and (loans["overdue_fen"] <= loans["balance_fen"]).all()
    assert (loans["balance_fen"] >= 0).all()

    assert (loans["principal_fen"].is_null() ^ loans["credit_limit_fen"].is_null()).all()
    revolving = loans["product"].is_in(["credit_line", "bnpl"])
    assert (revolving == loans["credit_limit_fen"].is_not_null()).all()

    colent = loans["co_lender_uscc"].is_not_null()
    assert (colent == loans["platform_share"].is_not_null()).all()
    assert loans["platform_share"].drop_nulls().is_between(0, 1).all()

    late = (pl.col("days_past_due") > 0) | (pl.col("overdue_fen") > 0)
    negative = late | pl.col("status").is_in(["overdue", "written_off"])
    assert loans.select(negative == pl.col("negative_notice_ref").is_not_null()).to_series().all()
    assert loans.select(negative.sum()).item() > 0


def test_payment_histories(pop):
    loans = pop.loans
    history = loans["payment_history"]
    assert history.str.contains(r"^[N1-7CDZG#]{24}$").all()
    # '#' only for the months before the account was opened: a run at the old end
    assert history.str.contains(r"^[^#]+#*$").all()
    months_open = loans.select(
        (pl.col("as_of").dt.year() * 12 + pl.col("as_of").dt.month())
        - (pl.col("opened_on").dt.year() * 12 + pl.col("opened_on").dt.month())
    ).to_series()
    unknown = history.str.count_matches("#")
    assert (unknown == (23 - months_open).clip(0, 24)).all()
    bucket = pl.when(pl.col("days_past_due") == 0).then(pl.lit("N"))
    for symbol, upper in zip("123456", [30, 60, 90, 120, 150, 180], strict=True):
        bucket = bucket.when(pl.col("days_past_due") <= upper).then(pl.lit(symbol))
    bucket = bucket.otherwise(pl.lit("7"))
    expected = pl.when(pl.col("status") == "closed").then(pl.lit("C")).otherwise(bucket)
    first = loans.select(pl.col("payment_history").str.slice(0, 1) == expected).to_series()
    assert first.all()
    # a loan 100 days past due shows 4, 3, 2, 1 over its last four months
    late = loans.filter(pl.col("days_past_due").is_between(91, 120))
    assert late.height and late["payment_history"].str.starts_with("4321").all()


def test_multi_platform_borrowing_and_co_lending(pop):
    persons, loans = pop.persons, pop.loans
    counts = persons["n_platforms"].value_counts().sort("n_platforms")
    assert counts["n_platforms"].to_list() == [1, 2, 3, 4, 5]
    share = persons["n_platforms"].cast(pl.Int64)
    assert (share <= 2).mean() > 0.6 and (share >= 4).sum() > N * 0.05
    seen = loans.group_by("person_id").agg(pl.col("furnisher").n_unique().alias("seen"))
    seen = seen.join(persons, on="person_id")
    assert (seen["seen"] == seen["n_platforms"].cast(pl.UInt32)).all() and seen.height == N
    per_platform = loans.group_by("person_id", "furnisher").len()["len"]
    assert per_platform.min() == 1 and per_platform.max() <= 4

    colent = loans.filter(pl.col("co_lender_uscc").is_not_null())
    assert 0.15 < colent.height / loans.height < 0.25
    assert set(colent["co_lender_uscc"].unique()) <= {x.uscc for x in LENDERS}
    below = (colent["platform_share"] < 0.30).mean()
    assert 0.08 < below < 0.25
    assert colent.filter(pl.col("platform_share") >= 0.30)["platform_share"].max() <= 0.5


def test_consumption_and_travel_records(pop):
    consumption, travel = pop.consumption, pop.travel
    assert consumption.height and travel.height
    assert consumption["month"].str.contains(r"^\d{4}-(0[1-9]|1[0-2])$").all()
    assert consumption["month"].max() == "2026-10" and consumption["month"].min() >= "2026-05"
    assert set(consumption["category"].unique()) <= {
        "food_delivery", "groceries", "dining", "electronics", "apparel", "home", "transport",
        "entertainment", "education", "utilities", "telecom",
    }  # fmt: skip
    assert (consumption["amount_fen"] >= 0).all() and (consumption["orders"] >= 0).all()
    assert consumption.select("furnisher", "person_id", "month", "category").is_unique().all()

    assert travel["separate_consent_ref"].is_not_null().all()
    assert travel["separate_consent_ref"].str.contains(REF).all()
    assert ((travel["cities"] >= 0) & (travel["cities"] <= travel["trips"])).all()
    assert travel.select("furnisher", "person_id", "month").is_unique().all()
    assert 1 <= travel["furnisher"].n_unique() <= 2
    users = pop.loans.filter(pl.col("furnisher").is_in(travel["furnisher"].unique().implode()))
    shared = travel.select("furnisher", "person_id").unique().height
    assert 0.2 < shared / users.select("furnisher", "person_id").unique().height < 0.4
    for frame in (consumption, travel):
        assert frame["consent_ref"].str.contains(REF).all()
        assert frame["phone"].str.contains(r"^1[3-9][0-9]{9}$").all()


def test_default_depends_on_features(pop):
    persons, loans = pop.persons, pop.loans
    rate = persons["defaulted"].mean()
    assert 0.05 <= rate <= 0.10
    many = persons.filter(pl.col("n_platforms") >= 4)["defaulted"].mean()
    rest = persons.filter(pl.col("n_platforms") < 4)["defaulted"].mean()
    assert many > 2.5 * rest
    top = pl.col("latent_risk") >= pl.col("latent_risk").quantile(0.9)
    assert persons.filter(top)["defaulted"].mean() > 3 * persons.filter(~top)["defaulted"].mean()

    # The default is visible in the records: 90+ days past due (or written off) exactly for defaulters.
    worst = loans.group_by("person_id").agg(
        pl.col("days_past_due").max().alias("max_dpd"),
        (pl.col("status") == "written_off").any().alias("written_off"),
        pl.col("payment_history").str.count_matches("[1-7]").sum().alias("late_months"),
    )
    worst = worst.join(persons, on="person_id")
    assert ((worst["defaulted"] == 1) == ((worst["max_dpd"] > 90) | worst["written_off"])).all()
    defaulters = worst.filter(pl.col("defaulted") == 1)
    others = worst.filter(pl.col("defaulted") == 0)
    assert defaulters["late_months"].mean() > 3 * others["late_months"].mean()
    assert (others["max_dpd"] <= 60).all() and (others["max_dpd"] == 0).mean() > 0.9

    # And it is predictable before it happens: from features that do not read any delinquency.
    features = (
        loans.group_by("person_id")
        .agg(
            pl.col("furnisher").n_unique().alias("platforms"),
            ((pl.lit(AS_OF) - pl.col("opened_on")).dt.total_days() < 183).sum().alias("recent"),
        )
        .join(persons.select("person_id", "defaulted"), on="person_id")
    )
    assert _auc(features["platforms"], features["defaulted"]) > 0.7
    assert _auc(features["recent"], features["defaulted"]) > 0.65


def test_deterministic_under_a_seed(tmp_path):
    a, b, c = generate(400, seed=9), generate(400, seed=9), generate(400, seed=10)
    for name in ("persons", "loans", "consumption", "travel"):
        assert getattr(a, name).equals(getattr(b, name))
    assert not a.loans.equals(c.loans) and not a.persons.equals(c.persons)
    first = write_files(a, tmp_path / "a")
    second = write_files(b, tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in second]
    for x, y in zip(first, second, strict=True):
        assert x.read_bytes() == y.read_bytes(), x.name


def test_tiny_and_dated_populations():
    one = generate(1, seed=1)
    assert one.persons.height == 1 and one.loans.height >= 1
    ric.validate(one.persons["person_id"][0])
    earlier = generate(200, seed=1, as_of=date(2025, 6, 30))
    assert (earlier.loans["as_of"] == date(2025, 6, 30)).all()
    assert (earlier.loans["opened_on"] <= date(2025, 6, 30)).all()
    assert earlier.consumption["month"].max() == "2025-06"
    for pid in earlier.persons["person_id"].to_list():
        ric.validate(pid)
    with pytest.raises(ValueError):
        generate(0)


def test_written_files_round_trip_in_every_format(tmp_path, pop):
    paths = write_files(pop, tmp_path)
    assert tmp_path / "persons.parquet" in paths
    truth = pl.read_parquet(tmp_path / "persons.parquet")
    assert truth.equals(pop.persons) and "defaulted" in truth.columns

    for path in paths:
        if path.name == "persons.parquet":
            continue
        record_type = path.stem
        slug = path.parent.name
        assert path.parent.parent == tmp_path and slug in {p.slug for p in FURNISHERS}
        assert path.suffix in {".csv", ".jsonl", ".parquet"}
        if path.suffix == ".csv":
            columns = path.read_text(encoding="utf-8").split("\n", 1)[0].split(",")
        elif path.suffix == ".parquet":
            columns = pl.read_parquet_schema(path).names()
        else:
            lines = path.read_text(encoding="utf-8").splitlines()
            columns = list(dict.fromkeys(key for line in lines for key in json.loads(line)))
        assert set(columns) <= set(RECORD_FORMAT[record_type]), path
        if path.suffix != ".jsonl":  # JSONL omits null fields
            assert columns == RECORD_FORMAT[record_type], path

    for record_type, frame in {
        "loan": pop.loans,
        "consumption": pop.consumption,
        "travel": pop.travel,
        "liability": pop.liabilities,
        "public_record": pop.public_records,
    }.items():
        slug = frame["furnisher"][0]
        expected = frame.filter(pl.col("furnisher") == slug).drop("furnisher")
        folder = tmp_path / slug
        csv = pl.read_csv(folder / f"{record_type}.csv", schema=expected.schema)
        jsonl = pl.read_ndjson(folder / f"{record_type}.jsonl", schema=expected.schema)
        parquet = pl.read_parquet(folder / f"{record_type}.parquet")
        assert parquet.schema == expected.schema
        for read in (csv, jsonl, parquet):
            assert read.equals(expected), record_type

    # Parquet types, and JSONL that omits nulls and keeps integers as numbers.
    loan = pl.read_parquet(tmp_path / PLATFORMS[0].slug / "loan.parquet")
    assert loan.schema["opened_on"] == pl.Date and loan.schema["balance_fen"] == pl.Int64
    assert loan.schema["platform_share"] == pl.Float64 and loan.schema["payment_history"] == pl.String
    lines = (tmp_path / PLATFORMS[0].slug / "loan.jsonl").read_text(encoding="utf-8").splitlines()
    objects = [json.loads(line) for line in lines]
    assert all(None not in obj.values() for obj in objects)
    assert all(isinstance(obj["balance_fen"], int) and isinstance(obj["as_of"], str) for obj in objects)
    assert any("closed_on" in obj for obj in objects) and any("closed_on" not in obj for obj in objects)
    csv_text = (tmp_path / PLATFORMS[0].slug / "loan.csv").read_text(encoding="utf-8")
    assert ",2026-10-31," in csv_text and "null" not in csv_text


def test_write_files_formats(tmp_path, pop):
    paths = write_files(pop, tmp_path, formats=["parquet"])
    assert {p.suffix for p in paths} == {".parquet"}
    assert not list(tmp_path.rglob("*.csv"))
    with pytest.raises(ValueError):
        write_files(pop, tmp_path, formats=["xlsx"])


def test_banks_furnish_cards_loans_and_guarantees_and_some_persons_have_public_records(pop):
    banks = {lender.slug for lender in LENDERS}
    accounts = pop.bank_accounts
    assert set(accounts["furnisher"]) <= banks and accounts["account_id"].is_unique().all()
    cards = accounts.filter(pl.col("product") == "credit_card")
    assert cards.height > N * 0.3 and cards["credit_limit_fen"].is_not_null().all()
    assert cards["minimum_due_fen"].is_not_null().all() and cards["statement_date"].is_not_null().all()
    assert (cards["minimum_due_fen"] <= cards["balance_fen"] + 1).all()
    loans = accounts.filter(pl.col("product") == "consumer_loan")
    assert loans["scheduled_payment_fen"].is_not_null().all() and loans["term_months"].is_in([12, 24, 36]).all()
    # A platform instalment loan carries its monthly payment and term; a line carries none.
    lines = pop.loans.filter(pl.col("product").is_in(["credit_line", "bnpl"]))
    assert lines["scheduled_payment_fen"].is_null().all() and lines["term_months"].is_null().all()
    # Guarantors answer for another's bank loan, at the bank that holds it.
    liable = pop.liabilities.join(loans.select("account_id", "furnisher", pl.col("person_id").alias("debtor")),
                                  on=["account_id", "furnisher"])  # fmt: skip
    assert liable.height == pop.liabilities.height > 0
    assert (liable["person_id"] != liable["debtor"]).all()
    assert (liable["liability_fen"] <= liable["amount_fen"]).all()
    # A few card holders are named differently at their bank: identity conflicts.
    named = accounts.join(pop.persons.select("person_id", pl.col("name").alias("own")), on="person_id")
    assert 0 < named.filter(pl.col("name") != pl.col("own")).height < cards.height * 0.1
    # Public records, more often about defaulters; a concluded one has its day.
    about = pop.public_records.join(pop.persons.select("person_id", "defaulted"), on="person_id")
    assert about.height > 0 and about["defaulted"].mean() > pop.persons["defaulted"].mean() * 3
    concluded = pop.public_records.filter(pl.col("status") == "concluded")
    assert concluded["concluded_on"].is_not_null().all() and (concluded["concluded_on"] <= AS_OF).all()
