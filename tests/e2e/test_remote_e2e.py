"""Out-of-process plugins end to end: a Node.js plugin routed by a Gateway, a Python host that
registers in a real server's Types Registry and heartbeats back after being removed.

The Node.js test needs ``node`` on PATH: without it the test is skipped with a message, except
under CI (``CI`` set), where a missing ``node`` is a failure.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_process import ServerFactory, ServerProcess
from remote_e2e_support import HostProcess, hosted_bm25

from plugway.modules.doc_search import DOC_SEARCH_CONTRACT, Hit, SearchResult, bm25_plugin
from plugway.plugins import Gateway, PluginSetup, PluginSpec, SecurityContext
from plugway.plugins.remote import RemoteHost, RemotePlugin

ROOT = Path(__file__).resolve().parents[2]
NODE_PLUGIN = ROOT / "examples" / "node-doc-search" / "plugin.mjs"
NODE_SEGMENT = "nodejs.example.term_ranker.plugin.v1"
NODE_ID = DOC_SEARCH_CONTRACT.instance_id(NODE_SEGMENT)
BM25_ID = bm25_plugin.plugin_id
HOSTED_ID = hosted_bm25.plugin_id
PYTHONPATH = os.pathsep.join([str(ROOT / "tests" / "e2e"), str(ROOT / "tests" / "plugins")])


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is not on PATH, and CI is set: the Node.js plugin must be tested")
        pytest.skip("node is not on PATH: the Node.js doc_search plugin is not tested")
    return node


@pytest.fixture
def node_plugin(tmp_path: Path) -> Iterator[HostProcess]:
    proc = HostProcess([], tmp_path, argv=[_node(), str(NODE_PLUGIN)]).start()
    yield proc
    proc.close()


async def test_a_nodejs_plugin_serves_doc_search_in_a_sticky_split(
    node_plugin: HostProcess,
) -> None:
    assert node_plugin.url is not None
    host = RemoteHost(node_plugin.url, secret=node_plugin.secret)
    remote = RemotePlugin(
        DOC_SEARCH_CONTRACT, host, f"/v1/doc_search/{NODE_SEGMENT}", plugin_id=NODE_ID
    )
    setup = PluginSetup("bm25", "doc_search", BM25_ID, {}, None, logging.getLogger("test"))
    gw = Gateway(
        "doc_search",
        DOC_SEARCH_CONTRACT,
        routing={
            "rules": [
                {
                    "split": {
                        "key": "tenant_id",
                        "variants": [
                            {"plugin": NODE_ID, "weight": 50},
                            {"plugin": BM25_ID, "weight": 50},
                        ],
                    }
                }
            ],
            "fallback": [{"plugin": BM25_ID}],
        },
    )
    try:
        gw.add_plugin(bm25_plugin.spec(), bm25_plugin.factory(setup))
        gw.add_plugin(PluginSpec(NODE_ID, "nodejs", 100, {"algorithm": "node-tf"}), remote)
        served: dict[str, str] = {}
        for n in range(200):
            ctx = SecurityContext(f"tenant-{n}", "user")
            out = await gw.call_with_outcome("search", ctx, "circuit breaker retries", 3)
            assert [a.error for a in out.attempts] == [None]  # no fallback was needed
            result = out.result
            assert isinstance(result, SearchResult) and result.plugin_id == out.plugin
            assert all(isinstance(h, Hit) for h in result.hits) and 1 <= len(result.hits) <= 3
            expected = "node-tf" if out.plugin == NODE_ID else "bm25"
            assert result.algorithm == expected
            served[ctx.tenant_id] = out.plugin
        share = sum(p == NODE_ID for p in served.values()) / len(served)
        assert 0.35 < share < 0.65  # the same keys hash the same way on every run
        for tenant, plugin in list(served.items())[:20]:  # sticky: the same tenant, same plugin
            again = await gw.call_with_outcome("search", SecurityContext(tenant, "u"), "cache", 1)
            assert again.plugin == plugin
        node_tenant = next(t for t, p in served.items() if p == NODE_ID)
        titles = await gw.client.suggest(SecurityContext(node_tenant, "u"), "c", 2)
        assert titles == ["Caching strategies", "Canary releases"]
    finally:
        gw.close()
        await host.aclose()


async def test_the_nodejs_plugin_refuses_what_breaks_the_contract(
    node_plugin: HostProcess,
) -> None:
    base = f"/v1/doc_search/{NODE_SEGMENT}"
    async with httpx.AsyncClient(base_url=str(node_plugin.url)) as http:
        refused = await http.post(f"{base}/search", json={"context": {}, "args": {}})
        auth = {"authorization": f"Bearer {node_plugin.secret}"}
        bad = await http.post(
            f"{base}/search", json={"context": {}, "args": {"query": 1, "limit": 2}}, headers=auth
        )
    assert refused.status_code == 401
    assert bad.status_code == 400
    assert bad.json()["error"]["errors"] == [
        {"path": "args.query", "message": "Input should be a valid string"}
    ]


# -- a Python host registered in a running server -------------------------------------------------


def _entity(srv: ServerProcess, gts_id: str) -> dict[str, Any] | None:
    with srv.client() as http:
        answer = http.get(f"/types-registry/v1/entities/{gts_id}")
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    content: dict[str, Any] = answer.json()["content"]
    return content


def _wait_for(check: Any, what: str, proc: HostProcess, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s; host log:\n{proc.log()}")


@pytest.fixture
def registry_server(server_factory: ServerFactory) -> ServerProcess:
    return server_factory().start()


def test_a_host_registers_its_instances_and_heartbeats_back_after_removal(
    registry_server: ServerProcess, tmp_path: Path
) -> None:
    srv = registry_server
    assert srv.url is not None and srv.token is not None
    proc = HostProcess(
        ["remote_e2e_support:hosted_bm25"],
        tmp_path,
        extra_args=("--registry", srv.url, "--heartbeat", "0.5"),
        env={"PLUGWAY_TOKEN": srv.token, "PYTHONPATH": PYTHONPATH},
    ).start()
    try:
        doc = _wait_for(lambda: _entity(srv, HOSTED_ID), "registration", proc)
        assert doc["contract_version"] == "1.1"
        assert doc["endpoint"] == {
            "url": proc.url,
            "path": "/v1/doc_search/x.tests.hosted_bm25.plugin.v1",
            "protocol": "plugway-http/1",
            "heartbeat_s": 0.5,
            "ttl_s": 1.5,
        }
        assert "secret" not in str(doc)
        with srv.client() as http:
            removed = http.delete(f"/plugins/v1/gateways/doc_search/plugins/{HOSTED_ID}")
        assert removed.status_code == 200, removed.text
        # the next heartbeat registers it again: that is how a host rejoins
        _wait_for(lambda: "registered again" in proc.log(), "re-registration", proc)
        assert _entity(srv, HOSTED_ID) == doc
        # the registered endpoint answers a RemotePlugin like the in-process plugin would
        answer = asyncio.run(_search(doc, proc.secret))
        assert answer.plugin_id == HOSTED_ID and answer.algorithm == "bm25" and answer.hits
    finally:
        proc.close()


async def _search(doc: dict[str, Any], secret: str | None) -> SearchResult:
    host = RemoteHost(doc["endpoint"]["url"], secret=secret)
    try:
        plugin = RemotePlugin(
            DOC_SEARCH_CONTRACT, host, doc["endpoint"]["path"], version=doc["contract_version"]
        )
        result: SearchResult = await plugin.search(SecurityContext("t"), "circuit breaker", 2)
        return result
    finally:
        await host.aclose()


def test_a_refused_registration_is_logged_and_the_host_keeps_serving(
    registry_server: ServerProcess, tmp_path: Path
) -> None:
    srv = registry_server
    assert srv.url is not None
    # the echo contract's type is not in this registry, and the token is wrong for the second
    proc = HostProcess(
        ["remote_support:echo_plugin", "remote_e2e_support:hosted_bm25"],
        tmp_path,
        extra_args=("--registry", srv.url, "--heartbeat", "0.5"),
        env={"PLUGWAY_TOKEN": "not-the-token", "PYTHONPATH": PYTHONPATH},
    ).start()
    try:
        _wait_for(lambda: "not registered: refused: 401" in proc.log(), "a 401 refusal", proc)
        assert _entity(srv, HOSTED_ID) is None
        with httpx.Client(base_url=str(proc.url)) as http:
            health = http.get("/v1/health", headers={"authorization": f"Bearer {proc.secret}"})
        assert health.status_code == 200 and len(health.json()["plugins"]) == 2
    finally:
        proc.close()
    proc = HostProcess(
        ["remote_support:echo_plugin"],
        tmp_path,
        extra_args=("--registry", srv.url, "--heartbeat", "0.5"),
        env={"PLUGWAY_TOKEN": srv.token or "", "PYTHONPATH": PYTHONPATH},
    ).start()
    try:
        _wait_for(lambda: "not registered: refused: registry." in proc.log(), "refusal", proc)
    finally:
        proc.close()
