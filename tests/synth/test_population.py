"""The synthetic population: valid identifiers, consistent records, real signal, determinism."""

from __future__ import annotations

import polars as pl
import pytest
from stdnum.cn import ric, uscc

from zhengxin.synth import LENDERS, PLATFORMS, generate, write_files
from zhengxin.synth.files import COLUMNS


@pytest.fixture(scope="module")
def pop():
    return generate(4000, seed=3)


def test_identifiers_pass_stdnum(pop):
    assert pop.persons["person_id"].n_unique() == pop.persons.height == 4000
    for pid in pop.persons["person_id"].to_list():
        ric.validate(pid)
    for org in PLATFORMS + LENDERS:
        uscc.validate(org.uscc)
    assert pop.persons["phone"].str.contains(r"^1[3-9][0-9]{9}$").all()


def test_loan_fields_are_consistent(pop):
    loans = pop.loans
    assert loans["account_id"].n_unique() == loans.height
    closed = loans.filter(pl.col("status") == "closed")
    assert closed.height and (closed["balance_fen"] == 0).all() and closed["closed_on"].is_not_null().all()
    assert (loans.filter(pl.col("status") == "overdue")["days_past_due"] > 0).all()
    assert (loans.filter(pl.col("status") == "written_off")["days_past_due"] >= 180).all()
    assert (loans["overdue_fen"] <= loans["balance_fen"]).all()
    assert (loans["principal_fen"].is_null() ^ loans["credit_limit_fen"].is_null()).all()
    assert loans["payment_history"].str.contains(r"^[N1-7DZCG#]{24}$").all()
    bucket = pl.when(pl.col("days_past_due") == 0).then(pl.lit("N"))
    for symbol, upper in zip("1234567", [30, 60, 90, 120, 150, 180, 10**9], strict=True):
        bucket = bucket.when(pl.col("days_past_due") <= upper).then(pl.lit(symbol))
    first = loans.select(pl.col("payment_history").str.slice(0, 1).alias("s"), bucket.alias("b"), "status")
    assert (
        first.filter((pl.col("s") != pl.col("b")) & ~((pl.col("status") == "closed") & (pl.col("s") == "C"))).height
        == 0
    )
    negative = (pl.col("days_past_due") > 0) | (pl.col("overdue_fen") > 0)
    assert (loans.select(negative == pl.col("negative_notice_ref").is_not_null()).to_series()).all()
    assert (loans["opened_on"] <= loans["as_of"]).all()


def test_co_lending_and_multi_platform_cases_exist(pop):
    colent = pop.loans.filter(pl.col("co_lender_uscc").is_not_null())
    assert 0.1 < colent.height / pop.loans.height < 0.3
    assert (colent["platform_share"] < 0.30).any() and (colent["platform_share"] >= 0.30).any()
    assert set(colent["co_lender_uscc"].unique()) <= {x.uscc for x in LENDERS}
    assert (pop.persons["n_platforms"] >= 4).sum() > 100


def test_travel_and_consumption_records(pop):
    assert pop.travel["separate_consent_ref"].is_not_null().all()
    assert (pop.travel["cities"] <= pop.travel["trips"]).all()
    assert pop.consumption["month"].str.contains(r"^\d{4}-\d{2}$").all()


def test_default_depends_on_features(pop):
    persons = pop.persons
    rate = persons["defaulted"].mean()
    assert 0.04 < rate < 0.15
    many = persons.filter(pl.col("n_platforms") >= 4)["defaulted"].mean()
    few = persons.filter(pl.col("n_platforms") == 1)["defaulted"].mean()
    assert many > 2 * few
    top = persons.filter(pl.col("latent_risk") >= persons["latent_risk"].quantile(0.9))["defaulted"].mean()
    assert top > 3 * rate / 2
    worst = pop.loans.group_by("person_id").agg(pl.col("days_past_due").max()).join(persons, on="person_id")
    assert worst.filter(pl.col("defaulted") == 1)["days_past_due"].mean() > 30
    assert worst.filter(pl.col("defaulted") == 0)["days_past_due"].mean() < 5


def test_deterministic_under_a_seed():
    a, b, c = generate(500, seed=9), generate(500, seed=9), generate(500, seed=10)
    assert a.loans.equals(b.loans) and a.consumption.equals(b.consumption)
    assert not a.loans.equals(c.loans)


def test_written_files_round_trip_in_every_format(tmp_path, pop):
    paths = write_files(pop, tmp_path)
    slug = PLATFORMS[0].slug
    expected = pop.loans.filter(pl.col("furnisher") == slug).select(COLUMNS["loan"])
    csv = pl.read_csv(tmp_path / slug / "loan.csv", schema=expected.schema)
    jsonl = pl.read_ndjson(tmp_path / slug / "loan.jsonl", schema=expected.schema)
    parquet = pl.read_parquet(tmp_path / slug / "loan.parquet")
    for frame in (csv, jsonl, parquet):
        assert frame.equals(expected)
    for path in paths:
        if path.name == "persons.parquet":
            continue
        record_type = path.stem
        columns = pl.read_parquet(path).columns if path.suffix == ".parquet" else None
        if columns:
            assert columns == COLUMNS[record_type]
