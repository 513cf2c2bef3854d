"""``plugway serve`` as a real process over real HTTP: health, docs, the registry REST API,
restarts, ``kill -9`` during a burst of writes, orderly stop, problem documents, bad config."""

from __future__ import annotations

import re
import signal
import sqlite3
import threading
from typing import Any

import httpx
import yaml
from _server_process import ServerFactory, ServerProcess, run_plugway

BASE = "/types-registry/v1"
ORDER_TYPE = "gts.acme.shop.orders.order.v1~"
SCHEMA_URL = "http://json-schema.org/draft-07/schema#"


def type_doc(type_id: str = ORDER_TYPE) -> dict[str, Any]:
    return {
        "$id": f"gts://{type_id}",
        "$schema": SCHEMA_URL,
        "type": "object",
        "properties": {"id": {"type": "string"}, "total": {"type": "number"}},
        "required": ["id"],
    }


def instance_doc(name: str, total: float = 1.0) -> dict[str, Any]:
    return {"id": f"{ORDER_TYPE}acme.shop.orders.{name}.v1", "total": total}


def all_entities(http: httpx.Client, **params: Any) -> dict[str, dict[str, Any]]:
    """Every entity matching ``params``, walking the cursor."""
    out: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        query = dict(params, limit=1000)
        if cursor:
            query["cursor"] = cursor
        resp = http.get(f"{BASE}/entities", params=query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        for item in body["items"]:
            out[item["gts_id"]] = item
        cursor = body["next_cursor"]
        if cursor is None:
            return out


def test_health_docs_and_metrics(server: ServerProcess) -> None:
    with server.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        health = http.get("/health")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "ok"
        assert body["registry"] == {"ready": True}
        assert body["modules"]["types_registry"] == "running"
        assert set(body["modules"].values()) == {"running"}
        docs = http.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        assert "https://" not in docs.text  # no CDN: the docs render offline
        assert http.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
        spec = http.get("/openapi.json").json()
        assert "/types-registry/v1/entities/{gts_id}" in spec["paths"]
        metrics = http.get("/metrics")
        assert metrics.status_code == 200
        assert "plugway_registry_ready 1" in metrics.text
        assert "# plugway: metrics source" not in metrics.text  # no shipped source is broken
        assert 'plugway_module_phase{module="types_registry",phase="running"} 1' in metrics.text
    log = server.log()
    assert f"data folder: {server.data_dir.resolve()}" in log
    assert "embedded default" in log


def test_embedded_default_token_is_generated_kept_and_required(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory().start()
    token_file = srv.data_dir / "admin-token"
    token = token_file.read_text().strip()
    assert len(token) >= 32
    assert token_file.stat().st_mode & 0o077 == 0
    assert token in srv.log()
    assert (srv.data_dir / "registry.sqlite3").exists()
    with srv.client(auth=False) as anon:
        resp = anon.post(f"{BASE}/entities", json=[type_doc()])
        assert resp.status_code == 401
        assert resp.json()["code"] == "auth.unauthorized"
        assert anon.get(f"{BASE}/entities").status_code == 200  # reads stay open
    srv.restart()
    assert token_file.read_text().strip() == token
    assert token not in srv.log()  # shown once, when created; afterwards only where it is
    assert str(token_file.resolve()) in srv.log()
    with srv.client() as http:
        assert http.post(f"{BASE}/entities", json=[type_doc()]).status_code == 201


def test_register_then_query_and_get(server: ServerProcess) -> None:
    other = "gts.globex.crm.people.person.v1~"
    docs = [type_doc(), type_doc(other)] + [instance_doc(f"o{i}", i) for i in range(12)]
    with server.client() as http:
        resp = http.post(f"{BASE}/entities", json=docs)
        assert resp.status_code == 201, resp.text
        assert resp.json()["summary"] == {
            "total": 14,
            "succeeded": 14,
            "failed": 0,
            "created": 14,
        }
        acme = all_entities(http, pattern="gts.acme.*", kind="instance")
        assert len(acme) == 12
        assert list(all_entities(http, vendor="globex")) == [other]
        page = http.get(f"{BASE}/entities", params={"pattern": "gts.acme.*", "limit": 5}).json()
        assert len(page["items"]) == 5 and page["next_cursor"]
        got = http.get(f"{BASE}/entities/{ORDER_TYPE}acme.shop.orders.o7.v1")
        assert got.status_code == 200
        assert got.json()["content"] == instance_doc("o7", 7)
        assert got.json()["kind"] == "instance"


def test_registrations_survive_a_restart(server: ServerProcess) -> None:
    docs = [type_doc()] + [instance_doc(f"r{i}", i) for i in range(20)]
    with server.client() as http:
        assert http.post(f"{BASE}/entities", json=docs).status_code == 201
        before = all_entities(http, pattern="gts.acme.*")
    assert server.stop() == 0
    server.start()
    with server.client() as http:
        after = all_entities(http, pattern="gts.acme.*")
        assert after == before
        assert len(after) == 21
        # Idempotent after restart too: same content is 200, not a conflict.
        again = http.post(f"{BASE}/entities", json=docs[:3])
        assert again.status_code == 200


def test_concurrent_identical_registrations_create_each_entity_once(
    server: ServerProcess,
) -> None:
    docs = [type_doc()] + [instance_doc(f"same{i}", i) for i in range(20)]
    created: dict[str, int] = {}
    statuses: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        with server.client() as http:
            resp = http.post(f"{BASE}/entities", json=docs)
        with lock:
            statuses.append(resp.status_code)
            for r in resp.json()["results"]:
                assert r["ok"], r
                created[r["gts_id"]] = created.get(r["gts_id"], 0) + int(r["created"])

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(statuses) == 6
    assert set(statuses) <= {200, 201}
    assert statuses.count(201) == 1
    assert created == {d.get("id") or d["$id"][len("gts://") :]: 1 for d in docs}


def test_kill_9_during_a_burst_keeps_every_acknowledged_entity(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory().start()
    with srv.client() as http:
        assert http.post(f"{BASE}/entities", json=[type_doc()]).status_code == 201

    workers, batch, target = 4, 40, 800
    sent: dict[str, dict[str, Any]] = {}
    acked: set[str] = set()
    lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()
    failures: list[str] = []
    cut: list[int] = []  # workers whose request the kill cut off

    def work(w: int) -> None:
        with srv.client(timeout=30) as http:
            for b in range(500):  # bounded: the kill comes long before this runs out
                if stop.is_set():
                    return
                docs = [instance_doc(f"w{w}b{b}i{i}", w * 1e6 + b * 1e3 + i) for i in range(batch)]
                with lock:
                    sent.update((d["id"], d) for d in docs)
                try:
                    resp = http.post(f"{BASE}/entities", json=docs)
                except httpx.HTTPError:
                    with lock:
                        cut.append(w)
                    return  # the server died under us: this batch is unacknowledged
                if resp.status_code not in (200, 201, 207):
                    failures.append(f"{resp.status_code}: {resp.text[:300]}")
                    return
                ok = [r["gts_id"] for r in resp.json()["results"] if r["ok"]]
                with lock:
                    acked.update(ok)
                    if len(acked) >= target:
                        enough.set()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    try:
        assert enough.wait(timeout=240), f"burst never reached {target} acks: {failures}"
        assert srv.kill() == -signal.SIGKILL
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not failures
    acknowledged = set(acked)
    assert len(acknowledged) >= target

    srv.start()
    with srv.client() as http:
        stored = all_entities(http, pattern=ORDER_TYPE + "*", kind="instance")
    # Every acknowledged entity is there, intact.
    missing = acknowledged - stored.keys()
    assert not missing, f"{len(missing)} acknowledged entities lost, e.g. {sorted(missing)[:3]}"
    # Nothing half-written: whatever is stored is exactly one of the documents sent.
    for gts_id, item in stored.items():
        assert gts_id in sent, f"stored entity that was never sent: {gts_id}"
        assert item["content"] == sent[gts_id], f"{gts_id} stored with altered content"
    print(f"sent {len(sent)}, acknowledged {len(acknowledged)}, stored {len(stored)}, cut {cut}")
    assert srv.stop() == 0
    db = sqlite3.connect(srv.data_dir / "registry.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()


def test_sigterm_stops_http_then_modules_in_reverse_order(server: ServerProcess) -> None:
    assert server.stop(signal.SIGTERM) == 0
    log = server.log()
    running = re.search(r"modules running: (.+)", log)
    assert running, log
    started = [name.strip() for name in running.group(1).split(",")]
    assert "types_registry" in started
    stopped = re.findall(r"module '(\w+)' stopped", log)
    assert stopped == list(reversed(started))
    assert log.index("received SIGTERM") < log.index("HTTP server stopped")
    assert log.index("HTTP server stopped") < log.index(f"module '{stopped[0]}' stopped")
    # the database is closed after the last module, cleanly: WAL checkpointed into the file
    assert log.index(f"module '{stopped[-1]}' stopped") < log.index("types registry closed")
    wal = server.data_dir / "registry.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    assert log.rstrip().endswith("plugway stopped (exit code 0)")


def test_sigint_is_an_orderly_stop_too(server: ServerProcess) -> None:
    assert server.stop(signal.SIGINT) == 0
    assert "received SIGINT" in server.log()
    assert "plugway stopped (exit code 0)" in server.log()


def _problem(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"].endswith(code)
    return body


def test_bad_requests_get_problem_documents(server: ServerProcess) -> None:
    with server.client() as http:
        _problem(
            http.get(f"{BASE}/entities", params={"pattern": "gts.acme.*.x"}),
            400,
            "registry.invalid_query",
        )
        body = _problem(
            http.get(f"{BASE}/entities", params={"vendr": "acme"}), 400, "request.invalid"
        )
        assert body["errors"][0]["field"] == "query.vendr"
        body = _problem(
            http.get(f"{BASE}/entities", params={"limit": "many"}), 400, "request.invalid"
        )
        assert body["errors"][0]["field"] == "query.limit"
        body = _problem(
            http.post(f"{BASE}/entities", content=b'{"not": "an array"}'),
            400,
            "request.invalid",
        )
        assert body["errors"][0]["field"] == "body"
        _problem(
            http.post(
                f"{BASE}/entities",
                content=b"[{",
                headers={"content-type": "application/json"},
            ),
            400,
            "request.invalid",
        )
        _problem(
            http.get(f"{BASE}/entities/{ORDER_TYPE}acme.shop.orders.nope.v1"),
            404,
            "registry.not_found",
        )
        _problem(http.get(f"{BASE}/entities/nope"), 400, "registry.invalid_id")
        _problem(http.get("/no/such/thing"), 404, "http.not_found")
        # Per-item problems inside a bulk answer carry the same stable codes.
        http.post(f"{BASE}/entities", json=[type_doc(), instance_doc("c1", 1)])
        resp = http.post(f"{BASE}/entities", json=[instance_doc("c1", 2)])
        assert resp.status_code == 207
        assert resp.json()["results"][0]["code"] == "registry.conflict"


def test_invalid_config_file_is_refused_with_field_paths(tmp_path: Any) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"port": "eighty", "colour": "blue"},
                "modules": {"types_registry": {"config": {"max_batch": 0}}},
            }
        )
    )
    result = run_plugway("serve", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "server.port" in result.stderr
    assert "server.colour" in result.stderr
    assert not (tmp_path / "data" / "registry.sqlite3").exists()

    config.write_text(
        yaml.safe_dump({"modules": {"types_registry": {"config": {"max_batch": 0, "x": 1}}}})
    )
    result = run_plugway("serve", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "modules.types_registry.config.max_batch" in result.stderr
    assert "modules.types_registry.config.x" in result.stderr

    missing = run_plugway("serve", "--config", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert missing.returncode == 2
    assert "nope.yaml" in missing.stderr


def test_config_file_with_its_own_token_and_database(server_factory: ServerFactory) -> None:
    srv = server_factory(
        config={
            "server": {"admin_token": "from-the-config-file"},
            "registry": {"backend": "sqlite", "path": "reg/types.db"},
            "modules": {"types_registry": {"config": {"max_batch": 2}}},
        }
    ).start()
    assert not (srv.data_dir / "admin-token").exists()
    assert (srv.data_dir / "reg" / "types.db").exists()
    assert "from-the-config-file" not in srv.log()
    with srv.client() as http:
        assert http.post(f"{BASE}/entities", json=[type_doc()]).status_code == 201
        _problem(
            http.post(f"{BASE}/entities", json=[instance_doc(f"m{i}") for i in range(3)]),
            413,
            "request.too_large",
        )
    with srv.client(auth=False) as anon:
        _problem(anon.post(f"{BASE}/entities", json=[type_doc()]), 401, "auth.unauthorized")


def test_busy_port_fails_fast(server: ServerProcess, tmp_path: Any) -> None:
    assert server.url is not None
    port = server.url.rsplit(":", 1)[1]
    result = run_plugway("serve", "--host", "127.0.0.1", "--port", port, cwd=tmp_path)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
