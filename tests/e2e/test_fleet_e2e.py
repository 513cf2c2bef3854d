"""A fleet end to end: three real ``plugway serve`` processes on one PostgreSQL schema (separate
data folders, one admin token). A change on one is served by all; concurrent changes on two
give one linear history that all end on; every key gets the same plugin on every replica; a
replica started after a change serves it at once; ``plugway fleet`` lists them all."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from _server_process import ServerProcess, run_plugway

from _postgres import PostgresDatabase
from plugway.modules.doc_search import DOC_SEARCH_CONTRACT
from plugway.plugins.routing import parse_routing

TOKEN = "fleet-e2e-token"
GW = "/plugins/v1/gateways/doc_search"
PLUGINS = "gts.x.core.plugins.health.v1~"
DS = DOC_SEARCH_CONTRACT.type_id
BM25 = DS + "plugway.builtin.bm25_ranker.plugin.v1"
TFIDF = DS + "plugway.builtin.tfidf_ranker.plugin.v1"
N_KEYS = 100_000
BATCH = 25_000
ROUNDS = 50


def eventually(check: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    """Wait (bounded) until ``check`` holds; fails naming ``what``. Not a timing assertion."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened within {limit}s: {what}")
        time.sleep(0.05)


class Fleet:
    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.config = {
            "server": {"admin_token": TOKEN},
            "registry": {"backend": "postgresql", "url": url},
        }
        self.servers: list[ServerProcess] = []

    def add(self) -> ServerProcess:
        root = self.root / f"replica{len(self.servers) + 1}"
        root.mkdir()
        srv = ServerProcess(root, config=self.config)
        self.servers.append(srv)
        return srv.start()

    def clients(self) -> list[httpx.Client]:
        return [s.client() for s in self.servers]

    def close(self) -> None:
        for s in self.servers:
            s.close()


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, postgres_database: PostgresDatabase
) -> Iterator[Fleet]:
    schema, url = postgres_database.new_schema()
    f = Fleet(tmp_path_factory.mktemp("fleet"), url)
    try:
        for _ in range(3):
            f.add()
        yield f
    finally:
        f.close()
        postgres_database.drop_schema(schema)


def revision(http: httpx.Client) -> int:
    got: int = http.get(GW).json()["revision"]
    return got


def put(http: httpx.Client, routing: dict[str, Any]) -> int:
    r = http.put(f"{GW}/routing", json=routing)
    assert r.status_code == 200, r.text
    got: int = r.json()["revision"]
    return got


def converge(clients: list[httpx.Client], number: int) -> None:
    eventually(
        lambda: all(revision(c) == number for c in clients),
        f"every replica serving revision {number}",
    )


def test_a_put_on_replica_1_is_served_by_all_three(fleet: Fleet) -> None:
    one, two, three = fleet.clients()
    number = put(one, {"default": {"plugin": TFIDF}})
    converge([one, two, three], number)
    for http in (one, two, three):
        assert http.get(GW).json()["routing"]["default"] == {"plugin": TFIDF}
        health = http.get("/health").json()["components"]["gts.x.core.plugins.health.v1~"]
        assert health["gateways"]["doc_search"]["revision"] == number
        assert health["fleet"]["connected"] is True, health


