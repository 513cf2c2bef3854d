"""In-memory store of GTS entities (spec §9.3) and the operations that need more than one entity.

Why a store in the pure layer: validation, relationship resolution, compatibility and casting
all resolve type ids to schemas, and a single object that owns "id -> document" plus the
compiled-validator cache keeps those answers consistent (re-registering a schema drops every
compiled validator that bundled it). The persistent registry (layer 2) uses the same checks.

Registration is lenient by default and strict with ``validate=True``:
- always: the document must carry an id; schema documents must pass the always-on document rules
  (boolean, non-conflicting ``x-gts-final``/``x-gts-abstract``; well-formed ``x-gts-ref``);
- strict: the ``$id``/``$ref`` rules, referenced types registered, derivation (OP#12/13) for
  schemas; a known, concrete type and a passing OP#6 validation for instances.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from plugway.gts._attr import AttrResult, resolve_attr
from plugway.gts._cast import CastResult, cast_instance
from plugway.gts._chain import check_no_final_ancestor
from plugway.gts._compat import CompatibilityReport, check_compatibility
from plugway.gts._derivation import validate_type_derivation
from plugway.gts._errors import (
    GtsError,
    GtsIdError,
    GtsNotFoundError,
    GtsSchemaError,
    GtsValidationError,
)
from plugway.gts._extract import extract_id
from plugway.gts._ids import GtsId
from plugway.gts._query import GtsQuery
from plugway.gts._refs import (
    check_document_depth,
    check_instance_document,
    check_schema_document,
    collect_gts_refs,
)
from plugway.gts._relations import RelationshipGraph, resolve_relationships
from plugway.gts._schema import InstanceValidatorCache, validate_instance
from plugway.gts._traits import check_entity_traits

__all__ = ["EntityValidation", "GtsEntity", "GtsStore"]

EntityType = Literal["schema", "instance"]


@dataclass(frozen=True, slots=True)
class GtsEntity:
    """A stored document with what extraction (OP#2) found in it."""

    gts_id: str
    is_type: bool
    #: Instance: its (rightmost) type. Derived type: its parent type. Base type: None.
    type_id: str | None
    content: dict[str, Any]
    #: Field of an instance that named its type (``"type"``, ``"id"`` for chained ids...).
    type_field: str | None = None


@dataclass(frozen=True, slots=True)
class EntityValidation:
    """Outcome of ``validate_entity``: which kind of entity it was and why it failed."""

    gts_id: str
    ok: bool
    entity_type: EntityType
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.gts_id,
            "ok": self.ok,
            "entity_type": self.entity_type,
            "error": self.error,
        }


def _label(doc: Mapping[str, Any]) -> str:
    for key in ("$id", "id"):
        value = doc.get(key)
        if isinstance(value, str) and value:
            return f"document {value[:120]}"
    return "document"


