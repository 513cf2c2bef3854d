"""Shared by the module-level plugins tests: a real Runtime (SQLite registry and revision store in
a temp folder) and the real ASGI app over httpx's ASGI transport.

The plugin catalog is built from plugway's own entry points only (plus what a test adds), so
that a plugin package installed in the environment (the example ranker, say) changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import httpx

from plugway.modkit import ClientHub, Module, Runtime, parse_settings
from plugway.modules.doc_search import DOC_SEARCH_CONTRACT, DocSearchModule
from plugway.modules.plugins_admin import PluginsAdminModule
from plugway.modules.plugins_runtime import PluginsRuntimeModule
from plugway.modules.tenant_resolver import TENANT_RESOLVER_CONTRACT, TenantResolverModule
from plugway.plugins import PLUGINS_GROUP
from plugway.plugins._discovery import PluginCatalog
from plugway.server import create_app

TOKEN = "unit-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DS = DOC_SEARCH_CONTRACT.type_id
TR = TENANT_RESOLVER_CONTRACT.type_id
BM25 = DS + "plugway.builtin.bm25_ranker.plugin.v1"
TFIDF = DS + "plugway.builtin.tfidf_ranker.plugin.v1"
COVERAGE = DS + "example.ranker.coverage_ranker.plugin.v1"
STATIC = TR + "plugway.builtin.static_tenant_resolver.plugin.v1"
SINGLE = TR + "plugway.builtin.single_tenant_resolver.plugin.v1"

MODULES: tuple[type[Module], ...] = (
    PluginsRuntimeModule,
    PluginsAdminModule,
    DocSearchModule,
    TenantResolverModule,
)


def installed(*distributions: str) -> Callable[[], list[EntryPoint]]:
    """The plugin entry points of plugway and of ``distributions`` (read at each call, so a
    rescan sees a distribution installed or removed meanwhile)."""
    wanted = {"plugway", *distributions}

    def source() -> list[EntryPoint]:
        return [
            ep
            for ep in entry_points(group=PLUGINS_GROUP)
            if ep.dist is not None and ep.dist.name in wanted
        ]

    return source


def catalog_of(
    source: Callable[[], Iterable[EntryPoint]] | None = None, extra: Sequence[EntryPoint] = ()
) -> PluginCatalog:
    """A catalog of plugway's plugins (or ``source``'s), plus ``extra`` entry points."""
    base = source or installed()
    return PluginCatalog.scan(lambda: [*base(), *extra])


@asynccontextmanager
async def running(
    data_dir: Any,
    plugins: Mapping[str, Any] | None = None,
    *,
    catalog: PluginCatalog | None = None,
    modules: Sequence[type[Module]] = MODULES,
    settings: Mapping[str, Any] | None = None,
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """Start ``modules`` over ``data_dir`` with the ``plugins`` section; stop them after."""
    config = {
        "data_dir": str(data_dir),
        "server": {"admin_token": TOKEN},
        "plugins": dict(plugins or {}),
        **dict(settings or {}),
    }
    hub = ClientHub()
    hub.register(PluginCatalog, catalog if catalog is not None else catalog_of())
    runtime = Runtime(parse_settings(config), modules, hub=hub)
    await runtime.start()
    try:
        app = create_app(runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plugway") as http:
            yield runtime, http
    finally:
        await runtime.stop()


def module_of(runtime: Runtime, name: str) -> Any:
    return runtime.modules[name]
