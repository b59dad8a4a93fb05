"""Federation benchmark (issue 20): pseudonyms, intake, the PSI cardinality and inquiry latency.

In process: blind, evaluate and finalize for each resident ID (federation/oprf.py), against the
floor of the protocol, libsodium's own ristretto255 scalar multiplication (three per pseudonym:
the blind, the regulator's evaluation, the unblinding) timed in the same run.

Over HTTP: `pseudonyms.derive` against a served regulator node on loopback (PostgreSQL),
batches of `--batch` blinded IDs in signed requests (RFC 9421), against the in-process rate.

At intake: one platform's loan file of a synthetic population furnished into a fresh
PostgreSQL deployment, once as a plain agency and once as a federation member deriving each new
person's pseudonym through the served regulator node: records per second, and the ratio.
The regulator's national view: the PSI cardinality (federation/psi.py) of two members' pseudonym
sets of `--psi` persons each, half of them shared: each step's time, the bytes each party sends,
and the count against the true one.
Inquiry latency: at agency 1 of a three-agency demo federation, without the federation scope,
with one peer and with two (p50, p99 and the ratios).
Writes benchmarks/results/federation.json.

    python benchmarks/federation.py                  # 20,000 IDs
    python benchmarks/federation.py --only inquiries
    python benchmarks/federation.py --ids 100000 --batch 5000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from inquiry import PG_URL, RESULTS, percentiles  # noqa: E402


def resident_ids(n: int) -> list[str]:
    import numpy as np

    from zhengxin.synth.population import _resident_ids

    rng = np.random.default_rng(1)
    birth = np.datetime64("1960-01-01") + rng.integers(0, 40 * 365, n).astype("timedelta64[D]")
    return _resident_ids(rng, birth, rng.integers(0, 2, n)).to_list()


def in_process(ids: list[str]) -> dict:
    import pysodium

    from zhengxin.federation import oprf

    key = oprf.derive_key(secrets.token_bytes(32), b"bench")
    point = oprf.hash_to_group(b"x")
    scalar = pysodium.crypto_core_ristretto255_scalar_random()
    started = time.perf_counter()
    for _ in range(len(ids)):
        pysodium.crypto_scalarmult_ristretto255(scalar, point)
    mult_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for i in ids:
        data = i.encode()
        b = oprf.blind(data)
        oprf.finalize(data, b.blind, oprf.evaluate(key, b.element))
    seconds = time.perf_counter() - started
    floor = len(ids) / mult_seconds / 3
    return {"ids": len(ids), "seconds": round(seconds, 2), "per_second": round(len(ids) / seconds),
            "floor_three_scalar_mults_per_second": round(floor),
            "ratio_to_floor": round(len(ids) / seconds / floor, 3)}  # fmt: skip


def over_http(ids: list[str], batch: int, intake_persons: int) -> tuple[dict, dict]:
    from sqlalchemy import create_engine, text

    from zhengxin.config import FederationSettings, Settings
    from zhengxin.deployment import migrate
    from zhengxin.federation import members, pseudonyms
    from zhengxin.kit import clock
    from zhengxin.kit.signing import SigningKeys
    from zhengxin.parties.service import Actor
    from zhengxin.runtime import Runtime

    schema = "zx_bench_federation"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    env = {"ZHENGXIN_PEPPER": secrets.token_hex(32), "ZHENGXIN_VAULT_KEYS": json.dumps({"k1": secrets.token_hex(32)}),
           "ZHENGXIN_VAULT_ACTIVE_KEY": "k1", "ZHENGXIN_LOG_SIGNING_KEYS": json.dumps({"l1": secrets.token_hex(32)}),
           "ZHENGXIN_LOG_ACTIVE_KEY": "l1", "ZHENGXIN_ARTEFACT_SIGNING_KEYS": json.dumps({"d1": secrets.token_hex(32)}),
           "ZHENGXIN_ARTEFACT_ACTIVE_KEY": "d1", "ZHENGXIN_FEDERATION__OPRF_KEY": secrets.token_hex(32),
           "ZHENGXIN_FEDERATION__MAX_BLINDED": str(batch), "ZHENGXIN_RATE_LIMITS__ENABLED": "false"}  # fmt: skip
    os.environ.update(env)
    runtime = Runtime(Settings(database_url=url))
    migrate(runtime.engine)
    seed = secrets.token_bytes(32)
    from stdnum.cn import uscc as uscc_code

    uscc = "91310000000000077" + uscc_code.calc_check_digit("91310000000000077")
    with runtime.transaction() as conn:
        members.admit(conn, Actor("bench", "regulator", "bench"), name="Bench Agency", uscc=uscc,
                      base_url="https://bench.example", signing_key=SigningKeys({"s": seed}, "s").public_keys()["s"],
                      now=clock.now())  # fmt: skip
    runtime.engine.dispose()
    port = 8795
    log = open(Path(tempfile.gettempdir()) / "federation-bench-server.log", "wb")  # noqa: SIM115 - the server's life
    server = subprocess.Popen([sys.executable, "-c", "from zhengxin.cli import main; main()", "serve", "--db", url,
                               "--port", str(port), "--no-access-log"], stdout=log, stderr=log,
                              env={**os.environ, **env})  # fmt: skip
    try:
        import httpx

        for _ in range(120):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        member = SimpleNamespace(federation=FederationSettings(uscc=uscc, signing_key=seed.hex(),
                                                               regulator_url=f"http://127.0.0.1:{port}",
                                                               max_blinded=batch))  # fmt: skip
        pseudonyms.derive(ids[:batch], member)  # warm up
        started = time.perf_counter()
        pseudonyms.derive(ids, member)
        seconds = time.perf_counter() - started
        intake = intake_cost(member.federation, intake_persons)
    finally:
        server.terminate()
        server.wait(timeout=30)
    rate = {"ids": len(ids), "batch": batch, "seconds": round(seconds, 2), "per_second": round(len(ids) / seconds)}
    return rate, intake


def intake_cost(federation, persons: int) -> dict:
    """Seconds to furnish one platform's loans into a fresh deployment, plain and as a member."""
    from sqlalchemy import create_engine, text

    from zhengxin.config import Settings
    from zhengxin.deployment import migrate
    from zhengxin.furnishing.flows import furnish_file
    from zhengxin.parties.service import add_party
    from zhengxin.runtime import Runtime
    from zhengxin.synth import PLATFORMS, generate, write_files

    folder = HERE / "data" / f"synth-{persons}-3"
    if not folder.exists():
        write_files(generate(persons, seed=3), folder, ["parquet"])
    path = folder / PLATFORMS[0].slug / "loan.parquet"
    out = {}
    for mode in ("plain", "member"):
        schema = f"zx_bench_federation_{mode}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        admin.dispose()
        extra = {"federation": federation} if mode == "member" else {}
        runtime = Runtime(Settings(database_url=f"{PG_URL}?options=-csearch_path%3D{schema}", **extra))
        migrate(runtime.engine)
        with runtime.transaction() as conn:
            add_party(conn, runtime.settings, role="furnisher", name=PLATFORMS[0].name, uscc=PLATFORMS[0].uscc)
        started = time.perf_counter()
        batch = furnish_file(runtime, PLATFORMS[0].name, path)
        seconds = time.perf_counter() - started
        runtime.engine.dispose()
        out[mode] = {"records": batch["accepted"], "seconds": round(seconds, 2),
                     "records_per_second": round(batch["accepted"] / seconds)}  # fmt: skip
    out["ratio_member_to_plain"] = round(out["member"]["seconds"] / out["plain"]["seconds"], 2)
    return out


