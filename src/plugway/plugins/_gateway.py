"""The Gateway: the thin facade a module holds over its plugins, routing and dispatcher.

Everything a call needs sits in one immutable ``State`` behind one attribute, rebuilt whole on
each change. A call reads that attribute once, so a swap (routing change, plugin added or
removed) never affects a call already in flight, and no call fails because of a swap. The
client's methods pick the route and hand the call to the dispatcher's one attempt helper.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import threading
import time
import types
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar, cast

from ._breaker import BreakerSettings, CircuitBreaker
from ._context import SecurityContext
from ._contract import PluginContract
from ._dispatch import Dispatcher, Pinned
from ._metrics import GaugeSample, Metrics
from ._outcome import Attempt, CallOutcome
from ._plugin_set import PluginSet
from ._plugin_view import PluginView, SourceOf
from ._revisions import MemoryRevisionStore, RevisionStore, RoutingRevision
from ._shadows import DEFAULT_MAX_SHADOWS
from ._spec import PluginInstance, PluginSpec
from ._state import State, build_state
from .errors import (
    GatewayCallError,
    NoPluginAvailableError,
    PluginError,
    RoutingConfigError,
)
from .routing import Decision, Explanation, Router, RoutingConfig, parse_routing
from .routing import Target as RouteTarget

__all__ = ["DEFAULT_TIMEOUT", "Gateway"]

P = TypeVar("P")

log = logging.getLogger("plugway.plugins")

DEFAULT_TIMEOUT = 10.0  # seconds per try when the routing sets no ``timeout``
_NO_KWARGS: Mapping[str, Any] = types.MappingProxyType({})


class Gateway(Generic[P]):
    """A gateway over plugins of one contract, with per-call routing, fallback and hot swap.

    ``routing``: the routing document used when ``store`` holds no revision for this gateway (it
    is then recorded as revision 1); otherwise the store's latest revision wins, so a restart
    comes back on the last applied routing. ``passthrough``: exception types that are answers,
    added to the contract's own (e.g. "tenant not found"): they reach the caller unchanged and
    count neither as failures nor towards the breaker. ``default_timeout``: the deadline of each try
    when the routing sets no ``timeout`` (None: none, which lets a hanging plugin hang callers).
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
        default_timeout: float | None = DEFAULT_TIMEOUT,
        max_shadows: int = DEFAULT_MAX_SHADOWS,
    ) -> None:
        if default_timeout is not None and default_timeout <= 0:
            raise ValueError("default_timeout must be > 0 (or None)")
        self.name = name
        self.contract = contract
        self.metrics = metrics if metrics is not None else Metrics()
        self.store: RevisionStore = store if store is not None else MemoryRevisionStore()
        self.default_timeout = default_timeout
        self._names = tuple(contract.methods)
        self._plugins: PluginSet[P] = PluginSet(name, contract, breaker, clock)
        # the contract's own errors, and any more this gateway treats as answers
        answers = tuple(dict.fromkeys((*contract.passthrough, *passthrough)))
        self._dispatcher = Dispatcher(name, self._names, answers, max_shadows=max_shadows)
        self._lock = threading.RLock()
        latest = self.store.latest(name)
        if latest is not None:
            config, revision = self._parse(latest.routing), latest.number
        else:
            config = self._parse(routing)
            revision = self.store.append(
                name, config.document(), who="config", what="initial routing"
            ).number
        #: What calls read: the routing and plugins serving now, replaced whole on each change
        #: (an attribute, not a property: every call reads it once).
        self.state: State = self._build(
            Router.compile(config, (), gateway=name, revision=revision, strict=False)
        )
        self._index = {m: i for i, m in enumerate(self._names)}
        self._entries = {m: self._entry(i, m) for i, m in enumerate(self._names)}
        self._client = types.SimpleNamespace(**self._entries)
        self.metrics.set_gauge_source(f"gateway:{name}", self._gauges)

    # -- calls ---------------------------------------------------------------------------------

    def _entry(self, index: int, name: str) -> Callable[..., Awaitable[Any]]:
        """The client method ``name``: the dispatcher's attempt function for that method."""
        entry = self._dispatcher.entry(self, index)
        method = self.contract.methods[name]
        entry.__name__ = name
        entry.__qualname__ = f"{self.contract.name}Gateway.{name}"
        entry.__doc__ = inspect.getdoc(getattr(self.contract.protocol, name))
        entry.__signature__ = method.signature  # type: ignore[attr-defined]
        return entry

    @property
    def client(self) -> P:
        """The gateway as its contract: ``await gw.client.method(ctx, ...)`` routes every call."""
        return cast(P, self._client)

    def call(
        self, method: str, ctx: SecurityContext, /, *args: Any, **kwargs: Any
    ) -> Awaitable[Any]:
        """``await gw.call("method", ctx, ...)``: route and call a contract method by name."""
        entry = self._entries.get(method)
        if entry is None:
            raise self._unknown(method)
        return entry(ctx, *args, **kwargs)

    async def call_with_outcome(
        self, method: str, ctx: SecurityContext, /, *args: Any, **kwargs: Any
    ) -> CallOutcome:
        """Call like ``call`` and say what served: the decision, the plugin, every attempt."""
        index = self._index.get(method)
        if index is None:
            raise self._unknown(method)
        r = self.state.route(ctx)
        pinned = Pinned(r, 0, [])
        result = await self._dispatcher.entry(pinned, index)(ctx, *args, **kwargs)
        failed = tuple(pinned.trail or ())
        served = r.chain[len(failed)].plugin_id  # each failed try moved one along the chain
        return CallOutcome(
            result, self.name, method, served, r.decision, (*failed, Attempt(served))
        )

    @property
    def passthrough(self) -> tuple[type[BaseException], ...]:
        """The errors that are answers, not failures: the contract's and the gateway's own."""
        return self._dispatcher.passthrough

    def _unknown(self, method: str) -> GatewayCallError:
        return GatewayCallError(
            self.name, None, method, f"contract {self.contract.name!r} has no such method"
        )

    def plugin_for(self, ctx: SecurityContext) -> P:
        """The raw implementation that routing picks for ``ctx`` (no fallback, no metrics)."""
        st = self.state
        d = st.pick(ctx)
        inst = st.instances.get(d.plugin_id) if d.plugin_id is not None else None
        if inst is None:
            raise NoPluginAvailableError(self.name, None, "-", "no plugin available")
        return cast(P, inst.impl)

    def decide(self, ctx: SecurityContext) -> Decision:
        """The routing decision for ``ctx`` (a preallocated value)."""
        return self.state.pick(ctx)

    def explain(self, ctx: SecurityContext) -> Explanation:
        """Which plugin would serve ``ctx``, which rule chose it and why, fallbacks, revision.

        ``circuit`` tells whether that plugin's breaker is open (then its fallbacks serve).
        """
        e = self.state.router.explain(ctx)
        if e.plugin_id is None or e.plugin_id not in self._plugins:
            return e
        return dataclasses.replace(e, circuit=self._plugins.breaker(e.plugin_id).state)

    async def drain_shadows(self) -> None:
        """Wait for the shadow calls in flight (tests, shutdown)."""
        await self._dispatcher.shadows.drain()

    # -- plugin set ----------------------------------------------------------------------------

    def breaker(self, plugin_id: str) -> CircuitBreaker:
        """The circuit breaker of a plugin this gateway holds (UnknownPluginError otherwise)."""
        return self._plugins.held_breaker(plugin_id)

    @property
    def plugins(self) -> tuple[PluginInstance[P], ...]:
        """The plugins held, by priority then id."""
        return self._plugins.ordered()

    def plugin_status(self, source_of: SourceOf | None = None) -> list[PluginView]:
        """Per plugin, by priority then id: identity, version, circuit (and where it was
        installed from, when ``source_of`` knows)."""
        return self._plugins.views(source_of)

    def add_plugin(self, spec: PluginSpec, impl: object) -> PluginInstance[P]:
        """Check ``impl`` against the contract and start routing to it (replaces the same id)."""
        with self._lock:
            inst = self._plugins.add(spec, impl)
            self._recompile(f"plugin {spec.id} added (v{inst.version})")
        return inst

    def remove_plugin(self, plugin_id: str) -> None:
        """Stop routing to a plugin; calls in flight on it finish there."""
        with self._lock:
            self._plugins.remove(plugin_id)
            self._recompile(f"plugin {plugin_id} removed")

    def sync_plugins(
        self, items: Iterable[tuple[PluginSpec, object]], *, keep_default: bool = False
    ) -> list[tuple[str, PluginError]]:
        """Replace the plugin set; plugins that break the contract are left out and returned.
        A set that comes back as it is keeps the state serving (nothing is recompiled).

        ``keep_default`` (a gateway that serves): a plugin that joins never takes the default
        route's traffic by itself -- when it would, the routing gets a ``default`` naming the
        plugin that served it, recorded with the next revision (``record_plugin_change``).
        """
        with self._lock:
            before = self.state.router.default.plugin_id
            bad, changed = self._plugins.replace(items)
            if changed:
                self._recompile("plugin set replaced", keep=before if keep_default else None)
        return bad

    # -- routing -------------------------------------------------------------------------------

    def _parse(self, doc: RoutingConfig | Mapping[str, Any] | None) -> RoutingConfig:
        try:
            return parse_routing(doc)
        except RoutingConfigError as exc:
            raise RoutingConfigError(exc.problems, gateway=self.name) from None

    def _compile(self, config: RoutingConfig, revision: int, *, strict: bool) -> Router:
        return Router.compile(
            config, self._plugins.ordered(), gateway=self.name, revision=revision, strict=strict
        )

    def _build(self, router: Router) -> State:
        return build_state(
            self.name,
            router,
            self._plugins,
            self._names,
            self.metrics,
            self.default_timeout,
            self._dispatcher.wheel,
        )

    def _recompile(self, what: str, *, keep: str | None = None) -> None:
        st = self.state
        config = st.router.config
        router = self._compile(config, st.router.revision, strict=False)
        if keep is not None and keep in self._plugins and router.default.plugin_id != keep:
            config = config.model_copy(update={"default": RouteTarget(plugin=keep)})
            router = self._compile(config, st.router.revision, strict=False)
            what += f"; the default route keeps serving {keep}"
        self.state = self._build(router)
        for w in router.warnings:
            log.warning("gateway %s: %s", self.name, w)
        log.info("gateway %s: %s; plugins now %s", self.name, what, sorted(self._plugins.instances))

    @property
    def router(self) -> Router:
        return self.state.router

    @property
    def routing(self) -> RoutingConfig:
        return self.state.router.config

    @property
    def revision(self) -> int:
        return self.state.router.revision

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the running routing could not honour (targets whose plugin is gone)."""
        return self.state.router.warnings

    @property
    def timeout(self) -> float | None:
        """The deadline of each try: the routing's ``timeout``, else the gateway's default."""
        return self.state.timeout

    def apply_routing(
        self,
        doc: RoutingConfig | Mapping[str, Any],
        *,
        who: str = "unknown",
        what: str = "routing change",
    ) -> RoutingRevision:
        """Validate a routing whole against the current plugins, persist it, swap it in.

        Refused (RoutingConfigError with field paths) if invalid; the running routing keeps
        serving. Calls in flight finish on the plugin they started with. The routing already
        serving is not a change: its revision is returned and nothing is written.
        """
        return self._apply(self._parse(doc), who=who, what=what, strict=True)

    def _apply(
        self, config: RoutingConfig, *, who: str, what: str, strict: bool
    ) -> RoutingRevision:
        with self._lock:
            current = self.store.latest(self.name)
            if current is not None and config.document() == self.routing.document():
                return current
            number = (current.number if current else 0) + 1
            router = self._compile(config, number, strict=strict)
            rev = self.store.append(self.name, config.document(), who=who, what=what)
            if rev.number != number:  # another writer appended meanwhile: keep numbers honest
                router = self._compile(config, rev.number, strict=strict)
            self.state = self._build(router)
        for w in router.warnings:
            log.warning("gateway %s: revision %d: %s", self.name, rev.number, w)
        log.info(
            "gateway %s: routing revision %d applied by %s (%s)", self.name, rev.number, who, what
        )
        return rev

    def record_plugin_change(self, *, who: str, what: str) -> RoutingRevision:
        """Record a change of the plugin set as a revision: the routing document under a new
        number, so that history says who/what/when and explain names the routing that actually
        serves. Never refused: targets whose plugin is gone are dropped (warnings)."""
        with self._lock:
            config = self.state.router.config
            rev = self.store.append(self.name, config.document(), who=who, what=what)
            self.state = self._build(self._compile(config, rev.number, strict=False))
        log.info(
            "gateway %s: routing revision %d recorded: %s (%s)", self.name, rev.number, what, who
        )
        return rev

    def follow(self, revision: RoutingRevision) -> bool:
        """Serve a revision another writer committed to the shared store (a replica's change).

        Nothing is written; a revision older than the one serving is ignored, so notifications
        that arrive late or twice are harmless. Served like the running routing: a target whose
        plugin this process lacks is dropped with a warning. True when it swapped.
        """
        if revision.gateway != self.name:
            raise ValueError(f"revision of gateway {revision.gateway!r}, not {self.name!r}")
        config = self._parse(revision.routing)
        with self._lock:
            if revision.number <= self.revision:
                return False
            router = self._compile(config, revision.number, strict=False)
            self.state = self._build(router)
        for w in router.warnings:
            log.warning("gateway %s: revision %d: %s", self.name, revision.number, w)
        log.info(
            "gateway %s: now serving revision %d (%s by %s)",
            self.name,
            revision.number,
            revision.what,
            revision.who,
        )
        return True

    def rollback(self, number: int, *, who: str = "unknown") -> RoutingRevision:
        """Apply an older revision again, as a new revision (history is never rewritten).

        Served like the running routing: a target whose plugin has left since is dropped with
        a warning (``warnings``) rather than refused. A revision that names no ``default`` keeps
        the running one, so plugins that joined since it was written do not take the default
        route's traffic (change ``default`` with a routing change).
        """
        config = self._parse(self.store.get(self.name, number).routing)
        what = f"rollback to revision {number}"
        kept = self.routing.default
        if config.default is None and kept is not None:
            config = config.model_copy(update={"default": kept})
            what += f"; the default route keeps {kept.label}"
        return self._apply(config, who=who, what=what, strict=False)

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
        for p in self._plugins.views():
            out.append(
                GaugeSample(
                    "plugway_gateway_breaker_open",
                    "1 when the plugin's circuit breaker is open or half-open.",
                    {"gateway": self.name, "plugin": p.id},
                    0.0 if p.circuit == "closed" else 1.0,
                )
            )
        return out

    def close(self) -> None:
        """Stop exporting this gateway's metrics and cancel its shadow calls in flight."""
        self.metrics.remove_gauge_source(f"gateway:{self.name}")
        self.metrics.drop_gateway(self.name)
        self._dispatcher.shadows.cancel()

    def __repr__(self) -> str:
        return f"Gateway({self.name!r}, {self.contract.type_id!r}, revision={self.revision})"
