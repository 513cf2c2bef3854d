"""End-to-end: gateways, plugins and routing of a real ``plugway serve`` process (issue 4).

One server (module scope) runs the shipped modules plus a test-only distribution, installed into
a temp folder on the server's PYTHONPATH, that declares three plugins through the
``plugway.plugins`` entry point group: a doc_search ranker that raises or hangs on demand, one
whose import fails, and one that breaks the contract. A second server checks that the example
package under ``examples/`` appears only once it is pip-installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from _server_process import ServerFactory, ServerProcess

from plugway.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plugway-example-ranker"

DS_TYPE = "gts.x.core.modkit.plugin.v1~x.plugway.doc_search.plugin.v1.1~"
BM25 = DS_TYPE + "plugway.builtin.bm25_ranker.plugin.v1"
TFIDF = DS_TYPE + "plugway.builtin.tfidf_ranker.plugin.v1"
FAULTY = DS_TYPE + "test.faulty.faulty_ranker.plugin.v1"
COVERAGE = DS_TYPE + "example.ranker.coverage_ranker.plugin.v1"
TOKEN = "e2e-admin-token"
N_KEYS = 100_000
BATCH = 25_000


def _example_installed() -> bool:
    """Whether the example package is installed in this environment (servers then see it)."""
    try:
        distribution("plugway-example-ranker")
    except PackageNotFoundError:
        return False
    return True


# -- a test-only distribution with plugins -----------------------------------------------------

_FAULTY_MODULE = '''
"""Test plugins for doc_search: one misbehaving on demand, one breaking the contract."""
import asyncio

from plugway.modules.doc_search import DOC_SEARCH_CONTRACT, SearchResult
from plugway.plugins import PluginDeclaration


class Faulty:
    def __init__(self, plugin_id):
        self.plugin_id = plugin_id

    async def search(self, ctx, query, limit):
        if "hang" in query:
            await asyncio.sleep(3600)
        if "boom" in query:
            raise RuntimeError("faulty ranker exploded on purpose")
        return SearchResult(self.plugin_id, "faulty", ())

    async def suggest(self, ctx, prefix, limit):
        return []


class NoSearch:
    async def suggest(self, ctx, prefix, limit):
        return []


plugin = PluginDeclaration(
    contract=DOC_SEARCH_CONTRACT,
    segment="test.faulty.faulty_ranker.plugin.v1",
    vendor="test",
    priority=900,
    properties={"algorithm": "faulty"},
    factory=lambda setup: Faulty(setup.plugin_id),
)

contract_breaker = PluginDeclaration(
    contract=DOC_SEARCH_CONTRACT,
    segment="test.faulty.no_search.plugin.v1",
    vendor="test",
    priority=901,
    properties={"algorithm": "none"},
    factory=lambda setup: NoSearch(),
)
'''


def _write_test_dist(site: Path) -> None:
    """A distribution on disk (dist-info + packages), as ``pip install --target`` leaves it."""
    (site / "plugway_test_faulty").mkdir(parents=True)
    (site / "plugway_test_faulty" / "__init__.py").write_text(_FAULTY_MODULE, encoding="utf-8")
    (site / "plugway_test_broken").mkdir()
    (site / "plugway_test_broken" / "__init__.py").write_text(
        'raise ImportError("this plugin package is broken on purpose")\n', encoding="utf-8"
    )
    info = site / "plugway_test_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: plugway-test-plugins\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [plugway.plugins]
            faulty_ranker = plugway_test_faulty:plugin
            no_search_ranker = plugway_test_faulty:contract_breaker
            broken_ranker = plugway_test_broken:plugin
            """
        ),
        encoding="utf-8",
    )


def _config() -> dict[str, Any]:
    """The config file of the shared server; its routing sections are watched (the server
    knows the file from ``--config``)."""
    gateway: dict[str, Any] = {"breaker": {"failure_threshold": 3, "cooldown": 600}}
    return {
        "server": {"admin_token": TOKEN},
        "plugins": {
            "watch_interval": 0.2,
            "gateways": {"doc_search": gateway},
        },
    }


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("plugins-e2e")
    site = root / "site"
    _write_test_dist(site)
    server = ServerProcess(root, config=_config(), env={"PYTHONPATH": str(site)})
    server.start()
    try:
        yield server
    finally:
        server.close()


