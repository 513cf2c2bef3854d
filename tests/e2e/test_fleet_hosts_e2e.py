"""Plugin hosts in a fleet, end to end: two real ``plugway serve`` replicas on one PostgreSQL
schema.

* The same config names a supervised host. Each replica launches its own copy (each with a
  secret of its own); the registry keeps the endpoint registered last, so it keeps pointing at
  one copy or the other. Each replica still calls the copy it launched: every call, on either
  replica, over many heartbeats, is served by the hosted plugin on its first try.
* A host run on its own registers through one replica; the plugin is installed on neither, and
  both route to it until it stops heartbeating.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_process import ServerProcess
from remote_e2e_support import HostProcess, hosted_bm25
from remote_routing_support import (
    BM25,
    GATEWAY,
    PYTHONPATH,
    SECRET,
    TOKEN,
    plugin_ids,
    search,
    server_config,
    wait_for,
)

from _postgres import PostgresDatabase

HOSTED = hosted_bm25.plugin_id
HEARTBEAT = 0.3
PLUGINS_HEALTH = "gts.x.core.plugins.health.v1~"
_LISTENING = re.compile(r"plugin host (\S+) \(pid (\d+)\) listening on (\S+)")


@pytest.fixture
def replicas(tmp_path: Path, postgres_database: PostgresDatabase) -> Iterator[list[ServerProcess]]:
    host = {"name": "bm25", "entry_point": "remote_e2e_support:hosted_bm25", "heartbeat": HEARTBEAT}
    config: dict[str, Any] = {
        "server": {"admin_token": TOKEN},
        "plugins": {"watch": False, "gateways": {"doc_search": {"hosts": [host]}}},
    }
    yield from _two_replicas(tmp_path, postgres_database, config)


def _two_replicas(
    tmp_path: Path, postgres_database: PostgresDatabase, config: dict[str, Any]
) -> Iterator[list[ServerProcess]]:
    """Two replicas of ``config`` on a new PostgreSQL schema, closed (and the schema dropped)
    when the caller is done."""
    schema, url = postgres_database.new_schema()
    config = {**config, "registry": {"backend": "postgresql", "url": url}}
    servers = []
    try:
        for i in (1, 2):
            root = tmp_path / f"replica{i}"
            root.mkdir()
            servers.append(ServerProcess(root, config=config, env={"PYTHONPATH": PYTHONPATH}))
            servers[-1].start()
        yield servers
    finally:
        for s in servers:
            s.close()
        postgres_database.drop_schema(schema)


def _apply_on_the_fleet(http: httpx.Client, routing: dict[str, Any], logs: Any) -> None:
    """PUT ``routing``, retried while the fleet refuses it (422 until every live replica has
    reported the plugin in its heartbeat)."""

    def applied() -> bool:
        r = http.put(f"{GATEWAY}/routing", json=routing)
        if r.status_code == 200:
            return True
        assert r.status_code == 422 and r.json()["code"] == "plugins.missing_on_replicas"
        return False

    wait_for(applied, "the fleet knows both replicas can call the plugin", logs)


def _remote_hosts(http: httpx.Client) -> list[Any]:
    """The hosts a replica calls but did not launch (``/health``)."""
    component = http.get("/health").json()["components"][PLUGINS_HEALTH]
    hosts: list[Any] = component["remote_hosts"]
    return hosts


def _own_url(srv: ServerProcess) -> str:
    """The URL of the copy ``srv`` launched (waits for its launch)."""
    launches = wait_for(
        lambda: [m[3] for m in _LISTENING.finditer(srv.log()) if m[1] == "bm25"],
        "the replica launches its copy",
        srv.log,
    )
    return launches[-1]


def test_each_replica_calls_the_copy_of_a_supervised_host_it_launched(
    replicas: list[ServerProcess],
) -> None:
    one, two = replicas
    with one.client() as h1, two.client() as h2:
        assert _own_url(one) != _own_url(two)  # two copies, one per replica
        for http, srv in ((h1, one), (h2, two)):
            wait_for(lambda c=http: HOSTED in plugin_ids(c), "the hosted plugin joins", srv.log)
            # its own copy has registered: it calls no host it did not launch
            wait_for(lambda c=http: _remote_hosts(c) == [], "it calls its own copy", srv.log)
        rule = {"name": "hosted", "target": {"plugin": HOSTED}, "fallback": [{"plugin": BM25}]}
        routing = {"timeout": 2.0, "rules": [rule]}
        _apply_on_the_fleet(h1, routing, one.log)

        def routed(http: Any) -> bool:
            # the routing before any change is the empty document
            return bool(http.get(GATEWAY).json()["routing"].get("rules"))

        wait_for(lambda: routed(h2), "the routing reaches replica 2", two.log)
        served: list[tuple[int, str, bool]] = []
        end = time.monotonic() + 12 * HEARTBEAT  # the registered endpoint moves meanwhile
        while time.monotonic() < end:
            for i, http in enumerate((h1, h2), start=1):
                out = search(http, f"t{len(served)}")
                served.append((i, out["plugin"], bool(out["fallback"])))
        bad = [s for s in served if s[1] != HOSTED or s[2]]
        assert served and bad == [], bad[:5]
        assert {i for i, _, _ in served} == {1, 2}


@pytest.fixture
def plain_replicas(
    tmp_path: Path, postgres_database: PostgresDatabase
) -> Iterator[list[ServerProcess]]:
    """Two replicas on one PostgreSQL schema that launch no host; each knows the secret of
    hosts run on their own (``remote_secret``)."""
    yield from _two_replicas(tmp_path, postgres_database, server_config())


def test_a_host_registered_through_one_replica_is_routed_by_every_replica(
    plain_replicas: list[ServerProcess], tmp_path: Path
) -> None:
    """The plugin is installed on no replica: a host run on its own registers through replica 1
    only, and both replicas route to it, through the shared registry; when it stops
    heartbeating, it leaves routing on both and their calls fall back."""
    one, two = plain_replicas
    assert one.url is not None
    root = tmp_path / "host"
    root.mkdir()
    host = HostProcess(
        ["remote_e2e_support:hosted_bm25"],
        root,
        secret=SECRET,
        extra_args=("--registry", one.url, "--heartbeat", str(HEARTBEAT)),
        env={"PLUGWAY_TOKEN": TOKEN, "PYTHONPATH": PYTHONPATH},
    ).start()
    try:
        with one.client() as h1, two.client() as h2:
            for http, srv in ((h1, one), (h2, two)):
                wait_for(lambda c=http: HOSTED in plugin_ids(c), "the host's plugin joins", srv.log)
            rule = {"name": "hosted", "target": {"plugin": HOSTED}, "fallback": [{"plugin": BM25}]}
            routing = {"timeout": 2.0, "rules": [rule]}
            _apply_on_the_fleet(h1, routing, one.log)
            wait_for(
                lambda: bool(h2.get(GATEWAY).json()["routing"].get("rules")),
                "the routing reaches replica 2",
                two.log,
            )
            for i, http in enumerate((h1, h2), start=1):
                for n in range(20):
                    out = search(http, f"r{i}-t{n}")
                    assert out["plugin"] == HOSTED and not out["fallback"], (i, out)
            # replica 2 calls a host it did not launch: /health lists it, up
            hosts = wait_for(lambda: _remote_hosts(h2), "replica 2 reports the host", two.log)
            seen = [(h["url"], h["state"], h["plugins"]) for h in hosts]
            assert seen == [(host.url, "up", [HOSTED])]

            assert host.proc is not None
            host.proc.kill()  # no goodbye: only the missing heartbeats tell
            for http, srv in ((h1, one), (h2, two)):
                wait_for(lambda c=http: HOSTED not in plugin_ids(c), "the plugin leaves", srv.log)
                out = search(http, "after")
                assert out["plugin"] == BM25, out
    finally:
        host.close()
