"""The ``plugins_admin`` module: the admin REST API of gateways and plugins, under /plugins/v1/.

It holds no state of its own: every answer comes from the :class:`GatewayManager` in the
ClientHub, which each gateway module joins at init. Reads are open; changes (routing, rollback)
require ``Authorization: Bearer <server.admin_token>`` when a token is configured. The module
also feeds ``/metrics`` (per gateway, plugin and rule) and ``/health`` (plugins left out).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field

from plugway.modkit import ClientHub, Module, ModuleContext, module
from plugway.plugins import (
    Explanation,
    GatewayCallError,
    GatewayManager,
    GatewayModule,
    NoPluginAvailableError,
    PluginError,
    RevisionNotFoundError,
    RoutingConfigError,
    RoutingRevision,
    SecurityContext,
)
from plugway.server import (
    ADMIN_BEARER,
    FieldProblem,
    HealthSource,
    MetricsSource,
    ProblemError,
    bearer_guard,
)

__all__ = [
    "PluginsAdminConfig",
    "PluginsAdminModule",
    "context_from_headers",
    "explanation_to_dict",
    "problem_from_plugin_error",
]

PREFIX = "/plugins/v1"


# -- problems shared by the gateway modules' REST routes ---------------------------------------


class _GatewayProblem(ProblemError):
    """A problem document that also names the gateway and plugin that failed."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        gateway: str | None,
        plugin: str | None,
        attempts: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(
            status, code, detail, headers={"Retry-After": "1"} if status == 503 else None
        )
        self.gateway = gateway
        self.plugin = plugin
        self.attempts = attempts

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        doc = super().to_dict(instance)
        doc["gateway"] = self.gateway
        doc["plugin"] = self.plugin
        doc["attempts"] = [{"plugin": p, "error": e} for p, e in self.attempts]
        return doc


def problem_from_plugin_error(exc: PluginError) -> ProblemError:
    """The RFC 9457 problem for a plugins-layer error (which gateway, which plugin failed)."""
    if isinstance(exc, NoPluginAvailableError):
        return _GatewayProblem(503, "gateway.no_plugin", str(exc), gateway=exc.gateway, plugin=None)
    if isinstance(exc, GatewayCallError):
        return _GatewayProblem(
            503,
            "gateway.call_failed",
            str(exc),
            gateway=exc.gateway,
            plugin=exc.plugin,
            attempts=exc.attempts,
        )
    if isinstance(exc, RoutingConfigError):
        errors = [
            FieldProblem(p.path or "<root>", p.message, "plugins.routing_invalid")
            for p in exc.problems
        ]
        return ProblemError(422, "plugins.routing_invalid", str(exc), errors=errors)
    if isinstance(exc, RevisionNotFoundError):
        return ProblemError(404, "plugins.revision_not_found", str(exc))
    return ProblemError(500, "plugins.error", str(exc))


def context_from_headers(request: Request) -> SecurityContext:
    """The SecurityContext of a REST call: ``X-Tenant-Id``, ``X-Subject-Id`` and one
    ``X-Attr-<name>`` header per request attribute (name lower-cased)."""
    headers = request.headers
    attributes = {
        key[len("x-attr-") :]: value
        for key, value in headers.items()
        if key.startswith("x-attr-") and len(key) > len("x-attr-")
    }
    return SecurityContext(
        tenant_id=headers.get("x-tenant-id", ""),
        subject_id=headers.get("x-subject-id", ""),
        attributes=attributes,
    )


def explanation_to_dict(exp: Explanation) -> dict[str, Any]:
    return {
        "gateway": exp.gateway,
        "plugin": exp.plugin_id,
        "rule": exp.rule_name,
        "rule_index": exp.rule_index,
        "reason": exp.reason,
        "steps": list(exp.steps),
        "fallbacks": list(exp.fallback),
        "shadow": exp.shadow,
        "circuit": exp.circuit,
        "revision": exp.revision,
    }


