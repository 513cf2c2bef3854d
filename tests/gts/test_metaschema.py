"""A type schema must be valid JSON Schema under its declared meta-schema to be registered."""

from __future__ import annotations

from typing import Any

import pytest

from plugway.gts import GtsSchemaError, GtsStore, GtsValidationError, check_schema_document
from plugway.gts._metaschema import _meta_validator, metaschema_errors

DRAFT7 = "http://json-schema.org/draft-07/schema#"
DRAFT4 = "http://json-schema.org/draft-04/schema#"
DRAFT2020 = "https://json-schema.org/draft/2020-12/schema"
ORDER = "gts.x.shop.orders.order.v1~"


def schema(type_id: str = ORDER, dialect: str | None = DRAFT7, **body: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"$id": f"gts://{type_id}", "type": "object", **body}
    if dialect is not None:
        doc["$schema"] = dialect
    return doc


def refused(doc: dict[str, Any], *words: str) -> str:
    with pytest.raises(GtsSchemaError) as info:
        GtsStore().register(doc, validate=True)
    message = str(info.value)
    for word in words:
        assert word in message, message
    return message


def test_a_bad_type_keyword_is_refused_naming_its_path() -> None:
    doc = schema(properties={"total": {"type": "invalid_type_value"}})
    refused(doc, ORDER, "properties.total.type", "not a valid JSON Schema")


def test_paths_run_through_lists_and_the_default_dialect_is_draft_07() -> None:
    doc = schema(dialect=None, allOf=[{"type": "object"}, {"minLength": -1}])
    with pytest.raises(GtsSchemaError, match=r"allOf\.1\.minLength.*draft-07"):
        check_schema_document(doc, strict=True)
    refused(schema(required="total"), "at required")
    refused(schema(properties={"a": {"enum": []}, "b": 3}), "properties")


def test_the_declared_dialect_is_the_one_checked() -> None:
    # draft-04 spells exclusiveMinimum as a boolean; draft-07 as a number.
    as_number = {"properties": {"n": {"type": "number", "minimum": 0, "exclusiveMinimum": 5}}}
    GtsStore().register(schema(**as_number), validate=True)
    refused(schema(dialect=DRAFT4, **as_number), "properties.n.exclusiveMinimum", "draft-04")
    # prefixItems means nothing to draft-07 (an unknown keyword), but is a list in 2020-12.
    tuple_items = {"properties": {"pair": {"type": "array", "prefixItems": 5}}}
    GtsStore().register(schema(**tuple_items), validate=True)
    refused(schema(dialect=DRAFT2020, **tuple_items), "properties.pair.prefixItems", "2020-12")


def test_gts_keywords_ids_and_refs_are_valid_json_schema() -> None:
    store = GtsStore()
    base = schema(
        "gts.x.bus.events.event.v1~",
        **{
            "x-gts-abstract": True,
            "x-gts-traits-schema": {
                "type": "object",
                "properties": {"retention": {"type": "string", "default": "P30D"}},
            },
            "properties": {
                "id": {"type": "string", "x-gts-ref": "/$id"},
                "topic": {"type": "string", "x-gts-ref": "gts.x.bus.topics.*"},
            },
            "required": ["id"],
        },
    )
    child_id = "gts.x.bus.events.event.v1~x.shop.orders.placed.v1~"
    child = {
        "$id": f"gts://{child_id}",
        "$schema": DRAFT7,
        "allOf": [
            {"$ref": "gts://gts.x.bus.events.event.v1~"},
            {"type": "object", "properties": {"total": {"type": "number"}}},
        ],
        "x-gts-traits": {"retention": "P90D"},
    }
    assert store.register(base, validate=True) == "gts.x.bus.events.event.v1~"
    assert store.register(child, validate=True) == child_id
    assert metaschema_errors(child) == []


def test_lenient_registration_keeps_it_and_validation_reports_it() -> None:
    store = GtsStore()
    store.register(schema(properties={"total": {"type": "invalid_type_value"}}))
    with pytest.raises(GtsValidationError, match=r"properties\.total\.type"):
        store.validate_type_schema(ORDER)
    result = store.validate_entity(ORDER)
    assert not result.ok and "properties.total.type" in result.error


def test_strict_document_check_is_where_it_happens() -> None:
    doc = schema(properties={"total": {"type": "invalid_type_value"}})
    check_schema_document(doc, strict=False)  # lenient: the always-on rules only
    with pytest.raises(GtsSchemaError, match=r"properties\.total\.type"):
        check_schema_document(doc, strict=True)


def test_meta_schema_validators_are_built_once_per_dialect() -> None:
    assert _meta_validator(DRAFT7) is _meta_validator(DRAFT7)
    assert _meta_validator("urn:unknown:dialect")[0] == DRAFT7
    assert _meta_validator(DRAFT2020)[0] == DRAFT2020
