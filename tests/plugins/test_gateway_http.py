"""The HTTP face of gateways (``plugway.server``): the context from headers, plugin errors as
problems, the generic call route, and the admin API's bounded costly reads."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from plugins_module_support import AUTH, BM25, DS, STATIC, TFIDF, catalog_of, module_of, running

from plugway.modules.plugins_admin import MAX_BULK_CHARS
from plugway.plugins import PLUGINS_GROUP, GatewayCallError
from plugway.server import install_plugin_error_handler, install_problem_handlers

CALL = "/plugins/v1/gateways/{}/call/{}"


# -- the context from headers ------------------------------------------------------------------


async def test_the_context_headers_are_declared_in_openapi(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, http):
        paths = (await http.get("/openapi.json")).json()["paths"]
    for path in ("/doc-search/v1/search", CALL.format("doc_search", "search")):
        method = "get" if path.startswith("/doc-search") else "post"
        headers = {p["name"]: p for p in paths[path][method]["parameters"] if p["in"] == "header"}
        assert {"X-Tenant-Id", "X-Subject-Id"} <= set(headers), path
        assert "X-Attr-<name>" in headers["X-Tenant-Id"]["description"]


async def test_attribute_headers_reach_routing_whatever_their_case(tmp_path: Path) -> None:
    routing = {
        "rules": [
            {"name": "eu", "match": {"attributes": {"region": ["eu"]}}, "target": {"plugin": TFIDF}}
        ]
    }
    async with running(tmp_path) as (_, http):
        await http.put("/plugins/v1/gateways/doc_search/routing", json=routing, headers=AUTH)
        for header in ("X-Attr-Region", "x-attr-REGION"):
            hit = await http.get("/doc-search/v1/search", params={"q": "x"}, headers={header: "eu"})
            assert hit.json()["plugin"] == TFIDF and hit.json()["rule"] == "eu"


# -- module routes report the outcome of their own call ----------------------------------------

_LIAR = """
from plugway.modules.doc_search import DOC_SEARCH_CONTRACT, SearchResult
from plugway.plugins import PluginDeclaration


class Liar:
    async def search(self, ctx, query, limit):
        return SearchResult("somebody-else", "liar", ())

    async def suggest(self, ctx, prefix, limit):
        return ["from the liar"]


