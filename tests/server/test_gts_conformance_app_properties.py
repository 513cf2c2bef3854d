"""Property test: no request makes the conformance app answer 5xx."""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from plugway.server import create_gts_app

_ids = st.sampled_from(
    [
        "gts.x.p.a.b.v1~",
        "gts.x.p.a.b.v1~x.p._.i.v1",
        "gts.x.p.*",
        "gts.x.p.a.b.v1~*",
        "gts.x.p",
        "",
        "gts.x.p.a.b.v1~x.p._.i.v1@a.b[0]",
    ]
) | st.text(max_size=30)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10) | _ids,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "type", "$ref", "$id", "$schema", "p"]), inner, max_size=3
        )
    ),
    max_leaves=10,
)
_bodies = st.dictionaries(
    st.sampled_from(
        ["$id", "$schema", "id", "type", "allOf", "properties", "x-gts-final", "x-gts-ref"]
    ),
    _json,
    max_size=5,
)

_client = TestClient(create_gts_app(), raise_server_exceptions=False)


def _plain_path(text: str) -> bool:
    return bool(text) and text.isascii() and text.isprintable() and not set("/?#% ") & set(text)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=_bodies, validate=st.booleans(), gts_id=_ids, other=_ids)
def test_no_request_gets_a_server_error(
    body: dict[str, Any], validate: bool, gts_id: str, other: str
) -> None:
    responses = [
        _client.post("/entities", params={"validate": validate}, json=body),
        _client.post("/extract-id", json=body),
        _client.get("/validate-id", params={"gts_id": gts_id}),
        _client.get("/parse-id", params={"gts_id": gts_id}),
        _client.get("/match-id-pattern", params={"pattern": gts_id, "candidate": other}),
        _client.get("/uuid", params={"gts_id": gts_id}),
        _client.post("/validate-instance", json={"instance_id": gts_id}),
        _client.post("/validate-type-schema", json={"type_id": gts_id}),
        _client.post("/validate-entity", json={"entity_id": gts_id}),
        _client.get("/resolve-relationships", params={"gts_id": gts_id}),
        _client.get("/compatibility", params={"old_type_id": gts_id, "new_type_id": other}),
        _client.post("/cast", json={"instance_id": gts_id, "to_type_id": other}),
        _client.get("/query", params={"expr": gts_id}),
        _client.get("/attr", params={"gts_with_path": gts_id}),
        _client.get(f"/entities/{gts_id}") if _plain_path(gts_id) else None,
    ]
    for response in responses:
        if response is not None:
            assert response.status_code < 500, (response.request.url, response.text)
