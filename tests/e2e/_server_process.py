"""Run ``plugway serve`` as a real child process for end-to-end tests.

Usage (see also the fixtures in ``tests/e2e/conftest.py``)::

    srv = ServerProcess(tmp_path)                 # tmp data dir, embedded default
    srv.start()                                   # spawns, waits for /healthz
    with srv.client() as http:                    # httpx.Client with the admin token
        http.get("/health")
    assert srv.stop() == 0                        # SIGTERM, waits, returns the exit code
    srv.start()                                   # same data dir and config: a restart

The server listens on port 0 (a free port chosen by the OS, no race) and prints the URL it
serves on; the helper reads it from the log. stdout and stderr go to a log file, never to a
pipe, so a chatty server can never block on a full pipe. Waits are bounded; nothing here
asserts on timing.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

__all__ = ["ServerFactory", "ServerProcess", "ServerStartError", "run_plugway"]

_SERVING_RE = re.compile(r"serving on (http://\S+)")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


class ServerStartError(RuntimeError):
    """The server process exited or never became healthy; the message carries its log."""


def _env(data_dir: Path, extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGWAY")}
    env["PLUGWAY_DATA_DIR"] = str(data_dir)
    env["PLUGWAY_LOG_LEVEL"] = "INFO"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_plugway(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m plugway ARGS`` to completion (for commands that must fail fast)."""
    return subprocess.run(
        [sys.executable, "-m", "plugway", *args],
        cwd=cwd,
        env=_env(cwd / "data", env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ServerProcess:
    """One ``plugway serve`` child; start/stop/kill it repeatedly over the same data folder.

    ``config`` is a mapping (written as YAML to ``<root>/config.yaml``) or None for the
    embedded default. ``env`` adds environment variables (``PLUGWAY_DATA_DIR`` is always
    ``<root>/data``).
    """

    def __init__(
        self,
        root: Path,
        *,
        config: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.config_path: Path | None = None
        if config is not None:
            self.config_path = root / "config.yaml"
            self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self.starts = 0
        self.log_path = root / "server-0.log"

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> ServerProcess:
        """Spawn the server and wait until it serves and ``/healthz`` answers 200."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        self.starts += 1
        self.log_path = self.root / f"server-{self.starts}.log"
        cmd = [sys.executable, "-m", "plugway", "serve", "--host", "127.0.0.1", "--port", "0"]
        if self.config_path is not None:
            cmd += ["--config", str(self.config_path)]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.root,
                env=_env(self.data_dir, self.extra_env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.url = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError(
                    f"plugway serve exited with {self.proc.returncode}:\n{self.log()}"
                )
            if self.url is None:
                match = _SERVING_RE.search(self.log())
                if match:
                    self.url = match.group(1)
            if self.url is not None and self._healthz():
                return self
            time.sleep(0.05)
        self.kill()
        raise ServerStartError(f"plugway serve did not become healthy in {timeout}s:\n{self.log()}")

    def _healthz(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send ``sig`` (SIGTERM by default) and wait; return the exit code."""
        proc = self._require()
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"plugway serve ignored signal {sig}:\n{self.log()}") from None

    def kill(self) -> int:
        """``kill -9``: no chance to clean up; returns the (negative) exit code."""
        proc = self._require()
        if proc.poll() is None:
            proc.kill()
        return proc.wait()

    def restart(self) -> ServerProcess:
        """Orderly stop (SIGTERM) then start again over the same data folder."""
        self.stop()
        return self.start()

    def _require(self) -> subprocess.Popen[bytes]:
        if self.proc is None:
            raise RuntimeError("server was never started")
        return self.proc

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- talking to it -----------------------------------------------------------------

    @property
    def token(self) -> str | None:
        """The admin token: from the config if set there, else the generated one on disk."""
        path = self.data_dir / "admin-token"
        if self.config_path is not None:
            config = yaml.safe_load(self.config_path.read_text(encoding="utf-8")) or {}
            configured = (config.get("server") or {}).get("admin_token")
            if configured:
                return str(configured)
            return None
        return path.read_text(encoding="utf-8").strip() if path.exists() else None

    def client(self, *, auth: bool = True, timeout: float = 30.0) -> httpx.Client:
        """An httpx client on the server's URL, with the admin bearer token unless ``auth``
        is False."""
        if self.url is None:
            raise RuntimeError("server is not serving")
        headers = {}
        token = self.token if auth else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def log(self) -> str:
        """Everything the current (or last) run wrote to stdout and stderr."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def logs(self) -> str:
        """The logs of every run so far, oldest first."""
        return "".join(
            (self.root / f"server-{n}.log").read_text(encoding="utf-8", errors="replace")
            for n in range(1, self.starts + 1)
            if (self.root / f"server-{n}.log").exists()
        )

    def close(self) -> None:
        """Make sure no child outlives the test (SIGTERM, then SIGKILL)."""
        if self.running:
            with contextlib.suppress(RuntimeError):
                self.stop(timeout=20)


# What the ``server_factory`` fixture returns: ``make(config=None, env=None) -> ServerProcess``.
ServerFactory = Callable[..., ServerProcess]
