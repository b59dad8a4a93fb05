"""Intake benchmark: furnish N synthetic loan records from CSV and Parquet into SQLite and PostgreSQL.

Prints records per second, peak memory, and the ratio to a plain Polars read of the same
file measured in the same run; writes benchmarks/results/intake.json.

    python benchmarks/intake.py                       # 1,000,000 records, both databases
    python benchmarks/intake.py --records 200000 --backends sqlite
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import secrets
import tempfile
import time
import uuid
from pathlib import Path

import polars as pl

HERE = Path(__file__).parent
DATA = HERE / "data"
RESULTS = HERE / "results"
PG_URL = os.environ.get("ZHENGXIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_files(records: int, seed: int) -> dict[str, Path]:
    from zhengxin.synth import generate

    DATA.mkdir(exist_ok=True)
    csv_path, parquet_path = DATA / f"loans-{records}.csv", DATA / f"loans-{records}.parquet"
    if not (csv_path.exists() and parquet_path.exists()):
        persons = max(1000, int(records / 2.2))
        while True:
            loans = generate(persons, seed=seed).loans
            if loans.height >= records:
                break
            persons = int(persons * 1.3)
        loans = loans.drop("furnisher").head(records)
        loans.write_csv(csv_path)
        loans.write_parquet(parquet_path)
    return {"csv": csv_path, "parquet": parquet_path}


def plain_read_seconds(path: Path, fmt: str, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        frame = pl.read_csv(path) if fmt == "csv" else pl.read_parquet(path)
        best = min(best, time.perf_counter() - started)
        del frame
    return best


def _status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process; unlike ru_maxrss, VmHWM starts afresh after exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _intake(url: str, path: str, fmt: str, queue) -> None:
    """One measurement in a fresh process, so peak memory belongs to this intake alone."""
    from zhengxin.config import Settings
    from zhengxin.deployment import migrate
    from zhengxin.furnishing.service import submit_file
    from zhengxin.parties.service import Actor, add_party
    from zhengxin.runtime import Runtime

    settings = Settings(
        database_url=url, pepper=secrets.token_hex(32), vault_keys={"k1": secrets.token_hex(32)}, vault_active_key="k1"
    )
    runtime = Runtime(settings)
    migrate(runtime.engine)
    with runtime.transaction() as conn:
        row, _ = add_party(conn, settings, role="furnisher", name="bench", uscc="91110000600037341L")
    actor = Actor(party_id=row["id"], role="furnisher", name="bench")
    rss_before = _status_mb("VmRSS")
    held = _time_write_transactions(runtime.engine)
    started = time.perf_counter()
    result = submit_file(runtime, actor, Path(path), fmt)
    seconds = time.perf_counter() - started
    peak = _status_mb("VmHWM")
    from zhengxin.audit.service import sequence_all

    started = time.perf_counter()
    leaves = sequence_all(runtime.engine)  # the server's sequencer does this in the background
    sequencing = time.perf_counter() - started
    floor = _database_floor(runtime.engine)
    runtime.engine.dispose()
    queue.put(
        {
            "seconds": seconds,
            "received": result.batch["received"],
            "accepted": result.batch["accepted"],
            "rejected": result.batch["rejected"],
            "rss_before_mb": round(rss_before, 1),
            "peak_rss_mb": round(peak, 1),
            "db_floor": floor,
            # The longest write transaction: on SQLite, how long every other writer had to wait.
            "longest_write_transaction_seconds": round(max(held, default=0.0), 2),
            "log_leaves": leaves,
            "log_sequencing_seconds": round(sequencing, 2),
        }
    )


def _time_write_transactions(engine) -> list[float]:
    """Durations of the engine's transactions, from BEGIN to COMMIT or ROLLBACK."""
    from sqlalchemy import event

    held: list[float] = []
    began: dict[int, float] = {}

    @event.listens_for(engine, "begin")
    def _begin(conn):
        began[id(conn)] = time.perf_counter()

    def _end(conn):
        if id(conn) in began:
            held.append(time.perf_counter() - began.pop(id(conn)))

    event.listen(engine, "commit", _end)
    event.listen(engine, "rollback", _end)
    return held


# Every table intake writes rows to: the records, the vault, the furnishers' versions of
# identities, persons under 14, federation pseudonyms, the quarantine and the log queue.
STORED = ("account_snapshots", "consumption_summaries", "travel_summaries", "generic_records", "pii_vault",
          "identity_versions", "minors", "federation_pseudonyms", "furnishing_quarantine", "log_queue")  # fmt: skip


