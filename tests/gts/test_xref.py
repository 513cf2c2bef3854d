"""x-gts-ref enforcement in instances: prefixes, patterns, JSON pointers, combinators."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugway.gts import GtsValidationError, InstanceValidatorCache, validate_instance
from plugway.gts._xref import resolve_xref, xref_prefix

DRAFT7 = "http://json-schema.org/draft-07/schema#"
CAP = "gts.x.hub.caps.capability.v1~"
TARGET_A = "gts.x.hub_refs._.target_a.v1~"
TARGET_B = "gts.x.hub_refs._.target_b.v1~"
A1 = f"{TARGET_A}x.acme._.a1.v1.0"
B1 = f"{TARGET_B}x.acme._.b1.v1.0"
OTHER = "gts.x.hub_refs._.other.v1~x.acme._.o1.v1.0"


class Registry(dict[str, Any]):
    def add(self, type_id: str, **body: Any) -> str:
        self[type_id] = {"$id": f"gts://{type_id}", "$schema": DRAFT7, **body}
        return type_id

    def check(self, type_id: str, doc: Any) -> None:
        validate_instance(doc, type_id, self.get, InstanceValidatorCache())


@pytest.fixture
def reg() -> Registry:
    r = Registry()
    r.add(
        CAP,
        type="object",
        required=["id"],
        properties={"id": {"type": "string", "x-gts-ref": "/$id"}, "label": {"type": "string"}},
        additionalProperties=False,
    )
    r.add(
        "gts.x.hub.mods.module.v1~",
        type="object",
        properties={
            "type": {"type": "string", "x-gts-ref": "/$id"},
            "caps": {"type": "array", "items": {"type": "string", "x-gts-ref": CAP}},
        },
    )
    return r


def one_of_schema(kw: str, *refs: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["ref"],
        "properties": {"ref": {"type": "string", kw: [{"x-gts-ref": r} for r in refs]}},
    }


class TestPrefix:
    def test_self_id_pointer_accepts_ids_of_the_type(self, reg: Registry) -> None:
        reg.check(CAP, {"id": f"{CAP}x.acme._.has_ws.v1"})

    def test_self_id_pointer_refuses_ids_of_another_type(self, reg: Registry) -> None:
        with pytest.raises(GtsValidationError) as info:
            reg.check(CAP, {"id": "gts.x.hub.caps.wrong_cap.v1~x.acme._.has_ws.v1"})
        message = str(info.value)
        assert "at id" in message
        assert CAP in message

    def test_literal_prefix_on_array_items(self, reg: Registry) -> None:
        reg.check("gts.x.hub.mods.module.v1~", {"caps": [f"{CAP}x.acme._.a.v1"]})
        with pytest.raises(GtsValidationError, match=r"at caps\[1\]"):
            reg.check(
                "gts.x.hub.mods.module.v1~",
                {"caps": [f"{CAP}x.acme._.a.v1", "gts.y.other._.capability.v1~x.acme._.f.v1"]},
            )

    def test_value_must_be_a_valid_gts_id(self, reg: Registry) -> None:
        with pytest.raises(GtsValidationError, match="not a valid GTS id"):
            reg.check(CAP, {"id": f"{CAP}NOT-VALID"})

    def test_only_strings_are_references(self, reg: Registry) -> None:
        t = "gts.x.hub.loose.thing.v1~"
        reg.add(t, properties={"ref": {"type": ["string", "null"], "x-gts-ref": "gts.*"}})
        reg.check(t, {"ref": None})
        with pytest.raises(GtsValidationError, match="at ref"):
            reg.check(t, {"ref": 42})
        with pytest.raises(GtsValidationError, match="not a valid GTS id"):
            reg.check(t, {"ref": "plain"})

    def test_type_field_must_name_the_schema_itself(self, reg: Registry) -> None:
        mod = "gts.x.hub.mods.module.v1~"
        reg.check(mod, {"type": mod, "caps": []})
        with pytest.raises(GtsValidationError, match="at type"):
            reg.check(mod, {"type": "gts.x.hub.mods.wrong.v1~", "caps": []})

    def test_any_gts_id_pattern(self, reg: Registry) -> None:
        reg.add(
            "gts.x.hub.any.ref.v1~", properties={"ref": {"type": "string", "x-gts-ref": "gts.*"}}
        )
        reg.check("gts.x.hub.any.ref.v1~", {"ref": OTHER})
        with pytest.raises(GtsValidationError):
            reg.check("gts.x.hub.any.ref.v1~", {"ref": "urn:not-gts"})

    def test_pointer_through_another_x_gts_ref(self, reg: Registry) -> None:
        ptr = "gts.x.hub.ptr.pointer.v1~"
        reg.add(
            ptr,
            title="PTR",
            properties={
                "id": {"type": "string", "x-gts-ref": "/$id"},
                "type": {"type": "string", "x-gts-ref": "/properties/id"},
            },
        )
        reg.check(ptr, {"id": f"{ptr}x.acme._.ok.v1", "type": ptr})
        with pytest.raises(GtsValidationError, match="at type"):
            reg.check(ptr, {"id": f"{ptr}x.acme._.ok.v1", "type": CAP})

    def test_schema_with_malformed_x_gts_ref_cannot_validate(self, reg: Registry) -> None:
        reg.add("gts.x.hub.bad.ref.v1~", properties={"id": {"x-gts-ref": "a.b.c"}})
        with pytest.raises(GtsValidationError, match="x-gts-ref validation failed"):
            reg.check("gts.x.hub.bad.ref.v1~", {"id": A1})

    def test_x_gts_ref_in_additional_and_pattern_properties(self, reg: Registry) -> None:
        reg.add(
            "gts.x.hub.maps.links.v1~",
            type="object",
            properties={"note": {"type": "string"}},
            patternProperties={"^cap_": {"x-gts-ref": CAP}},
            additionalProperties={"x-gts-ref": TARGET_A},
        )
        ok = {"note": "free text", "cap_1": f"{CAP}x.acme._.c.v1", "other": A1}
        reg.check("gts.x.hub.maps.links.v1~", ok)
        with pytest.raises(GtsValidationError, match="at cap_1"):
            reg.check("gts.x.hub.maps.links.v1~", {**ok, "cap_1": A1})
        with pytest.raises(GtsValidationError, match="at other"):
            reg.check("gts.x.hub.maps.links.v1~", {**ok, "other": B1})

    def test_x_gts_ref_behind_a_gts_ref_is_enforced(self, reg: Registry) -> None:
        reg.add("gts.x.hub.refd.holder.v1~", properties={"cap": {"$ref": f"gts://{CAP}"}})
        reg.check("gts.x.hub.refd.holder.v1~", {"cap": {"id": f"{CAP}x.acme._.c.v1"}})
        with pytest.raises(GtsValidationError, match=r"at cap\.id"):
            reg.check("gts.x.hub.refd.holder.v1~", {"cap": {"id": A1}})


class TestCombinators:
    def test_one_of_exactly_one_branch(self, reg: Registry) -> None:
        t = reg.add("gts.x.hub_refs._.oneof.v1~", **one_of_schema("oneOf", TARGET_A, TARGET_B))
        reg.check(t, {"ref": A1})
        reg.check(t, {"ref": B1})
        with pytest.raises(GtsValidationError, match="matches 0"):
            reg.check(t, {"ref": OTHER})

    def test_one_of_with_overlapping_branches_fails(self, reg: Registry) -> None:
        t = reg.add(
            "gts.x.hub_refs._.overlap.v1~", **one_of_schema("oneOf", "gts.x.hub_refs.*", TARGET_A)
        )
        with pytest.raises(GtsValidationError, match="matches 2"):
            reg.check(t, {"ref": A1})
        reg.check(t, {"ref": B1})

    def test_any_of_needs_one_branch(self, reg: Registry) -> None:
        t = reg.add("gts.x.hub_refs._.anyof.v1~", **one_of_schema("anyOf", TARGET_A, TARGET_B))
        reg.check(t, {"ref": A1})
        with pytest.raises(GtsValidationError, match="none of the anyOf"):
            reg.check(t, {"ref": OTHER})

    def test_all_of_needs_every_branch(self, reg: Registry) -> None:
        t = reg.add("gts.x.hub_refs._.allof.v1~", **one_of_schema("allOf", TARGET_A))
        reg.check(t, {"ref": A1})
        strict = reg.add(
            "gts.x.hub_refs._.allof2.v1~", **one_of_schema("allOf", TARGET_A, TARGET_B)
        )
        with pytest.raises(GtsValidationError):
            reg.check(strict, {"ref": A1})

    def test_nested_all_of_around_one_of(self, reg: Registry) -> None:
        body = one_of_schema("oneOf", TARGET_A, TARGET_B)
        ref_schema = body["properties"]["ref"]
        body["properties"]["ref"] = {"type": "string", "allOf": [{"oneOf": ref_schema["oneOf"]}]}
        t = reg.add("gts.x.hub_refs._.nested.v1~", **body)
        reg.check(t, {"ref": B1})
        with pytest.raises(GtsValidationError):
            reg.check(t, {"ref": OTHER})

    def test_branch_standard_keywords_count_too(self, reg: Registry) -> None:
        t = reg.add(
            "gts.x.hub_refs._.mixed.v1~",
            properties={
                "ref": {
                    "oneOf": [
                        {"type": "string", "x-gts-ref": TARGET_A},
                        {"type": "integer", "minimum": 0},
                    ]
                }
            },
        )
        reg.check(t, {"ref": A1})
        reg.check(t, {"ref": 5})
        with pytest.raises(GtsValidationError):
            reg.check(t, {"ref": -1})
        with pytest.raises(GtsValidationError):
            reg.check(t, {"ref": B1})

    def test_not_with_x_gts_ref(self, reg: Registry) -> None:
        t = reg.add(
            "gts.x.hub_refs._.negated.v1~",
            properties={"ref": {"type": "string", "not": {"x-gts-ref": TARGET_A}}},
        )
        reg.check(t, {"ref": B1})
        with pytest.raises(GtsValidationError, match="'not'"):
            reg.check(t, {"ref": A1})


class TestResolution:
    def test_pattern_prefix_is_text_before_the_star(self) -> None:
        assert xref_prefix("gts.x.pkg.*") == "gts.x.pkg."
        assert xref_prefix(CAP) == CAP

    def test_pointer_resolves_gts_uri_id(self) -> None:
        root = {"$id": f"gts://{CAP}"}
        assert resolve_xref("/$id", root, "#/properties/id") == CAP
        assert resolve_xref("./$id", root, "#/properties/id") == CAP

    def test_pointer_to_missing_node_names_location(self) -> None:
        with pytest.raises(GtsValidationError) as info:
            resolve_xref("/properties/nope", {"$id": f"gts://{CAP}"}, "#/properties/ref")
        assert "#/properties/ref" in str(info.value)


class TestOtherApplicators:
    def test_contains(self, reg: Registry) -> None:
        t = reg.add(
            "gts.x.hub_refs._.contains.v1~",
            properties={"refs": {"type": "array", "contains": {"x-gts-ref": TARGET_A}}},
        )
        reg.check(t, {"refs": [B1, A1]})
        with pytest.raises(GtsValidationError, match="contains"):
            reg.check(t, {"refs": [B1, OTHER]})

    def test_property_names(self, reg: Registry) -> None:
        t = reg.add(
            "gts.x.hub_refs._.keys.v1~",
            properties={"byType": {"type": "object", "propertyNames": {"x-gts-ref": "gts.*"}}},
        )
        reg.check(t, {"byType": {A1: 1, B1: 2}})
        with pytest.raises(GtsValidationError, match="property name"):
            reg.check(t, {"byType": {A1: 1, "plain": 2}})

    def test_if_then_else(self, reg: Registry) -> None:
        t = reg.add(
            "gts.x.hub_refs._.cond.v1~",
            type="object",
            properties={"kind": {"type": "string"}, "ref": {"type": "string"}},
            **{
                "if": {"properties": {"kind": {"const": "a"}}},
                "then": {"properties": {"ref": {"x-gts-ref": TARGET_A}}},
                "else": {"properties": {"ref": {"x-gts-ref": TARGET_B}}},
            },
        )
        reg.check(t, {"kind": "a", "ref": A1})
        reg.check(t, {"kind": "b", "ref": B1})
        with pytest.raises(GtsValidationError, match="'then'"):
            reg.check(t, {"kind": "a", "ref": B1})
        with pytest.raises(GtsValidationError, match="'else'"):
            reg.check(t, {"kind": "b", "ref": A1})

    def test_dependencies(self, reg: Registry) -> None:
        t = reg.add(
            "gts.x.hub_refs._.deps.v1~",
            type="object",
            dependencies={
                "target": {"properties": {"target": {"x-gts-ref": TARGET_A}}},
                "note": ["target"],
            },
        )
        reg.check(t, {"target": A1, "note": "x"})
        reg.check(t, {"other": 1})
        with pytest.raises(GtsValidationError, match="dependency schema"):
            reg.check(t, {"target": B1})
        with pytest.raises(GtsValidationError, match="requires target"):
            reg.check(t, {"note": "x"})


_tokens = st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True)
_segments = st.tuples(_tokens, _tokens, _tokens, _tokens, st.integers(0, 3)).map(
    lambda t: f"{t[0]}.{t[1]}.{t[2]}.{t[3]}.v{t[4]}"
)


@settings(max_examples=100, deadline=None)
@given(_segments, _segments, _segments)
def test_literal_x_gts_ref_is_a_prefix_rule(base: str, other: str, leaf: str) -> None:
    target = f"gts.{base}~"
    t = "gts.x.hub.prop.holder.v1~"
    docs = {t: {"$id": f"gts://{t}", "properties": {"ref": {"x-gts-ref": target}}}}
    for value in (f"gts.{base}~{leaf}", f"gts.{other}~{leaf}"):
        expected = value.startswith(target)
        try:
            validate_instance({"ref": value}, t, docs.get)
        except GtsValidationError:
            assert not expected
        else:
            assert expected


def _pattern_ref_schema(reg: Registry, pattern: str) -> str:
    return reg.add(
        "gts.x.hub_refs._.by_pattern.v1~",
        type="object",
        patternProperties={pattern: {"type": "string", "x-gts-ref": "gts.*"}},
    )


def test_x_gts_ref_under_pattern_properties_matches_names_as_the_standard_keywords_do(
    reg: Registry,
) -> None:
    # ECMA-262 (and RE2) \d is ASCII; Python's re would match Arabic-Indic digits too and apply
    # the x-gts-ref of a pattern the standard validator says does not match.
    type_id = _pattern_ref_schema(reg, r"^\d+$")
    reg.check(type_id, {"\u0661\u0662": "not a gts id"})
    with pytest.raises(GtsValidationError, match=r"at 12: x-gts-ref"):
        reg.check(type_id, {"12": "not a gts id"})


@pytest.mark.timeout(60)
def test_a_hostile_property_name_cannot_make_x_gts_ref_backtrack(reg: Registry) -> None:
    # (a+)+$ backtracks exponentially in re on "aaa...!"; RE2 answers in linear time.
    type_id = _pattern_ref_schema(reg, r"^(a+)+$")
    reg.check(type_id, {"a" * 5000 + "!": "not a gts id"})
    with pytest.raises(GtsValidationError, match="x-gts-ref"):
        reg.check(type_id, {"a" * 50: "not a gts id"})
