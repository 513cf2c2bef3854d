"""GatewayModule: a :class:`Gateway` wired into modkit — registry, hub, settings, revisions.

A gateway module subclasses :class:`GatewayModule`, names its contract and decorates itself with
``@module``. The base class then does the plumbing every gateway needs:

* ``init``: registers the contract's GTS type schema, builds the plugins that entry points
  declared for the contract, and registers each one the HyperSpot way — its instance in the
  Types Registry, its implementation as a scoped client (scope = plugin id) in the ClientHub —
  and registers the gateway itself, unscoped under the contract, as the client other modules use;
* ``post_init``: builds the Gateway from the plugin instances in the registry that have an
  implementation in the hub, with the routing of the latest persisted revision (or the
  ``plugins`` settings section on a first start), and subscribes to registry events so that
  plugins registered or removed later join or leave the routing while serving;
* ``run``: watches the config file and applies an edited routing section (validated whole;
  an invalid one is refused with field paths and the running routing keeps serving).

Every gateway module registers itself with the process-wide :class:`GatewayManager` in the
hub, which the admin API and the ``/metrics`` source read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from plugway.modkit import ClientHub, Module, ModuleContext
from plugway.registry import (
    EntityQuery,
    RegistryConflictError,
    RegistryError,
    RegistryEvent,
    TypesRegistry,
)

from ._breaker import BreakerSettings
from ._context import SecurityContext
from ._contract import PluginContract
from ._discovery import (
    DiscoveredPlugin,
    DiscoveryFailure,
    PluginCatalog,
    PluginSetup,
    same_contract_family,
)
from ._errors import PluginError, RoutingConfigError, RoutingProblem
from ._gateway import Gateway
from ._metrics import Metrics, render_prometheus
from ._revisions import RevisionStore, RoutingRevision, SqliteRevisionStore
from ._router import Explanation
from ._routing import parse_routing
from ._spec import PluginSpec, error_path

__all__ = [
    "BreakerConfig",
    "GatewayManager",
    "GatewayModule",
    "GatewaySettings",
    "PluginSettings",
    "PluginView",
    "PluginsSettings",
    "parse_plugins_settings",
]

_log = logging.getLogger("plugway.plugins.gateway")

CONFIG_WHO = "config"
_SHADOW_GRACE = 2.0  # seconds a stopping gateway waits for shadow calls still running
CONFIG_FILE_WHO = "config-file"
REGISTRY_WHO = "registry"


# -- settings ----------------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PluginSettings(_Section):
    """``plugins.gateways.<gateway>.plugins.<entry point name>``: one discovered plugin."""

    enabled: bool = True
    vendor: str | None = None
    priority: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class BreakerConfig(_Section):
    """``plugins.gateways.<gateway>.breaker``: the circuit breaker of each of its plugins."""

    failure_threshold: int = Field(default=5, ge=1)
    cooldown: float = Field(default=30.0, ge=0)


class GatewaySettings(_Section):
    """``plugins.gateways.<gateway>``: its routing document, plugin options and breaker."""

    routing: dict[str, Any] | None = None
    plugins: dict[str, PluginSettings] = Field(default_factory=dict)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)


class PluginsSettings(_Section):
    """The ``plugins`` section of the settings, owned by this layer.

    ``config_file`` names the file whose routing sections are watched (default: the file the
    settings were loaded from); ``watch_interval`` is the poll period in seconds.
    """

    gateways: dict[str, GatewaySettings] = Field(default_factory=dict)
    config_file: Path | None = None
    watch: bool = True
    watch_interval: float = Field(default=1.0, gt=0)
    revisions_path: Path = Path("plugins-routing.sqlite3")


def parse_plugins_settings(raw: Mapping[str, Any] | None) -> PluginsSettings:
    """Validate the ``plugins`` section; RoutingConfigError lists each bad field path."""
    try:
        return PluginsSettings.model_validate(dict(raw or {}))
    except ValidationError as exc:
        problems = [
            RoutingProblem("plugins." + error_path(tuple(e["loc"])), e["msg"]) for e in exc.errors()
        ]
        raise RoutingConfigError(problems) from None


def _routing_of(raw_file: Any, gateway: str) -> Mapping[str, Any] | None:
    """The routing section of ``gateway`` in a whole config document (None when absent)."""
    if not isinstance(raw_file, Mapping):
        return None
    node: Any = raw_file.get("plugins")
    for key in ("gateways", gateway, "routing"):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    if node is None:
        return None
    if not isinstance(node, Mapping):
        raise RoutingConfigError(
            [RoutingProblem(f"plugins.gateways.{gateway}.routing", "must be a mapping")],
            gateway=gateway,
        )
    return node


# -- status values -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PluginView:
    """One plugin of a gateway as the admin API shows it."""

    id: str
    vendor: str
    priority: int
    version: str
    defaulted: tuple[str, ...]
    health: str
    circuit: str
    failures: int
    entry_point: str | None
    distribution: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "vendor": self.vendor,
            "priority": self.priority,
            "version": self.version,
            "defaulted": list(self.defaulted),
            "health": self.health,
            "circuit": self.circuit,
            "failures": self.failures,
            "entry_point": self.entry_point,
            "distribution": self.distribution,
        }


_HEALTH = {"closed": "ok", "half_open": "recovering", "open": "failing"}


# -- the manager -------------------------------------------------------------------------------


class GatewayManager:
    """The gateways of this process, and what they share: metrics, revisions, discovery.

    Registered once in the ClientHub (:meth:`shared`); the admin API and ``/metrics`` read it.
    """

    def __init__(
        self,
        settings: PluginsSettings,
        catalog: PluginCatalog,
        metrics: Metrics,
        store: RevisionStore,
        config_file: Path | None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.metrics = metrics
        self.store = store
        self.config_file = config_file
        self._lock = threading.Lock()
        self._gateways: dict[str, GatewayModule] = {}

    @classmethod
    def shared(cls, ctx: ModuleContext) -> GatewayManager:
        """The manager in the hub; the first gateway module creates and registers it."""
        found = ctx.hub.try_get(GatewayManager)
        if found is not None:
            return found
        settings = parse_plugins_settings(ctx.settings.plugins)
        catalog = PluginCatalog.shared(ctx.hub)
        path = settings.revisions_path
        if not path.is_absolute():
            path = ctx.data_dir / path
        config_file = settings.config_file or ctx.settings.config_path
        manager = cls(settings, catalog, Metrics(), SqliteRevisionStore(path), config_file)
        ctx.hub.register(GatewayManager, manager)
        return manager

    def add(self, gateway: GatewayModule) -> None:
        with self._lock:
            if gateway.gateway_name in self._gateways:
                raise PluginError(f"gateway {gateway.gateway_name!r} is declared twice")
            self._gateways[gateway.gateway_name] = gateway

    def discard(self, name: str) -> None:
        with self._lock:
            self._gateways.pop(name, None)

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._gateways))

    def get(self, name: str) -> GatewayModule | None:
        return self._gateways.get(name)

    def gateways(self) -> tuple[GatewayModule, ...]:
        return tuple(self._gateways[n] for n in sorted(self._gateways))

    def rescan(self) -> dict[str, Any]:
        """Find plugin packages installed since start-up and start routing to them (no
        restart): each new plugin is built, registered, joins its gateway and is recorded as
        a routing revision; the ones that fail are reported like at start-up."""
        new = self.catalog.rescan()
        added: list[dict[str, str]] = []
        for gateway in self.gateways():
            for name, plugin_id in gateway.install_discovered(new):
                added.append(
                    {"name": name, "plugin_id": plugin_id, "gateway": gateway.gateway_name}
                )
        if new:
            _log.info(
                "rescan: %d new plugin entry point(s), %d plugin(s) added", len(new), len(added)
            )
        return {
            "found": [p.name for p in new],
            "added": added,
            "failures": [f.to_dict() for f in self.catalog.failures],
        }

    def render_metrics(self) -> str:
        """Prometheus text of every gateway's calls, errors, fallbacks, shadows and latency."""
        return render_prometheus(self.metrics)

    def health(self) -> dict[str, Any]:
        """What ``/health`` shows about plugins: the plugins left out, each gateway's state;
        ``degraded`` when a plugin package was left out or a routing edit was refused."""
        gateways = self.gateways()
        degraded = bool(self.catalog.failures) or any(g.config_error for g in gateways)
        return {
            "status": "degraded" if degraded else "ok",
            "discovery_failures": [f.to_dict() for f in self.catalog.failures],
            "gateways": {
                g.gateway_name: {
                    "ready": g.ready,
                    "plugins": len(g.gateway.plugins) if g.ready else 0,
                    "open_circuits": [p.id for p in g.plugin_status() if p.circuit == "open"],
                    "config_error": g.config_error,
                }
                for g in gateways
            },
        }

    def close(self) -> None:
        if not self._gateways:
            self.store.close()


