"""GatewayManager: the one process-wide owner of what every gateway shares.

That is the plugin catalog (one scan of the entry points), the metrics every gateway counts
into, the revision store, and ONE watcher of the config file. The ``plugins`` runtime module
creates it at init, before any gateway module (which depend on it), and closes it after the
last one has stopped; nothing is created lazily by whichever gateway comes first.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prometheus_client.registry import Collector

from plugway.modkit import ClientHub, PlugwaySettings

from ._discovery import PluginCatalog
from ._fleet import FleetListener
from ._history import open_revision_store
from ._lag import LoopLagMonitor
from ._metrics import Metrics, MetricsCollector
from ._pg_revisions import PostgresRevisionStore
from ._replicas import ReplicaDirectory
from ._revisions import RevisionStore
from ._settings import PluginsSettings, parse_plugins_settings
from ._watcher import ConfigReading, ConfigWatcher
from .errors import PluginError

if TYPE_CHECKING:
    from ._module import GatewayModule

__all__ = ["GatewayManager", "PluginsRuntimeMissingError"]

_log = logging.getLogger("plugway.plugins.manager")

RUNTIME_MODULE = "plugins"
"""The name of the module that creates the manager; gateway modules depend on it."""


class PluginsRuntimeMissingError(PluginError):
    """A gateway module started without the ``plugins`` runtime module before it."""

    def __init__(self, gateway: str) -> None:
        self.gateway = gateway
        super().__init__(
            f"gateway module {gateway!r} needs the {RUNTIME_MODULE!r} module: declare "
            f"@module(..., deps=({RUNTIME_MODULE!r},)) and keep modules.{RUNTIME_MODULE} enabled"
        )


class GatewayManager:
    """The gateways of this process and what they share; the admin API and ``/health`` read it.

    Build it with :meth:`open` (or the constructor, in tests), register it in the hub, and
    :meth:`close` it once every gateway module has stopped.
    """

    def __init__(
        self,
        settings: PluginsSettings,
        *,
        catalog: PluginCatalog,
        metrics: Metrics,
        store: RevisionStore,
        watcher: ConfigWatcher | None = None,
        address: tuple[str, int] = ("127.0.0.1", 0),
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.metrics = metrics
        self.store = store
        self.watcher = watcher
        self.lag = LoopLagMonitor(threshold=settings.lag_threshold)
        """Names a plugin that blocks the event loop; started by the ``plugins`` module."""
        self._lock = threading.Lock()
        self._gateways: dict[str, GatewayModule] = {}
        self.fleet: FleetListener | None = None
        """With a PostgreSQL store: follows the other replicas (started by ``start_fleet``)."""
        if isinstance(store, PostgresRevisionStore):
            directory = ReplicaDirectory(store, host=address[0], port=address[1])
            self.fleet = FleetListener(
                store, self.gateways, directory, on_reconnect=self.reapply_config_file
            )
        self._applier = ThreadPoolExecutor(1, thread_name_prefix="plugway-config")
        """Applies config file edits in order, off the event loop (a shared store)."""

    @classmethod
    def open(
        cls, settings: PlugwaySettings, hub: ClientHub, *, env: Mapping[str, str] | None = None
    ) -> GatewayManager:
        """The manager for ``settings``: validates the ``plugins`` section (RoutingConfigError
        with paths), scans the entry points (or takes the PluginCatalog already in ``hub``),
        opens the revision store and, when there is a config file, its watcher (``env``: the
        environment of its ``PLUGWAY__…`` overrides, default ``os.environ``)."""
        plugins = parse_plugins_settings(settings.plugins)
        catalog = PluginCatalog.shared(hub)
        config_file = plugins.config_file or settings.config_path
        watcher = (
            None
            if config_file is None
            else ConfigWatcher(config_file, interval=plugins.watch_interval, env=env)
        )
        url = settings.registry.url if settings.registry.backend == "postgresql" else None
        store = open_revision_store(plugins.revisions_path, settings.data_dir, url=url)
        address = (settings.server.host, settings.server.port)
        return cls(
            plugins,
            catalog=catalog,
            metrics=Metrics(),
            store=store,
            watcher=watcher,
            address=address,
        )

    @classmethod
    def of(cls, hub: ClientHub, gateway: str) -> GatewayManager:
        """The manager in ``hub``; PluginsRuntimeMissingError naming ``gateway`` if none."""
        manager = hub.try_get(GatewayManager)
        if manager is None:
            raise PluginsRuntimeMissingError(gateway)
        return manager

    # -- the gateways -------------------------------------------------------------------------

    def add(self, gateway: GatewayModule) -> None:
        with self._lock:
            if gateway.gateway_name in self._gateways:
                raise PluginError(f"gateway {gateway.gateway_name!r} is declared twice")
            self._gateways[gateway.gateway_name] = gateway

    def discard(self, name: str) -> None:
        with self._lock:
            self._gateways.pop(name, None)

    def get(self, name: str) -> GatewayModule | None:
        return self._gateways.get(name)

    def gateways(self) -> tuple[GatewayModule, ...]:
        """Every gateway module that has joined, by name."""
        with self._lock:
            return tuple(self._gateways[n] for n in sorted(self._gateways))

    # -- plugins installed or uninstalled while serving ----------------------------------------

    def rescan(self) -> dict[str, Any]:
        """Scan the entry points again, without a restart: plugins of packages installed since
        join their gateways (one switched to ``out_of_process`` gets a supervised host of its
        own); plugins whose package is gone are uninstalled (instance and client, or host) and
        leave the routing. Each change is a routing revision (``who: registry``)."""
        scan = self.catalog.rescan()
        added: list[dict[str, str | None]] = []
        removed: list[dict[str, str | None]] = []
        for gw in self.gateways():
            added.extend(p.to_dict(gw.gateway_name) for p in gw.install_discovered(scan.new))
            removed.extend(p.to_dict(gw.gateway_name) for p in gw.uninstall_gone(scan.gone))
        if scan.new or scan.gone:
            _log.info(
                "rescan: %d new and %d gone plugin entry point(s); %d plugin(s) added, %d removed",
                len(scan.new),
                len(scan.gone),
                len(added),
                len(removed),
            )
        return {
            "found": [p.name for p in scan.new],
            "gone": [p.name for p in scan.gone],
            "added": added,
            "removed": removed,
            "failures": [f.to_dict() for f in self.catalog.failures],
        }

    # -- the config file ------------------------------------------------------------------------

    def apply_reading(self, reading: ConfigReading) -> None:
        """Hand a new reading of the config file to every gateway (each applies its section)."""
        for gw in self.gateways():
            if gw.ready:
                gw.apply_config_file(reading)

    def check_config_file(self) -> bool:
        """Poll the config file once; True when it changed (and was handed to the gateways)."""
        if self.watcher is None:
            return False
        reading = self.watcher.poll()
        if reading is None:
            return False
        self.apply_reading(reading)
        return True

    async def watch(self, stop: asyncio.Event) -> None:
        """Watch the config file until ``stop`` is set (waits only, when watching is off)."""
        if self.watcher is None or not self.settings.watch:
            await stop.wait()
            return
        if self.fleet is None:
            await self.watcher.run(stop, self.apply_reading)
            return
        # a shared store is a network round trip (seconds in an outage): never on the loop
        pending: set[asyncio.Future[None]] = set()
        loop = asyncio.get_running_loop()

        def apply_off_loop(reading: ConfigReading) -> None:
            future = loop.run_in_executor(self._applier, self.apply_reading, reading)
            pending.add(future)
            future.add_done_callback(pending.discard)

        await self.watcher.run(stop, apply_off_loop)

    def reapply_config_file(self) -> None:
        """Read the config file again and apply what was not applied (an edit made while the
        database was unreachable); the fleet listener calls it after reconnecting."""
        if self.watcher is not None:
            self.apply_reading(self.watcher.read())

    # -- the fleet (a PostgreSQL store shared with other replicas) -----------------------------

    def start_fleet(self, url: str | None = None) -> None:
        """Follow the other replicas (after every gateway has started); no-op without a fleet.
        ``url``: the address the server is bound to (``--port 0``), shown in the fleet."""
        if self.fleet is None:
            return
        if url is not None:
            parts = urlsplit(url)
            if parts.hostname is not None and parts.port is not None:
                self.fleet.directory.host, self.fleet.directory.port = parts.hostname, parts.port
        self.fleet.start()

    def stop_fleet(self) -> None:
        if self.fleet is not None:
            self.fleet.stop()

    def missing_in_fleet(
        self, gateway: GatewayModule, doc: Mapping[str, Any]
    ) -> dict[str, list[str]]:
        """The live replicas that lack a plugin ``doc`` routes to in ``gateway`` (by replica
        id: the ids it lacks); empty without a fleet. RoutingConfigError if ``doc`` is invalid
        here."""
        if self.fleet is None:
            return {}
        return self.fleet.directory.missing(gateway.gateway_name, gateway.routed_plugins(doc))

    # -- what /health and /metrics show ---------------------------------------------------------

    def collectors(self) -> tuple[Collector, ...]:
        """What ``/metrics`` exposes of the plugins runtime: gateway calls, event-loop lag."""
        return (MetricsCollector(self.metrics), self.lag)

    def health(self) -> dict[str, Any]:
        """What ``/health`` shows about plugins: the plugins left out, each gateway's state, the
        supervised hosts and the other hosts gateways call; ``degraded`` when a plugin package
        was left out, a config edit was refused, a supervised host is restarting or failed or
        another host is down (named in ``hosts_down``)."""
        gateways = self.gateways()
        lag = self.lag.status()
        fleet = None if self.fleet is None else self.fleet.status()
        hosts = [(g.gateway_name, h) for g in gateways for h in g.supervised_hosts()]
        remote = [(g.gateway_name, h) for g in gateways for h in g.unsupervised_hosts()]
        hosts_down = [f"{gateway}/{h.name}" for gateway, h in hosts if h.down]
        hosts_down += [f"{gateway}/{h.url}" for gateway, h in remote if h.state == "down"]
        degraded = (
            bool(self.catalog.failures)
            or any(g.config_error for g in gateways)
            or lag["status"] == "degraded"
            or (fleet is not None and not fleet["connected"])
            or bool(hosts_down)
        )
        doc: dict[str, Any] = {
            "status": "degraded" if degraded else "ok",
            "event_loop": lag,
            "discovery_failures": [f.to_dict() for f in self.catalog.failures],
            "gateways": {
                g.gateway_name: {
                    "ready": g.ready,
                    "plugins": len(g.gateway.plugins) if g.ready else 0,
                    "open_circuits": [p.id for p in g.plugin_status() if p.circuit == "open"],
                    "config_error": g.config_error,
                    "revision": g.gateway.revision if g.ready else None,
                }
                for g in gateways
            },
            "hosts": [{"gateway": gateway, **h.to_dict()} for gateway, h in hosts],
            "remote_hosts": [{"gateway": gateway, **h.to_dict()} for gateway, h in remote],
            "hosts_down": hosts_down,
        }
        if fleet is not None:
            doc["fleet"] = fleet
        return doc

    def close(self) -> None:
        """Release the revision store (after the last gateway module has stopped)."""
        if self._gateways:
            _log.warning(
                "closing the plugins runtime while gateways run: %s", sorted(self._gateways)
            )
        self.lag.stop()
        self.stop_fleet()
        self._applier.shutdown(wait=True)
        self.store.close()
