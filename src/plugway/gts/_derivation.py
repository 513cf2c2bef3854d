"""OP#12: type derivation validation over whole chains ``A~ -> A~B~ -> A~B~C~``.

Rule: a derived type must be no looser than any of its ancestors — every instance of the
child must be an instance of each ancestor. A derived schema is written as
``allOf: [{$ref: parent}, overlay]``; its *own part* is everything except the reference to
the chain. Each own part is compared with the own part of every ancestor (checking against
each ancestor separately is the same as checking against their intersection).

How "no looser" is judged (matching the conformance suite, which is stricter than plain
``allOf`` semantics): a property the child restates must restate every constraint the
ancestor put on it at least as tightly (dropping ``maxLength`` or widening ``enum`` fails),
unless the child pins the value with ``const``/``enum`` — then each pinned value just has to
be accepted by the ancestor. Properties the child does not mention, and ``required``, are
inherited. A closed ancestor (``additionalProperties: false``) stays closed: the child may
neither add properties nor restate the object without closing it again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from plugway.gts._effective import SchemaBudget, SchemaInliner, budgeted_json
from plugway.gts._errors import GtsError, GtsSchemaError, GtsValidationError
from plugway.gts._ids import GtsId, shorten
from plugway.gts._metaschema import check_metaschema
from plugway.gts._refs import (
    MAX_SCHEMA_DEPTH,
    SchemaResolver,
    canonical_json,
    check_schema_document,
    gts_ref_target,
    is_final,
    iter_subschemas,
    schema_type_id,
)
from plugway.gts._xref import xref_prefix

__all__ = [
    "check_no_final_ancestor",
    "find_ref_cycle",
    "type_chain",
    "validate_type_derivation",
]

#: Most schemas visited when looking for ``$ref`` cycles from one type.
MAX_REF_GRAPH = 1024

_ANNOTATIONS = frozenset(
    {
        "$id",
        "$schema",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "readOnly",
        "writeOnly",
        "deprecated",
        "contentMediaType",
        "contentEncoding",
        "definitions",
        "$defs",
    }
)
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems")
_MERGED_OBJECT = frozenset(
    {
        "properties",
        "required",
        "patternProperties",
        "dependencies",
        "minProperties",
        "maxProperties",
        "propertyNames",
    }
)
_HANDLED = (
    frozenset(
        {
            "type",
            "enum",
            "const",
            "pattern",
            "format",
            "multipleOf",
            "uniqueItems",
            "items",
            "additionalItems",
            "additionalProperties",
            "allOf",
            "anyOf",
            "oneOf",
            "x-gts-ref",
            "$ref",
        }
    )
    | frozenset(_UPPER)
    | frozenset(_LOWER)
    | _MERGED_OBJECT
)


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


def _load(type_id: str, resolver: SchemaResolver, role: str) -> Mapping[str, Any]:
    doc = resolver(type_id)
    if doc is None:
        raise GtsValidationError(f"{role} type schema {type_id} is not registered")
    if not isinstance(doc, Mapping):
        raise GtsValidationError(f"{role} type schema {type_id} is not a JSON object")
    return doc


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


# --- own parts: inlined, merged views of one schema ------------------------------------------


def _keep(key: str) -> bool:
    """Keywords that constrain instances (``x-gts-ref`` is kept, resolved to an id)."""
    return key not in _ANNOTATIONS and (key == "x-gts-ref" or not key.startswith("x-gts-"))


def _inliner(resolver: SchemaResolver, budget: SchemaBudget) -> SchemaInliner:
    """Recursive references stay as markers, which compare equal only to the same marker."""
    return SchemaInliner(resolver, budget, on_cycle="mark", keep=_keep, xref=True)


def _types(node: Mapping[str, Any]) -> set[str] | None:
    t = node.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return None


def _merge(a: Any, b: Any, budget: SchemaBudget) -> Any:
    """Intersection of two inlined schemas, as one schema (conservative)."""
    budget.spend()
    if a is False or b is False:
        return False
    if a is True or not isinstance(a, Mapping):
        return b
    if b is True or not isinstance(b, Mapping):
        return a
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
            continue
        old = out[key]
        if key in ("properties", "patternProperties") and isinstance(old, Mapping):
            merged = dict(old)
            if isinstance(value, Mapping):
                for name, sub in value.items():
                    merged[name] = _merge(merged[name], sub, budget) if name in merged else sub
            out[key] = merged
        elif key == "required" and isinstance(old, list) and isinstance(value, list):
            out[key] = old + [v for v in value if v not in old]
        elif key in _UPPER and _is_num(old) and _is_num(value):
            out[key] = min(old, value)
        elif key in _LOWER and _is_num(old) and _is_num(value):
            out[key] = max(old, value)
        elif key == "type":
            ta, tb = _types(a) or set(), _types(b) or set()
            both = (ta & tb) | (
                {"integer"} if "integer" in ta | tb and "number" in ta | tb else set()
            )
            out[key] = sorted(both) if len(both) != 1 else next(iter(both))
        elif key == "enum" and isinstance(old, list) and isinstance(value, list):
            kept = {_canon(v) for v in value}  # a set: enums may be long
            out[key] = [v for v in old if _canon(v) in kept]
        elif key in ("items", "additionalProperties", "additionalItems"):
            out[key] = _merge(old, value, budget)
        elif key in ("allOf",) and isinstance(old, list) and isinstance(value, list):
            out[key] = old + value
        else:
            out[key] = value
    return out


def _flatten(node: Any, budget: SchemaBudget) -> Any:
    """Fold ``allOf`` into its parent (intersection), so keyword checks see one schema."""
    if not isinstance(node, Mapping) or not isinstance(node.get("allOf"), list):
        return node
    base: Any = {k: v for k, v in node.items() if k != "allOf"}
    for sub in node["allOf"]:
        base = _merge(base, _flatten(sub, budget), budget)
    return base


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


_canon = canonical_json


# --- "is the child no looser than the ancestor?" -----------------------------------------------


class _Comparer:
    """Judges inlined own parts; every step is paid from the derivation's budget, and a pair
    already found sound is not compared again (inlined parts are shared)."""

    def __init__(self, budget: SchemaBudget) -> None:
        self._budget = budget
        self._accept_cache: dict[str, Callable[[Any], bool]] = {}
        # Keyed by identity; the values keep both parts alive so an id is never reused.
        self._sound: dict[tuple[int, int], tuple[Any, Any]] = {}

    def _json(self, schema: Any) -> str:
        return budgeted_json(schema, self._budget)

    def acceptor(self, schema: Any) -> Callable[[Any], bool]:
        """A compiled check of ``schema``; fetch it once, then test many values."""
        from plugway.gts._schema import compile_standalone

        key = self._json(schema)
        fn = self._accept_cache.get(key)
        if fn is None:
            fn = self._accept_cache[key] = compile_standalone(schema, label="ancestor schema")
        return fn

    def looser(self, c: Any, p: Any, path: str, depth: int = 0) -> tuple[str, str] | None:
        """None when ``c`` is no looser than ``p``, else ``(path, reason)``."""
        if depth > MAX_SCHEMA_DEPTH:
            return path, f"schemas nest deeper than {MAX_SCHEMA_DEPTH} levels"
        pair = (id(c), id(p))
        if pair in self._sound:
            return None
        self._budget.spend()
        found = self._looser(_flatten(c, self._budget), _flatten(p, self._budget), path, depth)
        if found is None:
            self._sound[pair] = (c, p)
        return found

    def _looser(self, c: Any, p: Any, path: str, depth: int) -> tuple[str, str] | None:
        if p is True or p == {}:
            return None
        if p is False:
            return None if c is False else (path, "the ancestor forbids this value entirely")
        if c is False:
            return path, "forbids what the ancestor defines (a derived type cannot remove it)"
        if c is True or not isinstance(c, Mapping):
            return path, "drops every constraint the ancestor sets"
        if not isinstance(p, Mapping):
            return None
        if "$ref" in p:
            return (
                None if self._json(c) == self._json(p) else (path, "cannot be compared (recursive)")
            )
        for kw in ("anyOf", "oneOf"):
            if kw in p:
                found = self._against_branches(c, p, kw, path, depth)
                if found is not None:
                    return found
        for kw in ("anyOf", "oneOf"):
            if kw in c and kw not in p:
                rest = {k: v for k, v in c.items() if k != kw}
                for i, branch in enumerate(c[kw] if isinstance(c[kw], list) else []):
                    found = self.looser(
                        _merge(rest, branch, self._budget), p, f"{path}.{kw}[{i}]", depth + 1
                    )
                    if found is not None:
                        return found
                return None
        if "const" in c or "enum" in c:
            values = [c["const"]] if "const" in c else c["enum"]
            if isinstance(values, list):
                accepts = self.acceptor(p)
                for v in values:
                    if not accepts(v):
                        kw = "const" if "const" in c else "enum"
                        return _join(path, kw), f"value {_short(v)} is not allowed by the ancestor"
                return None
        return self._keywords(c, p, path, depth)

    def _against_branches(
        self, c: Mapping[str, Any], p: Mapping[str, Any], kw: str, path: str, depth: int
    ) -> tuple[str, str] | None:
        if kw in c and self._json(c[kw]) == self._json(p[kw]):
            return None
        branches = p[kw] if isinstance(p[kw], list) else []
        rest = {k: v for k, v in p.items() if k != kw}
        for branch in branches:
            if self.looser(c, _merge(rest, branch, self._budget), path, depth + 1) is None:
                return None
        return _join(path, kw), f"matches none of the ancestor's {kw} branches"

    def _keywords(
        self, c: Mapping[str, Any], p: Mapping[str, Any], path: str, depth: int
    ) -> tuple[str, str] | None:
        pt, ct = _types(p), _types(c)
        if pt is not None and (ct is not None or path):
            # At the root an unstated type is inherited through the allOf reference.
            if ct is None:
                return _join(path, "type"), f"drops the ancestor's type {_short(p['type'])}"
            for t in sorted(ct):
                if t not in pt and not (t == "integer" and "number" in pt):
                    return _join(path, "type"), (
                        f"type {t!r} is not allowed by the ancestor's type {_short(p['type'])}"
                    )
        for kw in _UPPER:
            if kw in p:
                if kw not in c:
                    return _join(path, kw), f"drops the ancestor's {kw} {_short(p[kw])}"
                if _is_num(c[kw]) and _is_num(p[kw]) and c[kw] > p[kw]:
                    return _join(
                        path, kw
                    ), f"{_short(c[kw])} loosens the ancestor's {_short(p[kw])}"
        for kw in _LOWER:
            if kw in p:
                if kw not in c:
                    return _join(path, kw), f"drops the ancestor's {kw} {_short(p[kw])}"
                if _is_num(c[kw]) and _is_num(p[kw]) and c[kw] < p[kw]:
                    return _join(
                        path, kw
                    ), f"{_short(c[kw])} loosens the ancestor's {_short(p[kw])}"
        for kw in ("enum", "const"):
            if kw in p:
                return _join(path, kw), f"drops the ancestor's {kw} {_short(p[kw])}"
        for kw in ("pattern", "format"):
            if kw in p and c.get(kw) != p[kw]:
                what = "drops" if kw not in c else f"changes to {_short(c[kw])}"
                return _join(path, kw), f"{what} the ancestor's {kw} {_short(p[kw])}"
        if "multipleOf" in p:
            cm, pm = c.get("multipleOf"), p["multipleOf"]
            if not (_is_num(cm) and _is_num(pm) and pm and (cm / pm) == int(cm / pm)):
                return _join(path, "multipleOf"), f"is not a multiple of the ancestor's {pm}"
        if p.get("uniqueItems") is True and c.get("uniqueItems") is not True:
            return _join(path, "uniqueItems"), "drops the ancestor's uniqueItems"
        if "x-gts-ref" in p:
            if "x-gts-ref" not in c:
                return _join(path, "x-gts-ref"), "drops the ancestor's x-gts-ref"
            if not xref_prefix(c["x-gts-ref"]).startswith(xref_prefix(p["x-gts-ref"])):
                wider = _short(c["x-gts-ref"])
                return _join(path, "x-gts-ref"), (
                    f"{wider} is wider than the ancestor's {_short(p['x-gts-ref'])}"
                )
        found = self._items(c, p, path, depth)
        if found is not None:
            return found
        found = self._object(c, p, path, depth)
        if found is not None:
            return found
        for kw, pv in p.items():
            if kw in _HANDLED or kw in _ANNOTATIONS or kw.startswith("x-"):
                continue
            if kw not in c:
                return _join(path, kw), f"drops the ancestor's {kw}"
            if self._json(c[kw]) != self._json(pv):
                return _join(path, kw), f"changes the ancestor's {kw}"
        return None

    def _items(
        self, c: Mapping[str, Any], p: Mapping[str, Any], path: str, depth: int
    ) -> tuple[str, str] | None:
        if "items" not in p:
            return None
        pi = p["items"]
        if "items" not in c:
            return _join(path, "items"), "drops the ancestor's items schema"
        ci = c["items"]
        if isinstance(pi, list):
            if not isinstance(ci, list) or len(ci) < len(pi):
                return _join(path, "items"), "does not keep the ancestor's tuple items"
            for i, sub in enumerate(pi):
                found = self.looser(ci[i], sub, f"{path}.items[{i}]", depth + 1)
                if found is not None:
                    return found
            return None
        if isinstance(ci, list):
            for i, sub in enumerate(ci):
                found = self.looser(sub, pi, f"{path}.items[{i}]", depth + 1)
                if found is not None:
                    return found
            return None
        return self.looser(ci, pi, _join(path, "items"), depth + 1)

    def _object(
        self, c: Mapping[str, Any], p: Mapping[str, Any], path: str, depth: int
    ) -> tuple[str, str] | None:
        pprops = p.get("properties") if isinstance(p.get("properties"), Mapping) else {}
        cprops = c.get("properties") if isinstance(c.get("properties"), Mapping) else {}
        assert isinstance(pprops, Mapping) and isinstance(cprops, Mapping)
        p_ap = p.get("additionalProperties", True)
        for name, sub in cprops.items():
            where = _join(path, f"properties.{name}")
            if name in pprops:
                found = self.looser(sub, pprops[name], where, depth + 1)
                if found is not None:
                    return found
            elif p_ap is False:
                return (
                    where,
                    "adds a property, but the ancestor is closed (additionalProperties: false)",
                )
            elif isinstance(p_ap, Mapping):
                found = self.looser(sub, p_ap, where, depth + 1)
                if found is not None:
                    return found
        restates = any(k in c for k in ("properties", "additionalProperties", "patternProperties"))
        if p_ap is not True and restates:
            c_ap = c.get("additionalProperties", True)
            if p_ap is False and c_ap is not False:
                return _join(path, "additionalProperties"), (
                    "the ancestor is closed (additionalProperties: false); the derived schema "
                    "must stay closed"
                )
            if isinstance(p_ap, Mapping) and c_ap is not False:
                found = self.looser(c_ap, p_ap, _join(path, "additionalProperties"), depth + 1)
                if found is not None:
                    return found
        return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _short(v: Any) -> str:
    return shorten(_canon(v), 60)


def _own_part(type_id: str, doc: Mapping[str, Any], chain: set[str], inliner: SchemaInliner) -> Any:
    """``doc`` minus its references to types of its own chain, inlined and merged."""
    parts: list[Any] = []

    def collect(node: Mapping[str, Any], depth: int) -> None:
        if depth > MAX_SCHEMA_DEPTH:
            raise GtsValidationError(f"schema {type_id} nests allOf deeper than {MAX_SCHEMA_DEPTH}")
        ref = node.get("$ref")
        if isinstance(ref, str) and gts_ref_target(ref) in chain:
            return
        top = {k: v for k, v in node.items() if k != "allOf"}
        parts.append(inliner.inline(top, doc, type_id))
        entries = node.get("allOf")
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, Mapping):
                    collect(entry, depth + 1)
                else:
                    parts.append(entry)

    collect(doc, 0)
    merged: Any = True
    for part in parts:
        merged = _merge(merged, part, inliner.budget)
    return merged


def validate_type_derivation(type_id: str, resolver: SchemaResolver) -> None:
    """OP#12 (+ OP#13): raise ``GtsValidationError`` unless the whole chain is sound.

    Checks, in order: every schema of the chain is registered and well-formed, no ancestor
    is final, no ``gts://`` ``$ref`` cycle, every link no looser than each of its ancestors,
    then the traits of the type (OP#13).
    """
    from plugway.gts._traits import validate_traits

    chain = type_chain(type_id)
    docs = [_load(t, resolver, "ancestor" if t != type_id else "the") for t in chain]
    for t, doc in zip(chain, docs, strict=True):
        try:
            check_schema_document(doc, strict=False)
            check_metaschema(doc, "the schema")
        except GtsSchemaError as exc:
            raise GtsValidationError(f"{t}: {exc}") from exc
    for t, doc in zip(chain[:-1], docs[:-1], strict=True):
        if is_final(doc):
            raise GtsValidationError(
                f"{type_id} derives from {t}, which is final (x-gts-final: true)"
            )
    for t in chain:
        cycle = find_ref_cycle(t, resolver)
        if cycle is not None:
            raise GtsValidationError(f"{t}: cyclic $ref: {' -> '.join(cycle)}")
    if len(chain) > 1:
        # One inliner and one budget for the whole chain: every ancestor's parts are inlined
        # once and shared by every comparison.
        budget = SchemaBudget(type_id)
        inliner = _inliner(resolver, budget)
        chain_set = set(chain)
        comparer = _Comparer(budget)
        try:
            own = [_own_part(t, d, chain_set, inliner) for t, d in zip(chain, docs, strict=True)]
            found = _first_looser(comparer, own)
        except GtsValidationError:
            raise
        except GtsError as exc:
            raise GtsValidationError(str(exc)) from exc
        if found is not None:
            i, j, where, reason = found
            raise GtsValidationError(
                f"{chain[i]} is looser than its ancestor {chain[j]} at {where or '<root>'}: "
                f"{reason}"
            )
    validate_traits(type_id, resolver)


def _first_looser(comparer: _Comparer, own: list[Any]) -> tuple[int, int, str, str] | None:
    """The first (child, ancestor) pair of the chain where the child is looser, or None."""
    for i in range(1, len(own)):
        for j in range(i):
            found = comparer.looser(own[i], own[j], "")
            if found is not None:
                return i, j, *found
    return None