def test_concurrent_puts_on_two_replicas_give_one_linear_history(fleet: Fleet) -> None:
    clients = fleet.clients()
    one, two = clients[0], clients[1]
    got: list[int] = []
    lock = threading.Lock()

    def write(http: httpx.Client, plugin: str) -> None:
        for i in range(ROUNDS):
            n = put(http, {"default": {"plugin": plugin}, "timeout": 1.0 + i})
            with lock:
                got.append(n)

    threads = [threading.Thread(target=write, args=a) for a in ((one, BM25), (two, TFIDF))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 2 * ROUNDS and len(set(got)) == 2 * ROUNDS  # no duplicate number
    history = one.get(f"{GW}/revisions", params={"limit": 1000}).json()["revisions"]
    numbers = [r["revision"] for r in history]
    assert numbers == list(range(numbers[0], 0, -1))  # linear: no gap, no duplicate
    assert set(got) <= set(numbers)
    converge(clients, numbers[0])
    served = {c.get(GW).json()["routing"]["timeout"] for c in clients}
    assert served == {history[0]["routing"]["timeout"]}


def _assign(http: httpx.Client, values: list[str]) -> list[str | None]:
    out: list[str | None] = []
    for start in range(0, len(values), BATCH):
        r = http.post(
            f"{GW}/explain-bulk",
            json={"key": "subject_id", "values": values[start : start + BATCH]},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body["plugins"][i] for i in body["assignments"])
    return out


def test_every_key_gets_the_same_plugin_on_every_replica(fleet: Fleet) -> None:
    clients = fleet.clients()
    split = {
        "rules": [
            {
                "name": "ab",
                "split": {
                    "key": "subject_id",
                    "variants": [{"plugin": BM25, "weight": 90}, {"plugin": TFIDF, "weight": 10}],
                },
            }
        ]
    }
    converge(clients, put(clients[2], split))
    keys = [f"user-{i}" for i in range(N_KEYS)]
    first = _assign(clients[0], keys)
    assert {BM25, TFIDF} == set(first)
    for http in clients[1:]:
        assert _assign(http, keys) == first


def test_postgresql_stopped_under_load_fails_no_gateway_call(tmp_path: Path) -> None:
    from _postgres import ThrowawayCluster

    with ThrowawayCluster() as cluster:
        f = Fleet(tmp_path, cluster.url)
        try:
            clients = [f.add().client(), f.add().client()]
            failures: list[str] = []
            calls = [0]
            stop = threading.Event()

            def load(http: httpx.Client) -> None:
                with httpx.Client(base_url=str(http.base_url), timeout=10.0) as own:
                    while not stop.is_set():
                        r = own.get("/doc-search/v1/search", params={"q": "coffee"})
                        calls[0] += 1
                        if r.status_code != 200:
                            failures.append(f"{r.status_code}: {r.text[:200]}")

            threads = [threading.Thread(target=load, args=(clients[i % 2],)) for i in range(8)]
            for t in threads:
                t.start()
            try:
                cluster.stop()
                refused = clients[0].put(f"{GW}/routing", json={"default": {"plugin": TFIDF}})
                assert refused.status_code == 503, refused.text
                assert refused.json()["code"] == "plugins.database_unavailable"
                assert f"127.0.0.1:{cluster.port}" in refused.json()["detail"]

                def degraded() -> bool:
                    health = clients[1].get("/health").json()
                    return bool(health["components"][PLUGINS]["status"] == "degraded")

                eventually(degraded, "replica 2 reporting the database unreachable")
                time.sleep(10.0)  # an outage of 10 s under load (a duration, not an assertion)
                cluster.start()

                def written() -> bool:
                    r = clients[0].put(f"{GW}/routing", json={"default": {"plugin": TFIDF}})
                    return r.status_code == 200

                eventually(written, "an admin write once the database is back")
                converge(clients, revision(clients[0]))
            finally:
                stop.set()
                for t in threads:
                    t.join()
            assert failures == [] and calls[0] > 0
        finally:
            f.close()


def test_a_replica_started_after_a_change_serves_the_latest_at_once(fleet: Fleet) -> None:
    clients = fleet.clients()
    number = put(clients[0], {"default": {"plugin": BM25}, "timeout": 7.0})
    late = fleet.add()
    with late.client() as http:
        assert revision(http) >= number  # right after start, no wait
        assert http.get(GW).json()["routing"].get("timeout") == 7.0
    converge([*clients, late.client()], number)


def live_count(fleet: Fleet) -> int:
    with fleet.servers[0].client() as http:
        return len(http.get("/plugins/v1/fleet").json()["replicas"])


def test_the_fleet_command_lists_every_live_replica(fleet: Fleet, tmp_path: Path) -> None:
    running = sum(s.running for s in fleet.servers)
    eventually(lambda: live_count(fleet) == running, f"{running} replicas in the fleet listing")
    assert fleet.servers[0].url is not None
    done = run_plugway("fleet", "--url", fleet.servers[0].url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"{running} live replica(s)" in done.stdout
    assert done.stdout.count("doc_search") >= running
    with fleet.servers[1].client() as http:
        listed = http.get("/plugins/v1/fleet").json()["replicas"]
    ports = {urlsplit(s.url).port for s in fleet.servers if s.running and s.url}
    assert {r["port"] for r in listed} == ports  # the bound ports (the servers ask for port 0)


def test_kill_9_of_a_replica_during_changes_leaves_no_partial_revision(fleet: Fleet) -> None:
    victim = fleet.add()
    others = [s.client() for s in fleet.servers if s is not victim and s.running]
    before = live_count(fleet)
    stop = threading.Event()

    def hammer() -> None:
        with victim.client(timeout=5.0) as http:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    http.put(f"{GW}/routing", json={"default": {"plugin": TFIDF}, "timeout": i})
                except httpx.HTTPError:
                    return  # killed under us

    writer = threading.Thread(target=hammer)
    writer.start()
    eventually(lambda: revision(others[0]) >= 3, "the doomed replica's first changes")
    victim.kill()
    stop.set()
    writer.join()
    history = others[0].get(f"{GW}/revisions", params={"limit": 1000}).json()["revisions"]
    numbers = [r["revision"] for r in history]
    assert numbers == list(range(numbers[0], 0, -1))
    for r in history:  # each one whole: a valid routing document, who and what recorded
        parse_routing(r["routing"])
        assert r["who"] and r["what"]
    converge(others, numbers[0])
    put(others[0], {"default": {"plugin": BM25}})  # the fleet goes on without it
    eventually(lambda: live_count(fleet) == before - 1, "the dead replica leaving the listing")
