"""The types registry REST face in-process, over a real registry (memory and SQLite).

503 before ready is observable here (the registry exists but has not switched), which a real
server process hides because it only serves after start-up.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_docs import ORDER_TYPE, instance_doc, type_doc
from fastapi import FastAPI

from plugway.modules.types_registry import build_router
from plugway.registry import TypesRegistry, open_backend
from plugway.server import PROBLEM_CONTENT_TYPE, install_problem_handlers

BASE = "/types-registry/v1"
TOKEN = "s3cret-token"


@pytest.fixture(params=["memory", "sqlite"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TypesRegistry]:
    kind = request.param
    backend = open_backend(kind, tmp_path / "r.sqlite3" if kind == "sqlite" else None)
    reg = TypesRegistry(backend)
    try:
        yield reg
    finally:
        reg.close()


def _app(registry: TypesRegistry | None, **kwargs: Any) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(build_router(lambda: registry, **kwargs))
    return app


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
async def client(registry: TypesRegistry) -> AsyncIterator[httpx.AsyncClient]:
    registry.switch_to_ready()
    async with await _client(_app(registry, max_batch=50, max_page=20)) as c:
        yield c


def _problem(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
    body: dict[str, Any] = resp.json()
    assert body["code"] == code
    return body


async def test_503_until_the_registry_is_ready(registry: TypesRegistry) -> None:
    async with await _client(_app(registry)) as c:
        registry.register(type_doc())  # configuration phase: stored, not yet served
        for resp in (
            await c.get(f"{BASE}/entities"),
            await c.get(f"{BASE}/entities/{ORDER_TYPE}"),
            await c.post(f"{BASE}/entities", json=[instance_doc("o1")]),
        ):
            _problem(resp, 503, "registry.not_ready")
            assert resp.headers["retry-after"] == "1"
        registry.switch_to_ready()
        resp = await c.get(f"{BASE}/entities/{ORDER_TYPE}")
        assert resp.status_code == 200
        assert resp.json()["kind"] == "type"


async def test_503_when_there_is_no_registry_yet() -> None:
    async with await _client(_app(None)) as c:
        _problem(await c.get(f"{BASE}/entities"), 503, "registry.not_ready")


async def test_bulk_register_gives_a_result_per_item(client: httpx.AsyncClient) -> None:
    batch = [type_doc(), instance_doc("o1", 5), {"no": "id"}, 7, instance_doc("o2", 1)]
    resp = await client.post(f"{BASE}/entities", json=batch)
    assert resp.status_code == 207
    body = resp.json()
    assert body["summary"] == {"total": 5, "succeeded": 3, "failed": 2, "created": 3}
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["ok"] for r in results] == [True, True, False, False, True]
    assert [r["status"] for r in results] == [201, 201, 400, 400, 201]
    assert results[2]["code"] == results[3]["code"] == "registry.invalid_id"
    assert results[2]["error"]
    assert results[0]["gts_id"] == ORDER_TYPE

    # Same content again: idempotent, 200 and created False.
    again = await client.post(f"{BASE}/entities", json=[type_doc(), instance_doc("o1", 5)])
    assert again.status_code == 200
    assert [r["status"] for r in again.json()["results"]] == [200, 200]
    assert again.json()["summary"]["created"] == 0


async def test_conflict_and_validation_per_item(client: httpx.AsyncClient) -> None:
    first = await client.post(f"{BASE}/entities", json=[type_doc(), instance_doc("o1", 5)])
    assert first.status_code == 201
    resp = await client.post(
        f"{BASE}/entities",
        json=[instance_doc("o1", 6), {"id": f"{ORDER_TYPE}acme.shop.orders.o3.v1", "total": "x"}],
    )
    assert resp.status_code == 207
    r0, r1 = resp.json()["results"]
    assert (r0["status"], r0["code"]) == (409, "registry.conflict")
    assert (r1["status"], r1["code"]) == (422, "registry.validation_failed")
    # The conflicting write changed nothing.
    got = await client.get(f"{BASE}/entities/{ORDER_TYPE}acme.shop.orders.o1.v1")
    assert got.json()["content"]["total"] == 5


async def test_get_shapes_and_errors(client: httpx.AsyncClient) -> None:
    await client.post(f"{BASE}/entities", json=[type_doc(), instance_doc("o1", 5)])
    resp = await client.get(f"{BASE}/entities/{ORDER_TYPE}acme.shop.orders.o1.v1")
    assert resp.status_code == 200
    body = resp.json()
    assert body["kind"] == "instance"
    assert body["type_id"] == ORDER_TYPE
    assert (body["vendor"], body["package"], body["namespace"]) == ("acme", "shop", "orders")
    assert body["content"] == instance_doc("o1", 5)
    assert len(body["uuid"]) == 36
    assert body["revision"] >= 1
    _problem(
        await client.get(f"{BASE}/entities/{ORDER_TYPE}acme.shop.orders.none.v1"),
        404,
        "registry.not_found",
    )
    body = _problem(await client.get(f"{BASE}/entities/not-a-gts-id"), 400, "registry.invalid_id")
    assert body["errors"][0]["field"] == "path.gts_id"


async def test_list_filters(client: httpx.AsyncClient) -> None:
    other = "gts.globex.crm.people.person.v1~"
    docs = [type_doc(), type_doc(other)] + [instance_doc(f"o{i}", i) for i in range(5)]
    assert (await client.post(f"{BASE}/entities", json=docs)).status_code == 201

    async def ids(**params: Any) -> list[str]:
        resp = await client.get(f"{BASE}/entities", params=params)
        assert resp.status_code == 200, resp.text
        return [item["gts_id"] for item in resp.json()["items"]]

    assert len(await ids(pattern="gts.acme.*", kind="instance")) == 5
    assert await ids(pattern="gts.acme.*", kind="type") == [ORDER_TYPE]
    assert await ids(vendor="globex") == [other]
    assert await ids(package="crm", kind="type") == [other]
    assert len(await ids(namespace="orders")) == 6
    assert await ids(pattern=f"{ORDER_TYPE}acme.shop.orders.o3.v1") == [
        f"{ORDER_TYPE}acme.shop.orders.o3.v1"
    ]
    # The registry's own base plugin type is listed too.
    assert "gts.x.core.modkit.plugin.v1~" in await ids(kind="type")


async def test_list_pages_with_a_cursor(client: httpx.AsyncClient) -> None:
    docs = [type_doc()] + [instance_doc(f"o{i:02d}", i) for i in range(25)]
    await client.post(f"{BASE}/entities", json=docs)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"pattern": "gts.acme.*", "kind": "instance", "limit": 10}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get(f"{BASE}/entities", params=params)).json()
        seen += [item["gts_id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 25


async def test_list_refuses_bad_input(client: httpx.AsyncClient) -> None:
    body = _problem(
        await client.get(f"{BASE}/entities", params={"patern": "gts.acme.*"}),
        400,
        "request.invalid",
    )
    assert body["errors"][0]["field"] == "query.patern"
    body = _problem(
        await client.get(f"{BASE}/entities", params={"kind": "schema"}), 400, "request.invalid"
    )
    assert body["errors"][0]["field"] == "query.kind"
    body = _problem(
        await client.get(f"{BASE}/entities", params={"limit": 21}), 400, "request.invalid"
    )
    assert body["errors"][0]["field"] == "query.limit"
    body = _problem(
        await client.get(f"{BASE}/entities?vendor=acme&vendor=globex"), 400, "request.invalid"
    )
    assert body["errors"][0] == {
        "field": "query.vendor",
        "message": "given more than once",
        "code": "repeated_parameter",
    }
    # what only the registry can judge still names the offending parameter
    for params, field in (
        ({"pattern": "gts.acme.*.x"}, "query.pattern"),
        ({"cursor": "garbage"}, "query.cursor"),
        ({"vendor": "ACME"}, "query.vendor"),
        ({"namespace": "a-b"}, "query.namespace"),
    ):
        body = _problem(
            await client.get(f"{BASE}/entities", params=params),
            400,
            "registry.invalid_query",
        )
        assert [e["field"] for e in body["errors"]] == [field], params
        assert repr(next(iter(params.values()))) in body["errors"][0]["message"]


async def test_post_refuses_bad_bodies(client: httpx.AsyncClient) -> None:
    body = _problem(
        await client.post(f"{BASE}/entities", json={"entities": []}), 400, "request.invalid"
    )
    assert body["errors"][0]["field"] == "body"
    _problem(
        await client.post(f"{BASE}/entities", json=[instance_doc(f"o{i}") for i in range(51)]),
        413,
        "request.too_large",
    )
    empty = await client.post(f"{BASE}/entities", json=[])
    assert empty.status_code == 200
    assert empty.json()["summary"]["total"] == 0


async def test_writes_need_the_admin_token_when_one_is_set(registry: TypesRegistry) -> None:
    registry.switch_to_ready()
    async with await _client(_app(registry, admin_token=TOKEN)) as c:
        resp = await c.post(f"{BASE}/entities", json=[type_doc()])
        _problem(resp, 401, "auth.unauthorized")
        assert resp.headers["www-authenticate"] == "Bearer"
        wrong = {"Authorization": "Bearer nope"}
        _problem(
            await c.post(f"{BASE}/entities", json=[type_doc()], headers=wrong),
            401,
            "auth.unauthorized",
        )
        ok = await c.post(
            f"{BASE}/entities", json=[type_doc()], headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert ok.status_code == 201
        # Reads stay open.
        assert (await c.get(f"{BASE}/entities/{ORDER_TYPE}")).status_code == 200
        # OpenAPI says which routes take the token, so /docs offers "Authorize" for them
        spec = (await c.get("/openapi.json")).json()
        scheme = spec["components"]["securitySchemes"]["admin_token"]
        assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
        paths = spec["paths"]
        assert paths[f"{BASE}/entities"]["post"]["security"] == [{"admin_token": []}]
        assert "security" not in paths[f"{BASE}/entities"]["get"]
        assert "security" not in paths[f"{BASE}/entities/{{gts_id}}"]["get"]


async def test_a_lone_surrogate_is_refused_per_item_not_a_500(client: httpx.AsyncClient) -> None:
    """``"\\ud800"`` is valid JSON but not storable text: the item fails, the batch does not."""
    body = (
        "["
        + json.dumps(type_doc())
        + ', {"id": "' + ORDER_TYPE + 'acme.shop.orders.o1.v1", "note": "x\\ud800y"}'
        + ', {"id": "gts.acme.shop.\\udc00.order.v1~acme.shop.orders.o2.v1"}'
        + ", " + json.dumps(instance_doc("o3"))
        + "]"
    )  # fmt: skip
    resp = await client.post(
        f"{BASE}/entities", content=body, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 207, resp.text
    results = resp.json()["results"]
    assert [r["ok"] for r in results] == [True, False, False, True]
    assert (results[1]["status"], results[1]["code"]) == (400, "registry.invalid_content")
    assert "note" in results[1]["error"] and "\\ud800" in results[1]["error"]
    assert results[2]["status"] == 400 and "\\udc00" in results[2]["error"]
    missing = await client.get(f"{BASE}/entities/{ORDER_TYPE}acme.shop.orders.o1.v1")
    _problem(missing, 404, "registry.not_found")


async def test_a_non_ascii_bearer_token_is_a_401_not_a_500(registry: TypesRegistry) -> None:
    registry.switch_to_ready()
    async with await _client(_app(registry, admin_token=TOKEN)) as c:
        for offered in (b"Bearer \xc3\xa9t\xc3\xa9", b"Bearer \xff", "Bearer é".encode("latin-1")):
            resp = await c.post(
                f"{BASE}/entities", json=[type_doc()], headers={b"Authorization": offered}
            )
            _problem(resp, 401, "auth.unauthorized")
    # a token that is itself non-ASCII works when sent as its UTF-8 octets
    async with await _client(_app(registry, admin_token="tökén")) as c:
        good = {b"Authorization": "Bearer tökén".encode()}
        assert (await c.post(f"{BASE}/entities", json=[], headers=good)).status_code == 200


async def test_a_body_too_deep_to_parse_is_a_request_invalid_problem(
    client: httpx.AsyncClient,
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000  # beyond the JSON parser's recursion limit
    resp = await client.post(
        f"{BASE}/entities", content=deep, headers={"content-type": "application/json"}
    )
    _problem(resp, 400, "request.invalid")


HOST_TOKEN = "host-only-token"
_CONTRACT = "gts.x.core.modkit.plugin.v1~acme.search.docs.plugin.v1~"


async def test_the_host_token_registers_plugin_instances_and_nothing_else(
    registry: TypesRegistry,
) -> None:
    registry.switch_to_ready()
    contract = {
        "$id": f"gts://{_CONTRACT}",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "allOf": [{"$ref": "gts://gts.x.core.modkit.plugin.v1~"}, {"type": "object"}],
    }
    plugin = {
        "id": f"{_CONTRACT}acme.search.bm25.plugin.v1",
        "vendor": "acme",
        "priority": 1,
        "properties": {},
    }
    admin = {"Authorization": f"Bearer {TOKEN}"}
    host = {"Authorization": f"Bearer {HOST_TOKEN}"}
    app = _app(registry, admin_token=TOKEN, host_token=HOST_TOKEN)
    async with await _client(app) as c:
        # a contract type is the admin's to register, not a host's
        body = _problem(
            await c.post(f"{BASE}/entities", json=[contract], headers=host), 403, "auth.forbidden"
        )
        assert _CONTRACT in body["detail"] and "item 0" in body["detail"]
        assert (await c.post(f"{BASE}/entities", json=[contract], headers=admin)).status_code == 201
        ok = await c.post(f"{BASE}/entities", json=[plugin], headers=host)
        assert ok.status_code == 201, ok.text
        # a batch with anything but plugin instances is refused whole, naming the first other
        mixed = [plugin, instance_doc("o1")]
        body = _problem(
            await c.post(f"{BASE}/entities", json=mixed, headers=host), 403, "auth.forbidden"
        )
        assert "item 1" in body["detail"]
        # nor a document whose id names a type, schema or not
        named_type = [{"id": _CONTRACT, "vendor": "acme"}]
        _problem(
            await c.post(f"{BASE}/entities", json=named_type, headers=host), 403, "auth.forbidden"
        )
        assert (await c.get(f"{BASE}/entities/{instance_doc('o1')['id']}")).status_code == 404
        # the host token opens no other write
        gone = await c.delete(f"{BASE}/entities/{plugin['id']}", headers=host)
        _problem(gone, 401, "auth.unauthorized")
        assert (await c.get(f"{BASE}/entities/{plugin['id']}")).status_code == 200
