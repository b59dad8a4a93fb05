"""No resident ID, name or phone furnished to zhengxin is stored in clear, on either database."""

from __future__ import annotations

import logging
import random
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from fastapi.testclient import TestClient

from tests.records import CONTENT_TYPES, ENCODERS, consumption, loan, resident_id, travel
from zhengxin.app import create_app
from zhengxin.deployment import init_deployment
from zhengxin.runtime import Runtime

CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 2000)]


def people(n: int) -> list[dict]:
    rng = random.Random(42)
    return [
        {
            "person_id": resident_id(i, birth=f"19{rng.randint(50, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}"),
            "name": "".join(rng.choice(CJK) for _ in range(3)),
            "phone": f"13{rng.randint(0, 9)}{rng.randint(10**7, 10**8 - 1)}",
        }
        for i in range(n)
    ]


def furnish_everything(runtime: Runtime, parties_fixture) -> list[dict]:
    who = people(40)
    _, h = parties_fixture.add("furnisher")
    _, agency = parties_fixture.add("agency")
    records = []
    for i, p in enumerate(who):
        records.append(loan(i, account_id=f"L{i}", **p))
        records.append(consumption(i, **{k: p[k] for k in ("person_id", "name")}))
        records.append(travel(i, **{k: p[k] for k in ("person_id", "name")}))
    # Rejected records carry identifiers too: they are quarantined, encrypted.
    records += [loan(900 + i, account_id=f"R{i}", product="bogus", **p) for i, p in enumerate(who[:10])]
    with TestClient(create_app(runtime=runtime)) as client:
        for fmt in ("csv", "jsonl", "parquet"):
            r = client.post(
                "/v1/furnishing/batches",
                content=ENCODERS[fmt](records),
                headers={**h, "Content-Type": CONTENT_TYPES[fmt], "Idempotency-Key": fmt},
            )
            assert r.json()["accepted"] > 0 and r.json()["rejected"] == 10
        _, bank = parties_fixture.add("lender", "Bank A")
        for i, p in enumerate(who[:5]):
            r = client.post(
                "/v1/parties", json={"role": "individual", "name": f"p{i}", "person_id": p["person_id"]}, headers=agency
            )
            assert r.status_code == 201
            # Authorizations, inquiries, reports, charges and decisions hold tokens, never identifiers.
            person = {"Authorization": f"Bearer {r.json()['api_key']}"}
            granted = client.post(
                "/v1/authorizations",
                json={"lender": "Bank A", "purpose": "credit_card_application", "scopes": ["loan", "consumption"]},
                headers=person,
            ).json()
            inquiry = {"person_id": p["person_id"], "authorization_id": granted["id"],
                       "purpose": "credit_card_application", "product": "report"}  # fmt: skip
            assert client.post("/v1/inquiries", json=inquiry, headers=bank).status_code == 201
            assert client.post("/v1/inquiries", json=inquiry, headers=bank).status_code == 403
    return who


def assert_absent(blob: bytes, who: list[dict], where: str) -> None:
    for p in who:
        for field in ("person_id", "name", "phone"):
            assert p[field].encode() not in blob, f"{field} found in clear in {where}"


def test_sqlite_file_holds_no_clear_identifiers(tmp_path: Path, caplog):
    from tests.conftest import Parties

    settings = init_deployment(tmp_path, None)
    runtime = Runtime(settings)
    with caplog.at_level(logging.DEBUG):
        who = furnish_everything(runtime, Parties(runtime))
    runtime.engine.dispose()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("zhengxin.db*"))
    assert len(blob) > 100_000
    assert_absent(blob, who, "the SQLite files")
    assert_absent(caplog.text.encode(), who, "the log")
    # The check itself can fail: the identifiers are really in the source records.
    assert who[0]["name"].encode() in ENCODERS["jsonl"]([loan(0, **who[0])])


def test_postgres_dump_holds_no_clear_identifiers(pg_schema_url):
    from tests.conftest import Parties, _empty_all_tables, make_settings

    runtime = Runtime(make_settings(pg_schema_url))
    _empty_all_tables(runtime.engine)
    who = furnish_everything(runtime, Parties(runtime))
    runtime.engine.dispose()
    url = urlparse(pg_schema_url.replace("+psycopg", ""))
    schema = parse_qs(url.query)["options"][0].split("=", 1)[1]
    dump = subprocess.run(
        [
            "pg_dump",
            "-h",
            url.hostname,
            "-p",
            str(url.port or 5432),
            "-U",
            url.username,
            "-n",
            schema,
            "--data-only",
            url.path.lstrip("/"),
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert b"COPY" in dump and len(dump) > 50_000
    assert_absent(dump, who, "the PostgreSQL dump")
