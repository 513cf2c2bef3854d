"""GtsStore: registration (lenient and strict), validation, and the multi-entity operations."""

from __future__ import annotations

from typing import Any

import pytest

from plugway.gts import (
    GtsError,
    GtsIdError,
    GtsNotFoundError,
    GtsQueryError,
    GtsSchemaError,
    GtsStore,
    GtsValidationError,
)

DRAFT7 = "http://json-schema.org/draft-07/schema#"
EVENT = "gts.x.shop.events.event.v1~"
PLACED = "gts.x.shop.events.event.v1~x.shop.orders.placed.v1.0~"
PLACED_11 = "gts.x.shop.events.event.v1~x.shop.orders.placed.v1.1~"
ORDER_1 = PLACED + "x.shop._.order_1.v1"
ANON = "7a1d2f34-5678-49ab-9012-abcdef123456"


def schema(type_id: str, **body: Any) -> dict[str, Any]:
    return {"$id": f"gts://{type_id}", "$schema": DRAFT7, **body}


def derived(type_id: str, parent: str, overlay: dict[str, Any], **top: Any) -> dict[str, Any]:
    return schema(type_id, type="object", allOf=[{"$ref": f"gts://{parent}"}, overlay], **top)


EVENT_SCHEMA = schema(
    EVENT,
    type="object",
    required=["id", "type"],
    properties={
        "id": {"type": "string"},
        "type": {"type": "string"},
        "payload": {"type": "object"},
    },
)


