"""OP#11: the attribute selector ``<gts id>@<path>`` and path resolution over a document.

Why: operators and policies read one value out of a stored instance without writing
JSONPath. The path always starts at the instance root; ``.`` descends into an object and
``[n]`` indexes an array (``@items[0].sku``, ``@payload.customer.email``). The selector is
parsed once into a frozen value; resolution walks the path iteratively (no recursion), so
deep documents cannot exhaust the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import GtsError, GtsQueryError
from ._ids import GtsId, shorten

__all__ = [
    "AttrPath",
    "AttrResult",
    "GtsAttrSelector",
    "parse_attr_path",
    "resolve_attr",
    "resolve_path",
]

MAX_SELECTOR_LENGTH = 4096
_MISSING = object()

#: A parsed path: object keys (str) and array indexes (int), from the root.
AttrPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class GtsAttrSelector:
    """A parsed ``<gts id>@<path>`` selector."""

    text: str
    gts_id: GtsId
    path: AttrPath
    path_text: str

    @classmethod
    def parse(cls, text: str) -> GtsAttrSelector:
        """Raises ``GtsQueryError`` naming the selector and what is wrong with it."""
        if type(text) is not str:
            raise GtsQueryError(
                f"Invalid attribute selector: expected a string, got {type(text).__name__}"
            )
        if len(text) > MAX_SELECTOR_LENGTH:
            raise GtsQueryError(
                f"Invalid attribute selector: {shorten(text)}: {len(text)} characters, "
                f"the limit is {MAX_SELECTOR_LENGTH}"
            )
        id_text, at, path_text = text.partition("@")
        if not at:
            raise GtsQueryError(
                f"Invalid attribute selector: {shorten(text)}: expected '<gts id>@<path>', "
                "found no '@'"
            )
        if "*" in id_text:
            raise GtsQueryError(
                f"Invalid attribute selector: {shorten(text)}: wildcards cannot be combined "
                "with '@'; name one entity"
            )
        try:
            gid = GtsId.parse(id_text)
        except GtsError as exc:
            raise GtsQueryError(f"Invalid attribute selector: {shorten(text)}: {exc}") from exc
        path = parse_attr_path(path_text, context=text)
        return cls(text=text, gts_id=gid, path=path, path_text=path_text)


@dataclass(frozen=True, slots=True)
class AttrResult:
    """Outcome of OP#11: ``resolved`` tells a found value (possibly null) from a miss."""

    gts_id: str
    path: str
    resolved: bool
    value: Any = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "gts_id": self.gts_id,
            "path": self.path,
            "resolved": self.resolved,
            "value": self.value,
            "error": self.error,
        }


def parse_attr_path(path_text: str, *, context: str | None = None) -> AttrPath:
    """``a.b[0].c`` -> ``("a", "b", 0, "c")``; raises ``GtsQueryError`` on bad syntax.

    Keys are any characters but ``.``, ``[`` and ``]``; indexes are non-negative decimals.
    """
    where = shorten(context if context is not None else path_text)

    def fail(reason: str) -> GtsQueryError:
        return GtsQueryError(f"Invalid attribute path in {where}: {reason}")

    if type(path_text) is not str:
        raise fail(f"expected a string, got {type(path_text).__name__}")
    if not path_text:
        raise fail("the path after '@' is empty")
    out: list[str | int] = []
    i, n = 0, len(path_text)
    expect_key = True  # at the start and after ".", a key must follow
    while i < n:
        ch = path_text[i]
        if ch == "[":
            end = path_text.find("]", i + 1)
            if end < 0:
                raise fail(f"'[' at position {i} is not closed")
            digits = path_text[i + 1 : end]
            if not digits.isascii() or not digits.isdigit():
                raise fail(f"array index '{shorten(digits, 20)}' is not a non-negative integer")
            out.append(int(digits))
            i = end + 1
            expect_key = False
            if i < n and path_text[i] not in ".[":
                raise fail(f"expected '.' or '[' after ']' at position {i}")
            if i < n and path_text[i] == ".":
                i += 1
                expect_key = True
                if i == n:
                    raise fail("the path ends with '.'")
            continue
        if ch == "]":
            raise fail(f"unexpected ']' at position {i}")
        if ch == ".":
            raise fail(f"empty key at position {i}")
        if not expect_key:
            raise fail(f"expected '.' or '[' at position {i}")
        j = i
        while j < n and path_text[j] not in ".[]":
            j += 1
        out.append(path_text[i:j])
        i = j
        expect_key = False
        if i < n and path_text[i] == ".":
            i += 1
            expect_key = True
            if i == n:
                raise fail("the path ends with '.'")
    return tuple(out)


def resolve_path(doc: Any, path: AttrPath) -> tuple[bool, Any, str | None]:
    """Walk ``path`` from ``doc``: ``(found, value, why_not)``. Never raises."""
    node: Any = doc
    for depth, step in enumerate(path):
        if isinstance(step, int):
            if not isinstance(node, Sequence) or isinstance(node, str | bytes):
                return False, None, f"{_describe(path[:depth])} is not an array"
            if step >= len(node):
                return (
                    False,
                    None,
                    (
                        f"index {step} is out of range at {_describe(path[:depth])} "
                        f"(length {len(node)})"
                    ),
                )
            node = node[step]
        else:
            if not isinstance(node, Mapping):
                return False, None, f"{_describe(path[:depth])} is not an object"
            node = node.get(step, _MISSING)
            if node is _MISSING:
                return False, None, f"no field '{shorten(step, 40)}' at {_describe(path[:depth])}"
    return True, node, None


def _describe(path: AttrPath) -> str:
    if not path:
        return "the root"
    parts: list[str] = []
    for step in path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            parts.append(f".{step}" if parts else step)
    return "'" + shorten("".join(parts), 60) + "'"


def resolve_attr(
    selector: str | GtsAttrSelector,
    lookup: Callable[[str], Mapping[str, Any] | None],
) -> AttrResult:
    """OP#11: resolve ``<id>@<path>`` against the document ``lookup(id)`` returns.

    A malformed selector raises ``GtsQueryError``; an unknown id or a missing path yields
    ``resolved=False`` with the reason in ``error``.
    """
    sel = selector if isinstance(selector, GtsAttrSelector) else GtsAttrSelector.parse(selector)
    doc = lookup(sel.gts_id.text)
    if doc is None:
        return AttrResult(
            sel.gts_id.text, sel.path_text, False, None, f"entity {sel.gts_id.text} not found"
        )
    found, value, why = resolve_path(doc, sel.path)
    return AttrResult(sel.gts_id.text, sel.path_text, found, value if found else None, why)
