"""Plugin hosts launched and supervised by a real ``plugway serve``.

The gateway's config names a host (``plugins.gateways.doc_search.hosts``) or switches a shipped
plugin to ``out_of_process``; the server launches ``python -m plugway.cli._host`` with a secret
generated per launch (in its environment, not on its command line), its own URL and admin token;
the host registers its plugins and they are routed to; a host that calls ``os.abort()`` is
restarted and serves again; SIGTERM to the server stops every host.
"""

from __future__ import annotations

import os
import re
import resource
import signal
from pathlib import Path
from typing import Any

import pytest
from _server_process import ServerFactory, ServerProcess
from remote_isolation_support import aborting_bm25
from remote_routing_support import (
    BM25,
    GATEWAY,
    PYTHONPATH,
    TFIDF,
    TOKEN,
    plugin_ids,
    put_routing,
    revisions,
    search,
    server_config,
    tenant_to_remote,
    wait_for,
)

ABORTING = aborting_bm25.plugin_id
_LISTENING = re.compile(r"plugin host (\S+) \(pid (\d+)\) listening on (\S+)")


def _launches(srv: ServerProcess, name: str) -> list[tuple[int, str]]:
    return [(int(m[2]), m[3]) for m in _LISTENING.finditer(srv.log()) if m[1] == name]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie not reaped yet counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(e.decode(errors="replace").partition("=")[::2] for e in raw if e)


@pytest.fixture
def supervised(server_factory: ServerFactory) -> ServerProcess:
    host: dict[str, Any] = {
        "name": "flaky",
        "entry_point": "remote_isolation_support:aborting_bm25",
        "heartbeat": 0.3,
        "restart": {"backoff_initial": 0.2, "backoff_max": 2.0},
    }
    config = server_config({"hosts": [host]})
    return server_factory(config=config, env={"PYTHONPATH": PYTHONPATH}).start()


def test_a_supervised_host_serves_is_restarted_after_abort_and_stopped_with_the_server(
    supervised: ServerProcess,
) -> None:
    srv = supervised
    with srv.client() as http:
        wait_for(lambda: ABORTING in plugin_ids(http), "the supervised plugin joins", srv.log)
        ((pid, url),) = _launches(srv, "flaky")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        env = _environ(pid)
        secret = env["PLUGWAY_PLUGIN_SECRET"]
        assert len(secret) >= 32 and secret.encode() not in b" ".join(cmdline)
        assert env["PLUGWAY_REGISTRY_URL"] == srv.url
        # the host registered with the narrow host token, not the admin token: it may register
        # plugin instances (it just did) and nothing else
        host_token = env["PLUGWAY_TOKEN"]
        assert len(host_token) >= 32 and host_token != TOKEN
        as_host = {"Authorization": f"Bearer {host_token}"}
        refused = http.put(f"{GATEWAY}/routing", json={"rules": []}, headers=as_host)
        assert refused.status_code == 401, refused.text
        schema = {"$id": "gts://gts.x.tests.hostonly.thing.v1~", "type": "object"}
        forbidden = http.post("/types-registry/v1/entities", json=[schema], headers=as_host)
        assert forbidden.status_code == 403 and forbidden.json()["code"] == "auth.forbidden"
        assert "gts.x.tests.hostonly.thing.v1~" in forbidden.json()["detail"]
        assert b"--registry" in cmdline and srv.url is not None and srv.url.encode() in cmdline
        assert url.startswith("http://127.0.0.1:")
        assert resource.prlimit(pid, resource.RLIMIT_CORE) == (0, 0)  # no core file per crash
        assert "[host flaky]" in srv.log()  # the host's stderr, forwarded line by line
        put_routing(http, tenant_to_remote(ABORTING))
        served = search(http, "t-remote")
        assert served["plugin"] == ABORTING and not served["fallback"]

        crashed = search(http, "t-remote", q="abort circuit breaker")  # the host dies
        assert crashed["plugin"] == BM25 and crashed["fallback"] and crashed["hits"]
        wait_for(lambda: "killed by SIGABRT" in srv.log(), "the crash is seen", srv.log)

        def left_at_once() -> bool:  # the supervisor saw the exit: no wait for the TTL
            return any(
                r["who"] == "registry" and f"plugin {ABORTING} left" in r["what"]
                for r in revisions(http)
            )

        wait_for(left_at_once, "the crashed host's plugin leaves", srv.log)
        assert "exited (killed by SIGABRT): it leaves the routing" in srv.log()
        wait_for(lambda: len(_launches(srv, "flaky")) >= 2, "a relaunch", srv.log)
        (new_pid, _new_url) = _launches(srv, "flaky")[-1]
        assert new_pid != pid and _gone(pid)

        def serves_again() -> bool:
            out = search(http, "t-remote")
            return out["plugin"] == ABORTING and not out["fallback"]

        wait_for(serves_again, "the restarted host serves again", srv.log)
        assert _environ(new_pid)["PLUGWAY_PLUGIN_SECRET"] != secret  # a secret per launch
    assert srv.stop() == 0
    wait_for(lambda: _gone(new_pid), "the host stops with the server", srv.log, timeout=30)
    assert "plugin host flaky stopped" in srv.log()


def test_a_host_stops_by_itself_when_its_server_is_killed(supervised: ServerProcess) -> None:
    """A host runs in a session of its own (SIGTERM to the server's group does not reach it),
    so a server that dies without stopping it (SIGKILL, a crash) must not leave it running:
    end-of-file on its stdin, the lifeline only the server held, stops it."""
    srv = supervised
    with srv.client() as http:
        wait_for(lambda: ABORTING in plugin_ids(http), "the supervised plugin joins", srv.log)
    ((pid, _url),) = _launches(srv, "flaky")
    assert _environ(pid)["PLUGWAY_HOST_LIFELINE"] == "stdin"
    assert os.getpgid(pid) != os.getpgid(srv.proc.pid if srv.proc else 0)
    assert srv.kill() == -signal.SIGKILL  # no shutdown: nothing stops the host but the lifeline
    wait_for(lambda: _gone(pid), "the orphaned host stops", srv.log, timeout=30)


def test_a_shipped_plugin_switched_out_of_process_by_configuration_only(
    server_factory: ServerFactory,
) -> None:
    config = server_config(
        {
            "plugins": {"tfidf_ranker": {"out_of_process": True}},
            "hosts": [],
        }
    )
    srv = server_factory(config=config).start()
    with srv.client() as http:
        wait_for(lambda: TFIDF in plugin_ids(http), "the switched plugin joins", srv.log)
        entity = http.get(f"/types-registry/v1/entities/{TFIDF}").json()["content"]
        assert entity["endpoint"]["path"] == "/v1/doc_search/plugway.builtin.tfidf_ranker.plugin.v1"
        ((pid, url),) = _launches(srv, "tfidf_ranker")
        assert entity["endpoint"]["url"] == url
        assert b"tfidf_ranker" in Path(f"/proc/{pid}/cmdline").read_bytes()
        put_routing(http, {"rules": [{"name": "all", "target": {"plugin": TFIDF}}]})
        served = search(http, "anyone")
        assert served["plugin"] == TFIDF and served["algorithm"] == "tfidf"
        assert not served["fallback"] and served["hits"]
    assert srv.stop(signal.SIGTERM) == 0
    wait_for(lambda: _gone(pid), "the host stops with the server", srv.log, timeout=30)
