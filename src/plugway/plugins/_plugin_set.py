"""The plugins a gateway holds: bound instances by id, and one circuit breaker per plugin."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from ._breaker import BreakerSettings, CircuitBreaker
from ._contract import PluginContract
from ._plugin_view import PluginView, SourceOf
from ._spec import PluginInstance, PluginSpec
from .errors import PluginError, UnknownPluginError

__all__ = ["PluginSet"]

P = TypeVar("P")

log = logging.getLogger("plugway.plugins")


MAX_DEPARTED_BREAKERS = 256  # failing breakers kept for plugins that left, per gateway


class PluginSet(Generic[P]):
    """Instances checked against the contract, and their breakers (kept while held).

    Changes are made under a lock by the gateway, which then builds its next state from
    ``instances`` (a read-only snapshot, never mutated afterwards).
    """

    def __init__(
        self,
        gateway: str,
        contract: PluginContract[P],
        breaker: BreakerSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway = gateway
        self.contract = contract
        self.breaker_settings = breaker or BreakerSettings()
        self._clock = clock
        self._instances: dict[str, PluginInstance[P]] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    @property
    def instances(self) -> Mapping[str, PluginInstance[P]]:
        return MappingProxyType(dict(self._instances))

    def __contains__(self, plugin_id: object) -> bool:
        return plugin_id in self._instances

    def ordered(self) -> tuple[PluginInstance[P], ...]:
        """The plugins held, by priority then id."""
        return tuple(sorted(self._instances.values(), key=lambda p: (p.priority, p.id)))

    def breaker(self, plugin_id: str) -> CircuitBreaker:
        """The breaker of a plugin (made on first use)."""
        brk = self._breakers.get(plugin_id)
        if brk is None:
            with self._lock:
                brk = self._breakers.setdefault(
                    plugin_id, CircuitBreaker(plugin_id, self.breaker_settings, self._clock)
                )
        return brk

    def held_breaker(self, plugin_id: str) -> CircuitBreaker:
        """The breaker of a plugin this set holds (UnknownPluginError otherwise)."""
        if plugin_id not in self._instances:
            raise UnknownPluginError(self.gateway, plugin_id)
        return self.breaker(plugin_id)

    def add(self, spec: PluginSpec, impl: object) -> PluginInstance[P]:
        inst = self.contract.bind(spec, impl)
        self._instances[spec.id] = inst
        return inst

    def remove(self, plugin_id: str) -> None:
        if plugin_id not in self._instances:
            raise UnknownPluginError(self.gateway, plugin_id)
        del self._instances[plugin_id]
        self._forget_breakers({plugin_id})

    def replace(
        self, items: Iterable[tuple[PluginSpec, object]]
    ) -> tuple[list[tuple[str, PluginError]], bool]:
        """Hold exactly ``items``: (the plugins left out for breaking the contract, whether the
        set changed). A plugin whose spec and implementation object are those already held
        keeps its instance, so a registry write that changes nothing here (a heartbeat, another
        replica's endpoint for a host launched here too) changes nothing."""
        old = self._instances
        good: dict[str, PluginInstance[P]] = {}
        bad: list[tuple[str, PluginError]] = []
        for spec, impl in items:
            held = old.get(spec.id)
            if held is not None and held.impl is impl and held.spec == spec:
                good[spec.id] = held
                continue
            try:
                good[spec.id] = self.contract.bind(spec, impl)
            except PluginError as exc:
                log.warning("gateway %s: plugin %s left out: %s", self.gateway, spec.id, exc)
                bad.append((spec.id, exc))
        changed = good.keys() != old.keys() or any(good[k] is not old[k] for k in good)
        self._instances = good
        self._forget_breakers(set(self._breakers) - set(good))
        return bad, changed

    def _forget_breakers(self, gone: set[str]) -> None:
        """Drop the breakers of plugins that left, except those with failures on record: a
        plugin that crashes its host comes back with its breaker as it left it (open), so a
        crash loop stops at the breaker's threshold. At most ``MAX_DEPARTED_BREAKERS`` kept."""
        with self._lock:
            for plugin_id in gone:
                brk = self._breakers.get(plugin_id)
                if brk is not None and brk.failures == 0:
                    del self._breakers[plugin_id]
            departed = [p for p in self._breakers if p not in self._instances]
            for plugin_id in departed[: max(0, len(departed) - MAX_DEPARTED_BREAKERS)]:
                del self._breakers[plugin_id]  # the oldest first (dicts keep insertion order)

    def views(self, source_of: SourceOf | None = None) -> list[PluginView]:
        """Per plugin, by priority then id, what the admin API shows of it; ``source_of``
        tells where each was installed from (None: nowhere known)."""
        return [
            PluginView.of(p, self.breaker(p.id), None if source_of is None else source_of(p.id))
            for p in self.ordered()
        ]

    def method_table(self, names: tuple[str, ...]) -> dict[str, tuple[Any, ...]]:
        """Per plugin id, its implementations of ``names`` in that order (for routes)."""
        return {pid: tuple(inst.methods[n] for n in names) for pid, inst in self._instances.items()}
