"""Change events: registered (only when created), removed, ready; listeners cannot break it."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from plugway.registry import RegistryEvent, TypesRegistry

from ._builders import order, order_type


def test_events(registry: TypesRegistry) -> None:
    seen: list[RegistryEvent] = []
    unsubscribe = registry.subscribe(seen.append)
    registry.register(order_type())
    registry.register(order_type())  # idempotent: no event
    registry.register_many([order("o1"), order("o2"), order("o1")])
    registry.remove(order("o2")["id"])
    registry.switch_to_ready()
    assert [(e.kind, e.gts_id) for e in seen] == [
        ("registered", order_type()["$id"].removeprefix("gts://")),
        ("registered", order("o1")["id"]),
        ("registered", order("o2")["id"]),
        ("removed", order("o2")["id"]),
        ("ready", None),
    ]
    assert seen[1].entity is not None and seen[1].entity.content == order("o1")
    revisions = [e.revision for e in seen]
    assert revisions == sorted(revisions) and revisions[0] > 0
    unsubscribe()
    unsubscribe()  # harmless twice
    registry.register(order("o3"))
    assert len(seen) == 5


def test_failed_registration_emits_nothing(registry: TypesRegistry) -> None:
    registry.register(order_type())
    registry.register(order("o1", total=1))
    registry.switch_to_ready()
    seen: list[RegistryEvent] = []
    registry.subscribe(seen.append)
    registry.register_many(
        [
            order("o1", total=2),  # conflict
            {"bad": True},  # no id
            {"id": "gts.acme.shop.orders.ghost.v1~acme.shop.orders.o9.v1"},  # unknown type
        ]
    )
    assert seen == []


def test_a_raising_listener_is_logged_and_isolated(
    registry: TypesRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: RegistryEvent) -> None:
        raise RuntimeError("listener bug")

    seen: list[RegistryEvent] = []
    registry.subscribe(broken)
    registry.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="plugway.registry"):
        e = registry.register(order("o1"))
    assert registry.get(e.gts_id) == e
    assert [x.gts_id for x in seen] == [e.gts_id]
    assert "listener bug" in caplog.text and e.gts_id in caplog.text


def test_listener_may_call_the_registry(registry: TypesRegistry) -> None:
    got: list[int] = []
    registry.subscribe(lambda ev: got.append(registry.count()))
    registry.register(order("o1"))
    assert got == [registry.count()]


def test_dispatch_decides_where_listeners_of_a_bulk_registration_run(
    registry: TypesRegistry,
) -> None:
    """A registration made in a worker thread hands its listeners to the caller's loop."""
    seen: list[str | None] = []
    registry.subscribe(lambda e: seen.append(e.gts_id))
    handed: list[Callable[[], None]] = []
    results = registry.register_many([order_type(), order("o1")], dispatch=handed.append)
    assert [r.created for r in results] == [True, True]
    assert seen == [] and len(handed) == 1  # nothing ran yet: one call for the whole batch
    handed[0]()
    assert seen == [order_type()["$id"].removeprefix("gts://"), order("o1")["id"]]
    # nothing new: nothing to dispatch
    assert [r.created for r in registry.register_many([order("o1")], dispatch=handed.append)] == [
        False
    ]
    assert len(handed) == 1
