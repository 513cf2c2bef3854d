"""The ``plugins`` module: the runtime every gateway module depends on.

It is the explicit owner of what the gateways of a process share — the plugin catalog, the
metrics, the revision store and the one config file watcher (a :class:`GatewayManager`) —
created at init, before any gateway module (they declare ``deps=("plugins",)``), and closed at
stop, after the last of them. It also reports the gateways in ``/health`` and ``/metrics`` and
serves the generic call route, so none of that depends on the admin API being enabled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from prometheus_client.registry import Collector

from plugway.modkit import Module, ModuleContext, module
from plugway.plugins import GatewayManager
from plugway.plugins._supervisor import ServerAddress
from plugway.server import HealthSource, gateway_call_router

__all__ = [
    "PLUGINS_HEALTH_SCOPE",
    "PLUGINS_METRICS_SCOPES",
    "PluginsRuntimeModule",
]

PLUGINS_HEALTH_SCOPE = "gts.x.core.plugins.health.v1~"
PLUGINS_METRICS_SCOPES = ("gts.x.core.plugins.metrics.v1~", "gts.x.core.plugins.loop_lag.v1~")


@module(name="plugins")
class PluginsRuntimeModule(Module):
    """Owns the process-wide plugins runtime; see the module docstring."""

    def __init__(self) -> None:
        self._manager: GatewayManager | None = None

    async def init(self, ctx: ModuleContext) -> None:
        manager = GatewayManager.open(ctx.settings, ctx.hub)  # bad section: paths in the error
        self._manager = manager
        ctx.hub.register(GatewayManager, manager)

        def health() -> Mapping[str, Any]:
            return manager.health()

        ctx.hub.register_scoped(HealthSource, PLUGINS_HEALTH_SCOPE, health)
        for scope, collector in zip(PLUGINS_METRICS_SCOPES, manager.collectors(), strict=True):
            ctx.hub.register_scoped(Collector, scope, collector)

    def rest_router(self) -> APIRouter:
        """The call routes of the gateways known when the app is built (after init)."""
        return gateway_call_router(self._manager)

    async def run(self, ctx: ModuleContext) -> None:
        """Watch the config file and apply routing edits, for every gateway at once."""
        if self._manager is None:
            await ctx.cancellation.wait()
            return
        self._manager.lag.start(asyncio.get_running_loop())  # names plugins that block the loop
        address = ctx.hub.try_get(ServerAddress)  # the bound address, for the fleet listing
        # with PostgreSQL: follow the other replicas' changes
        self._manager.start_fleet(None if address is None else address.url)
        try:
            await self._manager.watch(ctx.cancellation)
        finally:
            self._manager.lag.stop()
            await asyncio.to_thread(self._manager.stop_fleet)

    async def stop(self, ctx: ModuleContext) -> None:
        # Gateway modules depend on this one, so they have all stopped by now.
        if self._manager is not None:
            self._manager.close()
