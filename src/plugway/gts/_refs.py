"""Rules for GTS schema documents: ``$id``, ``$ref``, schema-only ``x-gts-*`` keywords.

Why a module of its own: registration, instance validation, derivation and traits all need
the same two things — a schema-aware walk (``const``/``enum``/``default`` hold data, not
subschemas, so a naive deep walk would misread them) and the same verdict on what a
well-formed GTS type schema is. Every walk here is iterative and depth-limited, so a deeply
nested or self-similar document is refused with an error instead of exhausting the stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from plugway.gts._errors import GtsError, GtsSchemaError, GtsValidationError
from plugway.gts._ids import GTS_URI_PREFIX, GtsId, shorten

__all__ = [
    "MAX_DOCUMENT_DEPTH",
    "MAX_ENUM_VALUES",
    "MAX_SCHEMA_DEPTH",
    "MODIFIER_KEYWORDS",
    "SCHEMA_ONLY_KEYWORDS",
    "SUBSCHEMA_LISTS",
    "SUBSCHEMA_MAPS",
    "SUBSCHEMA_ONE",
    "SchemaResolver",
    "canonical_json",
    "check_instance_document",
    "check_schema_document",
    "collect_gts_refs",
    "follow_pointer",
    "format_pointer",
    "gts_ref_target",
    "is_abstract",
    "is_final",
    "iter_subschemas",
    "schema_type_id",
]

SchemaResolver = Callable[[str], Mapping[str, Any] | None]
"""Maps a canonical GTS id (no ``gts://``) to its stored document, or None when unknown."""

#: Deepest nesting of subschemas accepted in one schema document.
MAX_SCHEMA_DEPTH = 48
#: Longest ``enum`` accepted: every value becomes code in a compiled validator.
MAX_ENUM_VALUES = 10_000
#: Deepest nesting of objects/arrays accepted in an instance document.
MAX_DOCUMENT_DEPTH = 128

MODIFIER_KEYWORDS = ("x-gts-final", "x-gts-abstract")
SCHEMA_ONLY_KEYWORDS = frozenset(
    {"x-gts-final", "x-gts-abstract", "x-gts-traits", "x-gts-traits-schema"}
)

# Keywords whose value is one subschema, a list of subschemas, or a name -> subschema map.
SUBSCHEMA_ONE = _ONE = (
    "additionalProperties",
    "additionalItems",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "not",
    "x-gts-traits-schema",
)
SUBSCHEMA_LISTS = _LIST = ("allOf", "anyOf", "oneOf")
SUBSCHEMA_MAPS = _MAP = ("properties", "patternProperties", "definitions", "$defs", "dependencies")

Path = tuple[str | int, ...]


def format_pointer(path: Path) -> str:
    """A schema location as a JSON pointer fragment, e.g. ``#/allOf/1/properties/tier``."""
    if not path:
        return "#"
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "#/" + "/".join(parts)


def _children(node: Mapping[str, Any], path: Path) -> Iterator[tuple[Path, Any]]:
    for kw in _ONE:
        if kw in node:
            yield (*path, kw), node[kw]
    items = node.get("items")
    if isinstance(items, list):
        for i, sub in enumerate(items):
            yield (*path, "items", i), sub
    elif items is not None:
        yield (*path, "items"), items
    for kw in _LIST:
        subs = node.get(kw)
        if isinstance(subs, list):
            for i, sub in enumerate(subs):
                yield (*path, kw, i), sub
    for kw in _MAP:
        subs = node.get(kw)
        if isinstance(subs, Mapping):
            for name, sub in subs.items():
                if isinstance(sub, Mapping | bool):
                    yield (*path, kw, name), sub


def iter_subschemas(
    schema: Mapping[str, Any], *, max_depth: int = MAX_SCHEMA_DEPTH, label: str = "schema"
) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Every object subschema of ``schema`` (root first) with its location.

    Raises ``GtsSchemaError`` when nesting exceeds ``max_depth`` — the walk itself is
    iterative, the limit protects every later recursive consumer of the same document.
    """
    stack: list[tuple[Path, Any, int]] = [((), schema, 0)]
    while stack:
        path, node, depth = stack.pop()
        if not isinstance(node, Mapping):
            continue
        if depth > max_depth:
            raise GtsSchemaError(
                f"{label} nests subschemas deeper than {max_depth} levels at {format_pointer(path)}"
            )
        yield path, node
        children = list(_children(node, path))
        for child_path, child in reversed(children):
            stack.append((child_path, child, depth + 1))


def canonical_json(value: Any) -> str:
    """One text per JSON value (keys sorted), to compare or index ``const``/``enum``/defaults.

    ``1`` and ``true`` stay different (Python's ``==`` would call them equal).
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise GtsValidationError(f"schema holds a value that is not plain JSON: {exc}") from None


def follow_pointer(doc: Any, pointer: str) -> Any:
    """The node a JSON pointer (``/a/0/b``; ``""`` is ``doc`` itself) names in ``doc``.

    Raises ``LookupError`` when it names nothing; each caller words its own error.
    """
    node = doc
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise LookupError(pointer)
    return node


def schema_type_id(schema: Mapping[str, Any]) -> str | None:
    """The canonical id named by a schema's ``$id`` (``gts://`` stripped), or None."""
    sid = schema.get("$id")
    if not isinstance(sid, str):
        return None
    return sid[len(GTS_URI_PREFIX) :] if sid.startswith(GTS_URI_PREFIX) else sid


def gts_ref_target(ref: str) -> str | None:
    """The canonical id of a ``gts://`` reference, or None for any other reference."""
    if ref.startswith(GTS_URI_PREFIX):
        return ref[len(GTS_URI_PREFIX) :]
    return None


def is_abstract(schema: Mapping[str, Any]) -> bool:
    return schema.get("x-gts-abstract") is True


def is_final(schema: Mapping[str, Any]) -> bool:
    return schema.get("x-gts-final") is True


def _label(schema: Mapping[str, Any]) -> str:
    sid = schema.get("$id")
    return f"schema {shorten(sid)}" if isinstance(sid, str) else "schema (no $id)"


def collect_gts_refs(schema: Mapping[str, Any]) -> frozenset[str]:
    """Canonical ids of every ``gts://`` ``$ref`` in ``schema`` (trait schemas included)."""
    found: set[str] = set()
    for _path, node in iter_subschemas(schema, label=_label(schema)):
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = gts_ref_target(ref)
            if target is not None:
                found.add(target)
    return frozenset(found)


def _check_id(schema: Mapping[str, Any], label: str) -> None:
    sid = schema.get("$id")
    if sid is None:
        raise GtsSchemaError(f"{label}: $id is missing; a GTS type schema needs 'gts://<type id>'")
    if not isinstance(sid, str):
        raise GtsSchemaError(f"{label}: $id must be a string, got {type(sid).__name__}")
    if not sid.startswith(GTS_URI_PREFIX):
        hint = " (use the 'gts://' form)" if sid.startswith("gts.") else ""
        raise GtsSchemaError(f"{label}: $id {shorten(sid)!r} must be 'gts://<GTS type id>'{hint}")
    try:
        gid = GtsId.parse(sid[len(GTS_URI_PREFIX) :])
    except GtsError as exc:
        raise GtsSchemaError(f"{label}: $id {shorten(sid)!r} is not a valid GTS id: {exc}") from exc
    if not gid.is_type:
        raise GtsSchemaError(
            f"{label}: $id {shorten(sid)!r} names an instance; a type schema id ends with '~'"
        )


def _check_ref(ref: Any, where: str, label: str) -> None:
    if not isinstance(ref, str):
        raise GtsSchemaError(f"{label}: $ref at {where} must be a string")
    if ref.startswith("#"):
        return
    target = gts_ref_target(ref)
    if target is None:
        if ref.startswith("gts."):
            raise GtsSchemaError(
                f"{label}: $ref {shorten(ref)!r} at {where} must use the 'gts://' scheme"
            )
        raise GtsSchemaError(
            f"{label}: $ref {shorten(ref)!r} at {where} is neither a local '#...' reference "
            "nor 'gts://<GTS type id>'; external URIs are not allowed"
        )
    try:
        gid = GtsId.parse(target)
    except GtsError as exc:
        raise GtsSchemaError(
            f"{label}: $ref {shorten(ref)!r} at {where} is not a valid GTS id: {exc}"
        ) from exc
    if not gid.is_type:
        raise GtsSchemaError(
            f"{label}: $ref {shorten(ref)!r} at {where} names an instance, not a type"
        )


def check_schema_document(schema: Mapping[str, Any], *, strict: bool) -> None:
    """Registration-time checks of a schema document; raises ``GtsSchemaError``.

    Always: ``x-gts-final``/``x-gts-abstract`` are booleans and not both true, every
    ``x-gts-ref`` is well-formed, every regex is one RE2 runs (in linear time; see ``_regex``),
    nesting is bounded. With ``strict`` (validated
    registration) also: ``$id`` is ``gts://<type id>``, every ``$ref`` is local or
    ``gts://<type id>``, modifiers sit only at the top level, ``x-gts-traits`` is an object
    and ``x-gts-traits-schema`` an object schema; and the whole document is valid against its
    meta-schema (its ``$schema``, draft-07 by default).
    """
    from plugway.gts._metaschema import check_metaschema
    from plugway.gts._xref import check_xref_definition

    if not isinstance(schema, Mapping):
        raise GtsSchemaError(
            f"a schema document must be a JSON object, got {type(schema).__name__}"
        )
    label = _label(schema)
    final, abstract = schema.get("x-gts-final"), schema.get("x-gts-abstract")
    if strict:
        _check_id(schema, label)
    for path, node in iter_subschemas(schema, label=label):
        where = format_pointer(path)
        for kw in MODIFIER_KEYWORDS:
            if kw in node:
                value = node[kw]
                if not isinstance(value, bool):
                    raise GtsSchemaError(
                        f"{label}: {kw} at {where} must be a boolean, got {value!r:.60}"
                    )
                if strict and path:
                    raise GtsSchemaError(
                        f"{label}: {kw} at {where} must be at the top level of the schema, "
                        "next to $id"
                    )
        if strict and "$ref" in node:
            _check_ref(node["$ref"], where, label)
        if "x-gts-ref" in node:
            try:
                check_xref_definition(node["x-gts-ref"], schema, where)
            except GtsValidationError as exc:
                raise GtsSchemaError(f"{label}: {exc}") from exc
        _check_patterns(node, where, label)
        enum = node.get("enum")
        if isinstance(enum, list) and len(enum) > MAX_ENUM_VALUES:
            raise GtsSchemaError(
                f"{label}: enum at {where} lists {len(enum)} values, the limit is {MAX_ENUM_VALUES}"
            )
        if strict and "x-gts-traits" in node and not isinstance(node["x-gts-traits"], Mapping):
            raise GtsSchemaError(f"{label}: x-gts-traits at {where} must be an object of values")
        if strict and "x-gts-traits-schema" in node:
            ts = node["x-gts-traits-schema"]
            if not isinstance(ts, Mapping) or ts.get("type", "object") != "object":
                raise GtsSchemaError(
                    f"{label}: x-gts-traits-schema at {where} must be a schema of type 'object'"
                )
    if final is True and abstract is True:
        raise GtsSchemaError(
            f"{label}: x-gts-final and x-gts-abstract cannot both be true on one schema"
        )
    if strict:
        check_metaschema(schema, label)


def _check_patterns(node: Mapping[str, Any], where: str, label: str) -> None:
    from plugway.gts._regex import regex_problem

    pattern = node.get("pattern")
    if pattern is not None:
        reason = regex_problem(pattern)
        if reason:
            raise GtsSchemaError(f"{label}: pattern {shorten(str(pattern))!r} at {where} {reason}")
    pprops = node.get("patternProperties")
    if isinstance(pprops, Mapping):
        for key in pprops:
            reason = regex_problem(key)
            if reason:
                raise GtsSchemaError(
                    f"{label}: patternProperties key {shorten(str(key))!r} at {where} {reason}"
                )


def check_document_depth(doc: Any, *, max_depth: int = MAX_DOCUMENT_DEPTH, label: str) -> None:
    """Refuse documents nested deeper than ``max_depth`` (iterative, so it cannot overflow)."""
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise GtsValidationError(f"{label} is nested deeper than {max_depth} levels")
        if isinstance(node, Mapping):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, Mapping | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, Mapping | list))


def check_instance_document(doc: Mapping[str, Any]) -> None:
    """Instance-side document rules; raises ``GtsValidationError``.

    Schema-only keywords (``x-gts-final``, ``x-gts-abstract``, ``x-gts-traits``,
    ``x-gts-traits-schema``) describe types, so an instance carrying one at its top level is
    refused; over-deep documents are refused too.
    """
    if not isinstance(doc, Mapping):
        raise GtsValidationError(f"an instance must be a JSON object, got {type(doc).__name__}")
    bad = sorted(SCHEMA_ONLY_KEYWORDS.intersection(doc.keys()))
    if bad:
        raise GtsValidationError(
            f"instance {_doc_label(doc)} contains schema-only keyword(s) {', '.join(bad)}; "
            "they are allowed only in type schemas"
        )
    check_document_depth(doc, label=f"instance {_doc_label(doc)}")


def _doc_label(doc: Mapping[str, Any]) -> str:
    for key in ("id", "gtsId", "gts_id", "$id"):
        value = doc.get(key)
        if isinstance(value, str):
            return shorten(value)
    return "(no id)"
