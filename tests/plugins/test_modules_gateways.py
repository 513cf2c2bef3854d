"""The shipped gateway modules and the admin API, in process: a real Runtime (SQLite registry and
revision store in a temp folder) and the real ASGI app, driven over httpx's ASGI transport."""

from __future__ import annotations

import shutil
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import yaml
from plugins_module_support import (
    AUTH,
    BM25,
    COVERAGE,
    DS,
    SINGLE,
    STATIC,
    TFIDF,
    catalog_of,
    running,
)
from plugins_module_support import module_of as _module

from plugway.modkit import ModulePhaseError
from plugway.modules.tenant_resolver import TenantResolverPlugin
from plugway.plugins import PLUGINS_GROUP, GatewayManager, SecurityContext
from plugway.plugins._discovery import PluginCatalog
from plugway.plugins.errors import RoutingConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PKG = ROOT / "examples" / "plugway-example-ranker" / "src" / "plugway_example_ranker"


def _catalog_with_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PluginCatalog:
    """plugway's entry points plus the example package's, as if it were installed.

    Only the package folder is copied onto sys.path (no build artefacts of the source tree),
    so later discoveries in this process cannot see it.
    """
    site = tmp_path / "example-site"
    shutil.copytree(EXAMPLE_PKG, site / "plugway_example_ranker")
    monkeypatch.syspath_prepend(str(site))
    example = EntryPoint(
        name="coverage_ranker", value="plugway_example_ranker:plugin", group=PLUGINS_GROUP
    )
    return catalog_of(extra=[example])


# -- tenant_resolver ---------------------------------------------------------------------------


async def test_tenant_resolver_serves_the_static_tree_by_default(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, http):
        r = await http.get("/tenant-resolver/v1/tenants/acme-eu-rnd/ancestors")
        assert r.status_code == 200
        assert [t["id"] for t in r.json()["ancestors"]] == ["acme-eu", "acme"]
        r = await http.get("/tenant-resolver/v1/tenants/globex-lab/ancestors")
        assert [t["id"] for t in r.json()["ancestors"]] == ["globex"]  # barrier
        r = await http.get(
            "/tenant-resolver/v1/tenants/acme/descendants", params={"status": "active"}
        )
        assert [t["id"] for t in r.json()["descendants"]] == [
            "acme-eu",
            "acme-eu-rnd",
            "acme-us",
        ]
        r = await http.get("/tenant-resolver/v1/tenants/acme/is-ancestor-of/globex-lab")
        assert r.json()["is_ancestor"] is False
        r = await http.get(
            "/tenant-resolver/v1/tenants/acme/is-ancestor-of/globex-lab",
            params={"barrier_mode": "ignore"},
        )
        assert r.json()["is_ancestor"] is True
        r = await http.get("/tenant-resolver/v1/tenants", params={"ids": "acme,nope,acme"})
        assert [t["id"] for t in r.json()["tenants"]] == ["acme"]
        r = await http.get("/tenant-resolver/v1/tenants", params={"ids": "a", "status": "zzz"})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "query.status"
        # "Not found" is the contract's answer: a 404, no fallback, no breaker.
        r = await http.get("/tenant-resolver/v1/tenants/nope")
        assert r.status_code == 404 and r.json()["code"] == "tenant_resolver.not_found"
        gw = (await http.get("/plugins/v1/gateways/tenant_resolver")).json()
        static = next(p for p in gw["plugins"] if p["id"] == STATIC)
        assert static["circuit"] == "closed" and static["failures"] == 0


async def test_a_tenant_rule_routes_some_tenants_to_the_single_tenant_plugin(
    tmp_path: Path,
) -> None:
    routing = {
        "rules": [{"name": "solo", "match": {"tenant": ["solo"]}, "target": {"plugin": SINGLE}}]
    }
    plugins = {"gateways": {"tenant_resolver": {"routing": routing}}}
    async with running(tmp_path, plugins) as (_, http):
        r = await http.get("/tenant-resolver/v1/tenants/solo", headers={"X-Tenant-Id": "solo"})
        assert r.status_code == 200 and r.json()["name"] == "Default"
        r = await http.get("/tenant-resolver/v1/tenants/acme", headers={"X-Tenant-Id": "acme"})
        assert r.json()["name"] == "Acme Corp"
        explain = await http.get(
            "/plugins/v1/gateways/tenant_resolver/explain", params={"tenant_id": "solo"}
        )
        assert explain.json()["plugin"] == SINGLE and explain.json()["rule"] == "solo"


