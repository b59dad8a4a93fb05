"""Retention benchmark: the daily erasure run (`zhengxin retention run`) over a population
of which half is six years old.

The population is furnished through the real intake path. `zhengxin.synth.generate` takes
the day its records are as of, so the benchmark draws two populations and furnishes them
together, one file per platform and record type:

- historic (half the persons): `generate(..., as_of=<the run day six years earlier>)`. Its
  closed accounts, consumption and travel months and the old slips in its payment histories
  are all past their periods on the run day; its still-delinquent accounts start no clock
  and its open clean accounts stay. Its account ids are renamed `<slug>-H...` (generate
  numbers accounts from 1 on each platform, so they would otherwise be the current half's
  accounts), and persons whose resident ID the current half also drew are dropped from it.
- current (the other half): `generate(..., as_of=<the run day>)`, a different seed. Little
  of it expires (accounts closed more than five years ago).

Per backend it measures, in one run of this script:

- baseline: reading every row of the record stores once into Polars (`pl.read_database`,
  `SELECT *` of account_snapshots, consumption_summaries, travel_summaries, generic_records;
  best of 3), before the erasure;
- the first run (mass expiry), `retention.run` in one transaction as the CLI does: seconds,
  time per stage, rows erased by kind, persons affected, erased rows per second, snapshots
  kept with their expired months masked; then the log sequencing the CLI does after it;
- a same-day re-run (the daily steady state): seconds; it must erase nothing.

and checks that the rows erased match the change in table row counts, that no consumption or
travel month and no closed account past its period remains, and that the re-run erases
nothing. Prints ratios first run / baseline and re-run / baseline; writes
benchmarks/results/retention.json. The databases (a private PostgreSQL schema, a temporary
SQLite file) and the furnisher files are removed afterwards.

    python benchmarks/retention.py                        # 100,000 persons, SQLite and PostgreSQL
    python benchmarks/retention.py --persons 20000 --backends postgresql
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import create_engine, func, select, text

from zhengxin.kit import clock

HERE = Path(__file__).parent
RESULTS = HERE / "results"
PG_URL = os.environ.get("ZHENGXIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
YEARS_BACK = 6
RECORD_STORES = ["account_snapshots", "consumption_summaries", "travel_summaries", "generic_records"]
COUNTED = [*RECORD_STORES, "pii_vault"]


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


# The population -----------------------------------------------------------------------------


def write_population(persons: int, seed: int, today: date, folder: Path) -> dict:
    """Furnisher files for `persons` persons, half as of six years ago and half as of today."""
    from zhengxin.synth import Population, generate, write_files

    old_day = years_before(today, YEARS_BACK)
    current = generate(persons - persons // 2, seed=seed, as_of=today)
    old = generate(persons // 2, seed=seed + 1, as_of=old_day)
    taken = current.persons["person_id"].implode()
    mine = ~pl.col("person_id").is_in(taken)
    renamed = pl.col("account_id").str.replace("-L", "-H", literal=True)
    old = Population(
        persons=old.persons.filter(mine),
        loans=old.loans.filter(mine).with_columns(renamed),
        consumption=old.consumption.filter(mine),
        travel=old.travel.filter(mine),
    )
    both = Population(*(pl.concat([getattr(current, f), getattr(old, f)]) for f in Population.__dataclass_fields__))
    write_files(both, folder, ["parquet"])
    return {
        "persons": both.persons.height,
        "historic_persons": old.persons.height,
        "historic_as_of": old_day.isoformat(),
        "current_as_of": today.isoformat(),
        "records": {
            "loan": both.loans.height,
            "consumption": both.consumption.height,
            "travel": both.travel.height,
        },
        "historic_records": {
            "loan": old.loans.height,
            "consumption": old.consumption.height,
            "travel": old.travel.height,
        },
    }


# The deployment -----------------------------------------------------------------------------


def deployment(backend: str):
    """(runtime, cleanup): a fresh database with fresh secrets, migrated."""
    from zhengxin.config import Settings
    from zhengxin.deployment import migrate
    from zhengxin.runtime import Runtime

    if backend == "sqlite":
        tmp = tempfile.mkdtemp(prefix="zx-retention-")
        url = f"sqlite:///{tmp}/bench.db"

        def cleanup():
            shutil.rmtree(tmp, ignore_errors=True)

    else:
        schema = f"zx_bench_retention_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"

        def cleanup():
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()

    settings = Settings(
        database_url=url, pepper=secrets.token_hex(32), vault_keys={"k1": secrets.token_hex(32)},
        vault_active_key="k1", log_signing_keys={"log1": secrets.token_hex(32)}, log_active_key="log1",
    )  # fmt: skip
    runtime = Runtime(settings)
    try:
        migrate(runtime.engine)
    except BaseException:
        runtime.engine.dispose()
        cleanup()
        raise
    return runtime, cleanup


def furnish(runtime, folder: Path) -> dict:
    """Parties, then every file through intake (`furnish_file`, as `zhengxin furnish` does)."""
    from zhengxin.furnishing.flows import furnish_file
    from zhengxin.parties.service import add_party
    from zhengxin.synth import PLATFORMS

    with runtime.transaction() as conn:
        add_party(conn, runtime.settings, role="agency", name="Agency")
        for org in PLATFORMS:
            add_party(conn, runtime.settings, role="furnisher", name=org.name, uscc=org.uscc)
    started, received, accepted = time.perf_counter(), 0, 0
    for org in PLATFORMS:
        for path in sorted((folder / org.slug).glob("*.parquet")):
            batch = furnish_file(runtime, org.name, path)
            received += batch["received"]
            accepted += batch["accepted"]
    return {"received": received, "accepted": accepted, "seconds": round(time.perf_counter() - started, 1)}


# The measurements ---------------------------------------------------------------------------


def row_counts(runtime) -> dict[str, int]:
    with runtime.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in COUNTED}


def baseline_seconds(runtime, repeats: int = 3) -> tuple[float, int]:
    """Best time to read every row of the record stores once into Polars frames."""
    best, rows = float("inf"), 0
    for _ in range(repeats):
        with runtime.engine.connect() as conn:
            started = time.perf_counter()
            frames = [pl.read_database(f"SELECT * FROM {t}", connection=conn) for t in RECORD_STORES]
            best = min(best, time.perf_counter() - started)
        rows = sum(f.height for f in frames)
        del frames
    return best, rows


def timed_run(runtime, day: date) -> tuple[dict, float, dict[str, float]]:
    """One retention run in one transaction, as `zhengxin retention run` makes it: the run row,
    its seconds (commit included) and the seconds of each stage (a stage runs from the end of
    the previous one; `commit` is the events, the run row and the commit)."""
    from zhengxin.flows import retention

    marks: dict[str, float] = {}

    def tick(stage: str, done: int, total: int) -> None:
        marks[stage] = time.perf_counter()  # the last tick of a stage is when it ended

    started = time.perf_counter()
    with runtime.transaction() as conn:
        row = retention.run(conn, runtime, day, progress=tick)
    seconds = time.perf_counter() - started
    stages, previous = {}, started
    for stage, at in marks.items():
        stages[stage] = round(at - previous, 3)
        previous = at
    stages["commit"] = round(started + seconds - previous, 3)
    return row, seconds, stages


def leftovers(runtime, day: date) -> dict[str, int]:
    """Rows past their period that must not remain after a run (independent SQL, not the run's own)."""
    from zhengxin.kit.calendar import last_expired_day, month_index, month_label
    from zhengxin.records.tables import account_snapshots, consumption_summaries, travel_summaries

    types = runtime.catalog.record_types
    out = {}
    with runtime.engine.connect() as conn:
        for name, table in (("consumption", consumption_summaries), ("travel", travel_summaries)):
            last = month_label(month_index(day) - types[name].retention_months - 1)
            out[name] = conn.execute(select(func.count()).where(table.c.month <= last)).scalar_one()
        s = account_snapshots.c
        cutoff = last_expired_day(day, types["loan"].retention_months)
        # every account here has one snapshot, so a closed snapshot is its account's latest state
        out["loan_closed_accounts"] = conn.execute(
            select(func.count()).where(s.status == "closed", func.coalesce(s.closed_on, s.as_of) <= cutoff)
        ).scalar_one()
    return out


def histories(runtime) -> pl.DataFrame:
    with runtime.engine.connect() as conn:
        query = "SELECT furnisher_id, account_id, month, payment_history FROM account_snapshots"
        return pl.read_database(query, connection=conn)


def rewritten(before: pl.DataFrame, after: pl.DataFrame) -> int:
    """Snapshots kept with expired months masked in their payment history."""
    joined = before.join(after, on=["furnisher_id", "account_id", "month"], suffix="_after")
    return joined.filter(pl.col("payment_history") != pl.col("payment_history_after")).height


def erased_rows(erased: dict[str, int]) -> int:
    """Rows deleted, from the run's counts (closed accounts and negative months are not rows)."""
    return sum(n for kind, n in erased.items() if not kind.endswith(("_closed_accounts", "_negative_months")))


def run_backend(backend: str, folder: Path, day: date) -> dict:
    from zhengxin.audit.service import sequence_all

    runtime, cleanup = deployment(backend)
    try:
        furnished = furnish(runtime, folder)
        print(f"  intake: {furnished['accepted']:,} of {furnished['received']:,} records in "
              f"{furnished['seconds']} s", flush=True)  # fmt: skip
        before = row_counts(runtime)
        baseline, baseline_rows = baseline_seconds(runtime)
        histories_before = histories(runtime)

        first, first_seconds, first_stages = timed_run(runtime, day)
        started = time.perf_counter()
        leaves = sequence_all(runtime.engine)  # the CLI sequences the run's events after it
        sequencing = time.perf_counter() - started
        after = row_counts(runtime)
        masked = rewritten(histories_before, histories(runtime))
        del histories_before
        remaining = leftovers(runtime, day)

        again, again_seconds, again_stages = timed_run(runtime, day)
        sequence_all(runtime.engine)
        after_again = row_counts(runtime)
    finally:
        runtime.engine.dispose()
        cleanup()

    rows = erased_rows(first["erased"])
    table_rows = sum(before[t] - after[t] for t in COUNTED)
    checks = {
        "erased_rows_match_row_counts": rows == table_rows,
        "nothing_expired_remains": not any(remaining.values()),
        "rerun_erases_nothing": not again["erased"] and again["persons"] == 0 and after_again == after,
    }
    return {
        "backend": backend,
        "intake": furnished,
        "rows_before": before,
        "rows_after": after,
        "baseline_read_seconds": round(baseline, 3),
        "baseline_rows": baseline_rows,
        "baseline_rows_per_second": round(baseline_rows / baseline),
        "first_run": {
            "seconds": round(first_seconds, 2),
            "stage_seconds": first_stages,
            "persons": first["persons"],
            "erased": first["erased"],
            "erased_rows": rows,
            "erased_rows_per_second": round(rows / first_seconds),
            "rewritten_snapshots": masked,
            "log_leaves": leaves,
            "log_sequencing_seconds": round(sequencing, 2),
        },
        "rerun": {
            "seconds": round(again_seconds, 3),
            "stage_seconds": again_stages,
            "persons": again["persons"],
            "erased": again["erased"],
        },
        "ratio_first_run_to_baseline": round(first_seconds / baseline, 2),
        "ratio_rerun_to_baseline": round(again_seconds / baseline, 3),
        "leftovers_after_first_run": remaining,
        "checks": checks,
    }


def report(case: dict) -> None:
    first, rerun = case["first_run"], case["rerun"]
    print(f"  baseline: read {case['baseline_rows']:,} record-store rows into Polars in "
          f"{case['baseline_read_seconds']:.3f} s ({case['baseline_rows_per_second']:,} rows/s)")  # fmt: skip
    print(f"  first run: {first['seconds']:.2f} s, {first['persons']:,} persons affected, "
          f"{first['erased_rows']:,} rows erased ({first['erased_rows_per_second']:,} rows/s), "
          f"ratio to baseline {case['ratio_first_run_to_baseline']}")  # fmt: skip
    for kind, n in first["erased"].items():
        print(f"    {kind}: {n:,}")
    print(f"    and {first['rewritten_snapshots']:,} kept snapshots rewritten (expired months masked)")
    print("    stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in first["stage_seconds"].items()))
    print(f"    then {first['log_leaves']:,} log leaves sequenced in {first['log_sequencing_seconds']:.2f} s")
    print(f"  re-run (same day): {rerun['seconds']:.3f} s, erased {rerun['erased'] or 'nothing'}, "
          f"ratio to baseline {case['ratio_rerun_to_baseline']}")  # fmt: skip
    print("    stages: " + ", ".join(f"{k} {v:.3f} s" for k, v in rerun["stage_seconds"].items()))
    print("  checks: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in case["checks"].items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    day = clock.today()  # a run may not judge by a later day; intake refuses later records
    folder = Path(tempfile.mkdtemp(prefix="zx-retention-files-"))
    try:
        started = time.perf_counter()
        population = write_population(args.persons, args.seed, day, folder)
        print(f"{population['persons']:,} persons ({population['historic_persons']:,} as of "
              f"{population['historic_as_of']}, the rest as of {population['current_as_of']}): "
              f"{', '.join(f'{n:,} {k}' for k, n in population['records'].items())} records, "
              f"generated in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        cases = []
        for backend in args.backends.split(","):
            print(f"{backend}:", flush=True)
            case = run_backend(backend, folder, day)
            report(case)
            cases.append(case)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    RESULTS.mkdir(exist_ok=True)
    out = {
        "benchmark": "retention",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "polars": pl.__version__},
        "run_day": day.isoformat(),
        "population": population,
        "cases": cases,
    }
    (RESULTS / "retention.json").write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS / 'retention.json'}")
    failed = [f"{c['backend']}: {k}" for c in cases for k, ok in c["checks"].items() if not ok]
    if failed:
        raise SystemExit("checks failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