class GtsStore:
    """In-memory GTS entity store; not thread-safe (wrap it if you share it between threads)."""

    def __init__(self, *, validator_cache_size: int = 4096) -> None:
        self._entities: dict[str, GtsEntity] = {}
        self._validators = InstanceValidatorCache(maxsize=validator_cache_size)

    # ---------------------------------------------------------------- lookups

    def __len__(self) -> int:
        return len(self._entities)

    def __contains__(self, gts_id: object) -> bool:
        return gts_id in self._entities

    def ids(self) -> Iterable[str]:
        return tuple(self._entities)

    def entities(self) -> Iterator[GtsEntity]:
        return iter(tuple(self._entities.values()))

    def entity(self, gts_id: str) -> GtsEntity | None:
        """The stored entity itself (no copy): treat its ``content`` as read-only."""
        return self._entities.get(gts_id)

    def get(self, gts_id: str) -> dict[str, Any] | None:
        """A copy of the stored document (callers cannot corrupt the store through it)."""
        entity = self._entities.get(gts_id)
        return copy.deepcopy(entity.content) if entity is not None else None

    def schema(self, type_id: str) -> Mapping[str, Any] | None:
        """The schema registered under ``type_id`` (canonical, ``gts://`` tolerated) or None."""
        if type_id.startswith("gts://"):
            type_id = type_id[6:]
        entity = self._entities.get(type_id)
        return entity.content if entity is not None and entity.is_type else None

    # ---------------------------------------------------------------- registration

    def register(self, doc: Mapping[str, Any], *, validate: bool = False) -> str:
        """Store ``doc`` (a schema or an instance) and return its id; replaces an earlier one."""
        entity = self._prepare(doc, validate=validate)
        self._put(entity)
        return entity.gts_id

    def register_type_schema(self, type_id: str, schema: Mapping[str, Any]) -> str:
        """Store ``schema`` under ``type_id``; its ``$id`` must agree when present."""
        gid = GtsId.parse(type_id.removeprefix("gts://"))
        if not gid.is_type:
            raise GtsIdError(f"{type_id} is not a type id (it must end with '~')", gts_id=type_id)
        if not isinstance(schema, Mapping):
            raise GtsSchemaError(f"type schema for {gid.text} must be a JSON object")
        declared = schema.get("$id")
        if declared is not None and str(declared).removeprefix("gts://") != gid.text:
            raise GtsSchemaError(f"type schema $id {declared!r} does not match type id {gid.text}")
        body = dict(schema)
        body["$id"] = "gts://" + gid.text
        body.setdefault("$schema", "http://json-schema.org/draft-07/schema#")
        return self.register(body)

    def remove(self, gts_id: str) -> None:
        entity = self._entities.pop(gts_id, None)
        if entity is None:
            raise GtsNotFoundError(f"entity {gts_id} is not registered")
        if entity.is_type:
            self._validators.invalidate(gts_id)

    def clear(self) -> None:
        self._entities.clear()
        self._validators.clear()

    def _put(self, entity: GtsEntity) -> None:
        previous = self._entities.get(entity.gts_id)
        self._entities[entity.gts_id] = entity
        if entity.is_type or (previous is not None and previous.is_type):
            self._validators.invalidate(entity.gts_id)

    def _prepare(self, doc: Mapping[str, Any], *, validate: bool) -> GtsEntity:
        if not isinstance(doc, Mapping):
            raise GtsValidationError(f"an entity must be a JSON object, got {type(doc).__name__}")
        # Depth first (iteratively): copying or walking a hostile document must not recurse
        # until the stack breaks; a cyclic document is refused the same way.
        check_document_depth(doc, label=_label(doc))
        ext = extract_id(doc)
        content = copy.deepcopy(dict(doc))
        if ext.is_type:
            return self._prepare_schema(content, ext.id, validate=validate)
        if not ext.id:
            raise GtsValidationError(
                "instance has no id: none of the id fields (id, gtsId, gts_id, ...) holds a value"
            )
        entity = GtsEntity(
            gts_id=ext.id,
            is_type=False,
            type_id=ext.type_id,
            content=content,
            type_field=ext.selected_type_id_field,
        )
        if validate:
            check_instance_document(content)
            if entity.type_id is None:
                raise GtsValidationError(
                    f"instance {entity.gts_id} has no GTS type: its id is not a chained GTS id"
                    " and no type field (type, gtsType, gts_type, ...) names a type"
                )
            validate_instance(content, entity.type_id, self._resolve, self._validators)
        return entity

    def _prepare_schema(
        self, content: dict[str, Any], gts_id: str | None, *, validate: bool
    ) -> GtsEntity:
        check_schema_document(content, strict=validate)
        if not gts_id:
            raise GtsSchemaError("schema has no $id, so it cannot be registered")
        try:
            gid = GtsId.parse(gts_id)
        except GtsIdError as exc:
            raise GtsSchemaError(f"schema $id {gts_id!r} is not a GTS type id: {exc}") from exc
        if not gid.is_type:
            raise GtsSchemaError(f"schema $id {gts_id} is not a type id (it must end with '~')")
        entity = GtsEntity(gts_id=gid.text, is_type=True, type_id=gid.type_id, content=content)
        if validate:
            self._check_schema_links(entity)
        return entity

    def _check_schema_links(self, entity: GtsEntity) -> None:
        """Strict registration: referenced types registered, no final parent, derivation ok."""

        def overlay(type_id: str) -> Mapping[str, Any] | None:
            return entity.content if type_id == entity.gts_id else self.schema(type_id)

        wanted = set(collect_gts_refs(entity.content))
        if entity.type_id:
            wanted.add(entity.type_id)
        wanted.discard(entity.gts_id)
        missing = sorted(t for t in wanted if self.schema(t) is None)
        if missing:
            raise GtsNotFoundError(
                f"schema {entity.gts_id} references unregistered type(s): {', '.join(missing)}"
            )
        check_no_final_ancestor(entity.gts_id, overlay)
        validate_type_derivation(entity.gts_id, overlay)

    # ---------------------------------------------------------------- validation

    def _resolve(self, type_id: str) -> Mapping[str, Any] | None:
        entity = self._entities.get(type_id)
        return entity.content if entity is not None and entity.is_type else None

    def _instance(self, instance_id: str) -> GtsEntity:
        entity = self._entities.get(instance_id)
        if entity is None:
            raise GtsNotFoundError(f"instance {instance_id} is not registered")
        if entity.is_type:
            raise GtsValidationError(f"{instance_id} is a type schema; it must be an instance")
        return entity

    def validate_instance(self, instance_id: str) -> None:
        """OP#6 on a stored instance; raises GtsValidationError (GtsNotFoundError if unknown)."""
        entity = self._instance(instance_id)
        check_instance_document(entity.content)
        if entity.type_id is None:
            raise GtsValidationError(f"instance {instance_id} has no GTS type to validate against")
        validate_instance(entity.content, entity.type_id, self._resolve, self._validators)

    def validate_instance_document(self, doc: Mapping[str, Any], type_id: str) -> None:
        """OP#6 on a document that need not be stored; the compiled validator is cached."""
        validate_instance(doc, type_id, self._resolve, self._validators)

    def validate_type_schema(self, type_id: str) -> None:
        """OP#12 + OP#13 + ``x-gts-final`` over the whole chain of ``type_id``."""
        entity = self._entities.get(type_id)
        if entity is None:
            raise GtsNotFoundError(f"type schema {type_id} is not registered")
        if not entity.is_type:
            raise GtsValidationError(f"{type_id} is an instance, not a type schema")
        validate_type_derivation(type_id, self._resolve)

    def validate_entity(self, gts_id: str) -> EntityValidation:
        """Validate whatever ``gts_id`` names; never raises on bad input, reports instead."""
        entity = self._entities.get(gts_id)
        kind: EntityType
        if entity is not None:
            kind = "schema" if entity.is_type else "instance"
        else:
            kind = "schema" if gts_id.endswith("~") else "instance"
        try:
            if entity is None:
                raise GtsNotFoundError(f"entity {gts_id} is not registered")
            if entity.is_type:
                validate_type_derivation(gts_id, self._resolve)
                check_entity_traits(gts_id, self._resolve)
            else:
                self.validate_instance(gts_id)
        except GtsError as exc:
            return EntityValidation(gts_id, False, kind, str(exc))
        return EntityValidation(gts_id, True, kind)

    # ---------------------------------------------------------------- OP#7 - OP#11

    def relationships(self, gts_id: str) -> RelationshipGraph:
        """OP#7 as a value: every entity reachable from ``gts_id`` and each broken edge."""
        return resolve_relationships(gts_id, self._entities.get)

    def resolve_relationships(self, gts_id: str) -> dict[str, Any]:
        return self.relationships(gts_id).to_dict()

    def compatibility(self, old_type_id: str, new_type_id: str) -> CompatibilityReport:
        return check_compatibility(old_type_id, new_type_id, self._resolve)

    def cast_details(self, instance_id: str, to_type_id: str) -> CastResult:
        """OP#9 with what changed; raises GtsError naming the ids on refusal."""
        entity = self._entities.get(instance_id)
        if entity is None:
            raise GtsNotFoundError(f"instance {instance_id} is not registered")
        if entity.is_type:
            raise GtsValidationError(
                f"cannot cast {instance_id}: it is a type schema; the source must be an instance"
            )
        return cast_instance(
            instance_id,
            entity.content,
            entity.type_id,
            to_type_id,
            self._resolve,
            type_field=entity.type_field,
        )

    def cast(self, instance_id: str, to_type_id: str) -> dict[str, Any]:
        return self.cast_details(instance_id, to_type_id).casted_entity

    def query(self, expr: str, limit: int = 100) -> list[dict[str, Any]]:
        """OP#10: documents whose id matches ``expr`` and its filters, at most ``limit``."""
        query = GtsQuery.parse(expr)
        out: list[dict[str, Any]] = []
        if limit <= 0:
            return out
        for entity in tuple(self._entities.values()):
            if query.matches_entity(entity.gts_id, entity.content):
                out.append(copy.deepcopy(entity.content))
                if len(out) >= limit:
                    break
        return out

    def attr(self, gts_with_path: str) -> AttrResult:
        """OP#11: one value from a stored entity, addressed as ``<id>@<path>``."""
        return resolve_attr(gts_with_path, self._content)

    def _content(self, gts_id: str) -> Mapping[str, Any] | None:
        entity = self._entities.get(gts_id)
        return entity.content if entity is not None else None
