"""RFC 9457 problem documents: every error the HTTP face returns has this one shape.

Clients branch on the stable ``code`` member (never on ``title`` or ``detail``, which are prose),
and a request that failed validation lists each offending field by its path in ``errors``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from plugway.modkit import field_path
from plugway.registry import RegistryError

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "PROBLEM_TYPE_PREFIX",
    "FieldProblem",
    "Problem",
    "ProblemCode",
    "ProblemDocument",
    "ProblemError",
    "ProblemField",
    "ServerError",
    "install_problem_handlers",
    "problem_from_registry_error",
    "problem_response",
    "problem_responses",
    "registry_status",
    "status_title",
]

_log = logging.getLogger("plugway.server")

PROBLEM_CONTENT_TYPE = "application/problem+json"
# ``type`` is a URI that names the problem kind; a URN keeps it stable without promising a web page.
PROBLEM_TYPE_PREFIX = "urn:plugway:problem:"

_STATUS_TITLES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    421: "Misdirected Request",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ProblemCode(StrEnum):
    """The stable codes the server and the shipped modules use; modules may add their own."""

    REQUEST_INVALID = "request.invalid"
    REQUEST_TOO_LARGE = "request.too_large"
    REQUEST_MALFORMED = "request.malformed"
    REQUEST_HEADERS_TOO_LARGE = "request.headers_too_large"
    REQUEST_TIMEOUT = "request.timeout"
    REQUEST_HOST_NOT_ALLOWED = "request.host_not_allowed"
    SERVER_BUSY = "server.busy"
    HTTP_NOT_FOUND = "http.not_found"
    HTTP_METHOD_NOT_ALLOWED = "http.method_not_allowed"
    AUTH_UNAUTHORIZED = "auth.unauthorized"
    AUTH_NO_ADMIN_TOKEN = "auth.no_admin_token"
    AUTH_FORBIDDEN = "auth.forbidden"
    INTERNAL = "internal"
    REGISTRY_NOT_READY = "registry.not_ready"
    REGISTRY_CONFLICT = "registry.conflict"
    REGISTRY_IN_USE = "registry.in_use"
    REGISTRY_NOT_FOUND = "registry.not_found"
    REGISTRY_INVALID_QUERY = "registry.invalid_query"
    REGISTRY_INVALID_ID = "registry.invalid_id"
    REGISTRY_INVALID_CONTENT = "registry.invalid_content"
    REGISTRY_VALIDATION_FAILED = "registry.validation_failed"
    REGISTRY_INTERNAL = "registry.internal"
    REGISTRY_STORAGE_UNAVAILABLE = "registry.storage_unavailable"


# The registry layer's own codes (``RegistryError.code``) and what each becomes over HTTP.
_REGISTRY_CODES: dict[str, tuple[int, ProblemCode]] = {
    "TYPES_REGISTRY_INVALID_GTS_ID": (400, ProblemCode.REGISTRY_INVALID_ID),
    "TYPES_REGISTRY_INVALID_CONTENT": (400, ProblemCode.REGISTRY_INVALID_CONTENT),
    "TYPES_REGISTRY_INVALID_QUERY": (400, ProblemCode.REGISTRY_INVALID_QUERY),
    "TYPES_REGISTRY_NOT_FOUND": (404, ProblemCode.REGISTRY_NOT_FOUND),
    "TYPES_REGISTRY_ALREADY_EXISTS": (409, ProblemCode.REGISTRY_CONFLICT),
    "TYPES_REGISTRY_IN_USE": (409, ProblemCode.REGISTRY_IN_USE),
    "TYPES_REGISTRY_VALIDATION_FAILED": (422, ProblemCode.REGISTRY_VALIDATION_FAILED),
    "TYPES_REGISTRY_NOT_READY": (503, ProblemCode.REGISTRY_NOT_READY),
    "TYPES_REGISTRY_INTERNAL": (500, ProblemCode.REGISTRY_INTERNAL),
    # the disk or the database is unavailable: nothing was written, a retry may succeed
    "TYPES_REGISTRY_STORAGE_UNAVAILABLE": (503, ProblemCode.REGISTRY_STORAGE_UNAVAILABLE),
}


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One offending input field: ``field`` is a path such as ``query.limit`` or ``body[3].id``."""

    field: str
    message: str
    code: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "code": self.code}


class ProblemField(BaseModel):
    """One offending input field of a problem document (the JSON form of FieldProblem)."""

    field: str = Field(description="where, e.g. `query.limit`, `body[3].id`, `path.gts_id`")
    message: str
    code: str


class Problem(BaseModel):
    """The JSON shape of every error (RFC 9457), served as ``application/problem+json``.

    Clients branch on ``code``. A problem may carry extension members of its kind (e.g. the
    ``gateway``, ``plugin`` and ``attempts`` of a failed gateway call), hence ``extra="allow"``.
    """

    model_config = ConfigDict(extra="allow")

    type: str = Field(description=f"a URN naming the kind: `{PROBLEM_TYPE_PREFIX}<code>`")
    title: str = Field(description="the HTTP status phrase")
    status: int = Field(ge=100, le=599)
    detail: str = Field(description="what happened, in prose")
    code: str = Field(description="the stable code clients branch on, e.g. `request.invalid`")
    instance: str | None = Field(default=None, description="the request path")
    errors: list[ProblemField] | None = Field(
        default=None, description="each offending field, when the input was refused"
    )


ProblemDocument = Problem
"""The former name of :class:`Problem`."""


