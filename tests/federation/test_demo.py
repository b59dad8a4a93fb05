"""`zhengxin demo --agencies 2` (issue 20): two agencies and the regulator's node from one
population, each served by its own process; a lender's inquiry at agency 1 under a person's
`federation` authorization shows agency 2's summary of that person."""

from __future__ import annotations

import json
import random
import socket

import httpx
import pytest
from typer.testing import CliRunner

from zhengxin.cli import app
from zhengxin.demo_federation import _serve, build_federation_demo


def _free_ports(n: int) -> int:
    """A port P with P .. P+n-1 all free."""
    for _ in range(50):
        port = random.randint(20_000, 60_000)
        try:
            for k in range(n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + k))
            return port
        except OSError:
            continue
    raise AssertionError("no free ports")


@pytest.mark.slow
def test_the_federation_demo_shows_the_other_agencys_summary(tmp_path):
    port = _free_ports(3)
    summary, servers = build_federation_demo(tmp_path, agencies=2, persons=400, seed=3, port=port)
    try:
        servers.append(_serve(tmp_path / "agency-1", port))
        one = json.loads((tmp_path / "agency-1" / "credentials.json").read_text())
        two = json.loads((tmp_path / "agency-2" / "credentials.json").read_text())
        people_one = {c["person_id"]: c["api_key"] for c in one if c["role"] == "individual"}
        people_two = {c["person_id"] for c in two if c["role"] == "individual"}
        shared = [p for p in people_one if p in people_two]
        assert len(shared) == summary["persons in more than one agency (shown)"] > 0
        lender = next(c for c in one if c["role"] == "lender")
        person_id = shared[0]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as agency1:
            granted = agency1.post("/v1/authorizations", headers={"Authorization": f"Bearer {people_one[person_id]}"},
                                   json={"lender": lender["name"], "purpose": "loan_application",
                                         "scopes": ["loan", "federation"]})  # fmt: skip
            assert granted.status_code == 201, granted.text
            r = agency1.post("/v1/inquiries", headers={"Authorization": f"Bearer {lender['api_key']}"},
                             json={"person_id": person_id, "authorization_id": granted.json()["id"],
                                   "purpose": "loan_application", "product": "report"})  # fmt: skip
        assert r.status_code == 201, r.text
        report = r.json()["report"]
        [peer] = report["federation"]["members"]
        assert peer["status"] == "answered" and peer["held"] is True and peer["summary"]["open_accounts"] >= 1
        assert report["multi_platform"]["agencies"] == 2
        assert report["multi_platform"]["active_platforms"] > peer["summary"]["platforms"]
    finally:
        for proc in servers:
            proc.kill()
            proc.wait(timeout=10)


def test_the_demo_takes_one_to_three_agencies():
    r = CliRunner().invoke(app, ["demo", "--agencies", "4", "--no-serve"])
    assert r.exit_code == 2
