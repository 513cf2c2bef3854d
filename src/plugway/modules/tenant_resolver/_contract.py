"""The tenant_resolver plugin contract (HyperSpot's ``TenantResolverPluginClient``, in Python).

The gateway passes the SecurityContext through and does no access control itself; which plugin
answers is routing's business (by default the lowest priority: static tenants before the
single-tenant plugin, as in HyperSpot).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from plugway.modules.tenant_resolver._models import (
    BarrierMode,
    TenantInfo,
    TenantRef,
    TenantResolverError,
    TenantStatus,
)
from plugway.plugins import PluginContract, SecurityContext

__all__ = [
    "TENANT_RESOLVER_CONTRACT",
    "TENANT_RESOLVER_TYPE_ID",
    "AncestorsResult",
    "DescendantsResult",
    "GetAncestorsOptions",
    "GetDescendantsOptions",
    "GetTenantsOptions",
    "IsAncestorOptions",
    "TenantResolverPlugin",
]

TENANT_RESOLVER_TYPE_ID = "gts.x.core.modkit.plugin.v1~x.core.tenant_resolver.plugin.v1.0~"


@dataclass(frozen=True, slots=True)
class GetTenantsOptions:
    """An empty ``statuses`` set means every status."""

    statuses: frozenset[TenantStatus] = frozenset()


@dataclass(frozen=True, slots=True)
class GetAncestorsOptions:
    barrier_mode: BarrierMode = BarrierMode.RESPECT


@dataclass(frozen=True, slots=True)
class GetDescendantsOptions:
    statuses: frozenset[TenantStatus] = frozenset()
    barrier_mode: BarrierMode = BarrierMode.RESPECT
    max_depth: int | None = None


@dataclass(frozen=True, slots=True)
class IsAncestorOptions:
    barrier_mode: BarrierMode = BarrierMode.RESPECT


@dataclass(frozen=True, slots=True)
class AncestorsResult:
    """The tenant itself and its ancestors from the direct parent to the root."""

    tenant: TenantRef
    ancestors: tuple[TenantRef, ...]


@dataclass(frozen=True, slots=True)
class DescendantsResult:
    """The tenant itself and its descendants in pre-order."""

    tenant: TenantRef
    descendants: tuple[TenantRef, ...]


class TenantResolverPlugin(Protocol):
    """Resolves tenants and their hierarchy."""

    async def get_tenant(self, ctx: SecurityContext, tenant_id: str) -> TenantInfo:
        """The tenant; TenantNotFoundError if unknown."""
        ...

    async def get_tenants(
        self, ctx: SecurityContext, tenant_ids: Sequence[str], options: GetTenantsOptions
    ) -> list[TenantInfo]:
        """The known tenants among ``tenant_ids`` (unknown skipped, duplicates once)."""
        ...

    async def get_ancestors(
        self, ctx: SecurityContext, tenant_id: str, options: GetAncestorsOptions
    ) -> AncestorsResult:
        """The tenant's ancestors, nearest first."""
        ...

    async def get_descendants(
        self, ctx: SecurityContext, tenant_id: str, options: GetDescendantsOptions
    ) -> DescendantsResult:
        """The tenant's descendants, pre-order."""
        ...

    async def is_ancestor(
        self,
        ctx: SecurityContext,
        ancestor_id: str,
        descendant_id: str,
        options: IsAncestorOptions,
    ) -> bool:
        """Whether ``ancestor_id`` is above ``descendant_id`` (a tenant is not its own)."""
        ...


TENANT_RESOLVER_CONTRACT: PluginContract[TenantResolverPlugin] = PluginContract(
    TenantResolverPlugin,
    type_id=TENANT_RESOLVER_TYPE_ID,
    name="tenant_resolver",
    passthrough=(TenantResolverError,),  # "not found" and the like: answers, also from a host
)
