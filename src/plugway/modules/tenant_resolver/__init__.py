"""tenant_resolver: HyperSpot's tenant resolver gateway with its two plugins (static tenants
from config, single tenant), routed per request."""

from __future__ import annotations

from plugway.modules.tenant_resolver._contract import (
    TENANT_RESOLVER_CONTRACT,
    TENANT_RESOLVER_TYPE_ID,
    AncestorsResult,
    DescendantsResult,
    GetAncestorsOptions,
    GetDescendantsOptions,
    GetTenantsOptions,
    IsAncestorOptions,
    TenantResolverPlugin,
)
from plugway.modules.tenant_resolver._hierarchy import TenantTree
from plugway.modules.tenant_resolver._models import (
    BarrierMode,
    TenantInfo,
    TenantNotFoundError,
    TenantRef,
    TenantResolverError,
    TenantStatus,
)
from plugway.modules.tenant_resolver._module import TenantResolverModule
from plugway.modules.tenant_resolver._plugins import (
    SingleTenantPlugin,
    StaticTenantConfig,
    StaticTenantsConfig,
    StaticTenantsPlugin,
    single_tenant_plugin,
    static_tenants_plugin,
)

__all__ = [
    "TENANT_RESOLVER_CONTRACT",
    "TENANT_RESOLVER_TYPE_ID",
    "AncestorsResult",
    "BarrierMode",
    "DescendantsResult",
    "GetAncestorsOptions",
    "GetDescendantsOptions",
    "GetTenantsOptions",
    "IsAncestorOptions",
    "SingleTenantPlugin",
    "StaticTenantConfig",
    "StaticTenantsConfig",
    "StaticTenantsPlugin",
    "TenantInfo",
    "TenantNotFoundError",
    "TenantRef",
    "TenantResolverError",
    "TenantResolverModule",
    "TenantResolverPlugin",
    "TenantStatus",
    "TenantTree",
    "single_tenant_plugin",
    "static_tenants_plugin",
]
