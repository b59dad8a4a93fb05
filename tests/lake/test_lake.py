"""The lake export: every table with the store's rows, month partitions, incremental runs that
write only what changed (new months, resent records, retention deletes, new inquiries and log
entries), no personal identifier anywhere, and the CLI on a database URL."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, insert, select, text, update
from typer.testing import CliRunner

from tests.bureau import Bureau
from tests.records import ENCODERS, consumption, loan, resident_id, travel
from zhengxin.audit.service import sequence_all
from zhengxin.audit.tables import log_leaves
from zhengxin.cli import app
from zhengxin.decisions.tables import policy_decisions
from zhengxin.disputes.tables import disputes
from zhengxin.furnishing.tables import batches, obligations, quarantine
from zhengxin.inquiries.tables import inquiries
from zhengxin.kit import clock
from zhengxin.lake import layout
from zhengxin.lake.export import STATE_FILE, export
from zhengxin.parties.tables import parties
from zhengxin.records.tables import account_snapshots, consumption_summaries, travel_summaries

runner = CliRunner()
PERSONS = (1, 2, 3)


class World:
    """A small bureau with something in every lake table."""

    def __init__(self, client, parties_, runtime):
        self.client, self.runtime = client, runtime
        self.bureau = Bureau(client, parties_)
        self.bank = self.bureau.lender("Bank A", 1)
        _, self.regulator = parties_.add("regulator", "PBOC")
        self.persons = {
            1: self.bureau.person(1, loan(1, as_of="2026-09-30"), loan(1)),
            2: self.bureau.person(2, loan(2), consumption(2), travel(2)),
            3: self.bureau.person(3, loan(3, account_id="ACC-3B", as_of="2026-09-30"), consumption(3, month="2026-09")),
        }
        r = client.post(
            "/v1/furnishing/batches", content=ENCODERS["jsonl"]([loan(9, product="nope")]),
            headers={**self.bureau.platform, "Content-Type": "application/x-ndjson", "Idempotency-Key": "bad"},
        )  # fmt: skip
        assert r.status_code == 201 and r.json()["rejected"] == 1, r.text
        self.grant = self.bureau.grant(self.persons[1], self.bank)
        assert self.bureau.inquire(self.bank, self.persons[1], self.grant["id"]).status_code == 201
        assert self.bureau.inquire(self.bank, self.persons[1], "auth_does_not_exist").status_code == 403
        r = client.post("/v1/me/disputes", json={"account_id": "ACC-000002", "reason": "I repaid it"},
                        headers=self.persons[2].headers)  # fmt: skip
        assert r.status_code == 201, r.text
        r = client.post("/v1/furnishing/obligations", headers=self.regulator, json={
            "furnisher": "Platform One", "record_types": ["loan", "consumption"], "frequency": "monthly",
            "first_due_on": "2026-12-01"})  # fmt: skip
        assert r.status_code == 201, r.text
        self.settle()

    def settle(self) -> None:
        sequence_all(self.runtime.engine)

    def count(self, table, *where) -> int:
        with self.runtime.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()

    def deliveries(self) -> int:
        """Record types with accepted records, summed over batches: the lake's deliveries rows."""
        with self.runtime.engine.connect() as conn:
            by_type = conn.execute(select(batches.c.accepted_by_type)).scalars()
            return sum(1 for types in by_type for n in (types or {}).values() if n)


@pytest.fixture
def world(client, parties, runtime) -> World:
    return World(client, parties, runtime)


def read(lake: Path, table: str) -> pl.DataFrame:
    if not layout_of(table).partitioned:
        return pl.read_parquet(lake / table / "snapshot.parquet")
    return pl.read_parquet(lake / table / "**/*.parquet", hive_partitioning=True)


def layout_of(name: str) -> layout.LakeTable:
    return next(t for t in layout.TABLES if t.name == name)