def _put_routing(http: httpx.Client, routing: dict[str, Any]) -> int:
    r = http.put("/plugins/v1/gateways/doc_search/routing", json=routing)
    assert r.status_code == 200, r.text
    revision: int = r.json()["revision"]
    return revision


def _assign(http: httpx.Client, values: list[str], key: str = "subject_id") -> list[str | None]:
    """The plugin that serves each value of ``key`` (bulk explain, in batches)."""
    out: list[str | None] = []
    for start in range(0, len(values), BATCH):
        r = http.post(
            "/plugins/v1/gateways/doc_search/explain-bulk",
            json={"key": key, "values": values[start : start + BATCH]},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        table = body["plugins"]
        out.extend(table[i] for i in body["assignments"])
    return out


KEYS = [f"user-{i}" for i in range(N_KEYS)]

SPLIT_90_10 = {
    "rules": [
        {
            "name": "ab",
            "split": {
                "key": "subject_id",
                "variants": [{"plugin": BM25, "weight": 90}, {"plugin": TFIDF, "weight": 10}],
            },
        }
    ]
}


def _rollout(percent: float) -> dict[str, Any]:
    return {
        "rules": [
            {
                "name": "ramp",
                "rollout": {"key": "subject_id", "target": {"plugin": TFIDF}, "percent": percent},
            }
        ]
    }


# -- discovery and fault isolation -------------------------------------------------------------


def test_broken_plugin_packages_are_reported_and_the_rest_runs(srv: ServerProcess) -> None:
    with srv.client() as http:
        health = http.get("/health")
        assert health.status_code == 200, health.text
        assert health.json()["status"] == "degraded"
        reported = health.json()["components"]["gts.x.core.plugins.health.v1~"]
        assert {f["name"] for f in reported["discovery_failures"]} >= {
            "broken_ranker",
            "no_search_ranker",
        }
        gws = http.get("/plugins/v1/gateways").json()
        failures = {f["name"]: f for f in gws["discovery_failures"]}
        assert failures["broken_ranker"]["stage"] == "import"
        assert "broken on purpose" in failures["broken_ranker"]["error"]
        assert failures["no_search_ranker"]["stage"] == "contract"
        assert "'search'" in failures["no_search_ranker"]["error"]
        ds = http.get("/plugins/v1/gateways/doc_search").json()
        ids = {p["id"] for p in ds["plugins"]}
        assert {BM25, TFIDF, FAULTY} <= ids
        assert not any("no_search" in i for i in ids)
        if not _example_installed():
            assert COVERAGE not in ids  # appears only once installed (see the last tests)
        assert http.get("/doc-search/v1/search", params={"q": "hashing"}).status_code == 200
    assert "broken on purpose" in srv.log()


def test_admin_changes_need_the_token(srv: ServerProcess) -> None:
    with srv.client(auth=False) as http:
        r = http.put("/plugins/v1/gateways/doc_search/routing", json={})
        assert r.status_code == 401
        assert r.json()["code"] == "auth.unauthorized"
        assert http.get("/plugins/v1/gateways/nope").status_code == 404


# -- sticky splits and rollouts ----------------------------------------------------------------


def test_a_90_10_split_over_100k_keys_lands_within_one_percent(srv: ServerProcess) -> None:
    with srv.client() as http:
        _put_routing(http, SPLIT_90_10)
        got = _assign(http, KEYS)
    share = got.count(TFIDF) / N_KEYS
    assert got.count(BM25) + got.count(TFIDF) == N_KEYS
    assert abs(share - 0.10) <= 0.01, share


def test_raising_a_rollout_from_10_to_20_percent_moves_keys_only_into_the_target(
    srv: ServerProcess,
) -> None:
    with srv.client() as http:
        _put_routing(http, _rollout(10))
        before = _assign(http, KEYS)
        _put_routing(http, _rollout(20))
        after = _assign(http, KEYS)
    moved = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert moved, "raising the rollout moved nobody"
    assert all(b == TFIDF for _, b in moved)
    assert all(b == TFIDF for a, b in zip(before, after, strict=True) if a == TFIDF)
    assert abs(before.count(TFIDF) / N_KEYS - 0.10) <= 0.01
    assert abs(after.count(TFIDF) / N_KEYS - 0.20) <= 0.01


def test_the_same_keys_get_the_same_plugins_after_a_restart(srv: ServerProcess) -> None:
    with srv.client() as http:
        revision = _put_routing(http, SPLIT_90_10)
        before = _assign(http, KEYS)
    srv.restart()
    with srv.client() as http:
        ds = http.get("/plugins/v1/gateways/doc_search").json()
        assert ds["revision"] == revision
        after = _assign(http, KEYS)
    assert after == before


# -- hot swap ----------------------------------------------------------------------------------


def test_routing_changes_under_concurrent_load_fail_no_request(srv: ServerProcess) -> None:
    routings = [SPLIT_90_10, {"rules": [{"name": "all-tfidf", "target": {"plugin": TFIDF}}]}]
    done = threading.Event()
    errors: list[str] = []
    served: list[int] = []

    def client(n: int) -> None:
        count = 0
        with srv.client() as http:
            while not done.is_set():
                r = http.get(
                    "/doc-search/v1/search",
                    params={"q": "rollout canary"},
                    headers={"X-Subject-Id": f"load-{n}-{count}"},
                )
                if r.status_code != 200 or r.json()["plugin"] not in (BM25, TFIDF):
                    errors.append(f"{r.status_code}: {r.text[:200]}")
                count += 1
        served.append(count)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    try:
        with srv.client() as http:
            revisions = [_put_routing(http, routings[i % 2]) for i in range(50)]
    finally:
        done.set()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    assert len(served) == 8 and sum(served) > 0
    assert revisions == sorted(revisions) and len(set(revisions)) == 50


def test_an_invalid_routing_is_refused_and_the_old_one_keeps_serving(srv: ServerProcess) -> None:
    with srv.client() as http:
        revision = _put_routing(http, {"rules": [{"name": "t", "target": {"plugin": TFIDF}}]})
        bad = {
            "rules": [
                {
                    "name": "x",
                    "split": {"key": "nope", "variants": [{"plugin": BM25, "weight": -5}]},
                },
                {"name": "y", "target": {"plugin": DS_TYPE + "no.such.plugin.plugin.v1"}},
            ]
        }
        r = http.put("/plugins/v1/gateways/doc_search/routing", json=bad)
        assert r.status_code == 422
        problem = r.json()
        assert problem["code"] == "plugins.routing_invalid"
        fields = {e["field"] for e in problem["errors"]}
        assert any(f.startswith("rules[0].split") for f in fields), fields
        ds = http.get("/plugins/v1/gateways/doc_search").json()
        assert ds["revision"] == revision
        hit = http.get("/doc-search/v1/search", params={"q": "coffee"}).json()
        assert hit["plugin"] == TFIDF and hit["revision"] == revision


def test_revisions_are_listed_and_rollback_restores_one(srv: ServerProcess) -> None:
    with srv.client() as http:
        first = _put_routing(http, {"rules": [{"name": "t", "target": {"plugin": TFIDF}}]})
        _put_routing(http, {"rules": [{"name": "b", "target": {"plugin": BM25}}]})
        history = http.get("/plugins/v1/gateways/doc_search/revisions").json()
        assert [r["revision"] for r in history["revisions"]][:2] == [first + 1, first]
        assert history["revisions"][0]["who"] == "admin-api"
        r = http.post("/plugins/v1/gateways/doc_search/rollback", json={"revision": first})
        assert r.status_code == 200, r.text
        assert r.json()["restored"] == first
        hit = http.get("/doc-search/v1/search", params={"q": "coffee"}).json()
        assert hit["plugin"] == TFIDF
        explained = http.post(
            "/plugins/v1/gateways/doc_search/explain", json={"subject_id": "u1"}
        ).json()
        assert explained["plugin"] == TFIDF and explained["rule"] == "t"
        assert explained["revision"] == r.json()["revision"]


# -- faults ------------------------------------------------------------------------------------


def test_a_plugin_that_raises_or_hangs_is_served_by_its_fallback_and_trips_its_breaker(
    srv: ServerProcess,
) -> None:
    routing = {
        "timeout": 0.5,
        "rules": [
            {
                "name": "faulty",
                "match": {"attributes": {"mode": ["faulty"]}},
                "target": {"plugin": FAULTY},
                "fallback": [{"plugin": BM25}],
            },
            {"name": "rest", "target": {"plugin": TFIDF}},
        ],
    }
    headers = {"X-Attr-Mode": "faulty"}
    with srv.client() as http:
        _put_routing(http, routing)
        ok = http.get("/doc-search/v1/search", params={"q": "fine"}, headers=headers).json()
        assert ok["plugin"] == FAULTY and not ok["fallback"]
        for q in ("hang please", "boom", "boom again"):
            r = http.get("/doc-search/v1/search", params={"q": q}, headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["plugin"] == BM25 and r.json()["fallback"] is True
        ds = http.get("/plugins/v1/gateways/doc_search").json()
        faulty = next(p for p in ds["plugins"] if p["id"] == FAULTY)
        assert faulty["circuit"] == "open"
        assert faulty["health"] == "failing"
        explained = http.post(
            "/plugins/v1/gateways/doc_search/explain", json={"attributes": {"mode": "faulty"}}
        ).json()
        assert explained["plugin"] == FAULTY and explained["circuit"] == "open"
        assert explained["fallbacks"] == [BM25]
        # Open breaker: the faulty plugin is skipped, even for a query it would answer.
        r = http.get("/doc-search/v1/search", params={"q": "fine"}, headers=headers).json()
        assert r["plugin"] == BM25
        metrics = http.get("/metrics").text
        assert 'plugway_gateway_fallbacks_total{gateway="doc_search"' in metrics
        # Other rules are untouched by the faulty one.
        other = http.get("/doc-search/v1/search", params={"q": "fine"}).json()
        assert other["plugin"] == TFIDF
        # Without a fallback the failure reaches the caller as a problem naming gateway and plugin.
        _put_routing(http, {"rules": [{"name": "alone", "target": {"plugin": FAULTY}}]})
        r = http.get("/doc-search/v1/search", params={"q": "boom"})
        assert r.status_code == 503
        problem = r.json()
        assert problem["code"] == "gateway.call_failed"
        assert problem["gateway"] == "doc_search" and problem["plugin"] == FAULTY
        assert r.headers["content-type"].startswith("application/problem+json")


# -- config file -------------------------------------------------------------------------------


def _wait_for(fn: Any, what: str, limit: float = 20.0) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def test_editing_the_config_file_changes_the_routing(srv: ServerProcess) -> None:
    assert srv.config_path is not None
    original = srv.config_path.read_text(encoding="utf-8")
    try:
        with srv.client() as http:
            start = http.get("/plugins/v1/gateways/doc_search").json()["revision"]
            doc = yaml.safe_load(original)
            doc["plugins"]["gateways"]["doc_search"]["routing"] = {
                "rules": [{"name": "from-file", "target": {"plugin": TFIDF}}]
            }
            srv.config_path.write_text(yaml.safe_dump(doc), encoding="utf-8")

            def applied() -> dict[str, Any] | None:
                ds: dict[str, Any] = http.get("/plugins/v1/gateways/doc_search").json()
                return ds if ds["revision"] > start else None

            ds = _wait_for(applied, "the edited routing")
            assert ds["routing"]["rules"][0]["name"] == "from-file"
            history = http.get("/plugins/v1/gateways/doc_search/revisions").json()
            assert history["revisions"][0]["who"] == "config-file"

            doc["plugins"]["gateways"]["doc_search"]["routing"] = {
                "rules": [{"name": "bad", "target": {}}]
            }
            srv.config_path.write_text(yaml.safe_dump(doc), encoding="utf-8")

            def refused() -> dict[str, Any] | None:
                d: dict[str, Any] = http.get("/plugins/v1/gateways/doc_search").json()
                return d if d["config_error"] else None

            bad = _wait_for(refused, "the refusal of the invalid edit")
            assert "rules[0].target" in bad["config_error"]
            assert bad["revision"] == ds["revision"]
            hit = http.get("/doc-search/v1/search", params={"q": "coffee"}).json()
            assert hit["rule"] == "from-file"
    finally:
        srv.config_path.write_text(original, encoding="utf-8")


def test_a_config_edit_is_read_like_the_start_up_env_overrides_and_all(
    server_factory: ServerFactory,
) -> None:
    """The watcher uses the start-up loader: ``PLUGWAY__…`` overrides still apply after an edit,
    and a file with a duplicate key is refused as it would be at start-up."""
    env = {"PLUGWAY__PLUGINS__GATEWAYS__DOC_SEARCH__ROUTING__TIMEOUT": "0.3"}
    config: dict[str, Any] = {
        "server": {"admin_token": TOKEN},
        "plugins": {"watch_interval": 0.2, "gateways": {"doc_search": {}}},
    }
    other = server_factory(config=config, env=env).start()
    assert other.config_path is not None
    with other.client() as http:
        ds = http.get("/plugins/v1/gateways/doc_search").json()
        assert ds["routing"]["timeout"] == 0.3
        config["plugins"]["gateways"]["doc_search"]["routing"] = {
            "rules": [{"name": "edited", "target": {"plugin": TFIDF}}]
        }
        other.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")

        def applied() -> dict[str, Any] | None:
            d: dict[str, Any] = http.get("/plugins/v1/gateways/doc_search").json()
            return d if d["revision"] > ds["revision"] else None

        edited = _wait_for(applied, "the edited routing")
        assert edited["routing"]["rules"][0]["name"] == "edited"
        assert edited["routing"]["timeout"] == 0.3  # the override survived the reload
        text = other.config_path.read_text(encoding="utf-8")
        other.config_path.write_text(text + "server:\n  port: 1\n", encoding="utf-8")

        def refused() -> dict[str, Any] | None:
            d: dict[str, Any] = http.get("/plugins/v1/gateways/doc_search").json()
            return d if d["config_error"] else None

        bad = _wait_for(refused, "the refusal of the duplicate key")
        assert "duplicate key 'server'" in bad["config_error"]
        assert bad["revision"] == edited["revision"]


# -- the generic call route --------------------------------------------------------------------


def test_a_gateway_method_is_called_over_http_with_its_outcome(srv: ServerProcess) -> None:
    with srv.client(auth=False) as http:
        with srv.client() as admin:
            revision = _put_routing(
                admin,
                {
                    "rules": [
                        {
                            "name": "eu",
                            "match": {"attributes": {"region": ["eu"]}},
                            "target": {"plugin": TFIDF},
                        }
                    ]
                },
            )
        r = http.post(
            "/plugins/v1/gateways/doc_search/call/search",
            json={"query": "espresso", "limit": 1},
            headers={"X-Attr-Region": "eu", "X-Subject-Id": "u1"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["result"]["hits"][0]["title"] == "Espresso extraction"
        assert r.json()["outcome"]["plugin"] == TFIDF
        assert (r.json()["outcome"]["rule"], r.json()["outcome"]["revision"]) == ("eu", revision)
        r = http.post("/plugins/v1/gateways/doc_search/call/search", json={"query": "x"})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body.limit"
        spec = http.get("/openapi.json").json()
        assert "/plugins/v1/gateways/tenant_resolver/call/get_tenant" in spec["paths"]


# -- CLI ---------------------------------------------------------------------------------------


def _cli(srv: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``plugway`` command in a child process, configured from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGWAY")}
    env["PLUGWAY_URL"] = str(srv.url)
    env["PLUGWAY_TOKEN"] = TOKEN
    return subprocess.run(
        [sys.executable, "-m", "plugway", "plugins", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _cli_in_process(
    srv: ServerProcess, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """The same command run in this process (cheaper than a child per call)."""
    capsys.readouterr()
    code = cli_main(["plugins", "--url", str(srv.url), "--token", TOKEN, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_lists_shows_explains_and_changes_routing(
    srv: ServerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _cli(srv, "list")
    assert out.returncode == 0, out.stderr
    assert "doc_search" in out.stdout and "tenant_resolver" in out.stdout
    assert "broken_ranker" in out.stdout  # discovery failures are listed too

    routing = tmp_path / "routing.yaml"
    routing.write_text(
        yaml.safe_dump({"rules": [{"name": "cli", "target": {"plugin": BM25}}]}), "utf-8"
    )
    code, stdout, stderr = _cli_in_process(
        srv, capsys, "routing", "set", "doc_search", str(routing)
    )
    assert code == 0, stderr
    assert "revision" in stdout

    code, stdout, stderr = _cli_in_process(
        srv, capsys, "explain", "doc_search", "--subject", "u7", "--json"
    )
    assert code == 0, stderr
    assert yaml.safe_load(stdout)["rule"] == "cli"

    code, stdout, stderr = _cli_in_process(srv, capsys, "explain", "doc_search", "--subject", "u7")
    assert code == 0, stderr
    assert "rule:      cli (rule 0)" in stdout and "rule 0 'cli': chosen" in stdout

    code, stdout, _ = _cli_in_process(srv, capsys, "show", "doc_search")
    assert code == 0 and "closed" in stdout and "cli" in stdout

    code, stdout, _ = _cli_in_process(srv, capsys, "routing", "get", "doc_search")
    assert code == 0 and yaml.safe_load(stdout)["rules"][0]["name"] == "cli"

    code, stdout, _ = _cli_in_process(srv, capsys, "history", "doc_search")
    assert code == 0 and "admin-api" in stdout

    code, stdout, stderr = _cli_in_process(srv, capsys, "rollback", "doc_search")
    assert code == 0, stderr
    assert "rolled back" in stdout

    # an unnamed rule is still a rule, not the default route
    routing.write_text(yaml.safe_dump({"rules": [{"target": {"plugin": TFIDF}}]}), "utf-8")
    code, _, stderr = _cli_in_process(srv, capsys, "routing", "set", "doc_search", str(routing))
    assert code == 0, stderr
    code, stdout, stderr = _cli_in_process(srv, capsys, "explain", "doc_search")
    assert code == 0, stderr
    assert "rule:      (unnamed) (rule 0)" in stdout and TFIDF in stdout

    routing.write_text(yaml.safe_dump({"rules": [{"name": "bad", "target": {}}]}), "utf-8")
    code, _, stderr = _cli_in_process(srv, capsys, "routing", "set", "doc_search", str(routing))
    assert code == 1
    assert "rules[0].target" in stderr

    code, _, stderr = _cli_in_process(srv, capsys, "--token", "wrong", "rollback", "doc_search")
    assert code == 1 and "401" in stderr


def test_cli_reports_an_unreachable_server(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["plugins", "--url", "http://127.0.0.1:9", "--timeout", "2", "list"])
    assert code == 1
    assert "cannot reach http://127.0.0.1:9/plugins/v1/gateways" in capsys.readouterr().err


# -- the example package -----------------------------------------------------------------------


def test_the_example_package_joins_once_installed_and_leaves_once_uninstalled(
    srv: ServerProcess, tmp_path: Path
) -> None:
    example = _Example.copy(tmp_path / "example-src")
    target = tmp_path / "site"
    target.mkdir()
    (tmp_path / "srv").mkdir()
    # The server starts with the (still empty) install folder on its path.
    other = ServerProcess(
        tmp_path / "srv", config={"server": {"admin_token": TOKEN}}, env={"PYTHONPATH": str(target)}
    )
    try:
        other.start()
        with other.client() as http:
            ds = http.get("/plugins/v1/gateways/doc_search").json()
            assert example.plugin_id not in {p["id"] for p in ds["plugins"]}
            before = ds["revision"]
        _pip_install(example.source, target)
        # Installed while the server runs: a rescan finds it, no restart, no change to plugway.
        out = _cli(other, "rescan")
        assert out.returncode == 0, out.stderr
        assert "1 plugin(s) added" in out.stdout and example.plugin_id in out.stdout
        with other.client() as http:
            ds = http.get("/plugins/v1/gateways/doc_search").json()
            coverage = next(p for p in ds["plugins"] if p["id"] == example.plugin_id)
            assert coverage["version"] == "1.0" and coverage["defaulted"] == ["suggest"]
            assert coverage["entry_point"] == example.entry_point
            assert ds["revision"] == before + 1
            history = http.get("/plugins/v1/gateways/doc_search/revisions").json()
            assert history["revisions"][0]["who"] == "registry"
            assert history["revisions"][0]["what"] == f"plugin {example.plugin_id} joined"
            new = {"rules": [{"name": "new", "target": {"plugin": example.plugin_id}}]}
            _put_routing(http, new)
            hit = http.get("/doc-search/v1/search", params={"q": "coffee grind"}).json()
            assert hit["plugin"] == example.plugin_id and hit["algorithm"] == "coverage"
            sug = http.get("/doc-search/v1/suggest", params={"prefix": "Espr"}).json()
            assert sug["suggestions"] == ["Espresso extraction"]
            again = http.post(
                "/plugins/v1/discovery/rescan", headers={"Authorization": f"Bearer {TOKEN}"}
            ).json()
            assert again["found"] == [] and again["added"] == [] and again["removed"] == []
        # ... and at the next start-up it is found through its entry point as well.
        other.restart()
        with other.client() as http:
            ds = http.get("/plugins/v1/gateways/doc_search").json()
            assert example.plugin_id in {p["id"] for p in ds["plugins"]}
            hit = http.get("/doc-search/v1/search", params={"q": "coffee grind"}).json()
            assert hit["plugin"] == example.plugin_id
            before = ds["revision"]
        # Uninstalled while the server runs (what pip uninstall removes): a rescan drops it.
        for installed in target.iterdir():
            shutil.rmtree(installed) if installed.is_dir() else installed.unlink()
        out = _cli(other, "rescan")
        assert out.returncode == 0, out.stderr
        assert "0 plugin(s) added, 1 removed" in out.stdout, out.stdout
        with other.client() as http:
            ds = http.get("/plugins/v1/gateways/doc_search").json()
            assert example.plugin_id not in {p["id"] for p in ds["plugins"]}
            assert ds["revision"] == before + 1 and ds["warnings"]  # rule "new" lost its target
            history = http.get("/plugins/v1/gateways/doc_search/revisions").json()
            assert history["revisions"][0]["what"] == f"plugin {example.plugin_id} left"
            hit = http.get("/doc-search/v1/search", params={"q": "coffee grind"})
            assert hit.status_code == 200 and hit.json()["plugin"] == BM25
        # An operator takes a plugin out of routing without touching the installation.
        out = _cli(other, "remove", "doc_search", TFIDF)
        assert out.returncode == 0, out.stderr
        assert f"plugin {TFIDF} removed from doc_search" in out.stdout
        out = _cli(other, "show", "doc_search")
        assert TFIDF not in out.stdout and BM25 in out.stdout
        out = _cli(other, "remove", "doc_search", TFIDF)
        assert out.returncode == 1 and "404" in out.stderr
    finally:
        other.close()


def test_a_package_installed_for_an_out_of_process_entry_gets_its_host_at_rescan(
    tmp_path: Path,
) -> None:
    """The settings switch an entry point that is not installed yet to ``out_of_process``;
    installed while the server runs, a rescan launches its host, and it serves from there;
    uninstalled, the next rescan stops the host and the plugin leaves the routing."""
    example = _Example.copy(tmp_path / "example-src")
    target = tmp_path / "site"
    target.mkdir()
    (tmp_path / "srv").mkdir()
    gateway = {"plugins": {example.entry_point: {"out_of_process": True}}}
    config = {
        "server": {"admin_token": TOKEN},
        "plugins": {"watch": False, "gateways": {"doc_search": gateway}},
    }
    other = ServerProcess(tmp_path / "srv", config=config, env={"PYTHONPATH": str(target)})

    def health() -> dict[str, Any]:
        with other.client() as http:
            health = http.get("/health").json()
            doc: dict[str, Any] = health["components"]["gts.x.core.plugins.health.v1~"]
            return doc

    def serves(plugin_id: str) -> bool:
        with other.client() as http:
            ds = http.get("/plugins/v1/gateways/doc_search").json()
            return plugin_id in {p["id"] for p in ds["plugins"]}

    try:
        other.start()
        assert health()["hosts"] == []  # nothing to launch yet
        _pip_install(example.source, target)
        out = _cli(other, "rescan")
        assert out.returncode == 0, out.stderr
        assert "1 plugin(s) added, 0 removed" in out.stdout, out.stdout
        assert f"in supervised host {example.entry_point}" in out.stdout
        _wait(lambda: serves(example.plugin_id), "the host registers the plugin", other)
        (host,) = health()["hosts"]
        assert host["name"] == example.entry_point and host["state"] == "running"
        with other.client() as http:
            entity = http.get(f"/types-registry/v1/entities/{example.plugin_id}").json()
            assert entity["content"]["endpoint"]["url"].startswith("http://127.0.0.1:")
            _put_routing(
                http, {"rules": [{"name": "new", "target": {"plugin": example.plugin_id}}]}
            )
            hit = http.get("/doc-search/v1/search", params={"q": "coffee grind"}).json()
            assert hit["plugin"] == example.plugin_id and hit["algorithm"] == "coverage"
            assert not hit["fallback"]
        for installed in target.iterdir():
            shutil.rmtree(installed) if installed.is_dir() else installed.unlink()
        out = _cli(other, "rescan")
        assert out.returncode == 0, out.stderr
        assert "0 plugin(s) added, 1 removed" in out.stdout, out.stdout
        _wait(lambda: not serves(example.plugin_id), "the plugin leaves the routing", other)
        _wait(lambda: health()["hosts"] == [], "the host is no longer supervised", other)
        with other.client() as http:
            r = http.get(f"/types-registry/v1/entities/{example.plugin_id}")
            assert r.status_code == 404  # its instance left the registry
            hit = http.get("/doc-search/v1/search", params={"q": "coffee grind"})
            assert hit.status_code == 200 and hit.json()["plugin"] == BM25
    finally:
        other.close()


def _wait(check: Any, what: str, srv: ServerProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s; log:\n{srv.log()[-6000:]}")


class _Example:
    """The example package's source, ready to build; renamed when it is installed here already
    (so that this test never depends on what else the environment holds)."""

    def __init__(self, source: Path, entry_point: str, plugin_id: str) -> None:
        self.source = source
        self.entry_point = entry_point
        self.plugin_id = plugin_id

    @classmethod
    def copy(cls, source: Path) -> _Example:
        # Build from a copy: an in-tree build would leave egg-info in examples/ that later
        # discoveries in other processes could pick up from a source checkout on sys.path.
        shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
        if not _example_installed():
            return cls(source, "coverage_ranker", COVERAGE)
        package = source / "src" / "plugway_example_ranker"
        package.rename(source / "src" / "plugway_example_ranker_e2e")
        for path in (
            source / "pyproject.toml",
            source / "src" / "plugway_example_ranker_e2e" / "__init__.py",
        ):
            text = path.read_text(encoding="utf-8")
            for old, new in (
                ("plugway_example_ranker", "plugway_example_ranker_e2e"),
                ("plugway-example-ranker", "plugway-example-ranker-e2e"),
                ("coverage_ranker", "coverage_ranker_e2e"),
            ):
                text = text.replace(old, new)
            path.write_text(text, encoding="utf-8")
        return cls(
            source,
            "coverage_ranker_e2e",
            COVERAGE.replace("coverage_ranker", "coverage_ranker_e2e"),
        )


def _pip_install(source: Path, target: Path) -> None:
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            # The build backend comes from the dev extras, so the test needs no package index.
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
