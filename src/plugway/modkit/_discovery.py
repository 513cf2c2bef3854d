"""Finding modules through the ``plugway.modules`` entry point group.

An installed distribution declares ``name = package.module:ModuleClass``. A broken one (it
fails to import, it is not a ``@module`` class, its declared name differs from the entry point
name, or two distributions claim the same name) is reported with its entry point name and
left out; the others load.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType

from plugway.modkit._errors import ModkitError
from plugway.modkit._module import Module, module_spec

MODULES_GROUP = "plugway.modules"

_log = logging.getLogger("plugway.modkit.discovery")


@dataclass(frozen=True, slots=True)
class DiscoveryFailure:
    """An entry point that could not be used as a module, and why."""

    entry_point: str
    value: str
    distribution: str | None
    error: str

    def __str__(self) -> str:
        dist = f" (from {self.distribution})" if self.distribution else ""
        return f"module entry point '{self.entry_point}' = {self.value}{dist}: {self.error}"


@dataclass(frozen=True, slots=True)
class DiscoveryResult:
    """The modules found (name -> class, sorted by name) and the entry points left out."""

    modules: Mapping[str, type[Module]]
    failures: tuple[DiscoveryFailure, ...]


def scan_modules(group: str = MODULES_GROUP) -> DiscoveryResult:
    """Load every entry point of ``group``; failures are collected, never raised."""
    by_name: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=group):
        by_name.setdefault(ep.name, []).append(ep)

    modules: dict[str, type[Module]] = {}
    failures: list[DiscoveryFailure] = []
    for name in sorted(by_name):
        eps = by_name[name]
        if len({(ep.value, _dist(ep)) for ep in eps}) > 1:
            owners = ", ".join(sorted(f"{ep.value} ({_dist(ep) or '?'})" for ep in eps))
            for ep in eps:
                failures.append(
                    _failure(ep, f"entry point name is claimed more than once: {owners}")
                )
            continue
        ep = eps[0]
        try:
            loaded = ep.load()
        except Exception as exc:
            failures.append(_failure(ep, f"import failed: {type(exc).__name__}: {exc}"))
            continue
        try:
            spec = module_spec(loaded)
        except ModkitError as exc:
            failures.append(_failure(ep, str(exc)))
            continue
        if spec.name != name:
            failures.append(_failure(ep, f"the module is declared as '{spec.name}', not '{name}'"))
            continue
        modules[name] = spec.cls
    for failure in failures:
        _log.error("%s", failure)
    return DiscoveryResult(MappingProxyType(modules), tuple(failures))


def discover_modules(group: str = MODULES_GROUP) -> dict[str, type[Module]]:
    """The module classes of ``group`` by name; broken entry points are logged and left out."""
    return dict(scan_modules(group).modules)


def _dist(ep: EntryPoint) -> str | None:
    dist = ep.dist
    return None if dist is None else f"{dist.name} {dist.version}"


def _failure(ep: EntryPoint, error: str) -> DiscoveryFailure:
    return DiscoveryFailure(ep.name, ep.value, _dist(ep), error)
