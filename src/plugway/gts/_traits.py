"""OP#13: type traits — ``x-gts-traits-schema`` and ``x-gts-traits`` along a chain.

Traits are type-level metadata (retention, topic, processing hints), not instance fields.
Ancestors declare trait schemas, descendants give values. Along ``S0 -> ... -> Sn``:

- the effective trait schema is the conjunction of every trait schema in the chain;
- a default, once declared for a trait, may not be changed further down;
- a trait schema closed with ``additionalProperties: false`` cannot gain properties below;
- a value, once given, is fixed for descendants — unless the level that gives it also
  declares that trait in its own trait schema (it then narrows the trait and picks a value,
  and descendants may pick again within the narrowed schema);
- missing values are filled from defaults and the result must satisfy the effective schema;
- a concrete (non-abstract) type must end up with a value for every declared trait.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plugway.gts._effective import SchemaBudget, SchemaInliner
from plugway.gts._errors import GtsError, GtsValidationError
from plugway.gts._refs import (
    MAX_SCHEMA_DEPTH,
    SchemaResolver,
    canonical_json,
    is_abstract,
)

__all__ = [
    "EffectiveTraits",
    "check_entity_traits",
    "effective_traits",
    "validate_traits",
]


@dataclass(frozen=True, slots=True)
class EffectiveTraits:
    """The merged traits of a type: its trait schemas (resolved) and its values."""

    type_id: str
    schemas: tuple[Mapping[str, Any], ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    #: Trait name -> schema, over every trait schema of the chain.
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def schema(self) -> dict[str, Any] | None:
        """The effective trait schema (``allOf`` of the chain's trait schemas), or None."""
        return {"allOf": list(self.schemas)} if self.schemas else None


@dataclass(slots=True)
class _Level:
    type_id: str
    doc: Mapping[str, Any]
    raw_schemas: list[Any]
    schemas: list[Mapping[str, Any]]
    values: dict[str, Any]


_canon = canonical_json


def _collect(
    node: Mapping[str, Any], schemas: list[Any], values: list[Any], depth: int, type_id: str
) -> None:
    """Trait keywords at the top level and inside (non-``$ref``) ``allOf`` entries."""
    if depth > MAX_SCHEMA_DEPTH:
        raise GtsValidationError(f"{type_id}: allOf nests deeper than {MAX_SCHEMA_DEPTH} levels")
    if "x-gts-traits-schema" in node:
        schemas.append(node["x-gts-traits-schema"])
    if "x-gts-traits" in node:
        values.append(node["x-gts-traits"])
    entries = node.get("allOf")
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, Mapping) and "$ref" not in entry:
                _collect(entry, schemas, values, depth + 1, type_id)


def _resolve_trait_schema(
    raw: Mapping[str, Any],
    doc: Mapping[str, Any],
    owner: str,
    budget: SchemaBudget,
    resolver: SchemaResolver,
) -> Any:
    """``raw`` with its ``$ref``s inlined; a ``gts://`` schema may be used only once in it."""
    inliner = SchemaInliner(resolver, budget, keep=_not_id)
    try:
        resolved = inliner.inline(raw, doc, owner)
    except GtsError as exc:
        raise GtsValidationError(f"{owner}: trait schema: {exc}") from None
    repeated = sorted(target for target, count in inliner.uses.items() if count > 1)
    if repeated:
        raise GtsValidationError(
            f"{owner}: trait schema reaches {repeated[0]} more than once through $ref "
            "(cyclic or repeated reference)"
        )
    return resolved


def _not_id(key: str) -> bool:
    return key not in ("$id", "$schema")


