"""One dispatcher per gateway: every try of a call -- primary, fallback, shadow -- is one attempt.

``Dispatcher.entry(index)`` builds, per contract method, the one function that calls a plugin:
it picks the route (on a first try), gates on the plugin's breaker, arms the call's deadline,
times it, tells the breaker, classifies a failure (a contract's own answer passes through;
anything else is the plugin's failure) and goes on along the route's chain by calling itself for
the next try. The same function is the gateway's client method, so a call that succeeds on its
first try is one frame above the plugin's and allocates nothing; a ``_Call`` (and the attempts
list) is only made when something fails, a shadow runs, or the caller asked for the outcome.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from time import monotonic_ns
from typing import Any, Protocol

from ._breaker import CircuitBreaker
from ._context import SecurityContext
from ._deadlines import DeadlineWheel, Token
from ._errors import GatewayCallError, NoPluginAvailableError
from ._metrics import CallSeries
from .routing import Decision

__all__ = [
    "DEFAULT_MAX_SHADOWS",
    "Attempt",
    "CallOutcome",
    "Dispatcher",
    "Entry",
    "Holder",
    "Route",
    "Target",
]

log = logging.getLogger("plugway.plugins")

DEFAULT_MAX_SHADOWS = 64  # shadow calls in flight per gateway; more are dropped (and counted)

_clock_ns = monotonic_ns  # the event loop's clock: one read times a call and arms its deadline
_current_task = asyncio.current_task

Entry = Callable[..., Awaitable[Any]]
"""A contract method's attempt function, ``entry(ctx, *args, **kwargs)``: ``Dispatcher.entry``."""
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
    """Per-call state of one Decision: the chain to try (primary first), its shadow, deadline."""

    __slots__ = ("chain", "decision", "series", "shadow", "timeout", "timeout_ns")

    def __init__(
        self,
        decision: Decision,
        chain: tuple[Target, ...],
        series: CallSeries,
        shadow: Route | None,
        timeout: float | None,
    ) -> None:
        self.decision = decision
        self.chain = chain
        self.series = series  # the primary's series (fallbacks are counted there)
        self.shadow = shadow
        self.timeout = timeout  # of each try; None: no deadline
        self.timeout_ns = None if timeout is None else round(timeout * 1e9)


class StateLike(Protocol):
    """What a first try reads from its gateway's current state (one attribute read)."""

    fixed: Route | None
    routes: tuple[Route, ...]

    def pick(self, ctx: SecurityContext, trace: None = None) -> Decision: ...


class Holder(Protocol):
    """The gateway: its state, swapped whole on each change (read once per first try)."""

    @property
    def state(self) -> StateLike: ...


def describe(exc: BaseException) -> str:
    """A failure as attempts and logs show it."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Call:
    """A call on its way down a failing chain, or to its shadow: what a further try needs (made
    only then, so a first try that succeeds allocates nothing)."""

    __slots__ = ("args", "ctx", "entry", "index", "kwargs", "route", "trail")

    def __init__(
        self,
        entry: Entry,
        index: int,
        route: Route,
        ctx: SecurityContext,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        trail: list[Attempt] | None,
    ) -> None:
        self.entry = entry
        self.index = index
        self.route = route
        self.ctx = ctx
        self.args = args
        self.kwargs = kwargs
        self.trail: list[Attempt] = [] if trail is None else trail

    def again(self, route: Route, pos: int, trail: list[Attempt] | None) -> Awaitable[Any]:
        """Try ``route.chain[pos]`` with this call's arguments."""
        return self.entry(
            self.ctx, *self.args, _pw_route=route, _pw_pos=pos, _pw_trail=trail, **self.kwargs
        )


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

    def entry(self, holder: Holder, index: int) -> Entry:
        """The attempt function of contract method ``index``: the client method itself.

        Called as ``entry(ctx, *args, **kwargs)`` it routes and makes the first try; the
        dispatcher calls it again with ``_pw_route``/``_pw_pos`` for each further try.
        """
        dispatcher = self
        wheel = self.wheel

        async def attempt(
            ctx: SecurityContext,
            /,
            *args: Any,
            _pw_route: Route | None = None,
            _pw_pos: int = 0,
            _pw_trail: list[Attempt] | None = None,
            **kwargs: Any,
        ) -> Any:
            route = _pw_route
            if route is None:
                st = holder.state
                route = st.fixed
                if route is None:
                    route = st.routes[st.pick(ctx).slot]
            target = route.chain[_pw_pos]
            brk = target.breaker
            if not target.methods or (brk.failures and not brk.allow()):
                call = _Call(attempt, index, route, ctx, args, kwargs, _pw_trail)
                why = "no plugin" if not target.methods else "circuit open"
                return await dispatcher._next(call, _pw_pos, why)
            series = target.series
            series.calls += 1
            method = target.methods[index]
            coro = (
                method(ctx, *args, **kwargs) if kwargs else method(ctx, *args)
            )  # caller's TypeError
            timeout_ns = route.timeout_ns
            t0 = _clock_ns()
            slot = None
            if timeout_ns is not None:
                loop = _running_loop()
                task = _current_task(loop)
                if task is None:
                    coro.close()
                    raise RuntimeError("a gateway call with a deadline must run in an asyncio task")
                cancelling = task.cancelling()
                key = (t0 + timeout_ns) // wheel.resolution_ns + 1  # see DeadlineWheel
                slot = wheel.slots.get(key) if loop is wheel.loop else None
                if slot is None:
                    slot = wheel.slot(loop, key)
                token: Token = [task, False]
                slot[id(token)] = token
            try:
                result = await coro
            except BaseException as exc:
                failure: BaseException = exc
                if slot is not None:
                    slot.pop(id(token), None)
                    if token[1]:  # our deadline fired
                        ours = token[0].uncancel() <= cancelling
                        if ours and isinstance(exc, asyncio.CancelledError):
                            failure = TimeoutError(f"no answer within {route.timeout} s")
                            failure.__cause__ = exc
                        elif isinstance(exc, asyncio.CancelledError):
                            raise  # someone else cancelled the call too: not ours to swallow
                if not isinstance(failure, Exception):
                    raise  # a cancellation (not our deadline), KeyboardInterrupt, ...
                series.observe_ns(_clock_ns() - t0)
                call = _Call(attempt, index, route, ctx, args, kwargs, _pw_trail)
                return await dispatcher._failed(call, _pw_pos, target, failure)
            if slot is not None:
                slot.pop(id(token), None)
                if token[1]:  # it answered just as its deadline fired: the answer counts
                    token[0].uncancel()
            series.observe_ns(_clock_ns() - t0)
            if brk.failures:
                brk.record_success()
            if _pw_trail is not None:
                _pw_trail.append(Attempt(target.plugin_id))
            if _pw_pos == 0 and route.shadow is not None:
                dispatcher._spawn_shadow(
                    _Call(attempt, index, route, ctx, args, kwargs, None), result
                )
            return result

        return attempt

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
            return await call.again(route, pos + 1, trail)
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
            result = await call.again(shadow, 0, None)
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
