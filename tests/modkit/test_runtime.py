"""Runtime lifecycle against a real registry: order, phases, failures, config, stop grace."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path
from typing import Any, Protocol

import pytest

from plugway.modkit import (
    ConfigError,
    DependencyCycleError,
    DiscoveryFailure,
    Module,
    ModuleConfig,
    ModuleContext,
    ModuleDeclarationError,
    ModulePhase,
    ModulePhaseError,
    PlugwaySettings,
    RegistryActivationError,
    Runtime,
    RuntimeStateError,
    UnknownDependencyError,
    module,
    parse_settings,
)
from plugway.registry import RegistryError

ORDER_T = "gts.acme.shop.orders.order.v1~"
ORDER_SCHEMA = {
    "$id": f"gts://{ORDER_T}",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"id": {"type": "string"}, "total": {"type": "number"}},
    "required": ["id", "total"],
}


def make_settings(
    tmp_path: Path,
    modules: dict[str, Any] | None = None,
    backend: str = "memory",
    **lifecycle: float,
) -> PlugwaySettings:
    limits: dict[str, float] = {
        "phase_timeout": 10,
        "grace_period": 10,
        "cancel_timeout": 10,
        "stop_timeout": 10,
    }
    limits.update(lifecycle)
    return parse_settings(
        {
            "data_dir": str(tmp_path / "data"),
            "registry": {"backend": backend},
            "lifecycle": limits,
            "modules": modules or {},
        },
        env={},
    )


def recorder(
    name: str, deps: tuple[str, ...], log: list[str], fail_in: str | None = None
) -> type[Module]:
    """A module that logs each hook (with the registry's readiness) and can fail in one."""

    @module(name=name, deps=deps)
    class Recorder(Module):
        async def _hook(self, hook: str, ctx: ModuleContext) -> None:
            log.append(f"{hook} {name} ready={ctx.registry.is_ready}")
            if fail_in == hook:
                raise ValueError(f"{name} broke")

        async def init(self, ctx: ModuleContext) -> None:
            await self._hook("init", ctx)

        async def post_init(self, ctx: ModuleContext) -> None:
            await self._hook("post_init", ctx)

        async def start(self, ctx: ModuleContext) -> None:
            await self._hook("start", ctx)

        async def stop(self, ctx: ModuleContext) -> None:
            log.append(f"stop {name} cancelled={ctx.cancelled}")

    return Recorder


# -- order and phases ----------------------------------------------------------------------


async def test_phases_run_in_dependency_order_and_stop_in_reverse(tmp_path: Path) -> None:
    log: list[str] = []
    mods = [
        recorder("gateway", ("registry_mod",), log),
        recorder("registry_mod", (), log),
        recorder("plugin_b", ("gateway",), log),
        recorder("plugin_a", ("gateway",), log),
    ]
    runtime = Runtime(make_settings(tmp_path), mods)
    assert runtime.order == ("registry_mod", "gateway", "plugin_a", "plugin_b")
    assert set(runtime.phases.values()) == {ModulePhase.PENDING}
    await runtime.start()
    assert runtime.state == "running"
    assert set(runtime.phases.values()) == {ModulePhase.RUNNING}
    order = ["registry_mod", "gateway", "plugin_a", "plugin_b"]
    assert log == (
        [f"init {n} ready=False" for n in order]
        + [f"post_init {n} ready=True" for n in order]
        + [f"start {n} ready=True" for n in order]
    )
    log.clear()
    outcomes = await runtime.stop()
    assert [o.module for o in outcomes] == order[::-1]
    assert all(o.ok for o in outcomes)
    assert log == [f"stop {n} cancelled=True" for n in order[::-1]]
    assert runtime.phases == dict.fromkeys(order, ModulePhase.STOPPED)
    state: str = runtime.state
    assert state == "stopped"


async def test_order_is_the_same_for_every_input_order(tmp_path: Path) -> None:
    log: list[str] = []
    mods = [
        recorder("z_last", (), log),
        recorder("a_first", (), log),
        recorder("mid", ("z_last",), log),
        recorder("b", ("a_first",), log),
    ]
    settings = make_settings(tmp_path)
    orders = set()
    rng = random.Random(5)
    for _ in range(20):
        rng.shuffle(mods)
        orders.add(Runtime(settings, mods).order)
        orders.add(Runtime(settings, {m.__plugway_module__.name: m for m in mods}).order)  # type: ignore[attr-defined]
    assert orders == {("a_first", "b", "z_last", "mid")}


async def test_cycle_is_refused_before_anything_runs(tmp_path: Path) -> None:
    log: list[str] = []
    mods = [recorder("a", ("c",), log), recorder("b", ("a",), log), recorder("c", ("b",), log)]
    with pytest.raises(DependencyCycleError, match="a -> c -> b -> a"):
        Runtime(make_settings(tmp_path), mods)
    assert log == []


async def test_unknown_dependency_is_named(tmp_path: Path) -> None:
    mods = [recorder("gateway", ("types_registry",), [])]
    with pytest.raises(
        UnknownDependencyError,
        match="module 'gateway' depends on 'types_registry': no such module is installed",
    ):
        Runtime(make_settings(tmp_path), mods)


async def test_dependency_on_a_module_that_failed_to_load_says_so(tmp_path: Path) -> None:
    failure = DiscoveryFailure("types_registry", "x.y:Z", "x 1.0", "import failed: ImportError: no")
    with pytest.raises(UnknownDependencyError, match="it failed to load: import failed"):
        Runtime(
            make_settings(tmp_path),
            [recorder("gateway", ("types_registry",), [])],
            discovery_failures=[failure],
        )


# -- phase failures ------------------------------------------------------------------------


@pytest.mark.parametrize("phase", ["init", "post_init", "start"])
async def test_failing_phase_stops_startup_naming_module_and_phase(
    tmp_path: Path, phase: str
) -> None:
    log: list[str] = []
    mods = [
        recorder("a", (), log),
        recorder("b", ("a",), log, fail_in=phase),
        recorder("c", ("b",), log),
    ]
    runtime = Runtime(make_settings(tmp_path), mods)
    with pytest.raises(ModulePhaseError) as info:
        await runtime.start()
    err = info.value
    assert (err.module, err.phase) == ("b", phase)
    assert str(err) == f"module 'b' failed in phase '{phase}': ValueError: b broke"
    assert isinstance(err.__cause__, ValueError)
    assert runtime.state == "failed"
    assert runtime.phase_of("b") is ModulePhase.FAILED
    assert f"{phase} c ready" not in " ".join(log)
    stops = [line for line in log if line.startswith("stop")]
    if phase == "init":
        # b never finished init, so only a is stopped; c never ran at all.
        assert stops == ["stop a cancelled=True"]
        assert runtime.phase_of("c") is ModulePhase.PENDING
    else:
        assert stops == [f"stop {n} cancelled=True" for n in ("c", "b", "a")]


async def test_phase_time_limit(tmp_path: Path) -> None:
    seen: list[str] = []

    @module(name="slow")
    class Slow(Module):
        async def post_init(self, ctx: ModuleContext) -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

    runtime = Runtime(make_settings(tmp_path, phase_timeout=0.05), [Slow])
    with pytest.raises(ModulePhaseError) as info:
        await runtime.start()
    assert str(info.value) == (
        "module 'slow' failed in phase 'post_init': did not finish within 0.05s and was cancelled"
    )
    assert seen == ["cancelled"]


async def test_cancelling_start_up_stops_what_was_initialised(tmp_path: Path) -> None:
    log: list[str] = []
    entered = asyncio.Event()

    @module(name="hanging", deps=("a",))
    class Hanging(Module):
        async def init(self, ctx: ModuleContext) -> None:
            entered.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                log.append("hanging init cancelled")
                raise

    runtime = Runtime(make_settings(tmp_path), [recorder("a", (), log), Hanging])
    starting = asyncio.create_task(runtime.start())
    await entered.wait()
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    assert log == ["init a ready=False", "hanging init cancelled", "stop a cancelled=True"]
    assert runtime.state == "failed"
    assert runtime.phase_of("a") is ModulePhase.STOPPED
    assert runtime.phase_of("hanging") is ModulePhase.STOPPED
    assert [o.module for o in await runtime.stop()] == ["a"]


async def test_construction_failure_names_the_module(tmp_path: Path) -> None:
    @module(name="fragile")
    class Fragile(Module):
        def __init__(self) -> None:
            raise OSError("no socket")

    with pytest.raises(ModulePhaseError, match="'fragile' failed in phase 'construct': OSError"):
        Runtime(make_settings(tmp_path), [Fragile])


async def test_registry_validation_failure_after_init(tmp_path: Path) -> None:
    log: list[str] = []

    @module(name="orders")
    class Orders(Module):
        async def init(self, ctx: ModuleContext) -> None:
            ctx.registry.register(ORDER_SCHEMA)
            ctx.registry.register({"id": f"{ORDER_T}acme.shop.orders.bad.v1", "total": "ten"})

        async def stop(self, ctx: ModuleContext) -> None:
            log.append("stop orders")

    runtime = Runtime(make_settings(tmp_path), [Orders, recorder("other", (), log)])
    with pytest.raises(RegistryActivationError, match=r"acme\.shop\.orders\.bad\.v1"):
        await runtime.start()
    assert log == ["init other ready=False", "stop other cancelled=True", "stop orders"]
    assert runtime.state == "failed"


async def test_every_registry_problem_is_logged_even_when_the_message_is_short(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    @module(name="orders")
    class Orders(Module):
        async def init(self, ctx: ModuleContext) -> None:
            ctx.registry.register(ORDER_SCHEMA)
            for i in range(30):
                ctx.registry.register({"id": f"{ORDER_T}acme.shop.orders.bad{i}.v1", "total": "x"})

    runtime = Runtime(make_settings(tmp_path), [Orders])
    with (
        caplog.at_level(logging.ERROR, logger="plugway.modkit.runtime"),
        pytest.raises(RegistryActivationError, match="and 10 more"),
    ):
        await runtime.start()
    logged = caplog.text
    for i in range(30):
        assert f"acme.shop.orders.bad{i}.v1: " in logged


# -- context, hub, registry ----------------------------------------------------------------


class Greeter(Protocol):
    def greet(self, who: str) -> str: ...


class GreeterConfig(ModuleConfig):
    greeting: str = "hello"
    times: int = 1


async def test_context_has_typed_config_shared_hub_and_registry(tmp_path: Path) -> None:
    contexts: dict[str, ModuleContext] = {}

    @module(name="greeter", config=GreeterConfig)
    class GreeterModule(Module):
        async def init(self, ctx: ModuleContext) -> None:
            contexts["greeter"] = ctx
            cfg = ctx.config_as(GreeterConfig)

            class Impl:
                def greet(self, who: str) -> str:
                    return f"{cfg.greeting} {who}" * cfg.times

            ctx.hub.register(Greeter, Impl())

    @module(name="caller", deps=("greeter",))
    class Caller(Module):
        async def init(self, ctx: ModuleContext) -> None:
            contexts["caller"] = ctx
            self.said = ctx.hub.get(Greeter).greet("world")

    settings = make_settings(tmp_path, {"greeter": {"config": {"greeting": "hi"}}})
    runtime = Runtime(settings, [Caller, GreeterModule])
    async with runtime:
        caller = runtime.modules["caller"]
        assert isinstance(caller, Caller)
        assert caller.said == "hi world"
        greeter_ctx, caller_ctx = contexts["greeter"], contexts["caller"]
        assert greeter_ctx.config == GreeterConfig(greeting="hi")
        assert greeter_ctx.hub is caller_ctx.hub is runtime.hub
        assert greeter_ctx.registry is runtime.registry
        assert greeter_ctx.logger.name == "plugway.module.greeter"
        assert greeter_ctx.data_dir == tmp_path / "data"
        assert greeter_ctx.settings is settings
        assert greeter_ctx.cancellation is not caller_ctx.cancellation
        assert runtime.context_of("greeter") is greeter_ctx
        assert runtime.config_of("caller").model_dump() == {}
        with pytest.raises(Exception, match="not a GreeterConfig"):
            caller_ctx.config_as(GreeterConfig)


async def test_module_configs_are_validated_up_front_with_paths(tmp_path: Path) -> None:
    log: list[str] = []

    @module(name="greeter", config=GreeterConfig)
    class GreeterModule(Module):
        async def init(self, ctx: ModuleContext) -> None:
            log.append("init")

    settings = make_settings(
        tmp_path,
        {
            "greeter": {"config": {"greting": "hi", "times": "many"}},
            "other": {"config": {"x": 1}},
        },
    )
    with pytest.raises(ConfigError) as info:
        Runtime(settings, [GreeterModule, recorder("other", (), log)])
    problems = {p.path: p.message for p in info.value.problems}
    assert set(problems) == {
        "modules.greeter.config.greting",
        "modules.greeter.config.times",
        "modules.other.config.x",
    }
    assert problems["modules.greeter.config.greting"] == "unknown key"
    assert "'many'" in problems["modules.greeter.config.times"]
    assert log == []


async def test_env_override_reaches_the_module_config(tmp_path: Path) -> None:
    settings = parse_settings(
        {"registry": {"backend": "memory"}, "data_dir": str(tmp_path)},
        env={"PLUGWAY__MODULES__GREETER__CONFIG__TIMES": "3"},
    )

    @module(name="greeter", config=GreeterConfig)
    class GreeterModule(Module):
        pass

    runtime = Runtime(settings, [GreeterModule])
    assert runtime.config_of("greeter") == GreeterConfig(times=3)


async def test_bad_module_config_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    settings = parse_settings(
        {"registry": {"backend": "memory"}, "data_dir": str(tmp_path)},
        env={
            "PLUGWAY__MODULES__GREETER__CONFIG__TIMES": "many",
            "PLUGWAY__MODULES__GREETER__CONFIG__GRETING": "hi",
        },
    )

    @module(name="greeter", config=GreeterConfig)
    class GreeterModule(Module):
        pass

    with pytest.raises(ConfigError) as info:
        Runtime(settings, [GreeterModule])
    problems = {p.path: p.message for p in info.value.problems}
    assert problems == {
        "modules.greeter.config.greting": (
            "unknown key (set by PLUGWAY__MODULES__GREETER__CONFIG__GRETING)"
        ),
        "modules.greeter.config.times": (
            "Input should be a valid integer, unable to parse string as an integer"
            " (got 'many') (set by PLUGWAY__MODULES__GREETER__CONFIG__TIMES)"
        ),
    }


async def test_unknown_sections_and_bad_module_configs_are_reported_together(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, {"ghost": {}, "greeter": {"config": {"times": "many"}}})

    @module(name="greeter", config=GreeterConfig)
    class GreeterModule(Module):
        pass

    with pytest.raises(ConfigError) as info:
        Runtime(settings, [GreeterModule])
    assert [p.path for p in info.value.problems] == [
        "modules.ghost",
        "modules.greeter.config.times",
    ]


async def test_section_for_an_unknown_module_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, {"ghost": {}, "gone": {"enabled": False}})
    with pytest.raises(ConfigError) as info:
        Runtime(settings, [recorder("real", (), [])])
    (problem,) = info.value.problems
    assert problem.path == "modules.ghost"
    assert "no module named 'ghost' is installed (known: real)" in problem.message


async def test_disabled_module_does_not_run_and_cannot_be_depended_on(tmp_path: Path) -> None:
    log: list[str] = []
    settings = make_settings(tmp_path, {"off": {"enabled": False}})
    runtime = Runtime(settings, [recorder("off", (), log), recorder("on", (), log)])
    assert runtime.order == ("on",)
    async with runtime:
        pass
    assert not any("off" in line for line in log)
    with pytest.raises(UnknownDependencyError, match=r"disabled in the config \(modules.off"):
        Runtime(settings, [recorder("off", (), log), recorder("needs", ("off",), log)])


async def test_sqlite_registry_in_data_dir_persists_across_runs(tmp_path: Path) -> None:
    @module(name="orders")
    class Orders(Module):
        async def init(self, ctx: ModuleContext) -> None:
            ctx.registry.register(ORDER_SCHEMA)

    settings = make_settings(tmp_path, backend="sqlite")
    assert settings.registry_path == tmp_path / "data" / "registry.sqlite3"
    first = Runtime(settings, [Orders])
    await first.start()
    assert settings.registry_path.exists()
    registry = first.registry
    await first.stop()
    with pytest.raises(RegistryError):
        registry.get(ORDER_T)  # closed on stop

    @module(name="reader")
    class Reader(Module):
        async def post_init(self, ctx: ModuleContext) -> None:
            self.found = ctx.registry.get(ORDER_T).gts_id

    second = Runtime(settings, [Reader])
    async with second:
        reader = second.modules["reader"]
        assert isinstance(reader, Reader)
        assert reader.found == ORDER_T


async def test_state_errors(tmp_path: Path) -> None:
    runtime = Runtime(make_settings(tmp_path), [recorder("a", (), [])])
    with pytest.raises(RuntimeStateError):
        _ = runtime.registry
    await runtime.start()
    with pytest.raises(RuntimeStateError, match="state 'running'"):
        await runtime.start()
    first = await runtime.stop()
    assert await runtime.stop() is first
    unstarted = Runtime(make_settings(tmp_path), [recorder("a", (), [])])
    assert await unstarted.stop() == ()


async def test_module_lists_must_be_consistent(tmp_path: Path) -> None:
    a1 = recorder("a", (), [])
    a2 = recorder("a", (), [])
    with pytest.raises(ModuleDeclarationError, match="two module classes are named 'a'"):
        Runtime(make_settings(tmp_path), [a1, a2])
    with pytest.raises(ModuleDeclarationError, match="declared as 'a', listed as 'b'"):
        Runtime(make_settings(tmp_path), {"b": a1})


# -- stopping: grace window, then cancellation ---------------------------------------------


async def test_background_task_that_honours_cancellation_finishes_in_grace(tmp_path: Path) -> None:
    log: list[str] = []

    @module(name="worker")
    class Worker(Module):
        async def run(self, ctx: ModuleContext) -> None:
            log.append("running")
            await ctx.cancellation.wait()
            # Draining takes a while (more than one loop turn): the grace window must allow it.
            await asyncio.sleep(0.01)
            log.append("drained")

        async def stop(self, ctx: ModuleContext) -> None:
            log.append("stop")

    runtime = Runtime(make_settings(tmp_path, grace_period=30), [Worker])
    await runtime.start()
    await asyncio.sleep(0)
    (outcome,) = await runtime.stop()
    assert (outcome.module, outcome.task, outcome.stop, outcome.ok) == (
        "worker",
        "finished",
        "ok",
        True,
    )
    assert log == ["running", "drained", "stop"]


async def test_background_task_ignoring_the_event_is_cancelled_after_grace(tmp_path: Path) -> None:
    log: list[str] = []

    @module(name="stubborn")
    class Stubborn(Module):
        async def run(self, ctx: ModuleContext) -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                log.append(f"cancelled after event={ctx.cancellation.is_set()}")
                raise

        async def stop(self, ctx: ModuleContext) -> None:
            log.append("stop")

    @module(name="first", deps=("stubborn",))
    class First(Module):
        async def run(self, ctx: ModuleContext) -> None:
            await ctx.cancellation.wait()
            log.append("first drained")

    runtime = Runtime(make_settings(tmp_path, grace_period=0.05), [Stubborn, First])
    await runtime.start()
    await asyncio.sleep(0)
    outcomes = await runtime.stop()
    assert [(o.module, o.task, o.stop) for o in outcomes] == [
        ("first", "finished", "ok"),
        ("stubborn", "cancelled", "ok"),
    ]
    assert log == ["first drained", "cancelled after event=True", "stop"]


async def test_task_ignoring_cancellation_is_abandoned_and_reported(tmp_path: Path) -> None:
    release = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []

    @module(name="deaf")
    class Deaf(Module):
        async def run(self, ctx: ModuleContext) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.append(task)
            while not release.is_set():
                try:
                    await release.wait()
                except asyncio.CancelledError:
                    continue

    runtime = Runtime(make_settings(tmp_path, grace_period=0, cancel_timeout=0.05), [Deaf])
    await runtime.start()
    await asyncio.sleep(0)
    (outcome,) = await runtime.stop()
    assert (outcome.task, outcome.stop, outcome.ok) == ("stuck", "ok", False)
    assert outcome.error is not None and "ignored cancellation" in outcome.error
    assert runtime.phase_of("deaf") is ModulePhase.FAILED
    release.set()
    await asyncio.wait(tasks)


async def test_stop_hook_time_limit_and_failures_do_not_block_the_others(tmp_path: Path) -> None:
    log: list[str] = []

    @module(name="hangs")
    class Hangs(Module):
        async def stop(self, ctx: ModuleContext) -> None:
            await asyncio.Event().wait()

    @module(name="raises", deps=("hangs",))
    class Raises(Module):
        async def stop(self, ctx: ModuleContext) -> None:
            raise RuntimeError("disk gone")

    mods: list[type[Module]] = [
        Hangs,
        Raises,
        recorder("base", (), log),
        recorder("top", ("raises",), log),
    ]
    runtime = Runtime(make_settings(tmp_path, stop_timeout=0.05), mods)
    await runtime.start()
    outcomes = await runtime.stop()
    summary = [(o.module, o.stop) for o in outcomes]
    assert summary == [("top", "ok"), ("raises", "failed"), ("hangs", "timed_out"), ("base", "ok")]
    errors = {o.module: o.error for o in outcomes}
    assert errors["raises"] == "stop: RuntimeError: disk gone"
    assert errors["hangs"] == "stop: did not finish within 0.05s and was cancelled"
    assert runtime.phase_of("raises") is ModulePhase.FAILED
    assert runtime.phase_of("top") is ModulePhase.STOPPED


async def test_background_failure_shows_in_phase_and_stop_outcome(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    @module(name="crashy")
    class Crashy(Module):
        async def run(self, ctx: ModuleContext) -> None:
            raise KeyError("lost")

    runtime = Runtime(make_settings(tmp_path), [Crashy])
    with caplog.at_level(logging.ERROR):
        await runtime.start()
        for _ in range(3):
            await asyncio.sleep(0)
    assert runtime.phase_of("crashy") is ModulePhase.FAILED
    assert any(
        "background task of module 'crashy' failed" in r.getMessage() for r in caplog.records
    )
    (outcome,) = await runtime.stop()
    assert outcome.task == "failed"
    assert outcome.error == "background task: KeyError: 'lost'"
