"""``/health`` of a real ``plugway serve`` lists the plugin hosts it supervises.

A host that runs is ``running`` with its pid; once its process is killed it is ``restarting``
and the health is ``degraded`` naming it (still 200), until the relaunch runs again with one
restart counted. A host that never prints its handshake line is ``failed``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import httpx
from _server_process import ServerFactory
from remote_routing_support import PYTHONPATH, server_config, wait_for

PLUGINS_HEALTH = "gts.x.core.plugins.health.v1~"


def _health(http: httpx.Client) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """(status code, the whole answer, the plugins component)."""
    answer = http.get("/health")
    doc: dict[str, Any] = answer.json()
    return answer.status_code, doc, doc["components"][PLUGINS_HEALTH]


def _host(plugins: dict[str, Any], name: str) -> dict[str, Any]:
    (entry,) = [h for h in plugins["hosts"] if h["name"] == name]
    return entry


def test_health_shows_a_host_running_restarting_after_a_kill_then_running_again(
    server_factory: ServerFactory,
) -> None:
    host = {
        "name": "ranker",
        "entry_point": "remote_isolation_support:aborting_bm25",
        "heartbeat": 0.3,
        # a wide restart window, so that a poll sees it; nothing below depends on its length
        "restart": {"backoff_initial": 3.0, "backoff_max": 6.0},
    }
    config = server_config({"hosts": [host]})
    srv = server_factory(config=config, env={"PYTHONPATH": PYTHONPATH}).start()
    with srv.client() as http:

        def running() -> dict[str, Any] | None:
            entry = _host(_health(http)[2], "ranker")
            return entry if entry["state"] == "running" else None

        first = wait_for(running, "the host runs", srv.log)
        code, doc, plugins = _health(http)
        assert code == 200 and plugins["hosts_down"] == []
        assert doc["status"] == "ok" and plugins["status"] == "ok", doc
        pid = first["pid"]
        assert isinstance(pid, int) and f"(pid {pid}) listening" in srv.log()
        assert first["gateway"] == "doc_search" and first["url"].startswith("http://127.0.0.1:")
        assert (first["restarts"], first["last_exit_code"], first["last_exit"]) == (0, None, None)

        os.kill(pid, signal.SIGKILL)

        def restarting() -> tuple[int, dict[str, Any], dict[str, Any]] | None:
            seen = _health(http)
            return seen if _host(seen[2], "ranker")["state"] == "restarting" else None

        code, doc, plugins = wait_for(restarting, "the host is restarting", srv.log)
        assert code == 200 and doc["status"] == "degraded"
        assert plugins["status"] == "degraded" and plugins["hosts_down"] == ["doc_search/ranker"]
        down = _host(plugins, "ranker")
        assert down["pid"] is None and down["url"] is None
        assert down["last_exit_code"] == -signal.SIGKILL
        assert down["last_exit"] == "exited (killed by SIGKILL)"

        again = wait_for(running, "the host runs again", srv.log)
        assert again["pid"] != pid and again["restarts"] == 1
        assert again["last_exit_code"] == -signal.SIGKILL
        code, doc, plugins = _health(http)
        assert code == 200 and doc["status"] == "ok" and plugins["hosts_down"] == []
    assert srv.stop() == 0


def test_health_shows_a_host_without_a_handshake_as_failed(server_factory: ServerFactory) -> None:
    host = {
        "name": "mute",
        "executable": sys.executable,
        "args": ["-c", "print('hello, not a handshake')"],
        "restart": {"backoff_initial": 0.5, "backoff_max": 1.0},
    }
    srv = server_factory(config=server_config({"hosts": [host]})).start()
    with srv.client() as http:

        def failed() -> tuple[int, dict[str, Any], dict[str, Any]] | None:
            seen = _health(http)
            return seen if _host(seen[2], "mute")["state"] == "failed" else None

        code, doc, plugins = wait_for(failed, "the host fails", srv.log)
        assert code == 200 and doc["status"] == "degraded"
        assert plugins["hosts_down"] == ["doc_search/mute"]
        assert "expected a handshake line" in _host(plugins, "mute")["last_exit"]
    assert srv.stop() == 0
