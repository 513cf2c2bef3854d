"""What the registry's routes answer: entities, pages, per-item registration results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from plugway.gts import gts_uuid
from plugway.registry import Entity, RegistrationResult
from plugway.server import registry_status

__all__ = [
    "BulkResultOut",
    "EntityOut",
    "EntityPageOut",
    "RemovedOut",
    "entity_to_dict",
    "item_result",
]


class RemovedOut(BaseModel):
    """The answer of a removal."""

    gts_id: str
    removed: bool


class EntityOut(BaseModel):
    """One registered entity as the REST API shows it."""

    gts_id: str
    uuid: str
    kind: Literal["type", "instance"]
    type_id: str | None
    vendor: str
    package: str
    namespace: str
    revision: int
    content: dict[str, Any]


class EntityPageOut(BaseModel):
    items: list[EntityOut]
    next_cursor: str | None


class ItemResultOut(BaseModel):
    """Outcome of one item of a bulk registration; ``status`` is what a single POST would give."""

    index: int
    gts_id: str | None
    ok: bool
    status: int
    created: bool
    code: str | None = None
    error: str | None = None


class SummaryOut(BaseModel):
    total: int
    succeeded: int
    failed: int
    created: int


class BulkResultOut(BaseModel):
    summary: SummaryOut
    results: list[ItemResultOut]


def entity_to_dict(entity: Entity) -> dict[str, Any]:
    """The REST shape of an entity (also used by the CLI and tests to compare)."""
    return {
        "gts_id": entity.gts_id,
        "uuid": str(gts_uuid(entity.gts_id)),
        "kind": "type" if entity.is_type else "instance",
        "type_id": entity.type_id,
        "vendor": entity.vendor,
        "package": entity.package,
        "namespace": entity.namespace,
        "revision": entity.revision,
        "content": dict(entity.content),
    }


def _text(value: str | None) -> str | None:
    """Client text quoted in a result may hold a lone surrogate (no UTF-8 form): escape it."""
    if value is None or value.isascii():
        return value
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def item_result(index: int, result: RegistrationResult) -> dict[str, Any]:
    if result.ok:
        return {
            "index": index,
            "gts_id": result.gts_id,
            "ok": True,
            "status": 201 if result.created else 200,
            "created": result.created,
            "code": None,
            "error": None,
        }
    status, code = registry_status(result.code or "")
    return {
        "index": index,
        "gts_id": _text(result.gts_id),
        "ok": False,
        "status": status,
        "created": False,
        "code": str(code),
        "error": _text(result.error),
    }
