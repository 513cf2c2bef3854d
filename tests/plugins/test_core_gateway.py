"""The Gateway: calls, fallbacks, timeouts, breaker, shadow, hot swap, metrics."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import pytest
from plugins_core_support import ECHO, Failing, FakeClock, Hanging, Named, pid, spec

from plugway.plugins import (
    BreakerSettings,
    Gateway,
    GatewayCallError,
    NoPluginAvailableError,
    PluginContract,
    PluginSpec,
    SecurityContext,
)
from plugway.plugins._metrics import Metrics, render_prometheus
from plugway.plugins.errors import PluginContractError, RoutingConfigError, UnknownPluginError

CTX = SecurityContext("t1", "u1")


def make(
    *plugins: tuple[str, object, str, int], routing: dict[str, Any] | None = None, **kw: Any
) -> Gateway[Any]:
    gw: Gateway[Any] = Gateway("echo", ECHO, **kw)
    for name, impl, vendor, prio in plugins:
        gw.add_plugin(spec(name, vendor, prio), impl)
    if routing is not None:
        gw.apply_routing(routing, who="test")
    return gw


async def test_client_and_call_route_to_the_default_plugin() -> None:
    a, b = Named("a"), Named("b")
    gw = make(("a", a, "x", 20), ("b", b, "x", 10))
    assert await gw.client.echo(CTX, "hi") == "b:hi"
    assert await gw.call("echo", CTX, "hi") == "b:hi"
    assert await gw.call("echo", CTX, text="kw") == "b:kw"
    assert await gw.client.echo(CTX, text="kw2") == "b:kw2"
    assert gw.plugin_for(CTX) is b
    assert (a.calls, b.calls) == (0, 4)
    with pytest.raises(GatewayCallError, match="no such method") as info:
        await gw.call("nope", CTX)
    assert info.value.gateway == "echo" and info.value.method == "nope"
    with pytest.raises(TypeError):  # bound to the contract's parameters before any plugin runs
        await gw.call("echo", CTX, "a", "b")
    assert b.calls == 4 and gw.breaker(pid("b")).failures == 0


async def test_no_plugin_is_an_error_naming_the_gateway() -> None:
    gw = make()
    with pytest.raises(NoPluginAvailableError) as info:
        await gw.client.echo(CTX, "x")
    assert info.value.gateway == "echo" and info.value.plugin is None
    with pytest.raises(NoPluginAvailableError):
        gw.plugin_for(CTX)


async def test_a_broken_plugin_is_refused_and_the_others_keep_serving() -> None:
    class Sync:
        def echo(self, ctx: SecurityContext, text: str) -> str:
            return text

    gw = make(("a", Named("a"), "x", 1))
    with pytest.raises(PluginContractError):
        gw.add_plugin(spec("s"), Sync())
    bad = gw.sync_plugins([(spec("a"), Named("a2")), (spec("s"), Sync())])
    assert [p for p, _ in bad] == [pid("s")]
    assert [p.id for p in gw.plugins] == [pid("a")]
    assert await gw.client.echo(CTX, "x") == "a2:x"
    with pytest.raises(UnknownPluginError):
        gw.remove_plugin(pid("s"))


async def test_fallback_on_raise() -> None:
    broken, backup = Failing("p"), Named("q")
    routing = {"rules": [{"target": {"plugin": pid("p")}, "fallback": [{"plugin": pid("q")}]}]}
    gw = make(("p", broken, "x", 1), ("q", backup, "y", 2), routing=routing)
    assert await gw.client.echo(CTX, "a") == "q:a"
    assert await gw.call("echo", CTX, "b") == "q:b"
    assert broken.calls == 2 and backup.calls == 2
    text = render_prometheus(gw.metrics)
    assert (
        f'plugway_gateway_errors_total{{gateway="echo",plugin="{pid("p")}",rule="rule0"}} 2' in text
    )
    assert (
        f'plugway_gateway_fallbacks_total{{gateway="echo",plugin="{pid("p")}",rule="rule0"}} 2'
        in text
    )
    assert (
        f'plugway_gateway_calls_total{{gateway="echo",plugin="{pid("q")}",rule="rule0"}} 2' in text
    )


async def test_fallback_on_hang_with_a_timeout() -> None:
    hang, backup = Hanging("h"), Named("q")
    routing = {
        "timeout": 0.05,
        "vendor": "x",
        "fallback": [{"plugin": pid("q")}],
    }
    gw = make(("h", hang, "x", 1), ("q", backup, "y", 2), routing=routing)
    assert await gw.client.echo(CTX, "a") == "q:a"
    series = gw.metrics.series("echo", pid("h"), "default")
    assert (series.errors, series.timeouts, series.fallbacks) == (1, 1, 1)
    assert await gw.call("echo", CTX, text="kw") == "q:kw"  # keyword args on the careful path
    assert hang.calls == 2 and series.timeouts == 2


async def test_all_failing_raises_gateway_call_error_with_every_attempt() -> None:
    routing = {"vendor": "x", "fallback": [{"plugin": pid("q")}]}
    gw = make(("p", Failing("p"), "x", 1), ("q", Failing("q"), "y", 2), routing=routing)
    with pytest.raises(GatewayCallError) as info:
        await gw.client.echo(CTX, "a")
    err = info.value
    assert (err.gateway, err.plugin, err.method) == ("echo", pid("p"), "echo")
    assert [p for p, _ in err.attempts] == [pid("p"), pid("q")]
    assert "p is broken" in str(err) and "q is broken" in str(err)
    assert isinstance(err.__cause__, RuntimeError)


async def test_passthrough_errors_reach_the_caller_unchanged() -> None:
    class NotFound(Exception):
        pass

    class Answers(Named):
        async def echo(self, ctx: SecurityContext, text: str) -> str:
            raise NotFound(text)

    routing = {"vendor": "x", "fallback": [{"plugin": pid("q")}]}
    gw = make(
        ("p", Answers("p"), "x", 1),
        ("q", Named("q"), "y", 2),
        routing=routing,
        passthrough=(NotFound,),
        breaker=BreakerSettings(failure_threshold=1),
    )
    for _ in range(3):
        with pytest.raises(NotFound):
            await gw.client.echo(CTX, "a")
    assert gw.breaker(pid("p")).state == "closed"


def flaky_with_backup(threshold: int, cooldown: float) -> tuple[Gateway[Any], Failing, Named]:
    """p (failing) serves, q is its fallback; the breaker's clock is the gateway's FakeClock."""
    flaky, backup = Failing("p"), Named("q")
    gw = make(
        ("p", flaky, "x", 1),
        ("q", backup, "y", 2),
        routing={"vendor": "x", "fallback": [{"plugin": pid("q")}]},
        breaker=BreakerSettings(failure_threshold=threshold, cooldown=cooldown),
        clock=FakeClock(),
    )
    return gw, flaky, backup


async def test_breaker_opens_then_closes_after_a_successful_probe() -> None:
    gw, flaky, _ = flaky_with_backup(3, 10)
    clock = gw.breaker(pid("p")).clock
    assert isinstance(clock, FakeClock)
    for _ in range(3):
        assert await gw.client.echo(CTX, "a") == "q:a"
    brk = gw.breaker(pid("p"))
    assert str(brk.state) == "open" and flaky.calls == 3
    for _ in range(5):  # open: p is not called at all
        assert await gw.client.echo(CTX, "b") == "q:b"
    assert flaky.calls == 3
    assert gw.explain(CTX).circuit == "open"
    assert 'plugway_gateway_breaker_open{gateway="echo",plugin="' + pid("p") + '"} 1' in (
        render_prometheus(gw.metrics)
    )
    clock.now += 10  # cool-down over: one probe, which fails -> open again
    assert await gw.client.echo(CTX, "c") == "q:c"
    assert flaky.calls == 4 and str(brk.state) == "open"
    clock.now += 10
    flaky.failing = False  # the plugin recovered: the probe succeeds and closes the breaker
    assert await gw.client.echo(CTX, "d") == "p:d"
    assert str(brk.state) == "closed" and brk.failures == 0
    assert gw.explain(CTX).circuit == "closed"
    assert await gw.client.echo(CTX, "e") == "p:e"
    assert [s.circuit for s in gw.plugin_status()] == ["closed", "closed"]


async def test_a_failing_plugin_that_leaves_and_comes_back_keeps_its_open_breaker() -> None:
    # a plugin crashing its host leaves (the host exits) and rejoins (the host is relaunched):
    # its breaker must not start clean each time, or the crash loop never stops
    gw, flaky, backup = flaky_with_backup(2, 60)
    for _ in range(2):
        assert await gw.client.echo(CTX, "a") == "q:a"
    assert gw.breaker(pid("p")).state == "open"
    gw.sync_plugins([(spec("q", "y", 2), backup)])  # p leaves ...
    gw.sync_plugins([(spec("p", "x", 1), flaky), (spec("q", "y", 2), backup)])  # ... and rejoins
    assert await gw.client.echo(CTX, "b") == "q:b"
    assert flaky.calls == 2 and gw.explain(CTX).circuit == "open"
    # a plugin with a clean record that leaves starts clean when it comes back
    gw.remove_plugin(pid("q"))
    gw.add_plugin(spec("q", "y", 2), backup)
    assert gw.breaker(pid("q")).failures == 0 and gw.breaker(pid("q")).state == "closed"


def test_breakers_of_plugins_that_left_are_bounded() -> None:
    from plugway.plugins._plugin_set import MAX_DEPARTED_BREAKERS, PluginSet

    plugins: PluginSet[Any] = PluginSet("echo", ECHO)
    for i in range(MAX_DEPARTED_BREAKERS + 10):
        plugins.add(spec(f"p{i}", "x", 1), Named(f"p{i}"))
        plugins.breaker(pid(f"p{i}")).record_failure()
        plugins.remove(pid(f"p{i}"))
    assert len(plugins._breakers) == MAX_DEPARTED_BREAKERS
    assert pid("p0") not in plugins._breakers  # the oldest went first
    last = pid(f"p{MAX_DEPARTED_BREAKERS + 9}")
    assert plugins.breaker(last).failures == 1


async def test_shadow_results_and_errors_never_reach_the_caller() -> None:
    seen: list[Any] = []

    class Mutating(Named):
        async def echo(self, ctx: SecurityContext, text: Any) -> str:
            self.calls += 1
            text.append("shadow was here")
            seen.append(text)
            return "shadow answer"

    class ListEcho(Named):
        async def echo(self, ctx: SecurityContext, text: Any) -> str:
            self.calls += 1
            return f"{self.name}:{len(text)}"

    primary, shadow = ListEcho("p"), Mutating("s")
    routing = {"rules": [{"target": {"plugin": pid("p")}, "shadow": {"plugin": pid("s")}}]}
    gw = make(("p", primary, "x", 1), ("s", shadow, "y", 2), routing=routing)
    arg = ["one"]
    assert await gw.client.echo(CTX, arg) == "p:1"
    await gw.drain_shadows()
    assert shadow.calls == 1 and arg == ["one"] and seen == [["one", "shadow was here"]]
    series = gw.metrics.series("echo", pid("p"), "rule0")
    assert (series.shadow_calls, series.shadow_errors, series.shadow_mismatches) == (1, 0, 1)

    failing_shadow = Failing("s")
    gw.add_plugin(spec("s", "y", 2), failing_shadow)
    assert await gw.call("echo", CTX, ["x", "y"]) == "p:2"
    await gw.drain_shadows()
    assert failing_shadow.calls == 1 and series.shadow_errors == 1


async def test_invalid_routing_is_refused_and_the_old_one_keeps_serving() -> None:
    gw = make(("a", Named("a"), "x", 1), ("b", Named("b"), "y", 2), routing={"vendor": "y"})
    before = gw.revision
    with pytest.raises(RoutingConfigError) as info:
        gw.apply_routing({"vendor": "y", "rules": [{"target": {"plugin": "ghost"}}]})
    assert info.value.gateway == "echo"
    assert [p.path for p in info.value.problems] == ["rules[0].target.plugin"]
    with pytest.raises(RoutingConfigError) as info2:
        gw.apply_routing({"rules": [{"split": {"key": "nope", "variants": []}}]})
    assert {p.path for p in info2.value.problems} == {
        "rules[0].split.key",
        "rules[0].split.variants",
    }
    assert gw.revision == before and len(gw.revisions()) == before
    assert await gw.client.echo(CTX, "x") == "b:x"


async def test_in_flight_calls_finish_on_the_plugin_they_started_with() -> None:
    release = asyncio.Event()

    class Slow(Named):
        async def echo(self, ctx: SecurityContext, text: str) -> str:
            await release.wait()
            return f"{self.name}:{text}"

    gw = make(("a", Slow("a"), "x", 1), ("b", Named("b"), "y", 2), routing={"vendor": "x"})
    started = asyncio.create_task(gw.client.echo(CTX, "old"))
    await asyncio.sleep(0)
    gw.apply_routing({"vendor": "y"})
    gw.remove_plugin(pid("a"))
    assert await gw.client.echo(CTX, "new") == "b:new"
    release.set()
    assert await started == "a:old"


async def test_atomic_swap_under_concurrent_calls_fails_nothing() -> None:
    class Yielding(Named):
        async def echo(self, ctx: SecurityContext, text: str) -> str:
            await asyncio.sleep(0)
            return f"{self.name}:{text}"

    names = ["a", "b", "c"]
    gw = make(*[(n, Yielding(n), n, 1) for n in names], routing={"vendor": "a"})
    routings: list[dict[str, Any]] = [
        {"vendor": "b"},
        {
            "rules": [
                {
                    "name": "ab",
                    "split": {
                        "key": "subject_id",
                        "variants": [
                            {"vendor": v, "weight": w}
                            for v, w in zip(names, (1, 2, 3), strict=True)
                        ],
                    },
                }
            ]
        },
        {"vendor": "c", "rules": [{"match": {"tenant": ["t3"]}, "target": {"vendor": "a"}}]},
        {"rules": [{"rollout": {"key": "tenant_id", "target": {"vendor": "b"}, "percent": 50}}]},
    ]
    stop = False
    served: list[str] = []

    async def client(i: int) -> None:
        n = 0
        while not stop:
            ctx = SecurityContext(f"t{i % 4}", f"u{n}")
            served.append((await gw.client.echo(ctx, "x")).split(":")[0])
            n += 1

    tasks = [asyncio.create_task(client(i)) for i in range(8)]
    for k in range(50):
        gw.apply_routing(routings[k % len(routings)], who="swapper")
        for _ in range(5):
            await asyncio.sleep(0)
    stop = True
    await asyncio.gather(*tasks)  # any failed call would raise here
    assert len(served) > 50 * 8 and set(served) == set(names)
    assert gw.revision == 52  # 1 initial + 1 from make() + 50 swaps
    assert sum(s.errors for s in gw.metrics.all_series()) == 0


async def test_plugins_appearing_and_disappearing_reroute_without_a_revision() -> None:
    gw = make(("a", Named("a"), "x", 5), routing={"vendor": "x"})
    rev = gw.revision
    gw.add_plugin(spec("b", "x", 1), Named("b"))
    assert await gw.client.echo(CTX, "1") == "b:1"
    gw.remove_plugin(pid("b"))
    assert await gw.client.echo(CTX, "2") == "a:2"
    assert gw.revision == rev


async def test_a_recorded_plugin_change_is_a_revision_even_when_a_target_is_gone() -> None:
    routing = {"rules": [{"name": "pin", "target": {"plugin": pid("b")}}]}
    gw = make(("a", Named("a"), "x", 5), ("b", Named("b"), "x", 9), routing=routing)
    before = gw.revision
    gw.remove_plugin(pid("b"))  # what the registry sync does; the rule's target is now gone
    rev = gw.record_plugin_change(who="registry", what="plugin b left")
    assert rev.number == gw.revision == before + 1 == gw.explain(CTX).revision
    assert (rev.who, rev.what, dict(rev.routing)) == ("registry", "plugin b left", routing)
    assert await gw.client.echo(CTX, "x") == "a:x"
    assert gw.router.warnings


async def test_routing_change_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    gw = make(("a", Named("a"), "x", 1))
    with caplog.at_level(logging.INFO, logger="plugway.plugins"):
        gw.apply_routing({"vendor": "x"}, who="alice", what="pin vendor")
    assert any("revision 2 applied by alice (pin vendor)" in r.getMessage() for r in caplog.records)


async def test_plugin_failures_and_plugin_set_changes_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    routing = {
        "rules": [{"name": "r", "target": {"plugin": pid("p")}, "fallback": [{"plugin": pid("q")}]}]
    }
    gw = make(("p", Failing("p"), "x", 1), ("q", Failing("q"), "y", 2), routing=routing)
    with caplog.at_level(logging.INFO, logger="plugway.plugins"):
        with pytest.raises(GatewayCallError):
            await gw.client.echo(CTX, "a")
        gw.add_plugin(spec("n", "z", 3), Named("n"))
        gw.remove_plugin(pid("n"))
    messages = [r.getMessage() for r in caplog.records]
    primary = [m for m in messages if f"plugin {pid('p')} failed in echo (rule r)" in m]
    assert len(primary) == 1 and "gateway echo" in primary[0] and "p is broken" in primary[0]
    assert any(f"fallback plugin {pid('q')} failed in echo" in m for m in messages)
    assert any(f"plugin {pid('n')} added" in m for m in messages)
    assert any(f"plugin {pid('n')} removed" in m for m in messages)


async def test_explain_and_decide_through_the_gateway() -> None:
    gw = make(
        ("a", Named("a"), "x", 1),
        ("b", Named("b"), "y", 1),
        routing={"rules": [{"name": "t", "match": {"tenant": ["t1"]}, "target": {"vendor": "y"}}]},
    )
    e = gw.explain(CTX)
    assert e.plugin_id == pid("b") and e.rule_name == "t" and e.revision == gw.revision == 2
    assert gw.decide(CTX).plugin_id == pid("b")


async def test_metrics_count_every_call_in_the_histogram() -> None:
    metrics = Metrics()
    gw = make(("a", Named("a"), "x", 1), metrics=metrics)
    for _ in range(130):
        await gw.client.echo(CTX, "x")
    series = metrics.series("echo", pid("a"), "default")
    assert series.calls == 130
    assert series.latency_count == 130  # every call is timed, not a sample
    text = render_prometheus(metrics)
    assert "# TYPE plugway_gateway_call_duration_seconds histogram" in text
    gw.close()
    assert "plugway_gateway_routing_revision" not in render_prometheus(metrics)
    assert 'plugway_gateway_routing_revision{gateway="echo"} 1' in text
    count_line = (
        f'plugway_gateway_call_duration_seconds_count{{gateway="echo",plugin="{pid("a")}",'
        'rule="default"} 130'
    )
    assert count_line in text


def test_entry_points_have_the_contract_signature() -> None:
    import inspect

    gw = make()
    sig = inspect.signature(gw.client.echo)
    assert list(sig.parameters) == ["ctx", "text"]
    assert gw.client.echo.__qualname__.endswith("Gateway.echo")


async def test_an_open_breaker_without_fallback_fails_fast_naming_the_plugin() -> None:
    broken = Failing("p")
    gw = make(("p", broken, "x", 1), breaker=BreakerSettings(failure_threshold=1, cooldown=60))
    with pytest.raises(GatewayCallError, match="p is broken"):
        await gw.client.echo(CTX, "a")
    with pytest.raises(GatewayCallError) as info:
        await gw.client.echo(CTX, "b")
    assert info.value.attempts == ((pid("p"), "circuit open"),)
    assert info.value.plugin == pid("p") and broken.calls == 1


async def test_the_plugin_that_serves_is_the_one_explain_names() -> None:
    names = ["a", "b", "c", "d"]
    routing = {
        "vendor": "a",
        "rules": [
            {"name": "vip", "match": {"subject": ["u7"]}, "target": {"vendor": "d"}},
            {
                "name": "eu",
                "match": {"attributes": {"region": "eu"}},
                "rollout": {"key": "tenant_id", "target": {"vendor": "c"}, "percent": 50},
            },
            {
                "name": "ab",
                "split": {
                    "key": "subject_id",
                    "variants": [{"vendor": "a", "weight": 1}, {"vendor": "b", "weight": 1}],
                },
            },
        ],
    }
    gw = make(*[(n, Named(n), n, 1) for n in names], routing=routing)
    served = set()
    for i in range(300):
        attrs = {"region": "eu"} if i % 3 == 0 else {}
        ctx = SecurityContext(f"t{i % 17}", f"u{i % 11}" if i % 5 else "", attrs)
        name = (await gw.client.echo(ctx, "x")).split(":")[0]
        assert pid(name) == gw.explain(ctx).plugin_id == gw.decide(ctx).plugin_id
        served.add(name)
    assert served == set(names)


class Wide(Protocol):
    async def m(
        self, ctx: SecurityContext, a: int, /, b: int = 2, *rest: int, c: int, d: int = 4, **kw: int
    ) -> tuple[Any, ...]: ...


WIDE = PluginContract(Wide, type_id="gts.x.core.modkit.plugin.v1~x.test.wide.plugin.v1.0~")


class WideImpl:
    async def m(
        self,
        ctx: SecurityContext,
        a: int,
        /,
        b: int = 2,
        *rest: int,
        c: int,
        d: int = 4,
        **kw: int,
    ) -> tuple[Any, ...]:
        return (a, b, rest, c, d, kw)


@pytest.mark.parametrize("timeout", [None, 5.0])
async def test_every_parameter_kind_passes_through_both_paths(timeout: float | None) -> None:
    gw: Gateway[Wide] = Gateway("wide", WIDE, routing={"timeout": timeout} if timeout else None)
    gw.add_plugin(PluginSpec(WIDE.instance_id("x.test.w.plugin.v1"), "x"), WideImpl())
    for _ in range(70):  # crosses the sampled (careful) path too
        assert await gw.client.m(CTX, 1, c=3) == (1, 2, (), 3, 4, {})
        assert await gw.client.m(CTX, 1, 5, 6, 7, c=3, d=8, z=9) == (1, 5, (6, 7), 3, 8, {"z": 9})
        assert await gw.call("m", CTX, 1, c=3, e=1) == (1, 2, (), 3, 4, {"e": 1})
    with pytest.raises(TypeError):
        await gw.client.m(CTX, 1)  # type: ignore[call-arg]  # mypy sees it too


# -- deadlines (asyncio.timeout semantics, no timer per call) ------------------------------------


class Slow:
    """A plugin that answers after ``delay`` seconds (or never, with None)."""

    def __init__(self, name: str, delay: float | None) -> None:
        self.name = name
        self.delay = delay

    async def echo(self, ctx: SecurityContext, text: str) -> str:
        if self.delay is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(self.delay)
        return f"{self.name}:{text}"


class Nested:
    """A plugin that calls through another gateway (its deadline nests inside ours)."""

    def __init__(self, inner: Gateway[Any]) -> None:
        self.inner = inner

    async def echo(self, ctx: SecurityContext, text: str) -> str:
        return str(await self.inner.client.echo(ctx, text))


async def test_a_timed_call_in_time_leaves_no_cancellation() -> None:
    task = asyncio.current_task()
    assert task is not None
    gw = make(("s", Slow("s", 0.0), "x", 1), routing={"timeout": 5})
    assert await gw.client.echo(CTX, "a") == "s:a"
    assert task.cancelling() == 0
    await asyncio.sleep(0.02)  # no stray cancellation is delivered later
    assert len(gw._dispatcher.wheel) == 0


async def test_a_deadline_that_fires_is_a_timeout_of_the_plugin() -> None:
    task = asyncio.current_task()
    assert task is not None
    gw = make(("s", Slow("s", None), "x", 1), routing={"timeout": 0.01})
    with pytest.raises(GatewayCallError, match="timed out") as info:
        await gw.client.echo(CTX, "a")
    assert info.value.attempts == ((pid("s"), "timed out"),)
    assert task.cancelling() == 0
    series = gw.metrics.series("echo", pid("s"), "default")
    assert (series.errors, series.timeouts) == (1, 1)


async def test_every_call_has_a_deadline_by_default() -> None:
    gw = make(("s", Slow("s", None), "x", 1), default_timeout=0.01)
    assert gw.timeout == 0.01
    with pytest.raises(GatewayCallError, match="timed out"):
        await gw.client.echo(CTX, "a")
    assert Gateway("echo", ECHO).timeout == 10.0


async def test_an_outside_cancellation_of_a_timed_call_goes_through() -> None:
    started = asyncio.Event()
    hang = Hanging("h")
    gw = make(("h", hang, "x", 1), routing={"timeout": 60})

    async def victim() -> None:
        started.set()
        await gw.client.echo(CTX, "a")

    t = asyncio.create_task(victim())
    await started.wait()
    while hang.calls == 0:
        await asyncio.sleep(0)
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t


async def test_nested_deadlines_report_the_one_that_fired() -> None:
    inner = make(("s", Slow("s", None), "x", 1), routing={"timeout": 60})
    outer = make(("n", Nested(inner), "x", 1), routing={"timeout": 0.01})
    with pytest.raises(GatewayCallError) as info:  # the outer one fires
        await outer.client.echo(CTX, "a")
    assert info.value.gateway == "echo" and info.value.plugin == pid("n")
    assert info.value.attempts == ((pid("n"), "timed out"),)
    inner2 = make(("s", Slow("s", None), "x", 1), routing={"timeout": 0.01})
    outer2 = make(("n", Nested(inner2), "x", 1), routing={"timeout": 60})
    with pytest.raises(GatewayCallError) as info:  # the inner one fires: the outer sees a failure
        await outer2.client.echo(CTX, "a")
    assert info.value.attempts[0][0] == pid("n") and "timed out" in info.value.attempts[0][1]
    fast = make(("n", Nested(make(("s", Slow("s", 0.0), "x", 1))), "x", 1))
    assert await fast.client.echo(CTX, "b") == "s:b"


async def test_cancelling_a_timed_call_is_not_a_plugin_failure() -> None:
    hang, backup = Hanging("h"), Named("q")
    routing = {"timeout": 60, "vendor": "x", "fallback": [{"plugin": pid("q")}]}
    gw = make(("h", hang, "x", 1), ("q", backup, "y", 2), routing=routing)
    call = asyncio.create_task(gw.client.echo(CTX, "a"))
    while hang.calls == 0:
        await asyncio.sleep(0)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    series = gw.metrics.series("echo", pid("h"), "default")
    assert (series.errors, series.fallbacks, backup.calls) == (0, 0, 0)
    assert gw.breaker(pid("h")).failures == 0
