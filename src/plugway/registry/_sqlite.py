"""SQLite backend, the embedded default.

WAL journal with ``synchronous=FULL``: a commit is fsynced before ``put_many``/``delete``
return, so an acknowledged write survives ``kill -9`` and power loss. One transaction per call.
Entities live in a ``WITHOUT ROWID`` table clustered on ``gts_id``, so a pattern query is a range
scan of the primary key (``prefix <= gts_id < upper``) whose cost follows the number of
candidates, not the size of the table.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from plugway.gts import GtsError, GtsPattern

from ._backend import EntityRow, ScanQuery, StoredRow, scan_filters, stored_from_sql
from ._errors import RegistryError, RegistryStorageError

SCHEMA_VERSION = 1

_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS entity (
        gts_id    TEXT PRIMARY KEY NOT NULL,
        is_type   INTEGER NOT NULL CHECK (is_type IN (0, 1)),
        type_id   TEXT,
        vendor    TEXT NOT NULL,
        package   TEXT NOT NULL,
        namespace TEXT NOT NULL,
        segments  TEXT NOT NULL,
        content   TEXT NOT NULL,
        revision  INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS entity_vendor ON entity (vendor, gts_id)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)",
)

_COLS = "gts_id, is_type, type_id, vendor, package, namespace, segments, content, revision"
_CHUNK = 500  # ids per IN (...) lookup; well below SQLite's variable limit


@functools.lru_cache(maxsize=256)
def _pattern(text: str) -> GtsPattern:
    return GtsPattern.parse(text)


def _gts_match(pattern: str, candidate: str) -> int:
    """SQL function ``gts_match(pattern, id)``; the pattern was validated by the caller."""
    try:
        return 1 if _pattern(pattern).matches(candidate) else 0
    except GtsError:
        return 0


class SqliteBackend:
    """Persistent backend on one SQLite file; one connection guarded by a lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None, timeout=10.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise RegistryStorageError(f"cannot open registry database {self.path}: {exc}") from exc
        self._conn = conn
        self._lock = threading.RLock()
        self._closed = False
        try:
            self._setup()
        except sqlite3.Error as exc:
            conn.close()
            raise RegistryStorageError(f"registry database {self.path} unusable: {exc}") from exc
        except RegistryError:
            conn.close()
            raise

    def _setup(self) -> None:
        c = self._conn
        mode = c.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RegistryStorageError(f"{self.path}: cannot switch to WAL (journal_mode={mode})")
        c.execute("PRAGMA synchronous=FULL")
        c.create_function("gts_match", 2, _gts_match, deterministic=True)
        c.execute("BEGIN IMMEDIATE")
        try:
            has_version = c.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"
            ).fetchone()
            version = None
            if has_version:
                row = c.execute("SELECT MAX(version) FROM schema_version").fetchone()
                version = row[0]
            if version is not None and version > SCHEMA_VERSION:
                raise RegistryStorageError(
                    f"{self.path}: database schema version {version} is newer than "
                    f"supported version {SCHEMA_VERSION}"
                )
            for stmt in _DDL:
                c.execute(stmt)
            if version is None:
                c.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0)")
            self._revision = int(
                c.execute("SELECT value FROM meta WHERE key='revision'").fetchone()[0]
            )
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def _check(self) -> None:
        if self._closed:
            raise RegistryStorageError(f"registry database {self.path} is closed")

    def schema_version(self) -> int:
        with self._lock:
            self._check()
            return int(self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: ``"ok"`` for a sound file."""
        with self._lock:
            self._check()
            return "\n".join(str(r[0]) for r in self._conn.execute("PRAGMA integrity_check"))

    def get(self, gts_id: str) -> StoredRow | None:
        with self._lock:
            self._check()
            try:
                r = self._conn.execute(
                    f"SELECT {_COLS} FROM entity WHERE gts_id = ?", (gts_id,)
                ).fetchone()
            except sqlite3.Error as exc:
                raise RegistryStorageError(f"{gts_id}: read failed: {exc}") from exc
        return None if r is None else stored_from_sql(r)

    def get_many(self, gts_ids: Sequence[str]) -> Mapping[str, StoredRow]:
        out: dict[str, StoredRow] = {}
        ids = list(dict.fromkeys(gts_ids))
        with self._lock:
            self._check()
            try:
                for k in range(0, len(ids), _CHUNK):
                    chunk = ids[k : k + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    for r in self._conn.execute(
                        f"SELECT {_COLS} FROM entity WHERE gts_id IN ({marks})", chunk
                    ):
                        s = stored_from_sql(r)
                        out[s.row.gts_id] = s
            except sqlite3.Error as exc:
                raise RegistryStorageError(f"read failed: {exc}") from exc
        return out

    def put_many(
        self, rows: Sequence[EntityRow], *, replacing: Mapping[str, str] | None = None
    ) -> list[int]:
        if not rows:
            return []
        with self._lock:
            self._check()
            c = self._conn
            base = self._revision
            revs = list(range(base + 1, base + 1 + len(rows)))
            params = [
                (
                    r.gts_id,
                    1 if r.is_type else 0,
                    r.type_id,
                    r.vendor,
                    r.package,
                    r.namespace,
                    r.segments,
                    r.content,
                    rev,
                )
                for r, rev in zip(rows, revs, strict=True)
            ]
            try:
                c.execute("BEGIN IMMEDIATE")
                try:
                    c.executemany(
                        f"INSERT OR REPLACE INTO entity ({_COLS}) VALUES (?,?,?,?,?,?,?,?,?)",
                        params,
                    )
                    c.execute("UPDATE meta SET value = ? WHERE key = 'revision'", (revs[-1],))
                    c.execute("COMMIT")
                except BaseException:
                    c.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise RegistryStorageError(
                    f"{self.path}: writing {len(rows)} entities (first {rows[0].gts_id}) "
                    f"failed, nothing written: {exc}"
                ) from exc
            self._revision = revs[-1]
            return revs

    def delete(self, gts_id: str) -> int | None:
        with self._lock:
            self._check()
            c = self._conn
            rev = self._revision + 1
            try:
                c.execute("BEGIN IMMEDIATE")
                try:
                    cur = c.execute("DELETE FROM entity WHERE gts_id = ?", (gts_id,))
                    if cur.rowcount == 0:
                        c.execute("ROLLBACK")
                        return None
                    c.execute("UPDATE meta SET value = ? WHERE key = 'revision'", (rev,))
                    c.execute("COMMIT")
                except BaseException:
                    if c.in_transaction:
                        c.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise RegistryStorageError(f"{gts_id}: delete failed: {exc}") from exc
            self._revision = rev
            return rev

    @staticmethod
    def _build_sql(query: ScanQuery) -> tuple[str, list[Any]]:
        where, args = scan_filters(query, "?", "instr(segments, ?) > 0", int)
        if query.pattern_text is not None:
            where.append("gts_match(?, gts_id)")
            args.append(query.pattern_text)
        sql = f"SELECT {_COLS} FROM entity"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY gts_id LIMIT ?"
        args.append(query.limit)
        return sql, args

    def scan(self, query: ScanQuery) -> list[StoredRow]:
        sql, args = self._build_sql(query)
        with self._lock:
            self._check()
            try:
                rows = self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise RegistryStorageError(f"query failed: {exc}") from exc
        return [stored_from_sql(r) for r in rows]

    def explain(self, query: ScanQuery) -> str:
        """The SQLite query plan for ``query`` (tests use it to prove the index is used)."""
        with self._lock:
            self._check()
            sql, args = self._build_sql(query)
            plan = self._conn.execute("EXPLAIN QUERY PLAN " + sql, args)
            return "\n".join(str(r[-1]) for r in plan)

    def iter_all(self) -> Iterator[StoredRow]:
        with self._lock:
            self._check()
            rows = self._conn.execute(f"SELECT {_COLS} FROM entity ORDER BY gts_id").fetchall()
        return (stored_from_sql(r) for r in rows)

    def count(self) -> int:
        with self._lock:
            self._check()
            return int(self._conn.execute("SELECT COUNT(*) FROM entity").fetchone()[0])

    def revision(self) -> int:
        return self._revision

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
