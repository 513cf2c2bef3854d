"""One dispatcher per gateway: every try of a call -- primary, fallback, shadow -- is one attempt.

``Dispatcher.entry(holder, index)`` builds, per contract method, the one function that calls a
plugin: it takes the route from the holder's state, gates on the plugin's breaker, arms the
call's deadline, times it into the histogram, tells the breaker and, when the plugin fails,
classifies the failure (a contract's own answer passes through; anything else is the plugin's
failure) and goes on along the route's chain. The same function is the gateway's client method,
so a call that succeeds on its first try runs one frame above the plugin's and allocates
nothing. A further try (fallback), a shadow, and a call whose caller wants the outcome run the
same function built over a ``Pinned`` holder: one route, its position in the chain, the trail.

Up to three arguments after the context travel as fixed positional parameters, the rest as
``*more``/``**kw``: packing every call's arguments into a tuple costs more than the rest of the
dispatch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from threading import get_ident
from time import monotonic_ns
from typing import Any, Protocol

from ._breaker import CircuitBreaker
from ._context import SecurityContext
from ._deadlines import Deadline, DeadlineWheel, Window
from ._metrics import CallSeries
from ._outcome import Attempt
from ._shadows import DEFAULT_MAX_SHADOWS, Shadows
from .errors import GatewayCallError, NoPluginAvailableError
from .routing import Decision

__all__ = [
    "NO_PLUGIN_BREAKER",
    "Dispatcher",
    "Entry",
    "Holder",
    "Pinned",
    "Route",
    "Target",
]

log = logging.getLogger("plugway.plugins")

_clock_ns = monotonic_ns

Entry = Callable[..., Awaitable[Any]]
"""A contract method's attempt function, ``entry(ctx, *args, **kwargs)``: ``Dispatcher.entry``."""


class _NoArg:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<no argument>"


_NOARG: Any = _NoArg()  # an argument the caller did not pass


def _pack(a0: Any, a1: Any, a2: Any, more: tuple[Any, ...]) -> tuple[Any, ...]:
    """The positional arguments of a call as a tuple (the fixed parameters the caller passed)."""
    if a0 is _NOARG:
        return ()
    if a1 is _NOARG:
        return (a0,)
    if a2 is _NOARG:
        return (a0, a1)
    return (a0, a1, a2, *more)


class _NoPluginBreaker(CircuitBreaker):
    """The breaker of a target no plugin serves: never clean, never allows, so a call finds out
    there is no plugin on the same test that finds an open breaker."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("-")
        self.failures = 1
        self.state = "open"

    def allow(self) -> bool:
        return False

    def record_success(self) -> None:
        pass

    def record_failure(self) -> None:
        pass


NO_PLUGIN_BREAKER: CircuitBreaker = _NoPluginBreaker()


class Target:
    """A plugin as one route reaches it: its methods, its breaker, the route's series for it.

    A plugin the decision names but the gateway does not hold has no methods (``"-"`` when the
    decision names none) and ``NO_PLUGIN_BREAKER``: trying it is a failure ("no plugin") that
    goes on along the chain.
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
    """Per-call state of one Decision: the chain to try (primary first), its shadow, deadline.

    The primary's methods (None: no plugin to call), breaker and series are copied out of
    ``chain[0]``: a call reads them from the route it already holds.
    """

    __slots__ = ("breaker", "chain", "deadline", "decision", "methods", "series", "shadow")

    def __init__(
        self,
        decision: Decision,
        chain: tuple[Target, ...],
        shadow: Route | None,
        deadline: Deadline | None,
    ) -> None:
        self.decision = decision
        self.chain = chain
        primary = chain[0]
        self.methods = primary.methods or None
        self.breaker = primary.breaker
        self.series = primary.series  # a first try's fallbacks are counted here too
        self.shadow = shadow
        self.deadline = deadline  # of each try; None: no deadline

    @property
    def timeout(self) -> float | None:
        return self.deadline.timeout if self.deadline is not None else None

    def rest(self, pos: int) -> Route:
        """The chain from try ``pos`` on, without the shadow (only a first try has one)."""
        return Route(self.decision, self.chain[pos:], None, self.deadline)


