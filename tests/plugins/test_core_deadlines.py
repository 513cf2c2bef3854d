"""Deadlines armed in open windows, and calls of any arity through the fixed-parameter entry."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Protocol

import pytest
from plugins_core_support import ECHO, spec

from plugway.plugins import (
    Gateway,
    GatewayCallError,
    PluginContract,
    PluginSpec,
    SecurityContext,
)
from plugway.plugins._deadlines import Deadline

CTX = SecurityContext("t1", "u1")


class Slow:
    def __init__(self, delay: float | None) -> None:
        self.delay = delay

    async def echo(self, ctx: SecurityContext, text: str) -> str:
        if self.delay is None:
            await asyncio.Event().wait()
        await asyncio.sleep(self.delay or 0)
        return text


def gateway(delay: float | None, timeout: float) -> Gateway[Any]:
    gw: Gateway[Any] = Gateway("echo", ECHO, default_timeout=timeout)
    gw.add_plugin(spec("s", "x", 1), Slow(delay))
    return gw


def deadline_of(gw: Gateway[Any]) -> Deadline:
    d = gw.state.routes[0].deadline
    assert d is not None
    return d


async def test_the_ticker_stops_when_calls_stop_and_starts_again() -> None:
    gw = gateway(0.0, 5.0)
    assert await gw.client.echo(CTX, "a") == "a"
    d = deadline_of(gw)
    assert d.window is not None and len(d) == 0  # the call took its entry out
    await asyncio.sleep(d.resolution * 4)
    assert d.window is None  # quiet: no timer keeps ticking
    assert await gw.client.echo(CTX, "b") == "b"
    assert d.window is not None


async def test_a_call_that_outlives_its_window_still_times_out() -> None:
    gw = gateway(None, 0.05)
    calls = [asyncio.create_task(gw.client.echo(CTX, str(i))) for i in range(3)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, GatewayCallError) and "timed out" in str(r) for r in results)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


def test_calls_on_another_threads_loop_get_their_own_deadline() -> None:
    gw = gateway(None, 0.05)
    errors: list[BaseException] = []

    async def serve_forever_then_call() -> None:
        # the gateway's loop keeps running (with a deadline armed) while another thread calls
        waiting = asyncio.create_task(gw.client.echo(CTX, "main"))
        done = asyncio.Event()
        loop = asyncio.get_running_loop()

        def other_thread() -> None:
            try:
                asyncio.run(gw.client.echo(CTX, "thread"))
            except BaseException as exc:
                errors.append(exc)
            loop.call_soon_threadsafe(done.set)

        threading.Thread(target=other_thread).start()
        await done.wait()
        with pytest.raises(GatewayCallError, match="timed out"):
            await waiting

    asyncio.run(serve_forever_then_call())
    assert len(errors) == 1 and isinstance(errors[0], GatewayCallError)
    assert "timed out" in str(errors[0])


def test_a_gateway_serves_one_loop_after_another() -> None:
    gw = gateway(None, 0.02)
    for _ in range(2):  # the deadline follows the new loop once the old one is closed
        with pytest.raises(GatewayCallError, match="timed out"):
            asyncio.run(gw.client.echo(CTX, "a"))


def test_a_call_outside_a_task_is_refused_when_it_has_a_deadline() -> None:
    gw = gateway(0.0, 1.0)

    async def outside() -> None:
        coro = gw.client.echo(CTX, "a")
        with pytest.raises(RuntimeError, match="asyncio task"):
            coro.send(None)  # driven by hand, with no task around it

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_in_loop_without_task(loop, outside))
    finally:
        loop.close()


async def _in_loop_without_task(loop: asyncio.AbstractEventLoop, fn: Any) -> None:
    done: asyncio.Future[None] = loop.create_future()

    def run() -> None:  # a plain callback: the loop runs it outside any task
        coro = fn()
        try:
            coro.send(None)
        except StopIteration:
            done.set_result(None)
        except BaseException as exc:
            done.set_exception(exc)

    loop.call_soon(run)
    await done


class Shapes(Protocol):
    async def none(self, ctx: SecurityContext) -> str: ...
    async def two(self, ctx: SecurityContext, a: str, b: str = "B") -> str: ...
    async def five(self, ctx: SecurityContext, a: str, b: str, c: str, d: str, e: str) -> str: ...
    async def keyword(self, ctx: SecurityContext, a: str, *, flag: bool = False) -> str: ...


SHAPES = PluginContract(Shapes, type_id="gts.x.core.modkit.plugin.v1~x.test.shapes.plugin.v1.0~")


class ShapesImpl:
    async def none(self, ctx: SecurityContext) -> str:
        return "none"

    async def two(self, ctx: SecurityContext, a: str, b: str = "B") -> str:
        return a + b

    async def five(self, ctx: SecurityContext, a: str, b: str, c: str, d: str, e: str) -> str:
        return a + b + c + d + e

    async def keyword(self, ctx: SecurityContext, a: str, *, flag: bool = False) -> str:
        return f"{a}:{flag}"


@pytest.mark.parametrize("timeout", [None, 5.0])
async def test_every_way_of_passing_arguments_reaches_the_plugin(timeout: float | None) -> None:
    gw: Gateway[Shapes] = Gateway("shapes", SHAPES, default_timeout=timeout)
    gw.add_plugin(SHAPES_SPEC, ShapesImpl())
    c = gw.client
    assert await c.none(CTX) == "none"
    assert await c.two(CTX, "a") == "aB"  # the plugin's own default
    assert await c.two(CTX, "a", "b") == "ab"
    assert await c.two(CTX, a="a", b="b") == "ab"
    assert await c.two(CTX, "a", b="c") == "ac"
    assert await c.five(CTX, "1", "2", "3", "4", "5") == "12345"
    assert await c.five(CTX, "1", "2", "3", d="4", e="5") == "12345"
    assert await c.keyword(CTX, "x", flag=True) == "x:True"
    assert await gw.call("five", CTX, "1", "2", "3", "4", e="5") == "12345"
    outcome = await gw.call_with_outcome("two", CTX, "p", b="q")
    assert outcome.result == "pq" and outcome.plugin == SHAPES_SPEC.id
    with pytest.raises(TypeError):
        await c.two(CTX)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        await c.none(CTX, "extra")  # type: ignore[call-arg]


SHAPES_SPEC = PluginSpec(SHAPES.instance_id("x.test.shapes_impl.plugin.v1"), "x", 1)
