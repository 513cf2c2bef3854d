"""The Gateway: routes each call to a plugin, falls back on failure, swaps routing atomically.

A gateway keeps everything a call needs in one immutable ``_State`` behind one attribute. A call
reads that attribute once, so a swap (routing change, plugin added or removed) never affects a
call already in flight, and no call fails because of a swap. The per-method entry points are
generated with the exact parameters of the contract method (as ``dataclasses`` generates
``__init__``): the fast path -- clean breaker, no timeout, no shadow -- is a handful of attribute
reads, one increment and the awaited plugin call inside a single ``try``. A timeout, when one
is configured, wraps that call in ``_within``: ``asyncio.timeout``'s semantics at about half of
its cost.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import inspect
import logging
import threading
import time
import types
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any, Generic, TypeVar, cast

from ._breaker import BreakerSettings, BreakerState, CircuitBreaker
from ._context import SecurityContext
from ._contract import ContractMethod, ContractVersion, PluginContract
from ._errors import (
    GatewayCallError,
    NoPluginAvailableError,
    PluginError,
    RoutingConfigError,
    UnknownPluginError,
)
from ._metrics import LATENCY_SAMPLE_MASK, CallSeries, GaugeSample, Metrics
from ._revisions import MemoryRevisionStore, RevisionStore, RoutingRevision
from ._router import Decision, Explanation, Router
from ._routing import RoutingConfig, parse_routing
from ._spec import PluginInstance, PluginSpec

__all__ = ["Gateway", "PluginStatus"]

P = TypeVar("P")

log = logging.getLogger("plugway.plugins")


@dataclass(frozen=True, slots=True)
class PluginStatus:
    """What the admin surface shows per plugin: identity, version, circuit state."""

    id: str
    vendor: str
    priority: int
    version: ContractVersion
    defaulted: tuple[str, ...]
    circuit: BreakerState
    failures: int


class _Route:
    """Per-call state of one Decision: its plugin's methods, breaker, metrics series, flags."""

    __slots__ = ("breaker", "decision", "methods", "series", "slow")

    def __init__(
        self,
        decision: Decision,
        methods: tuple[Callable[..., Any], ...],
        breaker: CircuitBreaker,
        series: CallSeries,
        slow: bool,
    ) -> None:
        self.decision = decision
        self.methods = methods  # by contract method index
        self.breaker = breaker
        self.series = series
        self.slow = slow  # no plugin or a shadow: always the careful path


class _State:
    """Everything one call needs; built whole on each change and never mutated afterwards."""

    __slots__ = ("decide", "fixed", "index", "instances", "router", "routes", "timeout")

    def __init__(
        self,
        router: Router,
        instances: Mapping[str, PluginInstance[Any]],
        routes: tuple[_Route, ...],
        index: Mapping[str, int],
    ) -> None:
        self.router = router
        self.decide = router.decide
        self.instances = instances
        self.timeout = router.config.timeout
        self.routes = routes
        self.fixed = routes[router.fixed.slot] if router.fixed is not None else None
        self.index = index


_TEMPLATE = """\
async def {name}({params}):
    _pw_st = _pw_gw._state
{head}    _pw_r = _pw_st.fixed
    if _pw_r is None:
        _pw_r = _pw_st.routes[_pw_st.decide({ctx}).slot]
    _pw_s = _pw_r.series
    _pw_n = _pw_s.calls + 1
    _pw_s.calls = _pw_n
    if _pw_r.slow or _pw_r.breaker.failures or not _pw_n & {mask}:
        return await _pw_gw._careful(_pw_st, _pw_r, {method}, {ctx}, {args}, {kwargs})
    _pw_c = {invoke}  # a TypeError here is the caller's, not the plugin's
    if _pw_st.timeout is not None:
        _pw_c = _pw_within(_pw_c, _pw_st.timeout)
    try:
        return await _pw_c
    except Exception as _pw_e:
        return await _pw_gw._recover(_pw_st, _pw_r, {method}, {ctx}, {args}, {kwargs}, _pw_e)
"""

_GENERIC_HEAD = """\
    try:
        _pw_i = _pw_index[_pw_m]
    except KeyError:
        raise _pw_gw._unknown(_pw_m) from None
"""


