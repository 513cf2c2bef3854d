"""One dispatcher per gateway: every try of a call -- primary, fallback, shadow -- is one attempt.

``Dispatcher.attempt`` is the only place that calls a plugin: it gates on the plugin's breaker,
arms the call's deadline, times it, tells the breaker, classifies a failure (a contract's own
answer passes through; anything else is the plugin's failure) and then goes on along the route's
chain. A call that succeeds on its first try allocates nothing; ``trail`` (a list) is only made
when something fails, or when the caller asked for the outcome.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from time import monotonic_ns
from typing import Any

from ._breaker import CircuitBreaker
from ._context import SecurityContext
from ._deadlines import DeadlineWheel
from ._errors import GatewayCallError, NoPluginAvailableError
from ._metrics import CallSeries
from .routing import Decision

__all__ = ["DEFAULT_MAX_SHADOWS", "Attempt", "CallOutcome", "Dispatcher", "Route", "Target"]

log = logging.getLogger("plugway.plugins")

DEFAULT_MAX_SHADOWS = 64  # shadow calls in flight per gateway; more are dropped (and counted)

_clock_ns = monotonic_ns  # the event loop's clock: one read times a call and arms its deadline
_current_task = asyncio.current_task
_running_loop = asyncio.get_running_loop


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of a call: the plugin, and why it failed (None: it served)."""

    plugin: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """A call's answer with what served it: the decision, the plugin, every attempt."""

    result: Any
    gateway: str
    method: str
    plugin: str
    decision: Decision
    attempts: tuple[Attempt, ...]

    @property
    def rule(self) -> str:
        return self.decision.rule_label

    @property
    def rule_index(self) -> int | None:
        return self.decision.rule_index

    @property
    def revision(self) -> int:
        return self.decision.revision

    def to_dict(self) -> dict[str, Any]:
        """The outcome as the REST face shows it (without the result)."""
        return {
            "plugin": self.plugin,
            "rule": self.rule,
            "rule_index": self.rule_index,
            "revision": self.revision,
            "attempts": [{"plugin": a.plugin, "error": a.error} for a in self.attempts],
        }


class Target:
    """A plugin as one route reaches it: its methods, its breaker, the route's series for it.

    A plugin the decision names but the gateway does not hold has no methods (``"-"`` when the
    decision names none): trying it is a failure ("no plugin") that goes on along the chain.
    """

    __slots__ = ("breaker", "methods", "plugin_id", "series")

    def __init__(
        self,
        plugin_id: str,
        methods: tuple[Any, ...],
        breaker: CircuitBreaker,
        series: CallSeries,
    ) -> None:
        self.plugin_id = plugin_id
        self.methods = methods  # by contract method index
        self.breaker = breaker
        self.series = series


class Route:
    """Per-call state of one Decision: the chain to try (primary first), its shadow."""

    __slots__ = ("chain", "decision", "series", "shadow")

    def __init__(
        self,
        decision: Decision,
        chain: tuple[Target, ...],
        series: CallSeries,
        shadow: Route | None,
    ) -> None:
        self.decision = decision
        self.chain = chain
        self.series = series  # the primary's series (fallbacks are counted there)
        self.shadow = shadow


