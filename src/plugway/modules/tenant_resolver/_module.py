"""The tenant_resolver gateway module (parity with HyperSpot's tenant-resolver).

Plugins: ``static_tenants`` (a tree from configuration, priority 100) and ``single_tenant`` (the
caller's tenant only, priority 1000). Unlike HyperSpot the choice is per request (routing rules
may send some tenants to another plugin) and can change while serving. "Tenant not found" is the
contract's own answer: it reaches the caller as a 404 and never triggers a fallback.

REST (HyperSpot has none; plugway adds a read-only face for curl and tests), the caller's
tenant and subject in ``X-Tenant-Id`` / ``X-Subject-Id``; each answer names what served it in
the ``X-Plugway-Plugin``, ``X-Plugway-Rule`` and ``X-Plugway-Revision`` headers (from the outcome
of that call):
``GET /tenant-resolver/v1/tenants/{id}``, ``GET /tenant-resolver/v1/tenants?ids=a,b&status=...``,
``.../tenants/{id}/ancestors``, ``.../tenants/{id}/descendants``,
``.../tenants/{id}/is-ancestor-of/{other}``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from plugway.modkit import module
from plugway.modules.tenant_resolver._contract import (
    TENANT_RESOLVER_CONTRACT,
    GetAncestorsOptions,
    GetDescendantsOptions,
    GetTenantsOptions,
    IsAncestorOptions,
)
from plugway.modules.tenant_resolver._models import (
    BarrierMode,
    TenantInfo,
    TenantNotFoundError,
    TenantRef,
    TenantResolverError,
    TenantStatus,
)
from plugway.plugins import GatewayModule, SecurityContext
from plugway.server import FieldProblem, ProblemError, gateway_context, problem_responses

__all__ = ["TenantResolverModule"]

PREFIX = "/tenant-resolver/v1"

Context = Annotated[SecurityContext, Depends(gateway_context)]


class TenantRefOut(BaseModel):
    """A tenant without its display name (what hierarchy queries return)."""

    id: str
    status: TenantStatus
    tenant_type: str | None
    parent_id: str | None
    self_managed: bool = Field(description="a barrier for its parents")


class TenantOut(TenantRefOut):
    name: str


class TenantsOut(BaseModel):
    tenants: list[TenantOut]


class AncestorsOut(BaseModel):
    tenant: TenantRefOut
    ancestors: list[TenantRefOut] = Field(description="nearest first")


class DescendantsOut(BaseModel):
    tenant: TenantRefOut
    descendants: list[TenantRefOut] = Field(description="pre-order")


class IsAncestorOut(BaseModel):
    ancestor: str
    descendant: str
    is_ancestor: bool


_CALL_FAILED = (
    503,
    "`gateway.call_failed` (every plugin tried failed), `gateway.no_plugin` or `plugins.not_ready`",
)
_INVALID = (400, "`request.invalid`: a parameter or a context header is invalid")
_PROBLEMS = problem_responses(
    _INVALID,
    (404, "`tenant_resolver.not_found`: no such tenant (never a fallback)"),
    _CALL_FAILED,
)
_LIST_PROBLEMS = problem_responses(_INVALID, _CALL_FAILED)


def _tenant(t: TenantInfo | TenantRef) -> dict[str, Any]:
    out = asdict(t)
    out["status"] = str(t.status)
    return out


def _statuses(raw: str | None) -> frozenset[TenantStatus]:
    if not raw:
        return frozenset()
    out = set()
    for part in raw.split(","):
        try:
            out.add(TenantStatus(part.strip()))
        except ValueError:
            allowed = ", ".join(s.value for s in TenantStatus)
            raise ProblemError(
                400,
                "request.invalid",
                f"status {part.strip()!r} is not one of {allowed}",
                errors=[FieldProblem("query.status", f"one of {allowed}", "request.invalid")],
            ) from None
    return frozenset(out)


@module(name="tenant_resolver", deps=("plugins",))
class TenantResolverModule(GatewayModule):
    """Gateway over tenant resolver plugins."""

    contract = TENANT_RESOLVER_CONTRACT  # its passthrough: TenantResolverError

    async def _call(self, method: str, ctx: SecurityContext, response: Response, *args: Any) -> Any:
        """Call ``method``; the contract's own errors become problems, the outcome headers."""
        try:
            outcome = await self.gateway.call_with_outcome(method, ctx, *args)
        except TenantNotFoundError as exc:
            raise ProblemError(404, "tenant_resolver.not_found", str(exc)) from None
        except TenantResolverError as exc:
            raise ProblemError(500, "tenant_resolver.error", str(exc)) from None
        response.headers["X-Plugway-Plugin"] = outcome.plugin
        response.headers["X-Plugway-Rule"] = outcome.rule
        response.headers["X-Plugway-Revision"] = str(outcome.revision)
        return outcome.result

    def rest_router(self) -> APIRouter:
        router = APIRouter(prefix=PREFIX, tags=["tenant_resolver"])

        @router.get(
            "/tenants/{tenant_id}",
            summary="One tenant",
            response_model=TenantOut,
            responses=_PROBLEMS,
        )
        async def get_tenant(ctx: Context, response: Response, tenant_id: str) -> dict[str, Any]:
            return _tenant(await self._call("get_tenant", ctx, response, tenant_id))

        @router.get(
            "/tenants",
            summary="Several tenants (unknown ids skipped)",
            response_model=TenantsOut,
            responses=_LIST_PROBLEMS,
        )
        async def get_tenants(
            ctx: Context,
            response: Response,
            ids: str = Query(min_length=1, description="comma-separated tenant ids"),
            status: str | None = Query(default=None, description="comma-separated statuses"),
        ) -> dict[str, Any]:
            wanted = [i.strip() for i in ids.split(",") if i.strip()]
            options = GetTenantsOptions(statuses=_statuses(status))
            found = await self._call("get_tenants", ctx, response, wanted, options)
            return {"tenants": [_tenant(t) for t in found]}

        @router.get(
            "/tenants/{tenant_id}/ancestors",
            summary="Ancestors, nearest first",
            response_model=AncestorsOut,
            responses=_PROBLEMS,
        )
        async def get_ancestors(
            ctx: Context,
            response: Response,
            tenant_id: str,
            barrier_mode: BarrierMode = BarrierMode.RESPECT,
        ) -> dict[str, Any]:
            options = GetAncestorsOptions(barrier_mode=barrier_mode)
            res = await self._call("get_ancestors", ctx, response, tenant_id, options)
            return {"tenant": _tenant(res.tenant), "ancestors": [_tenant(t) for t in res.ancestors]}

        @router.get(
            "/tenants/{tenant_id}/descendants",
            summary="Descendants, pre-order",
            response_model=DescendantsOut,
            responses=_PROBLEMS,
        )
        async def get_descendants(
            ctx: Context,
            response: Response,
            tenant_id: str,
            status: str | None = None,
            barrier_mode: BarrierMode = BarrierMode.RESPECT,
            max_depth: int | None = Query(default=None, ge=1),
        ) -> dict[str, Any]:
            options = GetDescendantsOptions(
                statuses=_statuses(status), barrier_mode=barrier_mode, max_depth=max_depth
            )
            res = await self._call("get_descendants", ctx, response, tenant_id, options)
            return {
                "tenant": _tenant(res.tenant),
                "descendants": [_tenant(t) for t in res.descendants],
            }

        @router.get(
            "/tenants/{ancestor_id}/is-ancestor-of/{descendant_id}",
            summary="Whether one tenant is above another",
            response_model=IsAncestorOut,
            responses=_PROBLEMS,
        )
        async def is_ancestor(
            ctx: Context,
            response: Response,
            ancestor_id: str,
            descendant_id: str,
            barrier_mode: BarrierMode = BarrierMode.RESPECT,
        ) -> dict[str, Any]:
            options = IsAncestorOptions(barrier_mode=barrier_mode)
            answer = await self._call(
                "is_ancestor", ctx, response, ancestor_id, descendant_id, options
            )
            return {"ancestor": ancestor_id, "descendant": descendant_id, "is_ancestor": answer}

        return router