def placed_schema(type_id: str = PLACED, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = {
        "type": "object",
        "required": ["total"],
        "properties": {"total": {"type": "number", "minimum": 0}, **(extra or {})},
    }
    return derived(
        type_id,
        EVENT,
        {"required": ["payload"], "properties": {"type": {"const": type_id}, "payload": payload}},
    )


@pytest.fixture
def store() -> GtsStore:
    s = GtsStore()
    s.register(EVENT_SCHEMA)
    s.register(placed_schema())
    return s


def order(gts_id: str = ORDER_1, total: Any = 10, **extra: Any) -> dict[str, Any]:
    return {"id": gts_id, "type": PLACED, "payload": {"total": total}, **extra}


# ------------------------------------------------------------------ registration basics


def test_register_returns_canonical_ids_and_get_returns_copies(store: GtsStore) -> None:
    assert store.register(order()) == ORDER_1
    assert store.register({"id": ANON, "type": PLACED, "payload": {"total": 1}}) == ANON
    assert set(store.ids()) == {EVENT, PLACED, ORDER_1, ANON}
    got = store.get(ORDER_1)
    assert got == order()
    assert got is not None
    got["payload"]["total"] = -1
    assert store.get(ORDER_1) == order(), "the stored document cannot be changed from outside"
    assert store.get("gts.x.shop.events.event.v1~x.shop._.nope.v1") is None
    entity = store.entity(ANON)
    assert entity is not None and entity.type_id == PLACED and entity.type_field == "type"


def test_re_registration_replaces_and_remove_forgets(store: GtsStore) -> None:
    store.register(order(total=1))
    store.register(order(total=2))
    assert store.get(ORDER_1) == order(total=2)
    store.remove(ORDER_1)
    assert ORDER_1 not in store
    with pytest.raises(GtsNotFoundError, match="order_1"):
        store.remove(ORDER_1)


def test_register_type_schema_sets_or_checks_the_id() -> None:
    s = GtsStore()
    assert s.register_type_schema(EVENT, {"type": "object"}) == EVENT
    assert s.get(EVENT) == {"type": "object", "$id": f"gts://{EVENT}", "$schema": DRAFT7}
    with pytest.raises(GtsSchemaError, match="does not match"):
        s.register_type_schema(EVENT, {"$id": "gts://gts.x.other.a.b.v1~"})
    with pytest.raises(GtsIdError, match="not a type id"):
        s.register_type_schema(ORDER_1, {"type": "object"})


@pytest.mark.parametrize(
    ("doc", "error", "match"),
    [
        (schema(EVENT, **{"x-gts-final": "yes"}), GtsSchemaError, "x-gts-final"),
        (schema(EVENT, **{"x-gts-abstract": 1}), GtsSchemaError, "x-gts-abstract"),
        (schema(EVENT, **{"x-gts-final": True, "x-gts-abstract": True}), GtsSchemaError, "both"),
        (
            schema(EVENT, properties={"p": {"type": "string", "x-gts-ref": "gts.x.y.z"}}),
            GtsSchemaError,
            "Invalid GTS identifier: gts.x.y.z",
        ),
        (
            schema(
                EVENT,
                properties={
                    "some": {"const": "a.b.c"},
                    "p": {"type": "string", "x-gts-ref": "/properties/some/const"},
                },
            ),
            GtsSchemaError,
            "a.b.c",
        ),
        ({"$schema": DRAFT7, "type": "object"}, GtsSchemaError, "no \\$id"),
        (schema("gts.x.shop.events.event.v1~x.a.b.c.v1"), GtsSchemaError, "not a type id"),
        ({"event_id": ANON, "event_type": EVENT}, GtsValidationError, "no id"),
    ],
)
def test_always_on_registration_checks(
    doc: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        GtsStore().register(doc)


def test_lenient_registration_accepts_what_validation_would_refuse(store: GtsStore) -> None:
    final = schema("gts.x.shop.final.base.v1~", type="object", **{"x-gts-final": True})
    store.register(final)
    store.register(derived("gts.x.shop.final.base.v1~x.shop._.child.v1~", final["$id"][6:], {}))
    store.register({"id": PLACED + "x.shop._.odd.v1", "x-gts-final": True})
    store.register({"id": "test-id-123"})
    store.register(order(total="not a number"))
    store.register(
        schema("gts.x.shop.events.dangling.v1~", allOf=[{"$ref": "gts://gts.x.no.such.type.v1~"}])
    )
    assert store.entity("test-id-123") is not None


# ------------------------------------------------------------------ strict registration


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({**schema(EVENT), "$id": EVENT}, "gts://"),
        (schema("gts.x.shop.events.*"), "\\*|wildcard"),
        ({"$schema": DRAFT7, "type": "object"}, "\\$id"),
        ({**schema(EVENT), "$id": "http://example.com/schemas/foo"}, "\\$id"),
        (schema("gts.x.s.r.a.v1~", allOf=[{"$ref": "gts.x.shop.events.event.v1~"}]), "\\$ref"),
        (schema("gts.x.s.r.b.v1~", allOf=[{"$ref": "gts://gts.x.shop.*"}]), "\\$ref"),
        (schema("gts.x.s.r.c.v1~", allOf=[{"$ref": "https://example.com/a.json"}]), "\\$ref"),
        (schema("gts.x.s.r.d.v1~", allOf=[{"$ref": "gts://gts.x.bad-seg.ns.t.v1~"}]), "\\$ref"),
        (schema("gts.x.s.r.e.v1~", allOf=[{"$ref": "gts://gts.x.no.such.type.v1~"}]), "no.such"),
        (
            derived(EVENT + "x.s._.in_all_of.v1~", EVENT, {"x-gts-final": True}),
            "x-gts-final",
        ),
        ({"event_id": ANON, "event_type": EVENT + "a.b.c.d.v1"}, "no id"),
        ({"id": ANON}, "no GTS type"),
        (order(total=-5), "total"),
        (order(**{"x-gts-traits": {}}), "schema-only"),
        ({"id": "gts.x.shop.nothing.here.v1~x.a._.b.v1"}, "nothing.here"),
    ],
)
def test_strict_registration_refusals(store: GtsStore, doc: dict[str, Any], match: str) -> None:
    before = set(store.ids())
    with pytest.raises(GtsError, match=match):
        store.register(doc, validate=True)
    assert set(store.ids()) == before, "a refused document is not stored"


def test_strict_registration_guards_final_and_abstract() -> None:
    s = GtsStore()
    s.register(schema("gts.x.t.final.base.v1~", type="object", **{"x-gts-final": True}))
    with pytest.raises(GtsValidationError, match="final"):
        s.register(
            derived("gts.x.t.final.base.v1~x.t._.child.v1~", "gts.x.t.final.base.v1~", {}),
            validate=True,
        )
    s.register(schema("gts.x.t.abs.base.v1~", type="object", **{"x-gts-abstract": True}))
    with pytest.raises(GtsValidationError, match="abstract"):
        s.register({"id": "gts.x.t.abs.base.v1~x.t._.item.v1"}, validate=True)


def test_strict_registration_accepts_good_documents(store: GtsStore) -> None:
    local = schema(
        "gts.x.shop.local.ref.v1~",
        **{
            "$defs": {"Base": {"type": "object", "properties": {"id": {"type": "string"}}}},
            "allOf": [{"$ref": "#/$defs/Base"}],
        },
    )
    assert store.register(local, validate=True) == "gts.x.shop.local.ref.v1~"
    assert store.register(placed_schema(PLACED_11), validate=True) == PLACED_11
    assert store.register(order(), validate=True) == ORDER_1
    anon = {"id": ANON, "type": PLACED, "payload": {"total": 0}}
    assert store.register(anon, validate=True) == ANON


