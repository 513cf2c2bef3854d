"""In-memory backend: a dict plus a sorted id list, so pattern queries are range scans too."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Mapping, Sequence

from ._backend import EntityRow, ScanQuery, StoredRow, segment_filter_ok
from ._errors import RegistryStorageError


class MemoryBackend:
    """Non-persistent backend for tests and throw-away registries."""

    def __init__(self) -> None:
        self._rows: dict[str, StoredRow] = {}
        self._ids: list[str] = []  # sorted; the "index"
        self._revision = 0
        self._lock = threading.RLock()
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise RegistryStorageError("memory backend is closed")

    def get(self, gts_id: str) -> StoredRow | None:
        self._check()
        return self._rows.get(gts_id)

    def get_many(self, gts_ids: Sequence[str]) -> Mapping[str, StoredRow]:
        self._check()
        rows = self._rows
        return {i: rows[i] for i in gts_ids if i in rows}

    def put_many(
        self, rows: Sequence[EntityRow], *, replacing: Mapping[str, str] | None = None
    ) -> list[int]:
        with self._lock:
            self._check()
            revs: list[int] = []
            new_ids: list[str] = []
            for row in rows:
                self._revision += 1
                if row.gts_id not in self._rows:
                    new_ids.append(row.gts_id)
                self._rows[row.gts_id] = StoredRow(row, self._revision)
                revs.append(self._revision)
            if len(new_ids) > 64:
                self._ids = sorted(set(self._ids).union(new_ids))
            else:
                for i in new_ids:
                    bisect.insort(self._ids, i)
            return revs

    def delete(self, gts_id: str) -> int | None:
        with self._lock:
            self._check()
            if self._rows.pop(gts_id, None) is None:
                return None
            pos = bisect.bisect_left(self._ids, gts_id)
            del self._ids[pos]
            self._revision += 1
            return self._revision

    def scan(self, query: ScanQuery) -> list[StoredRow]:
        with self._lock:
            self._check()
            ids = self._ids
            start = 0
            if query.lo is not None:
                start = bisect.bisect_left(ids, query.lo)
            if query.after is not None:
                start = max(start, bisect.bisect_right(ids, query.after))
            out: list[StoredRow] = []
            for k in range(start, len(ids)):
                gid = ids[k]
                if query.hi is not None and gid >= query.hi:
                    break
                if query.matches is not None and not query.matches(gid):
                    continue
                stored = self._rows[gid]
                row = stored.row
                if query.is_type is not None and row.is_type != query.is_type:
                    continue
                if not segment_filter_ok(
                    row, query.vendor, query.package, query.namespace, query.segment_scope
                ):
                    continue
                out.append(stored)
                if len(out) >= query.limit:
                    break
            return out

    def iter_all(self) -> Iterator[StoredRow]:
        with self._lock:
            self._check()
            snapshot = [self._rows[i] for i in self._ids]
        return iter(snapshot)

    def count(self) -> int:
        self._check()
        return len(self._rows)

    def revision(self) -> int:
        return self._revision

    def close(self) -> None:
        self._closed = True
