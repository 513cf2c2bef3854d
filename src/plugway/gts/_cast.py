"""OP#9: move an instance between minor versions of its type.

Casting never guesses: it only adds what the target schema defines a ``default`` for (up-cast)
and only removes what the target schema does not allow (down-cast into a closed model). The
instance's type field is re-pointed at the target type. Schemas are not cast, and a major version
change is breaking by definition, so both are refused.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from plugway.gts._compat import same_type_family
from plugway.gts._errors import GtsError, GtsIdError, GtsNotFoundError, GtsValidationError
from plugway.gts._extract import TYPE_ID_FIELDS
from plugway.gts._ids import GtsId
from plugway.gts._refs import SchemaResolver
from plugway.gts._subschema import MAX_WALK_DEPTH, effective_schema

__all__ = ["CastResult", "cast_instance"]

Direction = Literal["up", "down", "none"]


@dataclass(frozen=True, slots=True)
class CastResult:
    """The cast document and what changed, as dotted paths from the instance root."""

    instance_id: str
    from_type_id: str
    to_type_id: str
    direction: Direction
    casted_entity: dict[str, Any]
    added_properties: tuple[str, ...] = field(default=())
    removed_properties: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "from_type_id": self.from_type_id,
            "to_type_id": self.to_type_id,
            "direction": self.direction,
            "added_properties": list(self.added_properties),
            "removed_properties": list(self.removed_properties),
            "casted_entity": self.casted_entity,
            "error": "",
        }


def cast_instance(
    instance_id: str,
    instance: Mapping[str, Any],
    from_type_id: str | None,
    to_type_id: str,
    resolve: SchemaResolver,
    *,
    type_field: str | None = None,
) -> CastResult:
    """Cast ``instance`` (whose type is ``from_type_id``) to ``to_type_id``.

    ``type_field`` names the field that carries the type id, if any; it is re-pointed at the
    target. Raises GtsValidationError / GtsNotFoundError / GtsIdError naming the ids involved.
    """
    if "$schema" in instance:
        raise GtsValidationError(
            f"cannot cast {instance_id}: it is a type schema; the source must be an instance"
        )
    if from_type_id is None:
        raise GtsValidationError(f"cannot cast {instance_id}: its type is unknown")
    target = GtsId.parse(to_type_id)
    if not target.is_type:
        raise GtsIdError(f"cast target {to_type_id} is not a type id (it must end with '~')")
    if not same_type_family(from_type_id, to_type_id):
        raise GtsValidationError(
            f"cannot cast {instance_id} from {from_type_id} to {to_type_id}: only minor versions"
            " of the same type and major version can be cast"
        )
    target_doc = resolve(to_type_id)
    if target_doc is None:
        raise GtsNotFoundError(f"cast target type schema {to_type_id} is not registered")
    schema = effective_schema(target_doc, resolve)
    casted = copy.deepcopy(dict(instance))
    added: list[str] = []
    removed: list[str] = []
    _apply(casted, schema, "", added, removed, 0)
    # Re-point every top-level type field that names the source type (a chained id field
    # keeps its identity: the instance is the same entity, now read through another minor).
    for name in {*TYPE_ID_FIELDS, *((type_field,) if type_field else ())}:
        if casted.get(name) == from_type_id and name not in ("id", "gtsId", "gts_id"):
            casted[name] = to_type_id
    return CastResult(
        instance_id=instance_id,
        from_type_id=from_type_id,
        to_type_id=to_type_id,
        direction=_direction(from_type_id, to_type_id),
        casted_entity=casted,
        added_properties=tuple(added),
        removed_properties=tuple(removed),
    )


def _apply(
    node: Any, schema: Any, path: str, added: list[str], removed: list[str], depth: int
) -> None:
    if depth > MAX_WALK_DEPTH:
        raise GtsValidationError(f"instance is nested too deeply at {path or '$'}")
    if not isinstance(schema, Mapping):
        return
    if isinstance(node, dict):
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        if schema.get("additionalProperties") is False:
            patterns = schema.get("patternProperties")
            for name in [k for k in node if k not in props]:
                if isinstance(patterns, Mapping) and patterns:
                    continue
                del node[name]
                removed.append(_join(path, name))
        for name, sub in props.items():
            if name in node:
                _apply(node[name], sub, _join(path, name), added, removed, depth + 1)
            elif isinstance(sub, Mapping) and "default" in sub:
                node[name] = copy.deepcopy(sub["default"])
                added.append(_join(path, name))
    elif isinstance(node, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(node):
                _apply(item, items, f"{path}[{i}]", added, removed, depth + 1)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _direction(from_type_id: str, to_type_id: str) -> Direction:
    try:
        a = GtsId.parse(from_type_id).segments
        b = GtsId.parse(to_type_id).segments
    except GtsError:  # pragma: no cover - both ids were parsed by the caller already
        return "none"
    for sa, sb in zip(a, b, strict=False):
        ma, mb = sa.ver_minor or 0, sb.ver_minor or 0
        if ma != mb:
            return "up" if mb > ma else "down"
    return "none"
