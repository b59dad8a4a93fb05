"""`zhengxin serve` as a real process, for the tests that kill servers or run several."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def secrets_env(settings) -> dict[str, str]:
    """The deployment's secrets as the server process reads them from its environment."""

    def keys(d):
        return json.dumps({k: v.get_secret_value() for k, v in d.items()})

    federation = {
        f"ZHENGXIN_FEDERATION__{name.upper()}": value.get_secret_value() if hasattr(value, "get_secret_value")
        else str(value)
        for name, value in settings.federation if value is not None
    }  # fmt: skip
    return {
        **federation,
        "ZHENGXIN_PEPPER": settings.pepper.get_secret_value(),
        "ZHENGXIN_VAULT_KEYS": keys(settings.vault_keys),
        "ZHENGXIN_VAULT_ACTIVE_KEY": settings.vault_active_key,
        "ZHENGXIN_LOG_SIGNING_KEYS": keys(settings.log_signing_keys),
        "ZHENGXIN_LOG_ACTIVE_KEY": settings.log_active_key,
        "ZHENGXIN_ARTEFACT_SIGNING_KEYS": keys(settings.artefact_signing_keys),
        "ZHENGXIN_ARTEFACT_ACTIVE_KEY": settings.artefact_active_key,
    }


class Server:
    """`zhengxin serve` in its own process group, with a private temporary directory."""

    def __init__(self, url: str, settings, tmp: Path):
        self.url, self.tmp = url, tmp
        self.env = {
            **os.environ,
            **secrets_env(settings),
            "TMPDIR": str(tmp),
            "ZHENGXIN_DATA_DIR": str(tmp),
            "ZHENGXIN_RATE_LIMITS__ENABLED": "false",
        }  # the load here is one address, on purpose
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        cmd = [sys.executable, "-c", "from zhengxin.cli import main; main()", "serve", "--db", self.url,
               "--port", str(self.port), "--no-access-log"]  # fmt: skip
        self.log = self.tmp / f"server-{self.port}.log"  # a file: a pipe nobody reads would fill and stall it
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.kill()
        raise AssertionError("the server did not start: " + self.log.read_text()[-2000:])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
