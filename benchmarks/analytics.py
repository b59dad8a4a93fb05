"""Supervision analytics benchmark: the full supervision run (`zhengxin.analytics.run.run`, all
six views) over a lake of 10,000,000 loan records, on DuckDB and on PySpark in local mode.

The lake is synthetic and written straight in the lake format (never through intake, which
the intake benchmark measures): `zhengxin.synth.generate` draws the persons and their loans as
of 2026-10-31, and each furnisher is taken to send its whole book every month, so every
account has one snapshot per month from its opening month on, over the six months 2026-05 to
2026-10 (dpd, status, balance and payment history walked back month by month, with Polars;
the generator's own month is its newest snapshot). The persons are enough for `--records`
snapshots, trimmed to exactly that many. Person tokens are HMAC-SHA256 of the resident ID
under a random pepper (zhengxin.identity.tokens). The other tables follow at the same scale:
the generator's consumption and travel months; one batch per furnisher, record type and
month (delivered 1-10 days after the month ends, some records rejected, one batch wholly
rejected) with its rejections; obligations (monthly, one weekly, one for a record type never
sent, one inactive); inquiries (applications before accounts opened, at the platform's
lending arm or the co-lending bank, inquiries followed by nothing, post-loan monitoring);
denials; disputes in every state; the log index of all of those; the parties. Files are
written with the lake's own writers (zhengxin.lake.files: zstd, Hive `month=` directories,
128k-row groups) under benchmarks/data/lake-<records>/ (not in git); `--reuse` keeps it.

Measured, in one run of this script, with the lake's files in the page cache (read once
before anything is timed) and the run judged as of 2026-11-15:

- baseline: a plain DuckDB `SELECT count(*), sum(balance_fen)` over the accounts' Parquet
  files, best of 3: the floor for any job over these files;
- per backend, in a child process of its own: the imports, engine start (`run.connect`; for
  Spark, `run.spark_session()`: the JVM), then `run.run` with its lake load (`run.load`) and
  each view's execution (`run.execute`) timed by wrapping those two functions; peak memory as
  VmHWM from /proc: the child's own (DuckDB runs in it), and for Spark also the JVM's (the
  driver JVM of local mode runs the whole job; its pid from the JVM itself), read before the
  session stops;
- the ratios PySpark / DuckDB, and each run / the baseline; whether DuckDB met the target of
  the whole supervision run in under 30 s; whether both engines gave the same rows.

Writes benchmarks/results/analytics.json.

    python benchmarks/analytics.py                                  # 10,000,000 records, both backends
    python benchmarks/analytics.py --reuse                          # the lake built by an earlier run
    python benchmarks/analytics.py --records 500000 --backends duckdb
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).parent
RESULTS = HERE / "results"
DATA = HERE / "data"

DATA_AS_OF = date(2026, 10, 31)  # the generator's day: the newest snapshot month is 2026-10
RUN_DAY = date(2026, 11, 15)  # the supervision run judges the lake as of this day
MONTHS = 6  # snapshot months 2026-05 .. 2026-10
WINDOW_START = date(2026, 5, 1)
TARGET_SECONDS = 30.0
BACKENDS = ("duckdb", "pyspark")
CROCKFORD = np.frombuffer(b"0123456789abcdefghjkmnpqrstvwxyz", dtype=np.uint8)  # new_id's alphabet, lower case


# The lake ----------------------------------------------------------------------------------------


def month_label(months_back: int) -> str:
    index = DATA_AS_OF.year * 12 + DATA_AS_OF.month - 1 - months_back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_end(label: str) -> date:
    year, month = map(int, label.split("-"))
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def ids(prefix: str, at: pl.Series, rng: np.random.Generator) -> pl.Series:
    """Ids like zhengxin.kit.ids.new_id: prefix, then a ULID of the instant `at` (lower case)."""
    ms = at.dt.epoch("ms").to_numpy().astype(np.int64)
    n = len(ms)
    codes = np.empty((n, 26), dtype=np.uint8)
    codes[:, :10] = CROCKFORD[(ms[:, None] >> np.arange(45, -1, -5)) & 31]
    codes[:, 10:] = CROCKFORD[rng.integers(0, 32, (n, 16))]
    body = pl.Series(codes.view("S26").ravel()).cast(pl.String)
    return pl.select(pl.lit(prefix + "_") + body).to_series()


def instants(days: pl.Series, rng: np.random.Generator, first_hour: int = 0, last_hour: int = 24) -> pl.Series:
    """A UTC instant on each day, at a random second between the hours given."""
    seconds = rng.integers(first_hour * 3600, last_hour * 3600, len(days))
    return pl.select(
        days.cast(pl.Datetime("us")).dt.replace_time_zone("UTC") + pl.duration(seconds=pl.Series(seconds))
    ).to_series()


def random_days(rng: np.random.Generator, n: int, first: date, last: date) -> pl.Series:
    span = (last - first).days + 1
    return pl.Series(np.datetime64(first) + rng.integers(0, span, n).astype("timedelta64[D]")).cast(pl.Date)


def parties_frame() -> pl.DataFrame:
    """The organisations: the agency, the five platforms (furnishers) and their lending arms
    (lenders under the same USCC), the three banks, the regulator."""
    from zhengxin.kit.ids import new_id
    from zhengxin.synth import LENDERS, PLATFORMS

    rows = [("agency", "Zhengxin Credit Reference", "91110000MA0ZX0001Y", "agency")]
    rows += [("furnisher", p.name, p.uscc, p.slug) for p in PLATFORMS]
    rows += [("lender", f"{p.name} Lending", p.uscc, f"{p.slug}-lending") for p in PLATFORMS]
    rows += [("lender", b.name, b.uscc, b.slug) for b in LENDERS]
    rows += [("regulator", "PBOC Credit Information Bureau", None, "regulator")]
    created = datetime(2025, 1, 6, 9, tzinfo=UTC)
    return pl.DataFrame(
        {
            "id": [new_id("pty") for _ in rows], "role": [r[0] for r in rows], "name": [r[1] for r in rows],
            "uscc": [r[2] for r in rows], "slug": [r[3] for r in rows], "created_at": [created] * len(rows),
        },
        schema_overrides={"created_at": pl.Datetime("us", "UTC")},
    )  # fmt: skip


def snapshots_per_person(seed: int) -> float:
    from zhengxin.synth import generate

    pilot = generate(20_000, seed=seed + 1, as_of=DATA_AS_OF).loans
    return float(snapshot_counts(pilot).sum()) / 20_000


def snapshot_counts(loans: pl.DataFrame) -> np.ndarray:
    """Snapshots of each loan in the window: one per month from its opening month on."""
    opened = loans["opened_on"]
    months_open = (DATA_AS_OF.year * 12 + DATA_AS_OF.month) - (opened.dt.year() * 12 + opened.dt.month())
    return np.minimum(MONTHS, months_open.to_numpy() + 1)


def build_lake(records: int, seed: int, out: Path) -> dict:
    """Write a lake of exactly `records` account snapshots (and the rest) to `out`."""
    from zhengxin.identity.tokens import person_tokens
    from zhengxin.lake import files, layout
    from zhengxin.synth import generate

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    persons = math.ceil(records / snapshots_per_person(seed) * 1.02) + 100
    pop = generate(persons, seed=seed, as_of=DATA_AS_OF)
    counts = snapshot_counts(pop.loans)
    while counts.sum() < records:  # the estimate fell short: draw more persons
        persons = math.ceil(persons * records / counts.sum() * 1.02)
        pop = generate(persons, seed=seed, as_of=DATA_AS_OF)
        counts = snapshot_counts(pop.loans)
    # Exactly `records` snapshots: whole loans in order, the last one reported for fewer months.
    cumulative = np.cumsum(counts)
    last = int(np.searchsorted(cumulative, records))
    counts = counts[: last + 1].copy()
    counts[last] -= int(cumulative[last] - records)
    print(f"  generated {persons:,} persons, {pop.loans.height:,} loans in {time.perf_counter() - started:.1f} s; "
          f"keeping {last + 1:,} loans", flush=True)  # fmt: skip

    parties = parties_frame()
    slug_to_id = dict(zip(parties["slug"], parties["id"], strict=True))
    pepper = secrets.token_bytes(32)
    kept_ids = pop.loans["person_id"].head(last + 1).unique()
    tokens = pl.DataFrame({"person_id": kept_ids, "person_token": person_tokens(pepper, kept_ids)})
    months_open = (DATA_AS_OF.year * 12 + DATA_AS_OF.month) - (
        pl.col("opened_on").dt.year() * 12 + pl.col("opened_on").dt.month()
    )
    loans = (
        pop.loans.head(last + 1)
        .with_columns(_count=pl.Series(counts), _months_open=months_open.cast(pl.Int32))
        .join(tokens, on="person_id", how="left")
        .with_columns(furnisher_id=pl.col("furnisher").replace_strict(slug_to_id))
        .drop("person_id", "name", "phone", "consent_ref", "negative_notice_ref", "record_type")
    )

    def summaries(frame: pl.DataFrame) -> pl.DataFrame:  # consumption/travel of the persons kept
        return (
            frame.join(tokens, on="person_id", how="inner")
            .with_columns(furnisher_id=pl.col("furnisher").replace_strict(slug_to_id))
            .drop("person_id", "name", "phone", "consent_ref", "record_type")
        )

    consumption, travel = summaries(pop.consumption), summaries(pop.travel.drop("separate_consent_ref"))
    del pop

    labels = [month_label(k) for k in range(MONTHS)]  # newest first
    batches = batches_frame(loans, consumption, travel, labels, slug_to_id, rng)
    tmp = out.with_name(f".{out.name}.building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)

    def writer(table) -> files.PartitionWriter:
        root = tmp / table.name
        return files.PartitionWriter(root, table.schema, lambda m: files.month_dir(root, m) / files.part_name(0))

    accounts = writer(layout.ACCOUNTS)
    delivered = batches.filter(pl.col("accepted") > 0)  # not the wholly rejected one
    loan_batches = delivered.filter(pl.col("record_type") == "loan")
    for k, label in enumerate(labels):
        snapshot = account_month(loans, k, label, rng)
        stamped = loan_batches.filter(pl.col("month") == label).select(
            "furnisher_id", batch_id="id", updated_at="completed_at"
        )
        snapshot = snapshot.join(stamped, on="furnisher_id", how="left").sort("furnisher_id", "account_id")
        for start in range(0, snapshot.height, 500_000):
            accounts.add(snapshot.slice(start, 500_000))
        print(f"  accounts {label}: {snapshot.height:,} snapshots", flush=True)
    accounts.commit()

    for table, frame, kind in ((layout.CONSUMPTION, consumption, "consumption"), (layout.TRAVEL, travel, "travel")):
        stamped = delivered.filter(pl.col("record_type") == kind).select(
            "furnisher_id", "month", batch_id="id", updated_at="completed_at"
        )
        frame = frame.with_columns(as_of=pl.col("month").map_elements(month_end, return_dtype=pl.Date)).join(
            stamped, on=["furnisher_id", "month"], how="left"
        )
        w = writer(table)
        w.add(frame.sort("month", "furnisher_id"))
        w.commit()

    inquiries, denials = inquiries_frame(loans, parties, rng)
    disputes = disputes_frame(loans, rng)
    rejections = rejections_frame(batches, rng)
    log_index = log_index_frame(batches, inquiries, denials, disputes)
    monthly = {
        layout.BATCHES: batches.with_columns(month=pl.col("created_at").dt.strftime("%Y-%m")),
        layout.REJECTIONS: rejections,
        layout.INQUIRIES: inquiries.with_columns(month=pl.col("created_at").dt.strftime("%Y-%m")),
        layout.DENIALS: denials.with_columns(month=pl.col("created_at").dt.strftime("%Y-%m")),
        layout.DISPUTES: disputes.with_columns(month=pl.col("opened_at").dt.strftime("%Y-%m")),
        layout.LOG_INDEX: log_index.with_columns(month=pl.col("created_at").dt.strftime("%Y-%m")),
    }
    for table, frame in monthly.items():
        # the append tables' first part is part-000001, as the export numbers them
        root = tmp / table.name
        number = 1 if table.mode == "append" else 0
        w = files.PartitionWriter(
            root, table.schema, lambda m, r=root, n=number: files.month_dir(r, m) / files.part_name(n)
        )
        w.add(frame.sort("month"))
        w.commit()
    files.write_file(tmp / "parties" / files.SNAPSHOT, files.as_arrow(parties, layout.PARTIES.schema))
    files.write_file(
        tmp / "obligations" / files.SNAPSHOT, files.as_arrow(obligations_frame(slug_to_id), layout.OBLIGATIONS.schema)
    )

    rows = {table.name: table_rows(tmp, table.name) for table in layout.TABLES}
    assert rows["accounts"] == records, rows
    state = {
        "format": 1,
        "exported_at": datetime(RUN_DAY.year, RUN_DAY.month, RUN_DAY.day, 6, tzinfo=UTC).isoformat(),
        "tables": {name: {"rows": n} for name, n in rows.items()},
        "synthetic": {
            "by": "benchmarks/analytics.py", "records": records, "seed": seed,
            "persons": loans["person_token"].n_unique(),
            "loans": loans.height, "months": labels[::-1], "seconds": round(time.perf_counter() - started, 1),
        },
    }  # fmt: skip
    (tmp / "_lake.json").write_text(json.dumps(state, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)  # a build that dies leaves no lake to --reuse
    return state


def account_month(loans: pl.DataFrame, k: int, label: str, rng: np.random.Generator) -> pl.DataFrame:
    """Each account's snapshot `k` months before the generator's month: delinquency 30 days
    shallower a month, balances of instalment loans higher, of revolving ones drawn afresh,
    accounts closed since then still open, the payment history shifted by k months."""
    frame = loans.filter(pl.col("_count") > k)
    end = month_end(label)
    if k == 0:
        return frame.with_columns(month=pl.lit(label))
    status, dpd, history = pl.col("status"), pl.col("days_past_due"), pl.col("payment_history")
    closed = (status == "closed") & (pl.col("closed_on") <= end)
    dpd_k = (dpd - 30 * k).clip(lower_bound=0)
    new_status = (
        pl.when(closed).then(pl.lit("closed"))
        .when((status == "written_off") & (dpd_k >= 180)).then(pl.lit("written_off"))
        .when(dpd_k > 0).then(pl.lit("overdue"))
        .otherwise(pl.lit("current"))
    )  # fmt: skip
    cap = pl.coalesce("principal_fen", "credit_limit_fen")
    base = pl.when(pl.col("balance_fen") > 0).then(pl.col("balance_fen")).otherwise(cap * 0.15)
    drawn = pl.Series(rng.lognormal(0, 0.15, frame.height))
    grown = (
        pl.when(status == "written_off").then(base)  # a defaulted loan stops amortising
        .when(pl.col("principal_fen").is_null()).then(base * drawn)  # revolving
        .otherwise(base * (1 + 0.04 * k))
    )  # fmt: skip
    balance = pl.when(closed).then(0).otherwise(pl.min_horizontal(grown.round(), cap)).cast(pl.Int64)
    known = pl.when(pl.col("_months_open") >= 23 + k).then(pl.lit("N" * k)).otherwise(pl.lit("#" * k))
    frame = frame.with_columns(
        status=new_status,
        days_past_due=pl.when(closed).then(0).otherwise(dpd_k),
        balance_fen=balance,
        closed_on=pl.when(closed).then(pl.col("closed_on")),
        payment_history=pl.concat_str([history.str.slice(k), known]),
        as_of=pl.lit(end),
        month=pl.lit(label),
        _dpd_now=dpd,
    )
    shallower = pl.col("overdue_fen") * pl.col("days_past_due") / pl.col("_dpd_now")  # fewer instalments missed
    overdue = (
        pl.when(pl.col("status") == "written_off").then(pl.col("balance_fen"))
        .when(pl.col("days_past_due") > 0).then(pl.max_horizontal(shallower, 1).round().cast(pl.Int64))
        .otherwise(0)
    )  # fmt: skip
    return frame.with_columns(overdue_fen=pl.min_horizontal(overdue, pl.col("balance_fen")).cast(pl.Int64)).drop(
        "_dpd_now"
    )


def batches_frame(loans, consumption, travel, labels, slug_to_id, rng) -> pl.DataFrame:
    """One batch per furnisher, record type and month, 1-10 days after the month ends; some
    records rejected (a rate per furnisher); and one batch Kuaidai sent that was wholly rejected."""
    parts = [
        loans.group_by("furnisher_id", "_count").len().select(
            "furnisher_id", "len", months=pl.int_ranges(0, "_count")
        ).explode("months").group_by("furnisher_id", "months").agg(pl.col("len").sum().alias("accepted"))
        .select("furnisher_id", month=pl.col("months").replace_strict(dict(enumerate(labels)), return_dtype=pl.String),
                accepted="accepted", record_type=pl.lit("loan")),
        consumption.group_by("furnisher_id", "month").len("accepted").with_columns(record_type=pl.lit("consumption")),
        travel.group_by("furnisher_id", "month").len("accepted").with_columns(record_type=pl.lit("travel")),
    ]  # fmt: skip
    frame = pl.concat(
        [p.select("furnisher_id", "month", "record_type", pl.col("accepted").cast(pl.Int64)) for p in parts]
    )
    frame = frame.sort("month", "furnisher_id", "record_type")
    n = frame.height
    rates = {slug_to_id[s]: r for s, r in (("yunpay", 0.002), ("kuaidai", 0.009), ("meishi", 0.004),
                                           ("jingxi", 0.001), ("lvtu", 0.003))}  # fmt: skip
    rate = frame["furnisher_id"].replace_strict(rates, return_dtype=pl.Float64).to_numpy()
    rejected = rng.binomial(frame["accepted"].to_numpy(), rate)
    ends = pl.Series([month_end(m) for m in frame["month"]])
    delivered = pl.select(ends + pl.duration(days=pl.Series(rng.integers(1, 11, n)))).to_series()
    created = instants(delivered, rng, 1, 6)
    frame = frame.with_columns(rejected=pl.Series(rejected), created_at=created)
    kuaidai = slug_to_id["kuaidai"]
    refused = pl.DataFrame({
        "furnisher_id": [kuaidai], "month": ["2026-07"], "record_type": ["loan"], "accepted": [0], "rejected": [4_000],
        "created_at": [datetime(2026, 8, 2, 3, 12, tzinfo=UTC)],
    }, schema=frame.schema)  # fmt: skip
    frame = pl.concat([frame, refused]).sort("created_at")
    received = pl.col("accepted") + pl.col("rejected")
    formats = {v: f for v, f in zip(slug_to_id.values(), ("csv", "parquet", "jsonl", "csv", "parquet"), strict=False)}
    return frame.with_columns(
        id=ids("bat", frame["created_at"], rng),
        format=pl.col("furnisher_id").replace_strict(formats, default="csv"),
        received=received,
        # intake takes about 20,000 records a second
        completed_at=pl.col("created_at") + pl.duration(milliseconds=(received * 50).cast(pl.Int64) + 1_000),
    )


REJECTION_CODES = [  # (field, code, rule)
    ("person_id", "invalid_resident_id", None),
    ("consent_ref", "missing_consent", "CR-29"),
    ("as_of", "invalid_date", None),
    ("religion", "prohibited_field", "CR-14a"),
    ("wechat_id", "unknown_field", "CM-7"),
    ("balance_fen", "invalid_amount", None),
    ("negative_notice_ref", "missing_notice", "CR-15"),
]


def rejections_frame(batches: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """One row per rejected record, the codes' mix differing per furnisher; the wholly
    rejected batch lacked consent references."""
    rows = batches.filter(pl.col("rejected") > 0)
    repeated = rows.select(
        "id", "furnisher_id", "record_type", "received", "rejected", "created_at",
        index=pl.int_ranges(0, "rejected"),
    ).explode("index")  # fmt: skip
    n = repeated.height
    furnishers = sorted(batches["furnisher_id"].unique())
    weights = rng.dirichlet(np.full(len(REJECTION_CODES), 0.7), len(furnishers))
    which = repeated["furnisher_id"].replace_strict({f: i for i, f in enumerate(furnishers)}).to_numpy()
    code = (rng.random(n)[:, None] > weights[which].cumsum(axis=1)).sum(axis=1).clip(0, len(REJECTION_CODES) - 1)
    code = np.where((repeated["received"] == repeated["rejected"]).to_numpy(), 1, code)
    line = (rng.random(n) * repeated["received"].to_numpy()).astype(np.int64) + 1
    return repeated.select(
        batch_id="id",
        furnisher_id="furnisher_id",
        line=pl.Series(line),
        record_type="record_type",
        field=pl.Series([c[0] for c in REJECTION_CODES]).gather(code),
        code=pl.Series([c[1] for c in REJECTION_CODES]).gather(code),
        rule=pl.Series([c[2] for c in REJECTION_CODES], dtype=pl.String).gather(code),
        month=pl.col("created_at").dt.strftime("%Y-%m"),
    )


def obligations_frame(slug_to_id: dict[str, str]) -> pl.DataFrame:
    """Monthly delivery by the 8th for each platform, of the record types it sends (Kuaidai is
    also bound to send consumption, which it never does), Kuaidai weekly since September, and
    an obligation lifted."""
    from zhengxin.kit.ids import new_id

    rows = [
        ("yunpay", ["loan", "consumption", "travel"], "monthly", date(2026, 6, 8), True),
        ("kuaidai", ["loan", "consumption"], "monthly", date(2026, 6, 8), True),
        ("kuaidai", ["loan"], "weekly", date(2026, 9, 7), True),
        ("meishi", ["loan", "consumption"], "monthly", date(2026, 6, 8), True),
        ("jingxi", ["loan", "consumption"], "monthly", date(2026, 6, 8), True),
        ("lvtu", ["loan", "travel"], "monthly", date(2026, 6, 8), True),
        ("lvtu", ["travel"], "daily", date(2026, 5, 1), False),
    ]
    return pl.DataFrame(
        {
            "id": [new_id("obl") for _ in rows], "furnisher_id": [slug_to_id[r[0]] for r in rows],
            "record_types": [r[1] for r in rows], "frequency": [r[2] for r in rows],
            "first_due_on": [r[3] for r in rows], "active": [r[4] for r in rows],
            "created_at": [datetime(2026, 5, 20, 8, tzinfo=UTC)] * len(rows),
        },
        schema_overrides={"created_at": pl.Datetime("us", "UTC")},
    )  # fmt: skip


def inquiries_frame(loans: pl.DataFrame, parties: pl.DataFrame, rng) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(inquiries, denials) from 2026-05-01 to the run day.

    - applications: most loans opened in the window were preceded, 0-14 days before, by an
      inquiry of the platform's lending arm or (for co-lent loans, half the time) the bank;
    - inquiries followed by no account: a tenth of persons, 1-3 each, mostly by the banks;
    - post-loan monitoring: the co-lending bank of a third of open co-lent loans, monthly;
    - denials: about 3% as many as inquiries.
    """
    lenders = parties.filter(pl.col("role") == "lender")
    arm = {row["slug"].removesuffix("-lending"): row["id"] for row in lenders.iter_rows(named=True)}
    bank_by_uscc = {row["uscc"]: row["id"] for row in lenders.iter_rows(named=True) if "-" not in row["slug"]}
    slug_of = dict(zip(parties["id"], parties["slug"], strict=True))
    arm_of_furnisher = {fid: arm[slug] for fid, slug in slug_of.items() if slug in arm and fid not in arm.values()}
    banks = list(bank_by_uscc.values())

    first = WINDOW_START + timedelta(days=14)
    new = loans.filter((pl.col("opened_on") >= first) & (pl.col("opened_on") <= RUN_DAY))
    new = new.filter(pl.Series(rng.random(new.height) < 0.85))
    by_bank = new["co_lender_uscc"].is_not_null() & pl.Series(rng.random(new.height) < 0.5)
    applications = new.select(
        person_token="person_token",
        lender_id=pl.when(by_bank)
        .then(pl.col("co_lender_uscc").replace_strict(bank_by_uscc, default=None))
        .otherwise(pl.col("furnisher_id").replace_strict(arm_of_furnisher)),
        day=pl.col("opened_on") - pl.duration(days=pl.Series(rng.integers(0, 15, new.height))),
        purpose=pl.when(pl.col("product") == "credit_line")
        .then(pl.lit("credit_card_application"))
        .otherwise(pl.lit("loan_application")),
    )

    persons = loans["person_token"].unique()
    shoppers = persons.sample(fraction=0.10, seed=int(rng.integers(1 << 31)))
    times = rng.choice([1, 2, 3], len(shoppers), p=[0.6, 0.3, 0.1])
    k = int(times.sum())
    everyone = lenders["id"].to_list()
    weights = np.array([0.04 if lid in arm.values() else 0.8 / len(banks) for lid in everyone])
    nothing = pl.DataFrame({
        "person_token": shoppers.gather(np.repeat(np.arange(len(shoppers)), times)),
        "lender_id": pl.Series(everyone).gather(rng.choice(len(everyone), k, p=weights / weights.sum())),
        "day": random_days(rng, k, WINDOW_START, RUN_DAY),
        "purpose": pl.Series(["loan_application", "credit_card_application", "guarantee_review", "account_opening"])
        .gather(rng.choice(4, k, p=[0.6, 0.25, 0.05, 0.1])),
    })  # fmt: skip

    live = loans.filter(
        (pl.col("_count") == MONTHS)
        & pl.col("status").is_in(["current", "overdue"])
        & pl.col("co_lender_uscc").is_not_null()
    )
    live = live.filter(pl.Series(rng.random(live.height) < 1 / 3))
    monitored = live.select("person_token", lender_id=pl.col("co_lender_uscc").replace_strict(bank_by_uscc))
    monthly = [
        monitored.with_columns(day=pl.lit(date(2026, 5 + m, 1)) + pl.duration(days=pl.Series(rng.integers(0, 28, n))))
        for m, n in zip(range(6), [live.height] * 6, strict=True)
    ]  # fmt: skip
    monitoring = (
        pl.concat(monthly).with_columns(purpose=pl.lit("post_loan_management")).filter(pl.col("day") <= RUN_DAY)
    )

    frame = pl.concat([applications.select(nothing.columns), nothing, monitoring.select(nothing.columns)])
    frame = frame.filter(
        pl.col("lender_id").is_not_null() & (pl.col("day") >= WINDOW_START) & (pl.col("day") <= RUN_DAY)
    )
    created = instants(frame["day"], rng, 7, 23)
    frame = frame.with_columns(created_at=created).filter(pl.col("created_at") < datetime(2026, 11, 15, 12, tzinfo=UTC))
    frame = frame.sort("created_at")
    n = frame.height
    score = rng.random(n) < 0.2
    small = frame["lender_id"] == bank_by_uscc[sorted(bank_by_uscc)[-1]]  # the rural bank pays the small tier
    fee = np.where(score, np.where(small, 200, 300), np.where(small, 350, 500))
    granted = pl.select(frame["created_at"] - pl.duration(minutes=pl.Series(rng.integers(1, 600, n)))).to_series()
    inquiries = frame.with_columns(
        id=ids("inq", frame["created_at"], rng),
        authorization_id=ids("aut", granted, rng),
        product=pl.Series(np.where(score, "score", "report")),
        fee_fen=pl.Series(fee.astype(np.int64)),
    )
    d = max(1, n * 3 // 100)
    denied_at = instants(random_days(rng, d, WINDOW_START, RUN_DAY - timedelta(days=1)), rng, 7, 23)
    rules = [["CR-18"], ["CR-18"], ["CR-18", "PIPL-13"], ["CR-24"]]
    denials = pl.DataFrame({
        "decision_id": ids("dec", denied_at, rng),
        "kind": pl.repeat("inquiry.denied", d, eager=True),
        "rules": pl.Series([rules[i] for i in rng.integers(0, len(rules), d)], dtype=pl.List(pl.String)),
        "created_at": denied_at,
        "person_token": persons.gather(rng.integers(0, len(persons), d)),  # for the log index only
    }).sort("created_at")  # fmt: skip
    return inquiries, denials


def disputes_frame(loans: pl.DataFrame, rng) -> pl.DataFrame:
    """Disputes of 0.4% of persons about one of their loans, opened in the window, in every
    state: closed (with an outcome), answered, open; some past their CR-25 due day."""
    picks = loans.select("person_token", "furnisher_id").unique("person_token", keep="first", maintain_order=True)
    picks = picks.sample(fraction=0.004, seed=int(rng.integers(1 << 31)))
    n = picks.height
    opened_at = instants(random_days(rng, n, WINDOW_START, RUN_DAY - timedelta(days=1)), rng, 6, 23)
    age = (np.datetime64(RUN_DAY) - opened_at.dt.date().to_numpy()).astype(np.int64)
    settled = rng.random(n) < np.where(age > 28, 0.85, 0.25)
    answered = ~settled & (rng.random(n) < 0.5)
    outcome = pl.Series(["corrected", "verified", "unconfirmable", "withdrawn"]).gather(
        rng.choice(4, n, p=[0.35, 0.4, 0.1, 0.15])
    )
    status = np.where(settled, "closed", np.where(answered, "answered", "open"))
    run_end = datetime(2026, 11, 15, 6, tzinfo=UTC)
    after = pl.col("opened_at") + pl.duration(days=pl.lit(pl.Series(rng.integers(2, 20, n))))
    closing = pl.col("opened_at") + pl.duration(days=pl.lit(pl.Series(rng.integers(3, 35, n))))
    frame = pl.DataFrame({
        "person_token": picks["person_token"], "furnisher_id": picks["furnisher_id"], "opened_at": opened_at,
        "status": status, "outcome": outcome, "_settled": settled, "_answered": answered,
        "_overdue": (status == "open") & (age > 28),
    })  # fmt: skip
    frame = frame.with_columns(
        due_on=pl.col("opened_at").dt.date() + pl.duration(days=28),  # CR-25
        closed_at=pl.when("_settled").then(closing.clip(upper_bound=run_end)),
        answered_at=pl.min_horizontal(after, closing).clip(upper_bound=run_end),
    )
    return frame.with_columns(
        id=ids("dsp", opened_at, rng),
        record_type=pl.lit("loan"),
        outcome=pl.when("_settled").then("outcome"),
        escalated_at=pl.when("_overdue").then(
            pl.col("due_on").cast(pl.Datetime("us")).dt.replace_time_zone("UTC") + pl.duration(days=1, hours=2)
        ),
        answered_at=pl.when(pl.col("_answered") | (pl.col("_settled") & (pl.col("outcome") != "withdrawn"))).then(
            "answered_at"
        ),
    ).drop("_settled", "_answered", "_overdue")


def log_index_frame(batches, inquiries, denials, disputes) -> pl.DataFrame:
    """The log's leaves for what happened: batches, inquiries, denials, dispute steps, in order."""
    no_token = pl.lit(None, dtype=pl.String)
    parts = [
        batches.select(kind=pl.lit("furnishing.batch"), person_token=no_token, created_at="completed_at"),
        inquiries.select(kind=pl.lit("inquiry"), person_token="person_token", created_at="created_at"),
        denials.select(kind=pl.lit("inquiry.denied"), person_token="person_token", created_at="created_at"),
        disputes.select(kind=pl.lit("dispute.opened"), person_token="person_token", created_at="opened_at"),
        disputes.filter(pl.col("answered_at").is_not_null()).select(
            kind=pl.lit("dispute.answered"), person_token="person_token", created_at="answered_at"
        ),
        disputes.filter(pl.col("closed_at").is_not_null()).select(
            kind=pl.lit("dispute.closed"), person_token="person_token", created_at="closed_at"
        ),
    ]
    frame = pl.concat(parts).sort("created_at")
    return frame.with_columns(leaf_index=pl.int_range(0, frame.height, dtype=pl.Int64))


def table_rows(lake: Path, name: str) -> int:
    folder = lake / name
    if not folder.is_dir():
        return 0
    return sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in folder.rglob("*.parquet"))


