"""Out-of-process plugins as members of a real server's routing: discovered through the Types
Registry, dropped after their TTL when their host stops answering, back when it answers again.

A real ``plugway serve`` and a real ``plugway plugins host`` (``--registry``, heartbeats): the
host's instance document (``endpoint`` + ``contract_version``) is all the gateway learns of it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from _server_process import ServerFactory, ServerProcess
from remote_e2e_support import HostProcess, hosted_bm25
from remote_routing_support import (
    BM25,
    PYTHONPATH,
    SECRET,
    plugin_ids,
    put_routing,
    revisions,
    search,
    server_config,
    tenant_to_remote,
    wait_for,
)

HOSTED = hosted_bm25.plugin_id

ROUTING = tenant_to_remote(HOSTED, rule="remote")


@pytest.fixture
def srv(server_factory: ServerFactory) -> ServerProcess:
    return server_factory(config=server_config()).start()


def _host(srv: ServerProcess, root: Path, heartbeat: float = 0.3) -> HostProcess:
    assert srv.url is not None and srv.token is not None
    root.mkdir(exist_ok=True)
    return HostProcess(
        ["remote_e2e_support:hosted_bm25"],
        root,
        secret=SECRET,
        extra_args=("--registry", srv.url, "--heartbeat", str(heartbeat)),
        env={"PLUGWAY_TOKEN": srv.token, "PYTHONPATH": PYTHONPATH},
    )


def test_a_registered_host_is_routed_to_leaves_after_its_ttl_and_rejoins(
    srv: ServerProcess, tmp_path: Path
) -> None:
    proc = _host(srv, tmp_path / "host").start()
    try:
        with srv.client() as http:
            wait_for(lambda: HOSTED in plugin_ids(http), "the hosted plugin joins", srv.log)
            put_routing(http, ROUTING)
            served = search(http, "t-remote")
            assert served["plugin"] == HOSTED and not served["fallback"]
            assert served["algorithm"] == "bm25" and served["hits"]
            assert search(http, "t-other")["plugin"] == BM25

            # the host stops answering (SIGSTOP: its heartbeats stop too)
            assert proc.proc is not None
            os.kill(proc.proc.pid, signal.SIGSTOP)
            try:
                wait_for(lambda: HOSTED not in plugin_ids(http), "the plugin leaves", srv.log)
                left = revisions(http)[0]
                assert left["who"] == "registry" and f"plugin {HOSTED} left" in left["what"]
                served = search(http, "t-remote")  # the rule's fallback serves, at once
                assert served["plugin"] == BM25 and served["routed_to"] == BM25
            finally:
                os.kill(proc.proc.pid, signal.SIGCONT)
            wait_for(lambda: HOSTED in plugin_ids(http), "the plugin rejoins", srv.log)
            joined = revisions(http)[0]
            assert joined["who"] == "registry" and f"plugin {HOSTED} joined" in joined["what"]
            served = search(http, "t-remote")
            assert served["plugin"] == HOSTED and not served["fallback"]
    finally:
        proc.close()


def test_a_killed_host_leaves_and_one_restarted_on_a_new_port_replaces_it(
    srv: ServerProcess, tmp_path: Path
) -> None:
    first = _host(srv, tmp_path / "a").start()
    with srv.client() as http:
        wait_for(lambda: HOSTED in plugin_ids(http), "the hosted plugin joins", srv.log)
        put_routing(http, ROUTING)
        assert search(http, "t-remote")["plugin"] == HOSTED
        first.kill()  # SIGKILL: no goodbye
        wait_for(lambda: HOSTED not in plugin_ids(http), "the plugin leaves", srv.log)
        assert search(http, "t-remote")["plugin"] == BM25  # the fallback serves
        second = _host(srv, tmp_path / "b").start()  # port 0: another port
        try:
            assert second.url != first.url
            entity = http.get(f"/types-registry/v1/entities/{HOSTED}")

            def moved() -> bool:
                doc = http.get(f"/types-registry/v1/entities/{HOSTED}").json()
                return bool(doc["content"]["endpoint"]["url"] == second.url)

            wait_for(moved, "the instance moves to the new endpoint", second.log)
            assert entity.status_code == 200
            wait_for(lambda: HOSTED in plugin_ids(http), "the plugin rejoins", srv.log)
            served = search(http, "t-remote")
            assert served["plugin"] == HOSTED and not served["fallback"]
            assert "not registered" not in second.log()  # no conflict was refused
        finally:
            second.close()
    first.close()


def test_an_instance_of_another_major_or_protocol_is_never_routed_to(
    srv: ServerProcess,
) -> None:
    other_major = {
        "id": "gts.x.core.modkit.plugin.v1~x.plugway.doc_search.plugin.v1.1~x.tests.v2.plugin.v1",
        "vendor": "tests",
        "priority": 5,
        "properties": {"algorithm": "bm25", "description": "claims 2.0"},
        "contract_version": "2.0",
        "endpoint": {
            "url": "http://127.0.0.1:9",
            "path": "/v1/doc_search/x",
            "protocol": "plugway-http/1",
        },
    }
    bad_path = {
        **other_major,
        "id": str(other_major["id"]).replace(".v2.", ".badpath."),
        "contract_version": "1.1",
    }
    bad_path["endpoint"] = {"url": "http://127.0.0.1:9", "path": "no-slash", "protocol": "p"}
    with srv.client() as http:
        answer = http.post("/types-registry/v1/entities", json=[other_major, bad_path])
        results = answer.json()["results"]
        assert results[0]["ok"] is True  # the document is valid; the gateway refuses it
        assert results[1]["ok"] is False and "path" in results[1]["error"]

        def refused() -> bool:
            failures = http.get("/plugins/v1/discovery").json()["failures"]
            return any(
                other_major["id"] == f.get("plugin_id") and "2.0" in f["error"] for f in failures
            )

        wait_for(refused, "the other MAJOR is refused", srv.log)
        assert other_major["id"] not in plugin_ids(http)
