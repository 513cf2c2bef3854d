"""``x-gts-ref``: marking a string field as a reference to a GTS entity, and enforcing it.

Two forms (spec §9.6): a literal ``gts.`` prefix (``gts.x.core.modules.capability.v1~``,
or a pattern such as ``gts.x.pkg.*``; ``gts.*`` = any GTS id) that the value must start
with, or a JSON pointer (``/$id``, ``/properties/id``) into the same schema document that
lands on a GTS id string or on another ``x-gts-ref``. Either way an instance value must be
a valid GTS id starting with the resolved prefix.

The instance checks compiled from it: :mod:`._xref_checks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugway.gts._errors import GtsError, GtsValidationError
from plugway.gts._ids import GTS_URI_PREFIX, GtsId, shorten
from plugway.gts._refs import follow_pointer

__all__ = ["check_xref_definition", "resolve_xref", "xref_prefix"]

_MAX_POINTER_HOPS = 16


def _fail(where: str, detail: str) -> GtsValidationError:
    return GtsValidationError(f"x-gts-ref validation failed at {where}: {detail}")


def _literal(text: str, where: str, via: str | None = None) -> str:
    """Validate a ``gts.`` literal (a GTS id or a wildcard pattern) and return it."""
    how = f" (reached through pointer {via!r})" if via else ""
    if "*" in text:
        from plugway.gts._pattern import GtsPattern

        try:
            GtsPattern.parse(text)
        except GtsError as exc:
            raise _fail(
                where, f"Invalid GTS identifier: {shorten(text)}{how}: {_reason(exc)}"
            ) from exc
        return text
    try:
        GtsId.parse(text)
    except GtsError as exc:
        raise _fail(where, f"Invalid GTS identifier: {shorten(text)}{how}: {_reason(exc)}") from exc
    return text


def _reason(exc: GtsError) -> str:
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) and reason else str(exc)


def _follow_pointer(root: Mapping[str, Any], pointer: str, where: str) -> Any:
    try:
        return follow_pointer(root, pointer)
    except LookupError:
        raise _fail(where, f"pointer {shorten(pointer)!r} does not resolve in the schema") from None


def xref_prefix(literal: str) -> str:
    """The prefix a resolved ``x-gts-ref`` literal imposes on values (text before ``*``)."""
    star = literal.find("*")
    return literal if star < 0 else literal[:star]


def resolve_xref(xref: Any, root: Mapping[str, Any], where: str) -> str:
    """The GTS id or pattern an ``x-gts-ref`` designates; ``GtsValidationError`` if malformed.

    ``where`` names the keyword's location for messages (a JSON pointer into ``root``).
    """
    current = xref
    via: str | None = None
    for _hop in range(_MAX_POINTER_HOPS):
        if not isinstance(current, str):
            raise _fail(where, f"value must be a string, got {type(current).__name__}")
        if current.startswith("gts."):
            return _literal(current, where, via)
        pointer = current[1:] if current.startswith("./") else current
        if not pointer.startswith("/"):
            raise _fail(
                where,
                f"{shorten(current)!r} is neither a GTS id or pattern ('gts.…') nor a JSON "
                "pointer into this schema ('/…')",
            )
        via = pointer
        target = _follow_pointer(root, pointer, where)
        if isinstance(target, str):
            text = target[len(GTS_URI_PREFIX) :] if target.startswith(GTS_URI_PREFIX) else target
            if not text.startswith("gts."):
                raise _fail(
                    where,
                    f"pointer {shorten(pointer)!r} resolves to {shorten(text)!r}, which is "
                    "not a GTS id",
                )
            return _literal(text, where, via)
        if isinstance(target, Mapping) and "x-gts-ref" in target:
            current = target["x-gts-ref"]
            continue
        raise _fail(
            where, f"pointer {shorten(pointer)!r} lands on neither a GTS id nor an x-gts-ref"
        )
    raise _fail(where, f"pointer chain longer than {_MAX_POINTER_HOPS} hops (cycle?)")


def check_xref_definition(xref: Any, root: Mapping[str, Any], where: str) -> None:
    """Registration-time check that an ``x-gts-ref`` value is well-formed."""
    resolve_xref(xref, root, where)
