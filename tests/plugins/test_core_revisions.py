"""Routing revisions: persisted in SQLite, restored on restart, listable, rolled back."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from plugins_core_support import ECHO, Named, pid, spec

from plugway.plugins import BreakerSettings, Gateway, SecurityContext
from plugway.plugins._breaker import CircuitBreaker
from plugway.plugins._revisions import MemoryRevisionStore, RevisionStore, SqliteRevisionStore
from plugway.plugins.errors import RevisionNotFoundError, RoutingConfigError

CTX = SecurityContext("t1", "u1")


def open_gateway(store: RevisionStore, routing: dict[str, Any] | None = None) -> Gateway[Any]:
    gw: Gateway[Any] = Gateway("echo", ECHO, routing=routing, store=store)
    gw.add_plugin(spec("a", "x", 1), Named("a"))
    gw.add_plugin(spec("b", "y", 1), Named("b"))
    return gw


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_store_appends_lists_and_gets(kind: str, tmp_path: Path) -> None:
    store: RevisionStore = (
        MemoryRevisionStore() if kind == "memory" else SqliteRevisionStore(tmp_path / "r.db")
    )
    assert store.latest("g") is None and store.list("g") == []
    r1 = store.append("g", {"vendor": "x"}, who="alice", what="first")
    r2 = store.append("g", {"vendor": "y"}, who="bob", what="second")
    store.append("other", {}, who="c", what="unrelated")
    assert (r1.number, r2.number) == (1, 2)
    assert store.latest("g") == r2
    assert [r.number for r in store.list("g")] == [2, 1]
    assert [r.number for r in store.list("g", limit=1)] == [2]
    got = store.get("g", 1)
    assert (got.routing, got.who, got.what) == ({"vendor": "x"}, "alice", "first")
    assert got.at.tzinfo is not None
    with pytest.raises(RevisionNotFoundError, match="'g' has no routing revision 9"):
        store.get("g", 9)
    store.close()


async def test_restart_comes_back_on_the_latest_revision(tmp_path: Path) -> None:
    path = tmp_path / "data" / "routing.sqlite3"
    store = SqliteRevisionStore(path)
    gw = open_gateway(store, routing={"vendor": "x"})
    assert gw.revision == 1 and await gw.client.echo(CTX, "1") == "a:1"
    gw.apply_routing({"vendor": "y"}, who="alice", what="switch to y")
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    reopened = SqliteRevisionStore(path)
    gw2 = open_gateway(reopened, routing={"vendor": "x"})  # the file's routing loses to the store
    assert gw2.revision == 2 and gw2.routing.vendor == "y"
    assert await gw2.client.echo(CTX, "2") == "b:2"
    assert [(r.number, r.who) for r in gw2.revisions()] == [(2, "alice"), (1, "config")]
    reopened.close()


async def test_rollback_creates_a_new_revision_equal_to_an_older_one(tmp_path: Path) -> None:
    store = SqliteRevisionStore(tmp_path / "r.db")
    gw = open_gateway(store, routing={"vendor": "x"})
    gw.apply_routing({"vendor": "y"}, who="alice")
    assert await gw.client.echo(CTX, "q") == "b:q"
    rev = gw.rollback(1, who="bob")
    assert rev.number == 3 and rev.what == "rollback to revision 1" and rev.who == "bob"
    assert dict(rev.routing) == dict(store.get("echo", 1).routing)
    assert gw.revision == 3 and await gw.client.echo(CTX, "q") == "a:q"
    with pytest.raises(RevisionNotFoundError):
        gw.rollback(42)
    store.close()


def test_a_rollback_to_a_routing_naming_a_gone_plugin_is_served_with_a_warning() -> None:
    gw = open_gateway(MemoryRevisionStore())
    gw.apply_routing({"rules": [{"target": {"plugin": pid("b")}}]})
    gw.apply_routing({})
    gw.remove_plugin(pid("b"))
    rev = gw.rollback(2)
    assert gw.revision == rev.number == 4
    assert any(pid("b") in w for w in gw.warnings)
    with pytest.raises(RoutingConfigError, match=r"rules\[0\]\.target\.plugin"):
        gw.apply_routing({"rules": [{"name": "n", "target": {"plugin": pid("b")}}]})  # strict


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_newest_revision_of_some_writers_is_found_whatever_the_history_length(
    kind: str, tmp_path: Path
) -> None:
    store: RevisionStore = (
        MemoryRevisionStore() if kind == "memory" else SqliteRevisionStore(tmp_path / "r.db")
    )
    store.append("g", {"n": 0}, who="config", what="initial")
    for i in range(1, 1201):
        store.append("g", {"n": i}, who="admin-api" if i % 3 else "registry", what="x")
    found = store.latest("g", who=("config", "config-file"))
    assert found is not None and (found.number, found.routing) == (1, {"n": 0})
    assert store.latest("g", who=("nobody",)) is None
    changes = store.list("g", limit=2, exclude_who=("registry",))
    assert [r.number for r in changes] == [1200, 1199]  # 1201 was a registry one
    assert all(r.who == "admin-api" for r in changes)
    store.close()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_store_remembers_the_config_routing_across_reopening(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    store: RevisionStore = MemoryRevisionStore() if kind == "memory" else SqliteRevisionStore(path)
    assert store.config_routing("g") is None
    store.remember_config_routing("g", {"vendor": "x"})
    store.remember_config_routing("g", {"vendor": "y"})
    store.remember_config_routing("other", {})
    assert store.config_routing("g") == {"vendor": "y"}
    if kind == "sqlite":
        store.close()
        store = SqliteRevisionStore(path)
        assert store.config_routing("g") == {"vendor": "y"}
    store.close()


def test_the_sqlite_store_syncs_each_commit_to_disk(tmp_path: Path) -> None:
    store = SqliteRevisionStore(tmp_path / "r.db")
    (level,) = store._db.execute("PRAGMA synchronous").fetchone()
    assert level == 2  # FULL, as the registry: an acknowledged revision survives a power cut
    store.close()


def test_breaker_unit() -> None:
    now = [0.0]
    brk = CircuitBreaker("p", BreakerSettings(failure_threshold=2, cooldown=5), lambda: now[0])
    assert brk.allow() and str(brk.state) == "closed"
    brk.record_failure()
    assert str(brk.state) == "closed" and brk.failures == 1
    brk.record_success()
    assert brk.failures == 0
    brk.record_failure()
    brk.record_failure()
    assert str(brk.state) == "open" and not brk.allow()
    now[0] = 5.0
    assert brk.allow() and str(brk.state) == "half_open"
    assert not brk.allow()  # one probe at a time
    now[0] = 10.0
    assert brk.allow()  # a lost probe is replaced after a cool-down
    brk.record_success()
    assert str(brk.state) == "closed" and brk.allow()
    with pytest.raises(ValueError):
        BreakerSettings(failure_threshold=0)


def test_two_stores_on_one_file_number_revisions_without_gaps(tmp_path: Path) -> None:
    one, two = SqliteRevisionStore(tmp_path / "r.db"), SqliteRevisionStore(tmp_path / "r.db")
    numbers = [
        (one if i % 2 else two).append("g", {"i": i}, who="w", what="x").number for i in range(10)
    ]
    assert numbers == list(range(1, 11))
    assert [r.routing["i"] for r in one.list("g", limit=3)] == [9, 8, 7]
    one.close()
    two.close()
