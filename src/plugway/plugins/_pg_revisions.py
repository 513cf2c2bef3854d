"""Routing revisions in PostgreSQL: one linear history per gateway for a whole fleet.

Every write takes a transaction-level advisory lock on its gateway, so two replicas that change
the routing at the same moment are ordered by the database: numbers follow commit order with no
gap or duplicate, and each commit sends ``NOTIFY plugway_routing, '<gateway>:<number>'`` (sent
only if the transaction commits). The config file's routing is recorded with a compare-and-set
in the same transaction as the revision it causes, so an edit read by N replicas is applied
once for the fleet. The first revision (``who: config``) is a seed: written only when the
gateway has none, so replicas starting together do not each add one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from plugway.registry import RegistryStorageError
from plugway.registry._pg_schema import Migration, apply_migrations
from plugway.registry._pg_url import connection_string, redact_url, scrubbed

from ._revisions import RevisionStoreError, RoutingRevision
from .errors import RevisionNotFoundError

__all__ = [
    "COMPONENT",
    "ROUTING_CHANNEL",
    "DatabaseUnavailableError",
    "PostgresRevisionStore",
]

COMPONENT = "routing"
ROUTING_CHANNEL = "plugway_routing"
_SEED_WHO = "config"  # history.CONFIG_WHO (not imported: history imports this module)
_LOCK_CLASS = 0x706C75  # first key of the per-gateway advisory lock ("plu")

ROUTING_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "routing revisions, the head per gateway, the config file's routing",
        (
            """CREATE TABLE routing_revisions (
                gateway text COLLATE "C" NOT NULL,
                number  integer NOT NULL,
                routing text NOT NULL,
                who     text NOT NULL,
                what    text NOT NULL,
                at      timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (gateway, number)
            )""",
            "CREATE INDEX routing_revisions_by_who ON routing_revisions (gateway, who, number)",
            """CREATE TABLE routing_config (
                gateway text COLLATE "C" PRIMARY KEY,
                routing text NOT NULL,
                at      timestamptz NOT NULL DEFAULT now()
            )""",
        ),
    ),
    Migration(
        2,
        "replicas and their heartbeats",
        (
            """CREATE TABLE fleet_replicas (
                replica_id text PRIMARY KEY,
                host       text NOT NULL,
                port       integer NOT NULL,
                pid        integer NOT NULL,
                started_at timestamptz NOT NULL,
                last_seen  timestamptz NOT NULL DEFAULT now(),
                served     jsonb NOT NULL DEFAULT '{}',
                plugins    jsonb NOT NULL DEFAULT '{}'
            )""",
        ),
    ),
)

Row = tuple[Any, ...]
_COLS = "gateway, number, routing, who, what, at"


class DatabaseUnavailableError(RevisionStoreError):
    """The routing database cannot be reached (``database``: its URL without password)."""

    def __init__(self, message: str, *, database: str) -> None:
        self.database = database
        super().__init__(message)


def _text(doc: Mapping[str, Any]) -> str:
    return json.dumps(dict(doc), sort_keys=True)


def _rev(r: Row) -> RoutingRevision:
    at = r[5] if isinstance(r[5], datetime) else datetime.fromisoformat(str(r[5]))
    return RoutingRevision(
        r[0], int(r[1]), MappingProxyType(json.loads(r[2])), r[3], r[4], at.astimezone(UTC)
    )


class PostgresRevisionStore:
    """The :class:`RevisionStore` of a fleet, in the registry's PostgreSQL database.

    Blocking, like the SQLite store (called from worker threads and the fleet listener, never
    on the event loop). ``timeout``: how long a call waits for a connection before the database
    counts as unreachable (:class:`DatabaseUnavailableError`), short so that admin writes fail
    fast during an outage while gateways keep serving.
    """

    shared = True
    """Other processes write to this store: gateways follow it (see ``plugins._fleet``)."""

    def __init__(self, url: str, *, max_size: int = 4, timeout: float = 3.0) -> None:
        self.url = redact_url(url)
        self._raw_url = url
        try:
            self.conninfo = connection_string(url)
            with psycopg.connect(self.conninfo, autocommit=True) as conn:
                apply_migrations(conn, COMPONENT, ROUTING_MIGRATIONS, self.url)
        except RegistryStorageError as exc:
            raise RevisionStoreError(str(exc)) from None
        except psycopg.Error as exc:
            raise DatabaseUnavailableError(
                f"cannot open the routing store {self.url}: {scrubbed(exc, url)}",
                database=self.url,
            ) from None
        self._pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=max_size,
            timeout=timeout,
            kwargs={"autocommit": True},
            check=ConnectionPool.check_connection,  # a restarted server must not fail a call
            name="plugway-routing",
            open=False,
        )
        self._pool.open(wait=False)
        self._closed = False

    @contextlib.contextmanager
    def connection(self, what: str) -> Iterator[psycopg.Connection[Row]]:
        """A pooled autocommit connection; failures name ``what`` and the database."""
        if self._closed:
            raise RevisionStoreError(f"routing store {self.url} is closed")
        try:
            with self._pool.connection() as conn:
                yield conn
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise DatabaseUnavailableError(
                f"{what}: the routing database {self.url} is unreachable: "
                f"{scrubbed(exc, self._raw_url)}",
                database=self.url,
            ) from None
        except psycopg.Error as exc:
            raise RevisionStoreError(
                f"{what} failed on {self.url}: {scrubbed(exc, self._raw_url)}"
            ) from exc

    @staticmethod
    def _lock(c: psycopg.Connection[Row], gateway: str) -> None:
        c.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, gateway))

    @staticmethod
    def _insert(
        c: psycopg.Connection[Row], gateway: str, text: str, who: str, what: str
    ) -> RoutingRevision:
        """The next revision of ``gateway`` (caller holds its lock), notified at commit."""
        row = c.execute(
            f"""INSERT INTO routing_revisions (gateway, number, routing, who, what)
                SELECT %s, COALESCE(max(number), 0) + 1, %s, %s, %s
                FROM routing_revisions WHERE gateway = %s
                RETURNING {_COLS}""",
            (gateway, text, who, what, gateway),
        ).fetchone()
        assert row is not None
        c.execute("SELECT pg_notify(%s, %s)", (ROUTING_CHANNEL, f"{gateway}:{row[1]}"))
        return _rev(row)

    @staticmethod
    def _latest(c: psycopg.Connection[Row], gateway: str) -> RoutingRevision | None:
        row = c.execute(
            f"SELECT {_COLS} FROM routing_revisions WHERE gateway = %s "
            "ORDER BY number DESC LIMIT 1",
            (gateway,),
        ).fetchone()
        return None if row is None else _rev(row)

    # -- the RevisionStore protocol ---------------------------------------------------------

    def append(
        self, gateway: str, routing: Mapping[str, Any], *, who: str, what: str
    ) -> RoutingRevision:
        text = _text(routing)
        with self.connection(f"writing a revision of gateway {gateway!r}") as c, c.transaction():
            self._lock(c, gateway)
            if who == _SEED_WHO:
                current = self._latest(c, gateway)
                if current is not None:  # another replica seeded (or changed) it first
                    return current
            return self._insert(c, gateway, text, who, what)

    def latest(self, gateway: str, *, who: Collection[str] | None = None) -> RoutingRevision | None:
        with self.connection(f"reading the latest revision of gateway {gateway!r}") as c:
            if who is None:
                return self._latest(c, gateway)
            row = c.execute(
                f"SELECT {_COLS} FROM routing_revisions WHERE gateway = %s "
                "AND who = ANY(%s::text[]) ORDER BY number DESC LIMIT 1",
                (gateway, sorted(set(who))),
            ).fetchone()
        return None if row is None else _rev(row)

    def get(self, gateway: str, number: int) -> RoutingRevision:
        with self.connection(f"reading revision {number} of gateway {gateway!r}") as c:
            row = c.execute(
                f"SELECT {_COLS} FROM routing_revisions WHERE gateway = %s AND number = %s",
                (gateway, number),
            ).fetchone()
        if row is None:
            raise RevisionNotFoundError(gateway, number)
        return _rev(row)

    def list(
        self, gateway: str, *, limit: int = 50, exclude_who: Collection[str] = ()
    ) -> list[RoutingRevision]:
        with self.connection(f"listing the revisions of gateway {gateway!r}") as c:
            rows = c.execute(
                f"SELECT {_COLS} FROM routing_revisions WHERE gateway = %s "
                "AND NOT (who = ANY(%s::text[])) ORDER BY number DESC LIMIT %s",
                (gateway, sorted(set(exclude_who)), max(limit, 0)),
            ).fetchall()
        return [_rev(r) for r in rows]

    def config_routing(self, gateway: str) -> Mapping[str, Any] | None:
        with self.connection(f"reading the config routing of gateway {gateway!r}") as c:
            row = c.execute(
                "SELECT routing FROM routing_config WHERE gateway = %s", (gateway,)
            ).fetchone()
        return None if row is None else MappingProxyType(json.loads(row[0]))

    def remember_config_routing(self, gateway: str, routing: Mapping[str, Any]) -> None:
        with self.connection(f"recording the config routing of gateway {gateway!r}") as c:
            c.execute(
                "INSERT INTO routing_config (gateway, routing) VALUES (%s, %s) "
                "ON CONFLICT (gateway) DO UPDATE SET routing = EXCLUDED.routing, at = now()",
                (gateway, _text(routing)),
            )

    # -- what a fleet needs beyond the protocol ---------------------------------------------

    def apply_config_routing(
        self,
        gateway: str,
        routing: Mapping[str, Any],
        *,
        who: str,
        what: str,
        config_writers: Collection[str],
    ) -> RoutingRevision | None:
        """Record the config file's (canonical) ``routing`` and, only if that changes what the
        fleet last recorded, append it as a revision — both in one transaction under the
        gateway's lock, so of N replicas reading one edit exactly one appends. With nothing
        recorded yet, the newest revision by ``config_writers`` stands for the file's last
        routing (as in :meth:`RoutingHistory.reconcile`). Returns the revision appended."""
        text = _text(routing)
        label = f"applying the config routing of gateway {gateway!r}"
        with self.connection(label) as c, c.transaction():
            self._lock(c, gateway)
            row = c.execute(
                "SELECT routing FROM routing_config WHERE gateway = %s", (gateway,)
            ).fetchone()
            seen = None if row is None else row[0]
            if seen is None:
                last = c.execute(
                    "SELECT routing FROM routing_revisions WHERE gateway = %s "
                    "AND who = ANY(%s::text[]) ORDER BY number DESC LIMIT 1",
                    (gateway, sorted(set(config_writers))),
                ).fetchone()
                seen = None if last is None else _text(json.loads(last[0]))
            c.execute(
                "INSERT INTO routing_config (gateway, routing) VALUES (%s, %s) "
                "ON CONFLICT (gateway) DO UPDATE SET routing = EXCLUDED.routing, at = now()",
                (gateway, text),
            )
            if seen == text:
                return None
            current = self._latest(c, gateway)
            if current is not None and _text(current.routing) == text:
                return None  # the fleet already serves it: no new number for nothing
            return self._insert(c, gateway, text, who, what)

    def latest_numbers(self) -> dict[str, int]:
        """The newest revision number of every gateway (the periodic reconcile's one query)."""
        with self.connection("reading the latest revision numbers") as c:
            rows = c.execute(
                "SELECT gateway, max(number) FROM routing_revisions GROUP BY gateway"
            ).fetchall()
        return {str(g): int(n) for g, n in rows}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.close()
