"""The shipped gateway modules and the admin API declare what they answer, and answer it: the
requests the API fuzzer (tests/e2e/test_api_fuzz.py) found answered 500 are 4xx problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plugins_module_support import AUTH, running

from plugway.server import PROBLEM_CONTENT_TYPE

CALL = "/plugins/v1/gateways/{}/call/{}"


def _responses(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    responses: dict[str, Any] = spec["paths"][path][method]["responses"]
    return responses


async def test_an_error_of_the_contract_on_the_call_route_is_a_422_not_a_500(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as (_, http):
        resp = await http.post(
            CALL.format("tenant_resolver", "get_tenant"),
            json={"tenant_id": "nobody"},
            headers={"X-Tenant-Id": "nobody"},
        )
        spec = (await http.get("/openapi.json")).json()
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body = resp.json()
    assert body["code"] == "gateway.contract_error"
    assert body["gateway"] == "tenant_resolver" and "TenantNotFoundError" in body["detail"]
    declared = _responses(spec, CALL.format("tenant_resolver", "get_tenant"), "post")
    assert "gateway.contract_error" in declared["422"]["description"]
    schema = declared["503"]["content"][PROBLEM_CONTENT_TYPE]["schema"]
    assert schema == {"$ref": "#/components/schemas/GatewayProblem"}
    gateway_problem = spec["components"]["schemas"]["GatewayProblem"]
    assert {"gateway", "plugin", "attempts"} <= set(gateway_problem["properties"])


async def test_a_revision_beyond_what_the_store_holds_is_refused_not_a_500(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as (_, http):
        resp = await http.post(
            "/plugins/v1/gateways/tenant_resolver/rollback",
            json={"revision": 350239607324543156224},
            headers=AUTH,
        )
    assert resp.status_code == 400, resp.text
    assert resp.json()["errors"][0]["field"] == "body.revision"


async def test_the_admin_and_module_routes_declare_their_bodies_and_problems(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as (_, http):
        spec = (await http.get("/openapi.json")).json()
    bodies = {
        ("/plugins/v1/gateways", "get"): "GatewayList",
        ("/plugins/v1/gateways/{name}", "get"): "GatewayDetail",
        ("/plugins/v1/discovery", "get"): "Discovery",
        ("/plugins/v1/discovery/rescan", "post"): "Rescan",
        ("/plugins/v1/gateways/{name}/routing", "put"): "RoutingApplied",
        ("/plugins/v1/gateways/{name}/revisions", "get"): "Revisions",
        ("/plugins/v1/gateways/{name}/rollback", "post"): "RolledBack",
        ("/plugins/v1/gateways/{name}/plugins/{plugin_id}", "delete"): "PluginRemoved",
        ("/plugins/v1/gateways/{name}/explain", "post"): "ExplanationOut",
        ("/plugins/v1/gateways/{name}/explain-bulk", "post"): "BulkExplanation",
        ("/doc-search/v1/search", "get"): "SearchAnswer",
        ("/doc-search/v1/documents/{doc_id}", "get"): "DocumentOut",
        ("/tenant-resolver/v1/tenants/{tenant_id}", "get"): "TenantOut",
        ("/tenant-resolver/v1/tenants/{tenant_id}/ancestors", "get"): "AncestorsOut",
    }
    for (path, method), model in bodies.items():
        ok = _responses(spec, path, method)["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": f"#/components/schemas/{model}"}, path
    routing = _responses(spec, "/plugins/v1/gateways/{name}/routing", "put")
    assert "plugins.routing_invalid" in routing["422"]["description"]
    assert {"401", "403", "404", "413", "503"} <= set(routing)
    bulk = _responses(spec, "/plugins/v1/gateways/{name}/explain-bulk", "post")
    assert "plugins.busy" in bulk["429"]["description"]
    tenant = _responses(spec, "/tenant-resolver/v1/tenants/{tenant_id}", "get")
    assert "tenant_resolver.not_found" in tenant["404"]["description"]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert (
                "422" not in op["responses"]
                or PROBLEM_CONTENT_TYPE in (op["responses"]["422"]["content"])
            ), (path, method)
