"""Routing revisions: each applied routing change is persisted (who, what, when), can be undone.

A store also remembers the routing the config file stated when it was last read, so that a
restart can tell "the file changed while stopped" (apply it) from "the file is as it was"
(keep the latest revision, which an admin may have made), however long the history is.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from .errors import PluginError, RevisionNotFoundError

__all__ = [
    "MemoryRevisionStore",
    "RevisionStore",
    "RevisionStoreError",
    "RoutingRevision",
    "SqliteRevisionStore",
]


class RevisionStoreError(PluginError):
    """The revision store could not be read or written (message names gateway and file)."""


@dataclass(frozen=True, slots=True)
class RoutingRevision:
    """One applied routing of a gateway: its number (1, 2, ...), the document, who, what, when."""

    gateway: str
    number: int
    routing: Mapping[str, Any] = field(hash=False)
    who: str
    what: str
    at: datetime

    @property
    def when(self) -> datetime:
        """When the revision was applied (UTC); same as ``at``."""
        return self.at


def _freeze(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    # a deep copy through JSON: revisions never share state with the caller's document
    return MappingProxyType(json.loads(json.dumps(dict(doc))))


@runtime_checkable
class RevisionStore(Protocol):
    """Where a gateway's routing revisions live. Sync: SQLite calls take microseconds."""

    def append(
        self, gateway: str, routing: Mapping[str, Any], *, who: str, what: str
    ) -> RoutingRevision: ...

    def latest(self, gateway: str, *, who: Collection[str] | None = None) -> RoutingRevision | None:
        """The newest revision (only among those written by ``who``, if given)."""
        ...

    def get(self, gateway: str, number: int) -> RoutingRevision: ...

    def list(
        self, gateway: str, *, limit: int = 50, exclude_who: Collection[str] = ()
    ) -> list[RoutingRevision]:
        """Newest first, leaving out revisions written by ``exclude_who``."""
        ...

    def config_routing(self, gateway: str) -> Mapping[str, Any] | None:
        """The routing the config file stated when last read (None: never recorded)."""
        ...

    def remember_config_routing(self, gateway: str, routing: Mapping[str, Any]) -> None:
        """Record the routing the config file states now (see :meth:`config_routing`)."""
        ...

    def close(self) -> None: ...


