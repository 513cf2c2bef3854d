"""Event-loop lag: a watchdog thread that notices a blocked loop and names the plugin blocking it.

An in-process plugin that blocks (``time.sleep``, a CPU-bound loop, sync I/O) in an async method
freezes every request of the server, and Python cannot preempt it. What can be done is to see
it: a daemon thread posts a heartbeat callback to the loop; when the loop has not run it within
``threshold`` seconds, the thread samples the loop thread's stack (``sys._current_frames``) and
matches its frames against the code of registered plugin implementations. The stall is logged
naming the plugin and the function on the stack, counted per plugin, shown by :meth:`status`
(for ``/health``) and exported by :meth:`collect` (a prometheus_client collector). The cure for
a plugin named here is ``run_in_thread`` or an out-of-process plugin host.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import threading
import time
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["DEFAULT_LAG_THRESHOLD", "LoopLagMonitor", "LoopStall", "PluginStalls"]

DEFAULT_LAG_THRESHOLD = 0.25  # seconds without a heartbeat before the loop counts as blocked
_log = logging.getLogger("plugway.plugins.lag")


@dataclass(frozen=True, slots=True)
class LoopStall:
    """One stall of the loop: who was on the stack (None when no registered plugin was)."""

    plugins: tuple[str, ...]
    function: str  # the plugin's function on the stack, or the innermost frame
    seconds: float
    ended_at: float  # time.monotonic() when the loop ran again


@dataclass(frozen=True, slots=True)
class PluginStalls:
    """What one plugin did to the loop so far."""

    count: int
    longest_seconds: float
    last_at: float  # time.monotonic() of its last stall's end
    last_function: str


@dataclass(frozen=True, slots=True)
class _Registered:
    impl: object
    codes: frozenset[types.CodeType]


class _Ping:
    """One heartbeat: posted by the watchdog, answered by the loop."""

    __slots__ = ("answered", "at", "sent")

    def __init__(self) -> None:
        self.sent = time.monotonic()
        self.at = 0.0
        self.answered = threading.Event()

    def __call__(self) -> None:
        self.at = time.monotonic()
        self.answered.set()


def _codes_of(impl: object) -> frozenset[types.CodeType]:
    """The code objects of an implementation's methods, and of the functions nested in them."""
    found: set[types.CodeType] = set()

    def add(value: object) -> None:
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property):
            for part in (value.fget, value.fset, value.fdel):
                add(part)
            return
        if isinstance(value, types.MethodType):
            value = value.__func__
        if callable(value):
            value = inspect.unwrap(value)
        code = getattr(value, "__code__", None)
        if isinstance(code, types.CodeType):
            walk(code)

    def walk(code: types.CodeType) -> None:
        if code in found:
            return
        found.add(code)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                walk(const)

    for klass in type(impl).__mro__:
        if klass is object or klass.__module__ == "builtins":
            continue
        for value in vars(klass).values():
            add(value)
    for value in getattr(impl, "__dict__", {}).values():
        if isinstance(value, (types.FunctionType, types.MethodType)):
            add(value)
    return frozenset(found)


def _describe(frame: types.FrameType) -> str:
    module = frame.f_globals.get("__name__", "?")
    code = frame.f_code
    return f"{module}.{code.co_qualname} ({code.co_filename}:{frame.f_lineno})"


