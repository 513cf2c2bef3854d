"""OP#2: id and type id extraction from JSON documents."""

from __future__ import annotations

from typing import Any

import pytest

from plugway.gts import GtsError, extract_id, strip_gts_uri

DRAFT7 = "http://json-schema.org/draft-07/schema#"
BASE = "gts.acme.billing.events.event.v1~"
DERIVED = BASE + "acme.billing.invoices.issued.v1.0~"
UUID_ = "5c0ffee0-1234-4abc-8def-0123456789ab"


def _fields(doc: dict[str, Any]) -> tuple[Any, ...]:
    e = extract_id(doc)
    return (e.id, e.type_id, e.selected_entity_field, e.selected_type_id_field, e.is_type)


def test_base_type_schema_has_no_type_id() -> None:
    doc = {"$schema": DRAFT7, "$id": "gts://" + BASE, "type": "object"}
    assert _fields(doc) == (BASE, None, "$id", None, True)


def test_derived_type_schema_has_its_parent_as_type_id() -> None:
    doc = {"$schema": DRAFT7, "$id": "gts://" + DERIVED, "type": "object"}
    assert _fields(doc) == (DERIVED, BASE, "$id", "$id", True)


def test_schema_without_id_is_a_non_gts_schema() -> None:
    e = extract_id({"$schema": DRAFT7, "type": "object"})
    assert e.is_type is True
    assert e.id is None
    assert e.type_id is None  # neither the dialect URL nor "object"


def test_schema_with_non_gts_id() -> None:
    e = extract_id({"$schema": DRAFT7, "$id": "https://example.com/s.json"})
    assert e.is_type and e.type_id is None and e.gts_id is None
    assert e.id == "https://example.com/s.json"


def test_schema_detection_wins_over_instance_fields() -> None:
    doc = {"$schema": DRAFT7, "$id": "gts://" + BASE, "id": BASE + "a.b.c.d.v1"}
    assert extract_id(doc).is_type is True
    assert extract_id(doc).id == BASE


def test_chained_instance_id_carries_its_type() -> None:
    doc = {"id": BASE + "acme.billing._.evt_1.v1.2"}
    assert _fields(doc) == (BASE + "acme.billing._.evt_1.v1.2", BASE, "id", "id", False)


def test_three_level_instance_type_is_everything_through_the_last_tilde() -> None:
    doc = {"id": DERIVED + "acme.billing._.inv_9.v1", "type": "gts.other.x.y.z.v1~"}
    e = extract_id(doc)
    assert e.type_id == DERIVED
    assert e.selected_type_id_field == "id"


def test_chain_wins_over_an_explicit_type_field() -> None:
    doc = {"id": BASE + "acme.billing._.evt_1.v1", "type": "gts.acme.other.events.event.v1~"}
    assert _fields(doc)[1:4] == (BASE, "id", "id")


def test_combined_anonymous_id_carries_its_type() -> None:
    doc = {"id": DERIVED + UUID_, "type": "gts.acme.other.events.event.v1~", "at": "now"}
    assert _fields(doc) == (DERIVED + UUID_, DERIVED, "id", "id", False)


def test_anonymous_instance_takes_the_type_field() -> None:
    doc = {"id": UUID_, "type": DERIVED}
    assert _fields(doc) == (UUID_, DERIVED, "id", "type", False)


@pytest.mark.parametrize("key", ["gtsTid", "gtsType", "gts_type", "type", "schema"])
def test_type_field_alternatives(key: str) -> None:
    e = extract_id({"id": UUID_, key: BASE})
    assert (e.type_id, e.selected_type_id_field) == (BASE, key)


def test_type_field_priority_order() -> None:
    e = extract_id({"id": UUID_, "schema": DERIVED, "type": BASE, "gtsTid": DERIVED})
    assert e.selected_type_id_field == "gtsTid"


def test_single_segment_id_uses_the_type_field() -> None:
    doc = {"id": "gts.acme.billing.events.event.v1.0", "schema": BASE}
    assert _fields(doc) == ("gts.acme.billing.events.event.v1.0", BASE, "id", "schema", False)


def test_type_field_must_hold_a_gts_type_id() -> None:
    for value in ("object", BASE + "acme.billing._.x.v1", "gts.acme.*", 5, ""):
        e = extract_id({"id": UUID_, "type": value})
        assert e.type_id is None and e.selected_type_id_field is None


def test_gts_uri_in_instance_id_field_is_stripped() -> None:
    doc = {"id": UUID_, "$id": "gts://gts.acme.billing.events.sample.v10~"}
    e = extract_id(doc)
    assert e.is_type is False
    assert e.id == "gts.acme.billing.events.sample.v10~"
    assert e.selected_entity_field == "$id"
    assert e.type_id is None  # a type id in an instance's id field says nothing of its type


def test_valid_gts_id_in_a_later_field_wins_over_a_plain_id() -> None:
    doc = {"gts_id": BASE + "acme.billing._.evt_2.v1", "id": UUID_}
    e = extract_id(doc)
    assert e.id == BASE + "acme.billing._.evt_2.v1"
    assert e.selected_entity_field == "gts_id"


def test_uuid_without_type_is_a_non_gts_instance() -> None:
    assert _fields({"id": UUID_}) == (UUID_, None, "id", None, False)


def test_non_gts_id_is_returned_as_written() -> None:
    assert _fields({"id": "order-17"}) == ("order-17", None, "id", None, False)


def test_document_without_any_id() -> None:
    assert _fields({"name": "x"}) == (None, None, None, None, False)


def test_parsed_id_is_attached_when_valid() -> None:
    e = extract_id({"id": BASE + "acme.billing._.evt_3.v1"})
    assert e.gts_id is not None and e.gts_id.text == e.id
    assert extract_id({"id": UUID_}).gts_id is None


def test_to_dict_has_the_operation_fields() -> None:
    d = extract_id({"id": UUID_, "type": BASE}).to_dict()
    assert d == {
        "id": UUID_,
        "type_id": BASE,
        "selected_entity_field": "id",
        "selected_type_id_field": "type",
        "is_type": False,
    }


@pytest.mark.parametrize("value", [[], "text", 3, None])
def test_non_object_documents_raise_gts_error(value: Any) -> None:
    with pytest.raises(GtsError, match="JSON object"):
        extract_id(value)


def test_strip_gts_uri() -> None:
    assert strip_gts_uri("gts://" + BASE) == BASE
    assert strip_gts_uri(BASE) == BASE
    assert strip_gts_uri("https://x") == "https://x"
