"""The log scan that runs over every test run finds what it is there to find."""

from __future__ import annotations

import logging

from tests.logscan import identifiers_in, synthetic_names


def test_the_scan_finds_resident_ids_mobiles_and_names_and_nothing_else():
    name = sorted(synthetic_names())[0]
    line = (f"GET /v1/policy/explain?person_id=11010519491231002X 200 · call 13800000001 · {name} · "
            "root 3f1a9b2c110105194912310029aa ts 1733212800000 count 12345678901234567")  # fmt: skip
    assert identifiers_in(line) == ["11010519491231002X", "13800000001", name]
    # hashes, millisecond timestamps and long counts are not identifiers; a bad checksum is not an ID
    assert identifiers_in("root 3f1a9b2c110105194912310029aa ts 1733212800000 n 110105194912310028") == []


def test_the_access_log_names_the_route_never_the_url(client, parties, caplog):
    _, regulator = parties.add("regulator", "PBOC")
    client_log = logging.getLogger("httpx")  # the test client's own log of the URLs it sends: this
    client_log.disabled = True  # test sends an ID in a URL on purpose, the server must not log it
    with caplog.at_level(logging.INFO, logger="zhengxin.access"):
        client.get("/v1/policy/explain", params={"action": "inquire", "principal": "nobody",
                                                  "person_id": "11010519491231002X"}, headers=regulator)  # fmt: skip
        client.get("/v1/11010519491231002X")
    client_log.disabled = False
    lines = [r.getMessage() for r in caplog.records if r.name == "zhengxin.access"]
    assert lines[0].startswith("GET /v1/policy/explain 404 ") and lines[0].endswith(regulator_id(client, regulator))
    assert lines[1].startswith("GET unmatched 404 ")
    assert identifiers_in("\n".join(lines)) == []


def regulator_id(client, headers) -> str:
    return f"regulator:{client.get('/v1/parties/me', headers=headers).json()['id']}"
