"""Values that cross the registry boundary: entities, queries, pages, results, events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Entity:
    """A stored GTS entity (type schema or instance).

    ``vendor``/``package``/``namespace`` are those of the id's first (primary) segment.
    ``revision`` is the registry-wide revision of the write that stored it: it only grows, so
    listeners and pollers can order changes. ``content`` is a fresh copy; mutating it changes
    nothing in the registry.
    """

    gts_id: str
    is_type: bool
    type_id: str | None
    vendor: str
    package: str
    namespace: str
    content: Mapping[str, Any]
    revision: int


SegmentScope = Literal["primary", "any"]


@dataclass(frozen=True, slots=True)
class EntityQuery:
    """A list query; all filters combine with AND.

    ``pattern`` is a GTS pattern (OP#4 semantics). ``vendor``/``package``/``namespace`` match the
    primary segment (``segment_scope="primary"``) or any segment of the chain (``"any"``, the
    default, as in HyperSpot). ``cursor`` is the opaque ``next_cursor`` of the previous page of
    the *same* query.
    """

    pattern: str | None = None
    is_type: bool | None = None
    vendor: str | None = None
    package: str | None = None
    namespace: str | None = None
    limit: int = 100
    cursor: str | None = None
    segment_scope: SegmentScope = "any"


@dataclass(frozen=True, slots=True)
class EntityPage:
    """One page of results, ordered by gts_id; ``next_cursor`` is None on the last page."""

    items: tuple[Entity, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RegistrationResult:
    """Outcome of one item of a bulk registration (input order is kept).

    ``created`` is False for an idempotent re-registration. On failure ``error`` is the message
    and ``code`` the stable error code of the matching :class:`RegistryError` subclass.
    """

    gts_id: str | None
    ok: bool
    created: bool
    error: str | None
    code: str | None
    entity: Entity | None = None


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """A change notification. ``registered`` fires only when something was created."""

    kind: Literal["registered", "removed", "ready"]
    gts_id: str | None
    entity: Entity | None
    revision: int = 0
