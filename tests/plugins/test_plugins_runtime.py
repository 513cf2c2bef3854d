"""The ``plugins`` runtime module: the one owner of the store, the metrics and the config watcher;
the routing history across restarts; plugins removed while serving."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from plugins_module_support import (
    AUTH,
    BM25,
    DS,
    TFIDF,
    catalog_of,
    installed,
    module_of,
    running,
)

from plugway.modkit import ClientHub, Runtime, UnknownDependencyError, parse_settings
from plugway.modules.doc_search import DOC_SEARCH_CONTRACT, DocSearchModule
from plugway.modules.plugins_runtime import PluginsRuntimeModule
from plugway.plugins import GatewayManager
from plugway.plugins._revisions import RevisionStoreError
from plugway.registry import RegistryNotFoundError

ROUTE_TFIDF = {"rules": [{"name": "t", "target": {"plugin": TFIDF}}]}
ROUTE_BM25 = {"rules": [{"name": "b", "target": {"plugin": BM25}}]}


def _gateways(routing: dict[str, Any]) -> dict[str, Any]:
    return {"gateways": {"doc_search": {"routing": routing}}}


# -- the owner of shared things ----------------------------------------------------------------


def test_a_gateway_module_without_the_plugins_module_is_refused_naming_it(tmp_path: Path) -> None:
    settings = parse_settings({"data_dir": str(tmp_path)})
    with pytest.raises(UnknownDependencyError, match="plugins"):
        Runtime(settings, (DocSearchModule,), hub=ClientHub())


async def test_gateway_metrics_and_health_need_no_admin_module(tmp_path: Path) -> None:
    modules = (PluginsRuntimeModule, DocSearchModule)
    async with running(tmp_path, modules=modules) as (runtime, http):
        assert "plugins_admin" not in runtime.modules
        assert (await http.get("/doc-search/v1/search", params={"q": "coffee"})).is_success
        metrics = (await http.get("/metrics")).text
        assert any(
            ln.startswith("plugway_gateway_calls_total{") and 'gateway="doc_search"' in ln
            for ln in metrics.splitlines()
        )
        health = (await http.get("/health")).json()
        plugins = health["components"]["gts.x.core.plugins.health.v1~"]
        assert plugins["gateways"]["doc_search"]["ready"] is True


async def test_every_gateway_shares_one_store_closed_after_the_last_one(tmp_path: Path) -> None:
    async with running(tmp_path) as (runtime, _):
        manager = runtime.hub.get(GatewayManager)
        stores = {
            id(module_of(runtime, n).gateway.store) for n in ("doc_search", "tenant_resolver")
        }
        assert stores == {id(manager.store)}
    with pytest.raises(RevisionStoreError, match="closed"):
        manager.store.latest("doc_search")


# -- the config file watcher -------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text), encoding="utf-8")


async def test_a_reload_refuses_duplicate_keys_as_the_start_up_does(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    _write(config, "plugins: {}\n")
    async with running(tmp_path, {"config_file": str(config), "watch": False}) as (runtime, _):
        manager = runtime.hub.get(GatewayManager)
        doc_search = module_of(runtime, "doc_search")
        revision = doc_search.gateway.revision
        _write(
            config,
            f"""\
            plugins:
              gateways:
                doc_search:
                  routing: {{rules: [{{name: first, target: {{plugin: "{BM25}"}}}}]}}
                  routing: {{rules: [{{name: second, target: {{plugin: "{TFIDF}"}}}}]}}
            """,
        )
        assert manager.check_config_file()
        assert "duplicate key 'routing'" in doc_search.config_error
        assert doc_search.gateway.revision == revision  # PyYAML alone would apply "second"


async def test_a_reload_applies_the_environment_overrides_of_the_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.yaml"
    _write(config, "plugins: {}\n")
    monkeypatch.setenv("PLUGWAY__PLUGINS__GATEWAYS__DOC_SEARCH__ROUTING__TIMEOUT", "0.25")
    async with running(tmp_path, {"config_file": str(config), "watch": False}) as (runtime, _):
        manager = runtime.hub.get(GatewayManager)
        doc_search = module_of(runtime, "doc_search")
        config.write_text(yaml.safe_dump({"plugins": _gateways(ROUTE_TFIDF)}), encoding="utf-8")
        assert manager.check_config_file()
        assert doc_search.config_error is None
        routing = doc_search.gateway.routing
        assert routing.rules[0].name == "t" and routing.timeout == 0.25


async def test_an_edit_of_another_section_keeps_an_api_change(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    _write(config, "plugins: {}\n")
    async with running(tmp_path, {"config_file": str(config), "watch": False}) as (runtime, http):
        manager = runtime.hub.get(GatewayManager)
        r = await http.put("/plugins/v1/gateways/doc_search/routing", json=ROUTE_BM25, headers=AUTH)
        api = r.json()["revision"]
        edited = {"plugins": {"gateways": {"tenant_resolver": {"routing": {"vendor": "plugway"}}}}}
        config.write_text(yaml.safe_dump(edited), encoding="utf-8")
        assert manager.check_config_file()
        assert module_of(runtime, "doc_search").gateway.revision == api


# -- history across restarts -------------------------------------------------------------------


async def test_a_restart_after_more_than_1000_changes_stays_on_the_latest(tmp_path: Path) -> None:
    plugins = _gateways(ROUTE_TFIDF)
    async with running(tmp_path, plugins) as (runtime, _):
        doc_search = module_of(runtime, "doc_search")
        for i in range(1001):
            doc_search.apply_routing(
                ROUTE_BM25 if i % 2 == 0 else {"vendor": "plugway"}, who="admin-api", what=f"#{i}"
            )
        latest = doc_search.gateway.revision
        assert latest == 1002
    async with running(tmp_path, plugins) as (runtime, _):
        gateway = module_of(runtime, "doc_search").gateway
        assert gateway.revision == latest  # the file did not change: the API's change stays
        assert gateway.routing.rules[0].name == "b"


async def test_a_file_changed_to_the_running_routing_is_remembered(tmp_path: Path) -> None:
    async with running(tmp_path, _gateways(ROUTE_TFIDF)) as (_, http):
        await http.put("/plugins/v1/gateways/doc_search/routing", json=ROUTE_BM25, headers=AUTH)
    # edited while stopped to what the admin had set: nothing to apply, but it is now the file's
    async with running(tmp_path, _gateways(ROUTE_BM25)) as (_, http):
        later = {"rules": [{"name": "later", "target": {"plugin": TFIDF}}]}
        r = await http.put("/plugins/v1/gateways/doc_search/routing", json=later, headers=AUTH)
        revision = r.json()["revision"]
    async with running(tmp_path, _gateways(ROUTE_BM25)) as (_, http):
        ds = (await http.get("/plugins/v1/gateways/doc_search")).json()
        assert ds["revision"] == revision and ds["routing"]["rules"][0]["name"] == "later"


async def test_a_bare_rollback_undoes_the_last_routing_change_not_a_plugin_change(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as (runtime, http):
        r = await http.put("/plugins/v1/gateways/doc_search/routing", json=ROUTE_BM25, headers=AUTH)
        assert r.json()["revision"] == 2
        runtime.registry.remove(TFIDF)  # revision 3, who: registry
        history = (await http.get("/plugins/v1/gateways/doc_search/revisions")).json()
        assert [r["who"] for r in history["revisions"]] == ["registry", "admin-api", "config"]
        r = await http.post("/plugins/v1/gateways/doc_search/rollback", headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json()["restored"] == 1 and r.json()["routing"] == {}
        # the undo is a routing change too: undoing again brings revision 2's routing back
        r = await http.post("/plugins/v1/gateways/doc_search/rollback", json={}, headers=AUTH)
        assert r.json()["restored"] == 2 and r.json()["routing"] == ROUTE_BM25


# -- plugins removed while serving -------------------------------------------------------------

_PLUGIN = """
from plugway.modules.doc_search import DOC_SEARCH_CONTRACT, SearchResult
from plugway.plugins import PluginDeclaration


