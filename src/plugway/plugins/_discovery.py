"""Finding plugins through the ``plugway.plugins`` entry point group.

A distribution declares ``name = package.module:attribute`` where the attribute is a
:class:`PluginDeclaration` (or a no-argument callable returning one): the contract it implements,
its instance id segment, vendor, priority and a factory for the implementation. Installing the
distribution is all it takes; neither plugway nor the gateway names it anywhere.

A declaration that fails to import, is not a declaration, or (later, when its gateway binds it)
breaks its contract is recorded as a :class:`PluginDiscoveryFailure` with its entry point name and
left out; the other plugins run. The failures are kept in the process-wide
:class:`PluginCatalog` so the log, ``/health`` and the admin API report the same list.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from plugway.gts import GtsError, GtsId
from plugway.modkit import ClientHub

from ._contract import ContractVersion, PluginContract
from ._spec import PluginSpec

__all__ = [
    "PLUGINS_GROUP",
    "DiscoveredPlugin",
    "DiscoveryReport",
    "FailureStage",
    "PluginCatalog",
    "PluginDeclaration",
    "PluginDiscoveryFailure",
    "PluginSetup",
    "Rescan",
    "RescannedPlugin",
    "discover_plugins",
    "same_contract_family",
]

PLUGINS_GROUP = "plugway.plugins"

_log = logging.getLogger("plugway.plugins.discovery")
_EMPTY: Mapping[str, Any] = MappingProxyType({})

FailureStage = Literal["import", "declaration", "setup", "contract", "registration"]


@dataclass(frozen=True, slots=True)
class PluginSetup:
    """What a plugin factory gets: its own config block and where it may keep files.

    ``config`` comes from ``plugins.gateways.<gateway>.plugins.<entry point name>.config`` in
    the settings (empty when absent).
    """

    name: str
    gateway: str
    plugin_id: str
    config: Mapping[str, Any]
    data_dir: Path | None
    logger: logging.Logger


@dataclass(frozen=True, slots=True)
class PluginDeclaration:
    """A plugin as its package declares it: the value an entry point points to.

    ``segment`` is the instance part of the plugin's GTS id (``vendor.pkg.ns.type.vN``);
    ``contract_version`` (``"1.0"``) is the contract version the implementation was written
    for, None meaning the contract's current one.
    """

    contract: PluginContract[Any]
    segment: str
    vendor: str
    factory: Callable[[PluginSetup], object]
    priority: int = 100
    properties: Mapping[str, Any] = field(default_factory=dict, hash=False)
    contract_version: str | None = None
    description: str = ""

    @property
    def plugin_id(self) -> str:
        """The plugin instance id: the contract's type id followed by ``segment``."""
        return self.contract.instance_id(self.segment)

    def spec(self, *, vendor: str | None = None, priority: int | None = None) -> PluginSpec:
        """The registry instance of this plugin, with vendor/priority overridden by settings."""
        version = (
            None if self.contract_version is None else ContractVersion.parse(self.contract_version)
        )
        return PluginSpec(
            id=self.plugin_id,
            vendor=self.vendor if vendor is None else vendor,
            priority=self.priority if priority is None else priority,
            properties=dict(self.properties),
            contract_version=version,
        )


@dataclass(frozen=True, slots=True)
class DiscoveredPlugin:
    """A declaration that loaded, with the entry point and distribution it came from."""

    name: str
    value: str
    distribution: str | None
    declaration: PluginDeclaration

    @property
    def plugin_id(self) -> str:
        return self.declaration.plugin_id


@dataclass(frozen=True, slots=True)
class PluginDiscoveryFailure:
    """A plugin left out, the stage at which it failed and why."""

    name: str
    value: str
    distribution: str | None
    stage: FailureStage
    error: str
    plugin_id: str | None = None
    gateway: str | None = None

    def __str__(self) -> str:
        dist = f" (from {self.distribution})" if self.distribution else ""
        gw = f" for gateway '{self.gateway}'" if self.gateway else ""
        return (
            f"plugin entry point '{self.name}' = {self.value}{dist}{gw}: "
            f"{self.stage} failed: {self.error}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "distribution": self.distribution,
            "stage": self.stage,
            "error": self.error,
            "plugin_id": self.plugin_id,
            "gateway": self.gateway,
        }


