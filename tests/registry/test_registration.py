"""Registration: id checks, idempotency, conflicts, bulk results, the built-in base type."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from plugway.registry import (
    PLUGIN_BASE_TYPE_ID,
    Entity,
    EntityRow,
    MemoryBackend,
    RegistryConflictError,
    RegistryEvent,
    RegistryInUseError,
    RegistryInvalidContentError,
    RegistryInvalidEntityError,
    RegistryNotFoundError,
    RegistryStorageError,
    TypesRegistry,
    plugin_base_schema,
)

from ._builders import ORDER_T, order, order_type


def test_base_plugin_type_is_registered_on_creation(registry: TypesRegistry) -> None:
    base = registry.get(PLUGIN_BASE_TYPE_ID)
    assert base.is_type
    assert base.type_id is None
    assert base.content["$id"] == f"gts://{PLUGIN_BASE_TYPE_ID}"
    assert base.content["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert set(base.content["required"]) == {"id", "vendor", "priority", "properties"}
    assert base.content["properties"]["priority"] == {"type": "integer"}
    assert base.content == plugin_base_schema()


def test_base_plugin_type_cannot_be_removed(registry: TypesRegistry) -> None:
    with pytest.raises(RegistryInUseError, match="built-in"):
        registry.remove(PLUGIN_BASE_TYPE_ID)


def test_register_returns_entity_with_fields(registry: TypesRegistry) -> None:
    registry.register(order_type())
    e = registry.register(order("o1"))
    assert e.gts_id == f"{ORDER_T}acme.shop.orders.o1.v1"
    assert not e.is_type
    assert e.type_id == ORDER_T
    assert (e.vendor, e.package, e.namespace) == ("acme", "shop", "orders")
    assert e.content == order("o1")
    assert e.revision > 0
    assert registry.get(e.gts_id) == e


def test_same_content_is_idempotent(registry: TypesRegistry) -> None:
    first = registry.register(order_type())
    rev = registry.revision
    # same content, different key order: still the same document
    doc = dict(reversed(list(order_type().items())))
    again = registry.register(doc)
    assert again == first
    assert registry.revision == rev
    (res,) = registry.register_many([order_type()])
    assert res.ok and not res.created and res.gts_id == ORDER_T


def test_different_content_is_a_conflict_naming_the_id(registry: TypesRegistry) -> None:
    registry.register(order("o1", total=1))
    with pytest.raises(RegistryConflictError) as info:
        registry.register(order("o1", total=2))
    gid = f"{ORDER_T}acme.shop.orders.o1.v1"
    assert gid in str(info.value)
    assert info.value.gts_id == gid
    assert registry.get(gid).content["total"] == 1


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ([1, 2], "JSON object"),
        ({"total": 3}, "no GTS id"),
        ({"id": "gts.acme.shop"}, "gts.acme.shop"),
        ({"id": "gts.acme.shop.orders.order.v1~acme.*"}, "acme.*"),
        ({"id": "gts.acme.shop.orders.order.v1~acme.shop.orders.o1.v1", "x": math.nan}, "JSON"),
        ({"id": "gts.acme.shop.orders.order.v1~acme.shop.orders.o1.v1", "x": {1, 2}}, "JSON"),
        ({"id": "gts.acme.shop.orders.order.v1~"}, "$schema"),
        ({"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "type": ORDER_T}, "combined id"),
    ],
)
def test_malformed_documents_are_refused(registry: TypesRegistry, doc: Any, fragment: str) -> None:
    before = registry.count()
    with pytest.raises(RegistryInvalidEntityError) as info:
        registry.register(doc)
    assert fragment in str(info.value)
    assert registry.count() == before


def test_register_many_gives_one_result_per_item_in_order(registry: TypesRegistry) -> None:
    registry.register(order("o2", total=1))
    results = registry.register_many(
        [order_type(), {"nope": 1}, order("o1"), order("o2", total=5), order("o1")]
    )
    assert [r.ok for r in results] == [True, False, True, False, True]
    assert [r.created for r in results] == [True, False, True, False, False]
    assert results[0].gts_id == ORDER_T
    assert results[1].gts_id is None and results[1].code == "TYPES_REGISTRY_INVALID_GTS_ID"
    assert results[3].code == "TYPES_REGISTRY_ALREADY_EXISTS"
    assert results[3].error is not None and "o2" in results[3].error
    assert results[2].entity is not None and results[2].entity == results[4].entity
    assert registry.get(order("o2")["id"]).content["total"] == 1


def test_conflict_inside_one_batch(registry: TypesRegistry) -> None:
    results = registry.register_many([order("o1", total=1), order("o1", total=2)])
    assert [r.ok for r in results] == [True, False]
    assert results[1].code == "TYPES_REGISTRY_ALREADY_EXISTS"
    assert registry.get(order("o1")["id"]).content["total"] == 1


def test_stored_content_cannot_be_mutated_through_results(registry: TypesRegistry) -> None:
    doc = order("o1")
    e = registry.register(doc)
    doc["total"] = 99
    e.content["total"] = 77  # type: ignore[index]
    assert registry.get(e.gts_id).content["total"] == 10


def test_remove(registry: TypesRegistry) -> None:
    e = registry.register(order("o1"))
    registry.remove(e.gts_id)
    with pytest.raises(RegistryNotFoundError, match="o1"):
        registry.get(e.gts_id)
    with pytest.raises(RegistryNotFoundError):
        registry.remove(e.gts_id)
    assert registry.register(order("o1", total=3)).content["total"] == 3


def test_revisions_only_grow(registry: TypesRegistry) -> None:
    a = registry.register(order("o1"))
    registry.remove(a.gts_id)
    b = registry.register(order("o2"))
    assert b.revision > a.revision
    assert registry.revision == b.revision


class _FlakyBackend(MemoryBackend):
    """Fails the next write, as a full disk would."""

    fail_next = False

    def put_many(
        self, rows: Sequence[EntityRow], *, replacing: Mapping[str, str] | None = None
    ) -> list[int]:
        if self.fail_next:
            self.fail_next = False
            raise RegistryStorageError("disk full")
        return super().put_many(rows, replacing=replacing)


def test_a_failed_write_leaves_nothing_behind() -> None:
    backend = _FlakyBackend()
    reg = TypesRegistry(backend)
    reg.register(order_type())
    reg.switch_to_ready()
    seen: list[RegistryEvent] = []
    reg.subscribe(seen.append)
    backend.fail_next = True
    with pytest.raises(RegistryStorageError, match="disk full"):
        reg.register_many([order("o1"), order("o2")])
    assert seen == []
    with pytest.raises(RegistryNotFoundError):
        reg.get(order("o1")["id"])
    # the live validation store was rolled back too: a different o1 is not a conflict
    assert reg.register(order("o1", total=5)).content["total"] == 5


def test_deeply_nested_document_is_refused_cleanly(registry: TypesRegistry) -> None:
    doc: dict[str, Any] = order("deep")
    node = doc
    for _ in range(100_000):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(RegistryInvalidEntityError, match="deep"):
        registry.register(doc)


def test_bulk_results_decode_the_stored_entity_only_when_read(
    registry: TypesRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk caller that never reads ``entity`` (the REST face) pays no second JSON decode."""
    registry.register(order("o0"))
    decoded: list[str] = []
    real = EntityRow.to_entity

    def counting(self: EntityRow, revision: int) -> Entity:
        decoded.append(self.gts_id)
        return real(self, revision)

    monkeypatch.setattr(EntityRow, "to_entity", counting)
    results = registry.register_many([order("o1"), order("o0"), order("o1"), {"bad": 1}])
    assert decoded == []
    assert [r.ok for r in results] == [True, True, True, False]
    first = results[0].entity
    assert first is not None and first == registry.get(order("o1")["id"])
    assert results[0].entity is first  # decoded once, then kept
    assert results[2].entity == first  # the in-batch duplicate has the same entity
    again = results[1].entity
    assert again is not None and not results[1].created and again.content == order("o0")
    assert results[3].entity is None
    first.content["total"] = 99  # type: ignore[index]
    assert registry.get(order("o1")["id"]).content["total"] == 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        results[0].ok = False
    assert results[0] == results[0] and results[0] != results[1]
    assert "o1" in repr(results[0])


