"""Routing revisions in PostgreSQL (a real server): one linear history for a fleet of replicas,
the config file applied once for the fleet, a notification at each commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from plugins_core_support import ECHO, Named, spec

from plugway.plugins import Gateway, SecurityContext
from plugway.plugins._history import CONFIG_WHO, RoutingHistory, open_revision_store
from plugway.plugins._pg_revisions import ROUTING_CHANNEL, PostgresRevisionStore
from plugway.plugins.errors import RevisionNotFoundError, RoutingConfigError

CTX = SecurityContext("t1", "u1")


@pytest.fixture
def stores(postgres_url: str) -> Iterator[tuple[PostgresRevisionStore, PostgresRevisionStore]]:
    """Two stores on one database: two replicas."""
    a, b = PostgresRevisionStore(postgres_url), PostgresRevisionStore(postgres_url)
    yield a, b
    a.close()
    b.close()


def replica(store: PostgresRevisionStore, routing: dict[str, Any]) -> Gateway[Any]:
    gw: Gateway[Any] = Gateway("echo", ECHO, routing=routing, store=store)
    gw.add_plugin(spec("a", "x", 1), Named("a"))
    gw.add_plugin(spec("b", "y", 1), Named("b"))
    return gw


def test_store_appends_lists_gets_and_remembers(
    stores: tuple[PostgresRevisionStore, PostgresRevisionStore],
) -> None:
    store, other = stores
    assert store.latest("g") is None and store.list("g") == []
    r1 = store.append("g", {"vendor": "x"}, who="alice", what="first")
    r2 = other.append("g", {"vendor": "y"}, who="bob", what="second")
    store.append("other", {}, who="c", what="unrelated")
    assert (r1.number, r2.number) == (1, 2)
    assert store.latest("g") == r2 and other.latest("g", who=("alice",)) == r1
    assert [r.number for r in store.list("g")] == [2, 1]
    assert [r.number for r in store.list("g", exclude_who=("bob",))] == [1]
    got = other.get("g", 1)
    assert (dict(got.routing), got.who, got.what) == ({"vendor": "x"}, "alice", "first")
    assert got.at.tzinfo is not None
    with pytest.raises(RevisionNotFoundError, match="'g' has no routing revision 9"):
        store.get("g", 9)
    assert store.config_routing("g") is None
    store.remember_config_routing("g", {"vendor": "x"})
    assert other.config_routing("g") == {"vendor": "x"}
    assert store.latest_numbers() == {"g": 2, "other": 1}


def test_the_url_opens_the_postgresql_store(postgres_url: str, tmp_path: Path) -> None:
    store = open_revision_store(Path("r.sqlite3"), tmp_path, url=postgres_url)
    assert isinstance(store, PostgresRevisionStore)
    store.close()
    assert not (tmp_path / "r.sqlite3").exists()


def test_concurrent_writers_give_one_linear_history(
    stores: tuple[PostgresRevisionStore, PostgresRevisionStore],
) -> None:
    numbers: list[int] = []
    lock = threading.Lock()

    def write(store: PostgresRevisionStore, who: str) -> None:
        for i in range(25):
            n = store.append("g", {"vendor": f"{who}{i}"}, who=who, what="race").number
            with lock:
                numbers.append(n)

    threads = [
        threading.Thread(target=write, args=(s, w)) for s, w in zip(stores, "ab", strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(numbers) == list(range(1, 51))
    assert [r.number for r in stores[0].list("g", limit=100)] == list(range(50, 0, -1))


def test_the_first_revision_is_seeded_once(
    stores: tuple[PostgresRevisionStore, PostgresRevisionStore],
) -> None:
    a, b = stores
    first = a.append("g", {"vendor": "x"}, who=CONFIG_WHO, what="initial routing")
    again = b.append("g", {"vendor": "x"}, who=CONFIG_WHO, what="initial routing")
    assert first.number == again.number == 1 and len(a.list("g")) == 1


def test_a_commit_notifies_and_a_rollback_does_not(
    postgres_url: str, stores: tuple[PostgresRevisionStore, PostgresRevisionStore]
) -> None:
    store = stores[0]
    with psycopg.connect(store.conninfo, autocommit=True) as listener:
        listener.execute(f"LISTEN {ROUTING_CHANNEL}")
        store.append("g", {"vendor": "x"}, who="alice", what="one")
        with pytest.raises(ZeroDivisionError), store.connection("test") as c, c.transaction():
            c.execute("SELECT pg_notify(%s, 'g:99')", (ROUTING_CHANNEL,))
            raise ZeroDivisionError
        store.append("g", {"vendor": "y"}, who="alice", what="two")
        got = [n.payload for n in listener.notifies(timeout=2.0, stop_after=2)]
    assert got == ["g:1", "g:2"]


def test_two_replicas_changing_routing_at_once_end_on_the_last(
    stores: tuple[PostgresRevisionStore, PostgresRevisionStore],
) -> None:
    one, two = replica(stores[0], {"vendor": "x"}), replica(stores[1], {"vendor": "x"})
    assert one.revision == two.revision == 1  # seeded once
    docs = [{"vendor": "y"}, {"vendor": "x", "timeout": 5.0}]
    revs: list[int] = []

    def put(gw: Gateway[Any], doc: dict[str, Any]) -> None:
        revs.append(gw.apply_routing(doc, who="admin-api").number)

    threads = [
        threading.Thread(target=put, args=(g, d)) for g, d in zip((one, two), docs, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(revs) == [2, 3]
    latest = stores[0].latest("echo")
    assert latest is not None and latest.number == 3
    for gw in (one, two):
        gw.follow(latest)  # what the fleet listener does on the notification
        assert gw.revision == 3 and gw.routing.document() == parse(latest.routing)


def parse(doc: Any) -> dict[str, Any]:
    from plugway.plugins.routing import parse_routing

    return parse_routing(doc).document()


def test_a_config_edit_is_applied_once_for_the_fleet(
    stores: tuple[PostgresRevisionStore, PostgresRevisionStore],
) -> None:
    gws = [replica(s, {"vendor": "x"}) for s in stores]
    histories = [RoutingHistory(g, s) for g, s in zip(gws, stores, strict=True)]
    # start-up with the file as the seed said: nothing new
    assert [h.reconcile({"vendor": "x"}) for h in histories] == [None, None]
    # the file is edited; both replicas read it
    made = [h.apply_config({"vendor": "y"}, what="config file edited") for h in histories]
    assert sum(r is not None for r in made) == 1
    assert [r.who for r in stores[0].list("echo")] == ["config-file", "config"]
    assert [g.revision for g in gws] == [2, 2]
    # an admin change survives a replica restarting with the same file
    gws[0].apply_routing({"vendor": "x", "timeout": 5.0}, who="admin-api")
    assert histories[1].reconcile({"vendor": "y"}) is None
    assert gws[1].revision == 3 and not histories[1].catch_up()


def test_a_config_routing_naming_a_missing_plugin_is_refused_and_not_recorded(
    stores: tuple[PostgresRevisionStore, PostgresRevisionStore],
) -> None:
    gw = replica(stores[0], {"vendor": "x"})
    history = RoutingHistory(gw, stores[0])
    with pytest.raises(RoutingConfigError, match="unknown plugin"):
        history.apply_config({"default": {"plugin": "nope"}}, what="config file edited")
    assert stores[0].config_routing("echo") is None and gw.revision == 1
