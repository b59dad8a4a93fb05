"""Lawful forgetting (CR-16, PIPL-47): each kind of record goes on its day and not the day
before, reports mask expired negative months before any run, the run logs token-level events
and is idempotent, and the PII vault goes only when nothing needs the identity, on both
databases.

(No __init__.py here: `tests.records` is the record builders' module.)
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update
from tests.bureau import Bureau
from tests.catalog.test_catalog import TELECOM
from tests.conftest import Parties, _empty_all_tables, make_settings
from tests.records import consumption, loan, resident_id, travel
from typer.testing import CliRunner

from zhengxin.app import create_app
from zhengxin.audit.service import sequence_all
from zhengxin.audit.tables import log_leaves
from zhengxin.catalog.model import DEFAULT_PATH
from zhengxin.cli import app
from zhengxin.disputes.tables import disputes
from zhengxin.flows import retention
from zhengxin.identity.resident_id import validate
from zhengxin.identity.tables import pii_vault
from zhengxin.identity.tokens import person_token
from zhengxin.kit import calendar, clock
from zhengxin.kit.errors import Problem
from zhengxin.parties.tables import parties as party_table
from zhengxin.records import history as rules
from zhengxin.records.tables import (
    account_snapshots,
    consumption_summaries,
    generic_records,
    retention_runs,
    travel_summaries,
)
from zhengxin.runtime import Runtime


def at(day: str):
    return clock.frozen_at(datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC))


def run_on(runtime, day: str) -> dict:
    with at(day), runtime.transaction() as conn:
        return retention.run(conn, runtime, date.fromisoformat(day))


def token(runtime, n: int) -> str:
    return person_token(runtime.pepper, validate(resident_id(n)))


def snapshots(runtime, account_id: str) -> dict[str, dict]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(account_snapshots).where(account_snapshots.c.account_id == account_id)).mappings()
        return {r["month"]: dict(r) for r in rows}


def in_vault(runtime, n: int) -> bool:
    with runtime.engine.connect() as conn:
        return (
            conn.execute(select(pii_vault.c.person_token).where(pii_vault.c.person_token == token(runtime, n))).first()
            is not None
        )


def overdue(n: int, as_of: str, history: str, **extra) -> dict:
    fields = {"status": "overdue", "days_past_due": 45, "overdue_fen": 10_000, "negative_notice_ref": "NTC-1"}
    return loan(n, as_of=as_of, opened_on="2017-01-01", payment_history=history, **{**fields, **extra})


def current(n: int, as_of: str, history: str, **extra) -> dict:
    return loan(n, as_of=as_of, opened_on="2017-01-01", payment_history=history, **extra)


def closed(n: int, closed_on: str, **extra) -> dict:
    return loan(n, as_of=closed_on, opened_on="2017-01-01", status="closed", closed_on=closed_on, balance_fen=0,
                payment_history="C" + "N" * 23, **extra)  # fmt: skip


# One episode: 2019-02 ("1") and 2019-03 (overdue, "2"), known clean again in 2019-04.
# It ended on 2019-04-01, so it is erased on 2024-04-01.
EPISODE = [
    overdue(1, "2019-03-31", "21" + "N" * 22),
    current(1, "2019-04-30", "N21" + "N" * 21),
]


@pytest.fixture
def bureau(client, parties) -> Bureau:
    return Bureau(client, parties)


# The rules alone -----------------------------------------------------------------------------


def snap(month: str, history: str, status: str = "current", dpd: int = 0, closed_on: date | None = None) -> dict:
    day = date.fromisoformat(month + "-28")
    return {
        "month": month, "as_of": day, "status": status, "days_past_due": dpd, "overdue_fen": 0, "closed_on": closed_on,
        "payment_history": history, "negative_notice_ref": "NTC" if dpd else None,
    }  # fmt: skip


def test_episodes_end_on_the_first_of_the_month_after_the_last_negative_one_once_known_over():
    ended = rules.episodes([snap("2019-03", "21" + "N" * 22, "overdue", 45), snap("2019-04", "N21" + "N" * 21)])
    assert [(calendar.month_label(e.first), calendar.month_label(e.last), e.ended_on) for e in ended] == [
        ("2019-02", "2019-03", date(2019, 4, 1))
    ]
    assert ended[0].erased_on(5) == date(2024, 4, 1)
    # Still overdue in the latest month: no clock.
    (ongoing,) = rules.episodes([snap("2019-03", "1" + "N" * 23, "overdue", 10)])
    assert ongoing.ended_on is None and ongoing.erased_on(5) is None
    # Only unknown months between it and a later episode still going on: not known to be over ...
    unknown, _ = rules.episodes([snap("2019-05", "1#1" + "N" * 21, "overdue", 10)])
    assert calendar.month_label(unknown.last) == "2019-03" and unknown.ended_on is None
    # ... unless the account is closed: paid by the guarantor in its last month, then closed.
    (settled,) = rules.episodes([snap("2019-05", "D" + "N" * 23, "closed", closed_on=date(2019, 5, 20))])
    assert settled.ended_on == date(2019, 6, 1)
    # Two episodes in one history: the earlier (2019-04) ended when 2019-05 was known clean; the
    # later one is ongoing and holds nothing back.
    first, second = rules.episodes([snap("2021-02", "21" + "N" * 20 + "1N", "overdue", 40)])
    assert (calendar.month_label(first.first), first.ended_on, second.ended_on) == ("2019-04", date(2019, 5, 1), None)


def test_day_boundaries_for_each_kind():
    assert rules.summary_erased_on("2025-10", 12) == date(2026, 11, 1)  # travel: kept through 2026-10-31
    assert rules.summary_erased_on("2023-05", 36) == date(2026, 6, 1)
    assert calendar.add_months(date(2021, 8, 31), 6) == date(2022, 2, 28)
    assert rules.generic_erased_on(date(2020, 2, 29), 60) == date(2025, 2, 28)
    assert calendar.last_expired_day(date(2025, 2, 28), 60) == date(2020, 2, 29)
    history = "N21" + "N" * 21
    assert rules.mask_history(history, calendar.month_index("2019-04"), {calendar.month_index("2019-03")}) == (
        "N#1" + "N" * 21
    )


# Negative information (CR-16) ------------------------------------------------------------------


def test_a_negative_episode_is_kept_the_day_before_and_erased_on_the_day(runtime, bureau):
    with at("2019-05-01"):
        bureau.furnish(EPISODE)
    kept = run_on(runtime, "2024-03-31")
    assert (kept["persons"], kept["erased"]) == (0, {})
    assert set(snapshots(runtime, "ACC-000001")) == {"2019-03", "2019-04"}

    done = run_on(runtime, "2024-04-01")
    assert done["persons"] == 1
    assert done["erased"] == {"loan_negative_months": 2, "loan_snapshots": 1}
    left = snapshots(runtime, "ACC-000001")
    assert set(left) == {"2019-04"}  # the delinquent snapshot went, the clean one stays ...
    assert left["2019-04"]["payment_history"] == "N##" + "N" * 21  # ... with the episode's months unknown
    assert in_vault(runtime, 1)  # something is still kept about the person


def test_reports_mask_expired_negative_months_before_any_run(runtime, bureau):
    bank = bureau.lender("Bank A", 1)
    with at("2019-05-01"):
        person = bureau.person(1, *EPISODE)

    def report_on(day: str) -> dict:
        with at(day):
            granted = bureau.grant(person, bank)
            r = bureau.inquire(bank, person, granted["id"])
        assert r.status_code == 201, r.text
        return r.json()["report"]

    before = report_on("2024-03-31")
    (account,) = before["accounts"]
    assert account["payment_history"].startswith("N21") and before["summary"]["worst_status_24m"] == "2"
    after = report_on("2024-04-01")
    (account,) = after["accounts"]
    assert account["payment_history"] == "N##" + "N" * 21
    assert [g["status"] for g in account["status_grid"][:3]] == ["N", "#", "#"]
    assert after["summary"]["worst_status_24m"] == "N"
    assert set(snapshots(runtime, "ACC-000001")) == {"2019-03", "2019-04"}  # nothing erased yet: masked only


def test_a_later_episode_keeps_the_clock_running_for_itself_only(runtime, bureau):
    with at("2021-03-01"):
        bureau.furnish(
            [
                overdue(1, "2019-03-31", "1" + "N" * 23),
                current(1, "2019-05-31", "NN1" + "N" * 21),
                overdue(1, "2021-01-31", "1" + "N" * 23, days_past_due=10),
                overdue(1, "2021-02-28", "21" + "N" * 21 + "1"),  # still overdue: the second episode goes on
            ]
        )
    assert run_on(runtime, "2024-03-31")["erased"] == {}
    done = run_on(runtime, "2024-04-01")  # the first episode (2019-03) ended 2019-04-01
    assert done["erased"] == {"loan_negative_months": 1, "loan_snapshots": 1}
    left = snapshots(runtime, "ACC-000001")
    assert set(left) == {"2019-05", "2021-01", "2021-02"}
    assert left["2019-05"]["payment_history"] == "NN#" + "N" * 21
    assert left["2021-02"]["payment_history"] == "21" + "N" * 21 + "#"
    assert left["2021-01"]["days_past_due"] == 10 and left["2021-02"]["negative_notice_ref"] == "NTC-1"
    # An ongoing delinquency starts no clock: years later the second episode is still there.
    assert run_on(runtime, "2031-01-01")["erased"] == {}
    assert set(snapshots(runtime, "ACC-000001")) == {"2019-05", "2021-01", "2021-02"}


# Other records (PIPL-47) -------------------------------------------------------------------------


def test_a_closed_account_goes_retention_months_after_closing(runtime, bureau):
    with at("2020-07-01"):
        bureau.furnish([current(2, "2020-05-31", "N" * 24), closed(2, "2020-06-15")])
    assert run_on(runtime, "2025-06-14")["erased"] == {}
    assert len(snapshots(runtime, "ACC-000002")) == 2
    done = run_on(runtime, "2025-06-15")
    assert done["erased"] == {"loan_closed_accounts": 1, "loan_snapshots": 2, "pii_vault": 1}
    assert snapshots(runtime, "ACC-000002") == {}


def test_consumption_and_travel_are_kept_through_the_end_of_their_period(runtime, bureau):
    with at("2025-11-05"):
        bureau.furnish(
            [
                consumption(3, month="2023-05", as_of="2023-05-31"),
                consumption(3, month="2023-06", as_of="2023-06-30"),
                travel(3, month="2025-10", as_of="2025-10-31"),
            ]
        )

    def months(table) -> list[str]:
        with runtime.engine.connect() as conn:
            return sorted(conn.execute(select(table.c.month)).scalars())

    assert run_on(runtime, "2026-05-31")["erased"] == {}
    assert run_on(runtime, "2026-06-01")["erased"] == {"consumption": 1}  # 2023-05 + 36 months, then its end
    assert months(consumption_summaries) == ["2023-06"]
    assert run_on(runtime, "2026-10-31")["erased"] == {"consumption": 1}  # 2023-06 went on 2026-07-01
    assert months(travel_summaries) == ["2025-10"]  # kept through 2026-10-31
    assert run_on(runtime, "2026-11-01")["erased"] == {"travel": 1, "pii_vault": 1}
    assert months(travel_summaries) == [] and not in_vault(runtime, 3)


# The run ----------------------------------------------------------------------------------------


def test_the_run_logs_one_token_level_event_per_person_and_a_rerun_is_a_no_op(runtime, bureau):
    with at("2020-07-01"):
        bureau.furnish([*EPISODE, closed(2, "2020-06-15"), consumption(3, month="2019-01", as_of="2019-01-31")])
    runtime.settings.analyze_after_records = 1  # a "mass" delete: statistics are refreshed after it
    done = run_on(runtime, "2025-07-01")
    assert done["persons"] == 3
    again = run_on(runtime, "2025-07-01")
    assert (again["persons"], again["erased"]) == (0, {})
    sequence_all(runtime.engine)
    with runtime.engine.connect() as conn:
        leaves = conn.execute(select(log_leaves.c.kind, log_leaves.c.person_token, log_leaves.c.leaf)).all()
        runs = conn.execute(select(retention_runs).order_by(retention_runs.c.started_at)).mappings().all()
    erased = [leaf for leaf in leaves if leaf.kind == "retention.erased"]
    assert sorted(leaf.person_token for leaf in erased) == sorted(token(runtime, n) for n in (1, 2, 3))
    by_person = {leaf.person_token: json.loads(leaf.leaf) for leaf in erased}
    first = by_person[token(runtime, 1)]
    assert first["erased"] == {"loan_negative_months": 2, "loan_snapshots": 1}
    assert first["rules"] == ["CR-16"] and first["run"] == done["id"] and first["person"] == token(runtime, 1)
    assert by_person[token(runtime, 3)]["rules"] == ["PIPL-47"]
    for leaf in erased:  # tokens and counts only: no identifier, name, phone or account
        for n in (1, 2, 3):
            assert (
                resident_id(n) not in leaf.leaf and f"ACC-{n:06d}" not in leaf.leaf and f"138{n:08d}" not in leaf.leaf
            )
        assert "张伟" not in leaf.leaf and "李娜" not in leaf.leaf
    assert [leaf.kind for leaf in leaves].count("retention.run") == 2
    assert [(r["id"], r["persons"]) for r in runs] == [(done["id"], 3), (again["id"], 0)]
    assert runs[0]["erased"] == done["erased"]


def test_a_run_never_judges_by_a_later_day(runtime):
    with at("2025-07-01"), runtime.transaction() as conn, pytest.raises(Problem) as refused:
        retention.run(conn, runtime, date(2025, 7, 2))
    assert refused.value.code == "future_as_of"


def test_the_vault_goes_only_when_nothing_needs_the_identity(runtime, bureau, parties):
    lender = bureau.lender("Bank A", 1)
    with at("2020-07-01"):
        bureau.furnish([closed(n, "2020-06-15") for n in (4, 5, 6, 7)])
        _, person5 = parties.add("individual", "person-5", person_id=resident_id(5))  # keeps an account
        _, person6 = parties.add("individual", "person-6", person_id=resident_id(6))
    with at("2025-06-01"):  # person 6 authorizes a lender until 2025-08-01, then closes the account
        r = bureau.client.post(
            "/v1/authorizations", json={"lender": lender.name, "purpose": "loan_application", "scopes": ["loan"],
                                        "expires_on": "2025-08-01"}, headers=person6,
        )  # fmt: skip
        assert r.status_code == 201, r.text
    with runtime.transaction() as conn:
        conn.execute(update(party_table).where(party_table.c.person_token == token(runtime, 6)).values(active=False))
        conn.execute(
            insert(disputes).values(
                id="dsp-1", person_token=token(runtime, 7), furnisher_id=_platform_id(conn), record_type="loan",
                record_key="ACC-000007", status="open", opened_at=clock.now(), due_on=date(2025, 7, 1),
            )
        )  # fmt: skip

    done = run_on(runtime, "2025-06-15")  # every account's closure period ends today
    assert done["erased"]["loan_closed_accounts"] == 4
    assert [in_vault(runtime, n) for n in (4, 5, 6, 7)] == [False, True, True, True]
    with runtime.transaction() as conn:
        conn.execute(update(disputes).values(status="closed", outcome="verified", closed_at=clock.now()))
    later = run_on(runtime, "2025-08-01")  # the authorization's last day: still live
    assert later["erased"] == {"pii_vault": 1}
    assert [in_vault(runtime, n) for n in (5, 6, 7)] == [True, True, False]
    assert run_on(runtime, "2025-08-02")["erased"] == {"pii_vault": 1}
    assert [in_vault(runtime, n) for n in (5, 6)] == [True, False]


def _platform_id(conn) -> str:
    return conn.execute(select(party_table.c.id).where(party_table.c.name == "Platform One")).scalar_one()


def test_the_cli_runs_retention_and_prints_the_counts_and_run_id(runtime, bureau):
    with at("2019-05-01"):
        bureau.furnish(EPISODE)
    runner = CliRunner()
    with at("2024-04-01"):
        result = runner.invoke(
            app, ["retention", "run", "--db", runtime.settings.url, "--as-of", "2024-04-01"], env={"COLUMNS": "200"}
        )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["erased"] == {"loan_negative_months": 2, "loan_snapshots": 1} and summary["persons"] == 1
    assert summary["id"].startswith("ret") and "loan_negative_months: 2" in result.output
    with runtime.engine.connect() as conn:
        assert conn.execute(select(retention_runs.c.id)).scalar_one() == summary["id"]


def test_a_catalog_onboarded_record_goes_retention_months_after_its_as_of(tmp_path, db_url):
    path = tmp_path / "catalog.toml"
    path.write_text(DEFAULT_PATH.read_text() + TELECOM)
    runtime = Runtime(make_settings(db_url, catalog_path=path))
    _empty_all_tables(runtime.engine)
    try:
        bill = {"record_type": "telecom_bill", "person_id": resident_id(8), "name": "周杰", "consent_ref": "C-1",
                "as_of": "2021-02-28", "month": "2021-02", "billed_fen": 8800, "paid_on_time": "yes"}  # fmt: skip
        with at("2021-03-01"), TestClient(create_app(runtime=runtime)) as client:
            bureau = Bureau(client, Parties(runtime))
            bureau.furnish([bill, loan(8, as_of="2021-02-28", opened_on="2020-01-01")])
        assert run_on(runtime, "2024-02-27")["erased"] == {}
        assert run_on(runtime, "2024-02-28")["erased"] == {"telecom_bill": 1}  # 36 months after as_of
        with runtime.engine.connect() as conn:
            assert conn.execute(select(generic_records)).first() is None
    finally:
        runtime.engine.dispose()


def test_a_correction_of_an_accounts_holder_goes_with_the_account(runtime, bureau, client):
    from zhengxin.records.tables import account_reassignments

    with at("2020-07-01"):
        bureau.furnish([current(2, "2020-05-31", "N" * 24), closed(2, "2020-06-15")])
        r = client.post("/v1/furnishing/reassignments", headers=bureau.platform, json={
            "account_id": "ACC-000002", "person_id": resident_id(3), "name": "李娜", "reference": "FIX-1"})
        assert r.status_code == 201, r.text

    def corrections() -> int:
        with runtime.engine.connect() as conn:
            return len(conn.execute(select(account_reassignments.c.id)).all())

    run_on(runtime, "2025-06-14")
    assert corrections() == 1
    assert run_on(runtime, "2025-06-15")["erased"]["loan_closed_accounts"] == 1
    assert corrections() == 0
