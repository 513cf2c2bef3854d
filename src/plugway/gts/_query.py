"""OP#10: query expressions ``<id or pattern>[name=value, ...]``.

Why: a store or registry filters its documents by id pattern plus attribute predicates.
The expression is parsed once into a frozen ``GtsQuery``; stores call ``matches`` (or the
cheaper ``matches_id`` first, then ``matches_filters``) over their documents.

Grammar (spec §3.3, widened as the conformance tests do):
- the part before ``[`` is an exact GTS id or a wildcard pattern, matched with OP#4
  semantics (segment boundaries, an omitted minor version matches any minor);
- predicates are ``name=value`` joined by ``,`` and combined with AND; whitespace around
  them is ignored; ``value`` may be double-quoted (``\\"`` and ``\\\\`` escapes) or bare,
  and both spellings mean the same; a bare ``*`` means "the attribute is present";
- ``name`` is an attribute path as in OP#11 (``status``, ``payload.kind``, ``items[0].sku``);
- a value that is a GTS wildcard pattern (``gts.x.core.*``) matches strings by OP#4; any
  other value matches an equal string, a number of equal value, or ``true``/``false``/``null``
  spelled as in JSON. Arrays and objects only match ``*``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._attr import AttrPath, parse_attr_path, resolve_path
from ._errors import GtsError, GtsQueryError
from ._extract import extract_id
from ._ids import GtsId, shorten
from ._pattern import GtsPattern

__all__ = ["GtsQuery", "GtsQueryFilter"]

MAX_QUERY_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class GtsQueryFilter:
    """One ``name=value`` predicate."""

    name: str
    path: AttrPath
    #: The expected value text; None for a bare ``*`` (attribute present, any value).
    value: str | None
    #: Set when ``value`` is a GTS wildcard pattern.
    pattern: GtsPattern | None = None

    def matches(self, doc: Mapping[str, Any]) -> bool:
        found, actual, _ = resolve_path(doc, self.path)
        if not found:
            return False
        if self.value is None:
            return True
        if isinstance(actual, str):
            if self.pattern is not None:
                return self.pattern.matches(actual)
            return actual == self.value
        if actual is None or isinstance(actual, bool):
            return json.dumps(actual) == self.value
        if isinstance(actual, int | float):
            # numbers compare by value: "10" matches 10 and 10.0, "2.50" matches 2.5
            number = _number(self.value)
            return number is not None and actual == number
        return False


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value else None  # "nan" never equals anything


@dataclass(frozen=True, slots=True)
class GtsQuery:
    """A parsed OP#10 expression."""

    text: str
    pattern: GtsPattern
    filters: tuple[GtsQueryFilter, ...]

    @classmethod
    def parse(cls, text: str) -> GtsQuery:
        """Raises ``GtsQueryError`` whose message starts with ``Invalid query``."""
        if type(text) is not str:
            raise GtsQueryError(f"Invalid query: expected a string, got {type(text).__name__}")
        if len(text) > MAX_QUERY_LENGTH:
            raise _error(text, f"{len(text)} characters, the limit is {MAX_QUERY_LENGTH}")
        expr = text.strip()
        if not expr:
            raise _error(text, "the expression is empty")
        head, bracket, rest = expr.partition("[")
        head = head.strip()
        if "@" in head:
            raise _error(text, "an attribute selector ('@') cannot be part of a query")
        if not head:
            raise _error(text, "no GTS id or pattern before '['")
        if not bracket and "]" in expr:
            raise _error(text, "unexpected ']' without '['")
        try:
            pattern = GtsPattern.parse(head)
        except GtsError as exc:
            raise _error(text, str(exc)) from exc
        filters: tuple[GtsQueryFilter, ...] = ()
        if bracket:
            if not rest.endswith("]"):
                raise _error(text, "the filter list is not closed with ']'")
            filters = _parse_filters(text, rest[:-1])
        return cls(text=text, pattern=pattern, filters=filters)

    def matches_id(self, gts_id: GtsId | str) -> bool:
        """Does an entity id fall under the query's id pattern?"""
        return self.pattern.matches(gts_id)

    def matches_filters(self, doc: Mapping[str, Any]) -> bool:
        """Do all predicates hold for ``doc``?"""
        return all(f.matches(doc) for f in self.filters)

    def matches(self, doc: Mapping[str, Any], gts_id: GtsId | str | None = None) -> bool:
        """Id and predicates; without ``gts_id`` the id is extracted from ``doc`` (OP#2)."""
        if not isinstance(doc, Mapping):
            return False
        if gts_id is None:
            found = extract_id(doc).gts_id
            if found is None:
                return False
            gts_id = found
        return self.pattern.matches(gts_id) and self.matches_filters(doc)

    def matches_entity(self, gts_id: GtsId | str, doc: Mapping[str, Any]) -> bool:
        """Same as ``matches(doc, gts_id)``, in the order stores hold them."""
        return self.matches(doc, gts_id)

    def __str__(self) -> str:
        return self.text