def psi_cardinality(n: int) -> dict:
    from zhengxin.federation import psi

    shared = [secrets.token_hex(64) for _ in range(n // 2)]
    set_a = shared + [secrets.token_hex(64) for _ in range(n - len(shared))]
    set_b = [secrets.token_hex(64) for _ in range(n - len(shared))] + shared
    a, b = psi.Party(), psi.Party()
    times = {}

    def timed(step: str, work):
        started = time.perf_counter()
        out = work()
        times[step] = time.perf_counter() - started
        return out

    to_b = timed("blind_a", lambda: a.blind(set_a))
    to_a = timed("blind_b", lambda: b.blind(set_b))
    from_b = timed("reblind_b", lambda: b.reblind(to_b))
    from_a = timed("reblind_a", lambda: a.reblind(to_a))
    count = timed("count", lambda: psi.cardinality(from_b, from_a))
    element = 32
    return {"persons_per_member": n, "count": count, "true_count": len(shared),
            "seconds": {k: round(v, 2) for k, v in times.items()},
            "seconds_per_member": round(times["blind_a"] + times["reblind_a"], 1),
            "bytes_sent": {"member_to_member": n * element, "member_to_regulator": n * element,
                           "total": 4 * n * element}}  # fmt: skip


def inquiry_latency(samples: int, persons: int) -> dict:
    """Inquiries at agency 1 of `zhengxin demo --agencies 3` (SQLite, in a temporary directory),
    in process, against the other two agencies' served processes: without the federation scope,
    with two peers, and with one (agency 3 taken off agency 1's list). Each inquiry under a fresh
    authorization; only the inquiry is timed."""
    import socket

    from zhengxin.config import load_settings
    from zhengxin.consent.service import grant
    from zhengxin.demo_federation import agency_uscc, build_federation_demo
    from zhengxin.federation import members
    from zhengxin.identity.tokens import person_token
    from zhengxin.inquiries.flows import inquire
    from zhengxin.kit import clock
    from zhengxin.parties.service import Actor, find_party
    from zhengxin.runtime import Runtime

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1] % 50_000 + 10_000
    tmp = Path(tempfile.mkdtemp(prefix="zx-federation-"))
    _, servers = build_federation_demo(tmp, agencies=3, persons=persons, seed=5, port=port)
    try:
        runtime = Runtime(load_settings(tmp / "agency-1", None))
        credentials = json.loads((tmp / "agency-1" / "credentials.json").read_text())
        ids = [c["person_id"] for c in credentials if c["role"] == "individual"]
        lender = next(c for c in credentials if c["role"] == "lender")
        with runtime.reading() as conn:
            lender_actor = Actor(find_party(conn, lender["name"], "lender")["id"], "lender", lender["name"])

        def measure(scopes: list[str]) -> dict:
            times, answered = [], 0
            for i in range(samples):
                pid = ids[i % len(ids)]
                person = Actor("bench-person", "individual", "bench", person_token(runtime.pepper, pid))
                with runtime.transaction() as conn:
                    authorization = grant(conn, runtime, person, lender=lender["name"], purpose="loan_application",
                                          scopes=scopes)  # fmt: skip
                started = time.perf_counter()
                with runtime.transaction() as conn:
                    result = inquire(conn, runtime, lender_actor, person_id=pid, authorization_id=authorization["id"],
                                     purpose="loan_application", product="report", applicant_identity_verified=True)
                times.append(time.perf_counter() - started)
                answered += sum(o["status"] == "answered" for o in result.inquiry.get("federation") or [])
            return {**percentiles(times), "peer_answers": answered}

        plain = measure(["loan"])
        two = measure(["loan", "federation"])
        with runtime.transaction() as conn:
            members.remove(conn, Actor("bench", "regulator", "bench"), agency_uscc(3), now=clock.now())
        one = measure(["loan", "federation"])
        runtime.engine.dispose()
    finally:
        for proc in servers:
            proc.kill()
    return {"persons": persons, "without_federation": plain, "one_peer": one, "two_peers": two,
            "ratio_p50_one_peer": round(one["p50_ms"] / plain["p50_ms"], 2),
            "ratio_p50_two_peers": round(two["p50_ms"] / plain["p50_ms"], 2),
            "ratio_p99_two_peers": round(two["p99_ms"] / plain["p99_ms"], 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--intake-persons", type=int, default=20_000, help="the population whose loans are furnished")
    parser.add_argument("--psi", type=lambda v: [int(x) for x in v.split(",")], default=[100_000],
                        help="persons per member for the PSI cardinality, comma-separated")
    parser.add_argument("--inquiries", type=int, default=300, help="inquiries timed per case (0: skip)")
    parser.add_argument("--only", choices=["inquiries"], help="run only this part; the file keeps the other figures")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "federation.json"
    out = json.loads(path.read_text()) if path.exists() else {"benchmark": "federation"}
    out["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    if args.inquiries:
        latency = inquiry_latency(args.inquiries, persons=2000)
        out["inquiry_latency"] = latency
        for case in ("without_federation", "one_peer", "two_peers"):
            c = latency[case]
            print(f"inquiry {case.replace('_', ' ')}: p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms "
                  f"({c['peer_answers']} peer answers)", flush=True)  # fmt: skip
        print(f"ratio to no federation, p50: one peer {latency['ratio_p50_one_peer']}, two peers "
              f"{latency['ratio_p50_two_peers']}; p99 two peers {latency['ratio_p99_two_peers']}")  # fmt: skip
    if args.only is None:
        out.update(pseudonyms_intake_psi(args))
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path}")


def pseudonyms_intake_psi(args) -> dict:
    ids = resident_ids(args.ids)
    local = in_process(ids)
    floor = local["floor_three_scalar_mults_per_second"]
    print(f"in process: {local['per_second']:,} pseudonyms/s (floor, three scalar multiplications: {floor:,}/s; "
          f"ratio {local['ratio_to_floor']})", flush=True)  # fmt: skip
    http, intake = over_http(ids, args.batch, args.intake_persons)
    http["ratio_to_in_process"] = round(http["per_second"] / local["per_second"], 3)
    print(f"through the regulator's node: {http['per_second']:,} pseudonyms/s in batches of {args.batch:,} "
          f"(ratio to in process {http['ratio_to_in_process']})")  # fmt: skip
    print(f"intake of {intake['plain']['records']:,} loan records: {intake['plain']['records_per_second']:,}/s plain, "
          f"{intake['member']['records_per_second']:,}/s deriving pseudonyms (time ratio "
          f"{intake['ratio_member_to_plain']})")  # fmt: skip
    cardinalities = []
    for n in args.psi:
        c = psi_cardinality(n)
        cardinalities.append(c)
        print(f"PSI cardinality, {n:,} persons per member: count {c['count']:,} (true {c['true_count']:,}); "
              f"{c['seconds_per_member']} s per member, count {c['seconds']['count']} s; "
              f"{c['bytes_sent']['total'] / 1e6:.1f} MB sent in all", flush=True)  # fmt: skip
    return {"pseudonyms": {"in_process": local, "over_http": http}, "intake": intake, "psi_cardinality": cardinalities}


if __name__ == "__main__":
    main()
