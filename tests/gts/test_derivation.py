"""OP#12: a derived type must be no looser than any ancestor, over the whole chain."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugway.gts import GtsValidationError, check_no_final_ancestor, validate_type_derivation
from plugway.gts._chain import find_ref_cycle, type_chain

DRAFT7 = "http://json-schema.org/draft-07/schema#"
ROOT = "gts.x.lib.books.item.v1~"
L2 = f"{ROOT}x.lib._.mid.v1~"
L3 = f"{L2}x.lib._.leaf.v1~"


class Registry(dict[str, Any]):
    def base(self, type_id: str = ROOT, /, **body: Any) -> str:
        self[type_id] = {"$id": f"gts://{type_id}", "$schema": DRAFT7, "type": "object", **body}
        return type_id

    def child(self, type_id: str, overlay: dict[str, Any], **top: Any) -> str:
        parent = type_id[: type_id.rstrip("~").rfind("~") + 1]
        self[type_id] = {
            "$id": f"gts://{type_id}",
            "$schema": DRAFT7,
            "type": "object",
            "allOf": [{"$ref": f"gts://{parent}"}, {"type": "object", **overlay}],
            **top,
        }
        return type_id

    def ok(self, type_id: str) -> None:
        validate_type_derivation(type_id, self.get)

    def fails(self, type_id: str, *words: str) -> str:
        with pytest.raises(GtsValidationError) as info:
            validate_type_derivation(type_id, self.get)
        message = str(info.value)
        for word in words:
            assert word in message, message
        return message


def props(**p: Any) -> dict[str, Any]:
    return {"properties": p}


@pytest.fixture
def reg() -> Registry:
    return Registry()


class TestPasses:
    def test_base_without_parent(self, reg: Registry) -> None:
        reg.ok(reg.base(required=["id"], properties={"id": {"type": "string"}}))

    def test_adding_fields_to_an_open_base(self, reg: Registry) -> None:
        reg.base(properties={"id": {"type": "string"}})
        reg.ok(reg.child(L2, {"required": ["tier"], **props(tier={"enum": ["gold"]})}))

    def test_closing_an_open_model(self, reg: Registry) -> None:
        reg.base(properties={"id": {"type": "string"}})
        reg.ok(reg.child(L2, {**props(id={"type": "string"}), "additionalProperties": False}))

    def test_tightening_constraints(self, reg: Registry) -> None:
        reg.base(
            properties={
                "text": {"type": "string", "maxLength": 1000, "minLength": 1},
                "prio": {"type": "integer", "minimum": 0, "maximum": 100},
                "tags": {"type": "array", "minItems": 1, "items": {"type": "string"}},
            }
        )
        reg.ok(
            reg.child(
                L2,
                props(
                    text={"type": "string", "maxLength": 500, "minLength": 2},
                    prio={"type": "integer", "minimum": 10, "maximum": 50},
                    tags={"type": "array", "minItems": 2, "items": {"type": "string"}},
                ),
            )
        )

    def test_enum_values_inside_the_ancestor_constraints(self, reg: Registry) -> None:
        reg.base(properties={"tier": {"type": "string", "maxLength": 100}})
        reg.ok(reg.child(L2, props(tier={"type": "string", "enum": ["gold", "platinum"]})))

    def test_const_naming_the_type_itself(self, reg: Registry) -> None:
        reg.base(properties={"type": {"type": "string"}})
        reg.ok(reg.child(L2, props(type={"const": L2})))

    def test_specifying_a_free_form_object(self, reg: Registry) -> None:
        reg.base(properties={"meta": {"type": "object"}})
        reg.child(
            L2,
            props(
                meta={
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string", "maxLength": 255}, "mime": {}},
                }
            ),
        )
        reg.ok(L2)
        reg.child(
            L3,
            props(
                meta={"type": "object", "properties": {"name": {"type": "string", "maxLength": 9}}}
            ),
        )
        reg.ok(L3)

    @pytest.mark.parametrize(
        "schema",
        [
            {"type": "string", "const": "abc"},
            {"type": "number", "const": 42},
            {"type": "boolean", "const": True},
            {"type": "string", "enum": ["r", "w"]},
            {"type": "string", "maxLength": 10},
        ],
    )
    def test_restating_the_same_constraint_two_levels_down(
        self, reg: Registry, schema: dict[str, Any]
    ) -> None:
        reg.base(properties={"v": {"type": ["string", "number", "boolean"]}})
        reg.child(L2, props(v=schema))
        reg.child(L3, props(v=schema))
        reg.ok(L3)

    def test_required_is_inherited_not_restated(self, reg: Registry) -> None:
        reg.base(required=["a", "b"], properties={"a": {"type": "string"}, "b": {"type": "string"}})
        reg.ok(reg.child(L2, {"required": [], **props(c={"type": "string"})}))

    def test_unmentioned_properties_are_inherited(self, reg: Registry) -> None:
        reg.base(properties={"a": {"type": "string", "maxLength": 3}, "b": {"type": "integer"}})
        reg.ok(reg.child(L2, props(b={"type": "integer", "minimum": 0})))

    def test_integer_narrows_number(self, reg: Registry) -> None:
        reg.base(properties={"n": {"type": "number"}})
        reg.ok(reg.child(L2, props(n={"type": "integer"})))

    def test_final_type_itself_is_fine(self, reg: Registry) -> None:
        reg.ok(reg.base(**{"x-gts-final": True}))

    def test_sibling_of_a_final_type_is_fine(self, reg: Registry) -> None:
        reg.base()
        reg.child(f"{ROOT}x.lib._.final_one.v1~", {}, **{"x-gts-final": True})
        reg.ok(reg.child(f"{ROOT}x.lib._.sibling.v1~", props(extra={"type": "string"})))

    def test_final_false_is_no_final(self, reg: Registry) -> None:
        reg.base(**{"x-gts-final": False})
        reg.ok(reg.child(L2, {}))

    def test_deriving_from_an_abstract_type(self, reg: Registry) -> None:
        reg.base(**{"x-gts-abstract": True})
        reg.ok(reg.child(L2, props(extra={"type": "string"})))


class TestFailures:
    def test_adding_a_property_to_a_closed_base(self, reg: Registry) -> None:
        reg.base(properties={"id": {"type": "string"}}, additionalProperties=False)
        reg.child(L2, props(tier={"type": "string"}))
        reg.fails(L2, L2, ROOT, "properties.tier", "closed")

    def test_adding_a_property_to_a_closed_nested_object(self, reg: Registry) -> None:
        reg.base(
            properties={
                "profile": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}},
                    "additionalProperties": False,
                }
            }
        )
        reg.child(L2, props(profile={"type": "object", "properties": {"nick": {"type": "string"}}}))
        reg.fails(L2, "properties.profile.properties.nick")

    @pytest.mark.parametrize("ap", [True, None])
    def test_reopening_a_closed_base(self, reg: Registry, ap: bool | None) -> None:
        reg.base(properties={"id": {"type": "string"}}, additionalProperties=False)
        overlay: dict[str, Any] = props(id={"type": "string"})
        if ap is not None:
            overlay["additionalProperties"] = ap
        reg.child(L2, overlay)
        reg.fails(L2, "additionalProperties")

    def test_removing_a_property_with_false(self, reg: Registry) -> None:
        reg.base(required=["customer"], properties={"customer": {"type": "string"}})
        reg.child(L2, props(customer=False))
        reg.fails(L2, "properties.customer")

    @pytest.mark.parametrize(
        ("base", "child", "keyword"),
        [
            (
                {"type": "string", "maxLength": 128},
                {"type": "string", "maxLength": 256},
                "maxLength",
            ),
            ({"type": "string", "minLength": 5}, {"type": "string", "minLength": 3}, "minLength"),
            ({"type": "integer", "maximum": 100}, {"type": "integer", "maximum": 200}, "maximum"),
            ({"type": "integer", "minimum": 10}, {"type": "integer", "minimum": 5}, "minimum"),
            ({"type": "array", "minItems": 5}, {"type": "array", "minItems": 2}, "minItems"),
            ({"enum": ["a", "b"]}, {"enum": ["a", "d"]}, "enum"),
            ({"enum": ["a", "b"]}, {"enum": ["a", "b", "c"]}, "enum"),
        ],
    )
    def test_loosening_a_constraint(
        self, reg: Registry, base: dict[str, Any], child: dict[str, Any], keyword: str
    ) -> None:
        reg.base(properties={"v": base})
        reg.child(L2, props(v=child))
        reg.fails(L2, f"properties.v.{keyword}")

    @pytest.mark.parametrize(
        ("base", "keyword"),
        [
            ({"type": "string", "maxLength": 100}, "maxLength"),
            ({"type": "string", "minLength": 5}, "minLength"),
            ({"type": "number", "maximum": 1000}, "maximum"),
            ({"type": "number", "minimum": 0}, "minimum"),
            ({"type": "array", "minItems": 1}, "minItems"),
            ({"type": "string", "enum": ["a", "b"]}, "enum"),
            ({"type": "string", "const": "fixed"}, "const"),
            ({"type": "string", "pattern": "^[a-z]+$"}, "pattern"),
            ({"type": "array", "items": {"type": "string"}}, "items"),
            ({"type": "string", "format": "email"}, "format"),
        ],
    )
    def test_dropping_a_constraint(self, reg: Registry, base: dict[str, Any], keyword: str) -> None:
        reg.base(properties={"v": base})
        reg.child(L2, props(v={"type": base["type"]}))
        reg.fails(L2, f"properties.v.{keyword}", "drops")

    @pytest.mark.parametrize(
        ("base", "child"),
        [
            ({"type": "string"}, {"type": "integer"}),
            ({"type": "integer"}, {"type": "number"}),
            ({"type": "string"}, {"type": ["string", "number"]}),
            ({"type": "string"}, {"type": ["string", "null"]}),
            ({"type": "string", "pattern": "^[a-z]+$"}, {"type": "string", "pattern": "^[0-9]+$"}),
            ({"type": "integer", "minimum": 42}, {"type": "integer", "const": 32}),
            (
                {"type": "array", "items": {"type": "string"}},
                {"type": "array", "items": {"type": "integer"}},
            ),
        ],
    )
    def test_conflicting_changes(
        self, reg: Registry, base: dict[str, Any], child: dict[str, Any]
    ) -> None:
        reg.base(properties={"v": base})
        reg.child(L2, props(v=child))
        reg.fails(L2, "properties.v")

    @pytest.mark.parametrize(
        "value", [("abc", "def"), (42, 99), (True, False)], ids=["str", "num", "bool"]
    )
    def test_conflicting_const_two_levels_down(self, reg: Registry, value: tuple[Any, Any]) -> None:
        reg.base(properties={"v": {}})
        reg.child(L2, props(v={"const": value[0]}))
        reg.ok(L2)
        reg.child(L3, props(v={"const": value[1]}))
        reg.fails(L3, L3, L2, "properties.v.const")

    def test_leaf_violating_the_root_through_a_silent_middle(self, reg: Registry) -> None:
        reg.base(properties={"status": {"type": "string", "enum": ["on", "off"]}})
        reg.child(L2, props(other={"type": "string"}))
        reg.child(L3, props(status={"type": "string", "enum": ["on", "off", "gone"]}))
        reg.fails(L3, ROOT, "properties.status.enum")

    def test_intersection_is_not_override(self, reg: Registry) -> None:
        reg.base(properties={"d": {"type": "string", "maxLength": 200}})
        reg.child(L2, props(d={"type": "string", "maxLength": 100}))
        reg.child(L3, props(d={"type": "string", "maxLength": 150}))
        reg.fails(L3, L2, "maxLength")

    def test_bad_middle_link_fails_the_whole_chain(self, reg: Registry) -> None:
        reg.base(properties={"p": {"type": "integer"}})
        reg.child(L2, props(p={"type": "number"}))
        reg.child(L3, props(p={"type": "integer"}))
        reg.fails(L3, L2, ROOT)

    def test_final_base_blocks_derivation(self, reg: Registry) -> None:
        reg.base(**{"x-gts-final": True})
        reg.child(L2, props(extra={"type": "string"}))
        reg.fails(L2, "final")
        with pytest.raises(GtsValidationError, match="final"):
            check_no_final_ancestor(L2, reg.get)

    def test_final_middle_blocks_the_leaf_only(self, reg: Registry) -> None:
        reg.base()
        reg.child(L2, {}, **{"x-gts-final": True})
        reg.child(L3, props(extra={"type": "string"}))
        reg.ok(L2)
        reg.fails(L3, L2, "final")

    def test_missing_ancestor_is_named(self, reg: Registry) -> None:
        reg.child(L2, {})
        reg.fails(L2, ROOT, "not registered")

    def test_schema_document_errors_surface(self, reg: Registry) -> None:
        reg.base(**{"x-gts-final": "yes"})
        reg.fails(ROOT, "x-gts-final")


class TestCycles:
    def test_self_reference(self, reg: Registry) -> None:
        reg.base()
        reg.child(L2, {"allOf": [{"$ref": f"gts://{L2}"}]})
        reg.fails(L2, "cyclic")
        assert find_ref_cycle(L2, reg.get) == [L2, L2]

    @pytest.mark.parametrize("size", [2, 3])
    def test_longer_cycles_fail_from_every_node(self, reg: Registry, size: int) -> None:
        reg.base()
        nodes = [f"{ROOT}x.lib._.node_{i}.v1~" for i in range(size)]
        for i, node in enumerate(nodes):
            reg.child(node, {"allOf": [{"$ref": f"gts://{nodes[(i + 1) % size]}"}]})
        for node in nodes:
            reg.fails(node, "cyclic")

    def test_diamond_is_not_a_cycle(self, reg: Registry) -> None:
        reg.base()
        shared = reg.base("gts.x.lib.parts.shared.v1~", properties={"s": {"type": "string"}})
        reg.child(
            L2, {"allOf": [{"$ref": f"gts://{shared}"}], **props(a={"$ref": f"gts://{shared}"})}
        )
        assert find_ref_cycle(L2, reg.get) is None
        reg.ok(L2)


class TestChain:
    def test_chain_of_a_derived_type(self) -> None:
        assert type_chain(L3) == [ROOT, L2, L3]

    @pytest.mark.parametrize("bad", ["gts.x.lib.books.item.v1~x.lib._.i.v1", "nonsense"])
    def test_only_type_ids(self, bad: str) -> None:
        with pytest.raises(GtsValidationError):
            type_chain(bad)


def test_root_type_may_be_left_to_the_parent(reg: Registry) -> None:
    reg.base(properties={"id": {"type": "string"}})
    reg[L2] = {
        "$id": f"gts://{L2}",
        "$schema": DRAFT7,
        "allOf": [{"$ref": f"gts://{ROOT}"}, {"properties": {"extra": {"type": "string"}}}],
    }
    reg.ok(L2)
    reg[L2]["allOf"][1]["type"] = "array"
    reg.fails(L2, "type")


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["maxLength", "maximum", "maxItems", "minLength", "minimum", "minItems"]),
    st.integers(0, 50),
    st.integers(0, 50),
)
def test_bounds_pass_exactly_when_tightened(keyword: str, parent: int, child: int) -> None:
    reg = Registry()
    kind = {"Length": "string", "Items": "array"}.get(keyword[3:], "number")
    reg.base(properties={"v": {"type": kind, keyword: parent}})
    reg.child(L2, props(v={"type": kind, keyword: child}))
    tighter = child <= parent if keyword.startswith("max") else child >= parent
    if tighter:
        reg.ok(L2)
    else:
        reg.fails(L2, f"properties.v.{keyword}")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from("abcdef"), min_size=1, max_size=6, unique=True),
    st.lists(st.sampled_from("abcdef"), min_size=1, max_size=6, unique=True),
)
def test_enum_passes_exactly_when_a_subset(parent: list[str], child: list[str]) -> None:
    reg = Registry()
    reg.base(properties={"v": {"type": "string", "enum": parent}})
    reg.child(L2, props(v={"type": "string", "enum": child}))
    if set(child) <= set(parent):
        reg.ok(L2)
    else:
        reg.fails(L2, "properties.v.enum")


def test_recursive_data_type_is_not_a_cycle(reg: Registry) -> None:
    reg.base()
    reg.child(
        L2,
        props(
            children={"type": "array", "items": {"$ref": f"gts://{L2}"}},
            parent={"$ref": f"gts://{L2}"},
        ),
    )
    assert find_ref_cycle(L2, reg.get) is None
    reg.ok(L2)


def test_cycle_through_a_trait_schema_counts(reg: Registry) -> None:
    reg.base()
    reg.child(L2, {"x-gts-traits-schema": {"type": "object", "allOf": [{"$ref": f"gts://{L2}"}]}})
    assert find_ref_cycle(L2, reg.get) == [L2, L2]


@pytest.mark.parametrize(("limit", "ok"), [(50, True), (500, False)])
def test_local_definitions_are_followed(reg: Registry, limit: int, ok: bool) -> None:
    reg.base(properties={"code": {"type": "string", "maxLength": 100}})
    reg.child(L2, props(code={"$ref": "#/definitions/Code"}))
    reg[L2]["definitions"] = {"Code": {"type": "string", "maxLength": limit}}
    if ok:
        reg.ok(L2)
    else:
        reg.fails(L2, "properties.code.maxLength")
