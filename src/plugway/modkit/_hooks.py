"""Running a module's hook as a task with a time limit, and ending its background task.

A hook that overruns its limit is cancelled; one that swallows the cancellation is abandoned
after ``cancel_timeout`` rather than holding start-up or shutdown for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Literal

from plugway.modkit._phases import TaskOutcome

__all__ = ["HookOutcome", "describe", "end_task", "outcome_detail", "run_bounded"]

HookOutcome = Literal["ok", "failed", "cancelled", "timed_out", "stuck"]


async def end_task(task: asyncio.Task[None], grace: float, cancel_timeout: float) -> TaskOutcome:
    """The grace window: wait for the task to end by itself, then cancel it."""
    if not task.done():
        await asyncio.wait({task}, timeout=grace)
    if task.done():
        return "cancelled" if task.cancelled() else "finished"
    task.cancel()
    await asyncio.wait({task}, timeout=cancel_timeout)
    return "cancelled" if task.done() else "stuck"


async def run_bounded(
    call: Awaitable[None], limit: float, cancel_timeout: float
) -> tuple[HookOutcome, BaseException | None]:
    """Run ``call`` as a task for at most ``limit`` seconds, then cancel it (and abandon it
    when it has not ended ``cancel_timeout`` seconds later)."""
    task = asyncio.ensure_future(call)
    try:
        await asyncio.wait({task}, timeout=limit)
    except asyncio.CancelledError:
        # Start-up (or stop) itself was cancelled: the hook ends first, then we go on.
        task.cancel()
        await asyncio.wait({task}, timeout=cancel_timeout)
        raise
    if task.done():
        if task.cancelled():
            return "cancelled", None
        exc = task.exception()
        return ("ok", None) if exc is None else ("failed", exc)
    task.cancel()
    await asyncio.wait({task}, timeout=cancel_timeout)
    if not task.done():
        return "stuck", None
    if not task.cancelled():
        with contextlib.suppress(BaseException):
            task.result()
    return "timed_out", None


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def outcome_detail(outcome: HookOutcome, exc: BaseException | None, limit: float) -> str:
    if outcome == "failed" and exc is not None:
        return describe(exc)
    if outcome == "cancelled":
        return "the hook was cancelled"
    if outcome == "timed_out":
        return f"did not finish within {limit:g}s and was cancelled"
    return f"did not finish within {limit:g}s and ignored cancellation (abandoned)"