def _generic_source() -> str:
    """Source of ``gw.call(method, ctx, *args, **kwargs)``: by name, any arguments."""
    return _TEMPLATE.format(
        name="call",
        params="_pw_m, ctx, /, *args, **kwargs",
        head=_GENERIC_HEAD,
        ctx="ctx",
        method="_pw_m",
        args="args",
        kwargs="kwargs",
        invoke=(
            "_pw_r.methods[_pw_i](ctx, *args, **kwargs) if kwargs "
            "else _pw_r.methods[_pw_i](ctx, *args)"
        ),
        mask=LATENCY_SAMPLE_MASK,
    )


def _entry_source(name: str, m: ContractMethod, index: int, ns: dict[str, Any]) -> str:
    """Source of one entry point, with the exact parameters of the contract method."""
    params: list[str] = []
    call: list[str] = []
    pos: list[str] = []
    kw: list[str] = []
    star_done = False
    seen_posonly = False
    plist = list(m.signature.parameters.values())
    for i, p in enumerate(plist):
        if p.name.startswith("_pw_"):
            raise ValueError(f"parameter names must not start with '_pw_': {p.name!r}")
        default = ""
        if p.default is not inspect.Parameter.empty:
            ns[f"_pw_default_{i}"] = p.default
            default = f"=_pw_default_{i}"
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            seen_posonly = True
            params.append(p.name + default)
            call.append(p.name)
            if i:
                pos.append(p.name)
            continue
        if seen_posonly:
            params.append("/")
            seen_posonly = False
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            params.append(p.name + default)
            call.append(p.name)
            if i:
                pos.append(p.name)
        elif p.kind is inspect.Parameter.VAR_POSITIONAL:
            params.append(f"*{p.name}")
            call.append(f"*{p.name}")
            pos.append(f"*{p.name}")
            star_done = True
        elif p.kind is inspect.Parameter.KEYWORD_ONLY:
            if not star_done:
                params.append("*")
                star_done = True
            params.append(p.name + default)
            call.append(f"{p.name}={p.name}")
            kw.append(f"{p.name!r}: {p.name}")
        else:
            params.append(f"**{p.name}")
            call.append(f"**{p.name}")
            kw.append(f"**{p.name}")
    if seen_posonly:
        params.append("/")
    ns["_pw_m"] = m.name
    return _TEMPLATE.format(
        name=name,
        params=", ".join(params),
        head="",
        ctx=plist[0].name,
        method="_pw_m",
        args="(" + "".join(f"{a}, " for a in pos) + ")",
        kwargs="{" + ", ".join(kw) + "}",
        invoke=f"_pw_r.methods[{index}]({', '.join(call)})",
        mask=LATENCY_SAMPLE_MASK,
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Expiry:
    """The timer callback of one timed call: cancel the calling task, remember it did."""

    __slots__ = ("fired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.fired = False

    def __call__(self) -> None:
        self.fired = True
        self.task.cancel()


async def _within(coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
    """Await ``coro`` for at most ``timeout`` seconds: ``asyncio.timeout`` semantics (Python 3.11:
    cancel the task at the deadline, turn that cancellation -- and only that one -- into
    TimeoutError) without its context-manager machinery, which costs more than the rest of a
    gateway call."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task(loop)
    if task is None:  # a coroutine driven by hand: let asyncio.timeout refuse it in its words
        async with asyncio.timeout(timeout):
            return await coro
    cancelling = task.cancelling()
    expiry = _Expiry(task)
    handle = loop.call_at(loop.time() + timeout, expiry)
    try:
        result = await coro
    except BaseException as exc:
        handle.cancel()
        if (
            expiry.fired
            and task.uncancel() <= cancelling
            and isinstance(exc, asyncio.CancelledError)
        ):
            raise TimeoutError from exc
        raise
    handle.cancel()
    if expiry.fired:
        task.uncancel()
    return result


def _count_failure(series: CallSeries, brk: CircuitBreaker, exc: Exception) -> None:
    """A plugin raised or timed out: count it (timeouts too) and tell its breaker."""
    series.errors += 1
    if isinstance(exc, TimeoutError):
        series.timeouts += 1
    brk.record_failure()


class Gateway(Generic[P]):
    """A gateway over plugins of one contract, with per-call routing, fallback and hot swap.

    ``routing``: the routing document used when ``store`` holds no revision for this gateway (it
    is then recorded as revision 1); otherwise the store's latest revision wins, so a restart
    comes back on the last applied routing. ``passthrough``: exception types that are the
    contract's own answers (e.g. "tenant not found"): they reach the caller unchanged and count
    neither as failures nor towards the breaker.
    """

    def __init__(
        self,
        name: str,
        contract: PluginContract[P],
        *,
        routing: RoutingConfig | Mapping[str, Any] | None = None,
        metrics: Metrics | None = None,
        store: RevisionStore | None = None,
        breaker: BreakerSettings | None = None,
        passthrough: tuple[type[BaseException], ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.contract = contract
        self.metrics = metrics if metrics is not None else Metrics()
        self.store: RevisionStore = store if store is not None else MemoryRevisionStore()
        self._breaker_settings = breaker or BreakerSettings()
        self._passthrough = passthrough
        self._clock = clock
        self._lock = threading.RLock()
        self._instances: dict[str, PluginInstance[P]] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._null_breaker = CircuitBreaker("-", self._breaker_settings, clock)
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        self._method_index = {m: i for i, m in enumerate(contract.methods)}
        latest = self.store.latest(name)
        if latest is not None:
            config = self._parse(latest.routing)
            revision = latest.number
        else:
            config = self._parse(routing)
            revision = self.store.append(
                name, config.document(), who="config", what="initial routing"
            ).number
        self._state = self._build(
            Router.compile(config, (), gateway=name, revision=revision, strict=False)
        )
        entries: dict[str, Any] = {}
        for i, (mname, m) in enumerate(contract.methods.items()):
            mns: dict[str, Any] = {"_pw_gw": self, "_pw_within": _within}
            exec(_entry_source(mname, m, i, mns), mns)
            fn = mns[mname]
            fn.__qualname__ = f"{contract.name}Gateway.{mname}"
            fn.__doc__ = inspect.getdoc(getattr(contract.protocol, mname))
            entries[mname] = fn
        self._client = types.SimpleNamespace(**entries)
        ns: dict[str, Any] = {
            "_pw_gw": self,
            "_pw_index": self._method_index,
            "_pw_within": _within,
        }
        exec(_generic_source(), ns)
        #: ``await gw.call("method", ctx, *args, **kwargs)``: route and call by method name
        self.call: Callable[..., Coroutine[Any, Any, Any]] = ns["call"]
        self.metrics.set_gauge_source(f"gateway:{name}", self._gauges)

    # -- typed client / calls ------------------------------------------------------------------

    @property
    def client(self) -> P:
        """The gateway as its contract: ``await gw.client.method(ctx, ...)`` routes every call."""
        return cast(P, self._client)

    def plugin_for(self, ctx: SecurityContext) -> P:
        """The raw implementation that routing picks for ``ctx`` (no fallback, no metrics)."""
        st = self._state
        d = st.decide(ctx)
        inst = st.instances.get(d.plugin_id) if d.plugin_id is not None else None
        if inst is None:
            raise NoPluginAvailableError(self.name, None, "-", "no plugin available")
        return cast(P, inst.impl)

    def decide(self, ctx: SecurityContext) -> Decision:
        """The routing decision for ``ctx`` (a preallocated value)."""
        return self._state.decide(ctx)

    def explain(self, ctx: SecurityContext) -> Explanation:
        """Which plugin would serve ``ctx``, which rule chose it and why, fallbacks, revision.

        ``circuit`` tells whether that plugin's breaker is open (then its fallbacks serve).
        """
        e = self._state.router.explain(ctx)
        if e.plugin_id is None or e.plugin_id not in self._instances:
            return e
        return dataclasses.replace(e, circuit=self._breaker(e.plugin_id).state)

    def _unknown(self, method: str) -> GatewayCallError:
        return GatewayCallError(
            self.name, None, method, f"contract {self.contract.name!r} has no such method"
        )

    async def _careful(
        self,
        st: _State,
        r: _Route,
        method: str,
        ctx: SecurityContext,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """The full path: breaker gate, timeout, timing, shadow; failures go to ``_recover``."""
        d = r.decision
        if d.plugin_id is None or not r.methods:
            return await self._fallback(
                st, r, method, ctx, args, kwargs, [(str(d.plugin_id), "no plugin")], None
            )
        brk = r.breaker
        s = r.series
        if not brk.allow():
            return await self._fallback(
                st, r, method, ctx, args, kwargs, [(d.plugin_id, "circuit open")], None
            )
        coro = r.methods[st.index[method]](ctx, *args, **kwargs)  # TypeError: the caller's
        t0 = perf_counter_ns()
        try:
            result = await (coro if st.timeout is None else _within(coro, st.timeout))
        except Exception as exc:
            s.observe_ns(perf_counter_ns() - t0)
            return await self._recover(st, r, method, ctx, args, kwargs, exc)
        s.observe_ns(perf_counter_ns() - t0)
        if brk.failures:
            brk.record_success()
        if d.shadow is not None:
            self._spawn_shadow(st, r, method, ctx, args, kwargs, result)
        return result

    async def _recover(
        self,
        st: _State,
        r: _Route,
        method: str,
        ctx: SecurityContext,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        exc: Exception,
    ) -> Any:
        """The primary plugin raised or timed out: count it, trip its breaker, try the chain."""
        d = r.decision
        if self._passes_through(exc, r.breaker):
            raise exc
        _count_failure(r.series, r.breaker, exc)
        log.warning(
            "gateway %s: plugin %s failed in %s (rule %s): %s",
            self.name,
            d.plugin_id,
            method,
            d.rule_label,
            _describe(exc),
        )
        return await self._fallback(
            st, r, method, ctx, args, kwargs, [(str(d.plugin_id), _describe(exc))], exc
        )

    def _passes_through(self, exc: Exception, brk: CircuitBreaker) -> bool:
        """A contract's own error (e.g. "tenant not found") is an answer, not a plugin failure:
        it reaches the caller, never a fallback, and counts as a success for the breaker."""
        if not isinstance(exc, self._passthrough):
            return False
        if brk.failures:
            brk.record_success()
        return True

    async def _fallback(
        self,
        st: _State,
        r: _Route,
        method: str,
        ctx: SecurityContext,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        attempts: list[tuple[str, str]],
        cause: BaseException | None,
    ) -> Any:
        d = r.decision
        if d.fallback:
            r.series.fallbacks += 1
        for pid in d.fallback:
            inst = st.instances.get(pid)
            if inst is None:
                attempts.append((pid, "no plugin"))
                continue
            brk = self._breaker(pid)
            if not brk.allow():
                attempts.append((pid, "circuit open"))
                continue
            fs = self.metrics.series(self.name, pid, d.rule_label)
            fs.calls += 1
            coro = inst.methods[method](ctx, *args, **kwargs)
            t0 = perf_counter_ns()
            try:
                result = await (coro if st.timeout is None else _within(coro, st.timeout))
            except Exception as exc:
                fs.observe_ns(perf_counter_ns() - t0)
                if self._passes_through(exc, brk):
                    raise
                _count_failure(fs, brk, exc)
                log.warning(
                    "gateway %s: fallback plugin %s failed in %s: %s",
                    self.name,
                    pid,
                    method,
                    _describe(exc),
                )
                attempts.append((pid, _describe(exc)))
                cause = exc
                continue
            fs.observe_ns(perf_counter_ns() - t0)
            if brk.failures:
                brk.record_success()
            return result
        first = attempts[0][1]
        more = "; ".join(f"{p}: {e}" for p, e in attempts[1:])
        message = f"failed ({first})" + (f"; fallbacks: {more}" if more else "; no fallback")
        error_type = NoPluginAvailableError if d.plugin_id is None else GatewayCallError
        raise error_type(self.name, d.plugin_id, method, message, attempts) from cause

    # -- shadow --------------------------------------------------------------------------------

    def _spawn_shadow(
        self,
        st: _State,
        r: _Route,
        method: str,
        ctx: SecurityContext,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        served: Any,
    ) -> None:
        s = r.series
        s.shadow_calls += 1
        try:
            cargs = copy.deepcopy(args)
            ckwargs = copy.deepcopy(kwargs)
        except Exception as exc:
            s.shadow_errors += 1
            log.warning("gateway %s: shadow call not made, args not copyable: %s", self.name, exc)
            return
        task = asyncio.get_running_loop().create_task(
            self._run_shadow(st, r, method, ctx, cargs, ckwargs, served)
        )
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    async def _run_shadow(
        self,
        st: _State,
        r: _Route,
        method: str,
        ctx: SecurityContext,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        served: Any,
    ) -> None:
        s = r.series
        pid = r.decision.shadow
        inst = st.instances.get(pid) if pid is not None else None
        if inst is None or pid is None:
            s.shadow_errors += 1
            return
        brk = self._breaker(pid)
        if not brk.allow():
            s.shadow_errors += 1
            return
        try:
            coro = inst.methods[method](ctx, *args, **kwargs)
            result = await (coro if st.timeout is None else _within(coro, st.timeout))
        except Exception as exc:
            s.shadow_errors += 1
            if not isinstance(exc, self._passthrough):
                brk.record_failure()
            log.info("gateway %s: shadow plugin %s failed in %s: %s", self.name, pid, method, exc)
            return
        if brk.failures:
            brk.record_success()
        try:
            differs = bool(result != served)
        except Exception:
            differs = True
        if differs:
            s.shadow_mismatches += 1

    async def drain_shadows(self) -> None:
        """Wait for the shadow calls in flight (tests, shutdown)."""
        while self._shadow_tasks:
            await asyncio.gather(*list(self._shadow_tasks), return_exceptions=True)

    # -- plugin set ----------------------------------------------------------------------------

    def _breaker(self, plugin_id: str) -> CircuitBreaker:
        brk = self._breakers.get(plugin_id)
        if brk is None:
            with self._lock:
                brk = self._breakers.setdefault(
                    plugin_id, CircuitBreaker(plugin_id, self._breaker_settings, self._clock)
                )
        return brk

    def breaker(self, plugin_id: str) -> CircuitBreaker:
        """The circuit breaker of a plugin this gateway holds (UnknownPluginError otherwise)."""
        if plugin_id not in self._instances:
            raise UnknownPluginError(self.name, plugin_id)
        return self._breaker(plugin_id)

    def _build(self, router: Router) -> _State:
        instances = dict(self._instances)
        names = list(self.contract.methods)
        routes = []
        for d in router.decisions:
            inst = instances.get(d.plugin_id) if d.plugin_id is not None else None
            if d.plugin_id is None or inst is None:
                # nothing is served here: a private series, never exported
                routes.append(
                    _Route(
                        d, (), self._null_breaker, CallSeries(self.name, "-", d.rule_label), True
                    )
                )
                continue
            routes.append(
                _Route(
                    d,
                    tuple(inst.methods[n] for n in names),
                    self._breaker(d.plugin_id),
                    self.metrics.series(self.name, d.plugin_id, d.rule_label),
                    d.shadow is not None,
                )
            )
        return _State(router, types.MappingProxyType(instances), tuple(routes), self._method_index)

    def _recompile(self, what: str) -> None:
        st = self._state
        router = Router.compile(
            st.router.config,
            list(self._instances.values()),
            gateway=self.name,
            revision=st.router.revision,
            strict=False,
        )
        self._state = self._build(router)
        for w in router.warnings:
            log.warning("gateway %s: %s", self.name, w)
        log.info("gateway %s: %s; plugins now %s", self.name, what, sorted(self._instances))

    def add_plugin(self, spec: PluginSpec, impl: object) -> PluginInstance[P]:
        """Check ``impl`` against the contract and start routing to it (replaces the same id)."""
        inst = self.contract.bind(spec, impl)
        with self._lock:
            self._instances[spec.id] = inst
            self._recompile(f"plugin {spec.id} added (v{inst.version})")
        return inst

    def remove_plugin(self, plugin_id: str) -> None:
        """Stop routing to a plugin; calls in flight on it finish there."""
        with self._lock:
            if plugin_id not in self._instances:
                raise UnknownPluginError(self.name, plugin_id)
            del self._instances[plugin_id]
            self._recompile(f"plugin {plugin_id} removed")

    def sync_plugins(
        self, items: Iterable[tuple[PluginSpec, object]]
    ) -> list[tuple[str, PluginError]]:
        """Replace the plugin set; plugins that break the contract are left out and returned."""
        good: dict[str, PluginInstance[P]] = {}
        bad: list[tuple[str, PluginError]] = []
        for spec, impl in items:
            try:
                good[spec.id] = self.contract.bind(spec, impl)
            except PluginError as exc:
                log.warning("gateway %s: plugin %s left out: %s", self.name, spec.id, exc)
                bad.append((spec.id, exc))
        with self._lock:
            self._instances = good
            self._recompile("plugin set replaced")
        return bad

    @property
    def plugins(self) -> tuple[PluginInstance[P], ...]:
        """The plugins held, by priority then id."""
        return tuple(sorted(self._instances.values(), key=lambda p: (p.priority, p.id)))

    def plugin_status(self) -> list[PluginStatus]:
        """Per plugin: id, vendor, priority, implemented version, defaulted methods, circuit."""
        out = []
        for p in self.plugins:
            brk = self._breaker(p.id)
            out.append(
                PluginStatus(
                    p.id, p.vendor, p.priority, p.version, p.defaulted, brk.state, brk.failures
                )
            )
        return out

    # -- routing -------------------------------------------------------------------------------

    def _parse(self, doc: RoutingConfig | Mapping[str, Any] | None) -> RoutingConfig:
        try:
            return parse_routing(doc)
        except RoutingConfigError as exc:
            raise RoutingConfigError(exc.problems, gateway=self.name) from None

    @property
    def router(self) -> Router:
        return self._state.router

    @property
    def routing(self) -> RoutingConfig:
        return self._state.router.config

    @property
    def revision(self) -> int:
        return self._state.router.revision

    def apply_routing(
        self,
        doc: RoutingConfig | Mapping[str, Any],
        *,
        who: str = "unknown",
        what: str = "routing change",
    ) -> RoutingRevision:
        """Validate a routing whole against the current plugins, persist it, swap it in.

        Refused (RoutingConfigError with field paths) if invalid; the running routing keeps
        serving. Calls in flight finish on the plugin they started with.
        """
        config = self._parse(doc)
        with self._lock:
            latest = self.store.latest(self.name)
            number = (latest.number if latest else 0) + 1
            plugins = list(self._instances.values())
            router = Router.compile(
                config, plugins, gateway=self.name, revision=number, strict=True
            )
            rev = self.store.append(self.name, config.document(), who=who, what=what)
            if rev.number != number:  # another writer appended meanwhile: keep numbers honest
                router = Router.compile(
                    config, plugins, gateway=self.name, revision=rev.number, strict=True
                )
            self._state = self._build(router)
        log.info(
            "gateway %s: routing revision %d applied by %s (%s)", self.name, rev.number, who, what
        )
        return rev

    def record_plugin_change(self, *, who: str, what: str) -> RoutingRevision:
        """Record a change of the plugin set as a revision: the same routing document under a
        new number, so that history says who/what/when and explain names the routing that
        actually serves. Never refused: targets whose plugin is gone are dropped (warnings)."""
        with self._lock:
            config = self._state.router.config
            rev = self.store.append(self.name, config.document(), who=who, what=what)
            router = Router.compile(
                config,
                list(self._instances.values()),
                gateway=self.name,
                revision=rev.number,
                strict=False,
            )
            self._state = self._build(router)
        log.info(
            "gateway %s: routing revision %d recorded: %s (%s)", self.name, rev.number, what, who
        )
        return rev

    def rollback(self, number: int, *, who: str = "unknown") -> RoutingRevision:
        """Apply an older revision again, as a new revision (history is never rewritten)."""
        old = self.store.get(self.name, number)
        return self.apply_routing(old.routing, who=who, what=f"rollback to revision {number}")

    def revisions(self, limit: int = 50) -> list[RoutingRevision]:
        """This gateway's routing revisions, newest first."""
        return self.store.list(self.name, limit=limit)

    # -- metrics -------------------------------------------------------------------------------

    def _gauges(self) -> list[GaugeSample]:
        out = [
            GaugeSample(
                "plugway_gateway_routing_revision",
                "Routing revision a gateway serves.",
                {"gateway": self.name},
                float(self.revision),
            )
        ]
        for p in self.plugins:
            brk = self._breaker(p.id)
            out.append(
                GaugeSample(
                    "plugway_gateway_breaker_open",
                    "1 when the plugin's circuit breaker is open or half-open.",
                    {"gateway": self.name, "plugin": p.id},
                    0.0 if brk.state == "closed" else 1.0,
                )
            )
        return out

    def close(self) -> None:
        """Stop exporting this gateway's gauges and cancel its shadow calls in flight."""
        self.metrics.remove_gauge_source(f"gateway:{self.name}")
        for task in list(self._shadow_tasks):
            task.cancel()

    def __repr__(self) -> str:
        return f"Gateway({self.name!r}, {self.contract.type_id!r}, revision={self.revision})"
