"""The Types Registry: two phases, idempotent registration, validation, queries, events.

Phase one (configuration): modules register freely in any order; only the id and the form of
each document are checked, and every accepted write is durable at once. ``switch_to_ready()``
validates everything together and reports the complete list of problems. Phase two (ready):
each registration is validated at once against everything already registered; a rejected one
leaves the registry exactly as it was.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from plugway.gts import GtsError, GtsStore

from ._backend import EntityRow, RegistryBackend, ScanQuery, StoredRow, prefix_upper_bound
from ._builtin import PLUGIN_BASE_TYPE_ID, plugin_base_schema
from ._checks import EntityChecks
from ._entity import Entity, EntityPage, EntityQuery, RegistrationResult, RegistryEvent
from ._errors import (
    RegistryConflictError,
    RegistryError,
    RegistryInUseError,
    RegistryInvalidEntityError,
    RegistryNotFoundError,
    RegistryNotReadyError,
    RegistryProblem,
    RegistryStorageError,
    RegistryValidationError,
)
from ._normalize import normalize
from ._query import encode_cursor, to_scans

Listener = Callable[[RegistryEvent], None]

_log = logging.getLogger("plugway.registry")


@dataclass(slots=True)
class _Item:
    """Book-keeping for one document of a registration call."""

    row: EntityRow | None = None
    doc: Mapping[str, Any] | None = None
    error: RegistryError | None = None
    created: bool = False
    stored: StoredRow | None = None  # what the registry holds for this id after the call
    entity: Entity | None = None  # built only when someone needs it (a listener, register())


def _endpoint_moved(old: str, new: str) -> bool:
    """True when two instance documents differ only in their ``endpoint`` (both having one):
    a re-registration of an out-of-process plugin whose host now listens elsewhere replaces
    the stored instance instead of being refused as a conflict."""
    if old == new:
        return False
    try:
        a, b = json.loads(old), json.loads(new)
    except ValueError:
        return False
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return False
    if not (isinstance(a.get("endpoint"), dict) and isinstance(b.get("endpoint"), dict)):
        return False
    a.pop("endpoint")
    b.pop("endpoint")
    return bool(a == b)


class TypesRegistry:
    """The registry over one :class:`RegistryBackend`; safe to call from several threads."""

    def __init__(self, backend: RegistryBackend, *, logger: logging.Logger | None = None) -> None:
        self._backend = backend
        self._log = logger or _log
        self._checks = EntityChecks(backend, self._log)
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._ready = False
        self._store: GtsStore | None = None
        self._closed = False
        self._install_builtin()

    # ------------------------------------------------------------------ state

    @property
    def is_ready(self) -> bool:
        return self._ready

    @property
    def backend(self) -> RegistryBackend:
        return self._backend

    @property
    def revision(self) -> int:
        """The latest revision written; grows with every change."""
        return self._backend.revision()

    def require_ready(self) -> None:
        """Raise :class:`RegistryNotReadyError` unless ``switch_to_ready()`` has succeeded."""
        if not self._ready:
            raise RegistryNotReadyError("the types registry is not ready yet")

    def count(self) -> int:
        return self._backend.count()

    def _check_open(self) -> None:
        if self._closed:
            raise RegistryError("the types registry is closed")

    def _install_builtin(self) -> None:
        """Register the plugin base type; the registry owns it, so an old copy is replaced."""
        row = normalize(plugin_base_schema())
        with self._lock:
            stored = self._backend.get(row.gts_id)
            if stored is not None and stored.row.content == row.content:
                return
            if stored is not None:
                self._log.warning("replacing outdated built-in type %s", row.gts_id)
            self._backend.put_many([row])

    # ------------------------------------------------------------- registering

    def register(self, doc: Mapping[str, Any]) -> Entity:
        """Register one entity; idempotent for identical content.

        Raises :class:`RegistryConflictError` for different content under the same id,
        :class:`RegistryInvalidEntityError` for a bad id or document and, once ready,
        :class:`RegistryValidationError` naming the id and the problem.
        """
        (item,) = self._register([doc])
        if item.error is not None:
            raise item.error
        if item.entity is not None:
            return item.entity
        assert item.stored is not None
        return item.stored.row.to_entity(item.stored.revision)

    def register_many(
        self,
        docs: Sequence[Mapping[str, Any]],
        *,
        dispatch: Callable[[Callable[[], None]], object] | None = None,
    ) -> list[RegistrationResult]:
        """Register a batch in one transaction; one result per item, in input order.

        Items are independent: a bad one does not stop the others. After ready, an item may
        refer to an item earlier in the same batch. Raises only :class:`RegistryStorageError`
        (then nothing of the batch was written).

        ``dispatch`` decides where listeners run: by default in this thread, before this returns;
        a caller that registers from a worker thread passes e.g. ``loop.call_soon_threadsafe``
        so that listeners keep running on the event loop.
        """
        out: list[RegistrationResult] = []
        for item in self._register(docs, dispatch):
            gid = item.row.gts_id if item.row is not None else None
            if item.error is not None:
                if gid is None:
                    gid = getattr(item.error, "gts_id", None)
                out.append(
                    RegistrationResult(
                        gts_id=gid,
                        ok=False,
                        created=False,
                        error=str(item.error),
                        code=item.error.code,
                    )
                )
            else:
                stored = item.stored
                assert stored is not None
                out.append(
                    RegistrationResult(
                        gts_id=gid,
                        ok=True,
                        created=item.created,
                        error=None,
                        code=None,
                        entity=item.entity,
                        load=functools.partial(stored.row.to_entity, stored.revision),
                    )
                )
        return out

    def _register(
        self,
        docs: Sequence[Mapping[str, Any]],
        dispatch: Callable[[Callable[[], None]], object] | None = None,
    ) -> list[_Item]:
        items: list[_Item] = []
        for doc in docs:
            try:
                items.append(_Item(row=normalize(doc), doc=doc))
            except RegistryError as exc:
                items.append(_Item(error=exc))
        events: list[RegistryEvent] = []
        with self._lock:
            self._check_open()
            existing = self._backend.get_many([it.row.gts_id for it in items if it.row is not None])
            pending: dict[str, _Item] = {}
            replacing: dict[str, str] = {}  # moved instances: the content being replaced
            for it in items:
                if it.row is None:
                    continue
                gid = it.row.gts_id
                moved: EntityRow | None = None
                earlier = pending.get(gid)
                old = earlier.row if earlier is not None else None
                old_rev = 0
                if old is None and gid in existing:
                    old, old_rev = existing[gid].row, existing[gid].revision
                if old is not None:
                    if earlier is None and _endpoint_moved(old.content, it.row.content):
                        # a plugin host restarted elsewhere (a new port): the instance moves
                        moved = old
                        self._discard(gid)
                    elif old.content != it.row.content:
                        it.error = RegistryConflictError(gid)
                        continue
                    elif earlier is None:
                        it.stored = StoredRow(old, old_rev)
                        continue
                    else:
                        continue  # an in-batch duplicate, filled in once the batch is written
                if self._ready:
                    problem = self._admit(it.row, it.doc)
                    if problem is not None:
                        it.error = RegistryValidationError([RegistryProblem(gid, problem)])
                        if moved is not None:  # the stored instance stays as it was
                            self._admit(moved, json.loads(moved.content))
                        continue
                it.created = True
                pending[gid] = it
                if moved is not None:
                    replacing[gid] = moved.content
            while True:
                new_items = list(pending.values())
                try:
                    revs = self._backend.put_many(
                        [it.row for it in new_items if it.row is not None], replacing=replacing
                    )
                    break
                except RegistryConflictError as exc:
                    # another writer sharing the backend (a replica) stored other content under
                    # this id meanwhile: that item is a conflict, the rest are written
                    refused = pending.pop(exc.gts_id, None)
                    if refused is None:
                        raise
                    self._discard(exc.gts_id)
                    replacing.pop(exc.gts_id, None)
                    refused.error, refused.created = exc, False
                except BaseException:
                    # nothing was written: take the batch back out of the live store too
                    for it in new_items:
                        assert it.row is not None
                        self._discard(it.row.gts_id)
                    raise
            notify = bool(self._listeners)  # no listener: no entity to build for an event
            for it, rev in zip(new_items, revs, strict=True):
                assert it.row is not None
                it.stored = StoredRow(it.row, rev)
                if notify:
                    it.entity = it.row.to_entity(rev)
                    events.append(RegistryEvent("registered", it.row.gts_id, it.entity, rev))
            for it in items:  # in-batch duplicates share the first item's stored row
                if it.error is None and it.stored is None and it.row is not None:
                    first = pending[it.row.gts_id]
                    it.stored, it.entity = first.stored, first.entity
        if dispatch is None or not events:
            self._emit(events)
        else:
            dispatch(functools.partial(self._emit, events))
        return items

    # -------------------------------------------------------------- validation

    def _admit(self, row: EntityRow, doc: Mapping[str, Any] | None) -> str | None:
        """Ready phase: validate against the live store and add to it, or explain and undo."""
        store = self._store
        assert store is not None and doc is not None
        problem = self._checks.validate(store, row, json.loads(row.content))
        if problem is not None:
            self._discard(row.gts_id)
        return problem

    def _discard(self, gts_id: str) -> None:
        if self._store is None:
            return
        with contextlib.suppress(GtsError):
            self._store.remove(gts_id)

    def switch_to_ready(self) -> None:
        """Validate everything together; on success every later registration is checked at once.

        Raises :class:`RegistryValidationError` with every problem found (each naming its id);
        the registry then stays in the configuration phase, unchanged. Calling it again once
        ready does nothing.
        """
        with self._lock:
            self._check_open()
            if self._ready:
                return
            store = GtsStore()
            problems: list[RegistryProblem] = []
            rows: list[StoredRow] = list(self._backend.iter_all())
            loaded: list[tuple[EntityRow, dict[str, Any]]] = []
            for stored in rows:
                doc = json.loads(stored.row.content)
                try:
                    store.register(doc)
                except GtsError as exc:
                    problems.append(RegistryProblem(stored.row.gts_id, str(exc)))
                    continue
                loaded.append((stored.row, doc))
            loaded.sort(key=lambda rd: (not rd[0].is_type, rd[0].gts_id))  # types first
            for row, doc in loaded:
                problem = self._checks.validate(store, row, doc)
                if problem is not None:
                    problems.append(RegistryProblem(row.gts_id, problem))
            if problems:
                raise RegistryValidationError(problems)
            self._store = store
            self._ready = True
            rev = self._backend.revision()
        self._log.info("types registry ready with %d entities", len(rows))
        self._emit([RegistryEvent("ready", None, None, rev)])

    # ---------------------------------------------------------------- removing

    def remove(self, gts_id: str) -> None:
        """Remove one entity.

        Refused with :class:`RegistryInUseError` for the built-in base type and, once ready,
        for a type that other registered entities derive from or instantiate.
        """
        if gts_id == PLUGIN_BASE_TYPE_ID:
            raise RegistryInUseError(gts_id, f"{gts_id}: built-in type, cannot be removed")
        with self._lock:
            self._check_open()
            if self._backend.get(gts_id) is None:
                raise RegistryNotFoundError(gts_id)
            if self._ready and gts_id.endswith("~"):
                dependents = [
                    s.row.gts_id
                    for s in self._backend.scan(
                        ScanQuery(lo=gts_id, hi=prefix_upper_bound(gts_id), after=gts_id, limit=4)
                    )
                ]
                if dependents:
                    raise RegistryInUseError(
                        gts_id,
                        f"{gts_id}: cannot be removed, other entities depend on it "
                        f"(e.g. {', '.join(dependents[:3])})",
                    )
            rev = self._backend.delete(gts_id)
            if rev is None:
                raise RegistryNotFoundError(gts_id)
            self._discard(gts_id)
        self._emit([RegistryEvent("removed", gts_id, None, rev)])

    # ----------------------------------------------------------------- reading

    def get(self, gts_id: str) -> Entity:
        """The entity with that id; :class:`RegistryNotFoundError` if there is none.

        Reads work in both phases; before ready they may return entities not yet validated
        (the REST layer answers 503 until ready, see :meth:`require_ready`).
        """
        if not isinstance(gts_id, str):
            raise RegistryInvalidEntityError(f"{gts_id!r}: a GTS id must be a string")
        self._check_open()
        stored = self._backend.get(gts_id)
        if stored is None:
            raise RegistryNotFoundError(gts_id)
        return stored.row.to_entity(stored.revision)

    def list(self, query: EntityQuery) -> EntityPage:
        """One page of entities matching ``query``, ordered by gts_id.

        A malformed pattern, cursor, limit or filter is :class:`RegistryQueryError`, never an
        unfiltered list. Pattern queries scan only the id range of the pattern's literal prefix.
        """
        scans = to_scans(query)
        self._check_open()
        rows: list[StoredRow] = []
        want = query.limit + 1
        for scan in scans:
            if len(rows) >= want:
                break
            if len(rows):
                scan = replace(scan, limit=want - len(rows))
            rows.extend(self._backend.scan(scan))
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        items = tuple(s.row.to_entity(s.revision) for s in rows)
        cursor = encode_cursor(query, rows[-1].row.gts_id) if more and rows else None
        return EntityPage(items=items, next_cursor=cursor)

    # ------------------------------------------------------------------ events

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns a function that unsubscribes it.

        Listeners run in the thread that made the change, after the registry's lock is released
        (so they may call the registry). A listener that raises is logged and does not affect
        the registry or the other listeners.
        """
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, events: Sequence[RegistryEvent]) -> None:
        if not events:
            return
        with self._lock:
            listeners = tuple(self._listeners)
        for event in events:
            for listener in listeners:
                try:
                    listener(event)
                except Exception:
                    self._log.exception(
                        "registry listener %r failed on %s event for %s",
                        listener,
                        event.kind,
                        event.gts_id,
                    )

    # ---------------------------------------------------------------- closing

    def close(self) -> None:
        """Close the backend (for SQLite: checkpoint and close the file). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._backend.close()
            except RegistryStorageError:
                self._log.exception("closing the registry backend failed")

    def __enter__(self) -> TypesRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
