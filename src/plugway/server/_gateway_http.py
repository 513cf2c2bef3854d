"""The HTTP face of gateways: the caller's context from headers, plugin errors as problems, and
the generic call route.

* :func:`gateway_context` is the FastAPI dependency of every route that calls a gateway. It
  reads the :class:`SecurityContext` from ``X-Tenant-Id``, ``X-Subject-Id`` and one
  ``X-Attr-<name>`` header per request attribute (declared in OpenAPI, so ``/docs`` can try
  routing), and turns a plugin error raised by the route into its problem document.
* :func:`problem_from_plugin_error` is that mapping (503 ``gateway.call_failed`` naming the
  gateway, the plugin and each attempt; 503 ``gateway.no_plugin``; 422 ``plugins.routing_invalid``
  with field paths; ...); :func:`install_plugin_error_handler` registers it on an app as well.
* :func:`gateway_call_router` builds ``POST /plugins/v1/gateways/{name}/call/{method}``: one
  route per gateway method, its body validated against the method's annotations and its answer
  serialised from the return annotation, so each has its own schema in OpenAPI.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any, get_type_hints

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, TypeAdapter, create_model

from plugway.plugins import (
    GatewayCallError,
    GatewayManager,
    GatewayModule,
    NoPluginAvailableError,
    PluginError,
    SecurityContext,
)
from plugway.plugins.errors import (
    InvalidContextError,
    RevisionNotFoundError,
    RoutingConfigError,
    UnknownPluginError,
)
from plugway.server._problems import (
    PROBLEM_CONTENT_TYPE,
    FieldProblem,
    Problem,
    ProblemCode,
    ProblemError,
    problem_response,
    problem_responses,
)

__all__ = [
    "ATTRIBUTE_HEADER_PREFIX",
    "SUBJECT_HEADER",
    "TENANT_HEADER",
    "GatewayProblem",
    "gateway_call_router",
    "gateway_context",
    "install_plugin_error_handler",
    "problem_from_plugin_error",
]

_log = logging.getLogger("plugway.server.gateways")

TENANT_HEADER = "X-Tenant-Id"
SUBJECT_HEADER = "X-Subject-Id"
ATTRIBUTE_HEADER_PREFIX = "X-Attr-"
_ATTR = ATTRIBUTE_HEADER_PREFIX.lower()
_CALL_PREFIX = "/plugins/v1"


# -- plugin errors as problem documents ------------------------------------------------------------


class _GatewayProblem(ProblemError):
    """A problem document that also names the gateway and plugin that failed, and each try."""

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


class AttemptProblem(BaseModel):
    plugin: str
    error: str


class GatewayProblem(Problem):
    """A problem of a gateway call: also which gateway and plugin failed, and each try (absent
    from problems that are no call's, such as ``plugins.not_ready``)."""

    gateway: str | None = None
    plugin: str | None = None
    attempts: list[AttemptProblem] | None = None


def _gateway_problem(why: str) -> dict[str, Any]:
    return {
        "description": why,
        "model": GatewayProblem,
        "content": {PROBLEM_CONTENT_TYPE: {}},
    }


def problem_from_plugin_error(exc: PluginError) -> ProblemError:
    """The RFC 9457 problem for a plugins-layer error (which gateway, plugin or field failed)."""
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
    if isinstance(exc, UnknownPluginError):
        return ProblemError(404, "plugins.plugin_not_found", str(exc))
    if isinstance(exc, InvalidContextError):
        return ProblemError(400, ProblemCode.REQUEST_INVALID, str(exc))
    return ProblemError(500, "plugins.error", str(exc))


async def _on_plugin_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PluginError)
    return problem_response(problem_from_plugin_error(exc), request.url.path)


def install_plugin_error_handler(app: FastAPI) -> None:
    """Answer every plugin error that reaches ``app`` with its problem document (for routes
    that call gateways without :func:`gateway_context`)."""
    app.add_exception_handler(PluginError, _on_plugin_error)


# -- the caller's context --------------------------------------------------------------------------


async def gateway_context(
    request: Request,
    # named unlike any path parameter (``tenant_id`` is one in tenant_resolver's routes)
    header_tenant_id: Annotated[
        str,
        Header(
            alias=TENANT_HEADER,
            description="The caller's tenant (routing matches, splits and rolls out on it). "
            "Request attributes for routing rules come in one `X-Attr-<name>` header each, "
            "e.g. `X-Attr-Region: eu`; names are case-insensitive (read lower-cased).",
        ),
    ] = "",
    header_subject_id: Annotated[
        str,
        Header(alias=SUBJECT_HEADER, description="The calling user or service (sticky splits)."),
    ] = "",
) -> AsyncIterator[SecurityContext]:
    """The SecurityContext of a gateway call made over HTTP; plugin errors raised while the
    route runs become problem documents (so a route needs no ``try`` of its own). An ``async``
    generator: FastAPI runs a plain one in its thread pool, two thread hops per request."""
    attributes = {
        key[len(_ATTR) :]: value
        for key, value in request.headers.items()  # names arrive lower-cased
        if key.startswith(_ATTR) and len(key) > len(_ATTR)
    }
    try:
        ctx = SecurityContext(header_tenant_id, header_subject_id, attributes)
    except InvalidContextError as exc:
        raise problem_from_plugin_error(exc) from None
    try:
        yield ctx
    except PluginError as exc:
        raise problem_from_plugin_error(exc) from None


