"""The ASGI app of a running :class:`~plugway.modkit.Runtime`: module and platform routes.

The app holds no state of its own: health reads the runtime's phases, ``/metrics`` asks the
sources that layer-4 code registered in the ClientHub, and each REST-capable module brings its
own router. That keeps the server free of business rules (DESIGN.md, layer 5).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from plugway.modkit import ModulePhase, RestCapable, Runtime
from plugway.server._auth import (
    ADMIN_ACCESS_STATE,
    ADMIN_BEARER,
    AdminAccess,
    bearer_guard,
    host_credentials,
)
from plugway.server._hosts import HostGuard
from plugway.server._limits import install_request_guard
from plugway.server._metrics import metrics_response
from plugway.server._openapi import install_openapi
from plugway.server._problems import install_problem_handlers
from plugway.server._sources import hub_entries, registry_ready

__all__ = [
    "ADMIN_BEARER",
    "METRICS_CONTENT_TYPE",
    "HealthReport",
    "HealthSource",
    "MetricsSource",
    "bearer_guard",
    "create_app",
]

_log = logging.getLogger("plugway.server")

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST  # what /metrics answers (prometheus_client's format)

# Swagger UI's files are served by the app itself (from the swagger-ui-bundle package), so /docs
# works on a machine without internet access; FastAPI's default page loads them from a CDN.
_DOCS_ASSETS = "/docs/assets"

# The phase in which a module counts as healthy; any other makes /health answer 503.
_HEALTHY_PHASES = frozenset({ModulePhase.RUNNING.value})


@runtime_checkable
class MetricsSource(Protocol):
    """A callable that renders Prometheus exposition text (complete lines, ``\\n``-terminated).

    Register one per producer under a scope of your choice, e.g.
    ``hub.register_scoped(MetricsSource, "plugins", render)``, or a single unscoped one with
    ``hub.register(MetricsSource, render)``; ``/metrics`` parses them into families on each
    scrape. A ``prometheus_client`` ``Collector`` registered the same way is the better choice.
    """

    def __call__(self) -> str: ...


@runtime_checkable
class HealthSource(Protocol):
    """A callable that reports a component's state for ``/health`` as a JSON-able mapping.

    Register one per component under a GTS id scope, e.g.
    ``hub.register_scoped(HealthSource, "gts.x.core.plugins.health.v1~", report)``; ``/health``
    shows it under ``components.<scope>``. A report with ``"status": "degraded"`` makes the whole
    answer ``degraded`` (still 200): something was left out, the rest serves.
    """

    def __call__(self) -> Mapping[str, Any]: ...


class Liveness(BaseModel):
    """``/healthz``: the process answers HTTP."""

    status: Literal["ok"]


class RegistryState(BaseModel):
    ready: bool = Field(description="whether the types registry has switched to ready")


class LeftOutModule(BaseModel):
    """An installed module that could not be loaded and was left out."""

    entry_point: str
    value: str
    error: str


class HealthReport(BaseModel):
    """``/health``: ``unavailable`` (503) until every module runs and the registry is ready;
    ``degraded`` (200) when a module was left out or a component reports ``degraded``."""

    status: Literal["ok", "degraded", "unavailable"]
    registry: RegistryState
    modules: dict[str, str] = Field(description="the lifecycle phase of each module")
    left_out: list[LeftOutModule] | None = Field(
        default=None, description="present when some module was left out"
    )
    components: dict[str, dict[str, Any]] | None = Field(
        default=None, description="each HealthSource's report, by its scope"
    )


def _health(runtime: Runtime) -> tuple[int, dict[str, Any]]:
    """503 unless every module runs and the registry is ready; ``degraded`` (still 200) when
    some installed module could not be loaded and was left out."""
    modules = {name: str(runtime.phase_of(name)) for name in runtime.modules}
    ready = registry_ready(runtime)
    healthy = ready and all(phase in _HEALTHY_PHASES for phase in modules.values())
    left_out = [
        {"entry_point": f.entry_point, "value": f.value, "error": f.error}
        for f in runtime.discovery_failures
    ]
    components: dict[str, Any] = {}
    for scope, source in hub_entries(runtime.hub, HealthSource):
        try:
            components[scope or "default"] = dict(source())
        except Exception as exc:
            _log.error("health source %r failed", scope or "<unscoped>", exc_info=exc)
            components[scope or "default"] = {"status": "degraded", "error": str(exc)}
    degraded = bool(left_out) or any(
        isinstance(c, Mapping) and c.get("status") == "degraded" for c in components.values()
    )
    status = "unavailable" if not healthy else "degraded" if degraded else "ok"
    body: dict[str, Any] = {
        "status": status,
        "registry": {"ready": ready},
        "modules": modules,
    }
    if left_out:
        body["left_out"] = left_out
    if components:
        body["components"] = components
    return (200 if healthy else 503), body


def _install_docs(app: FastAPI, title: str) -> None:
    """``/docs``: Swagger UI over ``/openapi.json``, every asset served locally."""
    app.mount(
        _DOCS_ASSETS,
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="swagger-ui-assets",
    )

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        assets = root + _DOCS_ASSETS
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{title} - API docs",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
        )


def create_app(
    runtime: Runtime, *, title: str = "plugway", allowed_hosts: Sequence[str] | None = None
) -> FastAPI:
    """Build the app: /healthz, /health and /metrics, then each REST-capable module's router.

    The platform routes come first because FastAPI tries routes in order, through every
    included router: a liveness probe then costs one route match, not one per module route.

    Routers are taken once, here; a module must therefore be able to hand out its router before
    or after ``init`` (its handlers read the module's state when a request arrives). Every
    request passes the request guard first (``_limits``): the admin token of routes that declare
    ``Security(ADMIN_BEARER)`` is checked before their body is read, and bodies are limited to
    ``server.max_body_bytes`` or the route's :class:`BodyLimit`. With ``allowed_hosts`` (what
    ``plugway serve`` passes: ``server.allowed_hosts`` or the local names), a request for any
    other ``Host`` is answered 421 before anything else (``_hosts``).
    """
    from plugway import __version__

    app = FastAPI(title=title, version=__version__, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    install_problem_handlers(app)
    server = runtime.settings.server
    access = AdminAccess(
        server.admin_token,
        server.allow_unauthenticated_writes,
        host_token=server.host_token,
        launches=host_credentials(runtime.hub),
    )
    setattr(app.state, ADMIN_ACCESS_STATE, access)
    install_request_guard(
        app,
        access=access,
        max_body_bytes=server.max_body_bytes,
        body_timeout=server.body_timeout,
    )
    if allowed_hosts is not None:
        app.add_middleware(HostGuard, hosts=allowed_hosts)  # added last: runs first
    _install_docs(app, title)
    install_openapi(app, host_checked=allowed_hosts is not None)

    @app.get(
        "/healthz",
        tags=["platform"],
        summary="Liveness: the process answers HTTP",
        response_model=Liveness,
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/health",
        tags=["platform"],
        summary="Readiness: registry state and the lifecycle phase of every module",
        response_model=HealthReport,
        responses={
            503: {
                "description": "`unavailable`: not every module is started, or the registry "
                "is not ready",
                "model": HealthReport,
            }
        },
    )
    async def health() -> JSONResponse:
        status, body = _health(runtime)
        return JSONResponse(body, status_code=status)

    @app.get(
        "/metrics",
        tags=["platform"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
    )
    async def metrics() -> PlainTextResponse:
        return metrics_response(runtime, text_source=MetricsSource)

    modules: Mapping[str, Any] = runtime.modules
    for name, module in modules.items():
        if isinstance(module, RestCapable):
            _log.debug("mounting REST routes of module %s", name)
            app.include_router(module.rest_router())

    return app
