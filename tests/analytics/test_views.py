"""Each supervision view on the known population of population.py, against answers worked out
by hand (below, with the working), on DuckDB; test_views_spark.py runs the same on PySpark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.analytics.population import AS_OF, BANK1, BANK2, TOKENS, write_lake
from zhengxin.analytics import VIEWS, run
from zhengxin.config import RuleParameters
from zhengxin.kit.errors import Problem

# obligations, as of 2026-06-15 ---------------------------------------------------------------
# A period is on time when every required type came in its window, missing when a type has not
# come by as_of, late otherwise; each type's deliveries serve its waiting periods oldest first.
# obl_1, Platform A, loan and consumption, monthly from 2026-02-10, created 2026-01-15. Due 02-10
# 03-10 04-10 05-10 06-10 (5), running period to 07-10. Deliveries up to as_of:
#   loan 02-05, 03-15, 04-08, 05-20, 06-12 (03-05 accepted nothing; 06-20 is after as_of):
#     02-10 <- 02-05 on time; 03-10 <- 03-15 late; 04-10 <- 04-08 on time; 05-10 <- 05-20 late;
#     06-10 <- 06-12 late.
#   consumption 02-05, 04-08, 06-12: 02-10 <- 02-05 on time; 03-10 <- 04-08 late; 04-10 <- 06-12
#     late; 05-10 and 06-10 missing.
#   So 02-10 on time; 03-10 late; 04-10 late (consumption); 05-10, 06-10 missing:
#   on time 1, late 2, missing 2. Both types were accepted: never accepted none.
#   Volumes: 6 batches, received 10+3+5+5+5+2 = 30, accepted 8+0+5+4+5+2 = 24, rejected 6: 0.2.
#   Codes: invalid_resident_id 4 (4/30 = 0.1333), missing_consent 1, prohibited_field 1 (ties by
#   code; 1/30 = 0.0333); the after-as_of batch's invalid_date is left out.
# obl_2, Platform B, loan, weekly from 2026-05-18 (Mondays), created 05-01. Due 05-18 05-25 06-01
# 06-08 06-15 (5). Deliveries 05-10 (window from 05-01 to 05-18: on time), 05-24 (on time); the
# 04-01 batch came before the obligation. On time 2, late 0, missing 3.
#   Volumes: 3 batches, received 4+3+3 = 10, rejected 2: 0.2; unknown_field 2 (CM-7), 0.2.
# obl_3, Platform C, travel, daily from 2026-06-13, created 06-01. Due 06-13 06-14 06-15 (3).
# Deliveries 06-12 (serves 06-13, on time) and 06-15 23:30 (serves 06-14, late), so 06-15 is
# missing. Volumes 2 batches, 3 received, none rejected.
# obl_4, Platform D, first due 2026-07-01: nothing due yet; no batch at all, so loan was never
# accepted from D.
# obl_5 is inactive.
OBLIGATIONS = [
    {
        "furnisher_id": "fur_a", "furnisher": "Platform A", "obligation_id": "obl_1",
        "record_types": ["consumption", "loan"], "frequency": "monthly", "first_due_on": "2026-02-10",
        "expected": 5, "on_time": 1, "late": 2, "missing": 2, "never_accepted": [],
        "last_delivery_at": "2026-06-12T10:00:00Z", "batches": 6, "received": 30, "accepted": 24, "rejected": 6,
        "rejection_rate": 0.2,
        "error_codes": [
            {"rank": 1, "code": "invalid_resident_id", "rule": None, "rejected": 4, "rate": 0.1333},
            {"rank": 2, "code": "missing_consent", "rule": "CR-29", "rejected": 1, "rate": 0.0333},
            {"rank": 3, "code": "prohibited_field", "rule": "CR-14a", "rejected": 1, "rate": 0.0333},
        ],
    },
    {
        "furnisher_id": "fur_b", "furnisher": "Platform B", "obligation_id": "obl_2", "record_types": ["loan"],
        "frequency": "weekly", "first_due_on": "2026-05-18", "expected": 5, "on_time": 2, "late": 0, "missing": 3,
        "never_accepted": [], "last_delivery_at": "2026-05-24T10:00:00Z", "batches": 3, "received": 10,
        "accepted": 8, "rejected": 2, "rejection_rate": 0.2,
        "error_codes": [{"rank": 1, "code": "unknown_field", "rule": "CM-7", "rejected": 2, "rate": 0.2}],
    },
    {
        "furnisher_id": "fur_c", "furnisher": "Platform C", "obligation_id": "obl_3", "record_types": ["travel"],
        "frequency": "daily", "first_due_on": "2026-06-13", "expected": 3, "on_time": 1, "late": 1, "missing": 1,
        "never_accepted": [], "last_delivery_at": "2026-06-15T23:00:00Z", "batches": 2, "received": 3,
        "accepted": 3, "rejected": 0, "rejection_rate": 0.0, "error_codes": [],
    },
    {
        "furnisher_id": "fur_d", "furnisher": "Platform D", "obligation_id": "obl_4", "record_types": ["loan"],
        "frequency": "monthly", "first_due_on": "2026-07-01", "expected": 0, "on_time": 0, "late": 0, "missing": 0,
        "never_accepted": ["loan"], "last_delivery_at": None, "batches": 0, "received": 0, "accepted": 0, "rejected": 0,
        "rejection_rate": None, "error_codes": [],
    },
]  # fmt: skip

# co-lending (BANK-JL, 0.30) --------------------------------------------------------------------
# Open co-lent loans as of June: a4 (A, Bank One, 0.25, 1,000,000), a5 (A, Bank One, 0.35,
# 2,000,000: closed only in July), a6 (A, Bank One, 0.30 exactly: not below, 500,000), b3 (B,
# Bank Two, 0.25, 3,000,000, overdue is still open), d4 (D, Bank Two, no share given: not judged,
# counted as unknown). b4 is closed, d3 written off.
CO_LENDING = [
    {
        "furnisher_id": "fur_a", "furnisher": "Platform A", "co_lender_uscc": BANK1, "co_lender": "Bank One",
        "loans": 3, "balance_fen": 3_500_000, "below_min_loans": 1, "below_min_balance_fen": 1_000_000,
        "share_unknown": 0, "min_share": 0.25, "max_share": 0.35,
        "distribution": [
            {"share_from": 0.2, "share_to": 0.3, "loans": 1},
            {"share_from": 0.3, "share_to": 0.4, "loans": 2},
        ],
        "rule": "BANK-JL", "min_platform_share": 0.3,
    },
    {
        "furnisher_id": "fur_b", "furnisher": "Platform B", "co_lender_uscc": BANK2, "co_lender": "Bank Two",
        "loans": 1, "balance_fen": 3_000_000, "below_min_loans": 1, "below_min_balance_fen": 3_000_000,
        "share_unknown": 0, "min_share": 0.25, "max_share": 0.25,
        "distribution": [{"share_from": 0.2, "share_to": 0.3, "loans": 1}],
        "rule": "BANK-JL", "min_platform_share": 0.3,
    },
    {
        "furnisher_id": "fur_d", "furnisher": "Platform D", "co_lender_uscc": BANK2, "co_lender": "Bank Two",
        "loans": 1, "balance_fen": 600_000, "below_min_loans": 0, "below_min_balance_fen": 0,
        "share_unknown": 1, "min_share": None, "max_share": None, "distribution": [],
        "rule": "BANK-JL", "min_platform_share": 0.3,
    },
]  # fmt: skip

# multi-lending ---------------------------------------------------------------------------------
# Open accounts per person (unsecured balance, mortgages and car loans aside):
#   p01: A 5M, B 4M, C 3M, D 2M -> 4 platforms, 14,000,000
#   p02: A 18M, B 15M, C mortgage -> 3 platforms, 33,000,000
#   p03: A 12M, C 10M (its April snapshot is its latest) -> 2 platforms, 22,000,000
#   p04 3M, p05 3.5M, p07 0.8M, p10 0.6M; p06 closed both, p08 written off; d2 opens after as_of.
# MULTI (> 3 platforms): p01 alone. ML-2020 (30,000,000): p02, excess 3,000,000.
# BANK-IL (20,000,000): p02 and p03, balance 55,000,000, excess 13,000,000 + 2,000,000.
MULTI_LENDING = [
    {"rule": "ML-2020", "measure": "individual_cap", "threshold": 30_000_000, "platforms": None, "persons": 1,
     "balance_fen": 33_000_000, "excess_fen": 3_000_000},
    {"rule": "BANK-IL", "measure": "internet_consumer_cap", "threshold": 20_000_000, "platforms": None,
     "persons": 2, "balance_fen": 55_000_000, "excess_fen": 15_000_000},
    {"rule": "MULTI", "measure": "platforms", "threshold": 3, "platforms": 4, "persons": 1,
     "balance_fen": 14_000_000, "excess_fen": None},
]  # fmt: skip

# inquiries (window 90 days; judged when inquiry day + 90 < 2026-06-15) -----------------------------
# Bank One: 01-10 p04 -> a4 co-lent by it opened 02-01 (with); 01-20 p05 -> its Bank One loan is
#   older (without); 01-01 p08 -> d3 co-lent, opened 04-01 = day 90 (with, even written off);
#   02-01 p03 -> a3 opened 06-01 = day 120 (without); 06-20 is after as_of. 2 of 4 without: 0.5.
# Bank Two: 02-05 p05 -> b3 co-lent, opened 03-01 (with); post-loan monitoring 05-20 not judged.
# Lender Three: 01-05 p09, 01-06 p10, 02-10 p01 (credit card) without; 06-01 p09 awaiting. 3 of 3.
# Platform C Credit (Platform C's USCC): 03-01 p07 -> c4 furnished by Platform C on 03-10 (with).
INQUIRIES = [
    {"lender_id": "len_1", "lender": "Bank One", "purpose": "loan_application", "month": "2026-01", "inquiries": 3,
     "persons": 3, "with_account": 2, "without_account": 1, "awaiting": 0, "lender_inquiries": 4,
     "lender_without_account": 2, "lender_without_account_rate": 0.5},
    {"lender_id": "len_1", "lender": "Bank One", "purpose": "loan_application", "month": "2026-02", "inquiries": 1,
     "persons": 1, "with_account": 0, "without_account": 1, "awaiting": 0, "lender_inquiries": 4,
     "lender_without_account": 2, "lender_without_account_rate": 0.5},
    {"lender_id": "len_2", "lender": "Bank Two", "purpose": "loan_application", "month": "2026-02", "inquiries": 1,
     "persons": 1, "with_account": 1, "without_account": 0, "awaiting": 0, "lender_inquiries": 2,
     "lender_without_account": 0, "lender_without_account_rate": 0.0},
    {"lender_id": "len_2", "lender": "Bank Two", "purpose": "post_loan_management", "month": "2026-05",
     "inquiries": 1, "persons": 1, "with_account": 0, "without_account": 0, "awaiting": 0, "lender_inquiries": 2,
     "lender_without_account": 0, "lender_without_account_rate": 0.0},
    {"lender_id": "len_3", "lender": "Lender Three", "purpose": "credit_card_application", "month": "2026-02",
     "inquiries": 1, "persons": 1, "with_account": 0, "without_account": 1, "awaiting": 0, "lender_inquiries": 4,
     "lender_without_account": 3, "lender_without_account_rate": 1.0},
    {"lender_id": "len_3", "lender": "Lender Three", "purpose": "loan_application", "month": "2026-01",
     "inquiries": 2, "persons": 2, "with_account": 0, "without_account": 2, "awaiting": 0, "lender_inquiries": 4,
     "lender_without_account": 3, "lender_without_account_rate": 1.0},
    {"lender_id": "len_3", "lender": "Lender Three", "purpose": "loan_application", "month": "2026-06",
     "inquiries": 1, "persons": 1, "with_account": 0, "without_account": 0, "awaiting": 1, "lender_inquiries": 4,
     "lender_without_account": 3, "lender_without_account_rate": 1.0},
    {"lender_id": "len_c", "lender": "Platform C Credit", "purpose": "loan_application", "month": "2026-03",
     "inquiries": 1, "persons": 1, "with_account": 1, "without_account": 0, "awaiting": 0, "lender_inquiries": 1,
     "lender_without_account": 0, "lender_without_account_rate": 0.0},
]  # fmt: skip

# disputes (CR-25) ----------------------------------------------------------------------------------
# A: dsp_1 open, due 05-29 -> overdue 17 days, not answered; dsp_2 answered, due 06-17; dsp_3
#    corrected after 19 days (04-01 -> 04-20).
# B: dsp_4 closed only on 06-20 -> open on 06-15, answered, due 06-07 -> overdue 8 days; dsp_5
#    withdrawn after 24 days; dsp_6 opened after as_of.
# C: dsp_7 unconfirmable after 37 days (02-01 -> 03-10).
DISPUTES = [
    {"furnisher_id": "fur_a", "furnisher": "Platform A", "opened": 3, "open": 2, "overdue": 1,
     "oldest_overdue_days": 17, "awaiting_answer": 1, "answered": 1, "closed": 1, "corrected": 1, "verified": 0,
     "unconfirmable": 0, "withdrawn": 0, "mean_days_to_close": 19.0, "rule": "CR-25"},
    {"furnisher_id": "fur_b", "furnisher": "Platform B", "opened": 2, "open": 1, "overdue": 1,
     "oldest_overdue_days": 8, "awaiting_answer": 0, "answered": 1, "closed": 1, "corrected": 0, "verified": 0,
     "unconfirmable": 0, "withdrawn": 1, "mean_days_to_close": 24.0, "rule": "CR-25"},
    {"furnisher_id": "fur_c", "furnisher": "Platform C", "opened": 1, "open": 0, "overdue": 0,
     "oldest_overdue_days": None, "awaiting_answer": 0, "answered": 0, "closed": 1, "corrected": 0, "verified": 0,
     "unconfirmable": 1, "withdrawn": 0, "mean_days_to_close": 37.0, "rule": "CR-25"},
]  # fmt: skip


# outstanding -------------------------------------------------------------------------------------
def _out(furnisher, name, product, accounts, persons, balance, overdue_accounts=0, overdue=0) -> dict:
    return {
        "furnisher_id": furnisher, "furnisher": name, "product": product, "accounts": accounts, "persons": persons,
        "balance_fen": balance, "overdue_accounts": overdue_accounts, "overdue_fen": overdue,
    }  # fmt: skip


# A: consumer a2 18M + a3 12M + a5 2M; micro a1 5M + a4 1M + a6 0.5M (a7 closed in June).
# B: b3 overdue 3M (100,000 overdue), b2 15M, b1 4M (b4 closed). C: c4 bnpl overdue 45 days,
# c3 (April), c1, c2 mortgage. D: d1 2M, d4 0.6M (d2 after as_of, d3 written off).
OUTSTANDING = [
    _out("fur_a", "Platform A", "consumer_loan", 3, 3, 32_000_000),
    _out("fur_a", "Platform A", "microloan", 3, 3, 6_500_000),
    _out("fur_b", "Platform B", "consumer_loan", 1, 1, 3_000_000, 1, 100_000),
    _out("fur_b", "Platform B", "credit_line", 1, 1, 15_000_000),
    _out("fur_b", "Platform B", "microloan", 1, 1, 4_000_000),
    _out("fur_c", "Platform C", "bnpl", 1, 1, 800_000, 1, 50_000),
    _out("fur_c", "Platform C", "credit_line", 1, 1, 10_000_000),
    _out("fur_c", "Platform C", "microloan", 1, 1, 3_000_000),
    _out("fur_c", "Platform C", "mortgage", 1, 1, 100_000_000),
    _out("fur_d", "Platform D", "microloan", 2, 2, 2_600_000),
]

EXPECTED = {
    "obligations": OBLIGATIONS,
    "co-lending": CO_LENDING,
    "multi-lending": MULTI_LENDING,
    "inquiries": INQUIRIES,
    "disputes": DISPUTES,
    "outstanding": OUTSTANDING,
}


def assert_no_tokens(results) -> None:
    text = json.dumps(results)
    assert "person_token" not in text
    for token in TOKENS.values():
        assert token not in text


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    return write_lake(tmp_path_factory.mktemp("lake"))


@pytest.fixture(scope="module")
def results(lake) -> dict:
    return run.run(lake, backend="duckdb", as_of=AS_OF)


def test_every_view_runs_and_holds_no_person_token(results):
    assert list(results) == list(VIEWS)
    assert_no_tokens(results)


@pytest.mark.parametrize("view", VIEWS)
def test_view_matches_the_hand_computed_answer_on_duckdb(results, view):
    assert results[view] == EXPECTED[view]


def test_the_rule_parameters_are_settings(lake):
    rules = RuleParameters(multi_platform_threshold=2, min_platform_share=0.4, individual_cap_fen=20_000_000)
    results = run.run(lake, backend="duckdb", as_of=AS_OF, rules=rules)
    # every Bank One loan on Platform A is now below the minimum share
    a = results["co-lending"][0]
    assert (a["below_min_loans"], a["below_min_balance_fen"], a["min_platform_share"]) == (3, 3_500_000, 0.4)
    spread = {r["platforms"]: r["persons"] for r in results["multi-lending"] if r["measure"] == "platforms"}
    assert spread == {3: 1, 4: 1}  # p02 joins p01
    individual = next(r for r in results["multi-lending"] if r["rule"] == "ML-2020")
    assert (individual["persons"], individual["excess_fen"]) == (2, 13_000_000 + 2_000_000)


def test_an_earlier_day_sees_the_lake_as_it_was(lake):
    results = run.run(lake, backend="duckdb", as_of=AS_OF.replace(month=5, day=15))
    # in May a6 had no snapshot yet and a7 (p06) was still open
    assert {(r["furnisher_id"], r["product"]): r["balance_fen"] for r in results["outstanding"]}[
        ("fur_a", "microloan")
    ] == 5_000_000 + 1_000_000 + 300_000
    # nobody on more than 3 platforms nor over a cap (the June snapshots are not there yet)
    assert [(r["rule"], r["persons"]) for r in results["multi-lending"]] == [("ML-2020", 0), ("BANK-IL", 0)]
    disputes = {r["furnisher_id"]: r for r in results["disputes"]}
    assert disputes["fur_a"]["opened"] == 2 and disputes["fur_a"]["overdue"] == 0  # dsp_2 opened 05-20


def test_an_empty_lake_gives_empty_views(tmp_path):
    (tmp_path / "_lake.json").write_text("{}")
    results = run.run(tmp_path, backend="duckdb", as_of=AS_OF)
    assert {name: rows for name, rows in results.items() if name != "multi-lending"} == {
        "obligations": [], "co-lending": [], "inquiries": [], "disputes": [], "outstanding": [],
    }  # fmt: skip
    assert [(r["rule"], r["persons"], r["excess_fen"]) for r in results["multi-lending"]] == [
        ("ML-2020", 0, 0),
        ("BANK-IL", 0, 0),
    ]


def test_a_directory_that_is_no_lake_is_refused(tmp_path):
    with pytest.raises(Problem) as e:
        run.run(tmp_path, backend="duckdb", as_of=AS_OF)
    assert e.value.code == "no_lake"


def test_an_unknown_engine_is_refused(lake):
    with pytest.raises(Problem) as e:
        run.run(lake, backend="sqlite", as_of=AS_OF)
    assert e.value.code == "unknown_backend"