def same_contract_family(a: PluginContract[Any], b: PluginContract[Any]) -> bool:
    """True when both contracts are the same type with the same MAJOR (minor may differ)."""
    if a is b or a.type_id == b.type_id:
        return True
    try:
        sa, sb = GtsId.parse(a.type_id).segments[-1], GtsId.parse(b.type_id).segments[-1]
    except GtsError:
        return False
    return (sa.vendor, sa.package, sa.namespace, sa.type, sa.ver_major) == (
        sb.vendor,
        sb.package,
        sb.namespace,
        sb.type,
        sb.ver_major,
    )


@dataclass(frozen=True, slots=True)
class Rescan:
    """What a new scan of the entry points changed: plugins ``new`` since the last scan, and
    plugins whose entry point is ``gone`` (their distribution was uninstalled)."""

    new: tuple[DiscoveredPlugin, ...]
    gone: tuple[DiscoveredPlugin, ...]


@dataclass(frozen=True, slots=True)
class RescannedPlugin:
    """A plugin a rescan added to a gateway or removed from it; ``host`` names the supervised
    host that serves it when the settings switch it ``out_of_process`` (None: in process)."""

    name: str
    plugin_id: str
    host: str | None

    def to_dict(self, gateway: str) -> dict[str, str | None]:
        return {
            "name": self.name,
            "plugin_id": self.plugin_id,
            "gateway": gateway,
            "host": self.host,
        }


@dataclass(frozen=True, slots=True)
class DiscoveryReport:
    """Everything one scan of the entry point group found, sorted by entry point name."""

    plugins: tuple[DiscoveredPlugin, ...]
    failures: tuple[PluginDiscoveryFailure, ...]

    def for_contract(self, contract: PluginContract[Any]) -> tuple[DiscoveredPlugin, ...]:
        """The plugins declared for ``contract`` (same type and MAJOR)."""
        return tuple(
            p for p in self.plugins if same_contract_family(p.declaration.contract, contract)
        )


def _dist(ep: EntryPoint) -> str | None:
    dist = ep.dist
    return None if dist is None else f"{dist.name} {dist.version}"


def discover_plugins(
    group: str = PLUGINS_GROUP, *, found: Iterable[EntryPoint] | None = None
) -> DiscoveryReport:
    """Load every entry point of ``group`` (or the ``found`` ones); failures are collected.

    The same entry point seen twice (a distribution on the path twice) counts once; one name
    claimed by two different targets is refused for both, since neither can be trusted.
    """
    by_name: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=group) if found is None else found:
        by_name.setdefault(ep.name, []).append(ep)
    plugins: list[DiscoveredPlugin] = []
    failures: list[PluginDiscoveryFailure] = []
    seen_ids: dict[str, str] = {}
    for name in sorted(by_name):
        eps = by_name[name]
        targets = {ep.value for ep in eps}
        if len(targets) > 1:
            owners = ", ".join(sorted(f"{ep.value} ({_dist(ep) or '?'})" for ep in eps))
            failures.extend(
                PluginDiscoveryFailure(
                    name, ep.value, _dist(ep), "declaration", f"name claimed twice: {owners}"
                )
                for ep in eps
            )
            continue
        ep = eps[0]
        try:
            loaded: object = ep.load()
            if not isinstance(loaded, PluginDeclaration) and callable(loaded):
                loaded = loaded()
        except (Exception, SystemExit) as exc:
            failures.append(
                PluginDiscoveryFailure(
                    name, ep.value, _dist(ep), "import", f"{type(exc).__name__}: {exc}"
                )
            )
            continue
        if not isinstance(loaded, PluginDeclaration):
            failures.append(
                PluginDiscoveryFailure(
                    name,
                    ep.value,
                    _dist(ep),
                    "declaration",
                    f"expected a PluginDeclaration, got {type(loaded).__qualname__}",
                )
            )
            continue
        try:
            plugin_id = loaded.plugin_id
            GtsId.parse(plugin_id)
        except GtsError as exc:
            failures.append(
                PluginDiscoveryFailure(name, ep.value, _dist(ep), "declaration", str(exc))
            )
            continue
        if plugin_id in seen_ids:
            failures.append(
                PluginDiscoveryFailure(
                    name,
                    ep.value,
                    _dist(ep),
                    "declaration",
                    f"plugin id {plugin_id} is already declared by entry point "
                    f"'{seen_ids[plugin_id]}'",
                    plugin_id=plugin_id,
                )
            )
            continue
        seen_ids[plugin_id] = name
        plugins.append(DiscoveredPlugin(name, ep.value, _dist(ep), loaded))
    for failure in failures:
        _log.error("%s", failure)
    for plugin in plugins:
        _log.info(
            "plugin entry point '%s' = %s (%s): %s",
            plugin.name,
            plugin.value,
            plugin.distribution or "?",
            plugin.plugin_id,
        )
    return DiscoveryReport(tuple(plugins), tuple(failures))


