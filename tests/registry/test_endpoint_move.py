"""An out-of-process plugin's instance moves when its host comes back at another address.

The instance document of a hosted plugin carries an ``endpoint`` (and ``contract_version``),
described by the plugin base type. A host restarted on port 0 registers the same instance with
another ``endpoint.url``: the registry replaces the stored instance (an event, a new revision)
instead of refusing a conflict; any other change is still a conflict, and a refused new
endpoint leaves the stored instance as it was.
"""

from __future__ import annotations

from typing import Any

import pytest

from plugway.registry import RegistryConflictError, RegistryEvent, TypesRegistry

from ._builders import contract_type, plugin


def _hosted(url: str, **endpoint: Any) -> dict[str, Any]:
    doc = plugin("remote")
    doc["contract_version"] = "1.0"
    doc["endpoint"] = {
        "url": url,
        "path": "/v1/docs/acme.search.remote.plugin.v1",
        "protocol": "plugway-http/1",
        "heartbeat_s": 5.0,
        "ttl_s": 15.0,
        **endpoint,
    }
    return doc


@pytest.fixture
def ready(registry: TypesRegistry) -> TypesRegistry:
    registry.register(contract_type())
    registry.switch_to_ready()
    return registry


def test_a_new_endpoint_replaces_the_instance(ready: TypesRegistry) -> None:
    events: list[RegistryEvent] = []
    first = ready.register(_hosted("http://127.0.0.1:4001"))
    ready.subscribe(events.append)
    moved = ready.register(_hosted("http://127.0.0.1:4002"))
    assert moved.content["endpoint"]["url"] == "http://127.0.0.1:4002"
    assert ready.get(first.gts_id).content["endpoint"]["url"] == "http://127.0.0.1:4002"
    assert [e.kind for e in events] == ["registered"]
    again = ready.register_many([_hosted("http://127.0.0.1:4002")])  # a heartbeat: no change
    assert again[0].ok and not again[0].created


def test_other_changes_are_still_conflicts(ready: TypesRegistry) -> None:
    ready.register(_hosted("http://127.0.0.1:4001"))
    other = _hosted("http://127.0.0.1:4002")
    other["priority"] = 99
    with pytest.raises(RegistryConflictError):
        ready.register(other)
    plain = plugin("local")
    ready.register(plain)
    with pytest.raises(RegistryConflictError):
        ready.register({**plain, "priority": 1})


def test_a_refused_endpoint_leaves_the_stored_instance(ready: TypesRegistry) -> None:
    ready.register(_hosted("http://127.0.0.1:4001"))
    results = ready.register_many([_hosted("http://127.0.0.1:4002", path="no-slash")])
    assert not results[0].ok and "path" in str(results[0].error)
    gid = plugin("remote")["id"]
    assert ready.get(gid).content["endpoint"]["url"] == "http://127.0.0.1:4001"
    results = ready.register_many([_hosted("http://127.0.0.1:4003", ttl_s=0)])
    assert not results[0].ok
    assert ready.get(gid).content["endpoint"]["url"] == "http://127.0.0.1:4001"