def describe(exc: BaseException) -> str:
    """A failure as attempts and logs show it."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Call:
    """A call on its way down a failing chain, or to its shadow: what a further try needs (made
    only then, so a first try that succeeds allocates nothing)."""

    __slots__ = ("args", "ctx", "index", "kwargs", "route", "timeout", "trail")

    def __init__(
        self,
        timeout: float | None,
        route: Route,
        index: int,
        ctx: SecurityContext,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        trail: list[Attempt] | None,
    ) -> None:
        self.timeout = timeout
        self.route = route
        self.index = index
        self.ctx = ctx
        self.args = args
        self.kwargs = kwargs
        self.trail: list[Attempt] = [] if trail is None else trail


class Dispatcher:
    """Runs calls along their routes for one gateway (see the module docstring)."""

    def __init__(
        self,
        gateway: str,
        method_names: tuple[str, ...],
        passthrough: tuple[type[BaseException], ...] = (),
        *,
        wheel: DeadlineWheel | None = None,
        max_shadows: int = DEFAULT_MAX_SHADOWS,
    ) -> None:
        self.gateway = gateway
        self.method_names = method_names
        self.passthrough = passthrough
        self.wheel = wheel if wheel is not None else DeadlineWheel()
        self.max_shadows = max_shadows
        self.shadow_tasks: set[asyncio.Task[None]] = set()

    async def attempt(
        self,
        timeout: float | None,
        route: Route,
        pos: int,
        index: int,
        ctx: SecurityContext,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        trail: list[Attempt] | None,
    ) -> Any:
        """Try ``route.chain[pos]``; on failure, go on with ``pos + 1`` (the fallbacks)."""
        target = route.chain[pos]
        brk = target.breaker
        if not target.methods or (brk.failures and not brk.allow()):
            call = _Call(timeout, route, index, ctx, args, kwargs, trail)
            return await self._next(
                call, pos, "no plugin" if not target.methods else "circuit open"
            )
        series = target.series
        series.calls += 1
        method = target.methods[index]
        coro = method(ctx, *args, **kwargs) if kwargs else method(ctx, *args)  # TypeError: caller's
        t0 = _clock_ns()
        deadline = None
        if timeout is not None:
            loop = _running_loop()
            task = _current_task(loop)
            if task is None:
                coro.close()
                raise RuntimeError("a gateway call with a deadline must run inside an asyncio task")
            cancelling = task.cancelling()
            deadline = self.wheel.arm(loop, task, t0, timeout)
        try:
            result = await coro
        except BaseException as exc:
            failure: BaseException = exc
            if deadline is not None:
                deadline.disarm()
                if deadline.fired:
                    ours = deadline.task.uncancel() <= cancelling
                    if ours and isinstance(exc, asyncio.CancelledError):
                        failure = TimeoutError(f"no answer within {timeout} s")
                        failure.__cause__ = exc
                    elif isinstance(exc, asyncio.CancelledError):
                        raise  # someone else cancelled the call too: not ours to swallow
            if not isinstance(failure, Exception):
                raise  # a cancellation (not our deadline), KeyboardInterrupt, ...
            series.observe_ns(_clock_ns() - t0)
            call = _Call(timeout, route, index, ctx, args, kwargs, trail)
            return await self._failed(call, pos, target, failure)
        if deadline is not None:
            deadline.disarm()
            if deadline.fired:  # it answered just as its deadline fired: the answer counts
                deadline.task.uncancel()
        series.observe_ns(_clock_ns() - t0)
        if brk.failures:
            brk.record_success()
        if trail is not None:
            trail.append(Attempt(target.plugin_id))
        if pos == 0 and route.shadow is not None:
            self._spawn_shadow(_Call(timeout, route, index, ctx, args, kwargs, None), result)
        return result

    async def _failed(self, call: _Call, pos: int, target: Target, exc: Exception) -> Any:
        """Classify a failed try: a contract's own answer passes through, anything else counts."""
        brk = target.breaker
        if isinstance(exc, self.passthrough):
            # a contract's own answer ("tenant not found"): the caller's, and a healthy plugin
            if brk.failures:
                brk.record_success()
            raise exc
        series = target.series
        series.errors += 1
        if isinstance(exc, TimeoutError):
            series.timeouts += 1
        brk.record_failure()
        log.warning(
            "gateway %s: %s %s failed in %s (rule %s): %s",
            self.gateway,
            "plugin" if pos == 0 else "fallback plugin",
            target.plugin_id,
            self.method_names[call.index],
            call.route.decision.rule_label,
            describe(exc),
        )
        return await self._next(call, pos, describe(exc), exc)

    async def _next(
        self, call: _Call, pos: int, error: str, cause: BaseException | None = None
    ) -> Any:
        """Record why try ``pos`` failed, then try the next in the chain or give up."""
        route, trail = call.route, call.trail
        trail.append(Attempt(route.chain[pos].plugin_id, error))
        if pos + 1 < len(route.chain):
            if pos == 0:
                route.series.fallbacks += 1
            return await self.attempt(
                call.timeout, route, pos + 1, call.index, call.ctx, call.args, call.kwargs, trail
            )
        d = route.decision
        failed = [(a.plugin, a.error or "") for a in trail if a.error is not None]
        first = failed[0][1]
        more = "; ".join(f"{p}: {e}" for p, e in failed[1:])
        message = f"failed ({first})" + (f"; fallbacks: {more}" if more else "; no fallback")
        error_type = NoPluginAvailableError if d.plugin_id is None else GatewayCallError
        raise error_type(
            self.gateway, d.plugin_id, self.method_names[call.index], message, failed
        ) from cause

    # -- shadows -------------------------------------------------------------------------------

    def _spawn_shadow(self, call: _Call, served: Any) -> None:
        """Call the route's shadow with a copy of the arguments; its result is only compared."""
        series = call.route.series
        series.shadow_calls += 1
        if len(self.shadow_tasks) >= self.max_shadows:
            series.shadow_errors += 1  # dropped: shadows never hold up or swamp the server
            return
        try:
            call.args = copy.deepcopy(call.args)
            call.kwargs = copy.deepcopy(dict(call.kwargs))
        except Exception as exc:
            series.shadow_errors += 1
            log.warning(
                "gateway %s: shadow call not made, args not copyable: %s", self.gateway, exc
            )
            return
        task = asyncio.get_running_loop().create_task(self._shadow(call, served))
        self.shadow_tasks.add(task)
        task.add_done_callback(self.shadow_tasks.discard)

    async def _shadow(self, call: _Call, served: Any) -> None:
        series = call.route.series
        shadow = call.route.shadow
        assert shadow is not None
        try:
            result = await self.attempt(
                call.timeout, shadow, 0, call.index, call.ctx, call.args, call.kwargs, None
            )
        except Exception:
            series.shadow_errors += 1
            return
        try:
            differs = bool(result != served)
        except Exception:
            differs = True
        if differs:
            series.shadow_mismatches += 1

    async def drain_shadows(self) -> None:
        """Wait for the shadow calls in flight (tests, shutdown)."""
        while self.shadow_tasks:
            await asyncio.gather(*list(self.shadow_tasks), return_exceptions=True)

    def cancel_shadows(self) -> None:
        for task in list(self.shadow_tasks):
            task.cancel()
