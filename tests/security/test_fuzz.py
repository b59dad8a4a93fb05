"""Issue 15: Schemathesis in CI. scripts/fuzz.py builds a small demo deployment, serves it and runs
`st run` against its OpenAPI document with each role's key: it fails on any 5xx, any status the
document does not list, and any answer that does not match its schema. Here it runs briefly with a
fixed seed; run the script itself for longer (`--seconds 600`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).parents[2] / "scripts" / "fuzz.py"


def test_every_role_fuzzes_clean(tmp_path):
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--seconds", "25", "--seed", "15", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    roles = {r["role"]: r for r in json.loads(run.stdout.strip().splitlines()[-1])["roles"]}
    assert set(roles) == {"agency", "regulator", "overseer", "lender", "furnisher", "individual"}
    for result in roles.values():
        # Every operation of the document was tried, with many cases, and nothing failed.
        assert result["operations"] > 100 and result["cases"] > 500 and result["failures"] == 0, result
