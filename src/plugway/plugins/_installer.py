"""Putting a gateway's plugins where HyperSpot keeps them: the registry and the ClientHub.

A discovered plugin is built by its factory, checked against the contract, and then registered
twice: its instance document in the Types Registry (what routing sees and the REST API lists),
its implementation as a scoped client in the hub (scope = plugin id). The gateway's plugin set
is always read back from those two places, so an instance registered or removed through the
registry's own API joins or leaves the routing exactly like an installed package.

An instance with an ``endpoint`` and no implementation in the hub is an out-of-process plugin:
:class:`RemotePool` makes it a ``RemotePlugin`` on a host shared per endpoint URL, and leaves
it out while that host is down (liveness). The supervisor (:mod:`._supervisor`) launches the
hosts the gateway's settings name, including plugins switched to ``out_of_process``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugway.modkit import ClientHub
from plugway.registry import (
    EntityQuery,
    RegistryConflictError,
    RegistryError,
    RegistryNotFoundError,
    TypesRegistry,
)

from ._contract import PluginContract
from ._discovery import (
    DiscoveredPlugin,
    FailureStage,
    PluginCatalog,
    PluginDiscoveryFailure,
    PluginSetup,
)
from ._host_credentials import HostCredentials
from ._lag import LoopLagMonitor
from ._remote_pool import RemotePool
from ._settings import GatewaySettings, HostSettings, PluginOptions
from ._spec import PluginSpec
from ._supervisor import ServerAddress, Supervisor
from ._threaded import ThreadedPlugin, run_in_thread
from .errors import PluginError

__all__ = ["PluginInstaller", "PluginSource"]

_PAGE = 500


@dataclass(frozen=True, slots=True)
class PluginSource:
    """Where an installed plugin came from: its entry point and distribution."""

    entry_point: str
    value: str
    distribution: str | None
    contract_version: str | None


class PluginInstaller:
    """Installs, uninstalls and lists the plugins of one gateway (registry + hub).

    Failures are reported to the process-wide catalog with the stage that failed, and the
    plugin is left out; the others are installed.
    """

    def __init__(
        self,
        gateway: str,
        contract: PluginContract[Any],
        *,
        registry: TypesRegistry,
        hub: ClientHub,
        catalog: PluginCatalog,
        options: Mapping[str, PluginOptions],
        data_dir: Path,
        logger: logging.Logger,
        lag: LoopLagMonitor | None = None,
        settings: GatewaySettings | None = None,
    ) -> None:
        self.gateway = gateway
        self.contract = contract
        self._registry = registry
        self._hub = hub
        self._catalog = catalog
        self._options = dict(options)
        self._data_dir = data_dir
        self._log = logger
        self._sources: dict[str, PluginSource] = {}
        self._lag = lag
        self._threads: dict[str, ThreadedPlugin] = {}
        self.settings = settings or GatewaySettings(plugins=dict(options))
        self.remote = RemotePool(
            contract,
            gateway=gateway,
            secrets=self.settings.remote_secrets,
            default_secret=self.settings.remote_secret,
        )
        """The out-of-process plugins of this gateway (hosts, liveness)."""
        self.out_of_process: dict[str, DiscoveredPlugin] = {}
        """Discovered plugins the settings switch to ``out_of_process``, by entry point name
        (each served by a supervised host of that name)."""
        self.supervisor: Supervisor | None = None

    def source(self, plugin_id: str) -> PluginSource | None:
        """The entry point an installed plugin came from (None for one registered by hand)."""
        return self._sources.get(plugin_id)

    def installed(self, plugin_id: str) -> bool:
        return plugin_id in self._sources

    # -- schema and plugins ---------------------------------------------------------------------

    def register_schema(self) -> None:
        """Register the contract's GTS type schema (replacing an older one of a past run)."""
        schema = self.contract.type_schema()
        try:
            self._registry.register(schema)
        except RegistryConflictError:
            # A persistent registry from an older plugway holds another version of the schema;
            # the contract in this process is the truth (instances are re-validated at ready).
            self._registry.remove(self.contract.type_id)
            self._registry.register(schema)

    def install(self, plugin: DiscoveredPlugin) -> bool:
        """Build one discovered plugin and register it; False when disabled or it failed."""
        options = self._options.get(plugin.name, PluginOptions())
        if not options.enabled:
            self._log.info(
                "plugin %s (%s) is disabled in the settings", plugin.name, plugin.plugin_id
            )
            return False
        if options.out_of_process:
            self._log.info(
                "plugin %s (%s) is served out of process (a supervised plugin host)",
                plugin.name,
                plugin.plugin_id,
            )
            self.out_of_process[plugin.name] = plugin
            self._forget_in_process(plugin.plugin_id)
            if self.supervisor is not None:  # found by a rescan: its host starts now
                self.supervisor.add(*self._host_for(plugin))
            return False
        decl = plugin.declaration
        setup = PluginSetup(
            name=plugin.name,
            gateway=self.gateway,
            plugin_id=plugin.plugin_id,
            config=dict(options.config),
            data_dir=self._data_dir,
            logger=self._log.getChild(plugin.name),
        )
        try:
            impl = decl.factory(setup)
        except Exception as exc:
            self._fail(plugin, "setup", f"{type(exc).__name__}: {exc}")
            return False
        spec = decl.spec(vendor=options.vendor, priority=options.priority)
        try:
            self.contract.bind(spec, impl)
        except PluginError as exc:
            self._fail(plugin, "contract", str(exc))
            return False
        doc = spec.instance_document()
        try:
            try:
                self._registry.register(doc)
            except RegistryConflictError:
                # The registry is persistent: a plugin whose vendor/priority changed since the
                # last run replaces its old instance document.
                self._registry.remove(spec.id)
                self._registry.register(doc)
        except RegistryError as exc:
            self._fail(plugin, "registration", str(exc))
            return False
        if self._lag is not None:
            self._lag.register(spec.id, impl)  # the raw implementation: its code is on the stack
        if options.isolation == "thread":
            old = self._threads.pop(spec.id, None)
            if old is not None:
                old.close()
            impl = self._threads[spec.id] = run_in_thread(impl, self.contract.methods, name=spec.id)
        self._hub.register_scoped(self.contract.protocol, spec.id, impl, replace=True)
        self._sources[spec.id] = PluginSource(
            plugin.name, plugin.value, plugin.distribution, decl.contract_version
        )
        return True

    def _forget_in_process(self, plugin_id: str) -> None:
        """A persistent registry may hold the in-process instance of a plugin now switched to
        out of process: remove it, so that its host registers it with an endpoint."""
        try:
            stored = self._registry.get(plugin_id)
        except RegistryError:
            return
        if "endpoint" not in stored.content:
            self.remove_instance(plugin_id)

    def uninstall(self, plugin_id: str) -> None:
        """Forget an installed plugin whose package is gone: its client and its instance.

        Removing the instance fires a registry event, on which the gateway drops the plugin.
        """
        self._sources.pop(plugin_id, None)
        self._hub.remove_scoped(self.contract.protocol, plugin_id)
        self.remove_instance(plugin_id)
        self._release(plugin_id)

    def _release(self, plugin_id: str) -> None:
        if self._lag is not None:
            self._lag.unregister(plugin_id)
        proxy = self._threads.pop(plugin_id, None)
        if proxy is not None:
            proxy.close()

    def close(self) -> None:
        """Stop the worker threads of ``isolation: thread`` plugins (at shutdown)."""
        for plugin_id in list(self._threads):
            self._release(plugin_id)

    # -- out-of-process plugins ------------------------------------------------------------------

    def start_remote(
        self,
        on_change: Callable[[], None],
        *,
        credentials: HostCredentials | None,
        address: Callable[[], ServerAddress | None],
    ) -> None:
        """Probe the hosts of remote plugins (``on_change`` resyncs the gateway when one goes
        down or comes back) and launch the supervised hosts, each launch with a token of its
        own from ``credentials`` (None: no token, the host cannot register itself); on the event
        loop, never blocks."""
        self.remote.start(asyncio.get_running_loop(), on_change)
        hosts = list(self.settings.hosts)
        configs: dict[str, Mapping[str, object]] = {}
        for _, plugin in sorted(self.out_of_process.items()):
            host, config = self._host_for(plugin)
            hosts.append(host)
            configs.update(config)
        self.supervisor = Supervisor(
            hosts,
            on_ready=self.remote.launched,
            on_exit=self.remote.liveness.mark_down,
            credentials=(
                credentials.gateway(self.gateway, self.contract.type_id)
                if credentials is not None
                else None
            ),
            address=address,
            plugin_configs=configs,
            config_dir=self._data_dir / "plugin-hosts" / self.gateway,
        )
        self.supervisor.start()

    def _host_for(
        self, plugin: DiscoveredPlugin
    ) -> tuple[HostSettings, dict[str, Mapping[str, object]]]:
        """The supervised host of a plugin switched to ``out_of_process``, and its config."""
        config = self._options.get(plugin.name, PluginOptions()).config
        return HostSettings(name=plugin.name, entry_point=[plugin.name]), {plugin.name: config}

    def withdraw(self, name: str) -> str | None:
        """Stop serving the out-of-process plugin ``name`` (its package is gone): its host
        stops and its instance leaves the registry. Returns its plugin id, None if not hosted."""
        plugin = self.out_of_process.pop(name, None)
        if plugin is None:
            return None
        if self.supervisor is not None:
            self.supervisor.remove(name)
        self.remove_instance(plugin.plugin_id)
        return plugin.plugin_id

    async def aclose_remote(self) -> None:
        """Stop the supervised hosts, the probes and the remote connections (at shutdown)."""
        if self.supervisor is not None:
            await self.supervisor.stop()
        await self.remote.aclose()

    def remove_instance(self, plugin_id: str) -> bool:
        """Remove a plugin instance of this contract from the registry; False if it has none."""
        if not plugin_id.startswith(self.contract.type_id):
            return False
        try:
            self._registry.remove(plugin_id)
        except RegistryNotFoundError:
            return False
        return True

    # -- reading the plugin set back --------------------------------------------------------------

    def collect(self) -> tuple[list[tuple[PluginSpec, object]], tuple[str, ...]]:
        """The plugin instances in the registry that have an implementation in the hub or an
        endpoint (an out-of-process plugin whose host is up), and the ids of those that have
        neither (listed, never routed to)."""
        items: list[tuple[PluginSpec, object]] = []
        missing: list[str] = []
        remote: set[str] = set()
        cursor: str | None = None
        while True:
            page = self._registry.list(
                EntityQuery(
                    pattern=self.contract.type_id + "*", is_type=False, limit=_PAGE, cursor=cursor
                )
            )
            for entity in page.items:
                impl = self._hub.try_get_scoped(self.contract.protocol, entity.gts_id)
                source = self._sources.get(entity.gts_id)
                version = None if source is None else source.contract_version
                if impl is None and "endpoint" in entity.content:
                    remote.add(entity.gts_id)
                    try:
                        impl, version = self.remote.plugin(entity.gts_id, entity.content)
                    except PluginError as exc:
                        self.report(entity.gts_id, "contract", str(exc))
                        continue
                if impl is None:
                    missing.append(entity.gts_id)  # no implementation, or its host is down
                    continue
                try:
                    spec = PluginSpec.from_document(entity.content, contract_version=version)
                except PluginError as exc:
                    self.report(entity.gts_id, "contract", str(exc))
                    continue
                items.append((spec, impl))
            cursor = page.next_cursor
            if cursor is None:
                break
        self.remote.retain(remote)
        return items, tuple(missing)

    # -- failures ---------------------------------------------------------------------------------

    def report(self, plugin_id: str, stage: FailureStage, error: str) -> None:
        """Record a plugin of this gateway left out at ``stage`` (logged once)."""
        source = self._sources.get(plugin_id)
        self._catalog.report_failure(
            PluginDiscoveryFailure(
                source.entry_point if source else plugin_id,
                source.value if source else "",
                source.distribution if source else None,
                stage,
                error,
                plugin_id=plugin_id,
                gateway=self.gateway,
            )
        )

    def _fail(self, plugin: DiscoveredPlugin, stage: FailureStage, error: str) -> None:
        self._catalog.report_failure(
            PluginDiscoveryFailure(
                plugin.name,
                plugin.value,
                plugin.distribution,
                stage,
                error,
                plugin_id=plugin.plugin_id,
                gateway=self.gateway,
            )
        )
