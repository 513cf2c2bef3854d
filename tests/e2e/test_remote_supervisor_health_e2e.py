"""``/health`` of a real ``plugway serve`` lists the plugin hosts it supervises.

A host that runs is ``running`` with its pid; once its process is killed it is ``restarting``
and the health is ``degraded`` naming it (still 200), until the relaunch runs again with one
restart counted. A host that never prints its handshake line is ``failed``. A host started by
hand is listed under ``remote_hosts``: ``up``, ``down`` once it misses its TTL (degraded), and
up again at its new address when it comes back.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
from _server_process import ServerFactory
from remote_e2e_support import HostProcess, hosted_bm25
from remote_routing_support import PYTHONPATH, SECRET, TOKEN, server_config, wait_for

PLUGINS_HEALTH = "gts.x.core.plugins.health.v1~"
HOSTED = hosted_bm25.plugin_id


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


def test_health_shows_a_host_started_by_hand_up_then_down_then_up_again(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    srv = server_factory(config=server_config()).start()
    assert srv.url is not None

    def host() -> HostProcess:
        return HostProcess(
            ["remote_e2e_support:hosted_bm25"],
            tmp_path,
            secret=SECRET,
            extra_args=("--registry", srv.url or "", "--heartbeat", "0.3"),
            env={"PLUGWAY_TOKEN": TOKEN, "PYTHONPATH": PYTHONPATH},
        ).start()

    def remote(plugins: dict[str, Any], url: str) -> dict[str, Any] | None:
        return next((h for h in plugins["remote_hosts"] if h["url"] == url), None)

    first = host()
    try:
        with srv.client() as http:
            url = first.url or ""

            def up() -> dict[str, Any] | None:
                entry = remote(_health(http)[2], url)
                return entry if entry is not None and entry["state"] == "up" else None

            entry = wait_for(up, "the host is listed up", srv.log)
            assert entry["gateway"] == "doc_search" and entry["plugins"] == [HOSTED]
            code, doc, plugins = _health(http)
            assert code == 200 and doc["status"] == "ok" and plugins["hosts_down"] == []
            assert plugins["hosts"] == []  # not one the server supervises

            first.kill()

            def down() -> tuple[int, dict[str, Any], dict[str, Any]] | None:
                seen = _health(http)
                entry = remote(seen[2], url)
                return seen if entry is not None and entry["state"] == "down" else None

            code, doc, plugins = wait_for(down, "the host is listed down", srv.log)
            assert code == 200 and doc["status"] == "degraded"
            assert plugins["hosts_down"] == [f"doc_search/{url}"]
            assert remote(plugins, url)["last_answer_s"] >= 0.9  # its TTL: 3 beats of 0.3 s

            second = host()  # back, at another port: the instance moves there
            try:

                def moved() -> tuple[int, dict[str, Any], dict[str, Any]] | None:
                    seen = _health(http)
                    urls = [h["url"] for h in seen[2]["remote_hosts"]]
                    return seen if urls == [second.url] and seen[1]["status"] == "ok" else None

                code, doc, plugins = wait_for(moved, "the host is listed up again", srv.log)
                assert plugins["hosts_down"] == [] and plugins["remote_hosts"][0]["state"] == "up"
            finally:
                second.close()
    finally:
        first.close()
    assert srv.stop() == 0