def data_files(lake: Path) -> dict[str, int]:
    """Every file under the lake but its state: relative path -> modification time (ns)."""
    return {str(p.relative_to(lake)): p.stat().st_mtime_ns for p in lake.rglob("*") if p.is_file()
            and p.name not in (STATE_FILE, ".lock")}  # fmt: skip


def test_a_first_export_writes_every_table_with_the_stores_rows(world, runtime, tmp_path):
    lake = tmp_path / "lake"
    summary = export(runtime, lake)

    expected = {
        "accounts": world.count(account_snapshots),
        "consumption": world.count(consumption_summaries),
        "travel": world.count(travel_summaries),
        "inquiries": world.count(inquiries),
        "denials": world.count(policy_decisions, policy_decisions.c.allowed.is_(False)),
        "disputes": world.count(disputes),
        "log_index": world.count(log_leaves),
        "batches": world.count(batches),
        "deliveries": world.deliveries(),
        "rejections": world.count(quarantine),
        "parties": world.count(parties, parties.c.role != "individual"),
        "obligations": world.count(obligations),
    }
    assert expected["accounts"] == 4 and expected["denials"] == expected["rejections"] == 1
    assert {name: t["rows"] for name, t in summary["tables"].items()} == expected
    state = json.loads((lake / STATE_FILE).read_text())
    assert {name: t["rows"] for name, t in state["tables"].items()} == expected
    for table in layout.TABLES:
        frame = read(lake, table.name)
        assert frame.height == expected[table.name], table.name
        assert frame.columns == table.column_names + (["month"] if table.partitioned else []), table.name
    for path in lake.rglob("*.parquet"):  # the month lives in the path only
        assert "month" not in pq.read_schema(path).names

    accounts = read(lake, "accounts")
    assert sorted(accounts["month"].unique()) == ["2026-09", "2026-10"]
    assert accounts.schema["balance_fen"] == pl.Int64 and accounts.schema["opened_on"] == pl.Date
    assert accounts.schema["updated_at"] == pl.Datetime("us", "UTC")
    assert accounts.filter(pl.col("account_id") == "ACC-3B")["month"].to_list() == ["2026-09"]
    assert sorted(read(lake, "consumption")["month"].to_list()) == ["2026-09", "2026-10"]
    this_month = clock.today().strftime("%Y-%m")
    assert read(lake, "inquiries")["month"].to_list() == [this_month]
    denial = read(lake, "denials").row(0, named=True)
    assert denial["kind"] == "inquiry.denied" and "CR-18" in denial["rules"]
    rejection = read(lake, "rejections").row(0, named=True)
    assert (rejection["line"], rejection["field"], rejection["month"]) == (1, "product", this_month)
    assert read(lake, "obligations")["record_types"].to_list() == [["consumption", "loan"]]
    assert set(read(lake, "parties")["role"]) == {"furnisher", "agency", "lender", "regulator"}
    assert read(lake, "disputes")["status"].to_list() == ["open"]
    assert sorted(read(lake, "log_index")["leaf_index"]) == list(range(expected["log_index"]))


def test_a_second_export_with_nothing_new_writes_nothing(world, runtime, tmp_path):
    lake = tmp_path / "lake"
    first = export(runtime, lake)
    before = data_files(lake)
    assert first["files"] == len(before) > 0

    again = export(runtime, lake)
    assert data_files(lake) == before  # same names, same modification times
    assert (again["rows"], again["files"], again["partitions"]) == (0, 0, 0)
    assert all((t["rows"], t["files"]) == (0, 0) for t in again["tables"].values())


