"""PostgreSQL: the query plan, migrations under a lock, replicas sharing one database, errors
that name the URL without its password, start-up through the configuration."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import psycopg
import pytest

from _postgres import PostgresDatabase, ThrowawayCluster, with_path
from plugway.modkit import load_settings
from plugway.registry import (
    EntityQuery,
    PostgresBackend,
    RegistryBackend,
    RegistryConflictError,
    RegistryError,
    RegistryStorageError,
    TypesRegistry,
    open_backend,
    redact_url,
)
from plugway.registry._backend import StoredRow
from plugway.registry._pg_schema import MIGRATION_LOCK_KEY, REGISTRY_MIGRATIONS
from plugway.registry._postgres import SCHEMA_VERSION
from plugway.registry._query import to_scans

from ._builders import ORDER_T, order, order_type, type_doc


@pytest.fixture
def backend(postgres_url: str) -> Iterator[PostgresBackend]:
    b = PostgresBackend(postgres_url)
    yield b
    b.close()


def _sql(url: str, query: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, args or None)
        return cur.fetchall() if cur.description else []


def test_backend_implements_the_protocol(backend: PostgresBackend) -> None:
    assert isinstance(backend, RegistryBackend)


def test_pattern_query_is_a_primary_key_range_scan(
    backend: PostgresBackend, postgres_url: str
) -> None:
    """The plan PostgreSQL runs for a pattern query: an index scan of the primary key bounded by
    the pattern's prefix, which reads only the rows of that range (1 of 3000 here)."""
    reg = TypesRegistry(backend)
    results = reg.register_many([type_doc(f"gts.v{v:04d}.pkg.ns.thing.v1~") for v in range(3000)])
    assert all(r.ok for r in results)
    _sql(postgres_url, "ANALYZE registry_entity")
    (scan,) = to_scans(EntityQuery(pattern="gts.v0007.*"))
    plan = backend.explain(scan, analyze=True)["Plan"]
    assert plan["Node Type"] == "Limit"
    (node,) = plan["Plans"]
    assert node["Node Type"] == "Index Scan", plan
    assert node["Index Name"] == "registry_entity_pkey"
    assert node["Index Cond"] == (
        "((gts_id >= 'gts.v0007.'::text) AND (gts_id < 'gts.v0007/'::text))"
    )
    assert node["Actual Rows"] == 1 and "Rows Removed by Filter" not in node
    assert [e.gts_id for e in reg.list(EntityQuery(pattern="gts.v0007.*")).items] == [
        "gts.v0007.pkg.ns.thing.v1~"
    ]


def test_ids_sort_in_code_point_order(backend: PostgresBackend) -> None:
    """The "C" collation: the order of the range bounds and cursors, whatever the database's."""
    reg = TypesRegistry(backend)
    ids = [f"gts.acme.pkg.ns.{name}.v1~" for name in ("b", "a_b", "ab", "a")]
    assert all(r.ok for r in reg.register_many([type_doc(i) for i in ids]))
    got = [e.gts_id for e in reg.list(EntityQuery(pattern="gts.acme.*")).items]
    assert got == sorted(ids)  # Python's order is code-point order; "a_b" < "ab" in it


def test_schema_version_is_recorded(backend: PostgresBackend, postgres_url: str) -> None:
    assert backend.schema_version() == SCHEMA_VERSION == len(REGISTRY_MIGRATIONS)
    rows = _sql(
        postgres_url,
        "SELECT version, name FROM plugway_schema_migrations WHERE component = 'registry' "
        "ORDER BY version",
    )
    assert rows == [(m.version, m.name) for m in REGISTRY_MIGRATIONS]


def test_newer_schema_is_refused(postgres_url: str) -> None:
    PostgresBackend(postgres_url).close()
    _sql(
        postgres_url,
        "INSERT INTO plugway_schema_migrations (component, version, name) "
        "VALUES ('registry', %s, 'from the future')",
        SCHEMA_VERSION + 1,
    )
    with pytest.raises(RegistryStorageError, match="newer") as info:
        PostgresBackend(postgres_url)
    assert redact_url(postgres_url) in str(info.value)


def test_replicas_starting_at_once_migrate_once(postgres_url: str) -> None:
    """Four backends open one empty schema at the same moment: all succeed, one row per version."""
    barrier = threading.Barrier(4)
    opened: list[PostgresBackend] = []
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            opened.append(PostgresBackend(postgres_url, min_size=1, max_size=1))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for b in opened:
        b.close()
    assert errors == []
    rows = _sql(
        postgres_url,
        "SELECT version, count(*) FROM plugway_schema_migrations GROUP BY version ORDER BY 1",
    )
    assert rows == [(m.version, 1) for m in REGISTRY_MIGRATIONS]


