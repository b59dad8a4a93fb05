"""A bounded soak: mixed traffic against `zhengxin serve --workers 2` on PostgreSQL.

Threads loop over the real routes by weight: furnishing small batches, persons granting
authorizations, lenders inquiring with them, persons reading their own report, portal pages.
Prints errors (every answer other than the route's success, except designed 429s), p99 by
route and each server worker's resident-memory growth; writes benchmarks/results/soak.json.

    python benchmarks/soak.py                 # ten minutes, 8 client threads
    python benchmarks/soak.py --minutes 1
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from inquiry import DATA, RESULTS, SCOPES, deployment, percentiles, populate, runtime_for, serve  # noqa: E402

WEIGHTS = {"intake": 1, "grant": 6, "inquiry": 6, "self_query": 4, "portal": 3}
SUCCESS = {"intake": {200, 201}, "grant": {201}, "inquiry": {201}, "self_query": {200}, "portal": {200}}


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def _workers(group: int) -> list[int]:
    """The server's processes (its process group), the supervisor included."""
    out = subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True).stdout.split()
    return sorted(int(p) for p in out)


def setup(runtime, persons: int, seed: int, individuals: int) -> dict:
    from zhengxin.parties.service import add_party, issue_key
    from zhengxin.synth import LENDERS, PLATFORMS

    populate(runtime, persons, seed)
    folder = DATA / f"synth-{persons}-{seed}"
    loans = pl.concat([pl.read_parquet(p) for p in sorted(folder.glob("*/loan.parquet"))])
    ids = sorted(set(loans["person_id"].to_list()))
    rng = random.Random(seed)
    chosen = rng.sample(ids, individuals)
    keys = {"persons": [], "lenders": [], "furnishers": []}
    with runtime.transaction() as conn:
        for n, pid in enumerate(chosen):
            _, key = add_party(conn, runtime.settings, role="individual", name=f"soak-person-{n}", person_id=pid)
            keys["persons"].append(key)
    from sqlalchemy import text

    with runtime.transaction() as conn:
        for org, role in [(o, "lender") for o in LENDERS] + [(o, "furnisher") for o in PLATFORMS]:
            pid = conn.execute(text("SELECT id FROM parties WHERE name = :n"), {"n": org.name}).scalar_one()
            _, key = issue_key(conn, pid)
            keys["lenders" if role == "lender" else "furnishers"].append((org.name, key))
    keys["person_ids"] = chosen
    keys["loans"] = loans.drop("furnisher", strict=False).head(50_000)
    return keys


class Soak:
    def __init__(self, base: str, keys: dict, seconds: float):
        self.base, self.keys, self.deadline = base, keys, time.monotonic() + seconds
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.limited = 0
        self.grants: list[tuple[int, str, str]] = []  # (person index, lender name, authorization id)
        self.lock = threading.Lock()
        self.batches = 0

    def note(self, action: str, started: float, r: httpx.Response | None) -> None:
        with self.lock:
            self.latency[action].append(time.perf_counter() - started)
            if r is None:
                self.errors[action]["connection"] += 1
            elif r.status_code == 429:
                self.limited += 1
            elif r.status_code not in SUCCESS[action]:
                self.errors[action][str(r.status_code)] += 1

    def one(self, client: httpx.Client, rng: random.Random) -> None:
        action = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        if action == "inquiry" and not self.grants:
            action = "grant"
        persons = self.keys["persons"]
        started = time.perf_counter()
        r = None
        try:
            if action == "intake":
                name, key = rng.choice(self.keys["furnishers"])
                loans = self.keys["loans"]
                start = rng.randrange(0, loans.height - 50)
                buffer = io.BytesIO()
                loans.slice(start, 50).write_csv(buffer)
                with self.lock:
                    self.batches += 1
                    batch = self.batches
                r = client.post("/v1/furnishing/batches", content=buffer.getvalue(),
                                headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv",
                                         "Idempotency-Key": f"soak-{os.getpid()}-{batch}"})  # fmt: skip
            elif action == "grant":
                i = rng.randrange(len(persons))
                lender, _ = rng.choice(self.keys["lenders"])
                r = client.post("/v1/authorizations", headers={"Authorization": f"Bearer {persons[i]}"},
                                json={"lender": lender, "purpose": "loan_application", "scopes": SCOPES})  # fmt: skip
                if r.status_code == 201:
                    with self.lock:
                        self.grants.append((i, lender, r.json()["id"]))
            elif action == "inquiry":
                with self.lock:
                    i, lender, authorization = self.grants.pop(rng.randrange(len(self.grants)))
                key = dict(self.keys["lenders"])[lender]
                r = client.post("/v1/inquiries", headers={"Authorization": f"Bearer {key}"},
                                json={"person_id": self.keys["person_ids"][i], "authorization_id": authorization,
                                      "purpose": "loan_application", "product": "report"})  # fmt: skip
            elif action == "self_query":
                r = client.get("/v1/me/report", headers={"Authorization": f"Bearer {rng.choice(persons)}"})
            else:
                r = client.get(rng.choice(["/portal/signin", "/docs"]))
        except httpx.HTTPError:
            r = None
        self.note(action, started, r)

    def run(self, threads: int) -> None:
        def loop(n: int) -> None:
            rng = random.Random(n)
            with httpx.Client(base_url=self.base, timeout=30) as client:
                while time.monotonic() < self.deadline:
                    self.one(client, rng)

        pool = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--persons", type=int, default=5000)
    parser.add_argument("--individuals", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()

    url, env, _ = deployment("postgresql", args.persons, reuse=False)
    runtime = runtime_for(url, env)
    print(f"populating {args.persons:,} persons ...", flush=True)
    keys = setup(runtime, args.persons, args.seed, args.individuals)
    runtime.engine.dispose()
    proc = serve(url, env, args.port, 2)
    try:
        processes = _workers(proc.pid)
        rss_start = {p: _rss_mb(p) for p in processes}
        soak = Soak(f"http://127.0.0.1:{args.port}", keys, args.minutes * 60)
        print(f"soaking for {args.minutes} min with {args.threads} client threads ...", flush=True)
        started = time.perf_counter()
        soak.run(args.threads)
        seconds = time.perf_counter() - started
        rss_end = {p: _rss_mb(p) for p in processes}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    routes = {a: {"requests": len(v), **percentiles(v)} for a, v in soak.latency.items()}
    errors = {a: dict(e) for a, e in soak.errors.items() if e}
    growth = {str(p): round(rss_end[p] - rss_start[p], 1) for p in processes}
    total = sum(len(v) for v in soak.latency.values())
    for action, figures in sorted(routes.items()):
        print(f"  {action:11} {figures['requests']:>7,} requests  p50 {figures['p50_ms']:>8.2f} ms  "
              f"p99 {figures['p99_ms']:>8.2f} ms", flush=True)  # fmt: skip
    print(f"  {total:,} requests in {seconds:.0f} s ({total / seconds:.0f}/s); errors {errors or 0}; "
          f"429s {soak.limited}; resident memory growth per process (MB) {growth}")  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    out = {
        "benchmark": "soak",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "minutes": args.minutes,
        "client_threads": args.threads,
        "server_workers": 2,
        "persons": args.persons,
        "requests": total,
        "requests_per_second": round(total / seconds, 1),
        "errors": errors,
        "rate_limited_429": soak.limited,
        "routes": routes,
        "rss_start_mb": {str(p): round(v, 1) for p, v in rss_start.items()},
        "rss_growth_mb": growth,
    }
    (RESULTS / "soak.json").write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS / 'soak.json'}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