def test_a_new_month_writes_its_partition_and_new_inquiry_and_log_parts(world, runtime, tmp_path):
    lake = tmp_path / "lake"
    export(runtime, lake)
    before = data_files(lake)

    world.bureau.furnish([loan(1, as_of="2026-11-20"), loan(2, as_of="2026-11-20")])
    again = world.bureau.grant(world.persons[1], world.bank)
    assert world.bureau.inquire(world.bank, world.persons[1], again["id"]).status_code == 201
    world.settle()
    summary = export(runtime, lake)

    tables = summary["tables"]
    assert tables["accounts"]["partitions"] == ["2026-11"] and tables["accounts"]["rows"] == 2
    for name in ("consumption", "travel", "disputes", "parties", "obligations", "rejections"):
        assert tables[name]["files"] == 0, name
    this_month = clock.today().strftime("%Y-%m")
    assert tables["inquiries"]["partitions"] == [this_month]
    assert (lake / "inquiries" / f"month={this_month}" / "part-000002.parquet").exists()
    assert tables["log_index"]["files"] >= 1 and tables["batches"]["rows"] == 1
    assert tables["deliveries"]["rows"] == 1  # the new batch's one record type
    after = data_files(lake)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing written before was touched
    new = sorted(set(after) - set(before))
    assert "accounts/month=2026-11/part-000000.parquet" in new
    assert all(re.match(r"(accounts|inquiries|log_index|batches|deliveries|denials)/month=[\d-]+/part-\d{6}\.parquet$",
                        p)
               for p in new), new  # fmt: skip

    assert read(lake, "accounts").height == world.count(account_snapshots)
    assert read(lake, "inquiries").height == world.count(inquiries)
    assert read(lake, "log_index")["leaf_index"].sort().to_list() == list(range(world.count(log_leaves)))


def test_a_resent_record_rewrites_only_its_month(world, runtime, tmp_path):
    lake = tmp_path / "lake"
    export(runtime, lake)
    before = data_files(lake)

    world.bureau.furnish([loan(1, balance_fen=1234)])  # the same month, a new balance
    world.settle()
    summary = export(runtime, lake)

    assert summary["tables"]["accounts"]["partitions"] == ["2026-10"]
    assert summary["tables"]["accounts"]["rows"] == 2  # the whole month: it holds two accounts
    after = data_files(lake)
    changed = {k for k in before if after.get(k) != before[k]}
    assert changed == {"accounts/month=2026-10/part-000000.parquet"}
    accounts = read(lake, "accounts")
    mine = accounts.filter(pl.col("account_id") == "ACC-000001").sort("month")
    assert mine["balance_fen"].to_list() == [320000, 1234]


def test_retention_deletes_and_masks_rewrite_their_months_so_the_lake_matches_the_store(world, runtime, tmp_path):
    lake = tmp_path / "lake"
    export(runtime, lake)
    with runtime.transaction() as conn:  # what a retention run does, done directly
        conn.execute(account_snapshots.delete().where(account_snapshots.c.account_id == "ACC-3B"))
        conn.execute(consumption_summaries.delete().where(consumption_summaries.c.month == "2026-09"))
        # CR-16: an erased episode is masked with '#' in the snapshots kept, updated_at untouched;
        # nothing else changes in 2026-10
        conn.execute(update(account_snapshots).where(account_snapshots.c.month == "2026-10",
                     account_snapshots.c.account_id == "ACC-000001").values(payment_history="#" * 24))  # fmt: skip
    summary = export(runtime, lake)

    tables = summary["tables"]
    assert tables["accounts"]["partitions"] == ["2026-09", "2026-10"]
    assert tables["consumption"]["removed"] == ["2026-09"] and tables["consumption"]["files"] == 0
    assert not (lake / "consumption" / "month=2026-09").exists()
    with runtime.engine.connect() as conn:
        store = {tuple(r) for r in conn.execute(select(account_snapshots.c.account_id, account_snapshots.c.month,
                                                       account_snapshots.c.payment_history))}  # fmt: skip
    lake_rows = set(read(lake, "accounts").select("account_id", "month", "payment_history").iter_rows())
    assert lake_rows == store and len(store) == 3
    assert read(lake, "consumption")["month"].to_list() == ["2026-10"]
    state = json.loads((lake / STATE_FILE).read_text())
    assert state["tables"]["accounts"]["rows"] == 3 and list(state["tables"]["consumption"]["months"]) == ["2026-10"]


