"""What an agency tells a federation peer about a person (issue 20): the report's own figures,
counts and sums only."""

from __future__ import annotations

from datetime import timedelta

from tests.bureau import Bureau
from tests.records import loan
from zhengxin.identity.tokens import person_token
from zhengxin.kit import clock
from zhengxin.reports.service import peer_summary


def test_a_peer_summary_holds_the_reports_figures_and_nothing_that_names(client, parties, runtime):
    bureau = Bureau(client, parties)
    today = clock.today()

    def ago(days: int) -> str:
        return (today - timedelta(days=days)).isoformat()

    _, other = parties.add("furnisher", "Platform Two")
    person = bureau.person(
        5,
        loan(5, as_of=ago(0), opened_on=ago(20), principal_fen=200000, balance_fen=100000,
             payment_history="N" * 10 + "1" + "N" * 13, negative_notice_ref="NTC-1"),
        loan(5, as_of=ago(0), account_id="ACC-500002", opened_on=ago(80), principal_fen=60000, balance_fen=50000),
        loan(5, as_of=ago(0), account_id="ACC-500003", opened_on=ago(400), status="closed", closed_on=ago(30),
             balance_fen=0, payment_history="N" * 23 + "C"),
    )  # fmt: skip
    bureau.furnish([loan(5, as_of=ago(0), account_id="ACC-900001", opened_on=ago(150), principal_fen=90000,
                         balance_fen=70000, product="consumer_loan")], headers=other)  # fmt: skip
    lender = bureau.lender("First Bank", 1)
    authorization = bureau.grant(person, lender)
    assert bureau.inquire(lender, person, authorization["id"]).status_code == 201
    with runtime.reading() as conn:
        got = peer_summary(conn, runtime, person_token(runtime.pepper, person.person_id), today)
    assert got == {
        "platforms": 2, "open_accounts": 3, "total_outstanding_fen": 220000, "total_limit_fen": 350000,
        "unsecured_outstanding_fen": 220000, "worst_status_24m": "1",
        "new_accounts": {"last_1m": 1, "last_3m": 2, "last_6m": 3},
        "inquiries": {"last_1m": 1, "last_3m": 1, "last_6m": 1},
        "as_of": today.isoformat(),
    }  # fmt: skip
    text = repr(got)
    assert "ACC-" not in text and "Platform" not in text and person.person_id not in text
