"""Is a derived schema no looser than its ancestor? The keyword-by-keyword judgement of OP#12.

Both sides are *own parts* (inlined, see :mod:`._derivation`). ``merge`` intersects two of them
into one schema; ``Comparer.looser`` names the first place where the child is looser.

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

from plugway.gts._effective import SchemaBudget, budgeted_json
from plugway.gts._ids import shorten
from plugway.gts._refs import MAX_SCHEMA_DEPTH, canonical_json
from plugway.gts._xref import xref_prefix

__all__ = ["ANNOTATIONS", "Comparer", "merge"]

#: Keywords that describe rather than constrain: never compared.
ANNOTATIONS = frozenset(
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


def _types(node: Mapping[str, Any]) -> set[str] | None:
    t = node.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return {x for x in t if isinstance(x, str)}
    return None


def merge(a: Any, b: Any, budget: SchemaBudget) -> Any:
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
                    merged[name] = merge(merged[name], sub, budget) if name in merged else sub
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
            out[key] = merge(old, value, budget)
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
        base = merge(base, _flatten(sub, budget), budget)
    return base


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


_canon = canonical_json


class Comparer:
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
                        merge(rest, branch, self._budget), p, f"{path}.{kw}[{i}]", depth + 1
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
            if self.looser(c, merge(rest, branch, self._budget), path, depth + 1) is None:
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
            if kw in _HANDLED or kw in ANNOTATIONS or kw.startswith("x-"):
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
