"""Two replicas in one process over one real PostgreSQL: a change on one is served by the other
(LISTEN/NOTIFY, or the reconcile when a notification is missed), registry writes reach the
other, the fleet is listed from either, routing to a plugin a replica lacks is refused."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from plugins_module_support import AUTH, BM25, TFIDF, catalog_of, installed, running

from _postgres import ThrowawayCluster
from plugway.cli._fleet import render
from plugway.modkit import Runtime
from plugway.plugins import GatewayManager
from plugway.plugins._pg_revisions import PostgresRevisionStore

GW = "/plugins/v1/gateways/doc_search"
PLUGINS = "gts.x.core.plugins.health.v1~"
Replica = tuple[Runtime, httpx.AsyncClient]


async def eventually(check: Callable[[], Awaitable[bool]], what: str, limit: float = 15.0) -> None:
    """Wait (bounded) until ``check`` holds; fails naming ``what``. Not a timing assertion."""
    deadline = asyncio.get_running_loop().time() + limit
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"never happened within {limit}s: {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def fleet(
    tmp_path: Path,
    url: str,
    count: int = 2,
    *,
    catalogs: list[Any] | None = None,
    plugins: dict[str, Any] | None = None,
) -> AsyncIterator[list[Replica]]:
    settings = {"registry": {"backend": "postgresql", "url": url}}
    async with AsyncExitStack() as stack:
        replicas = []
        for i in range(count):
            catalog = catalogs[i] if catalogs else None
            replica = await stack.enter_async_context(
                running(tmp_path / f"r{i}", plugins, settings=settings, catalog=catalog)
            )
            replica[0].hub.get(GatewayManager).start_fleet()  # what the run phase does
            replicas.append(replica)
        yield replicas


async def revision(http: httpx.AsyncClient) -> int:
    got: int = (await http.get(GW)).json()["revision"]
    return got


async def test_a_put_on_one_replica_is_served_by_the_other(
    tmp_path: Path, postgres_url: str
) -> None:
    async with fleet(tmp_path, postgres_url) as [(_, one), (_, two)]:
        put = await one.put(f"{GW}/routing", json={"default": {"plugin": TFIDF}}, headers=AUTH)
        assert put.status_code == 200, put.text
        number: int = put.json()["revision"]

        async def served() -> bool:
            return await revision(two) == number

        await eventually(served, f"replica 2 serving revision {number}")
        doc = (await two.get(GW)).json()
        assert doc["routing"]["default"] == {"plugin": TFIDF}
        health = (await two.get("/health")).json()["components"][PLUGINS]
        assert health["gateways"]["doc_search"]["revision"] == number
        assert health["fleet"]["connected"] is True and "password" not in str(health)
        explain = await two.get(f"{GW}/explain", params={"tenant_id": "t"})
        assert explain.json()["plugin"] == TFIDF


async def test_concurrent_puts_on_two_replicas_give_one_history_both_end_on_the_last(
    tmp_path: Path, postgres_url: str
) -> None:
    async with fleet(tmp_path, postgres_url) as [(_, one), (_, two)]:
        for i in range(5):
            docs = [{"default": {"plugin": p}, "timeout": 1.0 + i} for p in (BM25, TFIDF)]
            a, b = await asyncio.gather(
                one.put(f"{GW}/routing", json=docs[0], headers=AUTH),
                two.put(f"{GW}/routing", json=docs[1], headers=AUTH),
            )
            assert a.status_code == b.status_code == 200, (a.text, b.text)
            assert a.json()["revision"] != b.json()["revision"]
        history = (await one.get(f"{GW}/revisions", params={"limit": 100})).json()["revisions"]
        numbers = [r["revision"] for r in history]
        assert numbers == list(range(numbers[0], 0, -1))  # linear: no gap, no duplicate
        last: int = numbers[0]

        async def converged() -> bool:
            return await revision(one) == last and await revision(two) == last

        await eventually(converged, f"both replicas serving revision {last}")


async def test_a_missed_notification_is_healed_by_the_reconcile(
    tmp_path: Path, postgres_url: str
) -> None:
    async with fleet(tmp_path, postgres_url) as [(_, one), (_, two)]:
        before = await revision(two)
        store = PostgresRevisionStore(postgres_url)
        with psycopg.connect(store.conninfo, autocommit=True) as c:  # a write without NOTIFY
            c.execute(
                "INSERT INTO routing_revisions (gateway, number, routing, who, what) "
                "VALUES ('doc_search', %s, %s, 'test', 'no notification')",
                (before + 1, f'{{"default": {{"plugin": "{TFIDF}"}}}}'),
            )
        store.close()

        async def healed() -> bool:
            return await revision(one) == before + 1 and await revision(two) == before + 1

        await eventually(healed, "the reconcile bringing both replicas to the new revision")


async def test_a_plugin_removed_on_one_replica_leaves_the_other_recorded_once(
    tmp_path: Path, postgres_url: str
) -> None:
    async with fleet(tmp_path, postgres_url) as [(_, one), (_, two)]:
        gone = await one.delete(f"{GW}/plugins/{TFIDF}", headers=AUTH)
        assert gone.status_code == 200, gone.text

        async def left() -> bool:
            ids = [p["id"] for p in (await two.get(GW)).json()["plugins"]]
            return TFIDF not in ids

        await eventually(left, "plugin tfidf leaving replica 2")
        history = (await two.get(f"{GW}/revisions")).json()["revisions"]
        assert [r["who"] for r in history].count("registry") == 1


async def test_the_fleet_lists_every_live_replica_and_routing_to_a_missing_plugin_is_refused(
    tmp_path: Path, postgres_url: str
) -> None:
    # replica 2 lacks the tfidf ranker's implementation
    without_tfidf = catalog_of(
        lambda: [ep for ep in installed()() if "tfidf" not in ep.name and "tfidf" not in ep.value]
    )
    catalogs = [catalog_of(), without_tfidf]
    async with fleet(tmp_path, postgres_url, catalogs=catalogs) as [(r1, one), (r2, two)]:
        for runtime in (r1, r2):
            fl = runtime.hub.get(GatewayManager).fleet
            assert fl is not None
            fl.heartbeat()
        listing = (await two.get("/plugins/v1/fleet")).json()
        ids = {
            r1.hub.get(GatewayManager).fleet.directory.replica_id,  # type: ignore[union-attr]
            r2.hub.get(GatewayManager).fleet.directory.replica_id,  # type: ignore[union-attr]
        }
        assert {r["replica_id"] for r in listing["replicas"]} == ids
        lacking = r2.hub.get(GatewayManager).fleet.directory.replica_id  # type: ignore[union-attr]
        by_id = {r["replica_id"]: r for r in listing["replicas"]}
        assert TFIDF not in by_id[lacking]["plugins"]["doc_search"]
        assert all(isinstance(r["served"]["doc_search"], int) for r in listing["replicas"])
        table = render(listing)
        assert all(i in table for i in ids) and "2 live replica(s)" in table

        doc = {"default": {"plugin": TFIDF}}
        refused = await one.put(f"{GW}/routing", json=doc, headers=AUTH)
        assert refused.status_code == 422, refused.text
        assert lacking in refused.text and TFIDF in refused.text
        accepted = await one.put(
            f"{GW}/routing", json=doc, params={"allow_missing": "true"}, headers=AUTH
        )
        assert accepted.status_code == 200, accepted.text
        assert lacking in " ".join(accepted.json()["warnings"])
        number: int = accepted.json()["revision"]

        async def followed() -> bool:
            return await revision(two) == number

        await eventually(followed, "replica 2 following the revision it cannot fully serve")
        full = (await two.get(GW)).json()
        assert any(TFIDF in w for w in full["warnings"])
        explain = (await two.get(f"{GW}/explain", params={"tenant_id": "t"})).json()
        assert explain["plugin"] != TFIDF


async def test_an_outage_keeps_every_replica_serving_and_they_converge_when_it_ends(
    tmp_path: Path,
) -> None:
    with ThrowawayCluster() as cluster:
        async with fleet(tmp_path, cluster.url) as [(_, one), (_, two)]:
            cluster.stop()

            async def degraded() -> bool:
                health = (await two.get("/health")).json()["components"][PLUGINS]
                return bool(health["status"] == "degraded" and not health["fleet"]["connected"])

            await eventually(degraded, "replica 2 reporting the database unreachable")
            for http in (one, two):  # no gateway call fails for it
                for q in ("coffee", "tea", "x"):
                    assert (await http.get("/doc-search/v1/search", params={"q": q})).is_success
            refused = await one.put(
                f"{GW}/routing", json={"default": {"plugin": TFIDF}}, headers=AUTH
            )
            assert refused.status_code == 503, refused.text
            problem = refused.json()
            assert problem["code"] == "plugins.database_unavailable"
            assert f"127.0.0.1:{cluster.port}" in problem["detail"]
            assert (await two.get("/plugins/v1/fleet")).status_code == 503

            cluster.start()

            async def written() -> bool:
                put = await one.put(
                    f"{GW}/routing", json={"default": {"plugin": TFIDF}}, headers=AUTH
                )
                return put.status_code == 200

            await eventually(written, "an admin write succeeding once the database is back")
            latest = (await one.get(GW)).json()["revision"]

            async def converged() -> bool:
                health = (await two.get("/health")).json()["components"][PLUGINS]
                return bool(health["fleet"]["connected"] and await revision(two) == latest)

            await eventually(converged, f"replica 2 back and serving revision {latest}")


def _edit(config: Path, plugin: str) -> None:
    routing = {"default": {"plugin": plugin}}
    doc = {"plugins": {"gateways": {"doc_search": {"routing": routing}}}}
    config.write_text(yaml.safe_dump(doc), encoding="utf-8")
    stamp = config.stat()
    os.utime(config, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))


async def test_a_config_file_edit_read_by_every_replica_is_applied_once(
    tmp_path: Path, postgres_url: str
) -> None:
    config = tmp_path / "config.yaml"
    _edit(config, BM25)
    plugins = {"config_file": str(config), "watch": False}
    async with fleet(tmp_path, postgres_url, plugins=plugins) as [(r1, one), (r2, two)]:
        _edit(config, TFIDF)
        for runtime in (r1, r2):
            assert runtime.hub.get(GatewayManager).check_config_file()
        history = (await one.get(f"{GW}/revisions")).json()["revisions"]
        assert [r["who"] for r in history].count("config-file") == 1
        number = history[0]["revision"]
        assert await revision(one) == await revision(two) == number


async def test_a_config_edit_made_during_an_outage_is_applied_when_the_database_is_back(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    _edit(config, BM25)
    plugins = {"config_file": str(config), "watch": False}
    with ThrowawayCluster() as cluster:
        async with fleet(tmp_path, cluster.url, plugins=plugins) as [(r1, one), (_, two)]:
            before = await revision(one)
            cluster.stop()
            _edit(config, TFIDF)
            manager = r1.hub.get(GatewayManager)
            assert await asyncio.to_thread(manager.check_config_file)
            doc_search = manager.get("doc_search")
            assert doc_search is not None and "not applied yet" in str(doc_search.config_error)
            assert await revision(one) == before  # still serving
            cluster.start()

            async def applied() -> bool:
                return (
                    doc_search.config_error is None
                    and await revision(one) > before
                    and await revision(two) == await revision(one)
                )

            await eventually(applied, "the held-back edit applied on both replicas")
            assert (await two.get(GW)).json()["routing"]["default"] == {"plugin": TFIDF}


async def test_a_malformed_notification_leaves_the_listeners_following(
    tmp_path: Path, postgres_url: str
) -> None:
    async with fleet(tmp_path, postgres_url) as [(_, one), (r2, two)]:
        with psycopg.connect(postgres_url, autocommit=True) as c:
            for channel in ("plugway_routing", "plugway_registry"):
                for payload in ("garbage", "doc_search:x", ":"):
                    c.execute("SELECT pg_notify(%s, %s)", (channel, payload))
        fl = r2.hub.get(GatewayManager).fleet
        assert fl is not None

        async def heard() -> bool:
            return fl.notifications >= 6

        await eventually(heard, "replica 2 receiving the malformed notifications")
        put = await one.put(f"{GW}/routing", json={"default": {"plugin": TFIDF}}, headers=AUTH)
        number: int = put.json()["revision"]

        async def served() -> bool:
            return await revision(two) == number

        await eventually(served, "replica 2 still following")
        assert fl.connected and fl.error is None
