"""Every dependency of every route the shipped modules serve is async.

FastAPI runs a plain ``def`` dependency (or a plain generator) in its thread pool: two thread
hops for a generator, one for a function, on each request of each route that uses it. The
checks plugway's dependencies make (a bearer token, the caller's context headers) take
microseconds, so those hops were most of their cost (the gateway context had made a local
search ~30 % dearer in server CPU). Endpoints may be plain functions on purpose (the admin
routes that compile routing run off the loop); dependencies may not.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

from plugway.modkit import Runtime, parse_settings
from plugway.modules.doc_search import DocSearchModule
from plugway.modules.plugins_admin import PluginsAdminModule
from plugway.modules.plugins_runtime import PluginsRuntimeModule
from plugway.modules.tenant_resolver import TenantResolverModule
from plugway.modules.types_registry import TypesRegistryModule
from plugway.server import create_app, gateway_context

SHIPPED = [
    TypesRegistryModule,
    PluginsRuntimeModule,
    PluginsAdminModule,
    TenantResolverModule,
    DocSearchModule,
]


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """The APIRoutes of an app, through the routers it includes."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI's wrapper of an included router
            yield from _api_routes(route.original_router.routes)


def _is_async(call: Callable[..., Any]) -> bool:
    """A coroutine or async generator function, or an object whose ``__call__`` is one."""
    checks = (inspect.iscoroutinefunction, inspect.isasyncgenfunction)
    method = None if inspect.isroutine(call) else type(call).__call__
    return any(check(c) for check in checks for c in (call, method) if c is not None)


def _sync_dependencies(route: APIRoute) -> list[str]:
    found: list[str] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dependant = stack.pop()
        if dependant.call is not None and not _is_async(dependant.call):
            found.append(getattr(dependant.call, "__qualname__", repr(dependant.call)))
        stack.extend(dependant.dependencies)
    return found


def test_no_route_dependency_runs_in_the_thread_pool(tmp_path: Path) -> None:
    settings = parse_settings(
        {
            "registry": {"backend": "memory"},
            "data_dir": str(tmp_path),
            "server": {"admin_token": "route-dependencies-" + "x" * 24},
            "plugins": {"watch": False},
        }
    )
    app = create_app(Runtime(settings, SHIPPED))
    routes = list(_api_routes(app.routes))
    paths = {route.path for route in routes}
    # the walk reached the modules' routes, those with the dependencies at stake among them
    assert {"/doc-search/v1/search", "/types-registry/v1/entities"} <= paths
    assert any(d.call is gateway_context for r in routes for d in r.dependant.dependencies)
    sync = {f"{sorted(r.methods)} {r.path}": s for r in routes if (s := _sync_dependencies(r))}
    assert sync == {}


def test_the_check_tells_a_plain_function_from_an_async_one() -> None:
    def plain() -> None: ...

    async def coroutine() -> None: ...

    class Guard:
        async def __call__(self) -> None: ...

    assert [_is_async(f) for f in (plain, coroutine, Guard())] == [False, True, True]
