"""Edge cases users hit, end to end on a real ``plugway serve``: attribute names in rules and
headers, a plugin that joins while serving, rollbacks around plugin-set changes."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_process import ServerProcess

DS_TYPE = "gts.x.core.modkit.plugin.v1~x.plugway.doc_search.plugin.v1.1~"
BM25 = DS_TYPE + "plugway.builtin.bm25_ranker.plugin.v1"
TFIDF = DS_TYPE + "plugway.builtin.tfidf_ranker.plugin.v1"
EAGER = DS_TYPE + "test.eager.eager_ranker.plugin.v1"
TOKEN = "edge-admin-token"

# A plugin of the lowest priority of all: before, joining moved every default call onto it.
_EAGER = """
from plugway.modules.doc_search import DOC_SEARCH_CONTRACT, SearchResult
from plugway.plugins import PluginDeclaration


class Eager:
    def __init__(self, plugin_id):
        self.plugin_id = plugin_id

    async def search(self, ctx, query, limit):
        return SearchResult(self.plugin_id, "eager", ())

    async def suggest(self, ctx, prefix, limit):
        return []


plugin = PluginDeclaration(
    contract=DOC_SEARCH_CONTRACT,
    segment="test.eager.eager_ranker.plugin.v1",
    vendor="plugway",
    priority=1,
    properties={"algorithm": "eager"},
    factory=lambda setup: Eager(setup.plugin_id),
)
"""


def _install_eager(site: Path) -> None:
    """What ``pip install`` of a plugin package leaves on disk (a module and its dist-info)."""
    (site / "plugway_test_eager").mkdir(parents=True)
    (site / "plugway_test_eager" / "__init__.py").write_text(_EAGER, encoding="utf-8")
    info = site / "plugway_test_eager-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: plugway-test-eager\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [plugway.plugins]
            eager_ranker = plugway_test_eager:plugin
            """
        ),
        encoding="utf-8",
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    return path


@pytest.fixture
def srv(tmp_path: Path, site: Path) -> Iterator[ServerProcess]:
    (tmp_path / "srv").mkdir()
    server = ServerProcess(
        tmp_path / "srv", config={"server": {"admin_token": TOKEN}}, env={"PYTHONPATH": str(site)}
    )
    server.start()
    try:
        yield server
    finally:
        server.close()


def _put(http: httpx.Client, routing: dict[str, Any]) -> dict[str, Any]:
    r = http.put("/plugins/v1/gateways/doc_search/routing", json=routing)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _served(http: httpx.Client, **headers: str) -> str:
    r = http.get("/doc-search/v1/search", params={"q": "coffee"}, headers=headers)
    assert r.status_code == 200, r.text
    plugin: str = r.json()["plugin"]
    return plugin


def _rescan(http: httpx.Client) -> dict[str, Any]:
    r = http.post("/plugins/v1/discovery/rescan")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_rule_on_an_attribute_matches_its_header_whatever_the_case(srv: ServerProcess) -> None:
    with srv.client() as http:
        rule = {
            "name": "eu",
            "match": {"attributes": {"Region": ["eu"]}},
            "target": {"plugin": TFIDF},
        }
        _put(http, {"rules": [rule]})
        assert _served(http, **{"X-Attr-Region": "eu"}) == TFIDF
        assert _served(http, **{"x-attr-REGION": "eu"}) == TFIDF
        assert _served(http, **{"X-Attr-Region": "us"}) == BM25
        for attributes in ({"Region": "eu"}, {"region": "eu"}):
            e = http.post(
                "/plugins/v1/gateways/doc_search/explain", json={"attributes": attributes}
            ).json()
            assert e["plugin"] == TFIDF and e["rule"] == "eu", e


def test_a_plugin_that_joins_while_serving_never_takes_the_default_route(
    srv: ServerProcess, site: Path
) -> None:
    with srv.client() as http:
        assert _served(http) == BM25
        _install_eager(site)
        assert [a["plugin_id"] for a in _rescan(http)["added"]] == [EAGER]
        assert _served(http) == BM25  # the default route keeps serving what it served
        e = http.get("/plugins/v1/gateways/doc_search/explain").json()
        assert e["plugin"] == BM25 and "'default'" in e["reason"], e
        history = http.get("/plugins/v1/gateways/doc_search/revisions").json()["revisions"]
        assert history[0]["who"] == "registry" and history[0]["routing"]["default"] == {
            "plugin": BM25
        }
        # routing says otherwise: the newcomer serves
        _put(http, {"default": {"plugin": EAGER}})
        assert _served(http) == EAGER
        _put(http, {"default": {"plugin": BM25}})
    srv.restart()  # the pin is a revision: it holds after a restart with the plugin installed
    with srv.client() as http:
        assert _served(http) == BM25


def test_rollbacks_around_plugin_set_changes(srv: ServerProcess, site: Path) -> None:
    with srv.client() as http:
        vip = {
            "rules": [{"name": "vip", "match": {"subject": ["ann"]}, "target": {"plugin": TFIDF}}]
        }
        changed = _put(http, vip)["revision"]
        assert _put(http, vip)["revision"] == changed  # the routing that serves: no new revision
        _install_eager(site)
        _rescan(http)  # a plugin-set revision on top of the routing change
        r = http.post("/plugins/v1/gateways/doc_search/rollback", json={})
        assert r.status_code == 200, r.text
        assert "rules" not in r.json()["routing"]  # the routing change was undone, not the join
        assert _served(http, **{"X-Subject-Id": "ann"}) == BM25
        # a revision that names a plugin which has left is served with a warning
        eager_rule = {"rules": [{"name": "e", "target": {"plugin": EAGER}}]}
        named = _put(http, eager_rule)["revision"]
        _put(http, {})
        removed = http.delete(f"/plugins/v1/gateways/doc_search/plugins/{EAGER}")
        assert removed.status_code == 200, removed.text
        back = http.post("/plugins/v1/gateways/doc_search/rollback", json={"revision": named})
        assert back.status_code == 200, back.text
        ds = http.get("/plugins/v1/gateways/doc_search").json()
        assert any(EAGER in w for w in ds["warnings"]), ds["warnings"]
        assert _served(http) == BM25


def test_an_instance_removed_through_the_registry_leaves_routing(srv: ServerProcess) -> None:
    path = f"/types-registry/v1/entities/{TFIDF}"
    with srv.client(auth=False) as anonymous:
        refused = anonymous.delete(path)
        assert refused.status_code == 401, refused.text
    with srv.client() as http:
        removed = http.delete(path)
        assert removed.status_code == 200, removed.text
        assert removed.json() == {"gts_id": TFIDF, "removed": True}
        ds = http.get("/plugins/v1/gateways/doc_search").json()
        assert TFIDF not in {p["id"] for p in ds["plugins"]}
        newest = http.get("/plugins/v1/gateways/doc_search/revisions").json()["revisions"][0]
        assert newest["who"] == "registry" and newest["what"] == f"plugin {TFIDF} left"
        assert http.delete(path).status_code == 404
        base = http.delete("/types-registry/v1/entities/gts.x.core.modkit.plugin.v1~")
        assert base.status_code == 409 and base.json()["code"] == "registry.in_use"
        bad = http.delete("/types-registry/v1/entities/not-an-id")
        assert bad.status_code == 400
        assert _served(http) == BM25
