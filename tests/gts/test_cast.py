"""OP#9: casting instances between minor versions of their type."""

from __future__ import annotations

from typing import Any

import pytest

from plugway.gts._cast import cast_instance
from plugway.gts._errors import GtsError, GtsNotFoundError, GtsValidationError

BASE = "gts.x.shop.events.event.v1~"
V10 = "gts.x.shop.events.event.v1~x.shop.orders.placed.v1.0~"
V11 = "gts.x.shop.events.event.v1~x.shop.orders.placed.v1.1~"
V20 = "gts.x.shop.events.event.v1~x.shop.orders.placed.v2.0~"


def _derived(type_id: str, payload_props: dict[str, Any], **payload_extra: Any) -> dict[str, Any]:
    return {
        "$id": f"gts://{type_id}",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "allOf": [
            {"$ref": f"gts://{BASE}"},
            {
                "properties": {
                    "type": {"const": type_id},
                    "payload": {"type": "object", "properties": payload_props, **payload_extra},
                }
            },
        ],
    }


SCHEMAS: dict[str, dict[str, Any]] = {
    BASE: {
        "$id": f"gts://{BASE}",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"id": {"type": "string"}, "type": {"type": "string"}, "payload": {}},
        "additionalProperties": False,
    },
    V10: _derived(V10, {"order": {"type": "string"}}, additionalProperties=False),
    V11: _derived(
        V11,
        {
            "order": {"type": "string"},
            "channel": {"type": "string", "default": "web"},
            "flags": {"type": "object", "properties": {"gift": {"default": False}}, "default": {}},
        },
    ),
    V20: _derived(V20, {"order": {"type": "string"}}),
}


def test_upcast_fills_defaults_and_repoints_the_type_field() -> None:
    instance = {"id": "a1", "type": V10, "payload": {"order": "o-1"}}
    result = cast_instance("a1", instance, V10, V11, SCHEMAS.get, type_field="type")
    assert result.direction == "up"
    assert result.casted_entity["payload"] == {"order": "o-1", "channel": "web", "flags": {}}
    assert result.casted_entity["type"] == V11
    assert set(result.added_properties) == {"payload.channel", "payload.flags"}
    assert instance["payload"] == {"order": "o-1"}, "the source document is left alone"


def test_defaults_are_filled_inside_present_nested_objects() -> None:
    instance = {"id": "a1", "type": V10, "payload": {"order": "o-1", "flags": {}}}
    result = cast_instance("a1", instance, V10, V11, SCHEMAS.get)
    assert result.casted_entity["payload"]["flags"] == {"gift": False}
    assert result.added_properties == ("payload.channel", "payload.flags.gift")


def test_downcast_drops_what_a_closed_target_does_not_allow() -> None:
    instance = {"id": "a1", "type": V11, "payload": {"order": "o-1", "channel": "app"}}
    result = cast_instance("a1", instance, V11, V10, SCHEMAS.get, type_field="type")
    assert result.direction == "down"
    assert result.casted_entity == {"id": "a1", "type": V10, "payload": {"order": "o-1"}}
    assert result.removed_properties == ("payload.channel",)
    assert result.to_dict()["casted_entity"] == result.casted_entity


def test_schemas_cannot_be_cast() -> None:
    with pytest.raises(GtsValidationError, match="must be an instance"):
        cast_instance(V10, SCHEMAS[V10], None, V11, SCHEMAS.get)


@pytest.mark.parametrize(
    ("from_type", "to_type", "error", "match"),
    [
        (V10, V20, GtsValidationError, "only minor versions"),
        (
            V10,
            "gts.x.shop.events.event.v1~x.shop.orders.refunded.v1.1~",
            GtsValidationError,
            "minor",
        ),
        (None, V11, GtsValidationError, "type is unknown"),
        (V10, "gts.x.shop.events.event.v1~x.shop.orders.placed.v1.5~", GtsNotFoundError, "v1.5"),
        (V10, "gts.x.shop.events.event.v1~x.a.b.c.v1", GtsError, "not a type id"),
        (V10, "not-an-id", GtsError, "Invalid GTS identifier"),
    ],
)
def test_refusals_name_the_ids(
    from_type: str | None, to_type: str, error: type[Exception], match: str
) -> None:
    instance = {"id": "a1", "payload": {}}
    with pytest.raises(error, match=match):
        cast_instance("a1", instance, from_type, to_type, SCHEMAS.get)


def test_casting_to_the_same_version_changes_nothing() -> None:
    instance = {"id": "a1", "type": V11, "payload": {"order": "o", "channel": "x", "flags": {}}}
    result = cast_instance("a1", instance, V11, V11, SCHEMAS.get)
    assert result.direction == "none"
    assert result.casted_entity["payload"]["flags"] == {"gift": False}
