"""A gateway's resync, run off the event loop: one run at a time, bursts folded into one.

A resync reads the registry and, when the plugin set changed, commits a routing revision:
SQLite or PostgreSQL writes of tens of milliseconds. Host liveness changes (a host exits, stops
answering or answers again) arrive on the event loop; run there, each would stall every request
in flight, and a crash-looping host makes two a second. Called outside a running loop (a
thread, a test), the run happens at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable

__all__ = ["Coalesced"]

_log = logging.getLogger("plugway.plugins")


class Coalesced:
    """``request()`` runs ``fn`` in a worker thread of its own; requests that come while a run
    is waiting to start are folded into it, and a request during a run makes one more run."""

    def __init__(self, fn: Callable[[], None], name: str) -> None:
        self._fn = fn
        self._name = name
        self._pending = False
        self._closed = False
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    def request(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._fn()  # not on an event loop: nothing to stall, and the caller sees the result
            return
        with self._lock:
            if self._pending or self._closed:
                return
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix=self._name
                )
            self._pending = True
            self._executor.submit(self._run)

    def _run(self) -> None:
        with self._lock:
            self._pending = False
        try:
            self._fn()
        except Exception:
            _log.exception("%s failed", self._name)

    def wait(self) -> None:
        """Let the runs requested so far finish (blocking: call it in a thread); requests made
        on the event loop afterwards are dropped (the gateway is stopping)."""
        with self._lock:
            executor, self._executor = self._executor, None
            self._closed = True
        if executor is not None:
            executor.shutdown(wait=True)
