#!/usr/bin/env python3
"""Schemathesis against a running exchange, with every role's key.

Builds an embedded demo deployment (the real intake path, a small population), serves it, and runs
`st run` on its own OpenAPI document once per role, with every check but the two scripts/fuzz.toml
turns off (and says why): no 5xx, no status the document does not list, every answer matching its
schema, content type and headers, `Allow` as documented, auth never ignored, a created object
found and a deleted one gone. Exits non-zero when any run finds a failure; the CI runs it briefly
(tests/security/test_fuzz.py), this script runs it as long as you like:

    .venv/bin/python scripts/fuzz.py --seconds 600 --out /tmp/fuzz
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROLES = ("agency", "regulator", "overseer", "lender", "furnisher", "individual")
CONFIG = Path(__file__).with_name("fuzz.toml")  # which checks run, and the two exceptions
# Revoking keys would sign the run itself out: the route is covered by tests/parties.
EXCLUDED = ("DELETE /v1/parties/keys/{key_id}",)
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(directory: Path, persons: int) -> list[dict]:
    built = subprocess.run([BIN / "zhengxin", "demo", "--dir", str(directory), "--persons", str(persons),
                            "--no-serve"], capture_output=True, text=True)  # fmt: skip
    if built.returncode != 0:
        raise SystemExit("the demo deployment could not be built: " + built.stderr[-2000:])
    return json.loads((directory / "credentials.json").read_text())


def serve(directory: Path, port: int, log: Path) -> subprocess.Popen:
    # Every request comes from one address with one key, far above the limits a client gets.
    env = {**os.environ, "ZHENGXIN_RATE_LIMITS__ENABLED": "false"}
    with log.open("wb") as sink:  # a file, not a pipe: an undrained pipe would stall the server
        proc = subprocess.Popen(
            [BIN / "zhengxin", "serve", "--dir", str(directory), "--port", str(port), "--no-access-log"],
            env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.25)
    proc.kill()
    raise SystemExit("the server did not start: " + log.read_text()[-2000:])


def fuzz(port: int, role: str, key: str, seconds: int, seed: int, out: Path) -> dict:
    report = out / role
    cmd = [
        str(BIN / "st"), "--config-file", str(CONFIG), "run", f"http://127.0.0.1:{port}/openapi.json",
        "-H", f"Authorization: Bearer {key}", "--max-time", str(seconds), "--seed", str(seed), "--workers", "1",
        "--request-timeout", "30", "--report", "junit", "--report-dir", str(report),
        *[arg for operation in EXCLUDED for arg in ("--exclude-by", _exclude(operation))],
    ]  # fmt: skip
    # One worker: with two, Hypothesis's lambda descriptions parse source in two threads at once,
    # and CPython 3.11's parser is not safe for that ("AST constructor recursion depth mismatch").
    started = time.monotonic()
    # In the report directory: schemathesis keeps its cache in the working directory.
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=out, env={**os.environ, "NO_COLOR": "1"})
    (out / f"{role}.log").write_text(run.stdout + run.stderr)
    summary = _summary(run.stdout)
    return {"role": role, "exit": run.returncode, "seconds": round(time.monotonic() - started, 1), **summary}


def _exclude(operation: str) -> str:
    method, path = operation.split(" ", 1)
    return f'method == "{method}" && path == "{path}"'


def _summary(text: str) -> dict:
    """The counts schemathesis prints at the end of a run."""
    tested = generated = failures = 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Tested:"):
            tested = int(line.split()[1])
        elif "generated" in line and line[:1].isdigit():
            generated = int(line.split()[0])
            failures = int(line.split("found")[1].split()[0]) if "found" in line else 0
    return {"operations": tested, "cases": generated, "failures": failures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=120, help="time budget per role")
    parser.add_argument("--persons", type=int, default=100)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--out", type=Path, default=None, help="keep the logs and JUnit reports here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zhengxin-fuzz-"))
    out = args.out or work / "reports"
    out.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    try:
        credentials = build(work / "deployment", args.persons)
        port = free_port()
        server = serve(work / "deployment", port, out / "server.log")
        try:
            for role in args.roles.split(","):
                key = next(c["api_key"] for c in credentials if c["role"] == role)
                result = fuzz(port, role, key, args.seconds, args.seed, out)
                results.append(result)
                print(f"{role:<11} {result['operations']:>4} operations {result['cases']:>7} cases "
                      f"{result['failures']:>3} failures  {result['seconds']} s", flush=True)  # fmt: skip
                if result["exit"] != 0:  # what failed, in full, before the temporary logs go
                    sys.stdout.write((out / f"{role}.log").read_text()[-20000:])
        finally:
            server.terminate()
            server.wait(timeout=30)
        (out / "summary.json").write_text(json.dumps(results, indent=1))
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"roles": results}))
    return 0 if results and all(r["exit"] == 0 for r in results) else 1

if __name__ == "__main__":
    sys.exit(main())
