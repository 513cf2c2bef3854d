"""Helpers for the end-to-end tests of out-of-process plugins inside a real ``plugway serve``:
config documents, bounded waits, reading a gateway's plugins, routing and revisions.

Nothing here asserts on timing: every wait is a poll with a generous bound that fails with the
logs of the processes involved.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHONPATH = os.pathsep.join([str(ROOT / "tests" / "e2e"), str(ROOT / "tests" / "plugins")])
TOKEN = "remote-e2e-token"
SECRET = "remote-e2e-secret"
DS_TYPE = "gts.x.core.modkit.plugin.v1~x.plugway.doc_search.plugin.v1.1~"
BM25 = DS_TYPE + "plugway.builtin.bm25_ranker.plugin.v1"
TFIDF = DS_TYPE + "plugway.builtin.tfidf_ranker.plugin.v1"
GATEWAY = "/plugins/v1/gateways/doc_search"

T = TypeVar("T")


def server_config(doc_search: dict[str, Any] | None = None) -> dict[str, Any]:
    gateway: dict[str, Any] = {"remote_secret": SECRET, **(doc_search or {})}
    return {
        "server": {"admin_token": TOKEN},
        "plugins": {"watch": False, "gateways": {"doc_search": gateway}},
    }


def wait_for(
    check: Callable[[], T | None], what: str, logs: Callable[[], str], *, timeout: float = 60.0
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s; logs:\n{logs()[-8000:]}")


def plugin_ids(http: httpx.Client) -> set[str]:
    answer = http.get(GATEWAY)
    answer.raise_for_status()
    return {p["id"] for p in answer.json()["plugins"]}


def tenant_to_remote(plugin_id: str, *, rule: str = "hosted") -> dict[str, Any]:
    """Routing that sends tenant ``t-remote`` to ``plugin_id`` (BM25 its fallback), others to
    BM25; each call has a 2 s deadline."""
    return {
        "timeout": 2.0,
        "rules": [
            {
                "name": rule,
                "match": {"tenant": ["t-remote"]},
                "target": {"plugin": plugin_id},
                "fallback": [{"plugin": BM25}],
            },
            {"name": "rest", "target": {"plugin": BM25}},
        ],
    }


def put_routing(http: httpx.Client, routing: dict[str, Any]) -> int:
    r = http.put(f"{GATEWAY}/routing", json=routing)
    assert r.status_code == 200, r.text
    revision: int = r.json()["revision"]
    return revision


def revisions(http: httpx.Client) -> list[dict[str, Any]]:
    answer = http.get(f"{GATEWAY}/revisions")
    answer.raise_for_status()
    revs: list[dict[str, Any]] = answer.json()["revisions"]
    return revs


def search(http: httpx.Client, tenant: str, q: str = "circuit breaker") -> dict[str, Any]:
    r = http.get(
        "/doc-search/v1/search", params={"q": q, "limit": 3}, headers={"X-Tenant-Id": tenant}
    )
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def assign(http: httpx.Client, values: list[str], key: str = "tenant_id") -> list[str | None]:
    """The plugin serving each value of ``key`` (explain-bulk, 100,000 values at most a call)."""
    out: list[str | None] = []
    for start in range(0, len(values), 100_000):
        chunk = values[start : start + 100_000]
        r = http.post(f"{GATEWAY}/explain-bulk", json={"key": key, "values": chunk}, timeout=120)
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body["plugins"][i] for i in body["assignments"])
    return out
