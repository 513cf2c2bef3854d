"""create_app over a real Runtime (memory registry): platform routes, module routes, metrics,
and the registry's 503 while start-up is still in progress."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import swagger_ui_bundle  # type: ignore[import-untyped]
from _server_docs import ORDER_TYPE, type_doc
from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from plugway.modkit import (
    DiscoveryFailure,
    Module,
    ModuleContext,
    Runtime,
    module,
    parse_settings,
)
from plugway.modules.types_registry import TypesRegistryModule
from plugway.server import MetricsSource, create_app

GATE: asyncio.Event | None = None
ENTERED: asyncio.Event | None = None


@module(name="zz_slow", deps=("types_registry",))
class SlowModule(Module):
    """Blocks in init until the test opens the gate: start-up observable from outside."""

    async def init(self, ctx: ModuleContext) -> None:
        assert GATE is not None and ENTERED is not None
        ENTERED.set()
        await GATE.wait()


class QueueCollector(Collector):
    """A layer-4 style producer: a prometheus_client collector registered in the hub."""

    def __init__(self, queue: str) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("echo_queue_depth", "Depth.", labels=("queue",))
        family.add_metric([self.queue], 2)
        yield family


@module(name="echo")
class EchoModule(Module):
    """A REST-capable module with a metrics source."""

    async def init(self, ctx: ModuleContext) -> None:
        def source() -> str:
            return "# TYPE echo_calls_total counter\necho_calls_total 3\n"

        def broken() -> str:
            raise RuntimeError("exploded")

        ctx.hub.register_scoped(MetricsSource, "gts.x.test.echo.metrics.v1~", source)
        ctx.hub.register_scoped(MetricsSource, "gts.x.test.broken.metrics.v1~", broken)
        ctx.hub.register_scoped(Collector, "gts.x.test.gauges.metrics.v1~", QueueCollector("a"))
        ctx.hub.register(Collector, QueueCollector("b"))

    def rest_router(self) -> APIRouter:
        router = APIRouter(prefix="/echo/v1")

        @router.get("/ping")
        async def ping() -> dict[str, str]:
            return {"pong": "yes"}

        return router


TOKEN = "app-test-token"


def _settings(tmp_path: Path, **server: Any) -> Any:
    return parse_settings(
        {
            "registry": {"backend": "memory"},
            "data_dir": str(tmp_path),
            "server": {"admin_token": TOKEN, **server},
        }
    )


def _client(app: Any, *, auth: bool = True) -> httpx.AsyncClient:
    """A client of ``app``; it sends the admin token unless ``auth`` is False."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {TOKEN}"} if auth else {}
    return httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    runtime = Runtime(_settings(tmp_path), [TypesRegistryModule, EchoModule])
    await runtime.start()
    try:
        async with _client(create_app(runtime)) as c:
            yield runtime, c
    finally:
        await runtime.stop()


async def test_health_lists_every_module_and_its_phase(
    running: tuple[Runtime, httpx.AsyncClient],
) -> None:
    _, c = running
    resp = await c.get("/health")
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "ok",
        "registry": {"ready": True},
        "modules": {"echo": "running", "types_registry": "running"},
    }
    assert (await c.get("/healthz")).json() == {"status": "ok"}


