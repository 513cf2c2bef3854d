"""Liveness of plugin hosts, seen from a gateway: probe each host, drop it after its TTL.

A :class:`HostLiveness` runs one probe task per host URL on the gateway's event loop (off the
hot path: calls never wait for a probe). Every ``heartbeat_s`` seconds it asks the host's
``GET /v1/health`` (bounded by ``heartbeat_s``); a host that has not answered for ``ttl_s``
seconds is *down*, and one that answers again is *up*. Each change calls ``on_change`` once,
which resyncs the gateway: a down host's plugins leave the routing and come back when it does
(each a revision, ``who: registry``). A host is up when first seen: its registration in the
registry is a sign of life.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._remote import RemoteHost

__all__ = ["HostLiveness", "Probe"]

_log = logging.getLogger("plugway.plugins.liveness")
_MIN_WAIT = 0.05


@dataclass(slots=True)
class Probe:
    """What the liveness monitor knows of one host."""

    host: RemoteHost
    heartbeat_s: float
    ttl_s: float
    last_ok: float
    down: bool = False
    task: asyncio.Task[None] | None = None


class HostLiveness:
    """Probes hosts (see the module docstring). ``on_change`` runs on the event loop."""

    def __init__(self, *, name: str = "gateway") -> None:
        self.name = name
        self._probes: dict[str, Probe] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_change: Callable[[], None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop, on_change: Callable[[], None]) -> None:
        """Begin probing (the hosts watched so far, and every one watched later)."""
        self._loop, self._on_change = loop, on_change
        with self._lock:
            probes = list(self._probes.items())
        for url, probe in probes:
            self._spawn(url, probe)

    def is_down(self, url: str) -> bool:
        with self._lock:
            probe = self._probes.get(url)
        return probe is not None and probe.down

    def state(self, url: str) -> tuple[bool, float] | None:
        """(down, seconds since ``url`` last answered or was first watched); None: not probed."""
        with self._lock:
            probe = self._probes.get(url)
        return None if probe is None else (probe.down, time.monotonic() - probe.last_ok)

    def down(self) -> list[str]:
        with self._lock:
            return sorted(url for url, p in self._probes.items() if p.down)

    def watch(self, host: RemoteHost, *, heartbeat_s: float, ttl_s: float) -> None:
        """Probe ``host`` from now on (a no-op when it is watched already)."""
        url = host.endpoint
        with self._lock:
            probe = self._probes.get(url)
            if probe is not None:
                probe.heartbeat_s = min(probe.heartbeat_s, heartbeat_s)
                probe.ttl_s = min(probe.ttl_s, ttl_s)
                return
            probe = self._probes[url] = Probe(host, heartbeat_s, ttl_s, time.monotonic())
        self._spawn(url, probe)

    def mark_down(self, url: str, why: str) -> None:
        """``url`` is known to be gone (its supervised process exited): down at once, without
        waiting for the TTL; the probe brings it back when something answers there again."""
        with self._lock:
            probe = self._probes.get(url)
            if probe is None or probe.down:
                return
            probe.down = True
        _log.warning("%s: plugin host %s %s: it leaves the routing", self.name, url, why)
        self._call(self._changed)

    def forget(self, url: str) -> None:
        """Stop probing ``url`` (its last plugin has left the registry)."""
        with self._lock:
            probe = self._probes.pop(url, None)
        if probe is not None and probe.task is not None:
            self._call(probe.task.cancel)

    def _spawn(self, url: str, probe: Probe) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def create() -> None:
            if probe.task is None and self._probes.get(url) is probe:
                probe.task = loop.create_task(self._run(url, probe), name=f"probe {url}")

        self._call(create)

    def _call(self, fn: Callable[[], object]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn()
        else:
            loop.call_soon_threadsafe(fn)

    async def _run(self, url: str, probe: Probe) -> None:
        while True:
            started = time.monotonic()
            ok = await self._probe(probe)
            now = time.monotonic()
            if ok:
                probe.last_ok = now
                if probe.down:
                    probe.down = False
                    _log.info("%s: plugin host %s answers again: it rejoins", self.name, url)
                    self._changed()
            elif not probe.down and now - probe.last_ok >= probe.ttl_s:
                probe.down = True
                _log.warning(
                    "%s: plugin host %s has not answered for %.1f s (TTL %.1f s): it leaves "
                    "the routing",
                    self.name,
                    url,
                    now - probe.last_ok,
                    probe.ttl_s,
                )
                self._changed()
            await asyncio.sleep(max(_MIN_WAIT, probe.heartbeat_s - (time.monotonic() - started)))

    async def _probe(self, probe: Probe) -> bool:
        try:
            async with asyncio.timeout(max(_MIN_WAIT, probe.heartbeat_s)):
                await probe.host.health()
        except asyncio.CancelledError:
            raise
        except Exception:  # unreachable, refused, wrong secret, too slow: no sign of life
            return False
        return True

    def _changed(self) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change()
        except Exception:
            _log.exception("%s: resync after a liveness change failed", self.name)

    async def aclose(self) -> None:
        """Stop every probe (at shutdown)."""
        with self._lock:
            tasks = [p.task for p in self._probes.values() if p.task is not None]
            self._probes.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
