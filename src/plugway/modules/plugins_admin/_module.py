"""The ``plugins_admin`` module: the admin REST API of gateways and plugins, under /plugins/v1/.

It holds no state of its own: every answer comes from the :class:`GatewayManager` that the
``plugins`` module owns and each gateway module joins at init. Reads are open unless
``protect_reads``; changes (routing, rollback, removing a plugin, rescan) require
``Authorization: Bearer <server.admin_token>``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from plugway.modkit import ClientHub, Module, ModuleContext, module
from plugway.modules.plugins_admin._answers import (
    BulkExplanation,
    Discovery,
    ExplanationOut,
    GatewayDetail,
    GatewayList,
    PluginRemoved,
    Rescan,
    Revisions,
    RolledBack,
    RoutingApplied,
    gateway_problems,
)
from plugway.modules.plugins_admin._explain import (
    MAX_BULK_BYTES,
    MAX_BULK_CHARS,
    MAX_BULK_VALUES,
    BulkExplainer,
    BulkExplainRequest,
    ExplainRequest,
    check_text,
    explanation_to_dict,
)
from plugway.modules.plugins_admin._fleet import (
    WRITE_ERRORS,
    add_fleet_routes,
    check_fleet,
    write_problem,
)
from plugway.plugins import (
    GatewayManager,
    GatewayModule,
    PluginError,
    RoutingRevision,
    SecurityContext,
)
from plugway.server import (
    ADMIN_BEARER,
    ProblemError,
    bearer_guard,
)
from plugway.server._limits import BodyLimit

__all__ = ["PluginsAdminConfig", "PluginsAdminModule"]

ADMIN_WHO = "admin-api"
"""Who routing revisions made through this API are recorded as."""

PREFIX = "/plugins/v1"
MAX_REVISION = 2**63 - 1
"""The largest revision number the revision store can hold (an SQLite integer)."""


def _revision_to_dict(rev: RoutingRevision) -> dict[str, Any]:
    return {
        "revision": rev.number,
        "created_at": rev.at.isoformat(),
        "who": rev.who,
        "what": rev.what,
        "routing": dict(rev.routing),
    }


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RollbackRequest(_Body):
    revision: int | None = Field(
        default=None,
        ge=1,
        le=MAX_REVISION,
        description="default: the routing before the last routing change",
    )


class PluginsAdminConfig(BaseModel):
    """``modules.plugins_admin.config``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protect_reads: bool = Field(default=False, description="require the admin token for reads too")
    bulk_concurrency: int = Field(
        default=1, ge=1, le=64, description="explain-bulk requests served at once (more: 429)"
    )


# -- the module --------------------------------------------------------------------------------


