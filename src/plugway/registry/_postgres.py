"""PostgreSQL backend, for several replicas sharing one registry.

Synchronous psycopg 3 over a ``psycopg_pool`` pool, like the SQLite backend a blocking API (the
registry is called off the event loop for writes); each call borrows a connection, so calls from
several threads run side by side. One transaction per write. Revisions come from one counter
row updated in the writing transaction: its row lock orders writers of every replica, so
revisions follow commit order with no duplicate. Entities are keyed by ``gts_id`` in the "C"
collation, so a pattern query is a range scan of the primary key (``prefix <= gts_id < upper``);
the exact pattern test runs here, in Python, on the rows of that range only — the same
:class:`GtsPattern` the other backends use, so the three agree on every match.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ._backend import EntityRow, ScanQuery, StoredRow, scan_filters, stored_from_sql
from ._errors import RegistryConflictError, RegistryStorageError
from ._pg_schema import REGISTRY_MIGRATIONS, apply_migrations, schema_version
from ._pg_url import connection_string, redact_url, scrubbed

COMPONENT = "registry"
CHANNEL = "plugway_registry"
"""Each write transaction sends ``NOTIFY plugway_registry, '<origin>:<revision>'`` at commit,
so that other replicas resync; ``origin`` (one per backend) lets a replica skip its own."""
SCHEMA_VERSION = REGISTRY_MIGRATIONS[-1].version

_COLS = "gts_id, is_type, type_id, vendor, package, namespace, segments, content, revision"
_CHUNK = 5_000  # rows per statement of a bulk write or lookup
_MIN_BATCH = 64  # rows fetched per round while the pattern test filters a range

# A bulk write COPYs its rows into a session-local staging table, then upserts from it: COPY
# streams rows in psycopg's C code, where array parameters are built row by row in Python.
_STAGE = "registry_incoming"
_CREATE_STAGE = (
    f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (LIKE registry_entity) ON COMMIT DELETE ROWS"
)
_COPY = f"COPY {_STAGE} ({_COLS}) FROM STDIN"
_UPSERT = f"""INSERT INTO registry_entity ({_COLS})
    SELECT {_COLS} FROM {_STAGE}
    ON CONFLICT (gts_id) DO UPDATE SET
        is_type = EXCLUDED.is_type, type_id = EXCLUDED.type_id, vendor = EXCLUDED.vendor,
        package = EXCLUDED.package, namespace = EXCLUDED.namespace,
        segments = EXCLUDED.segments, content = EXCLUDED.content, revision = EXCLUDED.revision
    WHERE registry_entity.content = EXCLUDED.content OR registry_entity.gts_id = ANY(%s::text[])"""
# A row another replica stored with other content is left alone (and then counted as missing):
# the same content again, or a replacement checked under FOR UPDATE, is written.

Row = tuple[Any, ...]


class PostgresBackend:
    """Persistent backend on one PostgreSQL database (tables in the URL's ``search_path``).

    Opening checks the server (reachable, UTF-8) and migrates the schema; a failure is a
    :class:`RegistryStorageError` naming the URL without its password.
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 10.0,
    ) -> None:
        self.url = redact_url(url)
        self._raw_url = url
        self.origin = secrets.token_hex(6)
        conninfo = connection_string(url)
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                encoding = conn.execute("SHOW server_encoding").fetchone()
                if encoding is None or str(encoding[0]).upper() not in ("UTF8", "UTF-8"):
                    raise RegistryStorageError(
                        f"{self.url}: the database encoding is {encoding and encoding[0]}, "
                        "the registry needs UTF8"
                    )
                apply_migrations(conn, COMPONENT, REGISTRY_MIGRATIONS, self.url)
        except psycopg.Error as exc:
            raise RegistryStorageError(
                f"cannot connect to the registry database {self.url}: {scrubbed(exc, url)}"
            ) from None
        self._pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            kwargs={"autocommit": True},
            check=ConnectionPool.check_connection,  # a server restart must not fail a call
            name="plugway-registry",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except psycopg.Error as exc:
            self._pool.close()
            raise RegistryStorageError(
                f"cannot open a connection pool to {self.url}: {scrubbed(exc, url)}"
            ) from None
        self._closed = False

    # ------------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _conn(self, what: str, note: str = "") -> Iterator[psycopg.Connection[Row]]:
        """A pooled connection; driver errors become :class:`RegistryStorageError`s naming
        ``what`` and the database (and ``note``, what the failure means)."""
        if self._closed:
            raise RegistryStorageError(f"registry database {self.url} is closed")
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise RegistryStorageError(
                f"{what} failed on {self.url}{note}: {scrubbed(exc, self._raw_url)}"
            ) from exc

    def schema_version(self) -> int:
        with self._conn("reading the schema version") as c:
            return schema_version(c, COMPONENT)

    # ------------------------------------------------------------------ reads

    def get(self, gts_id: str) -> StoredRow | None:
        with self._conn(f"{gts_id}: read") as c:
            r = c.execute(
                f"SELECT {_COLS} FROM registry_entity WHERE gts_id = %s", (gts_id,)
            ).fetchone()
        return None if r is None else stored_from_sql(r)

    def get_many(self, gts_ids: Sequence[str]) -> Mapping[str, StoredRow]:
        ids = list(dict.fromkeys(gts_ids))
        out: dict[str, StoredRow] = {}
        if not ids:
            return out
        with self._conn(f"reading {len(ids)} entities (first {ids[0]})") as c:
            for k in range(0, len(ids), _CHUNK):
                cur = c.execute(
                    f"SELECT {_COLS} FROM registry_entity WHERE gts_id = ANY(%s::text[])",
                    (ids[k : k + _CHUNK],),
                )
                for r in cur:
                    s = stored_from_sql(r)
                    out[s.row.gts_id] = s
        return out

    @staticmethod
    def _build_sql(query: ScanQuery, limit: int) -> tuple[str, list[Any]]:
        """The range scan of ``query`` with its column filters; the pattern test is not SQL."""
        where, args = scan_filters(query, "%s", "strpos(segments, %s) > 0")
        sql = f"SELECT {_COLS} FROM registry_entity"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY gts_id LIMIT %s"
        args.append(limit)
        return sql, args

    def scan(self, query: ScanQuery) -> list[StoredRow]:
        if query.matches is None:
            sql, args = self._build_sql(query, query.limit)
            with self._conn("query") as c:
                return [stored_from_sql(r) for r in c.execute(sql, args)]
        # filter the range by the pattern, fetching it in rounds until ``limit`` rows pass
        batch = max(query.limit, _MIN_BATCH)
        out: list[StoredRow] = []
        after = query.after
        with self._conn(f"query {query.pattern_text}") as c:
            while True:
                sql, args = self._build_sql(_after(query, after), batch)
                rows = c.execute(sql, args).fetchall()
                for r in rows:
                    if query.matches(r[0]):
                        out.append(stored_from_sql(r))
                        if len(out) >= query.limit:
                            return out
                if len(rows) < batch:
                    return out
                after = rows[-1][0]

    def explain(self, query: ScanQuery, *, analyze: bool = False) -> dict[str, Any]:
        """PostgreSQL's plan (``EXPLAIN (FORMAT JSON)``) of the range scan of ``query``; tests
        use it to show that a pattern query is an index range scan."""
        sql, args = self._build_sql(query, query.limit)
        options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
        with self._conn("explain") as c:
            row = c.execute(f"EXPLAIN ({options}) {sql}", args).fetchone()
        assert row is not None
        doc = row[0] if not isinstance(row[0], str) else json.loads(row[0])
        plan: dict[str, Any] = doc[0]
        return plan

    def iter_all(self) -> Iterator[StoredRow]:
        with self._conn("reading every entity") as c:
            rows = c.execute(f"SELECT {_COLS} FROM registry_entity ORDER BY gts_id").fetchall()
        return (stored_from_sql(r) for r in rows)

    def count(self) -> int:
        with self._conn("count") as c:
            row = c.execute("SELECT count(*) FROM registry_entity").fetchone()
        return int(row[0]) if row is not None else 0

    def revision(self) -> int:
        """The latest committed revision of the database (any replica's write counts)."""
        with self._conn("reading the revision") as c:
            row = c.execute("SELECT revision FROM registry_meta").fetchone()
        return int(row[0]) if row is not None else 0

    # ------------------------------------------------------------------ writes

    def put_many(
        self, rows: Sequence[EntityRow], *, replacing: Mapping[str, str] | None = None
    ) -> list[int]:
        if not rows:
            return []
        replacing = replacing or {}
        what = f"writing {len(rows)} entities (first {rows[0].gts_id})"
        with self._conn(what, ", nothing written") as c, c.transaction():
            got = c.execute(
                "UPDATE registry_meta SET revision = revision + %s RETURNING revision",
                (len(rows),),
            ).fetchone()
            if got is None:
                raise RegistryStorageError(f"{self.url}: the registry_meta row is missing")
            first = int(got[0]) - len(rows) + 1
            revs = list(range(first, first + len(rows)))
            latest: dict[str, tuple[EntityRow, int]] = {}
            for r, rev in zip(rows, revs, strict=True):
                latest[r.gts_id] = (r, rev)  # one statement cannot touch a row twice
            items = list(latest.values())
            if replacing:  # another replica may have changed what the caller means to replace
                stored = dict(
                    c.execute(
                        "SELECT gts_id, content FROM registry_entity WHERE gts_id = ANY(%s) "
                        "FOR UPDATE",
                        (list(replacing),),
                    ).fetchall()
                )
                for gid, expected in replacing.items():
                    if (
                        stored.get(gid, expected) != expected
                        and stored[gid] != latest[gid][0].content
                    ):
                        raise RegistryConflictError(gid)
            c.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{self.origin}:{revs[-1]}"))
            c.execute(_CREATE_STAGE)
            with c.cursor().copy(_COPY) as copy:
                for r, rev in items:
                    copy.write_row(
                        (
                            r.gts_id,
                            r.is_type,
                            r.type_id,
                            r.vendor,
                            r.package,
                            r.namespace,
                            r.segments,
                            r.content,
                            rev,
                        )
                    )
            cur = c.execute(_UPSERT, (list(replacing),))
            if cur.rowcount != len(items):  # a row another writer stored with other content
                rows_now = dict(
                    c.execute(
                        f"SELECT e.gts_id, e.content FROM registry_entity e JOIN {_STAGE} s "
                        "ON s.gts_id = e.gts_id AND s.content IS DISTINCT FROM e.content"
                    ).fetchall()
                )
                raise RegistryConflictError(min(rows_now) if rows_now else items[0][0].gts_id)
        return revs

    def delete(self, gts_id: str) -> int | None:
        with self._conn(f"{gts_id}: delete") as c, c.transaction():
            cur = c.execute("DELETE FROM registry_entity WHERE gts_id = %s", (gts_id,))
            if cur.rowcount == 0:
                return None  # nothing changed: the transaction commits no write
            got = c.execute(
                "UPDATE registry_meta SET revision = revision + 1 RETURNING revision"
            ).fetchone()
            if got is None:
                raise RegistryStorageError(f"{self.url}: the registry_meta row is missing")
            c.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{self.origin}:{got[0]}"))
            return int(got[0])

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.close()


def _after(query: ScanQuery, after: str | None) -> ScanQuery:
    return query if after == query.after else replace(query, after=after)
