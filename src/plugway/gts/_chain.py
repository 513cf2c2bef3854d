"""A type's chain of ancestors and the ``$ref`` graph it reaches.

``A~B~C~`` names its ancestors ``A~`` and ``A~B~``; none of them may be final (``x-gts-final``),
and the ``gts://`` references that apply to the same instance must not form a cycle, which no
validator could finish.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugway.gts._errors import GtsError, GtsValidationError
from plugway.gts._ids import GtsId, shorten
from plugway.gts._refs import (
    SchemaResolver,
    gts_ref_target,
    is_final,
    iter_subschemas,
    schema_type_id,
)

__all__ = ["MAX_REF_GRAPH", "check_no_final_ancestor", "find_ref_cycle", "type_chain"]

#: Most schemas visited when looking for ``$ref`` cycles from one type.
MAX_REF_GRAPH = 1024


def type_chain(type_id: str) -> list[str]:
    """``A~B~C~`` -> ``["A~", "A~B~", "A~B~C~"]``; raises ``GtsValidationError``."""
    try:
        gid = GtsId.parse(type_id)
    except GtsError as exc:
        raise GtsValidationError(f"{shorten(str(type_id))} is not a valid GTS id: {exc}") from exc
    if not gid.is_type:
        raise GtsValidationError(f"{type_id} is not a type id (a type id ends with '~')")
    parts = type_id.split("~")[:-1]
    return ["~".join(parts[: i + 1]) + "~" for i in range(len(parts))]


def check_no_final_ancestor(type_id: str, resolver: SchemaResolver) -> None:
    """Refuse a type derived (directly or not) from an ``x-gts-final`` type."""
    chain = type_chain(type_id)
    for ancestor in chain[:-1]:
        doc = resolver(ancestor)
        if isinstance(doc, Mapping) and is_final(doc):
            raise GtsValidationError(
                f"{type_id} derives from {ancestor}, which is final (x-gts-final: true)"
            )


_DESCENDING = frozenset(
    {
        "properties",
        "patternProperties",
        "dependencies",
        "additionalProperties",
        "items",
        "additionalItems",
        "contains",
        "propertyNames",
    }
)
_NAMED = frozenset({"definitions", "$defs", "allOf", "anyOf", "oneOf"})


def _descends(path: tuple[str | int, ...]) -> bool:
    """Whether a subschema at ``path`` applies to a part of the instance, not the whole."""
    i = 0
    while i < len(path):
        key = path[i]
        if key in _DESCENDING:
            return True
        i += 2 if key in _NAMED else 1
    return False


def _composition_refs(doc: Mapping[str, Any]) -> list[str]:
    """``gts://`` targets ``doc`` applies to the same instance (not to a part of it)."""
    found: set[str] = set()
    for path, node in iter_subschemas(doc, label=f"schema {schema_type_id(doc)}"):
        ref = node.get("$ref")
        if isinstance(ref, str) and not _descends(path):
            target = gts_ref_target(ref)
            if target is not None:
                found.add(target)
    return sorted(found)


def find_ref_cycle(type_id: str, resolver: SchemaResolver) -> list[str] | None:
    """A ``gts://`` ``$ref`` cycle reachable from ``type_id`` (as a list of ids), or None.

    Only references that apply to the same instance count (``allOf``, ``not``, trait
    schemas...): a cycle of those never terminates. A reference under ``properties`` or
    ``items`` describes a smaller part of the instance each time round, so a recursive data
    type (a tree of nodes) is not a cycle.
    """
    on_path: list[str] = []
    on_path_set: set[str] = set()
    done: set[str] = set()
    stack: list[tuple[str, list[str] | None]] = [(type_id, None)]
    while stack:
        node, pending = stack[-1]
        if pending is None:
            if len(done) + len(on_path) > MAX_REF_GRAPH:
                raise GtsValidationError(
                    f"{type_id} reaches more than {MAX_REF_GRAPH} schemas through $ref"
                )
            doc = resolver(node)
            refs = _composition_refs(doc) if isinstance(doc, Mapping) else []
            on_path.append(node)
            on_path_set.add(node)
            stack[-1] = (node, refs)
            continue
        if pending:
            nxt = pending.pop()
            if nxt in on_path_set:
                return [*on_path[on_path.index(nxt) :], nxt]
            if nxt not in done:
                stack.append((nxt, None))
            continue
        stack.pop()
        on_path.pop()
        on_path_set.discard(node)
        done.add(node)
    return None