async def test_plugin_settings_disable_override_and_configure_plugins(tmp_path: Path) -> None:
    plugins = {
        "gateways": {
            "doc_search": {"plugins": {"tfidf_ranker": {"enabled": False}}},
            "tenant_resolver": {
                "plugins": {
                    "single_tenant": {"priority": 1},
                    "static_tenants": {"config": {"tenants": [{"id": "only", "name": "Only One"}]}},
                }
            },
        }
    }
    async with running(tmp_path, plugins) as (_, http):
        ds = (await http.get("/plugins/v1/gateways/doc_search")).json()
        assert [p["id"] for p in ds["plugins"]] == [BM25]
        tr = (await http.get("/plugins/v1/gateways/tenant_resolver")).json()
        assert [p["id"] for p in tr["plugins"]] == [SINGLE, STATIC]  # single now wins
        r = await http.get("/tenant-resolver/v1/tenants/me", headers={"X-Tenant-Id": "me"})
        assert r.json()["name"] == "Default"


async def test_a_plugin_whose_setup_fails_is_reported_and_left_out(tmp_path: Path) -> None:
    plugins = {
        "gateways": {
            "tenant_resolver": {
                "plugins": {"static_tenants": {"config": {"tenants": [{"name": "no id"}]}}}
            }
        }
    }
    async with running(tmp_path, plugins) as (_, http):
        tr = (await http.get("/plugins/v1/gateways/tenant_resolver")).json()
        assert [p["id"] for p in tr["plugins"]] == [SINGLE]
        (failure,) = tr["failures"]
        assert failure["stage"] == "setup" and "tenants.0.id" in failure["error"]
        listing = (await http.get("/plugins/v1/gateways")).json()
        assert any(f["name"] == "static_tenants" for f in listing["discovery_failures"])


async def test_an_invalid_routing_section_fails_the_start_with_its_path(tmp_path: Path) -> None:
    plugins = {"gateways": {"doc_search": {"routing": {"rules": [{"name": "x", "target": {}}]}}}}
    with pytest.raises(ModulePhaseError) as info:
        async with running(tmp_path, plugins):
            pass
    cause = info.value.__cause__
    assert isinstance(cause, RoutingConfigError)
    assert any(
        p.path.startswith("plugins.gateways.doc_search.routing.rules[0].target")
        for p in cause.problems
    )


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ({"gateway": {}}, "plugins.gateway"),
        (
            {"gateways": {"doc_search": {"breaker": {"threshold": 3}}}},
            "plugins.gateways.doc_search.breaker.threshold",
        ),
        ({"watch_interval": 0}, "plugins.watch_interval"),
    ],
)
async def test_a_bad_plugins_section_is_refused_with_its_path(
    tmp_path: Path, section: dict[str, Any], path: str
) -> None:
    with pytest.raises(ModulePhaseError) as info:
        async with running(tmp_path, section):
            pass
    assert path in str(info.value.__cause__)


# -- doc_search, versions, hot plugins ---------------------------------------------------------


