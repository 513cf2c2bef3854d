"""A gateway's state: everything one call reads, built whole from a router and the plugin set.

A change (routing, plugins) builds the next ``State`` and swaps one reference; a call reads that
reference once, so it finishes on the state it started with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._context import SecurityContext
from ._deadlines import DeadlineWheel
from ._dispatch import NO_PLUGIN_BREAKER, Route, Target
from ._metrics import CallSeries, Metrics
from ._plugin_set import PluginSet
from ._spec import PluginInstance
from .routing import Router

__all__ = ["State", "build_state"]


MEMO_SIZE = 4096  # keys whose route a state keeps; emptied when full


class State:
    """Everything one call needs; never changed once built, but for its memo of routes.

    When the routing reads one context key alone (``Router.memo_key``: ``tenant_id`` or
    ``subject_id``, as a sticky split or a tenant rule does), ``memo`` keeps the route of the
    latest ``MEMO_SIZE`` values of that key, each one what the router decided for it, so a
    call's routing is one dict read.
    """

    __slots__ = ("by_tenant", "fixed", "instances", "memo", "pick", "router", "routes", "timeout")

    def __init__(
        self,
        router: Router,
        instances: Mapping[str, PluginInstance[Any]],
        routes: tuple[Route, ...],
        timeout: float | None,
    ) -> None:
        self.router = router
        self.pick = router.decider
        self.instances = instances
        self.routes = routes  # by Decision.slot
        self.fixed = routes[router.fixed.slot] if router.fixed is not None else None
        self.timeout = timeout
        key = router.memo_key
        self.memo: dict[str, Route] | None = {} if key is not None else None
        self.by_tenant = key == "tenant_id"  # else the memo is by subject_id

    def route(self, ctx: SecurityContext) -> Route:
        """The route of ``ctx``: the only one, else the memo's, else the router's decision."""
        if self.fixed is not None:
            return self.fixed
        memo = self.memo
        if memo is not None:
            route = memo.get(self._key(ctx))
            if route is not None:
                return route
        return self.decided(ctx)

    def decided(self, ctx: SecurityContext) -> Route:
        """The route the router decides for ``ctx``, kept in the memo when there is one (a call
        reads the fixed route and the memo inline, as ``route`` does, and comes here on a miss)."""
        route = self.routes[self.pick(ctx).slot]
        memo = self.memo
        if memo is not None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[self._key(ctx)] = route
        return route

    def _key(self, ctx: SecurityContext) -> str:
        """The memo's key of ``ctx`` (a call reads it inline the same way)."""
        return ctx.tenant_id if self.by_tenant else ctx.subject_id


def build_state(
    gateway: str,
    router: Router,
    plugins: PluginSet[Any],
    method_names: tuple[str, ...],
    metrics: Metrics,
    default_timeout: float | None,
    deadlines: DeadlineWheel,
) -> State:
    """A route per decision, each try's target with its breaker and metrics series; the series
    of rules and plugins the router no longer reaches are dropped from ``metrics``."""
    methods = plugins.method_table(method_names)
    live: set[tuple[str, str]] = set()

    def target(plugin_id: str | None, rule: str) -> Target:
        impls = methods.get(plugin_id) if plugin_id is not None else None
        if plugin_id is None or impls is None:
            # nothing is served here: a private series, never exported
            return Target(plugin_id or "-", (), NO_PLUGIN_BREAKER, CallSeries(gateway, "-", rule))
        live.add((plugin_id, rule))
        return Target(
            plugin_id, impls, plugins.breaker(plugin_id), metrics.series(gateway, plugin_id, rule)
        )

    timeout = router.config.timeout or default_timeout
    deadline = deadlines.deadline(timeout)
    routes = []
    for d in router.decisions:
        rule = d.rule_label
        chain = (target(d.plugin_id, rule), *(target(f, rule) for f in d.fallback))
        shadow = None
        if d.shadow is not None:
            st = target(d.shadow, f"{rule}/shadow")
            shadow = Route(d, (st,), None, deadline)
        routes.append(Route(d, chain, shadow, deadline))
    metrics.retain(gateway, live)
    return State(router, plugins.instances, tuple(routes), timeout)
