"""OP#13: trait schemas and trait values merged along the chain."""

from __future__ import annotations

from typing import Any

import pytest

from plugway.gts import (
    GtsValidationError,
    check_entity_traits,
    effective_traits,
    validate_traits,
    validate_type_derivation,
)

DRAFT7 = "http://json-schema.org/draft-07/schema#"
EVT = "gts.x.bus.events.event.v1~"
MID = f"{EVT}x.bus._.mid.v1~"
LEAF = f"{MID}x.bus._.leaf.v1~"
TOPIC = "gts.x.core.events.topic.v1~"
ORDERS = f"{TOPIC}x.bus._.orders.v1"


class Registry(dict[str, Any]):
    def base(self, type_id: str = EVT, /, traits_schema: Any = None, **body: Any) -> str:
        doc: dict[str, Any] = {"$id": f"gts://{type_id}", "$schema": DRAFT7, "type": "object"}
        if traits_schema is not None:
            doc["x-gts-traits-schema"] = traits_schema
        doc.update(body)
        self[type_id] = doc
        return type_id

    def child(
        self,
        type_id: str,
        traits: dict[str, Any] | None = None,
        traits_schema: Any = None,
        **top: Any,
    ) -> str:
        parent = type_id[: type_id.rstrip("~").rfind("~") + 1]
        overlay: dict[str, Any] = {"type": "object"}
        if traits_schema is not None:
            overlay["x-gts-traits-schema"] = traits_schema
        if traits is not None:
            overlay["x-gts-traits"] = traits
        self[type_id] = {
            "$id": f"gts://{type_id}",
            "$schema": DRAFT7,
            "type": "object",
            "allOf": [{"$ref": f"gts://{parent}"}, overlay],
            **top,
        }
        return type_id

    def ok(self, type_id: str) -> None:
        validate_traits(type_id, self.get)
        validate_type_derivation(type_id, self.get)

    def fails(self, type_id: str, *words: str) -> None:
        with pytest.raises(GtsValidationError) as info:
            validate_traits(type_id, self.get)
        for word in words:
            assert word in str(info.value), str(info.value)
        with pytest.raises(GtsValidationError):
            validate_type_derivation(type_id, self.get)


