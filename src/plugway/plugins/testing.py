"""plugway.plugins.testing: what a plugin author's tests need, without a server.

``build_plugin`` runs a declaration's factory the way a gateway does and checks the result
against its contract (the registration-time check, every mismatch reported at once);
``gateway_for`` puts declarations behind a real in-memory :class:`Gateway`, so a test can route,
explain and call exactly as production does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._context import SecurityContext
from ._discovery import PluginDeclaration, PluginSetup
from ._gateway import DEFAULT_TIMEOUT, Gateway
from ._spec import PluginInstance
from .routing import RoutingConfig

__all__ = ["build_plugin", "context", "gateway_for"]


def build_plugin(
    declaration: PluginDeclaration,
    *,
    config: Mapping[str, Any] | None = None,
    data_dir: Path | None = None,
    gateway: str = "test",
) -> PluginInstance[Any]:
    """Build a declared plugin and check it against its contract.

    Raises PluginContractError naming the plugin, each method and mismatch, as registration
    would; ``config`` is what ``plugins.gateways.<gateway>.plugins.<name>.config`` would hold.
    """
    setup = PluginSetup(
        name=declaration.segment,
        gateway=gateway,
        plugin_id=declaration.plugin_id,
        config=dict(config or {}),
        data_dir=data_dir,
        logger=logging.getLogger(f"plugway.plugins.testing.{declaration.segment}"),
    )
    impl = declaration.factory(setup)
    return declaration.contract.bind(declaration.spec(), impl)


def gateway_for(
    *declarations: PluginDeclaration,
    routing: RoutingConfig | Mapping[str, Any] | None = None,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Gateway[Any]:
    """A gateway named ``test`` over the declared plugins (one contract), in memory.

    ``configs`` gives a plugin's config by its segment. Routing is validated as the admin API
    validates it (a bad document raises RoutingConfigError with field paths).
    """
    if not declarations:
        raise ValueError("give at least one plugin declaration")
    contract = declarations[0].contract
    gw: Gateway[Any] = Gateway("test", contract, default_timeout=timeout)
    for decl in declarations:
        if decl.contract is not contract:
            raise ValueError(f"{decl.plugin_id}: every plugin of a gateway has its contract")
        inst = build_plugin(decl, config=(configs or {}).get(decl.segment))
        gw.add_plugin(decl.spec(), inst.impl)
    if routing is not None:
        gw.apply_routing(routing, who="test")
    return gw


def context(tenant: str = "", subject: str = "", **attributes: str) -> SecurityContext:
    """A SecurityContext, as the HTTP face builds it from X-Tenant-Id/X-Subject-Id/X-Attr-*."""
    return SecurityContext(tenant, subject, attributes)