# -- the module base ---------------------------------------------------------------------------


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
      that must reach the caller instead of triggering the fallback chain;
      ``default_routing`` — the routing when the settings have none.
    """

    contract: ClassVar[PluginContract[Any]]
    gateway_name: str = ""
    passthrough: ClassVar[tuple[type[BaseException], ...]] = ()
    default_routing: ClassVar[Mapping[str, Any]] = {}

    def __init__(self) -> None:
        self._gateway: Gateway[Any] | None = None
        self._manager: GatewayManager | None = None
        self._registry: TypesRegistry | None = None
        self._hub: ClientHub | None = None
        self._settings = GatewaySettings()
        self._sources: dict[str, DiscoveredPlugin] = {}
        self._declared_versions: dict[str, str | None] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._sync_lock = threading.Lock()
        self._file_stamp: tuple[int, int] | None = None
        self._file_routing: Mapping[str, Any] | None = None
        self.config_error: str | None = None
        self.missing_implementations: tuple[str, ...] = ()
        self._ctx: ModuleContext | None = None

    # -- public face used by the admin API ----------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._gateway is not None

    @property
    def gateway(self) -> Gateway[Any]:
        """The running gateway; PluginError before ``post_init``."""
        if self._gateway is None:
            raise PluginError(f"gateway {self.gateway_name!r} is not started yet")
        return self._gateway

    def plugin_status(self) -> list[PluginView]:
        if self._gateway is None:
            return []
        out = []
        for inst in self._gateway.plugins:
            breaker = self._gateway.breaker(inst.id)
            source = self._sources.get(inst.id)
            out.append(
                PluginView(
                    id=inst.id,
                    vendor=inst.vendor,
                    priority=inst.priority,
                    version=str(inst.version),
                    defaulted=tuple(inst.defaulted),
                    health=_HEALTH.get(breaker.state, breaker.state),
                    circuit=breaker.state,
                    failures=breaker.failures,
                    entry_point=None if source is None else source.name,
                    distribution=None if source is None else source.distribution,
                )
            )
        return out

    def failures(self) -> tuple[DiscoveryFailure, ...]:
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
        """Validate ``doc`` whole and swap it in; RoutingConfigError (with paths) if invalid."""
        return self.gateway.apply_routing(doc, who=who, what=what)

    def previous_revision(self) -> int:
        """The number of the revision before the current one (what a bare rollback restores)."""
        history = self.gateway.revisions(limit=2)
        if len(history) < 2:
            raise RoutingConfigError(
                [RoutingProblem("revision", "there is no earlier revision to roll back to")],
                gateway=self.gateway_name,
            )
        return history[1].number

    def rollback(self, number: int, *, who: str) -> RoutingRevision:
        """Make revision ``number`` current again, as a new revision."""
        gw = self.gateway
        revision = gw.rollback(number, who=who)
        _log.info(
            "gateway %s: rolled back to revision %d as revision %d by %s",
            self.gateway_name,
            number,
            revision.number,
            who,
        )
        return revision

    def explain(self, ctx: SecurityContext) -> Explanation:
        return self.gateway.explain(ctx)

    # -- lifecycle ------------------------------------------------------------------------------

    async def init(self, ctx: ModuleContext) -> None:
        if not self.gateway_name:
            self.gateway_name = ctx.name
        self._registry = ctx.registry
        self._hub = ctx.hub
        self._ctx = ctx
        manager = GatewayManager.shared(ctx)
        self._manager = manager
        self._settings = manager.settings.gateways.get(self.gateway_name, GatewaySettings())
        if self._settings.routing is not None:
            # A bad routing section fails the start, naming each field under its full path.
            try:
                parse_routing(self._settings.routing)
            except RoutingConfigError as exc:
                raise self._in_file(exc) from None
        self._register_schema(ctx.registry)
        for plugin in manager.catalog.report.for_contract(self.contract):
            self._install(ctx, plugin)
        unknown = sorted(
            set(self._settings.plugins)
            - {p.name for p in manager.catalog.report.for_contract(self.contract)}
        )
        for name in unknown:
            ctx.logger.warning(
                "plugins.gateways.%s.plugins.%s: no installed plugin of this gateway has that "
                "entry point name",
                self.gateway_name,
                name,
            )
        manager.add(self)
        ctx.hub.register(self.contract.protocol, _RoutedClient(self))

    def _install(self, ctx: ModuleContext, plugin: DiscoveredPlugin) -> None:
        """Build one discovered plugin and register it: instance in the registry, impl in hub."""
        assert self._manager is not None
        options = self._settings.plugins.get(plugin.name, PluginSettings())
        if not options.enabled:
            ctx.logger.info(
                "plugin %s (%s) is disabled in the settings", plugin.name, plugin.plugin_id
            )
            return
        decl = plugin.declaration

        def fail(stage: Any, error: str) -> None:
            assert self._manager is not None
            self._manager.catalog.report_failure(
                DiscoveryFailure(
                    plugin.name,
                    plugin.value,
                    plugin.distribution,
                    stage,
                    error,
                    plugin_id=plugin.plugin_id,
                    gateway=self.gateway_name,
                )
            )

        setup = PluginSetup(
            name=plugin.name,
            gateway=self.gateway_name,
            plugin_id=plugin.plugin_id,
            config=dict(options.config),
            data_dir=ctx.data_dir,
            logger=ctx.logger.getChild(plugin.name),
        )
        try:
            impl = decl.factory(setup)
        except Exception as exc:
            fail("setup", f"{type(exc).__name__}: {exc}")
            return
        spec = decl.spec(vendor=options.vendor, priority=options.priority)
        try:
            self.contract.bind(spec, impl)
        except PluginError as exc:
            fail("contract", str(exc))
            return
        try:
            self._register_instance(ctx.registry, spec)
        except RegistryError as exc:
            fail("registration", str(exc))
            return
        ctx.hub.register_scoped(self.contract.protocol, spec.id, impl, replace=True)
        self._sources[spec.id] = plugin
        self._declared_versions[spec.id] = decl.contract_version

    def install_discovered(self, plugins: Iterable[DiscoveredPlugin]) -> list[tuple[str, str]]:
        """Build and register plugins of this gateway's contract found after start-up; they
        join the routing at once. Returns (entry point name, plugin id) of each one added."""
        ctx = self._ctx
        if ctx is None or self._gateway is None:
            return []
        added: list[tuple[str, str]] = []
        for plugin in plugins:
            if plugin.plugin_id in self._sources or not same_contract_family(
                plugin.declaration.contract, self.contract
            ):
                continue
            self._install(ctx, plugin)
            if plugin.plugin_id in self._sources:
                added.append((plugin.name, plugin.plugin_id))
        if added:
            self.resync()  # the instances are in the registry, the implementations in the hub
        return added

    def _register_schema(self, registry: TypesRegistry) -> None:
        schema = self.contract.type_schema()
        try:
            registry.register(schema)
        except RegistryConflictError:
            # A persistent registry from an older plugway holds another version of the schema;
            # the contract in this process is the truth (instances are re-validated at ready).
            registry.remove(self.contract.type_id)
            registry.register(schema)

    @staticmethod
    def _register_instance(registry: TypesRegistry, spec: PluginSpec) -> None:
        doc = spec.instance_document()
        try:
            registry.register(doc)
        except RegistryConflictError:
            # The registry is persistent: a plugin whose vendor/priority changed since the last
            # run replaces its old instance document.
            registry.remove(spec.id)
            registry.register(doc)

    async def post_init(self, ctx: ModuleContext) -> None:
        manager = self._manager
        assert manager is not None
        config_routing = (
            self._settings.routing
            if self._settings.routing is not None
            else dict(self.default_routing)
        )
        breaker = BreakerSettings(
            failure_threshold=self._settings.breaker.failure_threshold,
            cooldown=self._settings.breaker.cooldown,
        )
        self._gateway = self._build(manager, config_routing, breaker)
        self._unsubscribe = ctx.registry.subscribe(self._on_registry_event)
        self.resync(record=False)  # the plugins found at start-up: not a change
        self._reconcile_config(config_routing)
        self._file_routing = config_routing
        self._file_stamp = self._stamp(manager.config_file)

    def _build(
        self, manager: GatewayManager, routing: Mapping[str, Any], breaker: BreakerSettings
    ) -> Gateway[Any]:
        gw: Gateway[Any] = Gateway(
            self.gateway_name,
            self.contract,
            routing=routing,
            metrics=manager.metrics,
            store=manager.store,
            breaker=breaker,
            passthrough=self.passthrough,
        )
        return gw

    def _reconcile_config(self, config_routing: Mapping[str, Any]) -> None:
        """If the config's routing changed while the server was down, it becomes a revision.

        Otherwise the latest persisted revision stays (an API change survives a restart).
        """
        gw = self.gateway
        wanted = parse_routing(config_routing).document()
        for rev in gw.revisions(limit=1000):
            if rev.who in (CONFIG_WHO, CONFIG_FILE_WHO):
                if parse_routing(rev.routing).document() != wanted:
                    self._apply_config(config_routing, "config changed while stopped")
                return
        if parse_routing(gw.routing).document() != wanted:
            self._apply_config(config_routing, "config routing")

    def _apply_config(self, doc: Mapping[str, Any], what: str) -> None:
        try:
            if parse_routing(doc).document() == parse_routing(self.gateway.routing).document():
                self.config_error = None
                return
            self.apply_routing(doc, who=CONFIG_FILE_WHO, what=what)
            self.config_error = None
        except RoutingConfigError as exc:
            # name each bad field where it is in the file: plugins.gateways.<gw>.routing.<path>
            self.config_error = str(self._in_file(exc))
            _log.error(
                "gateway %s: routing in the config file refused, the running routing keeps "
                "serving: %s",
                self.gateway_name,
                self.config_error,
            )

    def _in_file(self, exc: RoutingConfigError) -> RoutingConfigError:
        prefix = f"plugins.gateways.{self.gateway_name}.routing"
        return RoutingConfigError(
            [
                RoutingProblem(f"{prefix}.{p.path}" if p.path else prefix, p.message)
                for p in exc.problems
            ],
            gateway=self.gateway_name,
        )

    async def stop(self, ctx: ModuleContext) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._gateway is not None:
            # Shadow results are never needed: give them a moment, never hold the stop up.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._gateway.drain_shadows(), timeout=_SHADOW_GRACE)
        if self._manager is not None:
            self._manager.discard(self.gateway_name)
            self._manager.close()

    # -- plugins coming and going --------------------------------------------------------------

    def _on_registry_event(self, event: RegistryEvent) -> None:
        if event.kind == "ready" or (
            event.gts_id is not None and event.gts_id.startswith(self.contract.type_id)
        ):
            self.resync()

    def _collect(self) -> list[tuple[PluginSpec, object]]:
        assert self._registry is not None and self._hub is not None
        items: list[tuple[PluginSpec, object]] = []
        missing: list[str] = []
        cursor: str | None = None
        while True:
            page = self._registry.list(
                EntityQuery(
                    pattern=self.contract.type_id + "*", is_type=False, limit=500, cursor=cursor
                )
            )
            for entity in page.items:
                impl = self._hub.try_get_scoped(self.contract.protocol, entity.gts_id)
                if impl is None:
                    missing.append(entity.gts_id)
                    continue
                try:
                    spec = PluginSpec.from_document(
                        entity.content,
                        contract_version=self._declared_versions.get(entity.gts_id),
                    )
                except PluginError as exc:
                    self._report(entity.gts_id, "contract", str(exc))
                    continue
                items.append((spec, impl))
            cursor = page.next_cursor
            if cursor is None:
                break
        self.missing_implementations = tuple(missing)
        return items

    def _report(self, plugin_id: str, stage: Any, error: str) -> None:
        assert self._manager is not None
        source = self._sources.get(plugin_id)
        self._manager.catalog.report_failure(
            DiscoveryFailure(
                source.name if source else plugin_id,
                source.value if source else "",
                source.distribution if source else None,
                stage,
                error,
                plugin_id=plugin_id,
                gateway=self.gateway_name,
            )
        )

    def resync(self, *, record: bool = True) -> None:
        """Make the gateway's plugin set match the registry + hub (atomic swap inside).

        With ``record`` (every sync after start-up), a changed plugin set is also recorded as a
        routing revision (who: ``registry``), since it changes which plugin serves.
        """
        if self._gateway is None:
            return
        with self._sync_lock:
            try:
                items = self._collect()
            except RegistryError as exc:
                _log.error("gateway %s: cannot list its plugins: %s", self.gateway_name, exc)
                return
            before = {p.id for p in self._gateway.plugins}
            refused = self._gateway.sync_plugins(items)
            for plugin_id, error in refused:
                self._report(plugin_id, "contract", str(error))
            after = {p.id for p in self._gateway.plugins}
            joined, left = sorted(after - before), sorted(before - after)
            if record and (joined or left):
                what = "; ".join(
                    [f"plugin {p} joined" for p in joined] + [f"plugin {p} left" for p in left]
                )
                self._gateway.record_plugin_change(who=REGISTRY_WHO, what=what)
        for plugin_id in joined:
            _log.info("gateway %s: plugin %s joined", self.gateway_name, plugin_id)
        for plugin_id in left:
            _log.info("gateway %s: plugin %s left", self.gateway_name, plugin_id)

    # -- config file watching -------------------------------------------------------------------

    @staticmethod
    def _stamp(path: Path | None) -> tuple[int, int] | None:
        if path is None:
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    async def run(self, ctx: ModuleContext) -> None:
        """Poll the config file's mtime and apply edits of this gateway's routing section."""
        manager = self._manager
        if manager is None or manager.config_file is None or not manager.settings.watch:
            await ctx.cancellation.wait()
            return
        path = manager.config_file
        while not ctx.cancellation.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    ctx.cancellation.wait(), timeout=manager.settings.watch_interval
                )
            if ctx.cancellation.is_set():
                return
            self.check_config_file(path)

    def check_config_file(self, path: Path) -> bool:
        """Apply the file's routing section if the file and that section changed.

        Returns True when a new revision was applied. Never raises on bad input: a broken file
        or an invalid routing is logged and kept in ``config_error``.
        """
        stamp = self._stamp(path)
        if stamp is None or stamp == self._file_stamp:
            return False
        self._file_stamp = stamp
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            section = _routing_of(raw, self.gateway_name)
        except (OSError, yaml.YAMLError) as exc:
            self.config_error = f"{path}: cannot read: {exc}"
            _log.error("gateway %s: %s", self.gateway_name, self.config_error)
            return False
        except RoutingConfigError as exc:
            self.config_error = str(exc)
            _log.error("gateway %s: %s", self.gateway_name, exc)
            return False
        doc = dict(section) if section is not None else dict(self.default_routing)
        if self._file_routing is not None and doc == dict(self._file_routing):
            return False
        self._file_routing = doc
        before = self.gateway.revision
        self._apply_config(doc, "config file edited")
        return self.gateway.revision != before
