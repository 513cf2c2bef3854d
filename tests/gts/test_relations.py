"""OP#7: relationship resolution, broken references and $ref well-formedness."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from plugway.gts._errors import GtsSchemaError
from plugway.gts._relations import (
    MAX_DOCUMENT_DEPTH,
    gts_refs,
    ref_problems,
    resolve_relationships,
    walk_document,
)


@dataclass(frozen=True)
class _Entity:
    gts_id: str
    is_type: bool
    type_id: str | None
    content: dict[str, Any] = field(default_factory=dict)


ROOT = "gts.x.core.events.event.v1~"
MID = "gts.x.core.events.event.v1~x.shop.orders.placed.v1~"
LEAF = "gts.x.core.events.event.v1~x.shop.orders.placed.v1~y.app._.special.v1~"
INST = "gts.x.core.events.event.v1~x.shop.orders.placed.v1~x.shop._.first.v1"


def _schema(type_id: str, parent: str | None) -> _Entity:
    content: dict[str, Any] = {"$id": f"gts://{type_id}", "$schema": "x", "type": "object"}
    if parent:
        content["allOf"] = [{"$ref": f"gts://{parent}"}, {"type": "object"}]
    return _Entity(type_id, True, parent, content)


def _world(*entities: _Entity) -> dict[str, _Entity]:
    return {e.gts_id: e for e in entities}


def test_chain_of_derived_types_resolves_to_every_ancestor() -> None:
    world = _world(_schema(ROOT, None), _schema(MID, ROOT), _schema(LEAF, MID))
    graph = resolve_relationships(LEAF, world.get)
    assert graph.found and graph.broken == ()
    assert graph.entities == (LEAF, MID, ROOT)
    kinds = {(r.source, r.target, r.kind) for r in graph.relations}
    assert (LEAF, MID, "parent") in kinds
    assert (MID, ROOT, "parent") in kinds
    data = graph.to_dict()
    assert data["ok"] is True and data["error"] == ""


def test_broken_reference_is_reported_with_its_path() -> None:
    world = _world(_schema(MID, ROOT))
    graph = resolve_relationships(MID, world.get)
    assert graph.broken == (ROOT,)
    broken = [r for r in graph.relations if not r.resolved]
    assert {r.path for r in broken} == {"$id", "$.allOf[0].$ref"}
    assert ROOT in graph.to_dict()["error"]


def test_instance_points_at_its_type_and_at_ids_it_carries() -> None:
    other = "gts.x.core.events.event.v1~x.shop.orders.placed.v1~x.shop._.second.v1"
    inst = _Entity(INST, False, MID, {"id": INST, "links": [other, "not an id", "gts.bad"]})
    world = _world(_schema(ROOT, None), _schema(MID, ROOT), inst)
    graph = resolve_relationships(INST, world.get)
    assert (INST, MID, "type") in {(r.source, r.target, r.kind) for r in graph.relations}
    assert graph.broken == (other,)
    assert [r.path for r in graph.relations if r.kind == "value"] == ["$.links[0]"]


def test_malformed_refs_met_on_the_way_are_reported() -> None:
    bad = _Entity(
        ROOT, True, None, {"$id": f"gts://{ROOT}", "allOf": [{"$ref": "gts.x.raw.ref.t.v1~"}]}
    )
    graph = resolve_relationships(ROOT, _world(bad).get)
    assert graph.broken == () and len(graph.problems) == 1
    data = graph.to_dict()
    assert data["ok"] is False and "gts:// scheme" in data["error"]


def test_unknown_root() -> None:
    graph = resolve_relationships(ROOT, {}.get)
    assert not graph.found
    assert graph.to_dict()["ok"] is False and "not registered" in graph.to_dict()["error"]


def test_cycles_between_entities_terminate() -> None:
    a, b = "gts.x.a.a.a.v1~", "gts.x.a.a.b.v1~"
    ea = _Entity(a, True, None, {"$id": f"gts://{a}", "properties": {"b": {"$ref": f"gts://{b}"}}})
    eb = _Entity(b, True, None, {"$id": f"gts://{b}", "properties": {"a": {"$ref": f"gts://{a}"}}})
    graph = resolve_relationships(a, _world(ea, eb).get)
    assert graph.entities == (a, b) and len(graph.relations) == 2


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("gts.x.core.events.event.v1~", "gts:// scheme"),
        ("gts://gts.x.core.events.*", "wildcard"),
        ("https://example.com/schemas/base.json", "not a GTS reference"),
        ("gts://gts.x.bad-seg.ns.type.v1~", "malformed"),
    ],
)
def test_bad_refs_are_named(ref: str, reason: str) -> None:
    schema = {"$id": "gts://gts.x.a.b.c.v1~", "allOf": [{"$ref": ref}]}
    problems = ref_problems(schema)
    assert len(problems) == 1
    assert reason in problems[0] and ref in problems[0] and "gts.x.a.b.c.v1~" in problems[0]


def test_good_refs_pass() -> None:
    schema = {
        "$id": "gts://gts.x.a.b.c.v1~",
        "$defs": {"Base": {"type": "object"}},
        "allOf": [{"$ref": "#/$defs/Base"}, {"$ref": "gts://gts.x.a.b.base.v1~"}],
        "properties": {"p": {"$ref": "gts://gts.x.a.b.base.v1.2~#/properties/q"}},
    }
    assert ref_problems(schema) == []
    targets = {r.target for r in gts_refs(schema)}
    assert targets == {None, "gts.x.a.b.base.v1~", "gts.x.a.b.base.v1.2~"}


def test_walk_refuses_deep_and_cyclic_documents() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(MAX_DOCUMENT_DEPTH + 5):
        node["n"] = {}
        node = node["n"]
    with pytest.raises(GtsSchemaError, match="nested deeper"):
        list(walk_document(deep))
    cyclic: dict[str, Any] = {"a": []}
    cyclic["a"].append(cyclic)
    with pytest.raises(GtsSchemaError, match="cycle"):
        list(walk_document(cyclic))
    shared = {"x": 1}
    assert len(list(walk_document({"a": shared, "b": shared}))) == 4, "shared is not cyclic"
