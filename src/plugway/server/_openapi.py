"""OpenAPI that declares what the server really answers.

FastAPI documents a ``422 HTTPValidationError`` on every route with a parameter or a body, which
plugway never sends (a refused request is a ``400`` problem document, ``_problems``), and it
cannot know what is answered in front of the routes: the admin token (``_auth``: 401, 403), the
body limit and timeout (``_limits``: 413, 408), the Host check (``_hosts``: 421), the protocol's
limits (``_protocol``: 408, 431, 503) and the last resort (500).

:func:`install_openapi` makes ``app.openapi()`` FastAPI's own document, rewritten once by
:func:`declare_real_responses` from what each operation already declares, so the routes of every
module are covered without code of their own:

- FastAPI's default 422 goes (a 422 that a route declares itself stays);
- a problem response a route declares (``problem_responses``) is ``application/problem+json``
  with the :class:`Problem` schema (or the model the route gave), and that media type only;
- each operation gets the problem responses of the layers in front of it, read from its own
  declaration: every operation 408, 431, 500 and 503 (and 421 where the app checks the Host);
  one with a parameter or a body 400; one with a body 413; one that declares the admin token
  (``Security(ADMIN_BEARER)``, i.e. ``security: admin_token``) 401 and 403. Where the route
  declares the same status (a 503 of its own, say), both reasons are said and, if its answer is
  no problem document (``/health``'s 503), both media types are listed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from plugway.server._auth import ADMIN_BEARER
from plugway.server._problems import PROBLEM_CONTENT_TYPE, Problem, status_title

__all__ = ["PROBLEM_SCHEMA_REF", "declare_real_responses", "install_openapi"]

PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"
_VALIDATION_REF = "#/components/schemas/HTTPValidationError"
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

# What the layers in front of the routes answer, by status: the stable code and why.
_EVERY_OPERATION: dict[int, str] = {
    408: "`request.timeout`: the request's head (server.header_timeout) or its body "
    "(server.body_timeout) stopped arriving",
    431: "`request.headers_too_large`: the request's head is larger than server.max_header_bytes",
    500: "`internal`: an unexpected failure (in the log; never its details)",
    503: "`server.busy`: more connections or requests at once than server.max_connections",
}
_HOST_CHECKED: dict[int, str] = {
    421: "`request.host_not_allowed`: the Host is not one of server.allowed_hosts",
}
_WITH_INPUT: dict[int, str] = {
    400: "`request.invalid`: a parameter or the body is not what this operation takes; "
    "`errors` names each field",
}
_WITH_BODY: dict[int, str] = {
    413: "`request.too_large`: the body is larger than this operation accepts",
}
_WITH_TOKEN: dict[int, str] = {
    401: "`auth.unauthorized`: the admin bearer token is missing or wrong",
    403: "`auth.no_admin_token`: no admin token is configured, so the server refuses changes "
    "(server.allow_unauthenticated_writes opens them)",
}


def _problem_content(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"schema": schema if schema is not None else {"$ref": PROBLEM_SCHEMA_REF}}


def _is_default_422(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return isinstance(schema, dict) and schema.get("$ref") == _VALIDATION_REF


def _normalise_problems(responses: dict[str, Any]) -> None:
    """A declared problem response answers ``application/problem+json`` only, with a schema.

    FastAPI puts the ``model`` of an extra response under the route's own media type
    (``application/json``) and leaves the declared ``application/problem+json`` empty.
    """
    for response in responses.values():
        content = response.get("content")
        if not isinstance(content, dict) or PROBLEM_CONTENT_TYPE not in content:
            continue
        if "schema" in content[PROBLEM_CONTENT_TYPE]:
            continue
        moved = content.pop("application/json", {}).get("schema")
        content[PROBLEM_CONTENT_TYPE] = _problem_content(moved or None)


def _add_problem(responses: dict[str, Any], status: int, why: str) -> None:
    key = str(status)
    existing = responses.get(key)
    if existing is None:
        responses[key] = {
            "description": f"{status_title(status)}: {why}",
            "content": {PROBLEM_CONTENT_TYPE: _problem_content()},
        }
        return
    description = str(existing.get("description", ""))
    if description in ("", status_title(status), f"{status_title(status)} (problem document)"):
        existing["description"] = f"{status_title(status)}: {why}"
    elif why not in description:
        existing["description"] = f"{description}; or {why}"
    existing.setdefault("content", {}).setdefault(PROBLEM_CONTENT_TYPE, _problem_content())


def _server_problems(operation: dict[str, Any], host_checked: bool) -> dict[int, str]:
    body = "requestBody" in operation
    has_input = body or bool(operation.get("parameters"))
    guarded = any(ADMIN_BEARER.scheme_name in req for req in operation.get("security", ()))
    out = dict(_EVERY_OPERATION)
    if host_checked:
        out.update(_HOST_CHECKED)
    if has_input:
        out.update(_WITH_INPUT)
    if body:
        out.update(_WITH_BODY)
    if guarded:
        out.update(_WITH_TOKEN)
    return out


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs: dict[str, Any] = schema.pop("$defs", {})
    return {**defs, "Problem": schema}


def declare_real_responses(document: dict[str, Any], *, host_checked: bool) -> dict[str, Any]:
    """Rewrite FastAPI's OpenAPI ``document`` in place (and return it) as the module says."""
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if "422" in responses and _is_default_422(responses["422"]):
                del responses["422"]
            _normalise_problems(responses)
            for status, why in sorted(_server_problems(operation, host_checked).items()):
                _add_problem(responses, status, why)
            operation["responses"] = dict(sorted(responses.items()))
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_problem_schemas())
    text = json.dumps(document.get("paths", {}))
    if _VALIDATION_REF not in text:
        schemas.pop("HTTPValidationError", None)
        if "#/components/schemas/ValidationError" not in json.dumps(schemas):
            schemas.pop("ValidationError", None)
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return document


def install_openapi(app: FastAPI, *, host_checked: bool = False) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json`` and ``/docs``) FastAPI's document
    rewritten by :func:`declare_real_responses`, built once, on first use (FastAPI's documented
    way to extend OpenAPI). ``host_checked``: the app answers 421 for a foreign Host."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_real_responses(generate(), host_checked=host_checked)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