plugin = PluginDeclaration(
    contract=DOC_SEARCH_CONTRACT,
    segment="test.http.liar.plugin.v1",
    vendor="test",
    priority=1,
    properties={"algorithm": "liar"},
    factory=lambda setup: Liar(),
)
"""
LIAR = DS + "test.http.liar.plugin.v1"


async def test_doc_search_names_the_plugin_that_served_not_the_one_it_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw_liar.py").write_text(_LIAR, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    catalog = catalog_of(extra=[EntryPoint("liar", "pw_liar:plugin", PLUGINS_GROUP)])
    async with running(tmp_path / "data", catalog=catalog) as (_, http):
        hit = (await http.get("/doc-search/v1/search", params={"q": "x"})).json()
        assert hit["algorithm"] == "liar"
        assert (hit["plugin"], hit["routed_to"], hit["fallback"]) == (LIAR, LIAR, False)
        assert hit["revision"] == 1 and hit["rule"] is None
        sug = (await http.get("/doc-search/v1/suggest", params={"prefix": "a"})).json()
        assert sug["plugin"] == LIAR and sug["suggestions"] == ["from the liar"]


async def test_tenant_resolver_answers_say_what_served(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, http):
        r = await http.get("/tenant-resolver/v1/tenants/acme")
        assert r.status_code == 200
        assert r.headers["X-Plugway-Plugin"] == STATIC
        assert r.headers["X-Plugway-Rule"] == "default" and r.headers["X-Plugway-Revision"] == "1"


# -- the generic call route --------------------------------------------------------------------


async def test_the_call_route_routes_a_call_and_says_what_served(tmp_path: Path) -> None:
    routing = {
        "rules": [{"name": "acme", "match": {"tenant": ["acme"]}, "target": {"plugin": TFIDF}}]
    }
    async with running(tmp_path) as (_, http):
        await http.put("/plugins/v1/gateways/doc_search/routing", json=routing, headers=AUTH)
        r = await http.post(
            CALL.format("doc_search", "search"),
            json={"query": "espresso", "limit": 2},
            headers={"X-Tenant-Id": "acme"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["result"]["algorithm"] == "tfidf" and len(body["result"]["hits"]) <= 2
        assert body["result"]["hits"][0]["title"] == "Espresso extraction"
        assert body["outcome"] == {
            "plugin": TFIDF,
            "rule": "acme",
            "rule_index": 0,
            "revision": 2,
            "attempts": [{"plugin": TFIDF, "error": None}],
        }
        other = (
            await http.post(CALL.format("doc_search", "search"), json={"query": "x", "limit": 1})
        ).json()
        assert other["outcome"]["plugin"] == BM25 and other["outcome"]["rule_index"] is None
        # dataclass arguments and results, as the annotations say (no admin token needed)
        r = await http.post(
            CALL.format("tenant_resolver", "get_tenants"),
            json={"tenant_ids": ["acme", "nope", "acme-eu"], "options": {"statuses": ["active"]}},
        )
        assert r.status_code == 200, r.text
        assert [t["id"] for t in r.json()["result"]] == ["acme", "acme-eu"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"query": "x", "limit": "many"}, ["body.limit"]),
        ({"query": "x"}, ["body.limit"]),
        ({"query": "x", "limit": 1, "boost": 2}, ["body.boost"]),
    ],
)
async def test_bad_call_arguments_are_a_problem_naming_each_field(
    tmp_path: Path, body: dict[str, Any], fields: list[str]
) -> None:
    async with running(tmp_path) as (_, http):
        r = await http.post(CALL.format("doc_search", "search"), json=body)
    assert r.status_code == 400 and r.json()["code"] == "request.invalid"
    assert [e["field"] for e in r.json()["errors"]] == fields


async def test_unknown_gateways_and_methods_and_failed_calls_are_problems(tmp_path: Path) -> None:
    plugins = {
        "gateways": {
            "doc_search": {
                "plugins": {"bm25_ranker": {"enabled": False}, "tfidf_ranker": {"enabled": False}}
            }
        }
    }
    async with running(tmp_path, plugins) as (_, http):
        r = await http.post(CALL.format("nope", "search"), json={})
        assert r.status_code == 404 and r.json()["code"] == "plugins.gateway_not_found"
        r = await http.post(CALL.format("doc_search", "nope"), json={})
        assert r.status_code == 404 and r.json()["code"] == "plugins.method_not_found"
        r = await http.post(CALL.format("doc_search", "search"), json={"query": "x", "limit": 1})
        assert r.status_code == 503
        assert (r.json()["code"], r.json()["gateway"]) == ("gateway.no_plugin", "doc_search")


async def test_each_call_route_has_the_schema_of_its_method_in_openapi(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, http):
        spec = (await http.get("/openapi.json")).json()
    op = spec["paths"][CALL.format("doc_search", "search")]["post"]
    assert "security" not in op  # a call, not an admin change
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    arguments = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(arguments["properties"]) == {"query", "limit"}
    assert arguments["properties"]["limit"]["type"] == "integer"
    answer_ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    answer = spec["components"]["schemas"][answer_ref.rsplit("/", 1)[1]]
    assert set(answer["properties"]) == {"result", "outcome"}
    tenants = spec["paths"][CALL.format("tenant_resolver", "get_ancestors")]["post"]
    assert tenants["requestBody"]["content"]["application/json"]["schema"]["$ref"] != ref


# -- the admin API's costly reads --------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("explain", {"tenant_id": "\ud800"}, "body.tenant_id"),
        ("explain", {"attributes": {"region": "\udfff"}}, "body.attributes.region"),
        ("explain-bulk", {"key": "subject_id", "values": ["a", "\ud800"]}, "body.values[1]"),
    ],
)
async def test_lone_surrogates_in_explain_keys_are_a_problem_naming_the_field(
    tmp_path: Path, route: str, body: dict[str, Any], field: str
) -> None:
    async with running(tmp_path) as (_, http):
        r = await http.post(
            f"/plugins/v1/gateways/doc_search/{route}",
            content=json.dumps(body).encode("ascii"),  # "\ud800" escaped, as JSON allows
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "request.invalid"
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_explain_bulk_runs_a_bounded_number_at_once_on_bounded_work(tmp_path: Path) -> None:
    async with running(tmp_path) as (runtime, http):
        admin = module_of(runtime, "plugins_admin")
        url = "/plugins/v1/gateways/doc_search/explain-bulk"
        body = {"key": "subject_id", "values": ["a", "b"]}
        assert admin.bulk.try_claim()  # as if one explain-bulk were running
        try:
            r = await http.post(url, json=body)
            assert r.status_code == 429 and r.json()["code"] == "plugins.busy"
            assert r.headers["Retry-After"] == "1"
        finally:
            admin.bulk.release()
        assert (await http.post(url, json=body)).status_code == 200
        values = ["x" * 4000] * (MAX_BULK_CHARS // 4000 + 1)
        r = await http.post(url, json={"key": "subject_id", "values": values})
        assert r.status_code == 413 and r.json()["errors"][0]["field"] == "body.values"
        r = await http.post(url, json={"key": "subject_id", "values": ["v"] * 100_001})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body.values"


async def test_protected_reads_protect_explain_bulk(tmp_path: Path) -> None:
    settings = {"modules": {"plugins_admin": {"config": {"protect_reads": True}}}}
    async with running(tmp_path, settings=settings) as (_, http):
        url = "/plugins/v1/gateways/doc_search/explain-bulk"
        body = {"key": "subject_id", "values": ["a"]}
        assert (await http.post(url, json=body)).status_code == 401
        assert (await http.post(url, json=body, headers=AUTH)).status_code == 200


async def test_the_plugin_error_handler_answers_any_route_with_the_problem() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    install_plugin_error_handler(app)

    @app.get("/fails")
    async def fails() -> None:
        raise GatewayCallError("g", "p", "m", "boom", attempts=[("p", "RuntimeError: boom")])

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://plugway") as http:
        r = await http.get("/fails")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["code"], body["gateway"], body["plugin"]) == ("gateway.call_failed", "g", "p")
    assert body["attempts"] == [{"plugin": "p", "error": "RuntimeError: boom"}]