def _revision_to_dict(rev: RoutingRevision) -> dict[str, Any]:
    return {
        "revision": rev.number,
        "created_at": rev.at.isoformat(),
        "who": rev.who,
        "what": rev.what,
        "routing": dict(rev.routing),
    }


# -- request bodies ----------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExplainRequest(_Body):
    tenant_id: str = ""
    subject_id: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)

    def context(self) -> SecurityContext:
        return SecurityContext(self.tenant_id, self.subject_id, self.attributes)


class BulkExplainRequest(ExplainRequest):
    """Decide for many values of one context key at once (A/B and rollout measurements)."""

    key: str = Field(description="tenant_id, subject_id or attributes.<name>")
    values: list[str] = Field(max_length=100_000)


class RollbackRequest(_Body):
    revision: int | None = Field(default=None, ge=1, description="default: the previous one")


class PluginsAdminConfig(BaseModel):
    """``modules.plugins_admin.config``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protect_reads: bool = Field(default=False, description="require the admin token for reads too")


# -- the module --------------------------------------------------------------------------------


@module(name="plugins_admin", config=PluginsAdminConfig)
class PluginsAdminModule(Module):
    """Admin API of gateways and plugins, plus their /metrics and /health contributions."""

    def __init__(self) -> None:
        self._hub: ClientHub | None = None
        self._token: str | None = None
        self._config = PluginsAdminConfig()

    async def init(self, ctx: ModuleContext) -> None:
        self._hub = ctx.hub
        self._token = ctx.settings.server.admin_token
        self._config = ctx.config_as(PluginsAdminConfig)
        hub = ctx.hub

        def render() -> str:
            manager = hub.try_get(GatewayManager)
            return "" if manager is None else manager.render_metrics()

        hub.register_scoped(MetricsSource, "gts.x.core.plugins.metrics.v1~", render)
        _register_health(hub)

    # -- helpers ------------------------------------------------------------------------------

    def _manager(self) -> GatewayManager:
        manager = None if self._hub is None else self._hub.try_get(GatewayManager)
        if manager is None:
            raise ProblemError(503, "plugins.not_ready", "no gateway has started yet")
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

    def _guard_write(
        self,
        request: Request,
        _declared: Annotated[HTTPAuthorizationCredentials | None, Security(ADMIN_BEARER)] = None,
    ) -> None:
        # ``_declared`` only puts the bearer scheme in OpenAPI (/docs: Authorize); the guard
        # reads the header itself.
        bearer_guard(self._token)(request)

    def _guard_read(self, request: Request) -> None:
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
            doc["warnings"] = list(gw.gateway.router.warnings)
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
        read = [Depends(self._guard_read)]
        write = [Depends(self._guard_write)]

        @router.get("/gateways", dependencies=read, summary="List gateways and their plugins")
        def list_gateways() -> dict[str, Any]:
            manager = self._manager()
            return {
                "gateways": [
                    self._describe(gw, full=False) for gw in manager.gateways() if gw.ready
                ],
                "discovery_failures": [f.to_dict() for f in manager.catalog.failures],
            }

        @router.get("/discovery", dependencies=read, summary="Plugins found and left out")
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
            summary="Find plugin packages installed since start-up and route to them",
        )
        def rescan() -> dict[str, Any]:
            return self._manager().rescan()

        @router.get("/gateways/{name}", dependencies=read, summary="One gateway in full")
        def get_gateway(name: str) -> dict[str, Any]:
            return self._describe(self._gateway(name), full=True)

        @router.put(
            "/gateways/{name}/routing",
            dependencies=write,
            summary="Replace the routing (validated whole; 422 with field paths if invalid)",
        )
        def put_routing(
            name: str,
            routing: dict[str, Any] = Body(...),  # noqa: B008
            comment: str | None = Query(default=None, max_length=500),
        ) -> dict[str, Any]:
            gw = self._gateway(name)
            try:
                rev = gw.apply_routing(routing, who="admin-api", what=comment or "admin API")
            except PluginError as exc:
                raise problem_from_plugin_error(exc) from None
            return {"revision": rev.number, "routing": dict(rev.routing)}

        @router.get("/gateways/{name}/revisions", dependencies=read, summary="Routing history")
        def revisions(name: str, limit: int = Query(default=50, ge=1, le=1000)) -> dict[str, Any]:
            gw = self._gateway(name)
            return {
                "current": gw.gateway.revision,
                "revisions": [_revision_to_dict(r) for r in gw.gateway.revisions(limit=limit)],
            }

        @router.post(
            "/gateways/{name}/rollback",
            dependencies=write,
            summary="Make an earlier revision current again (as a new revision)",
        )
        def rollback(name: str, body: RollbackRequest | None = None) -> dict[str, Any]:
            gw = self._gateway(name)
            wanted = None if body is None else body.revision
            try:
                target = gw.previous_revision() if wanted is None else wanted
                rev = gw.rollback(target, who="admin-api")
            except PluginError as exc:
                raise problem_from_plugin_error(exc) from None
            return {"revision": rev.number, "restored": target, "routing": dict(rev.routing)}

        @router.post("/gateways/{name}/explain", dependencies=read, summary="Explain a decision")
        def explain_post(name: str, body: ExplainRequest) -> dict[str, Any]:
            return explanation_to_dict(self._gateway(name).explain(body.context()))

        @router.get("/gateways/{name}/explain", dependencies=read, summary="Explain a decision")
        def explain_get(
            name: str,
            tenant_id: str = "",
            subject_id: str = "",
        ) -> dict[str, Any]:
            ctx = SecurityContext(tenant_id, subject_id)
            return explanation_to_dict(self._gateway(name).explain(ctx))

        @router.post(
            "/gateways/{name}/explain-bulk",
            dependencies=read,
            summary="Which plugin serves each of many values of one context key",
        )
        def explain_bulk(name: str, body: BulkExplainRequest) -> dict[str, Any]:
            gw = self._gateway(name).gateway
            return _bulk(gw, body)

        return router


def _bulk(gw: Any, body: BulkExplainRequest) -> dict[str, Any]:
    key = body.key
    base = body.context()
    attr = key[len("attributes.") :] if key.startswith("attributes.") else ""
    if key not in ("tenant_id", "subject_id") and not attr:
        raise ProblemError(
            400,
            "request.invalid",
            f"key {key!r}: use tenant_id, subject_id or attributes.<name>",
            errors=[FieldProblem("body.key", "unknown context key", "request.invalid")],
        )

    def make(value: str) -> SecurityContext:
        if key == "tenant_id":
            return SecurityContext(value, base.subject_id, base.attributes)
        if key == "subject_id":
            return SecurityContext(base.tenant_id, value, base.attributes)
        merged = dict(base.attributes)
        merged[attr] = value
        return SecurityContext(base.tenant_id, base.subject_id, merged)

    table: dict[str | None, int] = {}
    assignments: list[int] = []
    revision = gw.revision
    decide = gw.decide
    for value in body.values:
        decision = decide(make(value))
        index = table.get(decision.plugin_id)
        if index is None:
            index = table[decision.plugin_id] = len(table)
        assignments.append(index)
        revision = decision.revision
    plugins = list(table)
    counts = {str(p): 0 for p in plugins}
    for i in assignments:
        counts[str(plugins[i])] += 1
    return {"revision": revision, "plugins": plugins, "assignments": assignments, "counts": counts}


def _register_health(hub: ClientHub) -> None:
    """Report plugins left out and each gateway's state in /health."""

    def health() -> Mapping[str, Any]:
        manager = hub.try_get(GatewayManager)
        return {} if manager is None else manager.health()

    hub.register_scoped(HealthSource, "gts.x.core.plugins.health.v1~", health)
