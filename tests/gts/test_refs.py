"""Schema document rules: $id, $ref, x-gts-final / x-gts-abstract, schema-only keywords."""

from __future__ import annotations

from typing import Any

import pytest

from plugway.gts import (
    SCHEMA_ONLY_KEYWORDS,
    GtsError,
    GtsSchemaError,
    GtsValidationError,
    check_instance_document,
    check_schema_document,
    collect_gts_refs,
)
from plugway.gts._refs import (
    MAX_DOCUMENT_DEPTH,
    MAX_ENUM_VALUES,
    MAX_SCHEMA_DEPTH,
    iter_subschemas,
)
from plugway.gts._regex import regex_problem

DRAFT7 = "http://json-schema.org/draft-07/schema#"
BASE = "gts.x.shop.orders.order.v1~"


def schema(type_id: str = BASE, /, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "$id": f"gts://{type_id}",
        "$schema": DRAFT7,
        "type": "object",
        "properties": {"id": {"type": "string"}},
    }
    doc.update(extra)
    return doc


def derived(parent: str, child_tail: str, overlay: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {
        "$id": f"gts://{parent}{child_tail}",
        "$schema": DRAFT7,
        "type": "object",
        "allOf": [{"$ref": f"gts://{parent}"}, overlay],
        **top,
    }


class TestIdRules:
    def test_gts_uri_id_is_accepted_strictly(self) -> None:
        check_schema_document(schema(), strict=True)

    @pytest.mark.parametrize(
        "bad_id",
        [
            "gts.x.shop.orders.order.v1~",  # raw gts. form, no gts:// scheme
            "gts://gts.x.shop.*.order.v1~",  # wildcard
            "http://example.com/schemas/order",  # not GTS at all
            "gts://gts.x.shop.orders.order.v1~x.a.b.c.v1",  # names an instance
            "gts://gts.x.Shop.orders.order.v1~",  # invalid id
        ],
    )
    def test_bad_id_is_refused_strictly_and_named(self, bad_id: str) -> None:
        doc = schema()
        doc["$id"] = bad_id
        with pytest.raises(GtsSchemaError) as info:
            check_schema_document(doc, strict=True)
        assert "$id" in str(info.value)

    def test_missing_id_is_refused_strictly(self) -> None:
        doc = schema()
        del doc["$id"]
        with pytest.raises(GtsSchemaError, match=r"\$id is missing"):
            check_schema_document(doc, strict=True)

    def test_lenient_mode_does_not_judge_id(self) -> None:
        doc = schema()
        doc["$id"] = "gts.x.shop.orders.order.v1~"
        check_schema_document(doc, strict=False)

    def test_non_object_document_is_refused(self) -> None:
        with pytest.raises(GtsSchemaError):
            check_schema_document(["not", "a", "schema"], strict=False)  # type: ignore[arg-type]


class TestRefRules:
    @pytest.mark.parametrize(
        "ref",
        ["#/$defs/Base", "#/definitions/Base", "#", f"gts://{BASE}"],
    )
    def test_local_and_gts_refs_are_fine(self, ref: str) -> None:
        doc = schema("gts.x.shop.orders.line.v1~", allOf=[{"$ref": ref}])
        check_schema_document(doc, strict=True)

    @pytest.mark.parametrize(
        ("ref", "words"),
        [
            ("gts.x.shop.orders.order.v1~", "gts://"),
            ("gts://gts.x.shop.*.order.v1~", "not a valid GTS id"),
            ("https://example.com/schemas/base.json", "external URIs"),
            ("gts://gts.x.bad-seg.ns.type.v1~", "not a valid GTS id"),
            ("gts://gts.x.shop.orders.order.v1~x.a.b.c.v1", "instance"),
            ("base.json", "external URIs"),
        ],
    )
    def test_bad_refs_are_refused_with_their_location(self, ref: str, words: str) -> None:
        doc = schema("gts.x.shop.orders.line.v1~", allOf=[{"$ref": ref}])
        with pytest.raises(GtsSchemaError) as info:
            check_schema_document(doc, strict=True)
        message = str(info.value)
        assert words in message
        assert "#/allOf/0" in message

    def test_ref_text_inside_const_is_data_not_a_reference(self) -> None:
        doc = schema(properties={"x": {"const": {"$ref": "https://example.com/x"}}})
        check_schema_document(doc, strict=True)
        assert collect_gts_refs(doc) == frozenset()

    def test_collect_gts_refs_walks_subschemas_and_trait_schemas(self) -> None:
        doc = schema(
            "gts.x.shop.orders.order.v1~x.shop._.big.v1~",
            allOf=[{"$ref": f"gts://{BASE}"}],
            properties={"line": {"items": {"$ref": "gts://gts.x.shop.orders.line.v1~"}}},
        )
        doc["x-gts-traits-schema"] = {"allOf": [{"$ref": "gts://gts.x.shop.traits.ttl.v1~"}]}
        assert collect_gts_refs(doc) == {
            BASE,
            "gts.x.shop.orders.line.v1~",
            "gts.x.shop.traits.ttl.v1~",
        }


class TestModifiers:
    @pytest.mark.parametrize("keyword", ["x-gts-final", "x-gts-abstract"])
    @pytest.mark.parametrize("value", ["yes", 1, None, {}])
    def test_non_boolean_is_refused_even_leniently(self, keyword: str, value: Any) -> None:
        with pytest.raises(GtsSchemaError) as info:
            check_schema_document(schema(**{keyword: value}), strict=False)
        assert keyword in str(info.value)

    @pytest.mark.parametrize("value", [True, False])
    def test_booleans_are_fine(self, value: bool) -> None:
        check_schema_document(schema(**{"x-gts-final": value}), strict=True)
        check_schema_document(schema(**{"x-gts-abstract": value}), strict=True)

    def test_final_and_abstract_together_are_refused_even_leniently(self) -> None:
        doc = schema(**{"x-gts-final": True, "x-gts-abstract": True})
        with pytest.raises(GtsSchemaError, match="both be true"):
            check_schema_document(doc, strict=False)

    def test_one_true_one_false_is_fine(self) -> None:
        check_schema_document(schema(**{"x-gts-final": True, "x-gts-abstract": False}), strict=True)

    @pytest.mark.parametrize("keyword", ["x-gts-final", "x-gts-abstract"])
    def test_modifier_inside_all_of_is_refused_strictly(self, keyword: str) -> None:
        doc = derived(BASE, "x.shop._.big.v1~", {"type": "object", keyword: True})
        with pytest.raises(GtsSchemaError) as info:
            check_schema_document(doc, strict=True)
        assert "top level" in str(info.value)
        assert "#/allOf/1" in str(info.value)

    def test_modifier_next_to_all_of_is_fine(self) -> None:
        doc = derived(BASE, "x.shop._.big.v1~", {"type": "object"}, **{"x-gts-final": True})
        check_schema_document(doc, strict=True)


class TestTraitKeywordsShape:
    def test_traits_must_be_an_object_strictly(self) -> None:
        doc = schema(**{"x-gts-traits": ["P30D"]})
        with pytest.raises(GtsSchemaError, match="x-gts-traits"):
            check_schema_document(doc, strict=True)

    def test_trait_schema_must_describe_an_object_strictly(self) -> None:
        doc = schema(**{"x-gts-traits-schema": {"type": "integer"}})
        with pytest.raises(GtsSchemaError, match="x-gts-traits-schema"):
            check_schema_document(doc, strict=True)

    def test_lenient_registration_leaves_traits_to_op13(self) -> None:
        check_schema_document(schema(**{"x-gts-traits-schema": {"type": "integer"}}), strict=False)


class TestXrefWellFormedness:
    def test_malformed_gts_literal_is_refused_even_leniently(self) -> None:
        doc = schema(properties={"id": {"type": "string", "x-gts-ref": "gts.x.y.z"}})
        with pytest.raises(GtsSchemaError) as info:
            check_schema_document(doc, strict=False)
        assert "x-gts-ref validation failed" in str(info.value)
        assert "Invalid GTS identifier: gts.x.y.z" in str(info.value)

    def test_non_gts_text_is_refused(self) -> None:
        doc = schema(properties={"id": {"type": "string", "x-gts-ref": "a.b.c"}})
        with pytest.raises(GtsSchemaError) as info:
            check_schema_document(doc, strict=False)
        assert "x-gts-ref validation failed" in str(info.value)
        assert "a.b.c" in str(info.value)

    def test_pointer_to_non_gts_value_is_refused(self) -> None:
        doc = schema(
            properties={
                "some": {"type": "string", "const": "a.b.c"},
                "id": {"type": "string", "x-gts-ref": "/properties/some/const"},
            }
        )
        with pytest.raises(GtsSchemaError) as info:
            check_schema_document(doc, strict=False)
        assert "x-gts-ref validation failed" in str(info.value)
        assert "a.b.c" in str(info.value)

    @pytest.mark.parametrize(
        "xref",
        ["/$id", "./$id", "gts.*", "gts.x.shop.*", BASE, "/properties/kind/const"],
    )
    def test_well_formed_refs_pass(self, xref: str) -> None:
        doc = schema(
            properties={
                "kind": {"const": "gts.x.shop.orders.kind.v1~"},
                "ref": {"type": "string", "x-gts-ref": xref},
            }
        )
        check_schema_document(doc, strict=True)

    def test_pointer_cycle_is_refused_not_looped(self) -> None:
        doc = schema(
            properties={
                "a": {"type": "string", "x-gts-ref": "/properties/b"},
                "b": {"type": "string", "x-gts-ref": "/properties/a"},
            }
        )
        with pytest.raises(GtsSchemaError, match="hops"):
            check_schema_document(doc, strict=False)


class TestDepthLimits:
    def test_deeply_nested_schema_is_refused_with_an_error(self) -> None:
        node: dict[str, Any] = {"type": "string"}
        for _ in range(MAX_SCHEMA_DEPTH + 5):
            node = {"type": "object", "properties": {"x": node}}
        doc = schema(properties={"deep": node})
        with pytest.raises(GtsSchemaError, match="deeper than"):
            check_schema_document(doc, strict=False)

    def test_very_deep_schema_does_not_break_the_stack(self) -> None:
        node: dict[str, Any] = {}
        for _ in range(5000):
            node = {"not": node}
        with pytest.raises(GtsSchemaError):
            list(iter_subschemas(node))

    def test_deep_instance_is_refused(self) -> None:
        value: Any = "leaf"
        for _ in range(MAX_DOCUMENT_DEPTH + 2):
            value = [value]
        with pytest.raises(GtsValidationError, match="nested deeper"):
            check_instance_document({"id": "x", "data": value})


class TestInstanceDocument:
    @pytest.mark.parametrize("keyword", sorted(SCHEMA_ONLY_KEYWORDS))
    def test_schema_only_keyword_in_instance_is_refused(self, keyword: str) -> None:
        doc = {"id": "gts.x.shop.orders.order.v1~x.shop._.o1.v1", keyword: True}
        with pytest.raises(GtsValidationError) as info:
            check_instance_document(doc)
        assert keyword in str(info.value)
        assert "gts.x.shop.orders.order.v1~x.shop._.o1.v1" in str(info.value)

    def test_plain_instance_passes(self) -> None:
        check_instance_document({"id": "gts.x.shop.orders.order.v1~x.shop._.o1.v1", "n": [1]})

    def test_non_object_instance_is_refused(self) -> None:
        with pytest.raises(GtsError):
            check_instance_document("text")  # type: ignore[arg-type]


class TestRegexSafety:
    @pytest.mark.parametrize(
        "pattern",
        [
            # catastrophic for a backtracking engine, linear for RE2: accepted now
            "(a+)+$",
            r"^(\w+\s?)*$",
            "^a*a*a*a*a*a*a*a*b$",
            "(a|a)+$",
            # ordinary ones
            "^[a-z]+$",
            r"^([a-z]+\.)*[a-z]+$",
            r"^(\d{1,3}\.){3}\d{1,3}$",
            r"^(?:[01]\d|2[0-3]):[0-5]\d$",
            r"^[\u0041-\u005A]+$",  # ECMA-262 \uHHHH escapes
        ],
    )
    def test_patterns_re2_runs_pass(self, pattern: str) -> None:
        assert regex_problem(pattern) is None
        check_schema_document(schema(properties={"v": {"pattern": pattern}}), strict=True)

    @pytest.mark.parametrize("pattern", [r"^(a+)\1$", "^(?=.*[0-9]).+$", "(?<!x)y", "(?!a)b"])
    def test_backreferences_and_lookaround_are_refused_naming_the_place(self, pattern: str) -> None:
        assert "backreference or lookaround" in (regex_problem(pattern) or "")
        doc = schema(properties={"v": {"type": "string", "pattern": pattern}})
        with pytest.raises(GtsSchemaError, match=r"pattern .* at #/properties/v uses") as info:
            check_schema_document(doc, strict=False)
        assert "gts.x.shop.orders.order.v1~" in str(info.value)
        doc = schema(properties={"m": {"type": "object", "patternProperties": {pattern: {}}}})
        with pytest.raises(GtsSchemaError, match=r"patternProperties key .* at #/properties/m"):
            check_schema_document(doc, strict=False)

    @pytest.mark.parametrize("pattern", ["(", "[a-", 5, "x" * 5000])
    def test_invalid_patterns_are_refused(self, pattern: object) -> None:
        assert regex_problem(pattern) is not None

    def test_a_property_named_pattern_is_not_a_regex(self) -> None:
        doc = schema(properties={"pattern": {"type": "string"}, "x": {"const": {"pattern": "("}}})
        check_schema_document(doc, strict=True)


def test_an_enum_longer_than_the_limit_is_refused_naming_its_place() -> None:
    doc = schema(properties={"e": {"enum": list(range(MAX_ENUM_VALUES + 1))}})
    with pytest.raises(GtsSchemaError, match=r"enum at #/properties/e lists 10001 values"):
        check_schema_document(doc, strict=False)
    check_schema_document(
        schema(properties={"e": {"enum": list(range(MAX_ENUM_VALUES))}}), strict=True
    )
