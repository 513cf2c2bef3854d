"""OP#7: relationships between GTS entities and detection of broken references.

A schema points at its parent type (the id chain) and at every ``gts://`` ``$ref``; an instance
points at its type and at every GTS id it carries as a value. Resolution walks those edges from
one entity through the store and reports each edge whose target is not registered, so a
registry can refuse a dangling world instead of failing later at validation time.

``$ref`` well-formedness (used by validated registration) lives here too: a GTS ``$ref`` must be
``gts://`` + a valid, wildcard-free id; local ``#/...`` refs are fine; anything else is refused.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from plugway.gts._errors import GtsError, GtsSchemaError
from plugway.gts._ids import GtsId
from plugway.gts._refs import MAX_DOCUMENT_DEPTH as _LAYER_MAX_DEPTH

__all__ = [
    "MAX_DOCUMENT_DEPTH",
    "GtsReference",
    "Relation",
    "RelationshipGraph",
    "gts_refs",
    "ref_problems",
    "resolve_relationships",
    "walk_document",
]

#: Nesting depth above which a document is refused rather than walked (the layer-wide limit).
MAX_DOCUMENT_DEPTH = _LAYER_MAX_DEPTH

_GTS_URI = "gts://"

RelationKind = Literal["parent", "ref", "type", "value"]


class _Entity(Protocol):
    @property
    def gts_id(self) -> str: ...
    @property
    def is_type(self) -> bool: ...
    @property
    def type_id(self) -> str | None: ...
    @property
    def content(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class GtsReference:
    """One ``$ref`` found in a schema: where it is and the canonical GTS id it names."""

    path: str
    ref: str
    target: str | None  # canonical id for gts:// refs, None for local refs


@dataclass(frozen=True, slots=True)
class Relation:
    source: str
    target: str
    kind: RelationKind
    path: str
    resolved: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "kind": self.kind,
            "path": self.path,
            "resolved": self.resolved,
        }


@dataclass(frozen=True, slots=True)
class RelationshipGraph:
    """Everything reachable from ``gts_id``; ``broken`` lists targets that are not registered."""

    gts_id: str
    found: bool
    entities: tuple[str, ...]
    relations: tuple[Relation, ...]
    #: Malformed ``$ref`` values met on the way (they name no entity, so they are no edge).
    problems: tuple[str, ...] = ()

    @property
    def broken(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for rel in self.relations:
            if not rel.resolved:
                seen.setdefault(rel.target, None)
        return tuple(seen)

    def to_dict(self) -> dict[str, Any]:
        broken = self.broken
        errors: list[str] = []
        if not self.found:
            errors.append(f"entity {self.gts_id} is not registered")
        if broken:
            errors.append("broken references: " + ", ".join(broken))
        errors.extend(self.problems)
        return {
            "id": self.gts_id,
            "found": self.found,
            "ok": not errors,
            "entities": list(self.entities),
            "relationships": [r.to_dict() for r in self.relations],
            "broken_references": list(broken),
            "problems": list(self.problems),
            "error": "; ".join(errors),
        }


def walk_document(doc: Any, *, what: str = "document") -> Iterator[tuple[str, Any, Any]]:
    """Yield ``(path, key, value)`` for every member of every object/array, iteratively.

    Refuses (GtsSchemaError) documents nested deeper than MAX_DOCUMENT_DEPTH or containing a
    cycle, so hostile input cannot exhaust the stack or loop forever.
    """
    stack: list[tuple[Any, str, int, tuple[int, ...]]] = [(doc, "$", 0, ())]
    while stack:
        node, path, depth, ancestors = stack.pop()
        if depth > MAX_DOCUMENT_DEPTH:
            raise GtsSchemaError(f"{what} is nested deeper than {MAX_DOCUMENT_DEPTH} at {path}")
        if isinstance(node, Mapping):
            items: list[tuple[str, Any, Any]] = [(f"{path}.{k}", k, v) for k, v in node.items()]
        elif isinstance(node, list):
            items = [(f"{path}[{i}]", i, v) for i, v in enumerate(node)]
        else:
            continue
        marker = id(node)
        if marker in ancestors:
            raise GtsSchemaError(f"{what} contains a cycle at {path}")
        inner = (*ancestors, marker)
        for sub_path, key, value in items:
            yield sub_path, key, value
            if isinstance(value, Mapping | list):
                stack.append((value, sub_path, depth + 1, inner))


def gts_refs(schema: Mapping[str, Any]) -> list[GtsReference]:
    """Every ``$ref`` string in ``schema`` (GTS targets canonicalised, local refs kept as such)."""
    out: list[GtsReference] = []
    for path, key, value in walk_document(schema, what=_name(schema)):
        if key == "$ref" and isinstance(value, str):
            target = None
            if value.startswith(_GTS_URI):
                target = value[len(_GTS_URI) :].split("#", 1)[0]
            out.append(GtsReference(path, value, target))
    return out


def ref_problems(schema: Mapping[str, Any]) -> list[str]:
    """Why each ``$ref`` of ``schema`` is unacceptable (empty list = all fine)."""
    problems: list[str] = []
    name = _name(schema)
    for ref in gts_refs(schema):
        value = ref.ref
        if value.startswith("#"):
            continue
        if ref.target is None:
            if value.startswith("gts."):
                problems.append(
                    f"schema {name}: $ref {value!r} at {ref.path} must use the gts:// scheme"
                )
            else:
                problems.append(
                    f"schema {name}: $ref {value!r} at {ref.path} is not a GTS reference"
                    " (only gts:// and local #/ references are allowed)"
                )
            continue
        if "*" in ref.target:
            problems.append(
                f"schema {name}: $ref {value!r} at {ref.path} contains a wildcard;"
                " references must name one type"
            )
            continue
        try:
            GtsId.parse(ref.target)
        except GtsError as exc:
            problems.append(f"schema {name}: $ref {value!r} at {ref.path} is malformed: {exc}")
    return problems


def resolve_relationships(
    gts_id: str, lookup: Callable[[str], _Entity | None], *, limit: int = 10_000
) -> RelationshipGraph:
    """Walk every edge reachable from ``gts_id`` (breadth first, each entity once)."""
    root = lookup(gts_id)
    if root is None:
        return RelationshipGraph(gts_id, False, (), ())
    seen: dict[str, None] = {root.gts_id: None}
    relations: list[Relation] = []
    problems: list[str] = []
    queue: deque[_Entity] = deque([root])
    while queue and len(seen) <= limit:
        entity = queue.popleft()
        if entity.is_type:
            problems.extend(ref_problems(entity.content))
        for target, kind, path in _edges(entity):
            found = lookup(target)
            relations.append(Relation(entity.gts_id, target, kind, path, found is not None))
            if found is not None and found.gts_id not in seen:
                seen[found.gts_id] = None
                queue.append(found)
    return RelationshipGraph(gts_id, True, tuple(seen), tuple(relations), tuple(problems))


def _edges(entity: _Entity) -> Iterator[tuple[str, RelationKind, str]]:
    emitted: set[tuple[str, str]] = set()

    def once(target: str, kind: RelationKind, path: str) -> bool:
        key = (target, kind)
        if key in emitted:
            return False
        emitted.add(key)
        return True

    if entity.is_type:
        try:
            parent = GtsId.parse(entity.gts_id).type_id
        except GtsError:
            parent = None
        if parent and once(parent, "parent", "$id"):
            yield parent, "parent", "$id"
        for ref in gts_refs(entity.content):
            if ref.target and once(ref.target, "ref", ref.path):
                yield ref.target, "ref", ref.path
        return
    if entity.type_id and once(entity.type_id, "type", "$"):
        yield entity.type_id, "type", "$"
    for path, _key, value in walk_document(entity.content, what=f"instance {entity.gts_id}"):
        if not isinstance(value, str) or not value.startswith("gts.") or value == entity.gts_id:
            continue
        if value == entity.type_id or "*" in value:
            continue
        try:
            GtsId.parse(value)
        except GtsError:
            continue
        if once(value, "value", path):
            yield value, "value", path


def _name(schema: Mapping[str, Any]) -> str:
    value = schema.get("$id")
    return str(value) if value else "<without $id>"