class StateLike(Protocol):
    """What a first try reads from its gateway's current state (one attribute read): the only
    route, else the memo of routes by key, else ``decided(ctx)``."""

    @property
    def fixed(self) -> Route | None: ...
    @property
    def memo(self) -> Mapping[str, Route] | None: ...
    @property
    def by_tenant(self) -> bool: ...

    def decided(self, ctx: SecurityContext) -> Route: ...


class Holder(Protocol):
    """The gateway: its state, swapped whole on each change (read once per first try)."""

    @property
    def state(self) -> StateLike: ...


class Pinned:
    """A holder of one route, for a try that is not a plain first one: a fallback (``pos`` > 0),
    a shadow, or a call whose caller keeps the ``trail`` of failed tries for the outcome."""

    __slots__ = ("fixed", "pos", "trail", "whole")

    memo: Mapping[str, Route] | None = None
    by_tenant = False

    def __init__(self, route: Route, pos: int = 0, trail: list[Attempt] | None = None) -> None:
        self.whole = route  # the whole chain
        self.pos = pos
        self.fixed = route if pos == 0 else route.rest(pos)
        self.trail = trail

    @property
    def state(self) -> Pinned:
        return self

    def decided(self, ctx: SecurityContext) -> Route:
        return self.fixed


def describe(exc: BaseException) -> str:
    """A failure as attempts and logs show it."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
        self.shadows = Shadows(gateway, max_shadows)

    def shadow(
        self,
        route: Route,
        index: int,
        ctx: SecurityContext,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        served: Any,
    ) -> None:
        """Send a served call to the route's shadow too: a try of its own, only compared."""
        shadow = route.shadow
        assert shadow is not None
        self.shadows.spawn(
            lambda: self.entry(Pinned(shadow), index), route.series, ctx, args, kwargs, served
        )

    def entry(self, holder: Holder, index: int) -> Entry:
        """The attempt function of contract method ``index`` over ``holder``'s routes.

        Over the gateway it is the client method, ``entry(ctx, *args, **kwargs)``; over a
        ``Pinned`` holder it makes one further try of a call.
        """
        dispatcher = self
        clock = _clock_ns
        thread_id = get_ident
        noarg = _NOARG

        async def attempt(
            ctx: SecurityContext,
            a0: Any = noarg,
            a1: Any = noarg,
            a2: Any = noarg,
            /,
            *more: Any,
            **kw: Any,
        ) -> Any:
            st = holder.state
            route = st.fixed
            if route is None:
                memo = st.memo  # what State.route reads first, read here inline
                if (
                    memo is None
                    or (route := memo.get(ctx.tenant_id if st.by_tenant else ctx.subject_id))
                    is None
                ):
                    route = st.decided(ctx)
            brk = route.breaker
            if brk.failures and not brk.allow():  # an open breaker, or no plugin at all
                why = "no plugin" if route.methods is None else "circuit open"
                args = _pack(a0, a1, a2, more)
                return await dispatcher._next(holder, index, route, why, ctx, args, kw)
            method = route.methods[index]  # type: ignore[index]
            if kw or more:  # the caller's TypeError, if any, is raised here
                coro = method(ctx, *_pack(a0, a1, a2, more), **kw)
            elif a0 is noarg:
                coro = method(ctx)
            elif a1 is noarg:
                coro = method(ctx, a0)
            elif a2 is noarg:
                coro = method(ctx, a0, a1)
            else:
                coro = method(ctx, a0, a1, a2)
            deadline = route.deadline
            if deadline is None:
                window: Window | None = None
            else:
                task: Any = (
                    deadline.task_of(deadline.loop) if thread_id() == deadline.thread else None
                )
                window = deadline.window
                if task is None or window is None:
                    try:
                        window, task = deadline.arm(coro)
                    except BaseException:
                        coro.close()
                        raise
                else:
                    window[coro] = task
            t0 = clock()
            try:
                result = await coro
            except BaseException as exc:
                return await dispatcher._failed(
                    holder, index, route, t0, exc, window, coro, ctx, _pack(a0, a1, a2, more), kw
                )
            if window is not None and window.pop(coro) is not task:
                task.uncancel()  # it answered just as its deadline fired: the answer counts
            ns = clock() - t0
            series = route.series
            series.latency[ns.bit_length()] += 1  # CallSeries.observe_ns, inline: every call
            series.latency_sum_ns += ns
            if brk.failures:
                brk.record_success()
            if route.shadow is not None:
                dispatcher.shadow(route, index, ctx, _pack(a0, a1, a2, more), kw, result)
            return result

        return attempt

    async def _failed(
        self,
        holder: Holder,
        index: int,
        route: Route,
        t0: int,
        exc: BaseException,
        window: Window | None,
        coro: Coroutine[Any, Any, Any],
        ctx: SecurityContext,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
    ) -> Any:
        """A try raised: turn our deadline's cancellation into a timeout, then classify -- a
        contract's own answer passes through, anything else counts against the plugin."""
        route.series.observe_ns(_clock_ns() - t0)
        failure = exc
        if window is not None:
            mark = window.pop(coro, None)
            if isinstance(mark, int):  # our deadline fired
                task = asyncio.current_task()
                ours = task is not None and task.uncancel() <= mark
                if isinstance(exc, asyncio.CancelledError):
                    if not ours:
                        raise exc  # someone else cancelled the call too: not ours to swallow
                    failure = TimeoutError(f"no answer within {route.timeout} s")
                    failure.__cause__ = exc
        if not isinstance(failure, Exception):
            raise exc  # a cancellation (not our deadline), KeyboardInterrupt, ...
        brk = route.breaker
        if isinstance(failure, self.passthrough):
            # a contract's own answer ("tenant not found"): the caller's, and a healthy plugin
            if brk.failures:
                brk.record_success()
            raise failure
        series = route.series
        series.errors += 1
        if isinstance(failure, TimeoutError):
            series.timeouts += 1
        brk.record_failure()
        pos = holder.pos if isinstance(holder, Pinned) else 0
        log.warning(
            "gateway %s: %s %s failed in %s (rule %s): %s",
            self.gateway,
            "plugin" if pos == 0 else "fallback plugin",
            route.chain[0].plugin_id,
            self.method_names[index],
            route.decision.rule_label,
            describe(failure),
        )
        return await self._next(holder, index, route, describe(failure), ctx, args, kwargs, failure)

    async def _next(
        self,
        holder: Holder,
        index: int,
        route: Route,
        error: str,
        ctx: SecurityContext,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        cause: BaseException | None = None,
    ) -> Any:
        """Record why this try failed, then try the next in the chain or give up."""
        if isinstance(holder, Pinned):
            whole, pos, trail = holder.whole, holder.pos, holder.trail
        else:
            whole, pos, trail = route, 0, None
        if trail is None:
            trail = []
        trail.append(Attempt(route.chain[0].plugin_id, error))
        if pos + 1 < len(whole.chain):
            if pos == 0:
                whole.series.fallbacks += 1
            further = self.entry(Pinned(whole, pos + 1, trail), index)
            return await further(ctx, *args, **kwargs)
        d = whole.decision
        failed = [(a.plugin, a.error or "") for a in trail if a.error is not None]
        first = failed[0][1]
        more = "; ".join(f"{p}: {e}" for p, e in failed[1:])
        message = f"failed ({first})" + (f"; fallbacks: {more}" if more else "; no fallback")
        error_type = NoPluginAvailableError if d.plugin_id is None else GatewayCallError
        raise error_type(
            self.gateway, d.plugin_id, self.method_names[index], message, failed
        ) from cause
