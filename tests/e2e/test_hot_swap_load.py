"""Routing hot swaps under load against a real ``plugway serve``: no request fails.

A short, bounded version of ``bench/hot_swap.py``: 8 clients (one connection each) call
``GET /doc-search/v1/search`` back to back while 40 routing swaps go through
``PUT /plugins/v1/gateways/doc_search/routing``, alternating two valid routings (a sticky split
of subjects between the built-in rankers, bare or behind a tenant rule) with weights changing
every swap. Every request must succeed, every swap must be acknowledged with a strictly
increasing revision, and the server must end on the last one. Nothing here asserts a time: the
load stops by itself once the swaps are done (hard cap: ``LOAD_CAP`` seconds).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from _server_process import ServerFactory

TOKEN = "e2e-hot-swap-token"
CLIENTS = 8
SWAPS = 40
SWAP_SPACING = 0.05  # seconds between swaps, so requests run under several routings
TAIL = 0.3  # seconds of load after the last swap
LOAD_CAP = 12.0  # seconds: the load stops by then whatever happens
SEARCH = "/doc-search/v1/search"
ROUTING = "/plugins/v1/gateways/doc_search/routing"
QUERIES = ("rendezvous hashing", "circuit breaker", "coffee", "tenant")


@dataclass
class Load:
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    revisions_seen: set[int] = field(default_factory=set)
    served_by: set[str] = field(default_factory=set)
    fallbacks: int = 0
    acks: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def routing_doc(i: int, tfidf: str, bm25: str) -> dict[str, Any]:
    w = 10 + (i * 7) % 81
    split = {
        "key": "subject_id",
        "variants": [{"plugin": tfidf, "weight": w}, {"plugin": bm25, "weight": 100 - w}],
    }
    rules: list[dict[str, Any]] = [{"name": f"ab-{i % 2}", "split": split}]
    if i % 2:
        rules.insert(
            0, {"name": "pinned", "match": {"tenant": ["tenant-0"]}, "target": {"plugin": bm25}}
        )
    return {"rules": rules}


async def client(url: str, index: int, stop: asyncio.Event, load: Load) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10.0) as http:
        for n in itertools.count():
            if stop.is_set():
                return
            q = QUERIES[(index + n) % len(QUERIES)]
            headers = {"X-Tenant-Id": f"tenant-{index % 4}", "X-Subject-Id": f"user-{index}-{n}"}
            what = f"GET {SEARCH}?q={q} {headers}"
            load.requests += 1
            try:
                r = await http.get(SEARCH, params={"q": q, "limit": 3}, headers=headers)
            except httpx.HTTPError as exc:
                load.failures.append(f"{what} -> {exc!r}")
                continue
            if r.status_code != 200:
                load.failures.append(f"{what} -> {r.status_code} {r.text[:300]}")
                continue
            body = r.json()
            load.revisions_seen.add(body["revision"])
            load.served_by.add(body["plugin"])
            load.fallbacks += bool(body["fallback"])


async def swapper(url: str, rankers: tuple[str, str], load: Load, docs: list[Any]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10.0) as http:
        for i in range(SWAPS):
            doc = routing_doc(i, *rankers)
            r = await http.put(ROUTING, params={"comment": f"e2e swap {i}"}, json=doc)
            if r.status_code != 200:
                load.refused.append(f"swap {i}: {r.status_code} {r.text[:300]}")
            else:
                load.acks.append(r.json()["revision"])
                docs.append(r.json()["routing"])
            await asyncio.sleep(SWAP_SPACING)


async def run_load(url: str, rankers: tuple[str, str]) -> tuple[Load, list[Any]]:
    load = Load()
    docs: list[Any] = []
    stop = asyncio.Event()
    clients = [asyncio.ensure_future(client(url, i, stop, load)) for i in range(CLIENTS)]
    deadline = time.monotonic() + LOAD_CAP
    try:
        await asyncio.sleep(0.2)  # the clients are busy before the first swap
        await asyncio.wait_for(swapper(url, rankers, load, docs), timeout=LOAD_CAP - 1.0)
        await asyncio.sleep(min(TAIL, max(0.0, deadline - time.monotonic())))
    finally:
        stop.set()
        await asyncio.gather(*clients)
    return load, docs


@pytest.mark.timeout(90)
def test_routing_swaps_under_load_fail_no_request(server_factory: ServerFactory) -> None:
    srv = server_factory(config={"server": {"admin_token": TOKEN}}).start()
    assert srv.url is not None
    with srv.client() as http:
        gw = http.get("/plugins/v1/gateways/doc_search").json()
        start_revision = gw["revision"]
    ids = [p["id"] for p in gw["plugins"]]
    tfidf = next(i for i in ids if i.endswith("tfidf_ranker.plugin.v1"))
    bm25 = next(i for i in ids if i.endswith("bm25_ranker.plugin.v1"))

    load, docs = asyncio.run(run_load(srv.url, (tfidf, bm25)))

    assert load.failures == [], f"{len(load.failures)} of {load.requests} failed"
    assert load.refused == []
    assert len(load.acks) == SWAPS
    assert all(a < b for a, b in itertools.pairwise([start_revision, *load.acks])), load.acks
    assert load.fallbacks == 0  # a swap never sends a call to a fallback
    assert load.served_by == {tfidf, bm25}
    assert len(load.revisions_seen) > 1  # requests ran under several routings
    assert load.revisions_seen <= {start_revision, *load.acks}
    with srv.client() as http:
        gw = http.get("/plugins/v1/gateways/doc_search").json()
        history = http.get("/plugins/v1/gateways/doc_search/revisions", params={"limit": 5}).json()
    assert gw["revision"] == load.acks[-1]
    assert gw["routing"] == docs[-1]
    assert history["current"] == load.acks[-1]
    assert history["revisions"][0]["what"] == f"e2e swap {SWAPS - 1}"
    assert srv.running
    assert srv.stop() == 0
    assert "Traceback" not in srv.log()
