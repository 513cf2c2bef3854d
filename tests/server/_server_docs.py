"""GTS documents shared by the server tests."""

from __future__ import annotations

from typing import Any

SCHEMA_URL = "http://json-schema.org/draft-07/schema#"
ORDER_TYPE = "gts.acme.shop.orders.order.v1~"


def type_doc(type_id: str = ORDER_TYPE) -> dict[str, Any]:
    return {
        "$id": f"gts://{type_id}",
        "$schema": SCHEMA_URL,
        "type": "object",
        "properties": {"id": {"type": "string"}, "total": {"type": "number"}},
        "required": ["id"],
    }


def instance_doc(name: str, total: float = 1.0, type_id: str = ORDER_TYPE) -> dict[str, Any]:
    return {"id": f"{type_id}acme.shop.orders.{name}.v1", "total": total}
