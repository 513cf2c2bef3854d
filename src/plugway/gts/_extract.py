"""OP#2: find the GTS id and type id of a JSON document.

Why: every document entering a store or registry must be keyed and typed the same way,
by one set of rules (spec §9.1, §11, and the conformance tests where they are sharper):

- a document is a schema iff it has a top-level ``$schema`` (checked before any id
  heuristics); its id is ``$id`` without the ``gts://`` scheme and its type id is the
  parent in the ``$id`` chain (None for a base type or a non-GTS schema);
- an instance's id is taken from the first id field holding a valid GTS id, else from the
  first id field present (an anonymous or non-GTS id);
- a chained instance id always carries the type (everything through the last ``~``) and
  wins over an explicit type field; otherwise the first type field holding a GTS type id
  is used. The ``$schema`` dialect URL is never a type id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import GtsError
from ._ids import GTS_URI_PREFIX, GtsId, is_valid_gts_id

__all__ = [
    "ENTITY_ID_FIELDS",
    "TYPE_ID_FIELDS",
    "GtsExtraction",
    "extract_id",
    "strip_gts_uri",
]

#: Instance id fields, in priority order.
ENTITY_ID_FIELDS: tuple[str, ...] = (
    "$id",
    "gtsId",
    "gtsIid",
    "gtsOid",
    "gtsI",
    "gts_id",
    "gts_oid",
    "gts_iid",
    "id",
)
#: Instance type fields, in priority order (``schema`` is a tolerated legacy name).
TYPE_ID_FIELDS: tuple[str, ...] = (
    "gtsTid",
    "gtsType",
    "gtsT",
    "gts_t",
    "gts_tid",
    "gts_type",
    "type",
    "schema",
)


@dataclass(frozen=True, slots=True)
class GtsExtraction:
    """What OP#2 found in a document."""

    #: Canonical id (``gts://`` stripped), a non-GTS id as written, or None.
    id: str | None
    #: The GTS type id of the document (a type id ending in ``~``), or None.
    type_id: str | None
    selected_entity_field: str | None
    selected_type_id_field: str | None
    #: True for schemas (a top-level ``$schema``), False for instances.
    is_type: bool
    #: The parsed id when ``id`` is a valid GTS id, else None.
    gts_id: GtsId | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type_id": self.type_id,
            "selected_entity_field": self.selected_entity_field,
            "selected_type_id_field": self.selected_type_id_field,
            "is_type": self.is_type,
        }


def strip_gts_uri(value: str) -> str:
    """``gts://gts.a.b.c.d.v1~`` -> ``gts.a.b.c.d.v1~``; other text unchanged."""
    return value[len(GTS_URI_PREFIX) :] if value.startswith(GTS_URI_PREFIX) else value


def extract_id(doc: Mapping[str, Any]) -> GtsExtraction:
    """OP#2 on one document; raises ``GtsError`` only when ``doc`` is not an object."""
    if not isinstance(doc, Mapping):
        raise GtsError(f"OP#2 needs a JSON object, got {type(doc).__name__}")
    if "$schema" in doc:
        return _extract_schema(doc)
    return _extract_instance(doc)


def _extract_schema(doc: Mapping[str, Any]) -> GtsExtraction:
    raw = doc.get("$id")
    if not isinstance(raw, str):
        return GtsExtraction(None, None, None, None, True)
    text = strip_gts_uri(raw)
    if not is_valid_gts_id(text):
        return GtsExtraction(text, None, "$id", None, True)
    gid = GtsId.parse(text)
    parent = gid.type_id
    return GtsExtraction(text, parent, "$id", "$id" if parent else None, True, gid)


def _extract_instance(doc: Mapping[str, Any]) -> GtsExtraction:
    first: tuple[str, str] | None = None
    chosen: tuple[str, GtsId] | None = None
    for key in ENTITY_ID_FIELDS:
        raw = doc.get(key)
        if not isinstance(raw, str) or not raw:
            continue
        text = strip_gts_uri(raw)
        if first is None:
            first = (key, text)
        if is_valid_gts_id(text):
            chosen = (key, GtsId.parse(text))
            break
    if chosen is not None:
        key, gid = chosen
        if not gid.is_type:  # a chained instance id names its own type
            return GtsExtraction(gid.text, gid.type_id, key, key, False, gid)
        type_field, type_id = _type_field(doc)
        return GtsExtraction(gid.text, type_id, key, type_field, False, gid)
    type_field, type_id = _type_field(doc)
    if first is None:
        return GtsExtraction(None, type_id, None, type_field, False)
    return GtsExtraction(first[1], type_id, first[0], type_field, False)


def _type_field(doc: Mapping[str, Any]) -> tuple[str | None, str | None]:
    for key in TYPE_ID_FIELDS:
        raw = doc.get(key)
        if isinstance(raw, str) and raw:
            text = strip_gts_uri(raw)
            if text.endswith("~") and is_valid_gts_id(text):
                return key, text
    return None, None