class MemoryRevisionStore:
    """Revisions in a dict: for tests and for servers that need no history across restarts."""

    def __init__(self) -> None:
        self._revs: dict[str, list[RoutingRevision]] = {}
        self._config: dict[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()

    def append(
        self, gateway: str, routing: Mapping[str, Any], *, who: str, what: str
    ) -> RoutingRevision:
        with self._lock:
            revs = self._revs.setdefault(gateway, [])
            rev = RoutingRevision(
                gateway, len(revs) + 1, _freeze(routing), who, what, datetime.now(UTC)
            )
            revs.append(rev)
            return rev

    def latest(self, gateway: str, *, who: Collection[str] | None = None) -> RoutingRevision | None:
        for rev in reversed(self._revs.get(gateway, ())):
            if who is None or rev.who in who:
                return rev
        return None

    def get(self, gateway: str, number: int) -> RoutingRevision:
        revs = self._revs.get(gateway, [])
        if not 1 <= number <= len(revs):
            raise RevisionNotFoundError(gateway, number)
        return revs[number - 1]

    def list(
        self, gateway: str, *, limit: int = 50, exclude_who: Collection[str] = ()
    ) -> list[RoutingRevision]:
        newest = (r for r in reversed(self._revs.get(gateway, [])) if r.who not in exclude_who)
        return [rev for _, rev in zip(range(max(limit, 0)), newest, strict=False)]

    def config_routing(self, gateway: str) -> Mapping[str, Any] | None:
        return self._config.get(gateway)

    def remember_config_routing(self, gateway: str, routing: Mapping[str, Any]) -> None:
        with self._lock:
            self._config[gateway] = _freeze(routing)

    def close(self) -> None:
        """Nothing to release."""


_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS routing_revisions (
        gateway TEXT NOT NULL,
        number INTEGER NOT NULL,
        routing TEXT NOT NULL,
        who TEXT NOT NULL,
        what TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (gateway, number)
    )
    """,
    # the newest revision of one writer (the config file) without scanning the history
    "CREATE INDEX IF NOT EXISTS routing_revisions_by_who "
    "ON routing_revisions (gateway, who, number)",
    """
    CREATE TABLE IF NOT EXISTS config_routing (
        gateway TEXT PRIMARY KEY,
        routing TEXT NOT NULL,
        at TEXT NOT NULL
    )
    """,
)


class SqliteRevisionStore:
    """Revisions in an SQLite file, so a restart comes back on the latest routing.

    WAL with ``synchronous=FULL``, as durable as the registry: an acknowledged routing change
    survives a power cut, not only a crash of the process.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            for statement in _SCHEMA:
                self._db.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise RevisionStoreError(f"cannot open revision store {self.path}: {exc}") from exc

    @staticmethod
    def _row(row: tuple[str, int, str, str, str, str]) -> RoutingRevision:
        gateway, number, routing, who, what, at = row
        return RoutingRevision(
            gateway,
            number,
            MappingProxyType(json.loads(routing)),
            who,
            what,
            datetime.fromisoformat(at),
        )

    def append(
        self, gateway: str, routing: Mapping[str, Any], *, who: str, what: str
    ) -> RoutingRevision:
        text = json.dumps(dict(routing), sort_keys=True)
        at = datetime.now(UTC)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    (last,) = self._db.execute(
                        "SELECT COALESCE(MAX(number), 0) FROM routing_revisions WHERE gateway = ?",
                        (gateway,),
                    ).fetchone()
                    number = int(last) + 1
                    self._db.execute(
                        "INSERT INTO routing_revisions VALUES (?, ?, ?, ?, ?, ?)",
                        (gateway, number, text, who, what, at.isoformat()),
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise RevisionStoreError(
                    f"cannot write a revision of gateway {gateway!r} to {self.path}: {exc}"
                ) from exc
        return RoutingRevision(gateway, number, MappingProxyType(json.loads(text)), who, what, at)

    def _query(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise RevisionStoreError(f"cannot read revisions from {self.path}: {exc}") from exc

    def latest(self, gateway: str, *, who: Collection[str] | None = None) -> RoutingRevision | None:
        if who is None:
            rows = self._query(
                "SELECT * FROM routing_revisions WHERE gateway = ? ORDER BY number DESC LIMIT 1",
                (gateway,),
            )
        else:
            writers = sorted(set(who))
            marks = ", ".join("?" * len(writers))
            rows = self._query(
                f"SELECT * FROM routing_revisions WHERE gateway = ? AND who IN ({marks}) "
                "ORDER BY number DESC LIMIT 1",
                (gateway, *writers),
            )
        return self._row(rows[0]) if rows else None

    def get(self, gateway: str, number: int) -> RoutingRevision:
        rows = self._query(
            "SELECT * FROM routing_revisions WHERE gateway = ? AND number = ?", (gateway, number)
        )
        if not rows:
            raise RevisionNotFoundError(gateway, number)
        return self._row(rows[0])

    def list(
        self, gateway: str, *, limit: int = 50, exclude_who: Collection[str] = ()
    ) -> list[RoutingRevision]:
        left_out = sorted(set(exclude_who))
        marks = ", ".join("?" * len(left_out))
        where = f" AND who NOT IN ({marks})" if left_out else ""
        rows = self._query(
            f"SELECT * FROM routing_revisions WHERE gateway = ?{where} "
            "ORDER BY number DESC LIMIT ?",
            (gateway, *left_out, max(limit, 0)),
        )
        return [self._row(r) for r in rows]

    def config_routing(self, gateway: str) -> Mapping[str, Any] | None:
        rows = self._query("SELECT routing FROM config_routing WHERE gateway = ?", (gateway,))
        return MappingProxyType(json.loads(rows[0][0])) if rows else None

    def remember_config_routing(self, gateway: str, routing: Mapping[str, Any]) -> None:
        text = json.dumps(dict(routing), sort_keys=True)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO config_routing VALUES (?, ?, ?) ON CONFLICT (gateway) "
                    "DO UPDATE SET routing = excluded.routing, at = excluded.at",
                    (gateway, text, datetime.now(UTC).isoformat()),
                )
            except sqlite3.Error as exc:
                raise RevisionStoreError(
                    f"cannot record the config routing of gateway {gateway!r} in {self.path}: {exc}"
                ) from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()
