"""Errors of the registry layer.

One base class (:class:`RegistryError`) so callers can catch the whole layer; each subclass carries
a stable ``code`` that the REST layer turns into a problem document, and a message that names the
offending GTS id, pattern or cursor.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RegistryProblem:
    """One validation problem: which entity, and what is wrong with it."""

    gts_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.gts_id}: {self.message}"


class RegistryError(Exception):
    """Base of every error the registry raises on bad input or a failed operation."""

    code: str = "TYPES_REGISTRY_INTERNAL"


class RegistryInvalidEntityError(RegistryError):
    """The document is not an entity: no valid GTS id, not a JSON object, not JSON-serialisable."""

    code = "TYPES_REGISTRY_INVALID_GTS_ID"

    def __init__(self, message: str, gts_id: str | None = None) -> None:
        super().__init__(message)
        self.gts_id = gts_id


class RegistryInvalidContentError(RegistryInvalidEntityError):
    """The document cannot be stored as text: e.g. a lone surrogate (``"\\ud800"``), which JSON
    can spell but UTF-8 cannot encode. ``field`` is the path of the offending value."""

    code = "TYPES_REGISTRY_INVALID_CONTENT"

    def __init__(self, message: str, gts_id: str | None, field: str) -> None:
        super().__init__(message, gts_id)
        self.field = field


class RegistryConflictError(RegistryError):
    """The id is already registered with different content."""

    code = "TYPES_REGISTRY_ALREADY_EXISTS"

    def __init__(self, gts_id: str, message: str | None = None) -> None:
        super().__init__(message or f"{gts_id}: already registered with different content")
        self.gts_id = gts_id


class RegistryInUseError(RegistryConflictError):
    """The entity cannot be removed: other entities derive from it or it is built in."""

    code = "TYPES_REGISTRY_IN_USE"


class RegistryValidationError(RegistryError):
    """Validation failed; ``problems`` is the complete list, each naming its GTS id."""

    code = "TYPES_REGISTRY_VALIDATION_FAILED"

    def __init__(self, problems: tuple[RegistryProblem, ...] | list[RegistryProblem]) -> None:
        self.problems: tuple[RegistryProblem, ...] = tuple(problems)
        shown = "; ".join(str(p) for p in self.problems[:20])
        more = len(self.problems) - 20
        suffix = f"; … and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.problems)} validation problem(s): {shown}{suffix}")


class RegistryQueryError(RegistryError):
    """A malformed query (pattern, cursor, limit); never answered with an unfiltered list.

    ``field`` names the offending :class:`EntityQuery` field (``"pattern"``, ``"cursor"``, …).
    """

    code = "TYPES_REGISTRY_INVALID_QUERY"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RegistryNotFoundError(RegistryError):
    """No entity with that id."""

    code = "TYPES_REGISTRY_NOT_FOUND"

    def __init__(self, gts_id: str) -> None:
        super().__init__(f"{gts_id}: not found")
        self.gts_id = gts_id


class RegistryNotReadyError(RegistryError):
    """Not switched to ready yet (raised by :meth:`TypesRegistry.require_ready`)."""

    code = "TYPES_REGISTRY_NOT_READY"


class RegistryStorageError(RegistryError):
    """The backend failed (disk, database file, database server unreachable); nothing of the
    failed call was written, and the same call may succeed once storage is back."""

    code = "TYPES_REGISTRY_STORAGE_UNAVAILABLE"