class Ranker:
    async def search(self, ctx, query, limit):
        return SearchResult("gone", "gone", ())

    async def suggest(self, ctx, prefix, limit):
        return []


plugin = PluginDeclaration(
    contract=DOC_SEARCH_CONTRACT,
    segment="test.gone.ranker.plugin.v1",
    vendor="test",
    priority=1,
    properties={"algorithm": "gone"},
    factory=lambda setup: Ranker(),
)
"""
GONE = DS + "test.gone.ranker.plugin.v1"


def _install(site: Path) -> Path:
    """A distribution on ``site`` with a good plugin and one whose import fails."""
    (site / "pw_gone.py").write_text(_PLUGIN, encoding="utf-8")
    (site / "pw_gone_broken.py").write_text("raise ImportError('broken on purpose')\n", "utf-8")
    info = site / "pw_gone-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pw-gone\nVersion: 1.0\n", "utf-8")
    (info / "entry_points.txt").write_text(
        "[plugway.plugins]\ngone_ranker = pw_gone:plugin\ngone_broken = pw_gone_broken:plugin\n",
        "utf-8",
    )
    return info


async def test_an_uninstalled_plugin_package_leaves_on_rescan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    info = _install(site)
    monkeypatch.syspath_prepend(str(site))
    catalog = catalog_of(installed("pw-gone"))
    async with running(tmp_path / "data", catalog=catalog) as (runtime, http):
        ds = (await http.get("/plugins/v1/gateways/doc_search")).json()
        assert GONE in {p["id"] for p in ds["plugins"]}
        assert "gone_broken" in {f["name"] for f in ds["failures"]}
        before = ds["revision"]
        for path in (info / "METADATA", info / "entry_points.txt", info):
            path.unlink() if path.is_file() else path.rmdir()  # pip uninstall
        r = await http.post("/plugins/v1/discovery/rescan", headers=AUTH)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["removed"] == [
            {"name": "gone_ranker", "plugin_id": GONE, "gateway": "doc_search", "host": None}
        ]
        assert "gone_broken" not in {f["name"] for f in answer["failures"]}
        ds = (await http.get("/plugins/v1/gateways/doc_search")).json()
        assert GONE not in {p["id"] for p in ds["plugins"]} and ds["failures"] == []
        assert ds["revision"] == before + 1
        history = (await http.get("/plugins/v1/gateways/doc_search/revisions")).json()
        assert history["revisions"][0]["what"] == f"plugin {GONE} left"
        assert runtime.hub.try_get_scoped(DOC_SEARCH_CONTRACT.protocol, GONE) is None
        with pytest.raises(RegistryNotFoundError):
            runtime.registry.get(GONE)


async def test_deleting_a_plugin_through_the_admin_api_takes_it_out_of_routing(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as (_, http):
        path = f"/plugins/v1/gateways/doc_search/plugins/{TFIDF}"
        assert (await http.delete(path)).status_code == 401
        r = await http.delete(path, headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json() == {"removed": TFIDF, "revision": 2}
        ds = (await http.get("/plugins/v1/gateways/doc_search")).json()
        assert [p["id"] for p in ds["plugins"]] == [BM25]
        history = (await http.get("/plugins/v1/gateways/doc_search/revisions")).json()
        assert history["revisions"][0]["who"] == "registry"
        r = await http.delete(path, headers=AUTH)
        assert r.status_code == 404 and r.json()["code"] == "plugins.plugin_not_found"
        r = await http.delete("/plugins/v1/gateways/nope/plugins/x", headers=AUTH)
        assert r.json()["code"] == "plugins.gateway_not_found"
