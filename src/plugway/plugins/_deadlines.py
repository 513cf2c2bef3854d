"""Call deadlines without a timer, an allocation or a clock read per call.

Every gateway call has a deadline, so arming one must cost next to nothing. A ``Deadline`` (one
per timeout of a gateway) keeps an *open window*: a dict of the calls that started during the
last ``resolution`` seconds, each plugin coroutine mapped to the task that awaits it. A call puts
its coroutine in and takes it out when it ends. A ticker (one loop timer, running only while
calls arrive) closes the window every ``resolution``: calls still in it get one loop timer for
the lot, due ``timeout`` later, which cancels their tasks and replaces each entry by the task's
``cancelling()`` count, so each caller turns that one cancellation into a ``TimeoutError``
(``asyncio.timeout``'s semantics, firing at most one resolution late).

The caller finds its task with a dict read (``asyncio.tasks._current_tasks``, where Python 3.11
keeps it) guarded by the thread: ``asyncio.get_running_loop`` checks the process id with a
system call on every use, which here costs more than the rest of the deadline.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["DEFAULT_RESOLUTION", "Deadline", "DeadlineWheel", "Window"]

DEFAULT_RESOLUTION = 0.005  # seconds

Window = dict[Coroutine[Any, Any, Any], Any]
"""Calls armed in one window: plugin coroutine -> its task, or the task's cancelling() count
once the deadline fired (a caller tells them apart with ``is``)."""

TaskOf = Callable[[asyncio.AbstractEventLoop | None], "asyncio.Task[Any] | None"]


def _current_task_reader() -> TaskOf:
    """``asyncio.tasks._current_tasks.get`` when that is where tasks are kept, else the API."""
    table = getattr(asyncio.tasks, "_current_tasks", None)
    if isinstance(table, dict):
        return table.get
    return lambda loop: asyncio.current_task(loop) if loop is not None else None


def _fire(window: Window) -> None:
    for coro, task in list(window.items()):
        if isinstance(task, asyncio.Task):
            window[coro] = task.cancelling()
            task.cancel()


class Deadline:
    """The deadline ``timeout`` of calls on one event loop (see the module docstring).

    A call arms with ``window[coro] = task`` after checking ``thread``, ``task_of(loop)`` and
    ``window``; when any of them says no, :meth:`arm` does it the slow way.
    """

    __slots__ = ("loop", "resolution", "task_of", "thread", "timeout", "window")

    def __init__(self, timeout: float, resolution: float = DEFAULT_RESOLUTION) -> None:
        if timeout <= 0 or resolution <= 0:
            raise ValueError("timeout and resolution must be > 0")
        self.timeout = timeout
        self.resolution = resolution
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = 0
        self.task_of: TaskOf = _current_task_reader()
        self.window: Window | None = None  # None: no ticker runs; the next call starts one

    def arm(self, coro: Coroutine[Any, Any, Any]) -> tuple[Window, asyncio.Task[Any]]:
        """Arm ``coro``'s deadline the slow way: first call on a loop, after a quiet spell, or
        from another thread's loop (which gets a window and timer of its own)."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a gateway call with a deadline must run in an asyncio task")
        if loop is not self.loop:
            old = self.loop
            if old is not None and not old.is_closed() and old.is_running():
                own: Window = {coro: task}  # the wheel stays with its loop
                loop.call_later(self.timeout + self.resolution, _fire, own)
                return own, task
            self.loop, self.thread = loop, threading.get_ident()
            self.window = None
            if self.task_of(loop) is not task:  # tasks are not kept where we read them
                self.task_of = lambda lp: asyncio.current_task(lp) if lp is not None else None
        window = self.window
        if window is None:
            window = self.window = {}
            loop.call_later(self.resolution, self._tick)
        window[coro] = task
        return window, task

    def _tick(self) -> None:
        """Close the open window: its calls still running get one timer, due ``timeout``."""
        window = self.window
        loop = self.loop
        if not window or loop is None:
            self.window = None  # quiet: the next call arms the slow way and starts the ticker
            return
        self.window = {}
        loop.call_later(self.timeout, _fire, window)
        loop.call_later(self.resolution, self._tick)

    def __len__(self) -> int:
        """Calls armed in the open window (for tests)."""
        return len(self.window or ())


class DeadlineWheel:
    """A gateway's deadlines, one per timeout value, kept across routing changes."""

    __slots__ = ("_deadlines", "resolution")

    def __init__(self, resolution: float = DEFAULT_RESOLUTION) -> None:
        if resolution <= 0:
            raise ValueError("resolution must be > 0")
        self.resolution = resolution
        self._deadlines: dict[float, Deadline] = {}

    def deadline(self, timeout: float | None) -> Deadline | None:
        if timeout is None:
            return None
        found = self._deadlines.get(timeout)
        if found is None:
            found = self._deadlines[timeout] = Deadline(timeout, self.resolution)
        return found

    def __len__(self) -> int:
        """Calls armed and not yet over in open windows (for tests)."""
        return sum(len(d) for d in self._deadlines.values())
