"""SQLite: persistence, schema version, durability under kill -9, threads."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from plugway.registry import (
    PLUGIN_BASE_TYPE_ID,
    EntityQuery,
    MemoryBackend,
    RegistryBackend,
    RegistryError,
    RegistryStorageError,
    SqliteBackend,
    TypesRegistry,
    open_backend,
)
from plugway.registry._sqlite import SCHEMA_VERSION

from ._builders import ORDER_T, order, order_type


def test_backends_implement_the_protocol(tmp_path: Path) -> None:
    assert isinstance(MemoryBackend(), RegistryBackend)
    b = SqliteBackend(tmp_path / "r.db")
    assert isinstance(b, RegistryBackend)
    b.close()


def test_open_backend_errors(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="path"):
        open_backend("sqlite")
    with pytest.raises(RegistryError, match="postgres"):
        open_backend("postgres", tmp_path / "x")  # type: ignore[arg-type]


def test_persistence_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "registry.db"
    with TypesRegistry(open_backend("sqlite", path)) as reg:
        reg.register(order_type())
        e = reg.register(order("o1"))
        reg.register(order("o2"))
        reg.remove(order("o2")["id"])
        rev = reg.revision
    with TypesRegistry(open_backend("sqlite", path)) as reg:
        assert reg.get(e.gts_id) == e
        assert reg.revision == rev
        assert [x.gts_id for x in reg.list(EntityQuery(pattern=ORDER_T + "*")).items] == [e.gts_id]
        assert reg.count() == 3  # base type, order type, o1
        reg.switch_to_ready()  # persisted entities are validated like new ones
        assert reg.register(order("o3")).revision > rev


def test_pragmas_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    b = SqliteBackend(path)
    assert b.schema_version() == SCHEMA_VERSION
    assert b._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert b._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    b.close()
    con = sqlite3.connect(path)
    con.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    con.commit()
    con.close()
    with pytest.raises(RegistryStorageError, match="newer"):
        SqliteBackend(path)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RegistryStorageError, match=str(path)):
        SqliteBackend(path)


def test_closed_registry_refuses_calls(tmp_path: Path) -> None:
    reg = TypesRegistry(open_backend("sqlite", tmp_path / "r.db"))
    reg.close()
    reg.close()
    with pytest.raises(RegistryError):
        reg.register(order("o1"))
    with pytest.raises(RegistryError):
        reg.get(PLUGIN_BASE_TYPE_ID)


def test_concurrent_writers_from_threads(tmp_path: Path) -> None:
    reg = TypesRegistry(open_backend("sqlite", tmp_path / "r.db"))
    reg.register(order_type())
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(40):
                reg.register(order(f"t{t}_{i}"))
                reg.list(EntityQuery(pattern=ORDER_T + "*", limit=5))
            reg.register_many([order(f"t{t}_b{i}") for i in range(20)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert reg.count() == 2 + 4 * 60
    revs = [e.revision for e in reg.list(EntityQuery(limit=10_000)).items]
    assert len(set(revs)) == len(revs)
    reg.close()


_CHILD = textwrap.dedent(
    """
    import sys
    from plugway.registry import TypesRegistry, open_backend
    ORDER_T = "gts.acme.shop.orders.order.v1~"
    def doc(i):
        return {"id": f"{ORDER_T}acme.shop.orders.o{i}.v1", "total": i, "blob": str(i) * 3000}
    reg = TypesRegistry(open_backend("sqlite", sys.argv[1]))
    i = 0
    while True:
        if i % 3 == 0:
            batch = [doc(i + k) for k in range(7)]
            results = reg.register_many(batch)
            assert all(r.ok for r in results)
            for r in results:
                print(r.gts_id, flush=True)
            i += 7
        else:
            print(reg.register(doc(i)).gts_id, flush=True)
            i += 1
    """
)


def _expected(gts_id: str) -> dict[str, object]:
    i = int(gts_id.rsplit(".o", 1)[1].split(".")[0])
    return {"id": gts_id, "total": i, "blob": str(i) * 3000}


def test_kill_9_mid_burst_keeps_every_acknowledged_entity(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acked: list[str] = []
    try:
        for line in proc.stdout:
            acked.append(line.strip())
            if len(acked) >= 300:
                break
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    acked.extend(x for x in rest.splitlines() if x.strip())
    assert proc.returncode == -signal.SIGKILL, err
    assert len(acked) >= 300

    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    reg = TypesRegistry(open_backend("sqlite", path))
    try:
        for gid in acked:
            assert reg.get(gid).content == _expected(gid)
        stored = reg.list(EntityQuery(pattern=ORDER_T + "*", limit=10_000)).items
        assert {e.gts_id for e in stored} >= set(acked)
        for e in stored:  # nothing half-written: every row is whole and as sent
            assert e.content == _expected(e.gts_id)
            assert json.loads(json.dumps(e.content)) == e.content
    finally:
        reg.close()


def test_unopenable_path_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(RegistryStorageError, match=r"dir\.db"):
        open_backend("sqlite", tmp_path / "dir.db")
