"""Effective schemas and structural inclusion: "is every document valid under A valid under B?"

An *effective* schema has ``allOf`` and ``gts://`` references inlined, so a comparison sees one
flat object per level; :func:`is_subschema` then answers the question keyword by keyword, with
no instance sampling, and says where and why the answer is no. OP#8 (:mod:`._compat`) asks it
in both directions; casting (:mod:`._cast`) walks effective schemas too.

Two deliberate departures from plain set semantics follow the spec's rules table (and the
conformance suite): enum changes are judged the way the table lists them (removing a value is
backward compatible, adding one is forward compatible), and a property that only one side
declares is tolerated when the other side's content model is open.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from plugway.gts._effective import (
    MAX_SCHEMA_NODES,
    GtsSchemaBudgetError,
    SchemaBudget,
    SchemaInliner,
)
from plugway.gts._errors import GtsError
from plugway.gts._ids import GtsId
from plugway.gts._refs import SchemaResolver, canonical_json

__all__ = [
    "MAX_SCHEMA_NODES",
    "MAX_WALK_DEPTH",
    "effective_schema",
    "is_subschema",
    "minorless_key",
]

#: Nesting depth above which a walk over effective schemas stops descending (no stack
#: exhaustion); deeper than one document's own limit, as inlining nests documents.
MAX_WALK_DEPTH = 64


_GTS_URI = "gts://"
# Keywords that say nothing about which documents are valid.
_ANNOTATIONS = frozenset(
    {"$id", "$schema", "$comment", "title", "description", "examples", "default", "deprecated"}
)
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")


# --------------------------------------------------------------------------------------------
# effective schema: inline allOf and $ref so that comparisons see one flat object per level


def effective_schema(schema: Mapping[str, Any], resolve: SchemaResolver) -> dict[str, Any]:
    """Return ``schema`` with ``allOf`` merged and ``$ref`` (``gts://`` and local) inlined.

    Raises GtsSchemaError for cyclic or unresolvable references, for over-deep schemas and
    for schemas that expand past ``MAX_SCHEMA_NODES`` subschemas. Parts reached through
    several references are shared: treat the result as read-only.
    """
    root_id = _strip_gts(str(schema.get("$id", "")))
    budget = SchemaBudget(root_id or "<anonymous>")
    inliner = SchemaInliner(resolve, budget, merge=_merge)
    flat = inliner.inline(schema, schema, root_id or None)
    return flat if isinstance(flat, dict) else {}


def _merge(a: Any, b: Any) -> Any:
    """Intersect two schemas the way ``allOf`` does, closely enough for structural comparison."""
    if not isinstance(a, Mapping) or not a:
        return dict(b) if isinstance(b, Mapping) else b
    if not isinstance(b, Mapping):
        return b if b is False else dict(a)
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
            continue
        old = out[key]
        if key == "properties" and isinstance(old, Mapping) and isinstance(value, Mapping):
            props = dict(old)
            for name, sub in value.items():
                props[name] = _merge(props[name], sub) if name in props else sub
            out[key] = props
        elif key == "required" and isinstance(old, list) and isinstance(value, list):
            out[key] = old + [r for r in value if r not in old]
        elif key == "additionalProperties":
            out[key] = False if (old is False or value is False) else _merge(old, value)
        elif key in _UPPER_BOUNDS and _is_number(old) and _is_number(value):
            out[key] = min(old, value)
        elif key in _LOWER_BOUNDS and _is_number(old) and _is_number(value):
            out[key] = max(old, value)
        elif key == "enum" and isinstance(old, list) and isinstance(value, list):
            kept = {_value_key(v) for v in value}
            out[key] = [v for v in old if _value_key(v) in kept]
        elif key == "type":
            out[key] = _merge_types(old, value)
        elif key in ("items", "not", "contains"):
            out[key] = _merge(old, value)
        else:
            out[key] = value
    return out


def _merge_types(a: Any, b: Any) -> Any:
    sa, sb = _type_set(a), _type_set(b)
    if sa is None or sb is None:
        return b if sa is None else a
    both = {t for t in sa if _type_within(t, sb)} | {t for t in sb if _type_within(t, sa)}
    if len(both) == 1:
        return next(iter(both))
    return sorted(both) if both else b


# --------------------------------------------------------------------------------------------
# structural inclusion


def is_subschema(a: Any, b: Any) -> list[str]:
    """Why a document valid under effective schema ``a`` might be rejected by ``b`` (empty = never).

    Enum rules follow the spec table (see module docstring).
    """
    errors: list[str] = []
    try:
        _subset(a, b, "$", errors, 0, _Walk())
    except GtsSchemaBudgetError:
        errors.append(f"$: schemas too large to compare (more than {MAX_SCHEMA_NODES} steps)")
    return errors


class _Walk:
    """One comparison's budget, and the pairs of parts already found to fit: effective schemas
    share the parts reached through several references, so a pair recurs on many paths."""

    __slots__ = ("budget", "failed", "sound")

    def __init__(self) -> None:
        self.budget = SchemaBudget("comparison")
        # Keyed by identity; the values keep both parts alive so an id is never reused.
        self.sound: dict[tuple[int, int], tuple[Any, Any]] = {}
        # A pair that failed: where, and its errors (each starts with that path).
        self.failed: dict[tuple[int, int], tuple[str, tuple[str, ...], Any, Any]] = {}


def _subset(a: Any, b: Any, path: str, errors: list[str], depth: int, walk: _Walk) -> None:
    pair = (id(a), id(b))
    if pair in walk.sound:
        return
    walk.budget.spend()
    failed = walk.failed.get(pair)
    if failed is not None:  # the same errors again, at this path (each one paid for)
        first_path, found, _a, _b = failed
        walk.budget.spend(len(found))
        errors.extend(path + e[len(first_path) :] for e in found)
        return
    before = len(errors)
    _subset_once(a, b, path, errors, depth, walk)
    if len(errors) == before:
        walk.sound[pair] = (a, b)
    elif all(e.startswith(path) for e in errors[before:]):
        walk.failed[pair] = (path, tuple(errors[before:]), a, b)


def _subset_once(a: Any, b: Any, path: str, errors: list[str], depth: int, walk: _Walk) -> None:
    if depth > MAX_WALK_DEPTH:
        errors.append(f"{path}: schema nested too deeply to compare")
        return
    if b is True or b is None or (isinstance(b, Mapping) and not _constraining(b)):
        return
    if a is False:
        return
    if b is False:
        errors.append(f"{path}: no longer allowed")
        return
    if not isinstance(b, Mapping):
        return
    a_map: Mapping[str, Any] = a if isinstance(a, Mapping) else {}
    if _accepts_nothing(a_map):
        return  # nothing it accepts can be refused

    for key in ("anyOf", "oneOf"):
        if isinstance(a_map.get(key), list) and key not in b:
            for i, branch in enumerate(a_map[key]):
                _subset(
                    _merge(_without(a_map, key), branch),
                    b,
                    f"{path}.{key}[{i}]",
                    errors,
                    depth + 1,
                    walk,
                )
            return
    for key in ("anyOf", "oneOf"):
        if key in b:
            if a_map.get(key) == b[key]:
                continue
            branches = b[key] if isinstance(b[key], list) else []
            if not any(_fits(a_map, br, path, depth + 1, walk) for br in branches):
                errors.append(f"{path}: matches none of the {key} branches")
                return

    _check_type(a_map, b, path, errors)
    _check_values(a_map, b, path, errors)
    _check_bounds(a_map, b, path, errors)
    for key in ("pattern", "format", "multipleOf"):
        if key in b and a_map.get(key) != b[key]:
            errors.append(f"{path}: {key} {b[key]!r} added or changed")
    if b.get("uniqueItems") is True and a_map.get("uniqueItems") is not True:
        errors.append(f"{path}: uniqueItems added")
    ref_b, ref_a = b.get("$ref"), a_map.get("$ref")
    if isinstance(ref_b, str) and not _same_ref(ref_a, ref_b):
        errors.append(f"{path}: $ref changed from {ref_a!r} to {ref_b!r}")
    _check_object(a_map, b, path, errors, depth, walk)
    if "items" in b and isinstance(b["items"], Mapping | bool):
        a_items = a_map.get("items", True)
        if isinstance(a_items, Mapping | bool):
            _subset(a_items, b["items"], f"{path}[]", errors, depth + 1, walk)


def _accepts_nothing(a: Mapping[str, Any]) -> bool:
    enum = a.get("enum")
    if not isinstance(enum, list):
        return False
    return not enum or ("const" in a and not any(_same_value(a["const"], v) for v in enum))


def _fits(a: Any, b: Any, path: str, depth: int, walk: _Walk) -> bool:
    trial: list[str] = []
    _subset(a, b, path, trial, depth, walk)
    return not trial


def _constraining(schema: Mapping[str, Any]) -> bool:
    return any(k not in _ANNOTATIONS and not k.startswith("x-") for k in schema)


def _without(schema: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != key}


def _check_type(a: Mapping[str, Any], b: Mapping[str, Any], path: str, errors: list[str]) -> None:
    tb = _type_set(b.get("type"))
    if tb is None:
        return
    ta = _type_set(a.get("type"))
    if ta is None:
        ta = _implied_types(a)
    if ta is None:
        errors.append(f"{path}: type {sorted(tb)} added")
        return
    lost = sorted(t for t in ta if not _type_within(t, tb))
    if lost:
        errors.append(f"{path}: type changed from {sorted(ta)} to {sorted(tb)}")


def _implied_types(a: Mapping[str, Any]) -> set[str] | None:
    values: list[Any] | None = None
    if "const" in a:
        values = [a["const"]]
    elif isinstance(a.get("enum"), list):
        values = list(a["enum"])
    if values is None:
        return None
    return {_json_type(v) for v in values}


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "integer" if v.is_integer() else "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _type_set(value: Any) -> set[str] | None:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return set(value)
    return None


def _type_within(t: str, allowed: set[str]) -> bool:
    return t in allowed or (t == "integer" and "number" in allowed)


def _check_values(a: Mapping[str, Any], b: Mapping[str, Any], path: str, errors: list[str]) -> None:
    if "const" in b:
        if "const" in a:
            if not _same_value(a["const"], b["const"]):
                errors.append(f"{path}: const changed from {a['const']!r} to {b['const']!r}")
        elif isinstance(a.get("enum"), list):
            if any(not _same_value(v, b["const"]) for v in a["enum"]):
                errors.append(f"{path}: const {b['const']!r} narrows enum {a['enum']!r}")
        else:
            errors.append(f"{path}: const {b['const']!r} added")
    if isinstance(b.get("enum"), list):
        new_values = b["enum"]
        if "const" in a:
            if not any(_same_value(a["const"], v) for v in new_values):
                errors.append(f"{path}: const {a['const']!r} not in enum {new_values!r}")
        elif isinstance(a.get("enum"), list):
            # Spec table: removing enum values is backward compatible, adding them is not.
            old_keys = {_value_key(o) for o in a["enum"]}  # a set: enums may be long
            added = [v for v in new_values if _value_key(v) not in old_keys]
            if added:
                errors.append(f"{path}: enum values {added!r} added")
        else:
            errors.append(f"{path}: enum {new_values!r} added")


def _check_bounds(a: Mapping[str, Any], b: Mapping[str, Any], path: str, errors: list[str]) -> None:
    for keys, looser in ((_UPPER_BOUNDS, float.__gt__), (_LOWER_BOUNDS, float.__lt__)):
        for key in keys:
            limit = _num(b.get(key))
            if limit is None:
                continue
            mine = _num(a.get(key))
            if mine is None or looser(mine, limit):
                errors.append(f"{path}: {key} tightened to {b[key]}")


def _num(v: Any) -> float | None:
    return float(v) if _is_number(v) else None


def _check_object(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    path: str,
    errors: list[str],
    depth: int,
    walk: _Walk,
) -> None:
    a_props = a.get("properties") if isinstance(a.get("properties"), Mapping) else {}
    b_props = b.get("properties") if isinstance(b.get("properties"), Mapping) else {}
    assert isinstance(a_props, Mapping) and isinstance(b_props, Mapping)
    a_closed = a.get("additionalProperties") is False
    b_closed = b.get("additionalProperties") is False
    for name, sub in b_props.items():
        if name in a_props:
            _subset(a_props[name], sub, f"{path}.{name}", errors, depth + 1, walk)
    if b_closed:
        if not a_closed:
            errors.append(f"{path}: content model closed (additionalProperties: false)")
        for name in a_props:
            if name not in b_props:
                errors.append(f"{path}.{name}: property no longer allowed")
    a_req = a.get("required") if isinstance(a.get("required"), list) else []
    b_req = b.get("required") if isinstance(b.get("required"), list) else []
    assert isinstance(a_req, list) and isinstance(b_req, list)
    for name in b_req:
        if name not in a_req:
            errors.append(f"{path}.{name}: now required")


def _is_number(v: Any) -> bool:
    return (
        isinstance(v, int | float)
        and not isinstance(v, bool)
        and not (isinstance(v, float) and math.isnan(v))
    )


def _same_value(a: Any, b: Any) -> bool:
    """Equal, or two GTS ids that differ only in minor versions (a type naming itself)."""
    if a == b and type(a) is type(b):
        return True
    if isinstance(a, str) and isinstance(b, str):
        return minorless_key(a) is not None and minorless_key(a) == minorless_key(b)
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return False


def _value_key(v: Any) -> Any:
    """A hashable key such that ``_value_key(a) == _value_key(b)`` iff ``_same_value(a, b)``
    (for JSON values), so long enums are compared through sets, not pair by pair."""
    if isinstance(v, str):
        minorless = minorless_key(v)
        return ("id", minorless) if minorless is not None else ("str", v)
    if _is_number(v):
        return ("num", v)  # 1 and 1.0 are equal and hash alike
    return ("json", canonical_json(v))


def _same_ref(a: Any, b: str) -> bool:
    if a == b:
        return True
    if isinstance(a, str) and a.startswith(_GTS_URI) and b.startswith(_GTS_URI):
        return _same_value(a[len(_GTS_URI) :], b[len(_GTS_URI) :])
    return False


def _strip_gts(text: str) -> str:
    return text[len(_GTS_URI) :] if text.startswith(_GTS_URI) else text


def minorless_key(text: str) -> tuple[tuple[Any, ...], ...] | None:
    """A GTS id without its minor versions (None for text that is no id): ids of one type
    family share it, so an enum or const naming ``v1.0`` accepts ``v1.1`` as the same value."""
    try:
        gid = GtsId.parse(text)
    except GtsError:
        return None
    parts = [
        (s.vendor, s.package, s.namespace, s.type, s.ver_major, s.is_type) for s in gid.segments
    ]
    return (*parts, (gid.uuid_tail,))