# -- the generic call route ------------------------------------------------------------------------


class AttemptDocument(BaseModel):
    """One try of a call: the plugin, and why it failed (null: it served)."""

    plugin: str
    error: str | None = None


class CallOutcomeDocument(BaseModel):
    """What served a call: the plugin, the rule (label and index), the routing revision, and
    every try (fallbacks included)."""

    plugin: str
    rule: str
    rule_index: int | None
    revision: int
    attempts: list[AttemptDocument]


def _camel(*parts: str) -> str:
    return "".join(word.capitalize() for part in parts for word in part.split("_") if word)


class _Method:
    """One contract method as the call route sees it: argument model, result type."""

    def __init__(self, module: GatewayModule, method: str) -> None:
        contract = module.contract
        hints = get_type_hints(getattr(contract.protocol, method))
        params = list(contract.methods[method].signature.parameters.values())[1:]  # after ctx
        fields: dict[str, Any] = {}
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"*{p.name}: variadic parameters have no JSON form")
            default = ... if p.default is p.empty else p.default
            fields[p.name] = (hints.get(p.name, Any), default)
        name = _camel(module.gateway_name, method)
        self.names = tuple(fields)
        self.arguments: type[BaseModel] = create_model(
            f"{name}Arguments",
            __config__=ConfigDict(extra="forbid"),
            __doc__=f"The arguments of {module.gateway_name}.{method} (after the context).",
            **fields,
        )
        self.optional = all(default is not ... for _, default in fields.values())
        self.returns: TypeAdapter[Any] = TypeAdapter(hints.get("return", Any))
        self.answer: type[BaseModel] = create_model(
            f"{name}Answer",
            __doc__=f"The result of {module.gateway_name}.{method}, and what served it.",
            result=(hints.get("return", Any), ...),
            outcome=(CallOutcomeDocument, ...),
        )


def _call_route(router: APIRouter, module: GatewayModule, method: str) -> None:
    try:
        shape = _Method(module, method)
    except (TypeError, NameError) as exc:
        _log.warning(
            "gateway %s: method %s has no HTTP call route: %s", module.gateway_name, method, exc
        )
        return
    gateway_name = module.gateway_name

    async def call(arguments: BaseModel | None, ctx: SecurityContext) -> Response:
        if not module.ready:
            raise ProblemError(
                503,
                "plugins.not_ready",
                f"gateway {gateway_name!r} is not started yet",
                headers={"Retry-After": "1"},
            )
        given = shape.arguments() if arguments is None else arguments
        args = [getattr(given, n) for n in shape.names]
        try:
            outcome = await module.gateway.call_with_outcome(method, ctx, *args)
        except module.gateway.passthrough as exc:  # the contract's own answer, e.g. "not found"
            raise _GatewayProblem(
                422,
                "gateway.contract_error",
                f"{gateway_name}.{method} answered {type(exc).__name__}: {exc}",
                gateway=gateway_name,
                plugin=None,
            ) from None
        result = shape.returns.dump_python(outcome.result, mode="json")
        return JSONResponse({"result": result, "outcome": outcome.to_dict()})

    body = Body(default=None) if shape.optional else Body()
    call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "arguments",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=shape.arguments | None if shape.optional else shape.arguments,
                default=body,
            ),
            inspect.Parameter(
                "ctx",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=SecurityContext,
                default=Depends(gateway_context),
            ),
        ]
    )
    doc = inspect.getdoc(getattr(module.contract.protocol, method)) or ""
    router.add_api_route(
        f"/gateways/{gateway_name}/call/{method}",
        call,
        methods=["POST"],
        response_model=shape.answer,
        summary=f"Call {gateway_name}.{method}, routed like any call",
        description=(doc + "\n\n" if doc else "")
        + "The body holds the method's arguments after the context; the context comes from the "
        "headers. The answer carries the result and what served it.",
        responses={
            **problem_responses(
                (400, "`request.invalid`: a context header is no text routing can read")
            ),
            422: _gateway_problem(
                "Unprocessable Content: `gateway.contract_error`: the method refused the "
                "arguments with an error of its contract (e.g. not found), named in `detail`",
            ),
            503: _gateway_problem(
                "Service Unavailable: `gateway.call_failed` (every plugin tried failed: "
                "`attempts`), `gateway.no_plugin` or `plugins.not_ready` (Retry-After)",
            ),
        },
        operation_id=f"call_{gateway_name}_{method}",
    )


def gateway_call_router(manager: GatewayManager | None) -> APIRouter:
    """``POST /plugins/v1/gateways/{name}/call/{method}`` for every method of every gateway in
    ``manager`` (built when the app is, so each route has the schema of its method); any other
    name or method is a 404 problem saying which is unknown. No admin token: it is a call."""
    router = APIRouter(prefix=_CALL_PREFIX, tags=["gateway calls"])
    gateways = () if manager is None else manager.gateways()
    for module in gateways:
        for method in module.contract.methods:
            _call_route(router, module, method)

    @router.post("/gateways/{name}/call/{method}", include_in_schema=False)
    async def unknown(name: str, method: str) -> None:
        found = None if manager is None else manager.get(name)
        if found is None:
            raise ProblemError(404, "plugins.gateway_not_found", f"no gateway named {name!r}")
        raise ProblemError(
            404,
            "plugins.method_not_found",
            f"gateway {name!r} (contract {found.contract.name!r}) has no method {method!r}",
        )

    return router
