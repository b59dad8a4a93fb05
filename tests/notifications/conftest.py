"""The app without its own background worker (these tests run the worker's jobs themselves,
at the moments they choose), and a real HTTP receiver for webhooks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from tests.bureau import Bureau
from zhengxin.app import create_app


@pytest.fixture
def client(runtime) -> Iterator[TestClient]:
    runtime.settings.log_schedule = False
    with TestClient(create_app(runtime=runtime)) as c:
        yield c


@pytest.fixture
def bureau(client, parties) -> Bureau:
    return Bureau(client, parties)


class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every request; it listens only once started."""

    def __init__(self, delay: float = 0.0):
        with socket.socket() as s:  # a free port, not listened on until `start`
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/zhengxin"
        self.delay = delay
        self.received: list[tuple[dict, bytes]] = []
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver(runtime) -> Iterator[Receiver]:
    """A receiver, with the settings that let the agency call plain http on loopback, on its port."""
    runtime.settings.notifications.require_https = False
    runtime.settings.notifications.allow_private_addresses = True
    r = Receiver()
    runtime.settings.notifications.allowed_ports = [443, 8443, r.port]
    yield r
    r.stop()