def test_migration_waits_for_the_advisory_lock(postgres_url: str) -> None:
    """While another session holds the migration lock, a starting backend waits for it and
    has created nothing; once the lock is released it migrates."""
    holder = psycopg.connect(postgres_url, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    opened: list[PostgresBackend] = []
    thread = threading.Thread(target=lambda: opened.append(PostgresBackend(postgres_url)))
    thread.start()
    try:
        waiting: list[tuple[object, ...]] = []
        for _ in range(600):  # until the starting backend queues on the lock (at most ~60 s)
            waiting = _sql(
                postgres_url,
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            if waiting or not thread.is_alive():
                break
            threading.Event().wait(0.1)
        assert waiting, "the starting backend did not wait for the migration lock"
        tables = _sql(postgres_url, "SELECT to_regclass('registry_entity') IS NOT NULL")
        assert tables == [(False,)]
    finally:
        holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
        holder.close()
        thread.join()
    assert len(opened) == 1
    assert opened[0].schema_version() == SCHEMA_VERSION
    opened[0].close()


def test_persistence_across_reopen(postgres_url: str) -> None:
    with TypesRegistry(open_backend("postgresql", url=postgres_url)) as reg:
        reg.register(order_type())
        e = reg.register(order("o1"))
        reg.register(order("o2"))
        reg.remove(order("o2")["id"])
        rev = reg.revision
    with TypesRegistry(open_backend("postgresql", url=postgres_url)) as reg:
        assert reg.get(e.gts_id) == e
        assert reg.revision == rev
        assert reg.count() == 3  # base type, order type, o1
        reg.switch_to_ready()
        assert reg.register(order("o3")).revision == rev + 1


def test_two_replicas_share_one_linear_revision_history(postgres_url: str) -> None:
    """Two backends on one database write at once: every revision is used once, both see the
    other's writes and agree on the latest revision."""
    a = TypesRegistry(PostgresBackend(postgres_url))
    b = TypesRegistry(PostgresBackend(postgres_url))
    try:
        a.register(order_type())
        errors: list[BaseException] = []

        def work(reg: TypesRegistry, name: str) -> None:
            try:
                for i in range(30):
                    reg.register(order(f"{name}{i}"))
                reg.register_many([order(f"{name}_b{i}") for i in range(20)])
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=(reg, name))
            for reg, name in ((a, "a"), (b, "b"), (a, "c"), (b, "d"))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        everything = a.list(EntityQuery(limit=10_000)).items
        assert [e.gts_id for e in b.list(EntityQuery(limit=10_000)).items] == [
            e.gts_id for e in everything
        ]
        assert len(everything) == 2 + 4 * 50
        revs = sorted(e.revision for e in everything)
        assert len(set(revs)) == len(revs)
        assert a.revision == b.revision == revs[-1]
        assert b.get(order("a7")["id"]).content == order("a7")
    finally:
        a.close()
        b.close()


def test_a_batch_is_all_or_nothing(backend: PostgresBackend, postgres_url: str) -> None:
    """A failing statement rolls the whole batch back, revision counter included."""
    reg = TypesRegistry(backend)
    rev = reg.revision
    _sql(
        postgres_url,
        "ALTER TABLE registry_entity ADD CONSTRAINT no_o3 CHECK (gts_id NOT LIKE '%.o3.v1')",
    )
    with pytest.raises(RegistryStorageError, match="nothing written"):
        reg.register_many([order_type(), *(order(f"o{i}") for i in range(5))])
    assert reg.revision == rev
    assert reg.list(EntityQuery(pattern=ORDER_T + "*")).items == ()


def test_closed_backend_refuses_calls(postgres_url: str) -> None:
    reg = TypesRegistry(open_backend("postgresql", url=postgres_url))
    backend = reg.backend
    reg.close()
    reg.close()
    with pytest.raises(RegistryStorageError, match="closed"):
        backend.count()


def test_unreachable_server_names_the_url_without_password() -> None:
    port = _closed_port()
    url = f"postgresql://someone:s3cret-pw@127.0.0.1:{port}/plugway"
    with pytest.raises(RegistryStorageError) as info:
        PostgresBackend(url)
    message = str(info.value)
    assert f"postgresql://someone:***@127.0.0.1:{port}/plugway" in message
    assert "s3cret-pw" not in message


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root:s3cret-pw@127.0.0.1/x",
        "postgresql://root:s3cret-pw@127.0.0.1:notaport/x",
        "postgresql://root@127.0.0.1/x?password=s3cret-pw&bogus_option=1",
    ],
)
def test_malformed_url_is_refused_without_password(url: str) -> None:
    with pytest.raises(RegistryStorageError) as info:
        PostgresBackend(url)
    assert "s3cret-pw" not in str(info.value)
    assert "***" in str(info.value)