class LoopLagMonitor(Collector):
    """Watches one event loop; register the plugins whose stalls it should name.

    ``threshold``: seconds without a heartbeat that make a stall; ``interval``: pause between
    heartbeats (default half the threshold); ``recent``: how long after a stall ``status()``
    stays ``degraded``. Registration is copy-on-write, so the watchdog never takes a lock that
    the loop holds.
    """

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_LAG_THRESHOLD,
        interval: float | None = None,
        recent: float = 300.0,
    ) -> None:
        if threshold <= 0:
            raise ValueError(f"threshold must be > 0 seconds, got {threshold}")
        self.threshold = threshold
        self.interval = threshold / 2 if interval is None else interval
        self.recent = recent
        self._plugins: dict[str, _Registered] = {}
        self._by_code: dict[types.CodeType, tuple[str, ...]] = {}
        self._stats: dict[str, PluginStalls] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lag = 0.0
        self._stalled_since: float | None = None
        self._stall_count = 0
        self._unattributed = 0
        self._last_stall: LoopStall | None = None

    # -- plugins -------------------------------------------------------------------------------

    def register(self, plugin_id: str, impl: object) -> None:
        """Name ``plugin_id`` when ``impl``'s code is on the loop's stack during a stall.

        Register the plugin's own object (not a gateway wrapper); registering an id again
        replaces its implementation and keeps its counts.
        """
        with self._lock:
            plugins = {**self._plugins, plugin_id: _Registered(impl, _codes_of(impl))}
            self._plugins, self._by_code = plugins, self._index(plugins)

    def unregister(self, plugin_id: str) -> None:
        """Forget a plugin that left: its code is no longer matched, its counts are dropped."""
        with self._lock:
            plugins = {k: v for k, v in self._plugins.items() if k != plugin_id}
            self._plugins, self._by_code = plugins, self._index(plugins)
            self._stats = {k: v for k, v in self._stats.items() if k != plugin_id}

    @staticmethod
    def _index(plugins: Mapping[str, _Registered]) -> dict[types.CodeType, tuple[str, ...]]:
        index: dict[types.CodeType, tuple[str, ...]] = {}
        for plugin_id, reg in sorted(plugins.items()):
            for code in reg.codes:
                index[code] = (*index.get(code, ()), plugin_id)
        return index

    # -- start / stop --------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start watching ``loop`` (from any thread; measuring begins once the loop runs)."""
        if self._thread is not None:
            raise RuntimeError("the lag monitor is already started; stop() it first")
        self._loop = loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        self._loop_thread = threading.get_ident() if running is loop else None
        self._stopping.clear()
        self._thread = threading.Thread(target=self._watch, name="plugway-loop-lag", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the watchdog thread (waits up to ``timeout`` seconds for it)."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        self._stalled_since = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the watchdog --------------------------------------------------------------------------

    def _post(self, loop: asyncio.AbstractEventLoop) -> _Ping | None:
        ping = _Ping()
        try:
            loop.call_soon_threadsafe(ping)
        except RuntimeError:  # the loop was closed: nothing left to watch
            return None
        return ping

    def _learn_thread(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Wait for a first heartbeat, run on the loop's thread, to learn which thread it is."""

        def learn() -> None:
            self._loop_thread = threading.get_ident()

        try:
            loop.call_soon_threadsafe(learn)
        except RuntimeError:
            return False
        while self._loop_thread is None:
            if self._stopping.wait(self.interval) or loop.is_closed():
                return False
        return True

    def _watch(self) -> None:
        loop = self._loop
        if loop is None or (self._loop_thread is None and not self._learn_thread(loop)):
            return
        while not self._stopping.is_set():
            ping = self._post(loop)
            if ping is None:
                return
            if ping.answered.wait(self.threshold):
                self._lag = ping.at - ping.sent
            elif loop.is_running():
                self._stall(loop, ping)
            else:  # stopped between run calls: not a stall, wait for it to run again
                while not ping.answered.wait(self.interval):
                    if self._stopping.is_set() or loop.is_closed():
                        return
            self._stopping.wait(self.interval)

    def _stall(self, loop: asyncio.AbstractEventLoop, ping: _Ping) -> None:
        self._stalled_since = ping.sent
        plugins, function = self._attribute()
        if plugins:
            _log.warning(
                "event loop blocked for more than %.2fs by plugin %s in %s",
                self.threshold,
                ", ".join(repr(p) for p in plugins),
                function,
            )
        else:
            _log.warning(
                "event loop blocked for more than %.2fs; no registered plugin on the stack "
                "(innermost: %s)",
                self.threshold,
                function,
            )
        while not ping.answered.wait(self.interval):
            self._lag = time.monotonic() - ping.sent
            if self._stopping.is_set() or loop.is_closed():
                self._stalled_since = None
                return
            if not plugins:  # the plugin may not have been on the stack yet: look again
                plugins, function = self._attribute()
        self._stalled_since = None
        self._lag = seconds = ping.at - ping.sent
        self._record(LoopStall(plugins, function, seconds, ping.at))
        _log.info(
            "event loop was blocked for %.2fs (%s)",
            seconds,
            f"plugin {', '.join(plugins)}" if plugins else "no registered plugin",
        )

    def _attribute(self) -> tuple[tuple[str, ...], str]:
        """The registered plugins on the loop thread's stack, and the frame that names them."""
        thread = self._loop_thread
        frame = None if thread is None else sys._current_frames().get(thread)
        if frame is None:
            return (), "<no stack>"
        innermost = frame
        by_code = self._by_code
        walk: types.FrameType | None = frame
        while walk is not None:
            candidates = by_code.get(walk.f_code)
            if candidates:
                return self._disambiguate(walk, candidates), _describe(walk)
            walk = walk.f_back
        return (), _describe(innermost)

    def _disambiguate(self, frame: types.FrameType, candidates: tuple[str, ...]) -> tuple[str, ...]:
        """Several plugins share a class: the frame's ``self`` tells which instance runs."""
        if len(candidates) == 1 or not frame.f_code.co_varnames:
            return candidates
        this = frame.f_locals.get(frame.f_code.co_varnames[0])
        plugins = self._plugins
        exact = tuple(p for p in candidates if p in plugins and plugins[p].impl is this)
        return exact or candidates

    def _record(self, stall: LoopStall) -> None:
        with self._lock:
            self._stall_count += 1
            self._last_stall = stall
            if not stall.plugins:
                self._unattributed += 1
            stats = dict(self._stats)
            for plugin in stall.plugins:
                old = stats.get(plugin)
                stats[plugin] = PluginStalls(
                    count=1 if old is None else old.count + 1,
                    longest_seconds=max(stall.seconds, 0.0 if old is None else old.longest_seconds),
                    last_at=stall.ended_at,
                    last_function=stall.function,
                )
            self._stats = stats

    # -- what it saw ---------------------------------------------------------------------------

    @property
    def lag_seconds(self) -> float:
        """The last heartbeat's delay (the delay so far while the loop is blocked)."""
        return self._lag

    @property
    def stall_count(self) -> int:
        """Stalls seen so far, attributed or not."""
        return self._stall_count

    @property
    def last_stall(self) -> LoopStall | None:
        return self._last_stall

    def stalls(self) -> Mapping[str, PluginStalls]:
        """Stall counts and the longest stall of every plugin that blocked the loop."""
        return dict(self._stats)

    def status(self, now: float | None = None) -> dict[str, Any]:
        """For ``/health``: ``degraded`` while a plugin stalled the loop in the last ``recent``
        seconds, naming it in ``blocking_plugins``; stalls no plugin caused are only counted."""
        now = time.monotonic() if now is None else now
        stats = self._stats
        blocking = sorted(p for p, s in stats.items() if now - s.last_at <= self.recent)
        # Degraded only when a plugin is to blame: a loaded machine (or start-up) can pause the
        # loop too, and that is reported (unattributed_stalls, lag) without failing readiness.
        degraded = bool(blocking)
        return {
            "status": "degraded" if degraded else "ok",
            "blocking_plugins": blocking,
            "watching": self.running,
            "threshold_seconds": self.threshold,
            "lag_seconds": round(self._lag, 6),
            "stalls": {
                p: {"count": s.count, "longest_seconds": round(s.longest_seconds, 6)}
                for p, s in sorted(stats.items())
            },
            "unattributed_stalls": self._unattributed,
        }

    def collect(self) -> Iterator[Metric]:
        """``plugway_event_loop_lag_seconds``, stall counters, per-plugin counts and longest."""
        yield GaugeMetricFamily(
            "plugway_event_loop_lag_seconds",
            "Delay of the last event-loop heartbeat (so far, while the loop is blocked).",
            value=self._lag,
        )
        yield CounterMetricFamily(
            "plugway_event_loop_stalls",
            "Times the event loop went longer than the threshold without running a heartbeat.",
            value=self._stall_count,
        )
        stats = self._stats
        count = CounterMetricFamily(
            "plugway_plugin_loop_stalls",
            "Event-loop stalls during which the plugin's code was on the loop's stack.",
            labels=("plugin",),
        )
        longest = GaugeMetricFamily(
            "plugway_plugin_loop_stall_longest_seconds",
            "Longest event-loop stall attributed to the plugin.",
            labels=("plugin",),
        )
        for plugin, s in sorted(stats.items()):
            count.add_metric([plugin], s.count)
            longest.add_metric([plugin], s.longest_seconds)
        yield count
        yield longest

    def describe(self) -> list[Metric]:
        return []
