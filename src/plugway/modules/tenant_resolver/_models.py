"""Tenant resolver values and errors: the data every tenant resolver plugin speaks.

Same shape as HyperSpot's tenant-resolver SDK (TenantInfo/TenantRef/TenantStatus/BarrierMode),
so configs and semantics carry over.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "BarrierMode",
    "TenantInfo",
    "TenantNotFoundError",
    "TenantRef",
    "TenantResolverError",
    "TenantStatus",
    "matches_status",
]


class TenantResolverError(Exception):
    """Base of the tenant resolver's domain errors."""


class TenantNotFoundError(TenantResolverError):
    """The tenant id is unknown to the plugin that served the call."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id!r} not found")
        self.tenant_id = tenant_id


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


class BarrierMode(enum.StrEnum):
    """Whether self-managed tenants stop hierarchy traversal (``respect``) or not (``ignore``)."""

    RESPECT = "respect"
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True)
class TenantInfo:
    """A tenant with its name; ``self_managed`` tenants are barriers for their parents."""

    id: str
    name: str
    status: TenantStatus = TenantStatus.ACTIVE
    tenant_type: str | None = None
    parent_id: str | None = None
    self_managed: bool = False

    def ref(self) -> TenantRef:
        return TenantRef(
            id=self.id,
            status=self.status,
            tenant_type=self.tenant_type,
            parent_id=self.parent_id,
            self_managed=self.self_managed,
        )


@dataclass(frozen=True, slots=True)
class TenantRef:
    """A tenant without its display name: what hierarchy queries return."""

    id: str
    status: TenantStatus = TenantStatus.ACTIVE
    tenant_type: str | None = None
    parent_id: str | None = None
    self_managed: bool = False


def matches_status(status: TenantStatus, statuses: frozenset[TenantStatus]) -> bool:
    """An empty filter matches every status."""
    return not statuses or status in statuses
