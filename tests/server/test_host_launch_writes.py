"""What a supervised host's launch token may register over REST: its own plugins, at its own URL.

Two hosts of one gateway, each with the token of its launch: neither can register a plugin id
the other holds, an endpoint that is not its own, an instance of another contract, or an
instance the admin registered; what each may register is stamped with its name. The shared
host token may not forge that stamp. A token stops working once its launch is over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from plugway.modules.types_registry import _routes, build_router
from plugway.plugins._host_credentials import GatewayHosts, HostCredentials
from plugway.registry import RegistryNotFoundError, TypesRegistry, open_backend
from plugway.server import install_problem_handlers

BASE = "/types-registry/v1"
ADMIN = "admin-token"
SHARED = "shared-host-token"
CONTRACT = "gts.x.core.modkit.plugin.v1~acme.search.docs.plugin.v1~"
OTHER_CONTRACT = "gts.x.core.modkit.plugin.v1~acme.search.other.plugin.v1~"
ONE_URL = "http://127.0.0.1:7001"
TWO_URL = "http://127.0.0.1:7002"


def _contract(type_id: str) -> dict[str, Any]:
    return {
        "$id": f"gts://{type_id}",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "allOf": [{"$ref": "gts://gts.x.core.modkit.plugin.v1~"}, {"type": "object"}],
    }


def _plugin(name: str, url: str, *, type_id: str = CONTRACT, **endpoint: Any) -> dict[str, Any]:
    return {
        "id": f"{type_id}acme.search.{name}.plugin.v1",
        "vendor": "acme",
        "priority": 1,
        "properties": {},
        "endpoint": {"url": url, "path": f"/{name}", "protocol": "plugway-http/1", **endpoint},
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Fleet:
    """The registry's REST face with two supervised hosts of gateway ``docs`` listening."""

    client: httpx.AsyncClient

    def __init__(self, registry: TypesRegistry) -> None:
        self.registry = registry
        self.launches = HostCredentials()
        self.docs: GatewayHosts = self.launches.gateway("docs", CONTRACT)
        self.one = self.docs.issue("one")
        self.docs.listening("one", ONE_URL)
        self.two = self.docs.issue("two")
        self.docs.listening("two", TWO_URL)

    async def post(self, token: str, *docs: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"{BASE}/entities", json=list(docs), headers=_bearer(token))

    def stored(self, doc: dict[str, Any]) -> dict[str, Any]:
        return dict(self.registry.get(doc["id"]).content)


def _app(registry: TypesRegistry, launches: HostCredentials, *, protect: bool = True) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(
        build_router(
            lambda: registry,
            admin_token=ADMIN if protect else None,
            host_token=SHARED if protect else None,
            launches=launches,
            protect_writes=protect,
        )
    )
    return app


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[TypesRegistry]:
    reg = TypesRegistry(open_backend("sqlite", tmp_path / "r.sqlite3"))
    try:
        yield reg
    finally:
        reg.close()


@pytest.fixture
async def fleet(registry: TypesRegistry) -> AsyncIterator[Fleet]:
    registry.switch_to_ready()
    registry.register_many([_contract(CONTRACT), _contract(OTHER_CONTRACT)])
    f = Fleet(registry)
    transport = httpx.ASGITransport(app=_app(registry, f.launches))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        f.client = client
        yield f


def _results(resp: httpx.Response) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = resp.json()["results"]
    return results


async def test_a_launch_registers_its_own_plugin_stamped_with_its_host(fleet: Fleet) -> None:
    bm25 = _plugin("bm25", ONE_URL)
    ok = await fleet.post(fleet.one, bm25)
    assert ok.status_code == 201, ok.text
    assert fleet.stored(bm25)["endpoint"]["host"] == "docs/one"
    again = await fleet.post(fleet.one, bm25)  # a heartbeat: the same document, the same stamp
    assert again.status_code == 200, again.text


async def test_another_host_cannot_take_a_plugin_id_nor_send_it_elsewhere(fleet: Fleet) -> None:
    bm25 = _plugin("bm25", ONE_URL)
    assert (await fleet.post(fleet.one, bm25)).status_code == 201
    hijack = _plugin("bm25", TWO_URL)
    own = _plugin("tfidf", TWO_URL)
    resp = await fleet.post(fleet.two, own, hijack)
    assert resp.status_code == 207, resp.text
    first, second = _results(resp)
    assert first["ok"] and first["created"]  # its own plugin registers as usual
    assert not second["ok"] and second["status"] == 403 and second["code"] == "auth.forbidden"
    assert second["gts_id"] == bm25["id"]
    assert "served by supervised host docs/one" in second["error"]
    assert fleet.stored(bm25)["endpoint"] == {**bm25["endpoint"], "host": "docs/one"}
    # nor point its own plugin at the other's URL
    moved = await fleet.post(fleet.two, _plugin("tfidf", ONE_URL))
    (result,) = _results(moved)
    assert result["status"] == 403 and f"({TWO_URL})" in result["error"], result
    assert fleet.stored(own)["endpoint"]["url"] == TWO_URL


async def test_a_launch_registers_its_own_gateways_contract_only(fleet: Fleet) -> None:
    foreign = _plugin("bm25", TWO_URL, type_id=OTHER_CONTRACT)
    (result,) = _results(await fleet.post(fleet.two, foreign))
    assert result["status"] == 403 and CONTRACT in result["error"], result
    with pytest.raises(RegistryNotFoundError):
        fleet.stored(foreign)


