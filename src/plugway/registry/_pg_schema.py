"""Versioned PostgreSQL schema migrations, applied once however many replicas start at once.

Each component (``registry`` now; routing and revisions can follow) owns an ordered list of
migrations. They are recorded in ``plugway_schema_migrations`` (component, version), and all of
them run in one transaction that first takes a transaction-level advisory lock: a second replica
starting at the same moment waits for the first to commit, then sees the versions applied and
runs nothing. A crash mid-migration rolls back whole, and the lock ends with the transaction
(or the session), so a dead replica cannot leave it held.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from ._errors import RegistryStorageError

MIGRATION_LOCK_KEY = 0x706C7567776179  # "plugway" as a bigint; one key per database
LOCK_TIMEOUT = "60s"  # waiting longer for another replica's migration is an error, not a hang

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS plugway_schema_migrations (
    component  text NOT NULL,
    version    integer NOT NULL,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of a component's schema: its version (1, 2, …), a name and its statements."""

    version: int
    name: str
    statements: tuple[str, ...]


REGISTRY_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "entities and the revision counter",
        (
            # COLLATE "C": byte order of UTF-8, i.e. code-point order, which is what the range
            # bounds of prefix_upper_bound and the keyset cursors assume.
            """CREATE TABLE registry_entity (
                gts_id    text COLLATE "C" PRIMARY KEY,
                is_type   boolean NOT NULL,
                type_id   text COLLATE "C",
                vendor    text NOT NULL,
                package   text NOT NULL,
                namespace text NOT NULL,
                segments  text NOT NULL,
                content   text NOT NULL,
                revision  bigint NOT NULL
            )""",
            "CREATE INDEX registry_entity_vendor ON registry_entity (vendor, gts_id)",
            # one row; its lock serialises writers of every replica, so revisions are assigned
            # in commit order with no gap or duplicate
            """CREATE TABLE registry_meta (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                revision  bigint NOT NULL
            )""",
            "INSERT INTO registry_meta (revision) VALUES (0)",
        ),
    ),
)


def _check_order(component: str, migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise RegistryStorageError(
            f"{component} migrations must be numbered 1, 2, … in order (got {versions})"
        )


def apply_migrations(
    conn: psycopg.Connection[tuple[Any, ...]],
    component: str,
    migrations: Sequence[Migration],
    where: str,
) -> int:
    """Bring ``component``'s schema up to the last of ``migrations``; returns that version.

    ``conn`` must be idle (no open transaction); ``where`` names the database in errors (a URL
    without its password). A database newer than this code is refused rather than used.
    """
    _check_order(component, migrations)
    latest = migrations[-1].version if migrations else 0
    try:
        with conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            conn.execute(_VERSION_TABLE)
            row = conn.execute(
                "SELECT max(version) FROM plugway_schema_migrations WHERE component = %s",
                (component,),
            ).fetchone()
            current = int(row[0]) if row is not None and row[0] is not None else 0
            if current > latest:
                raise RegistryStorageError(
                    f"{where}: {component} schema version {current} is newer than supported "
                    f"version {latest}"
                )
            for m in migrations:
                if m.version <= current:
                    continue
                for stmt in m.statements:
                    conn.execute(stmt)
                conn.execute(
                    "INSERT INTO plugway_schema_migrations (component, version, name) "
                    "VALUES (%s, %s, %s)",
                    (component, m.version, m.name),
                )
    except psycopg.Error as exc:
        raise RegistryStorageError(
            f"{where}: migrating the {component} schema to version {latest} failed, "
            f"nothing changed: {exc}"
        ) from exc
    return latest


def schema_version(conn: psycopg.Connection[tuple[Any, ...]], component: str) -> int:
    """The version recorded for ``component`` (0 when none)."""
    row = conn.execute(
        "SELECT max(version) FROM plugway_schema_migrations WHERE component = %s", (component,)
    ).fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0