async def test_module_routes_are_mounted_and_documented(
    running: tuple[Runtime, httpx.AsyncClient],
) -> None:
    _, c = running
    assert (await c.get("/echo/v1/ping")).json() == {"pong": "yes"}
    spec = (await c.get("/openapi.json")).json()
    assert "/echo/v1/ping" in spec["paths"]
    assert "/types-registry/v1/entities" in spec["paths"]
    assert "/types-registry/v1/entities/{gts_id}" in spec["paths"]
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"types_registry.list", "types_registry.register", "types_registry.get"} <= ops
    docs = await c.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_docs_page_loads_every_asset_from_the_server_itself(
    running: tuple[Runtime, httpx.AsyncClient],
) -> None:
    """/docs must render without internet access: no CDN URL, every asset served here."""
    _, c = running
    page = (await c.get("/docs")).text
    assert "cdn." not in page and "https://" not in page
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(r.endswith("swagger-ui-bundle.js") for r in refs)
    assert any(r.endswith("swagger-ui.css") for r in refs)
    for ref in refs:
        asset = await c.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 100, ref
    assert "'/openapi.json'" in page
    # Swagger UI 5 or later: earlier versions cannot render an OpenAPI 3.1 document
    assert (await c.get("/openapi.json")).json()["openapi"].startswith("3.1")
    major = re.search(r"swagger-ui-(\d+)\.", str(swagger_ui_bundle.swagger_ui_path))
    assert major is not None and int(major.group(1)) >= 5
    # a second docs page that needs a CDN would be a half-working surface: there is none
    assert (await c.get("/redoc")).status_code == 404


