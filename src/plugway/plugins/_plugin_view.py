"""One plugin of a gateway as the admin API and /health show it: identity, version, circuit,
origin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._breaker import CircuitBreaker
from ._spec import PluginInstance

if TYPE_CHECKING:  # the installer builds on gateways: no import of it at run time
    from ._installer import PluginSource

__all__ = ["PluginView", "SourceOf"]

SourceOf = Callable[[str], "PluginSource | None"]
"""Where a plugin (by id) was installed from, if known."""

_HEALTH = {"closed": "ok", "half_open": "recovering", "open": "failing"}


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

    @classmethod
    def of(
        cls, inst: PluginInstance[Any], breaker: CircuitBreaker, source: PluginSource | None = None
    ) -> PluginView:
        """The view of a held plugin, its breaker and where it was installed from (None: it
        was registered by hand or is served by a host)."""
        return cls(
            id=inst.id,
            vendor=inst.vendor,
            priority=inst.priority,
            version=str(inst.version),
            defaulted=tuple(inst.defaulted),
            health=_HEALTH.get(breaker.state, breaker.state),
            circuit=breaker.state,
            failures=breaker.failures,
            entry_point=None if source is None else source.entry_point,
            distribution=None if source is None else source.distribution,
        )

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
