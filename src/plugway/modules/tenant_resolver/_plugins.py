"""The two tenant resolver plugins shipped with plugway, as in HyperSpot:

* ``static_tenants`` — a tenant tree from configuration (priority 100);
* ``single_tenant`` — exactly one tenant, the caller's own (priority 1000, so static wins when
  both are installed and no routing rule says otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from plugway.modules.tenant_resolver._contract import (
    TENANT_RESOLVER_CONTRACT,
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
    TenantInfo,
    TenantNotFoundError,
    TenantResolverError,
    TenantStatus,
    matches_status,
)
from plugway.plugins import PluginDeclaration, PluginSetup, SecurityContext

__all__ = [
    "SingleTenantPlugin",
    "StaticTenantConfig",
    "StaticTenantsConfig",
    "StaticTenantsPlugin",
    "single_tenant_plugin",
    "static_tenants_plugin",
]

VENDOR = "plugway"


class StaticTenantConfig(BaseModel):
    """One configured tenant (the same keys as HyperSpot's static plugin)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1)
    name: str
    status: TenantStatus = TenantStatus.ACTIVE
    tenant_type: str | None = Field(default=None, alias="type")
    parent_id: str | None = None
    self_managed: bool = False


def _demo_tenants() -> list[StaticTenantConfig]:
    # A small documented default so that a fresh install answers the README's curl examples.
    rows: list[dict[str, Any]] = [
        {"id": "acme", "name": "Acme Corp", "type": "partner"},
        {"id": "acme-eu", "name": "Acme Europe", "type": "customer", "parent_id": "acme"},
        {"id": "acme-us", "name": "Acme US", "type": "customer", "parent_id": "acme"},
        {"id": "acme-eu-rnd", "name": "Acme EU R&D", "parent_id": "acme-eu"},
        {
            "id": "globex",
            "name": "Globex (self-managed)",
            "type": "customer",
            "parent_id": "acme",
            "self_managed": True,
        },
        {"id": "globex-lab", "name": "Globex Lab", "parent_id": "globex"},
        {"id": "initech", "name": "Initech", "status": "suspended", "parent_id": "acme-us"},
    ]
    return [StaticTenantConfig.model_validate(r) for r in rows]


class StaticTenantsConfig(BaseModel):
    """``plugins.gateways.tenant_resolver.plugins.static_tenants.config``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenants: list[StaticTenantConfig] = Field(default_factory=_demo_tenants)


class StaticTenantsPlugin:
    """Tenants from configuration, held in memory with a children index."""

    def __init__(self, tenants: Sequence[StaticTenantConfig]) -> None:
        self._tree = TenantTree(
            TenantInfo(
                id=t.id,
                name=t.name,
                status=t.status,
                tenant_type=t.tenant_type,
                parent_id=t.parent_id,
                self_managed=t.self_managed,
            )
            for t in tenants
        )

    async def get_tenant(self, ctx: SecurityContext, tenant_id: str) -> TenantInfo:
        return self._tree.get(tenant_id)

    async def get_tenants(
        self, ctx: SecurityContext, tenant_ids: Sequence[str], options: GetTenantsOptions
    ) -> list[TenantInfo]:
        return self._tree.get_many(tenant_ids, options.statuses)

    async def get_ancestors(
        self, ctx: SecurityContext, tenant_id: str, options: GetAncestorsOptions
    ) -> AncestorsResult:
        tenant = self._tree.get(tenant_id).ref()
        return AncestorsResult(tenant, tuple(self._tree.ancestors(tenant_id, options.barrier_mode)))

    async def get_descendants(
        self, ctx: SecurityContext, tenant_id: str, options: GetDescendantsOptions
    ) -> DescendantsResult:
        tenant = self._tree.get(tenant_id).ref()
        found = self._tree.descendants(
            tenant_id, options.statuses, options.barrier_mode, options.max_depth
        )
        return DescendantsResult(tenant, tuple(found))

    async def is_ancestor(
        self,
        ctx: SecurityContext,
        ancestor_id: str,
        descendant_id: str,
        options: IsAncestorOptions,
    ) -> bool:
        return self._tree.is_ancestor(ancestor_id, descendant_id, options.barrier_mode)


class SingleTenantPlugin:
    """One tenant only: the caller's own (``ctx.tenant_id``), named "Default".

    A context without a tenant knows no tenant at all, as HyperSpot treats the nil tenant.
    """

    NAME = "Default"

    def _own(self, ctx: SecurityContext, tenant_id: str) -> TenantInfo:
        if not ctx.tenant_id or tenant_id != ctx.tenant_id:
            raise TenantNotFoundError(tenant_id)
        return TenantInfo(id=tenant_id, name=self.NAME)

    async def get_tenant(self, ctx: SecurityContext, tenant_id: str) -> TenantInfo:
        return self._own(ctx, tenant_id)

    async def get_tenants(
        self, ctx: SecurityContext, tenant_ids: Sequence[str], options: GetTenantsOptions
    ) -> list[TenantInfo]:
        if not ctx.tenant_id or ctx.tenant_id not in tenant_ids:
            return []
        own = self._own(ctx, ctx.tenant_id)
        return [own] if matches_status(own.status, options.statuses) else []

    async def get_ancestors(
        self, ctx: SecurityContext, tenant_id: str, options: GetAncestorsOptions
    ) -> AncestorsResult:
        return AncestorsResult(self._own(ctx, tenant_id).ref(), ())

    async def get_descendants(
        self, ctx: SecurityContext, tenant_id: str, options: GetDescendantsOptions
    ) -> DescendantsResult:
        return DescendantsResult(self._own(ctx, tenant_id).ref(), ())

    async def is_ancestor(
        self,
        ctx: SecurityContext,
        ancestor_id: str,
        descendant_id: str,
        options: IsAncestorOptions,
    ) -> bool:
        self._own(ctx, ancestor_id)
        self._own(ctx, descendant_id)
        return False


# Factories typed with the contract's Protocol: mypy --strict proves the plugins satisfy it.


def _static(setup: PluginSetup) -> TenantResolverPlugin:
    try:
        config = StaticTenantsConfig.model_validate(dict(setup.config))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise TenantResolverError(f"static_tenants config: {problems}") from None
    return StaticTenantsPlugin(config.tenants)


def _single(setup: PluginSetup) -> TenantResolverPlugin:
    if setup.config:
        raise TenantResolverError(f"single_tenant takes no config, got keys {sorted(setup.config)}")
    return SingleTenantPlugin()


static_tenants_plugin = PluginDeclaration(
    contract=TENANT_RESOLVER_CONTRACT,
    segment="plugway.builtin.static_tenant_resolver.plugin.v1",
    vendor=VENDOR,
    priority=100,
    factory=_static,
    description="tenant tree from configuration",
)

single_tenant_plugin = PluginDeclaration(
    contract=TENANT_RESOLVER_CONTRACT,
    segment="plugway.builtin.single_tenant_resolver.plugin.v1",
    vendor=VENDOR,
    priority=1000,
    factory=_single,
    description="the caller's tenant as the only tenant",
)
