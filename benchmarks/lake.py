"""Lake export benchmark: `zhengxin lake export` over a synthetic population furnished through
the real intake path.

Per backend it measures, each export run as the CLI in a child process (so its peak memory
is its own):

- baseline: reading every row of the record stores once into Polars (`pl.read_database`,
  `SELECT *` of account_snapshots, consumption_summaries and travel_summaries; best of 3);
- the first export (everything): seconds, rows, rows per second, files, peak RSS;
- a second export with nothing new: seconds; it must write no file;
- after one month of accounts changes (balances of 1,000 of its snapshots updated, as a
  resend does): seconds, the partitions rewritten (that month only).

and checks that the lake's row counts equal the store's. Prints ratios to the baseline;
writes benchmarks/results/lake.json. The databases, files and lakes are removed afterwards.

    python benchmarks/lake.py                               # 20,000 persons on SQLite
    python benchmarks/lake.py --persons 100000 --backends sqlite,postgresql
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from sqlalchemy import text

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from retention import deployment, furnish  # noqa: E402  (same deployment and intake as that benchmark)

RESULTS = HERE / "results"
RECORD_STORES = ["account_snapshots", "consumption_summaries", "travel_summaries"]


def baseline_seconds(runtime, repeats: int = 3) -> tuple[float, int]:
    best, rows = float("inf"), 0
    for _ in range(repeats):
        with runtime.engine.connect() as conn:
            started = time.perf_counter()
            frames = [pl.read_database(f"SELECT * FROM {t}", connection=conn) for t in RECORD_STORES]
            best = min(best, time.perf_counter() - started)
        rows = sum(f.height for f in frames)
        del frames
    return best, rows


def cli_export(url: str, lake: Path) -> tuple[dict, float, int]:
    """(summary, wall seconds, peak RSS in MiB) of `zhengxin lake export` in a child process."""
    # The child reports its own peak (VmHWM, which exec resets): getrusage's maxrss would count the
    # parent's pages that the fork copied before the exec.
    code = ("import atexit, sys; atexit.register(lambda: sys.stderr.write('\\npeak_rss_kib=' + "
            "next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')) + '\\n')); "
            "from zhengxin.cli import main; main()")  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, "lake", "export", "--out", str(lake), "--db", url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"lake export failed ({done.returncode}):\n{done.stderr}")
    peak = int(done.stderr.rsplit("peak_rss_kib=", 1)[1].split()[0]) // 1024
    return json.loads(done.stdout.strip().splitlines()[-1]), wall, peak


def lake_count(lake: Path, table: str) -> int:
    return pl.scan_parquet(lake / table / "**/*.parquet", hive_partitioning=True).select(pl.len()).collect().item()


def run_backend(backend: str, folder: Path, persons: int) -> dict:
    runtime, cleanup = deployment(backend)
    lake = Path(tempfile.mkdtemp(prefix="zx-lake-")) / "lake"
    try:
        furnished = furnish(runtime, folder)
        print(f"  intake: {furnished['accepted']:,} of {furnished['received']:,} records in "
              f"{furnished['seconds']} s", flush=True)  # fmt: skip
        with runtime.engine.connect() as conn:
            store = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                     for t in [*RECORD_STORES, "log_leaves", "furnishing_batches"]}  # fmt: skip
            month = conn.execute(text("SELECT max(month) FROM account_snapshots")).scalar_one()
        baseline, baseline_rows = baseline_seconds(runtime)

        first, first_wall, peak = cli_export(runtime.settings.url, lake)
        lake_bytes = sum(p.stat().st_size for p in lake.rglob("*.parquet"))
        again, again_wall, _ = cli_export(runtime.settings.url, lake)
        with runtime.transaction() as conn:  # a resend of 1,000 accounts of the latest month
            conn.execute(text(
                "UPDATE account_snapshots SET balance_fen = balance_fen + 1 WHERE (furnisher_id, account_id) IN "
                "(SELECT furnisher_id, account_id FROM account_snapshots WHERE month = :m "
                "ORDER BY furnisher_id, account_id LIMIT 1000) AND month = :m"), {"m": month})  # fmt: skip
        changed, changed_wall, _ = cli_export(runtime.settings.url, lake)
        lake_rows = {
            name: lake_count(lake, name) for name in ("accounts", "consumption", "travel", "log_index", "batches")
        }
    finally:
        runtime.engine.dispose()
        cleanup()
        shutil.rmtree(lake.parent, ignore_errors=True)

    checks = {
        "lake_rows_match_store": lake_rows == {
            "accounts": store["account_snapshots"], "consumption": store["consumption_summaries"],
            "travel": store["travel_summaries"], "log_index": store["log_leaves"],
            "batches": store["furnishing_batches"],
        },
        "second_export_writes_nothing": again["files"] == 0 and again["rows"] == 0,
        "change_rewrites_one_month": changed["tables"]["accounts"]["partitions"] == [month]
        and changed["files"] == 1,
    }  # fmt: skip
    return {
        "backend": backend,
        "persons": persons,
        "intake": furnished,
        "store_rows": store,
        "lake_bytes": lake_bytes,
        "baseline_read_seconds": round(baseline, 3),
        "baseline_rows": baseline_rows,
        "baseline_rows_per_second": round(baseline_rows / baseline),
        "first_export": {
            "seconds": first["seconds"], "wall_seconds": round(first_wall, 2), "rows": first["rows"],
            "files": first["files"], "rows_per_second": round(first["rows"] / first["seconds"]),
            "peak_rss_mib": peak,
            "tables": {k: {"rows": v["rows"], "seconds": v["seconds"]} for k, v in first["tables"].items()},
        },
        "noop_export": {"seconds": again["seconds"], "wall_seconds": round(again_wall, 2), "files": again["files"]},
        "one_month_changed": {
            "seconds": changed["seconds"], "month": month, "rows_rewritten": changed["tables"]["accounts"]["rows"],
            "partitions": changed["tables"]["accounts"]["partitions"],
        },
        "ratio_first_export_to_baseline": round(first["seconds"] / baseline, 2),
        "checks": checks,
    }  # fmt: skip


def report(case: dict) -> None:
    first, noop, changed = case["first_export"], case["noop_export"], case["one_month_changed"]
    print(f"  baseline: read {case['baseline_rows']:,} record-store rows into Polars in "
          f"{case['baseline_read_seconds']:.3f} s ({case['baseline_rows_per_second']:,} rows/s)")  # fmt: skip
    print(f"  first export: {first['rows']:,} rows in {first['files']} files in {first['seconds']:.2f} s "
          f"({first['rows_per_second']:,} rows/s; {first['wall_seconds']} s with interpreter start), "
          f"{case['lake_bytes'] / 2**20:.1f} MiB of Parquet, peak RSS {first['peak_rss_mib']} MiB, "
          f"ratio to baseline {case['ratio_first_export_to_baseline']}")  # fmt: skip
    print("    " + ", ".join(f"{k} {v['rows']:,} in {v['seconds']:.2f} s" for k, v in first["tables"].items()))
    print(f"  nothing new: {noop['seconds']:.3f} s, {noop['files']} files")
    print(f"  one month changed ({changed['month']}): {changed['seconds']:.3f} s, "
          f"{changed['rows_rewritten']:,} rows rewritten in {changed['partitions']}")  # fmt: skip
    print("  checks: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in case["checks"].items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from zhengxin.synth import generate, write_files

    folder = Path(tempfile.mkdtemp(prefix="zx-lake-files-"))
    try:
        started = time.perf_counter()
        population = generate(args.persons, seed=args.seed)
        write_files(population, folder, ["parquet"])
        print(f"{args.persons:,} persons: {population.loans.height:,} loans, {population.consumption.height:,} "
              f"consumption, {population.travel.height:,} travel records, generated in "
              f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        cases = []
        for backend in args.backends.split(","):
            print(f"{backend}:", flush=True)
            case = run_backend(backend, folder, args.persons)
            report(case)
            cases.append(case)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    RESULTS.mkdir(exist_ok=True)
    out = {
        "benchmark": "lake",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "polars": pl.__version__},
        "cases": cases,
    }
    (RESULTS / "lake.json").write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS / 'lake.json'}")
    failed = [f"{c['backend']}: {k}" for c in cases for k, ok in c["checks"].items() if not ok]
    if failed:
        raise SystemExit("checks failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
