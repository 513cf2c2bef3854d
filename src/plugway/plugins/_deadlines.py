"""Call deadlines without a timer per call.

Every gateway call has a deadline, so arming one must cost little. Deadlines are grouped into
slots of ``resolution`` seconds: the first call of a slot schedules one loop timer for it, later
calls only join the slot's set, and a call that finishes leaves it. When the timer fires, the
calls still in the slot are cancelled and marked, so the caller turns that one cancellation into
a ``TimeoutError`` (``asyncio.timeout``'s semantics, firing up to one resolution late).
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["DEFAULT_RESOLUTION", "Deadline", "DeadlineWheel"]

DEFAULT_RESOLUTION = 0.005  # seconds


class Deadline:
    """One armed deadline: ``fired`` once the call it guards has been cancelled for it."""

    __slots__ = ("fired", "live", "slot", "task")

    def __init__(self, task: asyncio.Task[Any], slot: set[Deadline] | None) -> None:
        self.task = task
        self.slot = slot
        self.fired = False
        self.live = True

    def fire(self) -> None:
        if self.live:
            self.live = False
            self.fired = True
            self.task.cancel()

    def disarm(self) -> None:
        """The call is over: it leaves its slot, and a late timer does nothing."""
        self.live = False
        slot = self.slot
        if slot is not None:
            slot.discard(self)


class DeadlineWheel:
    """The deadlines of one event loop's calls, in slots with one timer each."""

    __slots__ = ("_loop", "_per_second", "_slots")

    def __init__(self, resolution: float = DEFAULT_RESOLUTION) -> None:
        if resolution <= 0:
            raise ValueError("resolution must be > 0")
        self._per_second = 1.0 / resolution
        self._slots: dict[int, set[Deadline]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def arm(
        self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], now_ns: int, timeout: float
    ) -> Deadline:
        """Cancel ``task`` ``timeout`` seconds after ``now_ns`` (``time.monotonic_ns``, the
        clock of asyncio's loops), unless disarmed before."""
        if loop is not self._loop:
            if self._loop is not None and not self._loop.is_closed() and self._slots:
                # another loop still has deadlines here: this call gets a timer of its own
                d = Deadline(task, None)
                loop.call_at(now_ns * 1e-9 + timeout, d.fire)
                return d
            self._loop = loop
            self._slots = {}
        key = int((now_ns * 1e-9 + timeout) * self._per_second) + 1
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = set()
            loop.call_at(key / self._per_second, self._expire, key)
        d = Deadline(task, slot)
        slot.add(d)
        return d

    def _expire(self, key: int) -> None:
        slot = self._slots.pop(key, None)
        if slot:
            for d in list(slot):
                d.slot = None
                d.fire()

    def __len__(self) -> int:
        """Deadlines armed and not yet over (for tests and health)."""
        return sum(len(s) for s in self._slots.values())