def _properties(schema: Any, out: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Trait name -> schema, from ``properties`` of the schema and of its ``allOf`` parts."""
    if not isinstance(schema, Mapping) or depth > MAX_SCHEMA_DEPTH:
        return out
    props = schema.get("properties")
    if isinstance(props, Mapping):
        for name, sub in props.items():
            out.setdefault(name, sub)
    entries = schema.get("allOf")
    if isinstance(entries, list):
        for entry in entries:
            _properties(entry, out, depth + 1)
    return out


def _has_trait_values(schema: Any, depth: int = 0) -> bool:
    if not isinstance(schema, Mapping) or depth > MAX_SCHEMA_DEPTH:
        return False
    if "x-gts-traits" in schema:
        return True
    return any(
        _has_trait_values(v, depth + 1) for v in schema.values() if isinstance(v, Mapping)
    ) or any(
        _has_trait_values(item, depth + 1)
        for v in schema.values()
        if isinstance(v, list)
        for item in v
    )


def _levels(type_id: str, resolver: SchemaResolver) -> list[_Level]:
    from plugway.gts._chain import type_chain

    levels: list[_Level] = []
    budget = SchemaBudget(type_id)
    for t in type_chain(type_id):
        doc = resolver(t)
        if not isinstance(doc, Mapping):
            raise GtsValidationError(
                f"type schema {t} (in the chain of {type_id}) is not registered"
            )
        raw_schemas: list[Any] = []
        raw_values: list[Any] = []
        _collect(doc, raw_schemas, raw_values, 0, t)
        schemas: list[Mapping[str, Any]] = []
        for raw in raw_schemas:
            if not isinstance(raw, Mapping):
                raise GtsValidationError(f"{t}: x-gts-traits-schema must be an object schema")
            if _has_trait_values(raw):
                raise GtsValidationError(
                    f"{t}: x-gts-traits-schema contains x-gts-traits; trait values do not "
                    "belong inside a trait schema"
                )
            resolved = _resolve_trait_schema(raw, doc, t, budget, resolver)
            if not isinstance(resolved, Mapping) or resolved.get("type", "object") != "object":
                kind = resolved.get("type") if isinstance(resolved, Mapping) else resolved
                raise GtsValidationError(
                    f"{t}: x-gts-traits-schema must describe an object, not {_canon(kind)}"
                )
            schemas.append(resolved)
        values: dict[str, Any] = {}
        for raw in raw_values:
            if not isinstance(raw, Mapping):
                raise GtsValidationError(f"{t}: x-gts-traits must be an object of trait values")
            values.update(raw)
        levels.append(_Level(t, doc, raw_schemas, schemas, values))
    return levels


def _merge_levels(type_id: str, levels: list[_Level]) -> EffectiveTraits:
    defaults: dict[str, Any] = {}
    closed: list[tuple[str, frozenset[str]]] = []
    all_props: dict[str, Any] = {}
    values: dict[str, Any] = {}
    fixed: set[str] = set()
    schemas: list[Mapping[str, Any]] = []
    for level in levels:
        level_props: dict[str, Any] = {}
        for ts in level.schemas:
            props = _properties(ts, {})
            for name, sub in props.items():
                level_props.setdefault(name, sub)
                if isinstance(sub, Mapping) and "default" in sub:
                    old = defaults.get(name, sub["default"])
                    if _canon(old) != _canon(sub["default"]):
                        raise GtsValidationError(
                            f"{type_id}: {level.type_id} changes the default of trait {name!r} "
                            f"from {_canon(old)} to {_canon(sub['default'])}"
                        )
                    defaults[name] = sub["default"]
                for owner, allowed in closed:
                    if name not in allowed:
                        raise GtsValidationError(
                            f"{type_id}: {level.type_id} adds trait {name!r}, but the trait "
                            f"schema of {owner} is closed (additionalProperties: false)"
                        )
        for ts in level.schemas:
            if ts.get("additionalProperties") is False:
                closed.append((level.type_id, frozenset(_properties(ts, {}))))
        for name, sub in level_props.items():
            all_props.setdefault(name, sub)
        schemas.extend(level.schemas)
        for name, value in level.values.items():
            if name in fixed and _canon(values[name]) != _canon(value):
                raise GtsValidationError(
                    f"{type_id}: {level.type_id} overrides trait {name!r} = "
                    f"{_canon(values[name])} set by an ancestor with {_canon(value)}"
                )
            values[name] = value
        fixed.update(name for name in level.values if name not in level_props)
    has_values = any(level.values for level in levels)
    if has_values and not schemas:
        raise GtsValidationError(
            f"{type_id}: x-gts-traits are given but no x-gts-traits-schema is declared in its chain"
        )
    effective = dict(values)
    for name, default in defaults.items():
        effective.setdefault(name, default)
    return EffectiveTraits(type_id, tuple(schemas), effective, all_props)


def effective_traits(type_id: str, resolver: SchemaResolver) -> EffectiveTraits:
    """The merged trait schemas and values of ``type_id``; raises ``GtsValidationError``."""
    return _merge_levels(type_id, _levels(type_id, resolver))


def _without_required(schema: Any, depth: int = 0) -> Any:
    if not isinstance(schema, Mapping) or depth > MAX_SCHEMA_DEPTH:
        return schema
    out = {k: v for k, v in schema.items() if k != "required"}
    if isinstance(out.get("allOf"), list):
        out["allOf"] = [_without_required(e, depth + 1) for e in out["allOf"]]
    return out


def validate_traits(type_id: str, resolver: SchemaResolver) -> None:
    """OP#13: raise ``GtsValidationError`` unless the traits of ``type_id`` are sound.

    Abstract types may leave traits unresolved; every other type must resolve them all.
    """
    from plugway.gts._schema import compile_fragments

    levels = _levels(type_id, resolver)
    traits = _merge_levels(type_id, levels)
    if not traits.schemas:
        return
    abstract = is_abstract(levels[-1].doc)
    parts: list[tuple[Any, Mapping[str, Any], str | None]] = []
    for level in levels:
        for raw in level.raw_schemas:
            parts.append((_without_required(raw) if abstract else raw, level.doc, level.type_id))
    validator = compile_fragments(parts, resolver, label=f"trait schema of {type_id}")
    try:
        validator.validate(dict(traits.values))
    except GtsValidationError as exc:
        text = str(exc).replace(f"instance of trait schema of {type_id} is invalid", "", 1)
        raise GtsValidationError(f"{type_id}: trait values are invalid{text}") from None
    if not abstract:
        missing = sorted(name for name in traits.properties if name not in traits.values)
        if missing:
            raise GtsValidationError(
                f"{type_id}: trait(s) {', '.join(missing)} have neither a value nor a default "
                "(only abstract types may leave traits unresolved)"
            )


def check_entity_traits(type_id: str, resolver: SchemaResolver) -> None:
    """Extra trait rules applied when a type is validated as an entity (/validate-entity).

    If the chain declares a trait schema, some schema of the chain must give trait values,
    and every trait schema must be closed (``additionalProperties: false``) so that the
    values form a complete, self-contained description of the type.
    """
    levels = _levels(type_id, resolver)
    if not any(level.schemas for level in levels):
        return
    if not any(level.values for level in levels):
        raise GtsValidationError(
            f"{type_id}: declares x-gts-traits-schema but no schema of its chain gives "
            "x-gts-traits values"
        )
    for level in levels:
        for ts in level.schemas:
            if ts.get("additionalProperties") is not False:
                raise GtsValidationError(
                    f"{type_id}: the trait schema of {level.type_id} must be closed "
                    "(additionalProperties: false) to validate the type as an entity"
                )
