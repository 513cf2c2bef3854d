"""The replicas of a fleet, as the database sees them: a heartbeat row per live process.

Each replica upserts its row (what it serves, which plugins it has) every few seconds; a row
whose heartbeat is older than the TTL is a dead replica and drops out of every listing. Ages
are measured by the database clock only, so replicas on hosts with skewed clocks agree.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._pg_revisions import PostgresRevisionStore

__all__ = ["DEFAULT_TTL", "Replica", "ReplicaDirectory"]

DEFAULT_TTL = 10.0  # seconds without a heartbeat after which a replica counts as gone
_FORGET_AFTER = 3600  # seconds after which a dead replica's row is deleted


@dataclass(frozen=True, slots=True)
class Replica:
    """One live replica: where it listens, what each gateway serves and has installed."""

    replica_id: str
    host: str
    port: int
    pid: int
    started_at: datetime
    last_seen: datetime
    served: Mapping[str, int] = field(default_factory=dict)
    plugins: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "replica_id": self.replica_id,
            "host": self.host,
            "port": self.port,
            "pid": self.pid,
            "started_at": self.started_at.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "served": dict(self.served),
            "plugins": {g: list(p) for g, p in self.plugins.items()},
        }


def _new_id(port: int) -> str:
    return f"{socket.gethostname()}:{port}:{os.getpid()}:{secrets.token_hex(2)}"


class ReplicaDirectory:
    """This replica's heartbeat, and the listing of the live ones, in the store's database."""

    def __init__(
        self, store: PostgresRevisionStore, *, host: str, port: int, ttl: float = DEFAULT_TTL
    ) -> None:
        self.store = store
        self.host = host
        self.port = port
        self.ttl = ttl
        self.replica_id = _new_id(port)
        self.started_at = datetime.now(UTC)

    def beat(self, served: Mapping[str, int], plugins: Mapping[str, Sequence[str]]) -> None:
        """Record that this replica is alive, serving ``served`` with ``plugins`` installed."""
        with self.store.connection(f"heartbeat of replica {self.replica_id}") as c:
            c.execute(
                """INSERT INTO fleet_replicas
                       (replica_id, host, port, pid, started_at, last_seen, served, plugins)
                   VALUES (%s, %s, %s, %s, %s, now(), %s::jsonb, %s::jsonb)
                   ON CONFLICT (replica_id) DO UPDATE SET last_seen = now(),
                       served = EXCLUDED.served, plugins = EXCLUDED.plugins""",
                (
                    self.replica_id,
                    self.host,
                    self.port,
                    os.getpid(),
                    self.started_at,
                    json.dumps(dict(served)),
                    json.dumps({g: sorted(p) for g, p in plugins.items()}),
                ),
            )
            c.execute(
                "DELETE FROM fleet_replicas WHERE last_seen < now() - make_interval(secs => %s)",
                (_FORGET_AFTER,),
            )

    def live(self) -> list[Replica]:
        """The replicas whose last heartbeat is younger than the TTL, by id."""
        with self.store.connection("listing the live replicas") as c:
            rows = c.execute(
                """SELECT replica_id, host, port, pid, started_at, last_seen, served, plugins
                   FROM fleet_replicas
                   WHERE last_seen >= now() - make_interval(secs => %s)
                   ORDER BY replica_id""",
                (self.ttl,),
            ).fetchall()
        return [
            Replica(
                str(r[0]),
                str(r[1]),
                int(r[2]),
                int(r[3]),
                r[4],
                r[5],
                {str(g): int(n) for g, n in dict(r[6]).items()},
                {str(g): tuple(p) for g, p in dict(r[7]).items()},
            )
            for r in rows
        ]

    def leave(self) -> None:
        """Drop this replica's row (a clean stop: it leaves the listing at once)."""
        with self.store.connection(f"removing replica {self.replica_id}") as c:
            c.execute("DELETE FROM fleet_replicas WHERE replica_id = %s", (self.replica_id,))

    def missing(self, gateway: str, plugin_ids: Sequence[str]) -> dict[str, list[str]]:
        """For each live replica (this one included) that lacks some of ``plugin_ids`` in
        ``gateway``: the ids it lacks. A replica that has not reported the gateway yet is not
        judged (it may still be starting)."""
        out: dict[str, list[str]] = {}
        for r in self.live():
            if gateway not in r.plugins:
                continue
            lacks = sorted(set(plugin_ids) - set(r.plugins[gateway]))
            if lacks:
                out[r.replica_id] = lacks
        return out
