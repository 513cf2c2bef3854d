"""Error hierarchy of the GTS layer.

Why: callers (registry, server, CLI) catch one base class, ``GtsError``, and every
subclass message names the offending id, token, field path or schema, so a problem
document can be built from ``str(exc)`` alone.
"""

from __future__ import annotations

__all__ = [
    "GtsError",
    "GtsIdError",
    "GtsNotFoundError",
    "GtsPatternError",
    "GtsQueryError",
    "GtsSchemaError",
    "GtsValidationError",
]


class GtsError(Exception):
    """Base of everything the GTS layer raises on bad input."""


class GtsIdError(GtsError):
    """An identifier is not a valid GTS id; the message names the id and the fault."""

    def __init__(
        self, message: str, *, gts_id: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.gts_id = gts_id
        self.reason = reason


class GtsPatternError(GtsError):
    """A wildcard pattern is malformed; the message names the pattern and the fault."""

    def __init__(
        self, message: str, *, pattern: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.pattern = pattern
        self.reason = reason


class GtsQueryError(GtsError):
    """A query expression (OP#10) or attribute selector (OP#11) is malformed."""


class GtsSchemaError(GtsError):
    """A schema document is malformed (bad ``$id``, ``$ref``, ``x-gts-*`` keyword...)."""


class GtsValidationError(GtsError):
    """An instance, derivation or traits validation failed."""


class GtsNotFoundError(GtsError):
    """An id is not known to a store."""
