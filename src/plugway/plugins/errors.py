"""plugway.plugins.errors: what the plugins layer raises, all under one base, ``PluginError``.

Each error names what is wrong: the plugin, the method, the field path or the gateway. The
three a gateway's caller catches (``PluginError``, ``GatewayCallError``,
``NoPluginAvailableError``) are on ``plugway.plugins`` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ContractDefinitionError",
    "GatewayCallError",
    "InvalidContextError",
    "NoPluginAvailableError",
    "PluginContractError",
    "PluginError",
    "PluginPropertiesError",
    "PluginVersionError",
    "RemotePluginError",
    "RevisionNotFoundError",
    "RoutingConfigError",
    "RoutingProblem",
    "UnknownPluginError",
]


class PluginError(Exception):
    """Base of everything the plugins layer raises on bad input or a failed call."""


class InvalidContextError(PluginError):
    """A SecurityContext built from values that routing cannot read (non-string ids, ...)."""


class ContractDefinitionError(PluginError):
    """A gateway's contract itself is malformed (bad type id, sync method, missing default)."""

    def __init__(self, contract: str, message: str) -> None:
        self.contract = contract
        super().__init__(f"contract {contract!r}: {message}")


class PluginContractError(PluginError):
    """A plugin does not satisfy its gateway's contract (refused at registration)."""

    def __init__(self, plugin: str, method: str | None, mismatch: str) -> None:
        self.plugin = plugin
        self.method = method
        self.mismatch = mismatch
        where = f"method {method!r}: " if method else ""
        super().__init__(f"plugin {plugin!r} breaks its contract: {where}{mismatch}")


class PluginVersionError(PluginContractError):
    """A plugin implements another MAJOR version of the contract."""

    def __init__(self, plugin: str, mismatch: str) -> None:
        super().__init__(plugin, None, mismatch)


class PluginPropertiesError(PluginContractError):
    """A plugin's ``properties`` fail the contract's properties model."""

    def __init__(self, plugin: str, problems: Sequence[RoutingProblem]) -> None:
        self.problems = tuple(problems)
        text = "; ".join(f"{p.path}: {p.message}" for p in self.problems)
        super().__init__(plugin, None, f"invalid properties: {text}")


@dataclass(frozen=True, slots=True)
class RoutingProblem:
    """One bad field of a document: its path (``rules[0].split.key``) and what is wrong."""

    path: str
    message: str


class RoutingConfigError(PluginError):
    """A routing document was refused; the running routing keeps serving."""

    def __init__(self, problems: Sequence[RoutingProblem], *, gateway: str | None = None) -> None:
        self.problems = tuple(problems)
        self.gateway = gateway
        where = f" for gateway {gateway!r}" if gateway else ""
        text = "; ".join(f"{p.path or '<root>'}: {p.message}" for p in self.problems)
        super().__init__(f"invalid routing{where}: {text}")


class GatewayCallError(PluginError):
    """A gateway call failed on its plugin and on every fallback."""

    def __init__(
        self,
        gateway: str,
        plugin: str | None,
        method: str,
        message: str,
        attempts: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.gateway = gateway
        self.plugin = plugin
        self.method = method
        self.attempts = tuple(attempts)
        super().__init__(f"gateway {gateway!r}, plugin {plugin!r}, method {method!r}: {message}")


class NoPluginAvailableError(GatewayCallError):
    """Routing found no plugin to serve the call (none registered, or none of the vendor)."""


class RemotePluginError(PluginError):
    """An out-of-process plugin call failed; the gateway counts it as the plugin's failure."""

    def __init__(self, plugin: str, method: str, message: str) -> None:
        self.plugin = plugin
        self.method = method
        super().__init__(f"plugin {plugin!r}, method {method!r}: {message}")


class RevisionNotFoundError(PluginError):
    """No routing revision with that number for that gateway."""

    def __init__(self, gateway: str, number: int) -> None:
        self.gateway = gateway
        self.number = number
        super().__init__(f"gateway {gateway!r} has no routing revision {number}")


class UnknownPluginError(PluginError):
    """A plugin id that the gateway does not hold."""

    def __init__(self, gateway: str, plugin: str) -> None:
        self.gateway = gateway
        self.plugin = plugin
        super().__init__(f"gateway {gateway!r} has no plugin {plugin!r}")