def table_bytes(lake: Path, name: str) -> int:
    return sum(p.stat().st_size for p in (lake / name).rglob("*.parquet"))


def lake_for(records: int, seed: int, reuse: bool) -> tuple[Path, dict, bool]:
    """(lake directory, its _lake.json, whether it was reused)."""
    out = DATA / f"lake-{records}"
    marker = out / "_lake.json"
    if reuse and marker.exists():
        state = json.loads(marker.read_text())
        if state.get("synthetic", {}).get("seed") == seed:
            print(f"reusing the lake in {out}", flush=True)
            return out, state, True
        print(f"{out} was built with another seed: building it again", flush=True)
    print(f"building a lake of {records:,} account snapshots in {out}", flush=True)
    DATA.mkdir(exist_ok=True)
    return out, build_lake(records, seed, out), False


# The measurements --------------------------------------------------------------------------------


def warm(lake: Path) -> float:
    """Read every file of the lake once, so each engine starts from the page cache."""
    started = time.perf_counter()
    for path in lake.rglob("*.parquet"):
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass
    return time.perf_counter() - started


def baseline(lake: Path, repeats: int = 3) -> dict:
    """A plain DuckDB scan of the accounts' files: the floor for any job over them."""
    import duckdb

    query = (f"SELECT count(*), sum(balance_fen) FROM read_parquet('{lake}/accounts/**/*.parquet', "
             "hive_partitioning = true)")  # fmt: skip
    con = duckdb.connect()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        rows, total = con.execute(query).fetchone()
        runs.append(time.perf_counter() - started)
    con.close()
    return {"query": query.replace(str(lake), "<lake>"), "seconds": round(min(runs), 3),
            "runs": [round(r, 3) for r in runs], "rows": rows, "sum_balance_fen": int(total)}  # fmt: skip


