"""How fast the portal's pages are, against the API route that reads the same data.

    .venv/bin/python benchmarks/portal.py [--persons 2000] [--runs 50]

Builds a demo deployment (embedded SQLite) and, in process over the ASGI app, times each role's
main page and the JSON route serving the same service call; prints p50/p95 per page and the ratio
page ÷ API (the cost of rendering HTML, charts and translations on top of the same read), and
writes benchmarks/results/portal.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from zhengxin.app import create_app
from zhengxin.config import load_settings
from zhengxin.demo import build_demo
from zhengxin.runtime import Runtime

RESULTS = Path(__file__).parent / "results" / "portal.json"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# (role, page, the API route that serves the same data, language)
PAIRS = [
    ("individual", "/portal/me/accesses", "/v1/me/accesses"),
    ("individual", "/portal/me/authorizations", "/v1/authorizations"),
    ("lender", "/portal/lender/inquiries", "/v1/inquiries"),
    ("furnisher", "/portal/furnisher", "/v1/furnishing/batches"),
    ("regulator", "/portal/regulator", "/v1/supervision/obligations"),
    ("regulator", "/portal/regulator/transfers", "/v1/transfers"),
    ("overseer", "/portal/overseer", "/v1/log/entries?start=0&end=50"),
    ("agency", "/portal/agency", "/v1/parties"),
]


def timed(client: TestClient, url: str, runs: int, headers: dict | None = None) -> list[float]:
    client.get(url, headers=headers)  # warm: templates compiled, caches filled
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        out.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return out


def p(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100)[int(q) - 1], 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="zhengxin-portal-bench-"))
    start = time.perf_counter()
    build_demo(data_dir, persons=args.persons)
    build_seconds = time.perf_counter() - start
    credentials = json.loads((data_dir / "credentials.json").read_text())
    # Every request comes from one test client: past ~1,800 of them the per-address bucket
    # would answer 429 and the run would time the rate limiter, not the pages.
    os.environ["ZHENGXIN_RATE_LIMITS__ENABLED"] = "false"
    runtime = Runtime(load_settings(data_dir))
    app = create_app(runtime=runtime)
    rows = []
    for lang in ("zh_CN", "en"):
        for role, page, api in PAIRS:
            party = next(c for c in credentials if c["role"] == role)
            headers = {"Authorization": f"Bearer {party['api_key']}"}
            with TestClient(app) as client:
                client.get(f"/portal/lang/{lang}")
                form = client.get("/portal/signin")
                token = CSRF.search(form.text).group(1)
                signin = {"csrf_token": token, "api_key": party["api_key"], "person_id": party.get("person_id", "")}
                client.post("/portal/signin", data=signin)
                page_ms = timed(client, page, args.runs)
                api_ms = timed(client, api, args.runs, headers)
            row = {
                "role": role, "lang": lang, "page": page, "api": api,
                "page_p50_ms": p(page_ms, 50), "page_p95_ms": p(page_ms, 95),
                "api_p50_ms": p(api_ms, 50), "api_p95_ms": p(api_ms, 95),
                "ratio_p50": round(statistics.median(page_ms) / statistics.median(api_ms), 2),
            }  # fmt: skip
            rows.append(row)
            print(f"{lang:5} {page:30} p50 {row['page_p50_ms']:7.2f} ms  p95 {row['page_p95_ms']:7.2f} ms   "
                  f"{api:32} p50 {row['api_p50_ms']:7.2f} ms   page/api {row['ratio_p50']:.2f}")  # fmt: skip
    runtime.engine.dispose()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "portal",
        "command": f"python benchmarks/portal.py --persons {args.persons} --runs {args.runs}",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "persons": args.persons, "demo_build_seconds": round(build_seconds, 1), "runs": args.runs,
        "pages": rows,
    }, indent=2, ensure_ascii=False) + "\n")  # fmt: skip
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
