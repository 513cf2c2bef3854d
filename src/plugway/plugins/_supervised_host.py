"""One plugin host launched and supervised by plugway (as go-plugin's client runs its plugins).

A :class:`SupervisedHost` is launched by its gateway's supervisor (:mod:`._supervisor`) in a
process group of its own (started off the event loop, :mod:`._spawn`):

* a secret generated per launch goes to the child in ``PLUGWAY_PLUGIN_SECRET`` (never on its
  command line, where ``ps`` would show it), with the server's own URL
  (``--registry``, ``PLUGWAY_REGISTRY_URL``) and a token of that launch's own
  (``PLUGWAY_TOKEN``, :mod:`._host_credentials`) that registers its plugins and nothing else;
* the handshake line (``PLUGWAY-PLUGIN-HOST listening <url> plugway-http/1``) is read from its
  stdout within ``start_timeout``; the URL and secret then go to the gateway's
  :class:`RemotePool`, and the host's own registration brings its plugins into the routing;
* each stderr line is logged as ``[host <name>] <line>``;
* its stdin is a pipe the server holds (``PLUGWAY_HOST_LIFELINE=stdin``): a host reading
  end-of-file there stops, so hosts never outlive a server that crashed or was killed;
* a host that exits (crash, ``os.abort()``, killed) leaves the routing at once (``on_exit``:
  the gateway marks its URL down without waiting for the TTL) and is launched again after a
  backoff that doubles from ``restart.backoff_initial`` up to ``restart.backoff_max`` (reset
  once a launch has served that long);
* at shutdown each host gets SIGTERM, ``stop_grace`` seconds, then SIGKILL of its group.

Each host has a :class:`HostState`, shown by ``/health`` (:meth:`SupervisedHost.status`):
``starting`` until its first handshake, ``running``, ``restarting`` once it has exited (until a
relaunch runs), ``failed`` when a launch did not reach its handshake (retried on the same
backoff), and ``stopped`` after shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ._confine import confine
from ._host_credentials import GatewayHosts
from ._settings import HostSettings
from ._spawn import LIFELINE_ENV, HostProcess, spawn
from ._wire import HANDSHAKE_PREFIX, PROTOCOL

__all__ = ["HandshakeError", "HostState", "HostStatus", "SupervisedHost"]

_log = logging.getLogger("plugway.plugins.supervisor")

SECRET_ENV = "PLUGWAY_PLUGIN_SECRET"
TOKEN_ENV = "PLUGWAY_TOKEN"
REGISTRY_ENV = "PLUGWAY_REGISTRY_URL"

HostState = Literal["starting", "running", "restarting", "stopped", "failed"]


@dataclass(frozen=True, slots=True)
class HostStatus:
    """A supervised host now: ``pid`` of its live process, ``last_exit`` why it last ended."""

    name: str
    state: HostState
    pid: int | None
    url: str | None
    restarts: int
    last_exit_code: int | None
    last_exit: str | None

    @property
    def down(self) -> bool:
        """Restarting or failed: its plugins are not served."""
        return self.state in ("restarting", "failed")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class HandshakeError(Exception):
    """A launched host did not print its handshake line in time (or printed another)."""


class SupervisedHost:
    """One supervised host: launched, watched, relaunched, stopped (module docstring)."""

    def __init__(
        self,
        settings: HostSettings,
        *,
        registry_url: str,
        credentials: GatewayHosts | None,
        on_ready: Callable[[str, str, str], None],
        on_exit: Callable[[str, str], None] | None = None,
        plugin_config: Path | None = None,
    ) -> None:
        self.settings = settings
        self._on_exit = on_exit
        self.name = settings.name
        self.registry_url = registry_url
        self._credentials = credentials
        self._on_ready = on_ready
        self._plugin_config = plugin_config
        self._log = logging.getLogger(f"plugway.plugins.host.{self.name}")
        self.proc: HostProcess | None = None
        self.url: str | None = None
        self.launches = 0
        self.state: HostState = "starting"
        self.last_exit_code: int | None = None
        self.last_exit: str | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._pumps: list[asyncio.Task[None]] = []
        self.ready = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def command(self) -> list[str]:
        s = self.settings
        values = {
            "registry_url": self.registry_url,
            "listen": s.listen,
            "heartbeat": str(s.heartbeat),
        }
        args = [a.format_map(values) for a in (s.args or [])]
        if not s.entry_point:
            assert s.executable is not None
            return [s.executable, *args]
        cmd = [s.executable or sys.executable, "-m", "plugway.cli._host", *s.entry_point]
        cmd += ["--listen", s.listen, "--registry", self.registry_url]
        cmd += ["--heartbeat", str(s.heartbeat)]
        if self._plugin_config is not None:
            cmd += ["--plugin-config", str(self._plugin_config)]
        return [*cmd, *args]

    @property
    def ref(self) -> str:
        """The host as the registry names it in ``endpoint.host``."""
        return self._credentials.ref(self.name) if self._credentials is not None else self.name

    def environment(self, secret: str, token: str | None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.settings.env)
        env[SECRET_ENV] = secret
        env[REGISTRY_ENV] = self.registry_url
        env["PYTHONUNBUFFERED"] = "1"
        env[LIFELINE_ENV] = "stdin"
        if token:
            env[TOKEN_ENV] = token
        else:
            env.pop(TOKEN_ENV, None)  # never this server's own token, if it was started with one
        return env

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._supervise(), name=f"plugin host {self.name}"
            )

    async def _supervise(self) -> None:
        backoff = self.settings.restart.backoff_initial
        while not self._stopping:
            started = time.monotonic()
            try:
                code = await self._launch_and_wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.error("plugin host %s: launch failed: %s", self.name, exc)
                self._ended("failed", None, f"launch failed: {exc}")
                code = None
            if self._stopping:
                break
            if time.monotonic() - started >= self.settings.restart.backoff_max:
                backoff = self.settings.restart.backoff_initial  # it served a good while
            _log.warning(
                "plugin host %s exited (%s); restarting in %.2f s",
                self.name,
                _exit_text(code),
                backoff,
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.settings.restart.backoff_max)

    async def _launch_and_wait(self) -> int | None:
        secret = secrets.token_urlsafe(32)
        token = (
            self._credentials.issue(self.name, max_plugins=self.settings.max_plugins)
            if self._credentials is not None
            else None
        )
        self.launches += 1
        self.ready.clear()
        limits = self.settings

        def confined(pid: int) -> None:
            missed = confine(
                pid,
                nice=limits.nice,
                memory_limit_mb=limits.memory_limit_mb,
                core_dumps=limits.core_dumps,
            )
            for text in missed:
                _log.warning("plugin host %s (pid %d): not applied: %s", self.name, pid, text)

        try:
            proc = self.proc = await spawn(
                self.command(), self.environment(secret, token), started=confined
            )
        except BaseException:
            self._revoke()
            raise
        self._pumps = [asyncio.ensure_future(self._forward(proc.stderr))]
        try:
            try:
                url = await self._handshake(proc)
            except HandshakeError as exc:
                _log.error("plugin host %s (pid %d): %s", self.name, proc.pid, exc)
                await self._terminate(proc)
                self._ended("failed", proc.returncode, str(exc))
                return proc.returncode
            self.url = url
            _log.info("plugin host %s (pid %d) listening on %s", self.name, proc.pid, url)
            self.state = "running"
            if self._credentials is not None:
                self._credentials.listening(self.name, url)
            self._on_ready(url, secret, self.ref)
            self.ready.set()
            self._pumps.append(asyncio.ensure_future(_drain(proc.stdout)))
            code = await proc.wait()
            self._ended("restarting", code, f"exited ({_exit_text(code)})")
            if self._on_exit is not None and not self._stopping:
                self._on_exit(url, f"exited ({_exit_text(code)})")
            return code
        finally:
            self._revoke()
            for pump in self._pumps:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(pump, timeout=1.0)
            self._pumps = []

    def _revoke(self) -> None:
        """The launch is over: its token registers nothing any more."""
        if self._credentials is not None:
            self._credentials.ended(self.name)

    def _ended(self, state: HostState, code: int | None, why: str) -> None:
        """A launch ended (``code`` None: no process); a stopping host stays ``stopped``."""
        if code is not None:
            self.last_exit_code = code
        self.last_exit = why
        self.url = None
        if not self._stopping:
            self.state = state

    async def _handshake(self, proc: HostProcess) -> str:
        try:
            async with asyncio.timeout(self.settings.start_timeout):
                line = await proc.stdout.readline()
        except TimeoutError:
            raise HandshakeError(
                f"no handshake line within {self.settings.start_timeout} s"
            ) from None
        words = line.decode("utf-8", "replace").split()
        if len(words) != 4 or words[0] != HANDSHAKE_PREFIX or words[1] != "listening":
            raise HandshakeError(f"expected a handshake line, got {line[:200]!r}")
        if words[3] != PROTOCOL:
            raise HandshakeError(f"speaks {words[3]!r}, not {PROTOCOL!r}")
        return words[2]

    async def _forward(self, stream: asyncio.StreamReader) -> None:
        while True:
            line = await stream.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                self._log.info("[host %s] %s", self.name, text)

    async def _terminate(self, proc: HostProcess) -> None:
        """SIGTERM to the process group, ``stop_grace`` seconds, then SIGKILL of the group."""
        if proc.returncode is not None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=self.settings.stop_grace)
        except TimeoutError:
            _log.warning(
                "plugin host %s (pid %d) ignored SIGTERM for %.1f s: killing its group",
                self.name,
                proc.pid,
                self.settings.stop_grace,
            )
            _signal_group(proc.pid, signal.SIGKILL)
            await proc.wait()
        else:
            _signal_group(proc.pid, signal.SIGKILL)  # whatever it left behind in its group

    async def stop(self) -> None:
        self._stopping = True
        self.state = "stopped"
        task, self._task = self._task, None
        proc = self.proc
        if proc is not None:
            await self._terminate(proc)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        _log.info("plugin host %s stopped", self.name)

    def status(self) -> HostStatus:
        proc = self.proc
        return HostStatus(
            name=self.name,
            state=self.state,
            pid=proc.pid if proc is not None and proc.returncode is None else None,
            url=self.url,
            restarts=max(self.launches - 1, 0),
            last_exit_code=self.last_exit_code,
            last_exit=self.last_exit,
        )


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _drain(stream: asyncio.StreamReader) -> None:
    """Read what a host writes to stdout after its handshake (nothing, by the protocol)."""
    while await stream.read(65536):
        pass


def _exit_text(code: int | None) -> str:
    if code is None:
        return "not started"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"
