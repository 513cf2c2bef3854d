"""Values that cross the registry boundary: entities, queries, pages, results, events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import FrozenInstanceError, dataclass
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


class RegistrationResult:
    """Outcome of one item of a bulk registration (input order is kept); immutable.

    ``created`` is False for an idempotent re-registration. On failure ``error`` is the message
    and ``code`` the stable error code of the matching :class:`RegistryError` subclass.
    ``entity`` is the stored entity of an ok item. The registry builds it on first access: most
    bulk callers (the REST face) never read it, and decoding every stored document again would
    cost a fifth of a bulk registration.
    """

    __slots__ = ("_entity", "_load", "code", "created", "error", "gts_id", "ok")

    gts_id: str | None
    ok: bool
    created: bool
    error: str | None
    code: str | None
    _entity: Entity | None
    _load: Callable[[], Entity] | None

    def __init__(
        self,
        gts_id: str | None,
        ok: bool,
        created: bool,
        error: str | None,
        code: str | None,
        entity: Entity | None = None,
        *,
        load: Callable[[], Entity] | None = None,
    ) -> None:
        init = object.__setattr__
        init(self, "gts_id", gts_id)
        init(self, "ok", ok)
        init(self, "created", created)
        init(self, "error", error)
        init(self, "code", code)
        init(self, "_entity", entity)
        init(self, "_load", None if entity is not None else load)

    @property
    def entity(self) -> Entity | None:
        entity: Entity | None = self._entity
        if entity is None and self._load is not None:
            entity = self._load()
            object.__setattr__(self, "_entity", entity)
            object.__setattr__(self, "_load", None)
        return entity

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _key(self) -> tuple[object, ...]:
        return (self.gts_id, self.ok, self.created, self.error, self.code, self.entity)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, RegistrationResult)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"RegistrationResult(gts_id={self.gts_id!r}, ok={self.ok!r}, "
            f"created={self.created!r}, error={self.error!r}, code={self.code!r}, "
            f"entity={self.entity!r})"
        )


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """A change notification. ``registered`` fires only when something was created."""

    kind: Literal["registered", "removed", "ready"]
    gts_id: str | None
    entity: Entity | None
    revision: int = 0