async def test_an_instance_the_admin_registered_is_not_a_hosts_to_take(fleet: Fleet) -> None:
    by_hand = _plugin("manual", "http://127.0.0.1:7999")
    created = await fleet.post(ADMIN, by_hand)
    assert created.status_code == 201, created.text
    (result,) = _results(await fleet.post(fleet.two, _plugin("manual", TWO_URL)))
    assert result["status"] == 403 and "remove it with the admin token" in result["error"]
    assert fleet.stored(by_hand)["endpoint"]["url"] == "http://127.0.0.1:7999"
    removed = await fleet.client.delete(f"{BASE}/entities/{by_hand['id']}", headers=_bearer(ADMIN))
    assert removed.status_code == 200, removed.text
    ok = await fleet.post(fleet.two, _plugin("manual", TWO_URL))
    assert ok.status_code == 201, ok.text


async def test_the_shared_host_token_cannot_forge_the_stamp(fleet: Fleet) -> None:
    forged = _plugin("forged", "http://127.0.0.1:7100", host="docs/one")
    (result,) = _results(await fleet.post(SHARED, forged))
    assert result["status"] == 403 and "endpoint.host is set by the server" in result["error"]
    plain = _plugin("plain", "http://127.0.0.1:7100")
    assert (await fleet.post(SHARED, plain)).status_code == 201
    assert "host" not in fleet.stored(plain)["endpoint"]


async def test_a_token_ends_with_its_launch_and_a_forgotten_host_frees_its_ids(
    fleet: Fleet,
) -> None:
    bm25 = _plugin("bm25", ONE_URL)
    assert (await fleet.post(fleet.one, bm25)).status_code == 201
    fleet.docs.ended("one")  # the launch exited
    gone = await fleet.post(fleet.one, bm25)
    assert gone.status_code == 401, gone.text
    (held,) = _results(await fleet.post(fleet.two, _plugin("bm25", TWO_URL)))
    assert held["status"] == 403  # between launches the host still holds its plugin
    relaunch = fleet.docs.issue("one")
    fleet.docs.listening("one", "http://127.0.0.1:7003")
    assert (await fleet.post(relaunch, _plugin("bm25", "http://127.0.0.1:7003"))).is_success
    fleet.docs.forget("one")  # no longer supervised (its package is gone)
    taken = await fleet.post(fleet.two, _plugin("bm25", TWO_URL))
    assert taken.is_success and _results(taken)[0]["ok"], taken.text
    assert fleet.stored(bm25)["endpoint"]["host"] == "docs/two"


async def test_a_host_registers_at_most_its_max_plugins_ids(fleet: Fleet) -> None:
    small = fleet.docs.issue("small", max_plugins=2)
    url = "http://127.0.0.1:7006"
    fleet.docs.listening("small", url)
    docs = [_plugin(f"p{i}", url) for i in range(3)]
    resp = await fleet.post(small, *docs)
    assert resp.status_code == 207, resp.text
    results = _results(resp)
    assert [r["ok"] for r in results] == [True, True, False]
    assert "docs/small holds 2 plugin ids already" in results[2]["error"]
    assert (await fleet.post(small, *docs[:2])).status_code == 200  # its heartbeat still passes


async def test_a_registration_before_the_handshake_waits_for_it(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    early = fleet.docs.issue("three")
    url = "http://127.0.0.1:7004"

    async def handshake_later() -> None:
        await asyncio.sleep(0.2)
        fleet.docs.listening("three", url)

    later = asyncio.ensure_future(handshake_later())
    ok = await fleet.post(early, _plugin("early", url))
    await later
    assert ok.status_code == 201, ok.text
    monkeypatch.setattr(_routes, "_HANDSHAKE_WAIT", 0.1)
    silent = fleet.docs.issue("four")
    resp = await fleet.post(silent, _plugin("silent", "http://127.0.0.1:7005"))
    assert resp.status_code == 503 and resp.headers["retry-after"] == "1", resp.text
    assert "docs/four has not handshaken" in resp.json()["detail"]


async def test_open_writes_still_stamp_and_check_a_launch(registry: TypesRegistry) -> None:
    registry.switch_to_ready()
    registry.register_many([_contract(CONTRACT)])
    launches = HostCredentials()
    docs = launches.gateway("docs", CONTRACT)
    one = docs.issue("one")
    docs.listening("one", ONE_URL)
    two = docs.issue("two")
    docs.listening("two", TWO_URL)
    transport = httpx.ASGITransport(app=_app(registry, launches, protect=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        bm25 = _plugin("bm25", ONE_URL)
        url = f"{BASE}/entities"
        assert (await c.post(url, json=[bm25], headers=_bearer(one))).status_code == 201
        assert registry.get(bm25["id"]).content["endpoint"]["host"] == "docs/one"
        hijack = await c.post(url, json=[_plugin("bm25", TWO_URL)], headers=_bearer(two))
        assert _results(hijack)[0]["status"] == 403
        anyone = await c.post(url, json=[_contract(OTHER_CONTRACT)])  # writes are open
        assert anyone.status_code == 201, anyone.text
