"""Shared fixtures: every test that touches the database runs on SQLite and on PostgreSQL.

PostgreSQL is required, not optional: if ZHENGXIN_TEST_PG_URL (default: the local server,
database `test`) cannot be reached, the PostgreSQL tests fail rather than skip.
"""

from __future__ import annotations

import logging
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from zhengxin.app import create_app
from zhengxin.config import Settings
from zhengxin.deployment import migrate
from zhengxin.kit.db import make_engine
from zhengxin.parties.service import add_party
from zhengxin.runtime import Runtime
from zhengxin.schema import metadata

PG_URL = os.environ.get("ZHENGXIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = os.environ.get("ZHENGXIN_TEST_BACKENDS", "sqlite,postgresql").split(",")


def make_settings(url: str, **extra) -> Settings:
    # Every test client is one address: limits are on where a test asks for them (and in the
    # browser and fault tests, which run deployments as configured by default).
    extra.setdefault("rate_limits", {"enabled": False})
    return Settings(
        database_url=url,
        pepper=secrets.token_hex(32),
        vault_keys={"k1": secrets.token_hex(32)},
        vault_active_key="k1",
        log_signing_keys={"log1": secrets.token_hex(32)},
        log_active_key="log1",
        artefact_signing_keys={"doc1": secrets.token_hex(32)},
        artefact_active_key="doc1",
        **extra,
    )


@pytest.fixture(scope="session", autouse=True)
def logs_hold_no_identifiers(tmp_path_factory) -> Iterator[None]:
    """Every log record of the whole run (ours, uvicorn's, the test clients') at INFO goes to a
    file, which is scanned at the end for every resident ID, mobile number and synthetic name:
    a log line is no place for them (issue 15, finding 5)."""
    from tests.logscan import identifiers_in

    path = tmp_path_factory.mktemp("logs") / "run.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()
    text = path.read_text(encoding="utf-8")
    assert "zhengxin.access" in text or "HTTP Request" in text or not text  # the capture saw requests
    found = identifiers_in(text)
    assert not found, f"personal identifiers in the logs ({path}): {sorted(set(found))[:10]}"


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A private schema in the test database for this test process, migrated once."""
    schema = f"zx_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable: {e}")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("db") / "zhengxin.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request) -> str:
    return request.getfixturevalue("pg_schema_url" if request.param == "postgresql" else "sqlite_url")


def _empty_all_tables(engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(t.name for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def runtime(db_url, tmp_path) -> Iterator[Runtime]:
    # Files a deployment writes (reports, exports) go to the test's own directory.
    rt = Runtime(make_settings(db_url, intake_chunk_rows=1000, data_dir=tmp_path / "data"))
    _empty_all_tables(rt.engine)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def client(runtime) -> Iterator[TestClient]:
    # A loopback host, as the embedded demo is served: the portal cookie is Secure anywhere else.
    with TestClient(create_app(runtime=runtime), base_url="http://127.0.0.1") as c:
        yield c


class Parties:
    """Registers parties through the service and hands back authorization headers."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._n = 0

    def add(self, role: str, name: str | None = None, **extra) -> tuple[dict, dict]:
        from stdnum.cn import uscc

        self._n += 1
        name = name or f"{role}-{self._n}"
        if role in ("furnisher", "lender") and "uscc" not in extra:
            body = f"91110000{self._n:09d}"
            extra["uscc"] = body + uscc.calc_check_digit(body)
        with self.runtime.transaction() as conn:
            row, key = add_party(conn, self.runtime.settings, role=role, name=name, **extra)
        return row, {"Authorization": f"Bearer {key}"}


@pytest.fixture
def parties(runtime) -> Parties:
    return Parties(runtime)


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).parent / "data"