class PluginCatalog:
    """The process-wide result of discovery plus failures found later by gateways.

    Shared through the ClientHub (:meth:`shared`) so that every gateway module binds from one
    scan, and the admin API and ``/health`` read one list of failures. ``source`` gives the entry
    points a rescan reads (default: every installed distribution's); a catalog built from a
    chosen set (tests, embedding) rescans that set only.
    """

    __slots__ = ("_failures", "_lock", "_source", "report")

    def __init__(
        self,
        report: DiscoveryReport,
        *,
        source: Callable[[], Iterable[EntryPoint]] | None = None,
    ) -> None:
        self.report = report
        self._source = source
        self._lock = threading.Lock()
        self._failures: tuple[PluginDiscoveryFailure, ...] = report.failures

    @classmethod
    def scan(cls, source: Callable[[], Iterable[EntryPoint]]) -> PluginCatalog:
        """A catalog of the entry points ``source`` yields, now and at each rescan."""
        return cls(discover_plugins(found=source()), source=source)

    @classmethod
    def shared(cls, hub: ClientHub, *, group: str = PLUGINS_GROUP) -> PluginCatalog:
        """The catalog in ``hub``; the first caller scans the entry points and registers it."""
        found = hub.try_get(PluginCatalog)
        if found is not None:
            return found
        catalog = cls(discover_plugins(group))
        hub.register(PluginCatalog, catalog)
        return catalog

    @property
    def plugins(self) -> tuple[DiscoveredPlugin, ...]:
        return self.report.plugins

    @property
    def failures(self) -> tuple[PluginDiscoveryFailure, ...]:
        """Every plugin left out so far (discovery first, then binding failures)."""
        return self._failures

    def rescan(self, group: str = PLUGINS_GROUP) -> Rescan:
        """Scan the entry points again: the plugins new since the last scan, and the gone ones.

        This is how a package installed (or uninstalled) while the server runs is seen without
        a restart. Plugins found before and still declared stay as they are (an imported module
        is not reloaded). The discovery failures are replaced by the new scan's; later (gateway)
        failures are kept only for entry points that are still declared.
        """
        importlib.invalidate_caches()  # see distributions installed since start-up
        report = discover_plugins(group, found=None if self._source is None else self._source())
        declared = {p.name for p in report.plugins} | {f.name for f in report.failures}
        with self._lock:
            names = {p.name for p in self.report.plugins}
            ids = {p.plugin_id for p in self.report.plugins}
            new = tuple(p for p in report.plugins if p.name not in names and p.plugin_id not in ids)
            gone = tuple(p for p in self.report.plugins if p.name not in declared)
            kept = tuple(p for p in self.report.plugins if p.name in declared)
            self.report = DiscoveryReport(
                tuple(sorted((*kept, *new), key=lambda p: p.name)), report.failures
            )
            later = [
                f
                for f in self._failures
                if f.stage in ("setup", "contract", "registration")
                and f.name in declared
                and f not in report.failures
            ]
            self._failures = (*report.failures, *later)
        return Rescan(new, gone)

    def report_failure(self, failure: PluginDiscoveryFailure) -> None:
        """Record (and log) a plugin that a gateway had to leave out; repeats are kept once."""
        with self._lock:
            if failure in self._failures:
                return
            self._failures = (*self._failures, failure)
        _log.error("%s", failure)

    def clear_failures(self, *, gateway: str, plugin_id: str) -> None:
        """Forget later failures of one plugin in one gateway (it has since bound fine)."""
        with self._lock:
            self._failures = tuple(
                f for f in self._failures if not (f.gateway == gateway and f.plugin_id == plugin_id)
            )