def obj(closed: bool = False, required: list[str] | None = None, **p: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": p}
    if closed:
        schema["additionalProperties"] = False
    if required is not None:
        schema["required"] = required
    return schema


TOPIC_REF = {"type": "string", "x-gts-ref": TOPIC}
RETENTION = {"type": "string"}
RETENTION_30 = {"type": "string", "default": "P30D"}


@pytest.fixture
def reg() -> Registry:
    return Registry()


class TestResolved:
    def test_all_values_given(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(True, topicRef=TOPIC_REF, retention=RETENTION))
        reg.ok(reg.child(MID, {"topicRef": ORDERS, "retention": "P90D"}))

    def test_defaults_fill_gaps(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(True, retention=RETENTION_30))
        reg.ok(reg.child(MID))
        assert effective_traits(MID, reg.get).values == {"retention": "P30D"}

    def test_value_over_default(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(retention=RETENTION_30, topicRef=TOPIC_REF))
        reg.ok(reg.child(MID, {"retention": "P1D", "topicRef": ORDERS}))
        assert effective_traits(MID, reg.get).values == {"retention": "P1D", "topicRef": ORDERS}

    def test_both_keywords_in_a_middle_schema(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(topicRef=TOPIC_REF, retention=RETENTION_30))
        reg.child(
            MID, {"topicRef": ORDERS}, obj(auditRetention={"type": "string", "default": "P1Y"})
        )
        reg.ok(MID)
        reg.ok(reg.child(LEAF, {"auditRetention": "P2Y"}))
        traits = effective_traits(LEAF, reg.get)
        assert traits.values == {"topicRef": ORDERS, "retention": "P30D", "auditRetention": "P2Y"}
        assert traits.schema is not None and len(traits.schema["allOf"]) == 2

    def test_middle_level_narrows_and_picks_leaf_repicks(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(priority={"type": "string"}))
        reg.child(MID, {"priority": "high"}, obj(priority={"enum": ["low", "high", "critical"]}))
        reg.ok(MID)
        reg.ok(reg.child(LEAF, {"priority": "critical"}))

    def test_const_narrowing_that_the_leaf_respects(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(True, retention=RETENTION))
        reg.child(MID, {"retention": "P30D"}, obj(retention={"const": "P30D"}))
        reg.ok(reg.child(LEAF, {"retention": "P30D"}))

    def test_trait_schema_built_from_gts_refs(self, reg: Registry) -> None:
        ret = reg.base("gts.x.bus.traits.retention.v1~", properties={"retention": RETENTION_30})
        top = reg.base("gts.x.bus.traits.topic.v1~", properties={"topicRef": TOPIC_REF})
        reg.base(
            traits_schema={
                "type": "object",
                "allOf": [{"$ref": f"gts://{ret}"}, {"$ref": f"gts://{top}"}],
            }
        )
        reg.ok(reg.child(MID, {"topicRef": ORDERS}))
        assert effective_traits(MID, reg.get).values["retention"] == "P30D"

    def test_no_traits_anywhere(self, reg: Registry) -> None:
        reg.base(properties={"id": {"type": "string"}})
        reg.ok(reg.child(MID))

    def test_abstract_type_may_leave_traits_open(self, reg: Registry) -> None:
        reg.base(
            traits_schema=obj(True, ["priority"], priority={"type": "integer"}),
            **{"x-gts-abstract": True},
        )
        reg.ok(EVT)

    def test_abstract_type_values_are_still_checked(self, reg: Registry) -> None:
        reg.base(
            traits_schema=obj(True, ["priority"], priority={"type": "integer"}),
            **{"x-gts-abstract": True, "x-gts-traits": {"priority": "high"}},
        )
        reg.fails(EVT, "priority")

    def test_final_type_resolving_its_traits(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(required=["priority"], priority={"type": "integer"}))
        reg.ok(reg.child(MID, {"priority": 5}, **{"x-gts-final": True}))


class TestUnresolved:
    def test_trait_without_default_or_value(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(True, topicRef=TOPIC_REF, retention=RETENTION_30))
        reg.child(MID, {"retention": "P90D"})
        reg.fails(MID, MID, "topicRef")

    def test_trait_introduced_in_the_middle_is_missing_in_the_leaf(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(retention=RETENTION_30))
        reg.child(MID, traits_schema=obj(priority={"type": "string"}))
        reg.child(LEAF, {"retention": "P90D"})
        reg.fails(LEAF, "priority")

    def test_required_trait_missing_in_final_type(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(required=["priority"], priority={"type": "integer"}))
        reg.child(MID, None, None, **{"x-gts-final": True})
        reg.fails(MID, "priority")

    def test_ref_based_trait_missing(self, reg: Registry) -> None:
        ret = reg.base("gts.x.bus.traits.retention.v1~", properties={"retention": RETENTION_30})
        top = reg.base("gts.x.bus.traits.topic.v1~", properties={"topicRef": TOPIC_REF})
        reg.base(
            traits_schema={
                "type": "object",
                "allOf": [{"$ref": f"gts://{ret}"}, {"$ref": f"gts://{top}"}],
            }
        )
        reg.child(MID, {"retention": "P90D"})
        reg.fails(MID, "topicRef")


class TestInvalid:
    @pytest.mark.parametrize(
        ("schema", "value"),
        [
            ({"type": "integer", "minimum": 0, "default": 3}, "many"),
            ({"type": "integer", "minimum": 0, "maximum": 10, "default": 3}, -1),
            ({"type": "string", "enum": ["low", "high"], "default": "low"}, "ultra"),
            ({"type": "string", "x-gts-ref": TOPIC}, "gts.x.other.events.topic.v1~x.a._.b.v1"),
        ],
    )
    def test_value_violating_the_trait_schema(
        self, reg: Registry, schema: dict[str, Any], value: Any
    ) -> None:
        reg.base(traits_schema=obj(True, t=schema))
        reg.child(MID, {"t": value})
        reg.fails(MID, MID, "at t")

    def test_unknown_trait_in_a_closed_schema(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(True, retention=RETENTION_30))
        reg.child(MID, {"retention": "P90D", "unknownTrait": "x"})
        reg.fails(MID, "unknownTrait")

    def test_leaf_breaks_a_narrowed_enum(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(priority={"type": "string"}))
        reg.child(MID, {"priority": "high"}, obj(priority={"enum": ["low", "high"]}))
        reg.child(LEAF, {"priority": "ultra"})
        reg.fails(LEAF, "priority")

    def test_leaf_breaks_a_narrowed_const(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(True, retention=RETENTION))
        reg.child(MID, {"retention": "P30D"}, obj(retention={"const": "P30D"}))
        reg.child(LEAF, {"retention": "P90D"})
        reg.fails(LEAF, "retention")

    def test_descendant_overrides_an_ancestor_value(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(retention=RETENTION))
        reg.child(MID, {"retention": "P30D"})
        reg.ok(MID)
        reg.child(LEAF, {"retention": "P365D"})
        reg.fails(LEAF, "overrides", "retention", MID)

    def test_repeating_an_ancestor_value_is_fine(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(retention=RETENTION))
        reg.child(MID, {"retention": "P30D"})
        reg.ok(reg.child(LEAF, {"retention": "P30D"}))

    def test_changing_a_default_down_the_chain(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(retention=RETENTION_30, topicRef=TOPIC_REF))
        reg.child(MID, {"topicRef": ORDERS}, obj(retention={"type": "string", "default": "P90D"}))
        reg.fails(MID, "default", "retention")

    def test_extending_a_closed_trait_schema(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(True, retention=RETENTION))
        reg.child(MID, {"retention": "P30D", "topicRef": ORDERS}, obj(topicRef=TOPIC_REF))
        reg.fails(MID, "closed", "topicRef")

    def test_values_without_any_trait_schema(self, reg: Registry) -> None:
        reg.base()
        reg.child(MID, {"retention": "P30D"})
        reg.fails(MID, "no x-gts-traits-schema")

    def test_values_on_a_base_without_trait_schema(self, reg: Registry) -> None:
        reg.base(**{"x-gts-traits": {"retention": "P30D"}})
        reg.fails(EVT, "no x-gts-traits-schema")

    @pytest.mark.parametrize("kind", ["integer", "array", "string"])
    def test_trait_schema_must_describe_an_object(self, reg: Registry, kind: str) -> None:
        reg.base(traits_schema={"type": kind})
        reg.child(MID)
        reg.fails(MID, "object")

    def test_trait_schema_not_a_schema(self, reg: Registry) -> None:
        reg.base(traits_schema=["retention"])
        reg.fails(EVT, "object")

    def test_trait_values_not_an_object(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(retention=RETENTION_30))
        reg.child(MID, traits=None, **{})
        reg[MID]["allOf"][1]["x-gts-traits"] = ["P30D"]
        reg.fails(MID, "x-gts-traits")

    def test_trait_values_inside_a_trait_schema(self, reg: Registry) -> None:
        reg.base(traits_schema={**obj(retention=RETENTION_30), "x-gts-traits": {"retention": "x"}})
        reg.fails(EVT, "inside a trait schema")

    def test_same_trait_schema_referenced_twice(self, reg: Registry) -> None:
        ret = reg.base("gts.x.bus.traits.retention.v1~", properties={"retention": RETENTION})
        reg.base(
            traits_schema={
                "type": "object",
                "allOf": [{"$ref": f"gts://{ret}"}, {"$ref": f"gts://{ret}"}],
            }
        )
        reg.child(MID, {"retention": "P30D"})
        reg.fails(MID, "more than once")

    def test_cycle_between_trait_schemas(self, reg: Registry) -> None:
        a, b = "gts.x.bus.traits.trait_a.v1~", "gts.x.bus.traits.trait_b.v1~"
        reg.base(a, allOf=[{"$ref": f"gts://{b}"}], properties={"retention": RETENTION})
        reg.base(b, allOf=[{"$ref": f"gts://{a}"}], properties={"topicRef": TOPIC_REF})
        reg.base(traits_schema={"type": "object", "allOf": [{"$ref": f"gts://{a}"}]})
        reg.child(MID, {"retention": "P30D", "topicRef": ORDERS})
        reg.fails(MID)


class TestEntityLevel:
    def test_closed_schema_with_values_passes(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(True, topicRef=TOPIC_REF, retention=RETENTION))
        reg.child(MID, {"topicRef": ORDERS, "retention": "P90D"})
        check_entity_traits(MID, reg.get)

    def test_trait_schema_without_any_values_fails(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(True, retention=RETENTION_30))
        with pytest.raises(GtsValidationError, match="no schema of its chain gives"):
            check_entity_traits(EVT, reg.get)

    def test_open_trait_schema_fails(self, reg: Registry) -> None:
        reg.base(traits_schema=obj(retention=RETENTION_30))
        reg.child(MID, {"retention": "P90D"})
        validate_traits(MID, reg.get)
        with pytest.raises(GtsValidationError, match="must be closed"):
            check_entity_traits(MID, reg.get)

    def test_no_trait_schema_is_fine(self, reg: Registry) -> None:
        reg.base()
        check_entity_traits(reg.child(MID), reg.get)
