"""Shadow calls: a served call sent to a second plugin as well, whose answer is only compared.

A shadow never holds up or fails the call it copies: it runs as a task of its own with a deep
copy of the arguments, at most ``max_in_flight`` at a time per gateway (more are dropped and
counted as shadow errors), and a difference from the served answer counts as a mismatch.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ._context import SecurityContext
from ._metrics import CallSeries

__all__ = ["DEFAULT_MAX_SHADOWS", "Shadows"]

log = logging.getLogger("plugway.plugins")

DEFAULT_MAX_SHADOWS = 64  # shadow calls in flight per gateway; more are dropped (and counted)


class Shadows:
    """The shadow calls in flight of one gateway."""

    def __init__(self, gateway: str, max_in_flight: int = DEFAULT_MAX_SHADOWS) -> None:
        self.gateway = gateway
        self.max_in_flight = max_in_flight
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(
        self,
        make_call: Callable[[], Callable[..., Awaitable[Any]]],
        series: CallSeries,
        ctx: SecurityContext,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        served: Any,
    ) -> None:
        """Run the shadow's try (``make_call()``, built only once the call is kept) on a copy of
        the arguments; compare its answer with ``served``."""
        series.shadow_calls += 1
        if len(self.tasks) >= self.max_in_flight:
            series.shadow_errors += 1  # dropped: shadows never hold up or swamp the server
            return
        try:
            args = copy.deepcopy(args)
            kwargs = copy.deepcopy(dict(kwargs))
        except Exception as exc:
            series.shadow_errors += 1
            log.warning(
                "gateway %s: shadow call not made, args not copyable: %s", self.gateway, exc
            )
            return
        call = make_call()

        async def call_shadow() -> None:
            try:
                result = await call(ctx, *args, **kwargs)
            except Exception:
                series.shadow_errors += 1
                return
            try:
                differs = bool(result != served)
            except Exception:
                differs = True
            if differs:
                series.shadow_mismatches += 1

        task = asyncio.get_running_loop().create_task(call_shadow())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        """Wait for the shadow calls in flight (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def cancel(self) -> None:
        for task in list(self.tasks):
            task.cancel()
