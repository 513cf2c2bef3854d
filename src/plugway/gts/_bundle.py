"""A type schema made ready for fastjsonschema: one self-contained document.

fastjsonschema cannot fetch ``gts://`` references, so :class:`Bundler` copies every schema a
type reaches into ``definitions`` and points its references there; :class:`Stripper` then
drops what ``_xref_checks`` enforces instead and hoists deep nesting, which Python's compiler
would refuse.
Unsafe regular expressions are refused while bundling, with the place they were found.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugway.gts._errors import GtsValidationError
from plugway.gts._ids import shorten
from plugway.gts._refs import (
    MAX_SCHEMA_DEPTH,
    SCHEMA_ONLY_KEYWORDS,
    SUBSCHEMA_LISTS,
    SUBSCHEMA_MAPS,
    SUBSCHEMA_ONE,
    SchemaResolver,
    format_pointer,
    gts_ref_target,
)
from plugway.gts._regex import regex_problem
from plugway.gts._xref import resolve_xref

__all__ = ["MAX_BUNDLED_SCHEMAS", "Bundler", "Stripper"]

#: How many distinct ``gts://`` schemas one bundle may pull in.
MAX_BUNDLED_SCHEMAS = 512

# Keywords holding subschemas, as _refs walks them (trait schemas are dropped before this).
_ONE = tuple(k for k in SUBSCHEMA_ONE if k != "x-gts-traits-schema")
_LIST = SUBSCHEMA_LISTS
_MAP = SUBSCHEMA_MAPS
_DROP = frozenset({"$id", "$schema", "$comment"}) | SCHEMA_ONLY_KEYWORDS


class Bundler:
    """Copies documents into one self-contained schema with only local ``$ref``s."""

    def __init__(self, resolver: SchemaResolver) -> None:
        self._resolver = resolver
        self.definitions: dict[str, Any] = {}
        self.bases: dict[str, str] = {}
        self._queue: list[tuple[str, Mapping[str, Any], str]] = []

    @property
    def depends_on(self) -> frozenset[str]:
        return frozenset(self.bases)

    def pin(self, type_id: str, base: str) -> None:
        """Declare that ``type_id``'s document is placed at ``base`` by the caller."""
        self.bases[type_id] = base

    def _place(self, type_id: str, where: str) -> str:
        base = self.bases.get(type_id)
        if base is not None:
            return base
        if len(self.bases) >= MAX_BUNDLED_SCHEMAS:
            raise GtsValidationError(
                f"schema references more than {MAX_BUNDLED_SCHEMAS} GTS schemas"
            )
        doc = self._resolver(type_id)
        if doc is None:
            raise GtsValidationError(
                f"$ref at {where} names type schema {shorten(type_id)}, which is not registered"
            )
        key = f"__gts{len(self._queue)}"
        base = self.bases[type_id] = f"#/definitions/{key}"
        self._queue.append((key, doc, base))
        return base

    def drain(self) -> None:
        while self._queue:
            key, doc, base = self._queue.pop(0)
            self.definitions[key] = self.rewrite(doc, doc, base)

    def rewrite(
        self, node: Any, doc: Mapping[str, Any], base: str, path: tuple[str | int, ...] = ()
    ) -> Any:
        """Schema-aware copy of ``node`` (a part of ``doc``, placed at ``base``)."""
        if not isinstance(node, Mapping):
            return node
        if len(path) > MAX_SCHEMA_DEPTH * 2:
            raise GtsValidationError(
                f"schema nests deeper than {MAX_SCHEMA_DEPTH} levels at {format_pointer(path)}"
            )
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROP:
                continue
            if key == "$ref":
                out[key] = self._ref(value, base, path)
            elif key == "x-gts-ref":
                out[key] = resolve_xref(value, doc, format_pointer(path))
            elif key in _ONE:
                out[key] = self.rewrite(value, doc, base, (*path, key))
            elif key == "items":
                if isinstance(value, list):
                    out[key] = [
                        self.rewrite(v, doc, base, (*path, key, i)) for i, v in enumerate(value)
                    ]
                else:
                    out[key] = self.rewrite(value, doc, base, (*path, key))
            elif key in _LIST and isinstance(value, list):
                out[key] = [
                    self.rewrite(v, doc, base, (*path, key, i)) for i, v in enumerate(value)
                ]
            elif key in _MAP and isinstance(value, Mapping):
                if key == "patternProperties":
                    for regex in value:
                        _refuse_unsafe_regex(regex, path)
                out[key] = {
                    name: self.rewrite(sub, doc, base, (*path, key, name))
                    for name, sub in value.items()
                }
            else:
                if key == "pattern":
                    _refuse_unsafe_regex(value, path)
                out[key] = value
        return out

    def _ref(self, ref: Any, base: str, path: tuple[str | int, ...]) -> str:
        where = format_pointer(path)
        if not isinstance(ref, str):
            raise GtsValidationError(f"$ref at {where} must be a string")
        if ref.startswith("#"):
            if base == "#":
                return ref
            return base + ref[1:]
        target = gts_ref_target(ref)
        if target is None:
            raise GtsValidationError(
                f"$ref {shorten(ref)!r} at {where} cannot be resolved: only local '#...' and "
                "'gts://<type id>' references are supported"
            )
        return self._place(target, where)


#: Nesting of subschemas after which a subschema is moved into ``definitions``: fastjsonschema
#: emits nested Python blocks per level, and Python refuses more than 20 nested blocks; a
#: ``$ref`` target becomes a function of its own, which starts the nesting afresh.
_HOIST_EVERY = 6


def _refuse_unsafe_regex(regex: Any, path: tuple[str | int, ...]) -> None:
    reason = regex_problem(regex)
    if reason:
        raise GtsValidationError(
            f"regular expression {shorten(str(regex))!r} at {format_pointer(path)} {reason}"
        )


class Stripper:
    """Copy without ``x-gts-ref`` and without combinators enforced by ``_xref_checks`` instead."""

    def __init__(self, taken: set[tuple[int, str]], hoisted: dict[str, Any]) -> None:
        self._taken = taken
        self.hoisted = hoisted

    def strip(self, node: Any, level: int = 0) -> Any:
        if not isinstance(node, Mapping):
            return node
        if level >= _HOIST_EVERY and "$ref" not in node:
            key = f"__nest{len(self.hoisted)}"
            self.hoisted[key] = None  # reserve the name before descending
            self.hoisted[key] = self.strip(node, 0)
            return {"$ref": f"#/definitions/{key}"}
        out: dict[str, Any] = {}
        nid = id(node)
        deeper = level + 1
        for key, value in node.items():
            if key == "x-gts-ref" or (nid, key) in self._taken:
                continue
            if key in ("definitions", "$defs") and isinstance(value, Mapping):
                out[key] = {name: self.strip(sub, 0) for name, sub in value.items()}
            elif key in _ONE:
                out[key] = self.strip(value, deeper)
            elif key == "items" or (key in _LIST and isinstance(value, list)):
                out[key] = (
                    [self.strip(v, deeper) for v in value]
                    if isinstance(value, list)
                    else self.strip(value, deeper)
                )
            elif key in _MAP and isinstance(value, Mapping):
                out[key] = {name: self.strip(sub, deeper) for name, sub in value.items()}
            else:
                out[key] = value
        return out
