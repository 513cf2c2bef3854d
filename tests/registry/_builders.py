"""Document builders shared by the registry tests."""

from __future__ import annotations

from typing import Any

from plugway.registry import PLUGIN_BASE_TYPE_ID

DRAFT7 = "http://json-schema.org/draft-07/schema#"

ORDER_T = "gts.acme.shop.orders.order.v1~"
CONTRACT_T = PLUGIN_BASE_TYPE_ID + "acme.search.docs.plugin.v1~"


def type_doc(
    type_id: str,
    properties: dict[str, Any] | None = None,
    required: tuple[str, ...] = (),
    parent: str | None = None,
) -> dict[str, Any]:
    """A GTS type schema; with ``parent`` it derives through ``allOf`` + ``$ref``."""
    body: dict[str, Any] = {"type": "object", "properties": properties or {}}
    if required:
        body["required"] = list(required)
    doc: dict[str, Any] = {"$id": f"gts://{type_id}", "$schema": DRAFT7}
    if parent is not None:
        doc["type"] = "object"
        doc["allOf"] = [{"$ref": f"gts://{parent}"}, body]
    else:
        doc.update(body)
    return doc


def order_type() -> dict[str, Any]:
    return type_doc(
        ORDER_T,
        {"id": {"type": "string"}, "total": {"type": "number"}},
        ("id", "total"),
    )


def order(name: str, total: Any = 10) -> dict[str, Any]:
    return {"id": f"{ORDER_T}acme.shop.orders.{name}.v1", "total": total}


def contract_type() -> dict[str, Any]:
    return type_doc(
        CONTRACT_T,
        {
            "properties": {
                "type": "object",
                "properties": {"index": {"type": "string"}},
                "required": ["index"],
            }
        },
        parent=PLUGIN_BASE_TYPE_ID,
    )


def plugin(name: str, vendor: str = "acme", priority: int = 10) -> dict[str, Any]:
    return {
        "id": f"{CONTRACT_T}{vendor}.search.{name}.plugin.v1",
        "vendor": vendor,
        "priority": priority,
        "properties": {"index": name},
    }