def _database_floor(engine) -> dict[str, float]:
    """Seconds the database itself takes to bulk-load what intake stored into empty tables of
    the same definitions, indexes included (COPY on PostgreSQL, INSERT ... SELECT on SQLite):
    the part of intake no client-side work can remove. By table, and `all`."""
    seconds = {}
    with engine.begin() as conn:
        for table in STORED:
            if conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one():
                seconds[table] = _copy_seconds(conn, table)
    return {**{t: round(s, 2) for t, s in seconds.items()}, "all": round(sum(seconds.values()), 2)}


def _copy_seconds(conn, table: str) -> float:
    import io

    floor = f"floor_{table}"
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"CREATE TABLE {floor} (LIKE {table} INCLUDING ALL)")
        cursor = conn.connection.driver_connection.cursor()
        buffer = io.BytesIO()
        with cursor.copy(f"COPY {table} TO STDOUT") as copy:
            for block in copy:
                buffer.write(block)
        started = time.perf_counter()
        with cursor.copy(f"COPY {floor} FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        seconds = time.perf_counter() - started
    else:
        ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).scalar_one()
        conn.exec_driver_sql(ddl.replace(table, floor, 1))
        for (index,) in conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type = 'index' AND sql IS NOT NULL", (table,)
        ).all():
            conn.exec_driver_sql(index.replace(f"ON {table}", f"ON {floor}").replace(" ix_", " floor_ix_"))
        started = time.perf_counter()
        conn.exec_driver_sql(f"INSERT INTO {floor} SELECT * FROM {table}")
        seconds = time.perf_counter() - started
    conn.exec_driver_sql(f"DROP TABLE {floor}")
    return seconds


def run_case(backend: str, fmt: str, path: Path) -> dict:
    from sqlalchemy import create_engine, text

    cleanup = None
    if backend == "sqlite":
        tmp = tempfile.mkdtemp(prefix="zx-bench-")
        url = f"sqlite:///{tmp}/bench.db"
    else:
        schema = f"zx_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"

        def cleanup():
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_intake, args=(url, str(path), fmt, queue))
    proc.start()
    result = queue.get()
    proc.join()
    if cleanup:
        cleanup()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    files = make_files(args.records, args.seed)
    cases = []
    for fmt in args.formats.split(","):
        baseline = plain_read_seconds(files[fmt], fmt)
        for backend in args.backends.split(","):
            m = run_case(backend, fmt, files[fmt])
            rate = m["received"] / m["seconds"]
            case = {
                "backend": backend,
                "format": fmt,
                "records": m["received"],
                "accepted": m["accepted"],
                "rejected": m["rejected"],
                "seconds": round(m["seconds"], 2),
                "records_per_second": round(rate),
                "peak_rss_mb": m["peak_rss_mb"],
                "rss_before_intake_mb": m["rss_before_mb"],
                "plain_read_seconds": round(baseline, 3),
                "plain_read_records_per_second": round(m["received"] / baseline),
                "ratio_intake_to_plain_read": round(m["seconds"] / baseline, 1),
                "file_mb": round(files[fmt].stat().st_size / 2**20, 1),
                # The database's own bulk load of every row intake stored (by table in
                # db_floor_by_table; before issue 17 the floor counted account_snapshots only).
                "db_floor_seconds": m["db_floor"]["all"],
                "db_floor_by_table": {t: s for t, s in m["db_floor"].items() if t != "all"},
                "ratio_intake_to_db_floor": round(m["seconds"] / m["db_floor"]["all"], 2),
                "ratio_intake_to_snapshots_floor": round(m["seconds"] / m["db_floor"]["account_snapshots"], 2),
                "log_leaves": m["log_leaves"],
                "log_sequencing_seconds": m["log_sequencing_seconds"],
                "longest_write_transaction_seconds": m["longest_write_transaction_seconds"],
            }
            cases.append(case)
            print(
                f"{backend:10} {fmt:7} {case['records']:>9,} records  {case['seconds']:>7.2f} s  "
                f"{case['records_per_second']:>9,} rec/s  peak {case['peak_rss_mb']:>7.1f} MB  "
                f"plain read {baseline:.3f} s  ratio 1:{case['ratio_intake_to_plain_read']}  "
                f"db floor {case['db_floor_seconds']:.2f} s  ratio 1:{case['ratio_intake_to_db_floor']}  "
                f"then {case['log_leaves']:,} log leaves sequenced in {case['log_sequencing_seconds']:.1f} s  "
                f"longest write transaction {case['longest_write_transaction_seconds']:.2f} s",
                flush=True,
            )
    RESULTS.mkdir(exist_ok=True)
    out = {
        "benchmark": "intake",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "polars": pl.__version__},
        "chunk_rows": int(os.environ.get("ZHENGXIN_INTAKE_CHUNK_ROWS", 50_000)),
        "cases": cases,
    }
    (RESULTS / "intake.json").write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS / 'intake.json'}")


if __name__ == "__main__":
    main()
