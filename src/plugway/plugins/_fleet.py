"""The fleet listener: how a change committed by any replica reaches this one.

One daemon thread per process holds a dedicated autocommit connection (LISTEN needs a session
of its own, never a pooled one) listening on ``plugway_routing`` and ``plugway_registry``. A
routing notification makes the gateway named serve the store's latest revision; a registry
notification from another process makes every gateway resync its plugins. Notifications are
lost while disconnected, so every couple of seconds (and after each reconnect, LISTEN first,
then read) a reconcile compares the latest numbers with those served. The same loop beats the
replica's heartbeat. When the database is down, gateways keep serving what they have; the
loop reconnects with a capped backoff and converges without a restart.

Follows run in this thread, not on the event loop: the store read blocks, and the Gateway's
swap is already thread-safe (admin writes call it from worker threads the same way).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from plugway.registry._pg_url import scrubbed
from plugway.registry._postgres import CHANNEL as REGISTRY_CHANNEL

from ._pg_revisions import ROUTING_CHANNEL, PostgresRevisionStore
from ._replicas import ReplicaDirectory
from ._revisions import RevisionStoreError
from .errors import RoutingConfigError

if TYPE_CHECKING:
    from ._module import GatewayModule

__all__ = ["FleetListener"]

_log = logging.getLogger("plugway.plugins.fleet")

RECONCILE_EVERY = 2.0  # seconds between two reconciles (heals a missed notification)
HEARTBEAT_EVERY = 2.0
_WAIT = 0.25  # seconds one notifies() round waits before the loop looks at its clocks
_BACKOFF = (0.2, 0.5, 1.0, 2.0)  # seconds between reconnect attempts (then the last, forever)


class FleetListener:
    """Follows the fleet's changes for the gateways of this process (see the module doc)."""

    def __init__(
        self,
        store: PostgresRevisionStore,
        gateways: Callable[[], Sequence[GatewayModule]],
        directory: ReplicaDirectory,
        *,
        reconcile_every: float = RECONCILE_EVERY,
        heartbeat_every: float = HEARTBEAT_EVERY,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.directory = directory
        self._gateways = gateways
        self._reconcile_every = reconcile_every
        self._heartbeat_every = heartbeat_every
        self._on_reconnect = on_reconnect
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._registry_revision: int | None = None
        self.connected = False
        self.error: str | None = None
        self.notifications = 0
        self.follows = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="plugway-fleet", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            self.directory.leave()
        except RevisionStoreError as exc:
            _log.warning("fleet: replica %s not removed: %s", self.directory.replica_id, exc)

    def status(self) -> dict[str, Any]:
        """What ``/health`` shows: the database (no password), whether it is reachable."""
        return {
            "database": self.store.url,
            "replica_id": self.directory.replica_id,
            "connected": self.connected,
            "error": self.error,
        }

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._connect()
                attempt = 0
                self._listen()
            except (psycopg.Error, RevisionStoreError) as exc:
                message = scrubbed(exc, self.store.conninfo)
                if self.connected or self.error is None:
                    _log.error(
                        "fleet: the database %s is unreachable, gateways keep serving their "
                        "routing: %s",
                        self.store.url,
                        message,
                    )
                self.connected = False
                self.error = message
            except Exception as exc:  # a bug must not end the following: log, reconnect
                _log.exception("fleet: the listener failed; reconnecting")
                self.connected = False
                self.error = f"listener failed: {exc}"
            finally:
                self._close()
            self._stop.wait(_BACKOFF[min(attempt, len(_BACKOFF) - 1)])
            attempt += 1

    def _connect(self) -> None:
        conn = psycopg.connect(self.store.conninfo, autocommit=True)
        self._conn = conn
        conn.execute(f"LISTEN {ROUTING_CHANNEL}")
        conn.execute(f"LISTEN {REGISTRY_CHANNEL}")
        # LISTEN is in force: what was committed before is read now, after by notification
        was = self.error
        self.reconcile(registry=True)
        self.heartbeat()
        self.connected = True
        self.error = None
        if was is not None:
            _log.info("fleet: the database %s is reachable again; reconciled", self.store.url)
            if self._on_reconnect is not None:
                self._on_reconnect()  # e.g. a config file edit the outage held back

    def _listen(self) -> None:
        conn = self._conn
        assert conn is not None
        next_reconcile = time.monotonic() + self._reconcile_every
        next_beat = time.monotonic() + self._heartbeat_every
        while not self._stop.is_set():
            for note in conn.notifies(timeout=_WAIT):
                self.notifications += 1
                self._on_notify(note.channel, note.payload)
            now = time.monotonic()
            if now >= next_reconcile:
                conn.execute("SELECT 1")  # a listener session that died silently shows here
                self.reconcile(registry=True)
                next_reconcile = now + self._reconcile_every
            if now >= next_beat:
                self.heartbeat()
                next_beat = now + self._heartbeat_every

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    # -- what a notification does ------------------------------------------------------------

    def _on_notify(self, channel: str, payload: str) -> None:
        head, _, tail = payload.rpartition(":")
        if not tail.isdigit():
            _log.warning("fleet: ignored notification %r on %s", payload, channel)
            return
        if channel == ROUTING_CHANNEL:
            for gw in self._gateways():
                if gw.gateway_name == head and gw.ready and int(tail) > gw.gateway.revision:
                    self._follow(gw)
        elif channel == REGISTRY_CHANNEL:
            origin = head
            self._registry_revision = max(self._registry_revision or 0, int(tail))
            own = {g.registry_origin for g in self._gateways()}
            if origin not in own:  # this replica's own writes resync it already
                self._resync_all()

    def _follow(self, gw: GatewayModule) -> None:
        try:
            swapped = gw.history.catch_up()
        except RoutingConfigError as exc:  # a revision this version cannot read: keep serving
            _log.error(
                "fleet: gateway %s cannot serve the latest revision: %s", gw.gateway_name, exc
            )
            return
        if swapped:
            self.follows += 1
            self.heartbeat()  # the fleet listing shows the new revision at once

    def _resync_all(self) -> None:
        for gw in self._gateways():
            if gw.ready:
                try:
                    gw.resync_from_fleet()
                except RoutingConfigError as exc:
                    _log.error("fleet: gateway %s: %s", gw.gateway_name, exc)

    def reconcile(self, *, registry: bool = False) -> None:
        """Serve the latest revision of every gateway that lags behind the store; with
        ``registry``, resync the plugins too when the registry changed since last seen."""
        latest = self.store.latest_numbers()
        for gw in self._gateways():
            if gw.ready and latest.get(gw.gateway_name, 0) > gw.gateway.revision:
                self._follow(gw)
        if registry:
            with self.store.connection("reading the registry revision") as c:
                there = c.execute("SELECT to_regclass('registry_meta') IS NOT NULL").fetchone()
                row = (
                    c.execute("SELECT revision FROM registry_meta").fetchone()
                    if there is not None and there[0]
                    else None
                )
            revision = int(row[0]) if row is not None else 0
            if self._registry_revision is not None and revision != self._registry_revision:
                self._resync_all()
            self._registry_revision = revision

    def heartbeat(self) -> None:
        gateways = [g for g in self._gateways() if g.ready]
        self.directory.beat(
            {g.gateway_name: g.gateway.revision for g in gateways},
            {g.gateway_name: [p.id for p in g.gateway.plugins] for g in gateways},
        )
