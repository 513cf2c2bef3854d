"""Effective schemas: every ``$ref`` replaced by what it names, memoised and size-budgeted.

Why one module: compatibility (OP#8), derivation (OP#12) and traits (OP#13) all compare
schemas that span several documents, so each needs the referenced parts in place. Inlining
naively copies a target once per path that reaches it: a chain whose every level refers to
its parent twice doubles at each level (19 levels, half a million copies). Here each
reference target is inlined once and the result shared (a DAG: callers must treat it as
read-only), and every subschema built is counted against a ``SchemaBudget``, so a schema
that really is too big is refused with an error naming it instead of stalling the caller.
Callers that walk the result (comparisons, canonical JSON) spend from the same budget.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

from plugway.gts._errors import GtsNotFoundError, GtsSchemaError
from plugway.gts._ids import shorten
from plugway.gts._refs import (
    SUBSCHEMA_LISTS,
    SUBSCHEMA_MAPS,
    SUBSCHEMA_ONE,
    SchemaResolver,
    follow_pointer,
    gts_ref_target,
)
from plugway.gts._xref import resolve_xref

__all__ = [
    "MAX_INLINE_DEPTH",
    "MAX_SCHEMA_NODES",
    "GtsSchemaBudgetError",
    "SchemaBudget",
    "SchemaInliner",
    "budgeted_json",
    "expanded_size",
]

#: Work units (subschemas built, comparison steps) one operation may spend.
MAX_SCHEMA_NODES = 50_000
#: Nesting of subschemas, counted across ``$ref``s, above which a schema is refused (the walk
#: is recursive; this keeps it far from Python's stack limit).
MAX_INLINE_DEPTH = 200

OnCycle = Literal["raise", "mark"]

# Keywords whose value is one subschema, a list of them, or a name -> subschema map. Trait
# schemas (``x-gts-traits-schema``) are type metadata, kept as written; ``definitions`` and
# ``$defs`` are only reached through ``$ref`` and kept as written too.
_ONE = tuple(k for k in SUBSCHEMA_ONE if k != "x-gts-traits-schema")
_LIST = SUBSCHEMA_LISTS
_MAP = tuple(k for k in SUBSCHEMA_MAPS if k not in ("definitions", "$defs"))


class GtsSchemaBudgetError(GtsSchemaError):
    """A schema expands (or compares) past ``MAX_SCHEMA_NODES`` work units; names the schema."""


class SchemaBudget:
    """Work units left for one operation on the schema ``owner`` (shared by its steps)."""

    __slots__ = ("left", "limit", "owner")

    def __init__(self, owner: str, limit: int = MAX_SCHEMA_NODES) -> None:
        self.owner = owner
        self.limit = limit
        self.left = limit

    @property
    def spent(self) -> int:
        return self.limit - self.left

    def spend(self, units: int = 1) -> None:
        """Count ``units`` of work; raises ``GtsSchemaBudgetError`` once the limit is passed."""
        self.left -= units
        if self.left < 0:
            raise GtsSchemaBudgetError(
                f"schema {shorten(self.owner)} expands to more than {self.limit} subschemas "
                "once its $refs are inlined; it is too large to compare"
            )


def expanded_size(node: Any, budget: SchemaBudget) -> int:
    """How many values ``node`` would hold written out as a tree (shared parts counted each
    time they occur), computed once per distinct part, so a DAG is measured in linear time."""
    sizes: dict[int, int] = {}

    def size(value: Any) -> int:
        if isinstance(value, Mapping):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            return 1
        key = id(value)
        found = sizes.get(key)
        if found is None:
            budget.spend()
            found = 1
            for child in children:
                found += size(child)
                if found > budget.limit:  # past the budget anyway; stop adding
                    break
            sizes[key] = found
        return found

    return size(node)


def budgeted_json(value: Any, budget: SchemaBudget) -> str:
    """Canonical JSON (keys sorted) of an inlined schema part, refused when writing it out
    would exceed the budget (a shared part is written once per occurrence)."""
    size = expanded_size(value, budget)
    budget.spend(size)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


_NOTHING: Any = object()


class SchemaInliner:
    """Inlines the ``$ref``s of schemas, each target once, against one ``SchemaBudget``.

    - ``on_cycle``: a ``$ref`` back to a target being inlined raises (``"raise"``) or is left
      as the marker ``{"$ref": "gts://<id>"}`` / ``{"$ref": "<doc id>#<pointer>"}`` (``"mark"``).
    - ``keep``: which keywords survive (default: all); ``$ref`` itself never does.
    - ``xref``: resolve ``x-gts-ref`` pointers against their own document (so parts of
      different documents compare by the ids they designate).
    - ``merge``: fold ``allOf`` and the siblings of a ``$ref`` into one schema with this
      intersection; without it ``allOf`` stays a list and, as in draft-07, the siblings of a
      ``$ref`` are ignored.

    ``uses`` counts, per ``gts://`` target, how many ``$ref``s named it.
    """

    def __init__(
        self,
        resolver: SchemaResolver,
        budget: SchemaBudget,
        *,
        on_cycle: OnCycle = "raise",
        keep: Callable[[str], bool] | None = None,
        xref: bool = False,
        merge: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        self._resolver = resolver
        self.budget = budget
        self._on_cycle = on_cycle
        self._keep = keep
        self._xref = xref
        self._merge = merge
        self.uses: dict[str, int] = {}
        self._memo: dict[str, Any] = {}
        self._stack: list[str] = []
        self._stack_index: dict[str, int] = {}
        # Lowest stack position a cycle marker in the part being built points at: a part that
        # marks a target still open further up depends on where it was reached, so it is not
        # memoised (a part that only marks itself is self-contained and is).
        self._lowest = MAX_INLINE_DEPTH + 1

    def inline(self, node: Any, doc: Mapping[str, Any], doc_id: str | None) -> Any:
        """``node`` (a part of ``doc``, registered as ``doc_id``) with its ``$ref``s inlined.

        Raises ``GtsSchemaError`` (over budget, too deep, cyclic with ``on_cycle="raise"``,
        unresolvable local pointer) or ``GtsNotFoundError`` (unregistered target).
        """
        return self._node(node, doc, doc_id, 0)

    def _node(self, node: Any, doc: Mapping[str, Any], doc_id: str | None, depth: int) -> Any:
        if not isinstance(node, Mapping):
            return node
        if depth > MAX_INLINE_DEPTH:
            raise GtsSchemaError(
                f"schema {shorten(self.budget.owner)} nests subschemas deeper than "
                f"{MAX_INLINE_DEPTH} levels once its $refs are inlined"
            )
        self.budget.spend()
        ref = node.get("$ref")
        target = self._ref(ref, doc, doc_id, depth) if isinstance(ref, str) else _NOTHING
        if target is not _NOTHING and self._merge is None:
            return target
        deeper = depth + 1
        own: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" or (self._keep is not None and not self._keep(key)):
                continue
            if key == "x-gts-ref" and self._xref:
                own[key] = resolve_xref(value, doc, "schema")
            elif key in _ONE:
                own[key] = self._node(value, doc, doc_id, deeper)
            elif (key == "items" or key in _LIST) and isinstance(value, list):
                own[key] = [self._node(v, doc, doc_id, deeper) for v in value]
            elif key == "items":
                own[key] = self._node(value, doc, doc_id, deeper)
            elif key in _MAP and isinstance(value, Mapping):
                own[key] = {k: self._node(v, doc, doc_id, deeper) for k, v in value.items()}
            else:
                own[key] = value
        if self._merge is None:
            return own
        out: Any = {} if target is _NOTHING else target
        parts = own.pop("allOf", None)
        for part in parts if isinstance(parts, list) else ():
            out = self._merge(out, part)
        return self._merge(out, own)

    def _ref(self, ref: str, doc: Mapping[str, Any], doc_id: str | None, depth: int) -> Any:
        target_id = gts_ref_target(ref)
        if target_id is not None:
            pointer = ""
            if "#" in target_id:
                target_id, pointer = target_id.split("#", 1)
            self.uses[target_id] = self.uses.get(target_id, 0) + 1
            key = f"gts://{target_id}" + (f"#{pointer}" if pointer else "")
        elif ref.startswith("#"):
            pointer = ref[1:]
            key = f"{doc_id if doc_id is not None else f'@{id(doc)}'}{ref}"
        else:
            raise GtsSchemaError(
                f"schema {shorten(self.budget.owner)}: $ref {shorten(ref)!r} is neither local "
                "('#...') nor 'gts://<type id>'"
            )
        found = self._memo.get(key, _NOTHING)
        if found is not _NOTHING:
            return found
        position = self._stack_index.get(key)
        if position is not None:
            if self._on_cycle == "raise":
                chain = " -> ".join([*self._stack[position:], key])
                raise GtsSchemaError(f"cyclic $ref in schema {shorten(self.budget.owner)}: {chain}")
            self._lowest = min(self._lowest, position)
            return {"$ref": key}
        if target_id is not None:
            target_doc = self._resolver(target_id)
            if not isinstance(target_doc, Mapping):
                raise GtsNotFoundError(
                    f"schema {shorten(self.budget.owner)}: $ref target {target_id} is not "
                    "registered"
                )
            doc, doc_id = target_doc, target_id
        target = _pointer(doc, pointer, ref, doc_id)
        outer_lowest, self._lowest = self._lowest, MAX_INLINE_DEPTH + 1
        position = len(self._stack)
        self._stack.append(key)
        self._stack_index[key] = position
        try:
            value = self._node(target, doc, doc_id, depth + 1)
        finally:
            self._stack.pop()
            del self._stack_index[key]
        if self._lowest >= position:
            self._memo[key] = value
            self._lowest = outer_lowest
        else:
            self._lowest = min(outer_lowest, self._lowest)
        return value


def _pointer(doc: Mapping[str, Any], pointer: str, ref: str, doc_id: str | None) -> Any:
    if pointer in ("", "/"):
        return doc
    try:
        return follow_pointer(doc, "/" + pointer.lstrip("/"))
    except LookupError:
        where = doc_id if doc_id is not None else "its document"
        raise GtsSchemaError(f"$ref {shorten(ref)!r} does not resolve inside {where}") from None