def problem_responses(*statuses: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries saying that ``statuses`` answer with a problem document;
    give ``(status, "why")`` to say when, e.g. ``(404, "`registry.not_found`: no such id")``.

    On an app made by ``create_app`` the statuses the server itself adds to every route (a bad
    parameter, a missing token, a body too large, ...) are declared already (``_openapi``):
    list here only what the route's own code raises.
    """
    out: dict[int | str, dict[str, Any]] = {}
    for entry in statuses:
        status, why = entry if isinstance(entry, tuple) else (entry, None)
        title = _STATUS_TITLES.get(status, "Error")
        out[status] = {
            "description": f"{title}: {why}" if why else f"{title} (problem document)",
            "model": Problem,
            "content": {PROBLEM_CONTENT_TYPE: {}},
        }
    return out


def status_title(status: int) -> str:
    """The title problem documents give ``status`` ("Error" for one without a known phrase)."""
    return _STATUS_TITLES.get(status, "Error")


class ServerError(Exception):
    """Base of every error the server layer raises."""


class ProblemError(ServerError):
    """Raise from a route to answer with a problem document instead of a result."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        errors: Sequence[FieldProblem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.status = status
        self.code = str(code)
        self.detail = detail
        self.title = title or _STATUS_TITLES.get(status, "Error")
        self.errors = tuple(errors)
        self.headers = dict(headers or {})

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": PROBLEM_TYPE_PREFIX + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance is not None:
            doc["instance"] = instance
        if self.errors:
            doc["errors"] = [e.to_dict() for e in self.errors]
        return doc


def registry_status(registry_code: str) -> tuple[int, ProblemCode]:
    """HTTP status and stable problem code for a registry error code (500 for unknown ones)."""
    return _REGISTRY_CODES.get(registry_code, (500, ProblemCode.REGISTRY_INTERNAL))


def problem_from_registry_error(exc: RegistryError) -> ProblemError:
    """The problem document for a registry error; validation problems become ``errors``."""
    status, code = registry_status(exc.code)
    errors = [
        FieldProblem(field=p.gts_id, message=p.message, code=str(code))
        for p in getattr(exc, "problems", ())
    ]
    headers = {"Retry-After": "1"} if status == 503 else None
    detail = str(exc)
    if status >= 500 and status != 503:
        # Storage failures name files and driver internals: log them, tell the client less.
        _log.error("registry failure: %s", exc, exc_info=exc)
        detail = "the types registry failed to complete the operation"
    return ProblemError(status, code, detail, errors=errors, headers=headers)


class _ProblemJSON(JSONResponse):
    """JSON that renders any ``str``: a detail quoting client input may hold a lone surrogate
    (``"\\ud800"`` in a JSON body), which has no UTF-8 form; it is then sent as an escape."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


def problem_response(problem: ProblemError, instance: str | None = None) -> JSONResponse:
    """Render ``problem`` with the RFC 9457 media type and its headers (e.g. ``Retry-After``)."""
    return _ProblemJSON(
        problem.to_dict(instance),
        status_code=problem.status,
        headers=problem.headers or None,
        media_type=PROBLEM_CONTENT_TYPE,
    )


def _instance(request: Request) -> str:
    return request.url.path


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(exc, _instance(request))


def _field_problem(err: Mapping[str, Any]) -> FieldProblem:
    loc = tuple(err.get("loc", ()))
    code = str(err.get("type", "invalid"))
    message = str(err.get("msg", "invalid value"))
    if code == "json_invalid" and len(loc) == 2 and isinstance(loc[1], int):
        # FastAPI puts the character offset where an item index would be (``body[2]``): name
        # the body itself and say where the JSON breaks instead.
        reason = (err.get("ctx") or {}).get("error")
        where = f"at character {loc[1]}" + (f": {reason}" if reason else "")
        return FieldProblem(field=str(loc[0]), message=f"{message} {where}", code=code)
    return FieldProblem(field=field_path(loc), message=message, code=code)


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_problem(err) for err in exc.errors()]
    fields = ", ".join(e.field for e in errors) or "request"
    problem = ProblemError(
        400, ProblemCode.REQUEST_INVALID, f"invalid request: {fields}", errors=errors
    )
    return problem_response(problem, _instance(request))


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        code = str(ProblemCode.HTTP_NOT_FOUND)
        detail = f"no route for {request.method} {request.url.path}"
    elif exc.status_code == 405:
        code = str(ProblemCode.HTTP_METHOD_NOT_ALLOWED)
        detail = f"method {request.method} not allowed on {request.url.path}"
    elif exc.status_code == 400:
        # FastAPI's own refusal of a body it cannot parse (e.g. JSON nested beyond the
        # interpreter's recursion limit): the same stable code as any other bad request.
        code = str(ProblemCode.REQUEST_INVALID)
        detail = str(exc.detail)
    elif exc.status_code == 413:
        code = str(ProblemCode.REQUEST_TOO_LARGE)
        detail = str(exc.detail)
    else:
        code = f"http.{exc.status_code}"
        detail = str(exc.detail)
    problem = ProblemError(exc.status_code, code, detail, headers=exc.headers)
    return problem_response(problem, _instance(request))


async def _on_registry(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegistryError)
    return problem_response(problem_from_registry_error(exc), _instance(request))


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log, never to the client.
    _log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    problem = ProblemError(500, ProblemCode.INTERNAL, "internal server error")
    return problem_response(problem, _instance(request))


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error ``app`` returns a problem document, including FastAPI's own."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RegistryError, _on_registry)
    app.add_exception_handler(Exception, _on_unexpected)