# ------------------------------------------------------------------ validation


def test_validate_instance_outcomes(store: GtsStore) -> None:
    store.register(order())
    store.validate_instance(ORDER_1)
    bad = PLACED + "x.shop._.bad.v1"
    store.register(order(bad, total=-1))
    with pytest.raises(GtsValidationError, match="total"):
        store.validate_instance(bad)
    store.register({"id": ANON, "type": PLACED, "payload": {"total": 3}})
    store.validate_instance(ANON)
    with pytest.raises(GtsNotFoundError):
        store.validate_instance("gts.x.nonexistent.pkg.ns.type.v1~a.b.c.d.v1")
    with pytest.raises(GtsValidationError, match="type schema"):
        store.validate_instance(PLACED)
    store.register({"id": "plain-id"})
    with pytest.raises(GtsValidationError, match="no GTS type"):
        store.validate_instance("plain-id")


def test_abstract_types_have_no_direct_instances_but_derived_ones_do() -> None:
    s = GtsStore()
    base = "gts.x.t.abs.base.v1~"
    s.register(schema(base, type="object", **{"x-gts-abstract": True}))
    s.register(derived(base + "x.t._.concrete.v1~", base, {"type": "object"}))
    for inst in (
        {"id": base + "x.t._.direct.v1"},
        {"id": "a1b2c3d4-5678-4abc-8def-111111111111", "type": base},
        {"id": base + "d2e3f4a5-6789-4abc-8def-222222222222", "type": base},
    ):
        gts_id = s.register(inst)
        with pytest.raises(GtsValidationError, match="abstract"):
            s.validate_instance(gts_id)
    s.register({"id": base + "x.t._.concrete.v1~x.t._.item.v1"})
    s.validate_instance(base + "x.t._.concrete.v1~x.t._.item.v1")


def test_x_gts_ref_is_enforced_on_stored_instances() -> None:
    s = GtsStore()
    cap = "gts.x.t._.capability.v1~"
    module = "gts.x.t._.module.v1~"
    s.register(
        schema(cap, type="object", properties={"id": {"type": "string", "x-gts-ref": "/$id"}})
    )
    s.register(
        schema(
            module,
            type="object",
            properties={
                "id": {"type": "string"},
                "caps": {"type": "array", "items": {"type": "string", "x-gts-ref": cap}},
            },
        )
    )
    s.register({"id": module + "x.v._.ok.v1", "caps": [cap + "x.v._.ws.v1"]})
    s.validate_instance(module + "x.v._.ok.v1")
    s.register({"id": module + "x.v._.bad.v1", "caps": ["gts.y.other._.capability.v1~x.v._.ws.v1"]})
    with pytest.raises(GtsValidationError):
        s.validate_instance(module + "x.v._.bad.v1")


def test_validate_instance_document_uses_a_cache_that_follows_re_registration(
    store: GtsStore,
) -> None:
    doc = order(total=5)
    store.validate_instance_document(doc, PLACED)
    with pytest.raises(GtsValidationError, match="total"):
        store.validate_instance_document(order(total=-5), PLACED)
    # Loosen the *parent* of PLACED's payload rule: re-registering PLACED must drop its validator.
    store.register(
        derived(PLACED, EVENT, {"properties": {"type": {"const": PLACED}}}),
    )
    store.validate_instance_document(order(total=-5), PLACED)
    # Re-registering the base also reaches types compiled from it.
    store.register(schema(EVENT, type="object", required=["id", "type", "must_have"]))
    with pytest.raises(GtsValidationError, match="must_have"):
        store.validate_instance_document(order(total=-5), PLACED)
    store.remove(PLACED)
    with pytest.raises(GtsValidationError, match=PLACED.replace(".", "\\.")):
        store.validate_instance_document(doc, PLACED)


def test_an_instance_replacing_a_schema_drops_its_compiled_validator(store: GtsStore) -> None:
    store.validate_instance_document(order(), PLACED)
    store.register({"id": PLACED})  # an instance document that claims the type's id
    with pytest.raises(GtsValidationError, match=r"not registered|unknown"):
        store.validate_instance_document(order(), PLACED)