def vm_peak_kib(pid: int | str = "self") -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS of a process, in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(line.split()[1])
    return found


def child(backend: str, lake: Path, results_file: Path) -> None:
    """One supervision run in this process; prints its figures as JSON on the last line."""
    figures: dict = {"backend": backend, "loadavg_before": os.getloadavg()}
    started = time.perf_counter()
    from zhengxin.analytics import VIEWS
    from zhengxin.analytics import run as analytics
    from zhengxin.config import RuleParameters

    if backend == "pyspark":
        import pyspark  # noqa: F401  (counted with the imports, not the engine start)
    figures["import_seconds"] = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    session = analytics.spark_session() if backend == "pyspark" else None
    con = analytics.connect(backend, session)
    figures["engine_start_seconds"] = round(time.perf_counter() - started, 3)

    # run.run calls run.load, then run.execute once per view, in VIEWS order: time each call.
    spent: dict[str, float] = {}
    names = iter(VIEWS)
    load, execute = analytics.load, analytics.execute

    def timed_load(*args, **kwargs):
        t = time.perf_counter()
        try:
            return load(*args, **kwargs)
        finally:
            spent["load"] = time.perf_counter() - t

    def timed_execute(*args, **kwargs):
        t = time.perf_counter()
        try:
            return execute(*args, **kwargs)
        finally:
            spent[next(names)] = time.perf_counter() - t

    analytics.load, analytics.execute = timed_load, timed_execute
    started = time.perf_counter()
    results = analytics.run(lake, backend=backend, as_of=RUN_DAY, rules=RuleParameters(), con=con)
    run_seconds = time.perf_counter() - started
    analytics.load, analytics.execute = load, execute

    views_seconds = sum(spent[v] for v in VIEWS)
    figures.update(
        load_seconds=round(spent["load"], 3),
        build_seconds=round(run_seconds - spent["load"] - views_seconds, 3),  # views.build: Ibis expressions
        view_seconds={v: round(spent[v], 3) for v in VIEWS},
        views_seconds=round(views_seconds, 3),
        run_seconds=round(run_seconds, 3),
        job_seconds=round(figures["engine_start_seconds"] + run_seconds, 3),
        rows={name: len(rows) for name, rows in results.items()},
        loadavg_after=os.getloadavg(),
    )
    memory = {"process_peak_mib": vm_peak_kib()["VmHWM"] // 1024}
    if session is not None:
        jvm = session._jvm.java.lang.ProcessHandle.current().pid()
        peak = vm_peak_kib(jvm)
        memory.update(jvm_pid=jvm, jvm_peak_mib=peak["VmHWM"] // 1024, jvm_rss_at_end_mib=peak["VmRSS"] // 1024,
                      jvm_max_heap_mib=session._jvm.java.lang.Runtime.getRuntime().maxMemory() // 2**20,
                      spark_driver_memory=session.conf.get("spark.driver.memory", "1g (Spark's default)"))  # fmt: skip
        memory["total_peak_mib"] = memory["process_peak_mib"] + memory["jvm_peak_mib"]
        session.stop()
    else:
        memory["total_peak_mib"] = memory["process_peak_mib"]
    figures["memory"] = memory
    results_file.write_text(json.dumps(results, sort_keys=True))
    print(json.dumps(figures))


def run_child(backend: str, lake: Path, spark_memory: str | None) -> tuple[dict, dict]:
    """(figures, results) of one backend's run in a child process."""
    env = dict(os.environ)
    if backend == "pyspark" and spark_memory:
        env["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {spark_memory} pyspark-shell"
    fd, name = tempfile.mkstemp(prefix=f"zx-analytics-{backend}-", suffix=".json")
    os.close(fd)
    results_file = Path(name)
    try:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--child", backend, "--lake", str(lake), "--results-file", str(results_file)],
            capture_output=True, text=True, check=False, env=env,
        )  # fmt: skip
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{backend} run failed ({done.returncode}):\n{done.stderr[-5000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        figures["process_wall_seconds"] = round(wall, 2)
        return figures, json.loads(results_file.read_text())
    finally:
        results_file.unlink(missing_ok=True)


def report(figures: dict, floor: float) -> None:
    m = figures["memory"]
    print(f"  engine start {figures['engine_start_seconds']:.2f} s, lake load {figures['load_seconds']:.2f} s, "
          f"views {figures['views_seconds']:.2f} s (build {figures['build_seconds']:.2f} s): "
          f"job {figures['job_seconds']:.2f} s ({figures['job_seconds'] / floor:.1f}x the scan), "
          f"{figures['process_wall_seconds']:.1f} s with interpreter and imports")  # fmt: skip
    print("    " + ", ".join(f"{v} {s:.2f} s" for v, s in figures["view_seconds"].items()))
    if "jvm_peak_mib" in m:
        print(f"    peak memory: Python driver {m['process_peak_mib']:,} MiB + JVM {m['jvm_peak_mib']:,} MiB "
              f"(heap max {m['jvm_max_heap_mib']:,} MiB) = {m['total_peak_mib']:,} MiB")  # fmt: skip
    else:
        print(f"    peak memory: {m['process_peak_mib']:,} MiB")
    print(f"    rows: {figures['rows']}; load average {figures['loadavg_before'][0]:.2f} before, "
          f"{figures['loadavg_after'][0]:.2f} after", flush=True)  # fmt: skip


def versions() -> dict:
    import duckdb
    import ibis
    import pyarrow

    found = {"python": platform.python_version(), "duckdb": duckdb.__version__, "ibis": ibis.__version__,
             "polars": pl.__version__, "pyarrow": pyarrow.__version__}  # fmt: skip
    try:
        import pyspark

        found["pyspark"] = pyspark.__version__
    except ImportError:
        found["pyspark"] = None
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    found["java"] = (java.stderr.splitlines() or [""])[0]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000_000, help="account snapshots in the lake")
    parser.add_argument("--backends", default="duckdb,pyspark")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the lake under benchmarks/data/")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--spark-memory", help="spark.driver.memory for the PySpark run (default: Spark's, 1g)")
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--lake", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--results-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.lake, args.results_file)
        return
    backends = args.backends.split(",")
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"unknown backend(s) {', '.join(sorted(unknown))}; use {', '.join(BACKENDS)}")

    loadavg_start = os.getloadavg()
    lake, state, reused = lake_for(args.records, args.seed, args.reuse)
    from zhengxin.lake.layout import TABLES

    sizes = {
        "rows": {t.name: state["tables"][t.name]["rows"] for t in TABLES},
        "bytes": {t.name: table_bytes(lake, t.name) for t in TABLES},
    }
    sizes["total_rows"] = sum(sizes["rows"].values())
    sizes["total_bytes"] = sum(sizes["bytes"].values())
    synthetic = state["synthetic"]
    print(f"lake: {sizes['rows']['accounts']:,} account snapshots of {synthetic['loans']:,} loans of "
          f"{synthetic['persons']:,} persons over {len(synthetic['months'])} months; {sizes['total_rows']:,} rows "
          f"in all, {sizes['total_bytes'] / 2**20:,.0f} MiB of Parquet"
          + ("" if reused else f"; built in {synthetic['seconds']} s"), flush=True)  # fmt: skip
    print("  " + ", ".join(f"{k} {v:,}" for k, v in sizes["rows"].items()))

    warmed = warm(lake)
    floor = baseline(lake)
    print(f"baseline: {floor['rows']:,} accounts scanned (count, sum of balance) in {floor['seconds']:.3f} s "
          f"(best of 3; page cache warmed in {warmed:.1f} s)", flush=True)  # fmt: skip

    runs, answers = {}, {}
    for backend in backends:
        print(f"{backend}:", flush=True)
        figures, answers[backend] = run_child(backend, lake, args.spark_memory)
        report(figures, floor["seconds"])
        runs[backend] = figures

    ratios = {f"{b}_job_to_baseline": round(r["job_seconds"] / floor["seconds"], 1) for b, r in runs.items()}
    checks = {}
    if {"duckdb", "pyspark"} <= set(runs):
        d, s = runs["duckdb"], runs["pyspark"]
        ratios.update(
            pyspark_to_duckdb_job=round(s["job_seconds"] / d["job_seconds"], 2),
            pyspark_to_duckdb_run=round(s["run_seconds"] / d["run_seconds"], 2),
            pyspark_to_duckdb_views=round(s["views_seconds"] / d["views_seconds"], 2),
            pyspark_to_duckdb_peak_memory=round(s["memory"]["total_peak_mib"] / d["memory"]["total_peak_mib"], 2),
        )
        differ = [v for v in answers["duckdb"] if answers["duckdb"][v] != answers["pyspark"].get(v)]
        checks["same_rows_on_both_backends"] = not differ
        if differ:
            checks["views_that_differ"] = differ
        print(f"PySpark / DuckDB: job {ratios['pyspark_to_duckdb_job']}x, views {ratios['pyspark_to_duckdb_views']}x, "
              f"peak memory {ratios['pyspark_to_duckdb_peak_memory']}x; same rows on both: "
              f"{'yes' if not differ else 'NO: ' + ', '.join(differ)}")  # fmt: skip
    target = None
    if "duckdb" in runs:
        seconds = runs["duckdb"]["job_seconds"]
        target = {"seconds": TARGET_SECONDS, "duckdb_job_seconds": seconds, "met": seconds < TARGET_SECONDS,
                  "records": args.records}  # fmt: skip
        print(f"target: the DuckDB supervision run in under {TARGET_SECONDS:.0f} s: "
              f"{'met' if target['met'] else 'MISSED'} ({seconds:.2f} s over {args.records:,} records)")  # fmt: skip

    RESULTS.mkdir(exist_ok=True)
    out = {
        "benchmark": "analytics",
        "command": "python benchmarks/analytics.py " + " ".join(sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "loadavg_at_start": loadavg_start,
            **versions(),
        },  # fmt: skip
        "as_of": RUN_DAY.isoformat(),
        "lake": {"records": args.records, "reused": reused, **synthetic, **sizes},
        "page_cache_warm_seconds": round(warmed, 2),
        "baseline": floor,
        "runs": runs,
        "ratios": ratios,
        "target": target,
        "checks": checks,
    }
    (RESULTS / "analytics.json").write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS / 'analytics.json'}")


if __name__ == "__main__":
    main()