def _error(text: str, reason: str) -> GtsQueryError:
    return GtsQueryError(f"Invalid query: {shorten(text)}: {reason}")


def _parse_filters(text: str, body: str) -> tuple[GtsQueryFilter, ...]:
    """Scan ``name=value, ...`` left to right (linear, no regex)."""
    out: list[GtsQueryFilter] = []
    i, n = 0, len(body)
    while True:
        while i < n and body[i] in " \t":
            i += 1
        eq = body.find("=", i)
        if eq < 0:
            tail = body[i:].strip()
            if not out and not tail:
                raise _error(text, "the filter list '[]' is empty")
            raise _error(text, f"predicate '{shorten(tail, 40)}' has no '='")
        name = body[i:eq].strip()
        if not name:
            raise _error(text, f"a predicate at position {i} has no attribute name")
        if any(c in name for c in ',"'):
            raise _error(text, f"predicate name '{shorten(name, 40)}' is malformed")
        try:
            path = parse_attr_path(name, context=name)
        except GtsQueryError as exc:
            raise _error(text, str(exc)) from exc
        i = eq + 1
        while i < n and body[i] in " \t":
            i += 1
        if i < n and body[i] == '"':
            value, i = _quoted(text, body, i)
            quoted = True
        else:
            end = body.find(",", i)
            end = n if end < 0 else end
            value = body[i:end].strip()
            if not value:
                raise _error(text, f"predicate '{shorten(name, 40)}' has an empty value")
            if any(c in value for c in '"=[]'):
                raise _error(text, f"value '{shorten(value, 40)}' of '{name}' is malformed")
            i = end
            quoted = False
        out.append(_make_filter(name, path, value, quoted))
        while i < n and body[i] in " \t":
            i += 1
        if i == n:
            return tuple(out)
        if body[i] != ",":
            raise _error(text, f"expected ',' or ']' after the value of '{shorten(name, 40)}'")
        i += 1


def _quoted(text: str, body: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    i, n = start + 1, len(body)
    while i < n:
        ch = body[i]
        if ch == "\\" and i + 1 < n:
            chars.append(body[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(chars), i + 1
        chars.append(ch)
        i += 1
    raise _error(text, f"a quoted value starting at position {start} is not closed")


def _make_filter(name: str, path: AttrPath, value: str, quoted: bool) -> GtsQueryFilter:
    if value == "*" and not quoted:
        return GtsQueryFilter(name, path, None)
    pattern = None
    if value.startswith("gts.") and "*" in value:
        try:
            pattern = GtsPattern.parse(value)
        except GtsError as exc:
            raise GtsQueryError(f"Invalid query: value of '{shorten(name, 40)}': {exc}") from exc
    return GtsQueryFilter(name, path, value, pattern)