def test_redact_url() -> None:
    assert redact_url("postgresql://u:p%40ss@h:5/d?sslmode=require") == (
        "postgresql://u:***@h:5/d?sslmode=require"
    )
    assert redact_url("postgresql://u@h/d?password=x") == "postgresql://u@h/d?password=***"
    assert redact_url("postgres://h/d") == "postgres://h/d"
    assert redact_url("host=h password='a b' dbname=d") == "host=h password=*** dbname=d"


def test_open_backend_needs_a_url_and_only_for_postgresql(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"registry\.url"):
        open_backend("postgresql")
    with pytest.raises(RegistryError, match="only for the postgresql backend"):
        open_backend("sqlite", tmp_path / "r.db", url="postgresql://h/d")


def test_settings_url_alone_selects_postgresql(tmp_path: Path) -> None:
    env = {"PLUGWAY__REGISTRY__URL": "postgresql://u:pw@h/d", "PLUGWAY_DATA_DIR": str(tmp_path)}
    settings = load_settings(None, env)
    assert settings.registry.backend == "postgresql"
    assert settings.registry.url == "postgresql://u:pw@h/d"
    assert settings.registry_path is None
    config = tmp_path / "c.yaml"
    config.write_text("registry: {backend: sqlite}\n")
    explicit = load_settings(config, {"PLUGWAY__REGISTRY__URL": "postgresql://h/d"})
    assert explicit.registry.backend == "sqlite"  # refused when the registry opens


def test_serve_with_an_unreachable_database_exits_2_naming_it(tmp_path: Path) -> None:
    port = _closed_port()
    config = tmp_path / "plugway.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "server: {port: 0}\n"
        f"registry: {{backend: postgresql, url: 'postgresql://root:s3cret-pw@127.0.0.1:{port}/x'}}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "plugway", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"postgresql://root:***@127.0.0.1:{port}/x" in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout


def test_survives_a_server_restart() -> None:
    """A private server is stopped and started again: the pool hands out fresh connections, so
    the first call after the restart succeeds and nothing written before is lost."""
    with ThrowawayCluster() as cluster:
        reg = TypesRegistry(PostgresBackend(cluster.url))
        try:
            reg.register(order_type())
            cluster.stop()
            with pytest.raises(RegistryStorageError, match=str(cluster.port)):
                PostgresBackend(cluster.url, timeout=2)
            cluster.start()
            assert reg.get(ORDER_T).gts_id == ORDER_T
            assert reg.register(order("o1")).gts_id == order("o1")["id"]
        finally:
            reg.close()


def test_with_path_sets_database_and_schema(postgres_database: PostgresDatabase) -> None:
    url = with_path(postgres_database.url, schema="s1")
    assert url.startswith(postgres_database.url) and "search_path%3Ds1" in url
    assert with_path(url, database="other").split("?")[0].endswith("/other")


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _StaleReads(PostgresBackend):
    """A replica that read the registry before another one wrote: its next lookup sees
    nothing (the write itself still goes to the real database)."""

    stale = True

    def get_many(self, gts_ids: Sequence[str]) -> Mapping[str, StoredRow]:
        if self.stale:
            self.stale = False
            return {}
        return super().get_many(gts_ids)


def test_two_replicas_registering_one_id_with_different_content_conflict(
    postgres_url: str,
) -> None:
    """The last writer does not silently win: the database refuses other content under an id
    another replica stored meanwhile, for that item only; the same content stays idempotent."""
    a = TypesRegistry(PostgresBackend(postgres_url))
    b = TypesRegistry(_StaleReads(postgres_url))
    try:
        a.register(order_type())
        a.register(order("o1", total=10))
        results = b.register_many([order("o1", total=99), order("o2")])
        assert not results[0].ok and results[0].code == RegistryConflictError.code
        assert results[0].error is not None and "o1.v1" in results[0].error
        assert results[1].ok and results[1].created
        stored = a.get(order("o1")["id"])
        assert stored.content["total"] == 10  # what the first replica stored is kept
        assert a.get(order("o2")["id"]) is not None
        again = b.register_many([order("o1", total=10)])  # identical: idempotent, no conflict
        assert again[0].ok
    finally:
        a.close()
        b.close()


def test_a_replica_validates_against_types_another_replica_registered_later(
    postgres_url: str,
) -> None:
    """Both replicas are ready; a type registered on one is known to the other's validation."""
    a = TypesRegistry(PostgresBackend(postgres_url))
    b = TypesRegistry(PostgresBackend(postgres_url))
    try:
        a.switch_to_ready()
        b.switch_to_ready()
        a.register(order_type())  # after b loaded its store
        entity = b.register(order("o7"))
        assert entity.gts_id == order("o7")["id"]
        bad = b.register_many([order("o8", total="not a number")])
        assert not bad[0].ok and bad[0].error is not None  # validated against a's type
        assert b.register_many([{"id": "gts.x.nope.nope.nope.v1~x.a.b.c.v1"}])[0].ok is False
    finally:
        a.close()
        b.close()