@module(name="plugins_admin", deps=("plugins",), config=PluginsAdminConfig)
class PluginsAdminModule(Module):
    """Admin API of gateways and plugins."""

    def __init__(self) -> None:
        self._hub: ClientHub | None = None
        self._token: str | None = None
        self._config = PluginsAdminConfig()
        self.bulk = BulkExplainer(1)

    async def init(self, ctx: ModuleContext) -> None:
        self._hub = ctx.hub
        self._token = ctx.settings.server.admin_token
        self._config = ctx.config_as(PluginsAdminConfig)
        self.bulk = BulkExplainer(self._config.bulk_concurrency)

    # -- helpers ------------------------------------------------------------------------------

    def _manager(self) -> GatewayManager:
        manager = None if self._hub is None else self._hub.try_get(GatewayManager)
        if manager is None:
            raise ProblemError(503, "plugins.not_ready", "the plugins runtime is not started")
        return manager

    def _gateway(self, name: str) -> GatewayModule:
        gw = self._manager().get(name)
        if gw is None:
            raise ProblemError(404, "plugins.gateway_not_found", f"no gateway named {name!r}")
        if not gw.ready:
            raise ProblemError(
                503,
                "plugins.not_ready",
                f"gateway {name!r} is not started yet",
                headers={"Retry-After": "1"},
            )
        return gw

    async def _guard_write(
        self,
        request: Request,
        _declared: Annotated[HTTPAuthorizationCredentials | None, Security(ADMIN_BEARER)] = None,
    ) -> None:
        # ``_declared`` only puts the bearer scheme in OpenAPI (/docs: Authorize); the guard
        # reads the header itself.
        bearer_guard(self._token)(request)

    async def _guard_read(self, request: Request) -> None:
        if self._config.protect_reads:
            bearer_guard(self._token)(request)

    def _describe(self, gw: GatewayModule, *, full: bool) -> dict[str, Any]:
        contract = gw.contract
        doc: dict[str, Any] = {
            "name": gw.gateway_name,
            "contract_id": contract.type_id,
            "contract_version": str(contract.version),
            "revision": gw.gateway.revision,
        }
        statuses = gw.plugin_status()
        if full:
            doc["plugins"] = [s.to_dict() for s in statuses]
            doc["routing"] = gw.gateway.routing.document()
            doc["warnings"] = list(gw.gateway.warnings)
            doc["registered_without_implementation"] = list(gw.missing_implementations)
            doc["failures"] = [f.to_dict() for f in gw.failures()]
            doc["config_error"] = gw.config_error
        else:
            doc["plugins"] = [
                {"id": s.id, "vendor": s.vendor, "priority": s.priority, "version": s.version}
                for s in statuses
            ]
        return doc

    # -- routes -------------------------------------------------------------------------------

    def rest_router(self) -> APIRouter:
        router = APIRouter(prefix=PREFIX, tags=["plugins"])
        write = [Depends(self._guard_write)]
        # With protect_reads known here, reads declare the token too, so that the server checks
        # it before reading a body; the request-time check covers a router built before init.
        read = [Depends(self._guard_read)] + (write if self._config.protect_reads else [])

        runtime_only = gateway_problems(one_gateway=False)
        routing_invalid = (422, "`plugins.routing_invalid`: `errors` names each bad field")
        text_invalid = (400, "`request.invalid`: a value that is no Unicode text, or a bad key")

        @router.get(
            "/gateways",
            dependencies=read,
            summary="List gateways and their plugins",
            response_model=GatewayList,
            responses=runtime_only,
        )
        def list_gateways() -> dict[str, Any]:
            manager = self._manager()
            return {
                "gateways": [
                    self._describe(gw, full=False) for gw in manager.gateways() if gw.ready
                ],
                "discovery_failures": [f.to_dict() for f in manager.catalog.failures],
            }

        @router.get(
            "/discovery",
            dependencies=read,
            summary="Plugins found and left out",
            response_model=Discovery,
            responses=runtime_only,
        )
        def discovery() -> dict[str, Any]:
            catalog = self._manager().catalog
            return {
                "plugins": [
                    {
                        "name": p.name,
                        "value": p.value,
                        "distribution": p.distribution,
                        "plugin_id": p.plugin_id,
                        "contract_id": p.declaration.contract.type_id,
                    }
                    for p in catalog.plugins
                ],
                "failures": [f.to_dict() for f in catalog.failures],
            }

        @router.post(
            "/discovery/rescan",
            dependencies=write,
            summary="Scan the entry points again: route to new plugin packages, drop gone ones",
            response_model=Rescan,
            responses=runtime_only,
        )
        def rescan() -> dict[str, Any]:
            return self._manager().rescan()

        @router.get(
            "/gateways/{name}",
            dependencies=read,
            summary="One gateway in full",
            response_model=GatewayDetail,
            responses=gateway_problems(),
        )
        def get_gateway(name: str) -> dict[str, Any]:
            return self._describe(self._gateway(name), full=True)

        @router.put(
            "/gateways/{name}/routing",
            dependencies=write,
            summary="Replace the routing (validated whole; 422 with field paths if invalid)",
            response_model=RoutingApplied,
            responses=gateway_problems(routing_invalid),
        )
        def put_routing(
            name: str,
            routing: dict[str, Any] = Body(...),  # noqa: B008
            comment: str | None = Query(default=None, max_length=500),
            allow_missing: bool = Query(
                default=False, description="accept plugins some live replicas do not have"
            ),
        ) -> dict[str, Any]:
            gw = self._gateway(name)
            warnings = check_fleet(self._manager(), gw, routing, allow_missing=allow_missing)
            try:
                rev = gw.apply_routing(routing, who=ADMIN_WHO, what=comment or "admin API")
            except PluginError as exc:
                raise write_problem(exc) from None
            return {"revision": rev.number, "routing": dict(rev.routing), "warnings": warnings}

        @router.get(
            "/gateways/{name}/revisions",
            dependencies=read,
            summary="Routing history",
            response_model=Revisions,
            responses=gateway_problems(),
        )
        def revisions(name: str, limit: int = Query(default=50, ge=1, le=1000)) -> dict[str, Any]:
            gw = self._gateway(name)
            return {
                "current": gw.gateway.revision,
                "revisions": [_revision_to_dict(r) for r in gw.gateway.revisions(limit=limit)],
            }

        @router.post(
            "/gateways/{name}/rollback",
            dependencies=write,
            summary="Make an earlier revision current again (as a new revision); without a "
            "number, undo the last routing change",
            response_model=RolledBack,
            responses=gateway_problems(
                (404, "`plugins.revision_not_found`: no such revision (or nothing to undo)"),
                routing_invalid,
            ),
        )
        def rollback(name: str, body: RollbackRequest | None = None) -> dict[str, Any]:
            gw = self._gateway(name)
            try:
                restored, rev = gw.rollback(None if body is None else body.revision, who=ADMIN_WHO)
            except WRITE_ERRORS as exc:
                raise write_problem(exc) from None
            return {"revision": rev.number, "restored": restored, "routing": dict(rev.routing)}

        @router.delete(
            "/gateways/{name}/plugins/{plugin_id}",
            dependencies=write,
            summary="Remove a plugin instance from the Types Registry: it leaves the routing",
            response_model=PluginRemoved,
            responses=gateway_problems(
                (404, "`plugins.plugin_not_found`: the gateway has no such plugin")
            ),
        )
        def remove_plugin(name: str, plugin_id: str) -> dict[str, Any]:
            gw = self._gateway(name)
            try:
                gw.remove_plugin(plugin_id)
            except WRITE_ERRORS as exc:
                raise write_problem(exc) from None
            return {"removed": plugin_id, "revision": gw.gateway.revision}

        @router.post(
            "/gateways/{name}/explain",
            dependencies=read,
            summary="Explain a decision",
            response_model=ExplanationOut,
            responses=gateway_problems(text_invalid),
        )
        def explain_post(name: str, body: ExplainRequest) -> dict[str, Any]:
            gw = self._gateway(name)
            check_text(body.text_fields())
            return explanation_to_dict(gw.explain(body.context()))

        @router.get(
            "/gateways/{name}/explain",
            dependencies=read,
            summary="Explain a decision",
            response_model=ExplanationOut,
            responses=gateway_problems(text_invalid),
        )
        def explain_get(
            name: str,
            tenant_id: str = "",
            subject_id: str = "",
        ) -> dict[str, Any]:
            gw = self._gateway(name)
            check_text([("query.tenant_id", tenant_id), ("query.subject_id", subject_id)])
            return explanation_to_dict(gw.explain(SecurityContext(tenant_id, subject_id)))

        @router.post(
            "/gateways/{name}/explain-bulk",
            dependencies=[*read, Depends(BodyLimit(MAX_BULK_BYTES))],
            summary="Which plugin serves each of many values of one context key",
            description=f"At most {MAX_BULK_VALUES} values ({MAX_BULK_CHARS} characters in "
            "all); a bounded number of these run at once (429 `plugins.busy` beyond).",
            response_model=BulkExplanation,
            responses=gateway_problems(
                text_invalid,
                (413, f"`request.too_large`: more than {MAX_BULK_CHARS} characters of values"),
                (429, "`plugins.busy`: bulk_concurrency explain-bulk requests already run"),
            ),
        )
        async def explain_bulk(name: str, body: BulkExplainRequest) -> dict[str, Any]:
            return await self.bulk.explain(self._gateway(name), body)

        add_fleet_routes(router, self._manager, read)
        return router