def test_listeners_get_the_entity_with_the_event(registry: TypesRegistry) -> None:
    seen: list[RegistryEvent] = []
    registry.subscribe(seen.append)
    (result,) = registry.register_many([order("o1")])
    (event,) = seen
    assert event.entity is not None and event.entity == result.entity
    assert event.entity.content == order("o1")


@pytest.mark.parametrize("ready", [False, True])
def test_a_lone_surrogate_refuses_its_item_naming_the_field(
    registry: TypesRegistry, ready: bool
) -> None:
    """JSON can spell "\\ud800" but UTF-8 cannot encode it: storing it failed the whole batch."""
    registry.register(order_type())
    if ready:
        registry.switch_to_ready()
    bad_value = order("o1", 1) | {"note": ["fine", "broken \ud800 text"]}
    bad_key = order("o2", 2) | {"k\udc00": 1}
    results = registry.register_many([bad_value, order("o3", 3), bad_key])
    assert [r.ok for r in results] == [False, True, False]
    assert {r.code for r in (results[0], results[2])} == {"TYPES_REGISTRY_INVALID_CONTENT"}
    assert results[0].gts_id == order("o1", 1)["id"]
    assert results[0].error is not None and "note[1]" in results[0].error
    assert results[2].error is not None and "k\\udc00" in results[2].error
    for result in results:  # every message is itself storable and sendable text
        (result.error or "").encode("utf-8")
    with pytest.raises(RegistryInvalidContentError) as refused:
        registry.register(bad_value)
    assert refused.value.field == "note[1]"
    assert registry.get(order("o3", 3)["id"]).content["total"] == 3
    with pytest.raises(RegistryNotFoundError):
        registry.get(order("o1", 1)["id"])