def test_an_inquiry_committed_after_a_later_one_was_exported_is_not_lost(world, runtime, tmp_path):
    lake = tmp_path / "lake"
    export(runtime, lake)
    latest = json.loads((lake / STATE_FILE).read_text())["tables"]["inquiries"]["watermark"]["created_at"]
    late = datetime.fromisoformat(latest) - timedelta(seconds=30)
    with runtime.transaction() as conn:  # stamped when its transaction began, committed only now
        row = conn.execute(select(inquiries).limit(1)).one()._asdict()
        conn.execute(insert(inquiries).values({**row, "id": "inq_late", "created_at": late}))
    first = export(runtime, lake)
    again = export(runtime, lake)

    assert first["tables"]["inquiries"]["rows"] == 1 and again["tables"]["inquiries"]["rows"] == 0
    ids = read(lake, "inquiries")["id"]
    assert ids.is_unique().all() and "inq_late" in ids.to_list() and ids.len() == world.count(inquiries)


def test_an_export_clears_what_a_dead_run_left_and_refuses_a_directory_that_is_not_a_lake(world, runtime, tmp_path):
    lake = tmp_path / "lake"
    export(runtime, lake)
    month = next((lake / "inquiries").iterdir())
    (month / "part-000007.parquet").write_bytes(b"half a file")
    (month / ".part-000002.parquet.tmp-1").write_bytes(b"half a file")
    (lake / "accounts" / "month=1999-01").mkdir()
    (lake / "accounts" / "month=1999-01" / "part-000000.parquet").write_bytes(b"x")
    summary = export(runtime, lake)
    assert summary["files"] == 0
    assert sorted(p.name for p in month.iterdir()) == ["part-000001.parquet"]
    assert not (lake / "accounts" / "month=1999-01").exists()
    assert read(lake, "inquiries").height == world.count(inquiries)

    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["lake", "export", "--out", str(other), "--db", runtime.settings.url])
    assert result.exit_code == 2 and "not_a_lake" in result.output
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_no_personal_identifier_is_anywhere_in_the_lake(world, runtime, tmp_path):
    lake = tmp_path / "lake"
    export(runtime, lake)
    secrets = []
    for n in PERSONS:
        secrets += [resident_id(n), f"138{n:08d}", f"person-{n}"]  # resident ID, phone, account name
    secrets += [loan()["name"], consumption()["name"], travel()["name"], "I repaid it", resident_id(9)]
    paths = list(lake.rglob("*"))
    assert any(p.suffix == ".parquet" for p in paths)
    for path in (p for p in paths if p.is_file()):
        raw = path.read_bytes()
        decoded = raw.decode("utf-8", "replace")
        if path.suffix == ".parquet":  # the pages are compressed: look at the values too
            decoded += json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False)
        for secret in secrets:
            assert secret.encode() not in raw and secret not in decoded, (secret, path)
    forbidden = re.compile(r"name|phone|resident|person_id|text|cipher|raw|message|reason|key|secret")
    for table in layout.TABLES:
        for column in pq.read_schema(next((lake / table.name).rglob("*.parquet"))).names:
            # parties lists organisations only: their names are the registry's, not a person's
            assert not forbidden.search(column) or (table.name, column) == ("parties", "name"), (table.name, column)


def test_the_cli_exports_a_database_url_and_prints_its_summary(world, runtime, tmp_path):
    lake = tmp_path / "lake"
    result = runner.invoke(app, ["lake", "export", "--out", str(lake), "--db", runtime.settings.url])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["tables"]["accounts"]["rows"] == world.count(account_snapshots)
    assert summary["files"] == len(data_files(lake)) and summary["out"] == str(lake)

    result = runner.invoke(app, ["lake", "export", "--out", str(lake), "--db", runtime.settings.url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["files"] == 0
    assert "up to date" in result.output
    with runtime.engine.connect() as conn:  # the store is untouched by an export
        assert conn.execute(text("SELECT count(*) FROM account_snapshots")).scalar_one() == 4
