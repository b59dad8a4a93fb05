"""Transparency-log benchmark: appends per second (one per transaction, and 1,000 per
transaction), proof generation and full verification at 1,000,000 leaves, each beside the
raw hashlib SHA-256 rate for the same leaves measured in the same run.

    python benchmarks/log.py                          # 1,000,000 leaves, SQLite and PostgreSQL
    python benchmarks/log.py --leaves 100000 --backends sqlite

Writes benchmarks/results/log.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from zhengxin.audit import service
from zhengxin.audit.check import verify_store
from zhengxin.audit.verify import verify_consistency, verify_inclusion
from zhengxin.config import Settings
from zhengxin.deployment import migrate
from zhengxin.kit.canonical import canonical_json
from zhengxin.runtime import Runtime

RESULTS = Path(__file__).parent / "results"
PG_URL = os.environ.get("ZHENGXIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def leaf(i: int) -> str:
    token = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
    event = {
        "v": 1, "kind": "inquiry", "at": "2026-11-23T08:00:00.000Z", "person": token, "seq": i,
        "actor": {"party": "pty_01jexample", "role": "lender"}, "purpose": "loan_application",
    }  # fmt: skip
    return canonical_json(event).decode()


def sha256_seconds(leaves: list[bytes]) -> float:
    started = time.perf_counter()
    for x in leaves:
        hashlib.sha256(b"\x00" + x).digest()
    return time.perf_counter() - started


def runtime_for(backend: str):
    settings = dict(pepper=secrets.token_hex(32), vault_keys={"k1": secrets.token_hex(32)}, vault_active_key="k1",
                    log_signing_keys={"log1": secrets.token_hex(32)}, log_active_key="log1")  # fmt: skip
    if backend == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp(prefix='zx-log-')}/log.db"
        return Runtime(Settings(database_url=url, **settings)), lambda: None
    schema = f"zx_logbench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))

    def drop():
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    return Runtime(Settings(database_url=f"{PG_URL}?options=-csearch_path%3D{schema}", **settings)), drop


def run(backend: str, total: int, singles: int, proofs: int) -> dict:
    runtime, drop = runtime_for(backend)
    migrate(runtime.engine)
    result: dict = {"backend": backend, "leaves": total}

    # One leaf per transaction, as an inquiry or a consent change appends.
    started = time.perf_counter()
    for i in range(singles):
        with runtime.transaction() as conn:
            service.append_leaves(conn, [leaf(i)], ["inquiry"], [None])
    seconds = time.perf_counter() - started
    result["single_appends"] = singles
    result["single_appends_per_second"] = round(singles / seconds)

    # The rest in transactions of 1,000 leaves, as intake appends.
    texts_done = singles
    batch_seconds = 0.0
    while texts_done < total:
        n = min(1000, total - texts_done)
        chunk = [leaf(i) for i in range(texts_done, texts_done + n)]
        started = time.perf_counter()
        with runtime.transaction() as conn:
            service.append_leaves(conn, chunk, ["inquiry"] * n, [None] * n)
        batch_seconds += time.perf_counter() - started
        texts_done += n
    result["batched_appends_per_second"] = round((total - singles) / batch_seconds)
    raw = sha256_seconds([leaf(i).encode() for i in range(total)])
    result["sha256_leaves_per_second"] = round(total / raw)
    result["ratio_batched_append_to_sha256"] = round(
        result["sha256_leaves_per_second"] / result["batched_appends_per_second"], 1
    )

    with runtime.transaction() as conn:
        head = service.sign_head(conn, service.log_signer(runtime))
    root = bytes.fromhex(head["root_hash"])
    rng = random.Random(1)
    inclusion_ms, consistency_ms = [], []
    with runtime.engine.connect() as conn:
        for _ in range(proofs):
            index = rng.randrange(total)
            started = time.perf_counter()
            p = service.inclusion_proof(conn, index, total)
            inclusion_ms.append((time.perf_counter() - started) * 1000)
            verify_inclusion(
                index, total, bytes.fromhex(p["leaf_hash"]), [bytes.fromhex(x) for x in p["audit_path"]], root
            )
            first = rng.randrange(1, total)
            started = time.perf_counter()
            c = service.consistency_proof(conn, first, total)
            consistency_ms.append((time.perf_counter() - started) * 1000)
            verify_consistency(first, total, [bytes.fromhex(x) for x in c["proof"]],
                               service.root_hash(conn, first), root)  # fmt: skip
    for name, values in (("inclusion_proof_ms", inclusion_ms), ("consistency_proof_ms", consistency_ms)):
        values.sort()
        result[name] = {"p50": round(statistics.median(values), 3), "p99": round(values[int(len(values) * 0.99)], 3)}

    started = time.perf_counter()
    with runtime.engine.connect() as conn:
        check = verify_store(conn, service.log_signer(runtime).public_keys())
    result["full_verify_seconds"] = round(time.perf_counter() - started, 2)
    result["full_verify_problems"] = len(check["problems"])
    result["ratio_full_verify_to_sha256"] = round(result["full_verify_seconds"] / raw, 1)
    runtime.engine.dispose()
    drop()
    r = result
    print(
        f"{backend:10} {total:,} leaves: single appends {r['single_appends_per_second']:,}/s, "
        f"batched {r['batched_appends_per_second']:,}/s (sha256 {r['sha256_leaves_per_second']:,}/s, "
        f"1:{r['ratio_batched_append_to_sha256']}); inclusion proof p50 {r['inclusion_proof_ms']['p50']} ms "
        f"p99 {r['inclusion_proof_ms']['p99']} ms; consistency p50 {r['consistency_proof_ms']['p50']} ms; "
        f"full verify {r['full_verify_seconds']} s (1:{r['ratio_full_verify_to_sha256']} of raw sha256)",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--singles", type=int, default=2000)
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    cases = [run(b, args.leaves, args.singles, args.proofs) for b in args.backends.split(",")]
    RESULTS.mkdir(exist_ok=True)
    out = {"benchmark": "log", "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "cases": cases}
    (RESULTS / "log.json").write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS / 'log.json'}")


if __name__ == "__main__":
    main()
