"""The loop-lag monitor: a real loop blocked by a real plugin method is seen and attributed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from plugway.plugins import SecurityContext
from plugway.plugins._lag import LoopLagMonitor

BLOCKER = "gts.x.core.modkit.plugin.v1~x.test.echo.plugin.v1.0~x.test.blocker.plugin.v1"
POLITE = "gts.x.core.modkit.plugin.v1~x.test.echo.plugin.v1.0~x.test.polite.plugin.v1"
CTX = SecurityContext("t1", "u1")


class Blocking:
    """A plugin that blocks the loop in an async method, as a careless one would."""

    async def echo(self, ctx: SecurityContext, text: str) -> str:
        time.sleep(0.6)
        return text


class Polite:
    async def echo(self, ctx: SecurityContext, text: str) -> str:
        await asyncio.sleep(0)
        return text


def blocking_helper() -> None:
    time.sleep(0.6)


async def wait_for_stalls(monitor: LoopLagMonitor, count: int) -> None:
    """Let the loop run until the watchdog has recorded ``count`` stalls (bounded, not timed)."""
    for _ in range(500):
        if monitor.stall_count >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the monitor saw no stall: {monitor.status()}")


@pytest.fixture
async def monitor() -> AsyncIterator[LoopLagMonitor]:
    mon = LoopLagMonitor(threshold=0.1)
    mon.register(BLOCKER, Blocking())
    mon.register(POLITE, Polite())
    mon.start(asyncio.get_running_loop())
    yield mon
    mon.stop()


async def test_a_plugin_blocking_the_loop_is_named(
    monitor: LoopLagMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="plugway.plugins.lag")
    assert monitor.status()["status"] == "ok"
    impl = Blocking()
    monitor.register(BLOCKER, impl)  # again: the instance the gateway holds
    assert await Polite().echo(CTX, "fine") == "fine"
    assert await impl.echo(CTX, "x") == "x"
    await wait_for_stalls(monitor, 1)
    stalls = monitor.stalls()
    assert set(stalls) == {BLOCKER}
    assert stalls[BLOCKER].count == 1
    assert "Blocking.echo" in stalls[BLOCKER].last_function
    status = monitor.status()
    assert status["status"] == "degraded" and status["blocking_plugins"] == [BLOCKER]
    assert status["unattributed_stalls"] == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(BLOCKER in w and "Blocking.echo" in w for w in warnings), warnings
    # and long after, the monitor says so no more
    later = monitor.status(now=time.monotonic() + monitor.recent + 1)
    assert later["status"] == "ok" and later["blocking_plugins"] == []


async def test_stalls_are_exported_as_metrics(monitor: LoopLagMonitor) -> None:
    await Blocking().echo(CTX, "x")  # another instance of a registered class: still its code
    await wait_for_stalls(monitor, 1)
    registry = CollectorRegistry()
    registry.register(monitor)
    families = {
        f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())
    }
    assert families["plugway_event_loop_lag_seconds"].type == "gauge"
    [plugin_stalls] = families["plugway_plugin_loop_stalls"].samples
    assert plugin_stalls.labels == {"plugin": BLOCKER} and plugin_stalls.value == 1
    assert families["plugway_event_loop_stalls"].samples[0].value == 1


async def test_a_stall_outside_registered_plugins_is_counted_but_not_attributed(
    monitor: LoopLagMonitor,
) -> None:
    monitor.unregister(BLOCKER)
    await Blocking().echo(CTX, "x")  # no longer registered
    await wait_for_stalls(monitor, 1)
    blocking_helper()
    await wait_for_stalls(monitor, 2)
    status = monitor.status()
    assert status["status"] == "ok"  # no plugin to blame: counted, readiness unaffected
    assert status["blocking_plugins"] == [] and status["unattributed_stalls"] == 2
    last = monitor.last_stall
    assert last is not None and last.plugins == () and "blocking_helper" in last.function


async def test_two_instances_of_one_class_are_told_apart(monitor: LoopLagMonitor) -> None:
    first, second = Blocking(), Blocking()
    monitor.register("first", first)
    monitor.register("second", second)
    monitor.unregister(BLOCKER)
    await second.echo(CTX, "x")
    await wait_for_stalls(monitor, 1)
    assert set(monitor.stalls()) == {"second"}


def test_the_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold"):
        LoopLagMonitor(threshold=0)
