"""Call deadlines without a timer per call.

Every gateway call has a deadline, so arming one must cost little. Deadlines are grouped into
slots of ``resolution`` seconds on the event loop's clock (``time.monotonic_ns``): slot ``key``
holds the deadlines due before ``key * resolution``. The first call of a slot schedules one
loop timer for it; later calls only put a token (``[task, fired]``) into the slot's dict and take
it out when they finish. When the timer fires, the calls still in the slot are cancelled and
their tokens marked, so each caller turns that one cancellation into a ``TimeoutError``
(``asyncio.timeout``'s semantics, firing up to one resolution late).
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["DEFAULT_RESOLUTION", "DeadlineWheel", "Slot", "Token"]

DEFAULT_RESOLUTION = 0.005  # seconds

Token = list[Any]
"""``[task, fired]``: one armed deadline (a list: the cheapest mutable pair to make per call)."""

Slot = dict[int, Token]
"""The tokens of one slot, by ``id(token)``."""


def _fire(slot: Slot) -> None:
    for token in list(slot.values()):
        if not token[1]:
            token[1] = True
            token[0].cancel()


class DeadlineWheel:
    """The deadline slots of one event loop, one timer each.

    A caller computes ``key = (now_ns + timeout_ns) // resolution_ns + 1``, takes
    ``slots.get(key)`` when it runs on ``loop`` (else :meth:`slot`), adds its token and removes
    it when done: see ``Dispatcher.entry``.
    """

    __slots__ = ("loop", "resolution_ns", "slots")

    def __init__(self, resolution: float = DEFAULT_RESOLUTION) -> None:
        if resolution <= 0:
            raise ValueError("resolution must be > 0")
        self.resolution_ns = max(1, round(resolution * 1e9))
        self.slots: dict[int, Slot] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def slot(self, loop: asyncio.AbstractEventLoop, key: int) -> Slot:
        """The slot of deadline ``key``, opened (its timer scheduled) on first use.

        On another loop than the wheel's (tests, a worker thread's loop) while the wheel's
        still has deadlines, the slot is a private one with a timer of its own.
        """
        when = key * self.resolution_ns * 1e-9
        if loop is not self.loop:
            if self.loop is not None and not self.loop.is_closed() and self.slots:
                private: Slot = {}
                loop.call_at(when, _fire, private)
                return private
            self.loop = loop
            self.slots = {}
        found = self.slots.get(key)
        if found is None:
            found = self.slots[key] = {}
            loop.call_at(when, self._expire, key)
        return found

    def _expire(self, key: int) -> None:
        slot = self.slots.pop(key, None)
        if slot:
            _fire(slot)

    def __len__(self) -> int:
        """Deadlines armed and not yet over (for tests and health)."""
        return sum(len(s) for s in self.slots.values())
