"""plugway.server: the ASGI app of a runtime, problem documents, health, metrics and `serve`."""

from __future__ import annotations

from plugway.server._app import (
    ADMIN_BEARER,
    METRICS_CONTENT_TYPE,
    HealthSource,
    MetricsSource,
    bearer_guard,
    create_app,
)
from plugway.server._auth import AdminAccess
from plugway.server._gateway_http import (
    gateway_call_router,
    gateway_context,
    install_plugin_error_handler,
    problem_from_plugin_error,
)
from plugway.server._gts_conformance import create_gts_app
from plugway.server._limits import BodyLimit
from plugway.server._problems import (
    PROBLEM_CONTENT_TYPE,
    PROBLEM_TYPE_PREFIX,
    FieldProblem,
    Problem,
    ProblemCode,
    ProblemDocument,
    ProblemError,
    ProblemField,
    ServerError,
    field_path,
    install_problem_handlers,
    problem_from_registry_error,
    problem_response,
    problem_responses,
    registry_status,
)
from plugway.server._serve import (
    ADMIN_TOKEN_FILE,
    DATA_DIR_ENV,
    ServeError,
    load_or_create_token,
    resolve_settings,
    run_server,
    serve,
)

__all__ = [
    "ADMIN_BEARER",
    "ADMIN_TOKEN_FILE",
    "DATA_DIR_ENV",
    "METRICS_CONTENT_TYPE",
    "PROBLEM_CONTENT_TYPE",
    "PROBLEM_TYPE_PREFIX",
    "AdminAccess",
    "BodyLimit",
    "FieldProblem",
    "HealthSource",
    "MetricsSource",
    "Problem",
    "ProblemCode",
    "ProblemDocument",
    "ProblemError",
    "ProblemField",
    "ServeError",
    "ServerError",
    "bearer_guard",
    "create_app",
    "create_gts_app",
    "field_path",
    "gateway_call_router",
    "gateway_context",
    "install_plugin_error_handler",
    "install_problem_handlers",
    "load_or_create_token",
    "problem_from_plugin_error",
    "problem_from_registry_error",
    "problem_response",
    "problem_responses",
    "registry_status",
    "resolve_settings",
    "run_server",
    "serve",
]
