"""A federation on this machine for the tests: the regulator's node and agencies, each its own
`zhengxin serve` process with its own database, pepper, keys and log, joined as `zhengxin
federation join` joins them (the regulator's signed list, adopted by each agency)."""

from __future__ import annotations

import secrets
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.bureau import Bureau, a_uscc
from tests.conftest import PG_URL, Parties, make_settings
from tests.servers import Server
from zhengxin.deployment import migrate
from zhengxin.federation import members
from zhengxin.kit import clock
from zhengxin.kit.db import make_engine
from zhengxin.parties.service import Actor
from zhengxin.runtime import Runtime

from .test_membership import _keypair

REGULATOR = Actor("regulator-node", "regulator", "PBOC")


def databases(backend: str, tmp: Path, n: int):
    """`n` fresh migrated databases: SQLite files, or PostgreSQL schemas dropped afterwards."""
    if backend == "sqlite":
        urls = [f"sqlite:///{tmp}/node{i}.db" for i in range(n)]
        schemas: list[str] = []
    else:
        schemas = [f"zx_fed_{uuid.uuid4().hex[:10]}" for _ in range(n)]
        with create_engine(PG_URL).begin() as conn:
            for schema in schemas:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
        urls = [f"{PG_URL}?options=-csearch_path%3D{schema}" for schema in schemas]
    for url in urls:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()

    def drop() -> None:
        if schemas:
            with create_engine(PG_URL).begin() as conn:
                for schema in schemas:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))

    return urls, drop


class Loopback:
    """An http.server on loopback, served by a thread of this process: each POST is answered
    by `answer(path, body, headers)` with (status, content type, content)."""

    def __init__(self, answer):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status, content_type, content = answer(self.path, body, dict(self.headers.items()))
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Recorder(Loopback):
    """A reverse proxy in front of the regulator's node that keeps every request it passes on:
    what the regulator's node received, byte for byte."""

    def __init__(self, target: str):
        self.received: list[tuple[str, bytes, dict]] = []

        def forward(path: str, body: bytes, headers: dict):
            # The Host header is passed on: the signature covers the authority the member aimed at.
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            self.received.append((path, body, headers))
            r = httpx.post(target + path, content=body, headers=headers, timeout=30)
            return r.status_code, r.headers.get("content-type", "application/json"), r.content

        super().__init__(forward)


class Fixed(Loopback):
    """A server that answers every request with the same status and body (a member answering
    what no member would)."""

    def __init__(self, status: int, content: bytes):
        super().__init__(lambda path, body, headers: (status, "application/json", content))


class Node:
    """One deployment: its settings, a runtime on its database (to set it up as its operator
    would), its server process and an HTTP client to it."""

    def __init__(self, name: str, url: str, tmp: Path, **federation):
        self.name = name
        self.settings = make_settings(url, data_dir=tmp / name, federation=federation)
        self.runtime = Runtime(self.settings)
        self.parties = Parties(self.runtime)
        (tmp / name).mkdir(exist_ok=True)
        self.server = Server(url, self.settings, tmp / name)
        self.http: httpx.Client | None = None

    def start(self) -> Node:
        self.server.start()
        self.http = httpx.Client(base_url=self.server.base, timeout=30)
        return self

    def stop(self) -> None:
        self.server.kill()
        if self.http is not None:
            self.http.close()
        self.runtime.engine.dispose()


class Federation:
    """The regulator's node (behind a Recorder) and `agencies` member agencies, started."""

    def __init__(self, urls: list[str], tmp: Path, agencies: int = 2, budget_ms: int = 300):
        self.regulator = Node("regulator", urls[0], tmp, oprf_key=secrets.token_hex(32))
        self.proxy = Recorder(self.regulator.server.base)
        self.agencies: list[Node] = []
        self.public: dict[str, str] = {}
        for k in range(1, agencies + 1):
            seed, public = _keypair()
            node = Node(f"agency-{k}", urls[k], tmp, uscc=a_uscc(800 + k), signing_key=seed.hex(),
                        regulator_url=self.proxy.base, peer_budget_ms=budget_ms)  # fmt: skip
            self.agencies.append(node)
            self.public[node.settings.federation.uscc] = public
        for node in self.agencies:
            self.admit(node)
        self.publish()
        for node in (self.regulator, *self.agencies):
            node.start()

    def admit(self, node: Node, base_url: str | None = None) -> None:
        with self.regulator.runtime.transaction() as conn:
            members.admit(conn, REGULATOR, name=f"Agency {node.name[-1]}", uscc=node.settings.federation.uscc,
                          base_url=base_url or node.server.base, signing_key=self.public[node.settings.federation.uscc],
                          artefact_keys=node.runtime.artefact_keys.public_keys(), now=clock.now())  # fmt: skip

    def remove(self, node: Node) -> None:
        with self.regulator.runtime.transaction() as conn:
            members.remove(conn, REGULATOR, node.settings.federation.uscc, now=clock.now())

    def publish(self) -> None:
        """Every agency takes the regulator's current signed list, as `federation join` does."""
        with self.regulator.runtime.reading() as conn:
            signed = members.document(conn, self.regulator.runtime.artefact_keys, now=clock.now())
        keys = self.regulator.runtime.artefact_keys.public_keys()
        for node in self.agencies:
            with node.runtime.transaction() as conn:
                members.adopt(conn, signed, keys, now=clock.now())

    def bureau(self, node: Node) -> Bureau:
        return Bureau(node.http, node.parties)

    def stop(self) -> None:
        for node in (*self.agencies, self.regulator):
            node.stop()
        self.proxy.close()
