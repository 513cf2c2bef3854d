"""run_in_thread: a blocking plugin stalls its own worker, not the caller's event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from plugins_core_support import ECHO, spec

from plugway.plugins import PluginError, SecurityContext
from plugway.plugins._threaded import ThreadedPlugin, run_in_thread
from plugway.plugins.errors import PluginContractError

CTX = SecurityContext("t1", "u1")


class Sleepy:
    """Blocks its thread for a second in an async method, as a careless plugin would."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.returned = threading.Event()
        self.threads: list[str] = []

    async def echo(self, ctx: SecurityContext, text: str) -> str:
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        time.sleep(1)
        self.returned.set()
        return f"slept:{text}"

    def sync_helper(self) -> str:
        return "own attribute"


class Held(Sleepy):
    """Blocks its thread (a sync wait, like time.sleep) until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    async def echo(self, ctx: SecurityContext, text: str) -> str:
        self.entered.set()
        self.release.wait(10)
        self.returned.set()
        return f"held:{text}"


class Raising:
    async def echo(self, ctx: SecurityContext, text: str) -> str:
        raise LookupError(f"no {text}")


@pytest.fixture
def sleepy() -> Iterator[tuple[Sleepy, ThreadedPlugin]]:
    impl = Sleepy()
    proxy = run_in_thread(impl, ["echo"], name="sleepy")
    yield impl, proxy
    proxy.close()


async def test_the_main_loop_progresses_while_the_plugin_blocks() -> None:
    impl = Held()
    proxy = run_in_thread(impl, ["echo"])
    try:
        call = asyncio.create_task(proxy.echo(CTX, "a"))
        for _ in range(1000):  # bounded wait until the plugin sits in its blocking wait
            if impl.entered.is_set():
                break
            await asyncio.sleep(0.005)
        ticks = 0
        for _ in range(3):
            await asyncio.sleep(0)
            ticks += 1
        # on the caller's loop, these ticks could only come after the 10 s wait returned
        assert ticks == 3 and impl.entered.is_set() and not impl.returned.is_set()
        impl.release.set()
        assert await call == "held:a"
    finally:
        proxy.close()


async def test_calls_run_on_the_plugins_own_thread(sleepy: tuple[Sleepy, ThreadedPlugin]) -> None:
    impl, proxy = sleepy
    assert await proxy.echo(CTX, "a") == "slept:a"
    assert impl.threads == ["plugway-plugin:sleepy"]


async def test_the_callers_timeout_fires_and_the_worker_finishes_the_abandoned_call(
    sleepy: tuple[Sleepy, ThreadedPlugin],
) -> None:
    impl, proxy = sleepy
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(proxy.echo(CTX, "late"), 0.1)
    assert await asyncio.to_thread(impl.returned.wait, 10)  # it ran on, in its own thread


async def test_the_proxy_binds_to_the_contract_and_passes_results_and_errors() -> None:
    proxy = run_in_thread(Raising(), ECHO.methods, name="raising")
    try:
        inst = ECHO.bind(spec("threaded"), proxy)
        with pytest.raises(LookupError, match="no thing"):
            await inst.methods["echo"](CTX, "thing")
    finally:
        proxy.close()
    with pytest.raises(PluginError, match="'raising': method 'echo' called after close"):
        await inst.methods["echo"](CTX, "thing")


def test_other_attributes_are_the_plugins_and_only_async_methods_can_be_proxied() -> None:
    proxy = run_in_thread(Sleepy(), ["echo"])
    try:
        assert proxy.sync_helper() == "own attribute"
    finally:
        proxy.close()
    assert proxy.closed
    with pytest.raises(PluginContractError) as info:
        run_in_thread(Sleepy(), ["sync_helper"], name="p1")
    assert info.value.plugin == "p1" and info.value.method == "sync_helper"
    with pytest.raises(PluginContractError, match="'nope'"):
        run_in_thread(Sleepy(), ["nope"], name="p1")
