"""The GTS conformance server, driven over real HTTP against a `plugway gts serve` process.

These tests restate, in our own words, what gts-spec's conformance suite checks for every
endpoint of tests/openapi.json (the suite itself is not part of CI).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

DRAFT7 = "http://json-schema.org/draft-07/schema#"
BASE = "gts.x.conf.events.event.v1~"
V10 = BASE + "x.conf.orders.placed.v1.0~"
V11 = BASE + "x.conf.orders.placed.v1.1~"
INSTANCE = V10 + "x.conf._.first.v1"
ANON = "5f1d2f34-5678-49ab-9012-abcdef123456"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _plugway() -> list[str]:
    exe = Path(sys.executable).with_name("plugway")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("plugway")
    return [found] if found else [sys.executable, "-m", "plugway"]


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    port = _free_port()
    proc = subprocess.Popen(
        [*_plugway(), "gts", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base_url, timeout=10) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if http.get("/entities").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    pytest.fail(f"plugway gts serve did not come up: {err}")
                time.sleep(0.1)
            _seed(http)
            yield http
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _schema(type_id: str, **body: Any) -> dict[str, Any]:
    return {"$id": f"gts://{type_id}", "$schema": DRAFT7, **body}


def _placed(type_id: str, extra: dict[str, Any]) -> dict[str, Any]:
    payload = {
        "type": "object",
        "required": ["total"],
        "properties": {"total": {"type": "number"}, **extra},
    }
    return _schema(
        type_id,
        type="object",
        allOf=[
            {"$ref": f"gts://{BASE}"},
            {"properties": {"type": {"const": type_id}, "payload": payload}},
        ],
    )


def _seed(http: httpx.Client) -> None:
    docs = [
        _schema(
            BASE,
            type="object",
            required=["id"],
            properties={"id": {"type": "string"}, "type": {"type": "string"}},
        ),
        _placed(V10, {}),
        _placed(V11, {"channel": {"type": "string", "default": "web"}}),
        {"id": INSTANCE, "type": V10, "payload": {"total": 5}, "status": "active"},
        {"id": ANON, "type": V10, "payload": {"total": "five"}, "status": "draft"},
    ]
    for doc in docs:
        response = http.post("/entities", json=doc)
        assert response.status_code == 200, response.text


# ------------------------------------------------------------------ entities


def test_list_and_get_entities(client: httpx.Client) -> None:
    listing = client.get("/entities", params={"limit": 2}).json()
    assert listing["count"] == 2 and listing["total"] >= 5
    body = client.get(f"/entities/{INSTANCE}").json()
    assert body["content"]["payload"] == {"total": 5}
    assert body["type_id"] == V10 and body["is_type"] is False
    assert client.get("/entities/gts.x.conf.none.thing.v1~").status_code == 404
    assert client.get("/entities", params={"limit": 0}).status_code == 422


def test_registration_reports_refusals_as_422(client: httpx.Client) -> None:
    ok = client.post("/entities", json={"id": V10 + "x.conf._.second.v1", "payload": {}})
    assert ok.status_code == 200 and ok.json()["ok"] is True
    assert ok.json()["id"] == V10 + "x.conf._.second.v1"
    always = client.post(
        "/entities", json=_schema("gts.x.conf.bad.flag.v1~", **{"x-gts-final": "yes"})
    )
    assert always.status_code == 422
    assert always.json()["ok"] is False and "x-gts-final" in always.json()["error"]
    raw_id = {"$id": "gts.x.conf.raw.id.v1~", "$schema": DRAFT7}
    assert client.post("/entities", json=raw_id).status_code == 200
    for flag in ("validate", "validation"):
        strict = client.post("/entities", params={flag: "true"}, json=raw_id)
        assert strict.status_code == 422 and strict.json()["ok"] is False
    unknown = {"event_id": ANON, "event_type": BASE + "a.b.c.d.v1"}
    assert client.post("/entities", params={"validate": "true"}, json=unknown).status_code == 422
    assert client.post("/entities", json=[1, 2]).status_code == 422


def test_bulk_and_type_schema_registration(client: httpx.Client) -> None:
    bulk = client.post(
        "/entities/bulk",
        json=[
            _schema("gts.x.conf.bulk.a.v1~"),
            {"no": "id"},
            {"id": "gts.x.conf.bulk.a.v1~x.c._.i.v1"},
        ],
    ).json()
    assert [r["ok"] for r in bulk["results"]] == [True, False, True]
    assert bulk["registered"] == 2 and bulk["failed"] == 1
    created = client.post(
        "/type-schemas",
        json={"type_id": "gts.x.conf.explicit.t.v1~", "type_schema": {"type": "object"}},
    )
    assert created.status_code == 200 and created.json()["id"] == "gts.x.conf.explicit.t.v1~"
    stored = client.get("/entities/gts.x.conf.explicit.t.v1~").json()["content"]
    assert stored["$id"] == "gts://gts.x.conf.explicit.t.v1~"
    assert client.post("/type-schemas", json={"type_id": "x"}).status_code == 422


# ------------------------------------------------------------------ OP#1 - OP#5


def test_id_endpoints(client: httpx.Client) -> None:
    valid = client.get("/validate-id", params={"gts_id": V10}).json()
    assert valid == {"id": V10, "valid": True, "error": "", "is_wildcard": False}
    bad = client.get("/validate-id", params={"gts_id": "gts.x.conf"}).json()
    assert bad["valid"] is False and bad["error"]
    pattern = client.get("/validate-id", params={"gts_id": "gts.a.b.c.d.v1~a.*"}).json()
    assert pattern["valid"] is True and pattern["is_wildcard"] is True
    bad_pattern = client.get("/validate-id", params={"gts_id": "gts.vendor*"}).json()
    assert bad_pattern["valid"] is False and bad_pattern["is_wildcard"] is True

    parsed = client.get("/parse-id", params={"gts_id": INSTANCE}).json()
    assert parsed["ok"] is True and parsed["is_type"] is False
    assert [s["vendor"] for s in parsed["segments"]] == ["x", "x", "x"]
    assert parsed["segments"][1]["ver_minor"] == 0 and parsed["segments"][0]["ver_minor"] is None
    assert [s["is_type"] for s in parsed["segments"]] == [True, True, False]
    wild = client.get("/parse-id", params={"gts_id": "gts.x.pkg.ns.*"}).json()
    assert wild["ok"] is True and wild["is_wildcard"] is True
    broken = client.get("/parse-id", params={"gts_id": "gts.a.b.c.d.v1~a*"}).json()
    assert broken["ok"] is False and broken["is_wildcard"] is True and broken["error"]

    hit = client.get("/match-id-pattern", params={"pattern": BASE, "candidate": INSTANCE}).json()
    assert hit["match"] is True and hit["error"] == ""
    miss = client.get(
        "/match-id-pattern",
        params={"pattern": "gts.x.conf.events.event.v2~*", "candidate": INSTANCE},
    ).json()
    assert miss["match"] is False and miss["error"]
    invalid = client.get(
        "/match-id-pattern", params={"pattern": "gts.*.a.*", "candidate": V10}
    ).json()
    assert invalid["match"] is False and invalid["error"].startswith("Invalid")

    uuid = client.get("/uuid", params={"gts_id": "gts.x.test5.events.type.v1~"}).json()
    assert uuid["uuid"] == "de567dcc-10ef-597d-8f82-3c999ed9b979"

    extracted = client.post("/extract-id", json={"id": ANON, "type": V10}).json()
    assert extracted["id"] == ANON and extracted["type_id"] == V10
    assert extracted["selected_type_id_field"] == "type" and extracted["is_type"] is False


# ------------------------------------------------------------------ OP#6, OP#12, OP#13


def test_validation_endpoints(client: httpx.Client) -> None:
    ok = client.post("/validate-instance", json={"instance_id": INSTANCE}).json()
    assert ok == {"id": INSTANCE, "ok": True, "error": ""}
    anon = client.post("/validate-instance", json={"instance_id": ANON}).json()
    assert anon["ok"] is False and "total" in anon["error"]
    missing = client.post("/validate-instance", json={"instance_id": BASE + "a.b.c.d.v9"}).json()
    assert missing["ok"] is False
    assert client.post("/validate-instance", json={}).status_code == 422

    assert client.post("/validate-type-schema", json={"type_id": V11}).json()["ok"] is True
    entity = client.post("/validate-entity", json={"entity_id": V10}).json()
    assert entity["ok"] is True and entity["entity_type"] == "schema"
    aliased = client.post("/validate-entity", json={"gts_id": ANON}).json()
    assert aliased["ok"] is False and aliased["entity_type"] == "instance"
    assert client.post("/validate-entity", json={}).status_code == 422


# ------------------------------------------------------------------ OP#7 - OP#11


def test_relationships_compatibility_and_cast(client: httpx.Client) -> None:
    graph = client.get("/resolve-relationships", params={"gts_id": INSTANCE}).json()
    assert graph["ok"] is True and set(graph["entities"]) == {INSTANCE, V10, BASE}

    compat = client.get("/compatibility", params={"old_type_id": V10, "new_type_id": V11}).json()
    assert compat["old"] == V10 and compat["new"] == V11
    assert compat["is_backward_compatible"] and compat["is_forward_compatible"]
    assert compat["is_fully_compatible"] is True

    cast = client.post("/cast", json={"instance_id": INSTANCE, "to_type_id": V11}).json()
    assert cast["error"] == "" and cast["casted_entity"]["payload"]["channel"] == "web"
    refused = client.post("/cast", json={"instance_id": V10, "to_type_id": V11}).json()
    assert refused["casted_entity"] is None and "must be an instance" in refused["error"]


def test_query_and_attr(client: httpx.Client) -> None:
    found = client.get("/query", params={"expr": V10 + "*", "limit": 50}).json()
    assert found["limit"] == 50 and found["error"] == ""
    assert {d["id"] for d in found["results"]} >= {INSTANCE}
    filtered = client.get("/query", params={"expr": "gts.x.conf.*[status=active]"}).json()
    assert [d["id"] for d in filtered["results"]] == [INSTANCE]
    limited = client.get("/query", params={"expr": "gts.x.conf.*", "limit": 1}).json()
    assert len(limited["results"]) == 1
    invalid = client.get("/query", params={"expr": "gts.x.conf"}).json()
    assert invalid["results"] == [] and invalid["error"].startswith("Invalid query")
    assert client.get("/query", params={"expr": "gts.*", "limit": 1001}).status_code == 422

    attr = client.get("/attr", params={"gts_with_path": INSTANCE + "@payload.total"}).json()
    assert attr["resolved"] is True and attr["value"] == 5
    missing = client.get("/attr", params={"gts_with_path": INSTANCE + "@payload.nope"}).json()
    assert missing["resolved"] is False
    no_at = client.get("/attr", params={"gts_with_path": INSTANCE}).json()
    assert no_at["resolved"] is False
