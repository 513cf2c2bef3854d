"""OP#8: compatibility between minor versions of one GTS type.

Backward compatibility means a reader holding the *new* schema accepts everything written with
the *old* one; forward compatibility is the reverse; full is both. Both directions reduce to one
question, "is every document valid under A also valid under B?", asked of the *effective*
schemas (``allOf`` and ``gts://`` refs inlined).

The question itself, and how it is answered: :mod:`._subschema`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plugway.gts._errors import GtsError, GtsIdError, GtsNotFoundError, GtsSchemaError
from plugway.gts._ids import GtsId
from plugway.gts._refs import SchemaResolver
from plugway.gts._subschema import effective_schema, is_subschema, minorless_key

__all__ = ["CompatibilityReport", "check_compatibility", "same_type_family"]


@dataclass(frozen=True, slots=True)
class CompatibilityReport:
    """Outcome of OP#8; the error tuples say which rule failed in which direction, and where."""

    old_type_id: str
    new_type_id: str
    is_backward_compatible: bool
    is_forward_compatible: bool
    backward_errors: tuple[str, ...] = ()
    forward_errors: tuple[str, ...] = ()
    error: str = ""

    @property
    def is_fully_compatible(self) -> bool:
        return self.is_backward_compatible and self.is_forward_compatible

    def to_dict(self) -> dict[str, Any]:
        """The shape the conformance API answers with."""
        return {
            "old": self.old_type_id,
            "new": self.new_type_id,
            "old_type_id": self.old_type_id,
            "new_type_id": self.new_type_id,
            "is_backward_compatible": self.is_backward_compatible,
            "is_forward_compatible": self.is_forward_compatible,
            "is_fully_compatible": self.is_fully_compatible,
            "backward_errors": list(self.backward_errors),
            "forward_errors": list(self.forward_errors),
            "error": self.error,
        }


# --------------------------------------------------------------------------------------------
# OP#8 entry point


def same_type_family(old_type_id: str, new_type_id: str) -> bool:
    """True when the two type ids differ at most in their minor versions (same major)."""
    return minorless_key(old_type_id) is not None and minorless_key(old_type_id) == minorless_key(
        new_type_id
    )


def check_compatibility(
    old_type_id: str, new_type_id: str, resolve: SchemaResolver
) -> CompatibilityReport:
    """OP#8 over two registered type schemas. Problems are reported in the report, not raised."""
    try:
        for text in (old_type_id, new_type_id):
            gid = GtsId.parse(text)
            if not gid.is_type:
                raise GtsIdError(f"{text} is not a type id (it must end with '~')")
        old_doc, new_doc = resolve(old_type_id), resolve(new_type_id)
        missing = [t for t, d in ((old_type_id, old_doc), (new_type_id, new_doc)) if d is None]
        if missing:
            raise GtsNotFoundError(f"type schema not registered: {', '.join(missing)}")
        assert old_doc is not None and new_doc is not None
        if not same_type_family(old_type_id, new_type_id):
            raise GtsSchemaError(
                f"{old_type_id} and {new_type_id} are not minor versions of one type"
                " (a major version change is breaking by definition)"
            )
        old_eff = effective_schema(old_doc, resolve)
        new_eff = effective_schema(new_doc, resolve)
    except GtsError as exc:
        return CompatibilityReport(old_type_id, new_type_id, False, False, error=str(exc))
    backward = tuple(is_subschema(old_eff, new_eff))
    forward = tuple(is_subschema(new_eff, old_eff))
    return CompatibilityReport(
        old_type_id,
        new_type_id,
        is_backward_compatible=not backward,
        is_forward_compatible=not forward,
        backward_errors=backward,
        forward_errors=forward,
    )