def test_type_schema_and_entity_validation() -> None:
    s = GtsStore()
    base = "gts.x.t.fin.base.v1~"
    s.register(schema(base, type="object", **{"x-gts-final": True}))
    s.register(derived(base + "x.t._.child.v1~", base, {"type": "object"}))
    s.validate_type_schema(base)
    with pytest.raises(GtsValidationError, match="final"):
        s.validate_type_schema(base + "x.t._.child.v1~")
    with pytest.raises(GtsNotFoundError):
        s.validate_type_schema("gts.x.t.none.base.v1~")
    bad = s.validate_entity(base + "x.t._.child.v1~")
    assert (bad.ok, bad.entity_type) == (False, "schema") and "final" in bad.error
    s.register({"id": base + "x.t._.item.v1", "x-gts-abstract": True})
    inst = s.validate_entity(base + "x.t._.item.v1")
    assert (inst.ok, inst.entity_type) == (False, "instance")
    good = s.validate_entity(base)
    assert good.to_dict() == {"id": base, "ok": True, "entity_type": "schema", "error": ""}
    missing = s.validate_entity("gts.x.t.none.thing.v1~a.b.c.d.v1")
    assert (missing.ok, missing.entity_type) == (False, "instance")


# ------------------------------------------------------------------ OP#7 - OP#11 via the store


def test_relationships_through_the_store(store: GtsStore) -> None:
    store.register(order())
    graph = store.resolve_relationships(ORDER_1)
    assert graph["ok"] is True and set(graph["entities"]) == {ORDER_1, PLACED, EVENT}
    store.register(
        schema("gts.x.shop.events.dangling.v1~", allOf=[{"$ref": "gts://gts.x.no.t.y.v1~"}])
    )
    broken = store.resolve_relationships("gts.x.shop.events.dangling.v1~")
    assert broken["broken_references"] == ["gts.x.no.t.y.v1~"]


def test_compatibility_and_cast_through_the_store(store: GtsStore) -> None:
    store.register(placed_schema(PLACED_11, {"channel": {"type": "string", "default": "web"}}))
    report = store.compatibility(PLACED, PLACED_11)
    assert report.is_backward_compatible and report.is_forward_compatible
    store.register(order())
    casted = store.cast(ORDER_1, PLACED_11)
    assert casted["payload"] == {"total": 10, "channel": "web"}
    assert casted["type"] == PLACED_11
    details = store.cast_details(ORDER_1, PLACED_11)
    assert details.direction == "up" and details.added_properties == ("payload.channel",)
    with pytest.raises(GtsValidationError, match="must be an instance"):
        store.cast(PLACED, PLACED_11)
    with pytest.raises(GtsNotFoundError):
        store.cast(PLACED + "x.shop._.ghost.v1", PLACED_11)


def test_query_and_attr(store: GtsStore) -> None:
    store.register(order(status="active"))
    store.register(order(PLACED + "x.shop._.order_2.v1", total=20, status="closed"))
    store.register(order(PLACED + "x.shop._.order_3.v1", total=30, status="active"))
    found = store.query("gts.x.shop.events.event.v1~x.shop.orders.*")
    assert len(found) == 4, "the type and its three instances"
    assert len(store.query("gts.x.shop.*")) == 5
    assert len(store.query("gts.x.shop.*", limit=2)) == 2
    active = store.query('gts.x.shop.*[status="active"]')
    assert {d["id"] for d in active} == {ORDER_1, PLACED + "x.shop._.order_3.v1"}
    assert store.query("gts.x.nothing.*") == []
    with pytest.raises(GtsQueryError):
        store.query("gts.x.shop")
    assert store.attr(ORDER_1 + "@payload.total").to_dict()["value"] == 10
    assert store.attr(ORDER_1 + "@payload.missing").resolved is False
    assert store.attr(PLACED + "x.shop._.ghost.v1@id").resolved is False


def test_hostile_documents_are_refused_not_recursed() -> None:
    s = GtsStore()
    deep: dict[str, Any] = {"id": "gts.x.a.b.c.v1~x.a._.deep.v1"}
    node = deep
    for _ in range(100_000):
        node["n"] = {}
        node = node["n"]
    with pytest.raises(GtsError, match="nested deeper"):
        s.register(deep)
    cyclic: dict[str, Any] = {"id": "gts.x.a.b.c.v1~x.a._.loop.v1", "items": []}
    cyclic["items"].append(cyclic)
    with pytest.raises(GtsError, match="nested deeper"):
        s.register(cyclic)
    with pytest.raises(GtsError, match="JSON object"):
        s.register(["not", "an", "object"])  # type: ignore[arg-type]
    assert len(s) == 0
