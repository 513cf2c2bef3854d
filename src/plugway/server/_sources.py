"""What the platform routes read from a running runtime: the producers registered in its hub
(health reports, metrics collectors) and whether its registry is ready."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from plugway.modkit import ClientHub, ModkitError, Runtime

if TYPE_CHECKING:
    from typing_extensions import TypeForm

__all__ = ["hub_entries", "registry_ready"]

S = TypeVar("S")


def hub_entries(hub: ClientHub, iface: TypeForm[S]) -> list[tuple[str, S]]:
    """``(scope, client)`` of ``iface``: the unscoped one as ``""`` first, then by scope."""
    found: list[tuple[str, S]] = []
    unscoped = hub.try_get(iface)
    if unscoped is not None:
        found.append(("", unscoped))
    for scope in sorted(hub.scopes(iface)):
        client = hub.try_get_scoped(iface, scope)
        if client is not None:
            found.append((scope, client))
    return found


def registry_ready(runtime: Runtime) -> bool:
    """Whether the runtime's Types Registry has switched to ready (False before it opened)."""
    try:
        return runtime.registry.is_ready
    except ModkitError:  # not opened yet: the runtime has not started
        return False