async def test_an_older_minor_plugin_gets_the_contract_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = _catalog_with_example(tmp_path, monkeypatch)
    async with running(tmp_path / "data", catalog=catalog) as (_, http):
        ds = (await http.get("/plugins/v1/gateways/doc_search")).json()
        coverage = next(p for p in ds["plugins"] if p["id"] == COVERAGE)
        assert coverage["version"] == "1.0" and coverage["defaulted"] == ["suggest"]
        bm25 = next(p for p in ds["plugins"] if p["id"] == BM25)
        assert bm25["version"] == "1.1" and bm25["defaulted"] == []
        routing = {"rules": [{"name": "cov", "target": {"plugin": COVERAGE}}]}
        r = await http.put("/plugins/v1/gateways/doc_search/routing", json=routing, headers=AUTH)
        assert r.status_code == 200
        r = await http.get("/doc-search/v1/suggest", params={"prefix": "tr"})
        assert r.json()["suggestions"] == ["Trail running"]
        r = await http.get("/doc-search/v1/search", params={"q": "bread starter"})
        assert r.json()["algorithm"] == "coverage"
        assert r.json()["hits"][0]["title"] == "Sourdough bread"


async def test_plugins_that_leave_and_join_the_registry_change_the_routing(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as (runtime, http):
        routing = {
            "rules": [{"name": "t", "target": {"plugin": TFIDF}, "fallback": [{"plugin": BM25}]}]
        }
        r = await http.put("/plugins/v1/gateways/doc_search/routing", json=routing, headers=AUTH)
        assert r.status_code == 200
        assert (await http.get("/doc-search/v1/search", params={"q": "x"})).json()[
            "routed_to"
        ] == TFIDF
        doc = runtime.registry.get(TFIDF).content
        runtime.registry.remove(TFIDF)
        ds = (await http.get("/plugins/v1/gateways/doc_search")).json()
        assert TFIDF not in {p["id"] for p in ds["plugins"]}
        assert ds["warnings"], "the dropped target should be reported"
        hit = (await http.get("/doc-search/v1/search", params={"q": "coffee"})).json()
        assert hit["plugin"] == BM25
        history = (await http.get("/plugins/v1/gateways/doc_search/revisions")).json()
        left = history["revisions"][0]
        assert (left["who"], left["what"]) == ("registry", f"plugin {TFIDF} left")
        assert left["routing"] == routing and history["current"] == left["revision"]
        runtime.registry.register(dict(doc))
        ds = (await http.get("/plugins/v1/gateways/doc_search")).json()
        assert TFIDF in {p["id"] for p in ds["plugins"]}
        assert ds["revision"] == left["revision"] + 1
        history = (await http.get("/plugins/v1/gateways/doc_search/revisions")).json()
        assert history["revisions"][0]["what"] == f"plugin {TFIDF} joined"
        hit = (await http.get("/doc-search/v1/search", params={"q": "coffee"})).json()
        assert hit["plugin"] == TFIDF
        # An instance with no implementation in the hub is listed, never routed to.
        ghost = {**dict(doc), "id": DS + "ghost.vendor.ghost.plugin.v1"}
        runtime.registry.register(ghost)
        ds = (await http.get("/plugins/v1/gateways/doc_search")).json()
        assert ds["registered_without_implementation"] == [ghost["id"]]
        assert ds["revision"] == left["revision"] + 1  # the plugin set did not change


async def test_doc_search_refuses_a_limit_above_its_maximum_naming_the_field(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as (_, http):
        r = await http.get("/doc-search/v1/search", params={"q": "x", "limit": 100_000})
        assert r.status_code == 400
        assert [e["field"] for e in r.json()["errors"]] == ["query.limit"]
        assert (await http.get("/doc-search/v1/search", params={"q": "x", "limit": 3})).is_success


async def test_the_doc_search_route_reports_a_problem_when_no_plugin_serves(
    tmp_path: Path,
) -> None:
    plugins = {
        "gateways": {
            "doc_search": {
                "plugins": {"bm25_ranker": {"enabled": False}, "tfidf_ranker": {"enabled": False}}
            }
        }
    }
    async with running(tmp_path, plugins) as (_, http):
        r = await http.get("/doc-search/v1/search", params={"q": "x"})
        assert r.status_code == 503
        body = r.json()
        assert body["code"] == "gateway.no_plugin" and body["gateway"] == "doc_search"


# -- admin API ---------------------------------------------------------------------------------


async def test_admin_api_errors_are_problems(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, http):
        assert (await http.get("/plugins/v1/gateways/nope")).json()["code"] == (
            "plugins.gateway_not_found"
        )
        r = await http.post("/plugins/v1/gateways/doc_search/rollback", json={}, headers=AUTH)
        assert r.status_code == 422  # nothing earlier than revision 1
        r = await http.post(
            "/plugins/v1/gateways/doc_search/rollback", json={"revision": 99}, headers=AUTH
        )
        assert r.status_code == 404 and r.json()["code"] == "plugins.revision_not_found"
        r = await http.post(
            "/plugins/v1/gateways/doc_search/explain-bulk", json={"key": "nope", "values": ["a"]}
        )
        assert r.status_code == 400
        r = await http.put("/plugins/v1/gateways/doc_search/routing", json={"rules": "x"})
        assert r.status_code == 401
        r = await http.put(
            "/plugins/v1/gateways/doc_search/routing", json={"rules": "x"}, headers=AUTH
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "rules"
        r = await http.get("/plugins/v1/discovery")
        assert {"bm25_ranker", "static_tenants"} <= {p["name"] for p in r.json()["plugins"]}


async def test_admin_changes_declare_the_bearer_token_in_openapi(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, http):
        paths = (await http.get("/openapi.json")).json()["paths"]
    gateway = "/plugins/v1/gateways/{name}"
    assert paths[f"{gateway}/routing"]["put"]["security"] == [{"admin_token": []}]
    assert paths[f"{gateway}/rollback"]["post"]["security"] == [{"admin_token": []}]
    assert "security" not in paths["/plugins/v1/gateways"]["get"]


async def test_bulk_explain_follows_any_context_key(tmp_path: Path) -> None:
    routing = {
        "rules": [
            {
                "name": "by-region",
                "split": {
                    "key": "attributes.region",
                    "variants": [{"plugin": BM25, "weight": 1}, {"plugin": TFIDF, "weight": 1}],
                },
            }
        ]
    }
    async with running(tmp_path) as (_, http):
        await http.put("/plugins/v1/gateways/doc_search/routing", json=routing, headers=AUTH)
        values = [f"r{i}" for i in range(2000)]
        body = (
            await http.post(
                "/plugins/v1/gateways/doc_search/explain-bulk",
                json={"key": "attributes.region", "values": values},
            )
        ).json()
        assert len(body["assignments"]) == 2000
        assert set(body["counts"]) == {BM25, TFIDF}
        one = (
            await http.post(
                "/plugins/v1/gateways/doc_search/explain",
                json={"attributes": {"region": values[0]}},
            )
        ).json()
        assert one["plugin"] == body["plugins"][body["assignments"][0]]
        r = await http.get(
            "/doc-search/v1/search", params={"q": "x"}, headers={"X-Attr-Region": values[0]}
        )
        assert r.json()["routed_to"] == one["plugin"]


async def test_metrics_count_calls_per_gateway_plugin_and_rule(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, http):
        for _ in range(3):
            await http.get("/doc-search/v1/search", params={"q": "coffee"})
        text = (await http.get("/metrics")).text
        line = next(
            ln
            for ln in text.splitlines()
            if ln.startswith("plugway_gateway_calls_total{") and BM25 in ln
        )
        assert 'gateway="doc_search"' in line and float(line.rsplit(" ", 1)[1]) >= 3


# -- revisions and the config file -------------------------------------------------------------


async def test_a_restart_comes_back_on_the_latest_revision(tmp_path: Path) -> None:
    routing = {"rules": [{"name": "api", "target": {"plugin": TFIDF}}]}
    async with running(tmp_path) as (_, http):
        r = await http.put("/plugins/v1/gateways/doc_search/routing", json=routing, headers=AUTH)
        revision = r.json()["revision"]
    async with running(tmp_path) as (_, http):
        ds = (await http.get("/plugins/v1/gateways/doc_search")).json()
        assert ds["revision"] == revision and ds["routing"]["rules"][0]["name"] == "api"


async def test_a_config_routing_changed_while_stopped_becomes_a_revision(tmp_path: Path) -> None:
    async with running(tmp_path) as (_, http):
        assert (await http.get("/plugins/v1/gateways/doc_search")).json()["revision"] == 1
    routing = {"rules": [{"name": "cfg", "target": {"plugin": TFIDF}}]}
    plugins = {"gateways": {"doc_search": {"routing": routing}}}
    async with running(tmp_path, plugins) as (_, http):
        ds = (await http.get("/plugins/v1/gateways/doc_search")).json()
        assert ds["revision"] == 2 and ds["routing"]["rules"][0]["name"] == "cfg"
        history = (await http.get("/plugins/v1/gateways/doc_search/revisions")).json()
        assert history["revisions"][0]["who"] == "config-file"
    async with running(tmp_path, plugins) as (_, http):
        assert (await http.get("/plugins/v1/gateways/doc_search")).json()["revision"] == 2


async def test_config_file_edits_are_applied_or_refused_whole(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("plugins: {}\n", encoding="utf-8")
    async with running(tmp_path, {"config_file": str(config), "watch": False}) as (runtime, _):
        mod = _module(runtime, "doc_search")
        manager = runtime.hub.get(GatewayManager)
        assert not manager.check_config_file()  # unchanged since start
        edited = {
            "plugins": {
                "gateways": {
                    "doc_search": {
                        "routing": {"rules": [{"name": "f", "target": {"plugin": BM25}}]}
                    }
                }
            }
        }
        config.write_text(yaml.safe_dump(edited) + "\n", encoding="utf-8")
        assert manager.check_config_file()
        assert mod.gateway.routing.rules[0].name == "f"
        revision = mod.gateway.revision
        bad = {"plugins": {"gateways": {"doc_search": {"routing": {"rules": [{"target": {}}]}}}}}
        config.write_text(yaml.safe_dump(bad) + "\n\n", encoding="utf-8")
        assert manager.check_config_file()
        assert "plugins.gateways.doc_search.routing.rules[0].target" in mod.config_error
        assert mod.gateway.revision == revision
        config.write_text("plugins: [not, a, mapping\n", encoding="utf-8")
        assert manager.check_config_file()
        assert "refused" in mod.config_error and "YAML" in mod.config_error
        assert manager.health()["gateways"]["doc_search"]["config_error"]


async def test_a_shadow_plugin_is_called_but_never_answers(tmp_path: Path) -> None:
    routing = {
        "rules": [{"name": "shadowed", "target": {"plugin": BM25}, "shadow": {"plugin": TFIDF}}]
    }
    async with running(tmp_path) as (runtime, http):
        await http.put("/plugins/v1/gateways/doc_search/routing", json=routing, headers=AUTH)
        for _ in range(3):
            hit = (await http.get("/doc-search/v1/search", params={"q": "coffee"})).json()
            assert hit["plugin"] == BM25 and hit["fallback"] is False
        await _module(runtime, "doc_search").gateway.drain_shadows()
        text = (await http.get("/metrics")).text
        shadow = [
            ln
            for ln in text.splitlines()
            if ln.startswith("plugway_gateway_shadow_calls_total{") and 'rule="shadowed"' in ln
        ]
        assert shadow and float(shadow[0].rsplit(" ", 1)[1]) == 3
        explained = (
            await http.post("/plugins/v1/gateways/doc_search/explain", json={"subject_id": "s"})
        ).json()
        assert explained["shadow"] == TFIDF


async def test_other_modules_use_the_gateway_through_the_hub(tmp_path: Path) -> None:
    routing = {
        "rules": [{"name": "solo", "match": {"tenant": ["solo"]}, "target": {"plugin": SINGLE}}]
    }
    async with running(tmp_path) as (runtime, http):
        client = runtime.hub.get(TenantResolverPlugin)
        assert (await client.get_tenant(SecurityContext("x"), "acme")).name == "Acme Corp"
        await http.put("/plugins/v1/gateways/tenant_resolver/routing", json=routing, headers=AUTH)
        # The same client object follows the new routing, per request.
        assert (await client.get_tenant(SecurityContext("solo"), "solo")).name == "Default"
