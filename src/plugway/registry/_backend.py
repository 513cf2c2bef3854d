"""The storage interface every backend implements (memory, SQLite, PostgreSQL).

Backends store rows and answer range scans; they know nothing of validation or phases. The
registry serialises writes with its own lock, but backends must also be safe to call from
several threads (reads may run concurrently with the registry's writes).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ._entity import Entity, SegmentScope


@dataclass(frozen=True, slots=True)
class EntityRow:
    """What a backend stores for one entity; ``content`` is canonical JSON text."""

    gts_id: str
    is_type: bool
    type_id: str | None
    vendor: str
    package: str
    namespace: str
    content: str
    segments: str  # "|v:acme|p:pkg|n:ns|v:…|" for any-segment filters

    def to_entity(self, revision: int) -> Entity:
        content: dict[str, Any] = json.loads(self.content)
        return Entity(
            gts_id=self.gts_id,
            is_type=self.is_type,
            type_id=self.type_id,
            vendor=self.vendor,
            package=self.package,
            namespace=self.namespace,
            content=content,
            revision=revision,
        )


@dataclass(frozen=True, slots=True)
class StoredRow:
    """A row as read back: the row and the revision of the write that stored it."""

    row: EntityRow
    revision: int


@dataclass(frozen=True, slots=True)
class ScanQuery:
    """A backend scan: ``lo <= gts_id < hi`` and ``gts_id > after``, then the filters.

    ``matches`` is the exact pattern test applied to each id in the range; ``pattern_text`` is the
    same pattern as text (SQL backends evaluate it in the database). Results are ordered by gts_id
    and at most ``limit`` rows are returned.
    """

    lo: str | None = None
    hi: str | None = None
    after: str | None = None
    pattern_text: str | None = None
    matches: Callable[[str], bool] | None = None
    is_type: bool | None = None
    vendor: str | None = None
    package: str | None = None
    namespace: str | None = None
    segment_scope: SegmentScope = "any"
    limit: int = 100


@runtime_checkable
class RegistryBackend(Protocol):
    """Persistence for the Types Registry.

    Writes are atomic per call: ``put_many`` and ``delete`` either store everything they were
    given or nothing, and are durable when they return (for persistent backends).
    """

    def get(self, gts_id: str) -> StoredRow | None:
        """The stored row, or None."""
        ...

    def get_many(self, gts_ids: Sequence[str]) -> Mapping[str, StoredRow]:
        """The stored rows among ``gts_ids`` (missing ids are absent from the result)."""
        ...

    def put_many(
        self, rows: Sequence[EntityRow], *, replacing: Mapping[str, str] | None = None
    ) -> list[int]:
        """Insert or replace ``rows`` in one transaction; returns each row's new revision.

        ``replacing`` maps the ids the caller means to overwrite to the content it expects to
        find. A backend shared by several processes refuses, with RegistryConflictError naming
        the id and writing nothing, a row whose stored content is neither that nor the new one
        (another writer registered other content meanwhile); a single-process backend may
        ignore it, since the registry's lock already orders its writers."""
        ...

    def delete(self, gts_id: str) -> int | None:
        """Delete one row in one transaction; its revision, or None if it was absent."""
        ...

    def scan(self, query: ScanQuery) -> list[StoredRow]:
        """Rows satisfying ``query``, ordered by gts_id, at most ``query.limit``."""
        ...

    def iter_all(self) -> Iterator[StoredRow]:
        """Every row, ordered by gts_id."""
        ...

    def count(self) -> int:
        """Number of stored entities."""
        ...

    def revision(self) -> int:
        """The latest revision written (0 for an empty store)."""
        ...

    def close(self) -> None:
        """Release resources; further calls are errors."""
        ...


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``.

    Strings ``s`` with ``prefix <= s < bound`` are exactly those that start with ``prefix`` under
    code-point order, which is also SQLite's BINARY order on UTF-8 text. None means unbounded.
    """
    p = prefix
    while p:
        last = ord(p[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:  # skip surrogates: not encodable in UTF-8
                nxt = 0xE000
            return p[:-1] + chr(nxt)
        p = p[:-1]
    return None


def segment_filter_ok(
    row: EntityRow,
    vendor: str | None,
    package: str | None,
    namespace: str | None,
    scope: SegmentScope,
) -> bool:
    """The vendor/package/namespace filters, for backends that filter in Python."""
    if scope == "primary":
        return (
            (vendor is None or row.vendor == vendor)
            and (package is None or row.package == package)
            and (namespace is None or row.namespace == namespace)
        )
    segs = row.segments
    return (
        (vendor is None or f"|v:{vendor}|" in segs)
        and (package is None or f"|p:{package}|" in segs)
        and (namespace is None or f"|n:{namespace}|" in segs)
    )


def scan_filters(
    query: ScanQuery, mark: str, contains: str, is_type: Callable[[bool], Any] = bool
) -> tuple[list[str], list[Any]]:
    """The SQL conditions and arguments of ``query``'s id range and column filters (the
    pattern test is the backend's own): ``mark`` is the driver's placeholder, ``contains`` the
    SQL of "the segments text contains the argument" with one ``{mark}``."""
    where: list[str] = []
    args: list[Any] = []
    for cond, value in (
        (f"gts_id >= {mark}", query.lo),
        (f"gts_id < {mark}", query.hi),
        (f"gts_id > {mark}", query.after),
    ):
        if value is not None:
            where.append(cond)
            args.append(value)
    if query.is_type is not None:
        where.append(f"is_type = {mark}")
        args.append(is_type(query.is_type))
    for col, tag, value in (
        ("vendor", "v", query.vendor),
        ("package", "p", query.package),
        ("namespace", "n", query.namespace),
    ):
        if value is None:
            continue
        if query.segment_scope == "primary":
            where.append(f"{col} = {mark}")
            args.append(value)
        else:
            where.append(contains)
            args.append(f"|{tag}:{value}|")
    return where, args


def stored_from_sql(r: tuple[Any, ...]) -> StoredRow:
    """A row read by ``SELECT gts_id, is_type, type_id, vendor, package, namespace, segments,
    content, revision`` (the column order both SQL backends use)."""
    return StoredRow(
        EntityRow(
            gts_id=r[0],
            is_type=bool(r[1]),
            type_id=r[2],
            vendor=r[3],
            package=r[4],
            namespace=r[5],
            segments=r[6],
            content=r[7],
        ),
        int(r[8]),
    )
