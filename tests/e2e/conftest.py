"""Browser tests: the demo deployment (300 persons, built through the real paths) served by
uvicorn on a free port, on SQLite and on PostgreSQL, driven by Playwright in the machine's
Chromium (/usr/bin/chromium; `.ci/run` installs Debian's package when it is missing)."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import create_engine, text

from tests.conftest import BACKENDS, PG_URL
from zhengxin.app import create_app
from zhengxin.config import load_settings
from zhengxin.demo import build_demo
from zhengxin.runtime import Runtime

CHROMIUM = os.environ.get("ZHENGXIN_CHROMIUM", "/usr/bin/chromium")
DEMO_PERSONS = 300
LANGS = ("zh_CN", "en")

pytestmark = pytest.mark.slow


@dataclass
class Site:
    url: str
    backend: str
    data_dir: Path
    runtime: Runtime
    credentials: list[dict]

    def party(self, role: str, index: int = 0, **match) -> dict:
        found = [c for c in self.credentials if c["role"] == role and all(c.get(k) == v for k, v in match.items())]
        return found[index]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", params=BACKENDS)
def site(request, tmp_path_factory) -> Iterator[Site]:
    backend = request.param
    data_dir = tmp_path_factory.mktemp(f"portal-{backend}")
    schema = None
    database_url = None
    if backend == "postgresql":
        schema = f"zx_e2e_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_URL)
        try:
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable: {e}")
        database_url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    build_demo(data_dir, persons=DEMO_PERSONS, database_url=database_url)
    runtime = Runtime(load_settings(data_dir, database_url))
    port = _free_port()
    config = uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("the portal server did not start")
        time.sleep(0.05)
    credentials = json.loads((data_dir / "credentials.json").read_text())
    yield Site(f"http://127.0.0.1:{port}", backend, data_dir, runtime, credentials)
    server.should_exit = True
    thread.join(timeout=10)
    runtime.engine.dispose()
    if schema:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}: install Debian's chromium package")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def sign_in(page, site: Site, party: dict, lang: str = "zh_CN") -> None:
    """Choose the language on the sign-in page, then sign in as this party by keyboard."""
    page.goto(f"{site.url}/portal/lang/{lang}?next=/portal/signin")
    page.get_by_label(re.compile("API key|API 密钥")).fill(party["api_key"])
    if party["role"] == "individual":
        page.get_by_label(re.compile("Resident ID|居民身份证号")).fill(party["person_id"])
    page.get_by_label(re.compile("API key|API 密钥")).press("Enter")
    page.wait_for_load_state()
    assert "/portal/signin" not in page.url, page.content()[:2000]


def t(lang: str, en: str, zh: str) -> str:
    """The text a test expects in the page's language."""
    return zh if lang == "zh_CN" else en
