"""GatewayModule: a :class:`Gateway` wired into modkit, the glue every gateway module shares.

A gateway module subclasses :class:`GatewayModule`, names its contract and decorates itself with
``@module(name=..., deps=("plugins",))`` (the ``plugins`` runtime module owns what gateways
share, see :class:`GatewayManager`). The base class then:

* ``init``: registers the contract's GTS type schema, installs the plugins that entry points
  declare for the contract (instance in the Types Registry, implementation as a scoped client in
  the ClientHub), and registers the gateway itself, unscoped under the contract, as the client
  other modules use;
* ``post_init``: builds the Gateway from the instances that have an implementation, on the
  latest persisted revision, reconciles it with the config file's routing, and follows registry
  events so that plugins registered or removed later join or leave the routing while serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from plugway.modkit import Module, ModuleContext
from plugway.registry import RegistryError, RegistryEvent

from ._coalesced import Coalesced
from ._context import SecurityContext
from ._contract import PluginContract
from ._discovery import (
    DiscoveredPlugin,
    PluginDiscoveryFailure,
    RescannedPlugin,
    same_contract_family,
)
from ._gateway import Gateway
from ._history import REGISTRY_WHO, RoutingHistory
from ._host_credentials import HostCredentials
from ._installer import PluginInstaller
from ._manager import GatewayManager
from ._plugin_view import PluginView
from ._remote_pool import RemoteHostStatus
from ._revisions import RevisionStoreError, RoutingRevision
from ._settings import GatewaySettings
from ._supervised_host import HostStatus
from ._supervisor import ServerAddress
from ._watcher import ConfigReading
from .errors import PluginError, RoutingConfigError, RoutingProblem, UnknownPluginError
from .routing import Explanation, Router, parse_routing

__all__ = ["GatewayModule"]

_log = logging.getLogger("plugway.plugins.gateway")

_SHADOW_GRACE = 2.0  # seconds a stopping gateway waits for shadow calls still running


class _RoutedClient:
    """The gateway as its contract, for other modules (HyperSpot's public client).

    Registered unscoped in the hub under the contract's Protocol at init, before the Gateway
    exists; each attribute is looked up on the running gateway at call time, so every call is
    routed per request and follows hot swaps.
    """

    __slots__ = ("_module",)

    def __init__(self, module: GatewayModule) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module.gateway.client, name)

    def __repr__(self) -> str:
        return f"<routed client of gateway {self._module.gateway_name!r}>"


class GatewayModule(Module):
    """Base class of a gateway module. Subclasses set ``contract`` and decorate with @module.

    Class attributes:
      ``contract`` — the plugin contract;
      ``gateway_name`` — defaults to the module name;
      ``passthrough`` — domain exceptions that plugins raise on purpose (not-found, ...) and
      that must reach the caller instead of triggering the fallback chain, besides the
      contract's own ``passthrough`` (only those cross the wire from a plugin host);
      ``default_routing`` — the routing when the settings have none.
    """

    contract: ClassVar[PluginContract[Any]]
    gateway_name: str = ""
    passthrough: ClassVar[tuple[type[BaseException], ...]] = ()
    default_routing: ClassVar[Mapping[str, Any]] = {}

    def __init__(self) -> None:
        self._gateway: Gateway[Any] | None = None
        self._history: RoutingHistory | None = None
        self._manager: GatewayManager | None = None
        self._installer: PluginInstaller | None = None
        self._settings = GatewaySettings()
        # the config file's routing this gateway serves; None while the file's is refused
        self._config_routing: Mapping[str, Any] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._registry: object | None = None
        self._sync_lock = threading.Lock()
        # a host going down or back (on the event loop) resyncs in a thread of its own
        self._background_resync = Coalesced(self.resync, "plugins-resync")
        self.config_error: str | None = None
        self.missing_implementations: tuple[str, ...] = ()

    # -- what the admin API and the HTTP face read ----------------------------------------------

    @property
    def ready(self) -> bool:
        return self._gateway is not None

    @property
    def gateway(self) -> Gateway[Any]:
        """The running gateway; PluginError before ``post_init``."""
        if self._gateway is None:
            raise PluginError(f"gateway {self.gateway_name!r} is not started yet")
        return self._gateway

    @property
    def history(self) -> RoutingHistory:
        if self._history is None:
            raise PluginError(f"gateway {self.gateway_name!r} is not started yet")
        return self._history

    def plugin_status(self) -> list[PluginView]:
        if self._gateway is None or self._installer is None:
            return []
        return self._gateway.plugin_status(self._installer.source)

    def supervised_hosts(self) -> list[HostStatus]:
        """The plugin hosts this gateway launches, each with its state."""
        supervisor = None if self._installer is None else self._installer.supervisor
        return [] if supervisor is None else supervisor.status()

    def unsupervised_hosts(self) -> list[RemoteHostStatus]:
        """The plugin hosts this gateway calls but does not launch, each up or down."""
        return [] if self._installer is None else self._installer.remote.status()

    def failures(self) -> tuple[PluginDiscoveryFailure, ...]:
        """Plugins declared for this gateway that were left out."""
        if self._manager is None:
            return ()
        return tuple(
            f
            for f in self._manager.catalog.failures
            if f.gateway == self.gateway_name or f.gateway is None
        )

    def apply_routing(
        self, doc: Mapping[str, Any], *, who: str, what: str = "routing change"
    ) -> RoutingRevision:
        """Validate ``doc`` whole and swap it in; RoutingConfigError (with paths) if invalid.

        Returns the revision now serving (the current one when ``doc`` equals it).
        """
        self._catch_up()
        return self.gateway.apply_routing(doc, who=who, what=what)

    def rollback(self, number: int | None, *, who: str) -> tuple[int, RoutingRevision]:
        """Make revision ``number`` current again, as a new revision; ``None`` undoes the last
        routing change. Returns (the revision restored, the revision now serving)."""
        self._catch_up()
        return self.history.rollback(number, who=who)

    @property
    def registry_origin(self) -> str | None:
        """The tag of this replica's registry writes in their notifications (PostgreSQL)."""
        origin = getattr(getattr(self._registry, "backend", None), "origin", None)
        return origin if isinstance(origin, str) else None

    def routed_plugins(self, doc: Mapping[str, Any]) -> tuple[str, ...]:
        """The plugins ``doc`` would route to here (primaries, fallbacks, shadows);
        RoutingConfigError (with paths) when it is invalid against this replica's plugins."""
        router = Router.compile(
            parse_routing(doc), self.gateway.plugins, gateway=self.gateway_name, strict=True
        )
        ids = {p for d in router.decisions for p in (d.plugin_id, *d.fallback, d.shadow) if p}
        return tuple(sorted(ids))

    def _catch_up(self) -> None:
        """With a shared store, serve the fleet's latest revision before changing it, so that a
        change is judged against what the fleet serves (not a notification still on its way)."""
        if self._manager is not None and self._manager.fleet is not None:
            self.history.catch_up()

    def resync_from_fleet(self) -> None:
        """Another replica changed the registry: take its plugins, record nothing (that replica
        records the revision), then serve the latest revision."""
        self.resync(record=False, keep_default=True)
        self.history.catch_up()

    def explain(self, ctx: SecurityContext) -> Explanation:
        return self.gateway.explain(ctx)

    def remove_plugin(self, plugin_id: str) -> None:
        """Remove a plugin instance from the Types Registry, so that it leaves the routing
        (recorded as a revision, ``who: registry``).

        Its implementation stays installed: registering the instance again (or a restart, since
        its entry point still declares it) brings it back. UnknownPluginError if this gateway has
        no such instance.
        """
        installer = self._installer
        if installer is None or not installer.remove_instance(plugin_id):
            raise UnknownPluginError(self.gateway_name, plugin_id)
        self.resync()  # the registry event has done it already; this is a no-op then

    # -- lifecycle ------------------------------------------------------------------------------

    async def init(self, ctx: ModuleContext) -> None:
        if not self.gateway_name:
            self.gateway_name = ctx.name
        manager = GatewayManager.of(ctx.hub, self.gateway_name)
        self._manager = manager
        self._settings = manager.settings.gateway(self.gateway_name)
        if self._settings.routing is not None:
            # A bad routing section fails the start, naming each field under its full path.
            try:
                parse_routing(self._settings.routing)
            except RoutingConfigError as exc:
                raise self._in_file(exc) from None
        installer = PluginInstaller(
            self.gateway_name,
            self.contract,
            registry=ctx.registry,
            hub=ctx.hub,
            catalog=manager.catalog,
            options=self._settings.plugins,
            data_dir=ctx.data_dir,
            logger=ctx.logger,
            lag=manager.lag,
            settings=self._settings,
        )
        self._installer = installer
        installer.register_schema()
        declared = manager.catalog.report.for_contract(self.contract)
        for plugin in declared:
            installer.install(plugin)
        for name in sorted(set(self._settings.plugins) - {p.name for p in declared}):
            ctx.logger.warning(
                "plugins.gateways.%s.plugins.%s: no installed plugin of this gateway has that "
                "entry point name",
                self.gateway_name,
                name,
            )
        manager.add(self)
        ctx.hub.register(self.contract.protocol, _RoutedClient(self))

    async def post_init(self, ctx: ModuleContext) -> None:
        manager = self._manager
        assert manager is not None
        routing = self._settings.routing
        config_routing = dict(self.default_routing if routing is None else routing)
        gateway: Gateway[Any] = Gateway(
            self.gateway_name,
            self.contract,
            routing=config_routing,
            metrics=manager.metrics,
            store=manager.store,
            breaker=self._settings.breaker,
            passthrough=self.passthrough,
            default_timeout=self._settings.default_timeout,
        )
        self._gateway = gateway
        self._history = RoutingHistory(gateway, manager.store)
        self._registry = ctx.registry
        self._unsubscribe = ctx.registry.subscribe(self._on_registry_event)
        self.resync(record=False)  # the plugins found at start-up: not a change
        # out-of-process plugins: probe their hosts, launch the supervised ones
        self._installer_start_remote(ctx)
        try:
            self._history.reconcile(config_routing)
            self._config_routing = config_routing
        except RoutingConfigError as exc:
            # valid as a document (init checked it) but not against the plugins installed now:
            # the latest revision keeps serving, the refusal is shown until the file is fixed
            self._refuse(str(self._in_file(exc)))

    async def stop(self, ctx: ModuleContext) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._gateway is not None:
            # Shadow results are never needed: give them a moment, never hold the stop up.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._gateway.drain_shadows(), timeout=_SHADOW_GRACE)
        if self._installer is not None:
            await self._installer.aclose_remote()  # supervised hosts, probes, connections
        await asyncio.to_thread(self._background_resync.wait)  # the hosts' exits, recorded
        if self._gateway is not None:
            self._gateway.close()
        if self._installer is not None:
            self._installer.close()
        if self._manager is not None:
            self._manager.discard(self.gateway_name)

    def _installer_start_remote(self, ctx: ModuleContext) -> None:
        assert self._installer is not None
        self._installer.start_remote(
            self._background_resync.request,
            # each launch gets a token that registers its own plugins, never the admin's
            credentials=ctx.hub.try_get(HostCredentials),
            address=lambda: ctx.hub.try_get(ServerAddress),
        )

    # -- the config file --------------------------------------------------------------------------

    def apply_config_file(self, reading: ConfigReading) -> RoutingRevision | None:
        """Apply this gateway's routing section of a new reading of the config file, if that
        section changed. Never raises on bad input: a refused file or routing is logged and
        kept in ``config_error`` while the running routing keeps serving."""
        if reading.settings is None:
            self._refuse(reading.error or f"{reading.path}: refused")
            return None
        section = reading.settings.gateway(self.gateway_name).routing
        doc = dict(self.default_routing if section is None else section)
        if self._config_routing is not None and doc == self._config_routing:
            self.config_error = None  # the file is readable again and says what it said
            return None  # another part of the file changed: an API change must survive it
        try:
            revision = self.history.apply_config(doc, what="config file edited")
        except RoutingConfigError as exc:
            self._refuse(str(self._in_file(exc)))
            return None
        except RevisionStoreError as exc:  # applied when the database is back (fleet listener)
            self._refuse(f"{reading.path}: routing edit not applied yet: {exc}")
            return None
        self._config_routing = doc
        self.config_error = None
        return revision

    def _refuse(self, message: str) -> None:
        self.config_error = message
        _log.error(
            "gateway %s: config file refused, the running routing keeps serving: %s",
            self.gateway_name,
            message,
        )

    def _in_file(self, exc: RoutingConfigError) -> RoutingConfigError:
        """``exc`` with each path where it is in the file: plugins.gateways.<gw>.routing.…"""
        prefix = f"plugins.gateways.{self.gateway_name}.routing"
        return RoutingConfigError(
            [
                RoutingProblem(f"{prefix}.{p.path}" if p.path else prefix, p.message)
                for p in exc.problems
            ],
            gateway=self.gateway_name,
        )

    # -- plugins coming and going -----------------------------------------------------------------

    def install_discovered(self, plugins: Iterable[DiscoveredPlugin]) -> list[RescannedPlugin]:
        """Install plugins of this gateway's contract found after start-up: they join the
        routing at once, or, switched to ``out_of_process``, once the host launched for each
        has registered it."""
        installer = self._installer
        if installer is None or self._gateway is None:
            return []
        added: list[RescannedPlugin] = []
        for p in plugins:
            if installer.installed(p.plugin_id) or p.name in installer.out_of_process:
                continue
            if not same_contract_family(p.declaration.contract, self.contract):
                continue
            if installer.install(p):
                added.append(RescannedPlugin(p.name, p.plugin_id, None))
            elif p.name in installer.out_of_process:
                added.append(RescannedPlugin(p.name, p.plugin_id, p.name))
        if any(a.host is None for a in added):
            self.resync()  # the instances are in the registry, the implementations in the hub
        return added

    def uninstall_gone(self, plugins: Iterable[DiscoveredPlugin]) -> list[RescannedPlugin]:
        """Uninstall plugins of this gateway whose package is gone (stopping the host of one
        served out of process); they leave the routing."""
        installer = self._installer
        if installer is None:
            return []
        gone: list[RescannedPlugin] = []
        for p in plugins:
            try:
                if installer.installed(p.plugin_id):
                    installer.uninstall(p.plugin_id)
                    gone.append(RescannedPlugin(p.name, p.plugin_id, None))
                elif installer.withdraw(p.name) is not None:
                    gone.append(RescannedPlugin(p.name, p.plugin_id, p.name))
            except RegistryError as exc:
                _log.error(
                    "gateway %s: cannot remove plugin %s: %s", self.gateway_name, p.plugin_id, exc
                )
        if gone:
            self.resync()
        return gone

    def _on_registry_event(self, event: RegistryEvent) -> None:
        if event.kind == "ready" or (
            event.gts_id is not None and event.gts_id.startswith(self.contract.type_id)
        ):
            self.resync()  # in the thread that wrote (the API's writers): done when it answers

    def resync(self, *, record: bool = True, keep_default: bool | None = None) -> None:
        """Make the gateway's plugin set match the registry + hub (atomic swap inside).

        With ``record`` (every sync after start-up), a changed plugin set is also recorded as a
        routing revision (who: ``registry``), since it changes which plugin serves.
        ``keep_default`` (default: ``record``): a plugin that joins keeps off the default route.
        """
        keep = record if keep_default is None else keep_default
        gateway, installer = self._gateway, self._installer
        if gateway is None or installer is None:
            return
        with self._sync_lock:
            try:
                items, missing = installer.collect()
            except RegistryError as exc:
                _log.error("gateway %s: cannot list its plugins: %s", self.gateway_name, exc)
                return
            self.missing_implementations = missing
            before = {p.id for p in gateway.plugins}
            # after start-up, a plugin that joins never takes the default route by itself
            for plugin_id, error in gateway.sync_plugins(items, keep_default=keep):
                installer.report(plugin_id, "contract", str(error))
            after = {p.id for p in gateway.plugins}
            joined, left = sorted(after - before), sorted(before - after)
            if record and (joined or left):
                what = "; ".join(
                    [f"plugin {p} joined" for p in joined] + [f"plugin {p} left" for p in left]
                )
                gateway.record_plugin_change(who=REGISTRY_WHO, what=what)
        for plugin_id in joined:
            _log.info("gateway %s: plugin %s joined", self.gateway_name, plugin_id)
        for plugin_id in left:
            _log.info("gateway %s: plugin %s left", self.gateway_name, plugin_id)