async def test_registry_routes_work_through_the_runtime(
    running: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, c = running
    resp = await c.post("/types-registry/v1/entities", json=[type_doc()])
    assert resp.status_code == 201
    assert runtime.registry.get(ORDER_TYPE).is_type


async def test_metrics_merges_sources_and_survives_a_broken_one(
    running: tuple[Runtime, httpx.AsyncClient],
) -> None:
    _, c = running
    resp = await c.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == CONTENT_TYPE_LATEST
    text = resp.text
    assert "plugway_registry_ready 1.0" in text
    assert 'plugway_module_phase{module="echo",phase="running"} 1.0' in text
    assert "echo_calls_total 3.0" in text  # a text source, parsed and served again
    assert 'plugway_metrics_source_up{source="gts.x.test.broken.metrics.v1~"} 0.0' in text
    assert 'plugway_metrics_source_up{source="gts.x.test.echo.metrics.v1~"} 1.0' in text
    assert 'plugway_metrics_source_up{source="gts.x.test.gauges.metrics.v1~"} 1.0' in text
    assert 'echo_queue_depth{queue="a"} 2.0' in text  # a hub-registered collector
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {"process_cpu_seconds", "python_info", "python_gc_objects_collected"} <= set(families)
    assert len(families["echo_queue_depth"].samples) == 2  # same family from two producers
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert len(types) == len(set(types))


async def test_problem_documents_on_platform_routes(
    running: tuple[Runtime, httpx.AsyncClient],
) -> None:
    _, c = running
    resp = await c.get("/no/such/route")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["code"] == "http.not_found"


async def test_503_while_start_up_is_in_progress(tmp_path: Path) -> None:
    global GATE, ENTERED
    GATE, ENTERED = asyncio.Event(), asyncio.Event()
    runtime = Runtime(_settings(tmp_path), [TypesRegistryModule, SlowModule])
    app = create_app(runtime)  # routes mounted before start: they must cope
    async with _client(app) as c:
        before = await c.get("/types-registry/v1/entities")
        assert before.status_code == 503
        assert before.json()["code"] == "registry.not_ready"
        assert (await c.get("/health")).status_code == 503

        starting = asyncio.create_task(runtime.start())
        await asyncio.wait_for(ENTERED.wait(), timeout=30)
        # types_registry has run init (the registry exists) but it is not ready yet.
        health = await c.get("/health")
        assert health.status_code == 503
        assert health.json()["modules"] == {
            "types_registry": "initialized",
            "zz_slow": "initializing",
        }
        during = await c.get(f"/types-registry/v1/entities/{ORDER_TYPE}")
        assert during.status_code == 503
        assert during.json()["code"] == "registry.not_ready"
        assert during.headers["retry-after"] == "1"
        post = await c.post("/types-registry/v1/entities", json=[type_doc()])
        assert post.status_code == 503

        GATE.set()
        await asyncio.wait_for(starting, timeout=30)
        try:
            after = await c.get("/types-registry/v1/entities")
            assert after.status_code == 200
            assert (await c.get("/health")).status_code == 200
        finally:
            await runtime.stop()
        stopped = await c.get("/health")
        assert stopped.status_code == 503
        assert set(stopped.json()["modules"].values()) == {"stopped"}


async def test_health_reports_modules_that_failed_to_load(tmp_path: Path) -> None:
    failure = DiscoveryFailure("ghost", "ghost_pkg:Ghost", "ghost-dist", "import failed: boom")
    runtime = Runtime(_settings(tmp_path), [TypesRegistryModule], discovery_failures=[failure])
    await runtime.start()
    try:
        async with _client(create_app(runtime)) as c:
            resp = await c.get("/health")
            assert resp.status_code == 200
            body = resp.json()
            assert body["status"] == "degraded"
            assert body["left_out"] == [
                {"entry_point": "ghost", "value": "ghost_pkg:Ghost", "error": "import failed: boom"}
            ]
    finally:
        await runtime.stop()


@pytest.mark.parametrize(
    ("server", "status"),
    [
        ({"admin_token": None}, 403),  # a config file without a token: changes refused
        ({"admin_token": None, "allow_unauthenticated_writes": True}, 201),  # said so
        ({}, 401),  # a token is set and the client has none
        ({"allow_unauthenticated_writes": True}, 401),  # a token always wins
    ],
)
async def test_changes_without_a_token_are_refused_unless_allowed(
    tmp_path: Path, server: dict[str, Any], status: int
) -> None:
    runtime = Runtime(_settings(tmp_path, **server), [TypesRegistryModule])
    await runtime.start()
    try:
        async with _client(create_app(runtime), auth=False) as c:
            resp = await c.post("/types-registry/v1/entities", json=[type_doc()])
            assert resp.status_code == status, resp.text
            if status == 403:
                assert resp.json()["code"] == "auth.no_admin_token"
                assert "server.allow_unauthenticated_writes" in resp.json()["detail"]
            # reads stay open either way
            assert (await c.get("/types-registry/v1/entities")).status_code == 200
    finally:
        await runtime.stop()


async def test_registration_runs_off_the_event_loop(
    running: tuple[Runtime, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow batch must not stall /healthz: the registration runs in a worker thread."""
    runtime, c = running
    registry = runtime.registry
    entered, release = threading.Event(), threading.Event()
    real = registry.register_many
    threads: list[str] = []

    def slow(docs: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        entered.set()
        release.wait(timeout=30)  # bounded: on the event loop this would stall it 30 s
        return real(docs, **kwargs)

    seen: list[Any] = []
    registry.subscribe(lambda event: seen.append((event.gts_id, threading.current_thread())))
    monkeypatch.setattr(registry, "register_many", slow)
    order: list[str] = []

    async def post() -> httpx.Response:
        resp = await c.post("/types-registry/v1/entities", json=[type_doc()])
        order.append("post")
        return resp

    posting = asyncio.create_task(post())
    for _ in range(3000):  # until the registration is under way (it blocks on `release`)
        if entered.is_set():
            break
        await asyncio.sleep(0.01)
    health = await c.get("/healthz")
    order.append("healthz")
    release.set()
    resp = await asyncio.wait_for(posting, timeout=30)
    assert health.status_code == 200
    assert order == ["healthz", "post"]  # /healthz answered while the batch was in progress
    assert threads and threads[0] != threading.main_thread().name
    # the same results as before; listeners (a gateway's resync, which may commit a routing
    # revision) ran in the writer thread too, before the answer, never on the event loop
    assert resp.status_code == 201 and resp.json()["results"][0]["created"] is True
    assert [gid for gid, _ in seen] == [ORDER_TYPE]
    assert seen[0][1].name == threads[0] != threading.main_thread().name
    again = await c.post("/types-registry/v1/entities", json=[type_doc()])
    assert again.status_code == 200 and again.json()["summary"]["created"] == 0  # idempotent
