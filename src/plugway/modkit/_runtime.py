"""Runtime: validates the modules and their config, then runs the lifecycle.

Construction checks everything that can be checked without running anything: module
declarations, config sections (each module's typed config, unknown keys refused with their
path), dependencies and the start-up order. ``start`` then opens the registry and runs
``init`` for all modules in order, switches the registry to ready, and runs ``post_init`` and
``start``; ``stop`` runs in reverse order.

Every hook runs in its own task with a time limit. On stop a module first has its
cancellation event set; its background task gets ``grace_period`` to end by itself, and only
then is it cancelled (HyperSpot hands ``stop`` a token that is already cancelled, so its
grace window collapses to nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Mapping
from types import MappingProxyType, TracebackType
from typing import Any

from pydantic import BaseModel, ValidationError

from plugway.modkit._clienthub import ClientHub
from plugway.modkit._context import ModuleContext
from plugway.modkit._discovery import DiscoveryFailure, scan_modules
from plugway.modkit._errors import (
    ConfigError,
    ConfigProblem,
    ModkitError,
    ModuleDeclarationError,
    ModulePhaseError,
    RegistryActivationError,
    RuntimeStateError,
    UnknownDependencyError,
)
from plugway.modkit._hooks import describe, end_task, outcome_detail, run_bounded
from plugway.modkit._module import BackgroundCapable, Module, ModuleSpec, module_spec
from plugway.modkit._ordering import topological_order
from plugway.modkit._phases import ModulePhase, RuntimeState, StopOutcome, StopResult, TaskOutcome
from plugway.modkit._settings import PlugwaySettings, validation_problems
from plugway.registry import (
    RegistryError,
    RegistryValidationError,
    TypesRegistry,
    open_backend,
    redact_url,
)

_log = logging.getLogger("plugway.modkit.runtime")


class Runtime:
    """Hosts a set of modules: order, config, contexts, lifecycle, hub and registry.

    ``modules``: the module classes (a mapping name -> class, or an iterable of classes);
    None discovers them through the ``plugway.modules`` entry points. ``registry``: use this
    registry instead of opening the one the settings describe (it is then not closed on stop).
    """

    def __init__(
        self,
        settings: PlugwaySettings,
        modules: Mapping[str, type[Module]] | Iterable[type[Module]] | None = None,
        *,
        hub: ClientHub | None = None,
        registry: TypesRegistry | None = None,
        discovery_failures: Iterable[DiscoveryFailure] = (),
    ) -> None:
        failures = list(discovery_failures)
        if modules is None:
            found = scan_modules()
            modules = found.modules
            failures.extend(found.failures)
        self._settings = settings
        self._hub = hub if hub is not None else ClientHub()
        self._registry = registry
        self._owns_registry = registry is None
        self._failures = tuple(failures)
        self._specs = _specs_of(modules)
        self._state: RuntimeState = "created"

        # Every config problem (sections and each module's own config) is reported at once.
        enabled, problems = self._check_sections()
        self._configs = self._validate_configs(enabled, problems)
        if problems:
            raise ConfigError(problems)
        self._check_deps(enabled)
        self._order = topological_order({name: self._specs[name].deps for name in enabled})
        self._instances: dict[str, Module] = {}
        for name in self._order:
            try:
                self._instances[name] = self._specs[name].cls()
            except Exception as exc:
                raise ModulePhaseError(name, "construct", describe(exc)) from exc
        self._phases: dict[str, ModulePhase] = dict.fromkeys(self._order, ModulePhase.PENDING)
        self._contexts: dict[str, ModuleContext] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._run_errors: dict[str, str] = {}
        self._inited: list[str] = []
        self._stop_outcomes: tuple[StopOutcome, ...] | None = None

    # -- what the host reads ------------------------------------------------------------

    @property
    def settings(self) -> PlugwaySettings:
        return self._settings

    @property
    def hub(self) -> ClientHub:
        return self._hub

    @property
    def registry(self) -> TypesRegistry:
        """The types registry; available once ``start`` has opened it (or if injected)."""
        if self._registry is None:
            raise RuntimeStateError("the registry is opened by Runtime.start(); start first")
        return self._registry

    @property
    def state(self) -> RuntimeState:
        return self._state

    @property
    def order(self) -> tuple[str, ...]:
        """The enabled modules in start-up order (stop runs it backwards)."""
        return self._order

    @property
    def modules(self) -> Mapping[str, Module]:
        """The module instances by name, in start-up order."""
        return MappingProxyType(self._instances)

    @property
    def specs(self) -> Mapping[str, ModuleSpec]:
        """The declarations of every known module (enabled or not), by name."""
        return MappingProxyType(self._specs)

    @property
    def discovery_failures(self) -> tuple[DiscoveryFailure, ...]:
        """Module entry points that could not be loaded (left out, reported)."""
        return self._failures

    @property
    def phases(self) -> Mapping[str, ModulePhase]:
        """Each enabled module's phase, in start-up order (a snapshot)."""
        return MappingProxyType(dict(self._phases))

    def phase_of(self, name: str) -> ModulePhase:
        try:
            return self._phases[name]
        except KeyError:
            raise ModkitError(f"no enabled module named '{name}'") from None

    def context_of(self, name: str) -> ModuleContext:
        """The context of module ``name`` (built by ``start``)."""
        try:
            return self._contexts[name]
        except KeyError:
            raise ModkitError(
                f"no context for module '{name}' (not enabled, or not started)"
            ) from None

    def config_of(self, name: str) -> BaseModel:
        """The validated config of module ``name``."""
        try:
            return self._configs[name]
        except KeyError:
            raise ModkitError(f"no enabled module named '{name}'") from None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """init (all, in order) -> registry.switch_to_ready() -> post_init -> start.

        A failure stops start-up: the modules whose init completed are stopped in reverse
        order and the error (ModulePhaseError naming the module and the phase, or
        RegistryActivationError) is raised.
        """
        if self._state != "created":
            raise RuntimeStateError(f"Runtime.start() called in state '{self._state}'")
        self._state = "starting"
        try:
            registry = self._open_registry()
            self._build_contexts(registry)
            for name in self._order:
                await self._phase(name, "init", ModulePhase.INITIALIZING, ModulePhase.INITIALIZED)
                self._inited.append(name)
            try:
                registry.switch_to_ready()
            except RegistryValidationError as exc:
                # The message shortens a long list; the log keeps every problem.
                for problem in exc.problems:
                    _log.error("types registry: %s", problem)
                raise RegistryActivationError(
                    f"the types registry refused to switch to ready after init: {exc}"
                ) from exc
            except RegistryError as exc:
                raise RegistryActivationError(
                    f"the types registry failed to switch to ready: {exc}"
                ) from exc
            for name in self._order:
                await self._phase(
                    name, "post_init", ModulePhase.POST_INITIALIZING, ModulePhase.POST_INITIALIZED
                )
            for name in self._order:
                await self._phase(name, "start", ModulePhase.STARTING, ModulePhase.RUNNING)
                module = self._instances[name]
                if isinstance(module, BackgroundCapable):
                    self._tasks[name] = asyncio.create_task(
                        self._run_background(name, module), name=f"plugway-module-{name}"
                    )
        except BaseException:
            self._state = "stopping"
            try:
                await self._stop_all()
            finally:
                self._state = "failed"
            raise
        self._state = "running"
        _log.info("modules running: %s", ", ".join(self._order) or "(none)")

    async def stop(self) -> tuple[StopOutcome, ...]:
        """Stop the modules in reverse start-up order and close the registry (if owned).

        Per module: set its cancellation event; give its background task ``grace_period``
        to end by itself, then cancel it (and wait ``cancel_timeout``); then call ``stop``
        with ``stop_timeout``. Failures are logged and reported in the outcomes, and the
        remaining modules are still stopped. Calling it again returns the same outcomes.
        """
        if self._stop_outcomes is not None:
            return self._stop_outcomes
        if self._state == "created":
            self._state = "stopped"
            self._stop_outcomes = ()
            return ()
        if self._state in ("starting", "stopping"):
            raise RuntimeStateError(f"Runtime.stop() called in state '{self._state}'")
        self._state = "stopping"
        try:
            outcomes = await self._stop_all()
        finally:
            self._state = "stopped"
        return outcomes

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- construction checks ---------------------------------------------------------------

    def _check_sections(self) -> tuple[list[str], list[ConfigProblem]]:
        """Config sections must name known modules; the enabled modules (sorted) and problems."""
        problems = []
        failed = {f.entry_point for f in self._failures}
        for name, section in sorted(self._settings.modules.items()):
            if name not in self._specs and section.enabled and name not in failed:
                known = ", ".join(sorted(self._specs)) or "none"
                problems.append(
                    ConfigProblem(
                        f"modules.{name}", f"no module named '{name}' is installed (known: {known})"
                    )
                )
        return sorted(n for n in self._specs if self._settings.module(n).enabled), problems

    def _check_deps(self, enabled: list[str]) -> None:
        active = set(enabled)
        failed = {f.entry_point: f for f in self._failures}
        for name in enabled:
            for dep in sorted(self._specs[name].deps):
                if dep in active:
                    continue
                if dep in self._specs:
                    raise UnknownDependencyError(
                        name, dep, f"it is disabled in the config (modules.{dep}.enabled)"
                    )
                if dep in failed:
                    raise UnknownDependencyError(
                        name, dep, f"it failed to load: {failed[dep].error}"
                    )
                raise UnknownDependencyError(name, dep, "no such module is installed")

    def _validate_configs(
        self, enabled: list[str], problems: list[ConfigProblem]
    ) -> dict[str, BaseModel]:
        """Each enabled module's config through its own model; problems are appended."""
        configs: dict[str, BaseModel] = {}
        for name in enabled:
            raw = self._settings.module(name).config
            try:
                configs[name] = self._specs[name].config.model_validate(raw)
            except ValidationError as exc:
                problems.extend(
                    validation_problems(
                        exc,
                        prefix=f"modules.{name}.config",
                        origins=self._settings.env_origins,
                    )
                )
        return configs

    # -- start-up helpers ------------------------------------------------------------------

    def _open_registry(self) -> TypesRegistry:
        if self._registry is not None:
            return self._registry
        settings = self._settings
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModkitError(f"cannot create data_dir {settings.data_dir}: {exc}") from exc
        url = settings.registry.url
        where = redact_url(url) if url is not None else settings.registry_path
        try:
            backend = open_backend(settings.registry.backend, settings.registry_path, url=url)
            self._registry = TypesRegistry(backend)
        except RegistryError as exc:
            if settings.registry.backend == "postgresql" or url is not None:
                # the operator must fix registry.url or the server it names: a config problem
                origin = settings.env_origins.get("registry.url")
                note = f" (set by {origin})" if origin else ""
                raise ConfigError([ConfigProblem("registry.url", f"{exc}{note}")]) from exc
            raise ModkitError(
                f"cannot open the {settings.registry.backend} types registry at {where}: {exc}"
            ) from exc
        _log.info(
            "types registry: %s%s", settings.registry.backend, f" at {where}" if where else ""
        )
        return self._registry

    def _build_contexts(self, registry: TypesRegistry) -> None:
        for name in self._order:
            self._contexts[name] = ModuleContext(
                name=name,
                config=self._configs[name],
                hub=self._hub,
                registry=registry,
                logger=logging.getLogger(f"plugway.module.{name}"),
                cancellation=asyncio.Event(),
                data_dir=self._settings.data_dir,
                settings=self._settings,
            )

    async def _phase(self, name: str, hook: str, during: ModulePhase, after: ModulePhase) -> None:
        module = self._instances[name]
        ctx = self._contexts[name]
        limit = self._settings.lifecycle.phase_timeout
        self._phases[name] = during
        call: Coroutine[Any, Any, None] = getattr(module, hook)(ctx)
        try:
            outcome, exc = await run_bounded(call, limit, self._settings.lifecycle.cancel_timeout)
        except asyncio.CancelledError:
            self._phases[name] = ModulePhase.STOPPED  # interrupted by request, not failed
            raise
        if outcome == "ok":
            self._phases[name] = after
            return
        self._phases[name] = ModulePhase.FAILED
        detail = outcome_detail(outcome, exc, limit)
        _log.error("module '%s' failed in phase '%s': %s", name, hook, detail)
        raise ModulePhaseError(name, hook, detail) from exc

    async def _run_background(self, name: str, module: BackgroundCapable) -> None:
        ctx = self._contexts[name]
        try:
            await module.run(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._run_errors[name] = describe(exc)
            if not ctx.cancellation.is_set():
                self._phases[name] = ModulePhase.FAILED
            ctx.logger.exception("background task of module '%s' failed", name)
        else:
            if not ctx.cancellation.is_set():
                ctx.logger.info("background task of module '%s' ended", name)

    # -- stopping --------------------------------------------------------------------------

    async def _stop_all(self) -> tuple[StopOutcome, ...]:
        outcomes = []
        for name in reversed(self._inited):
            outcomes.append(await self._stop_one(name))
        if self._owns_registry and self._registry is not None:
            self._registry.close()
            _log.info("types registry closed")
        self._stop_outcomes = tuple(outcomes)
        return self._stop_outcomes

    async def _stop_one(self, name: str) -> StopOutcome:
        lifecycle = self._settings.lifecycle
        ctx = self._contexts[name]
        failed_before = self._phases[name] is ModulePhase.FAILED
        self._phases[name] = ModulePhase.STOPPING
        ctx.cancellation.set()
        task_outcome: TaskOutcome = "none"
        errors: list[str] = []
        task = self._tasks.get(name)
        if task is not None:
            task_outcome = await end_task(task, lifecycle.grace_period, lifecycle.cancel_timeout)
            if name in self._run_errors:
                task_outcome = "failed"
                errors.append(f"background task: {self._run_errors[name]}")
            elif task_outcome == "stuck":
                errors.append(
                    f"background task ignored cancellation for {lifecycle.cancel_timeout}s"
                    " and was abandoned"
                )
        outcome, exc = await run_bounded(
            self._instances[name].stop(ctx), lifecycle.stop_timeout, lifecycle.cancel_timeout
        )
        stop: StopResult = "ok"
        if outcome != "ok":
            stop = (
                "timed_out"
                if outcome == "timed_out"
                else "stuck"
                if outcome == "stuck"
                else "failed"
            )
            errors.append(f"stop: {outcome_detail(outcome, exc, lifecycle.stop_timeout)}")
        result = StopOutcome(name, task_outcome, stop, "; ".join(errors) or None)
        if result.ok:
            self._phases[name] = ModulePhase.FAILED if failed_before else ModulePhase.STOPPED
            _log.info("module '%s' stopped (background task: %s)", name, task_outcome)
        else:
            self._phases[name] = ModulePhase.FAILED
            _log.error("module '%s' did not stop cleanly: %s", name, result.error)
        return result


def _specs_of(
    modules: Mapping[str, type[Module]] | Iterable[type[Module]],
) -> dict[str, ModuleSpec]:
    specs: dict[str, ModuleSpec] = {}
    if isinstance(modules, Mapping):
        for key, cls in modules.items():
            spec = module_spec(cls)
            if spec.name != key:
                raise ModuleDeclarationError(
                    f"module class {cls.__qualname__} is declared as '{spec.name}',"
                    f" listed as '{key}'"
                )
            specs[key] = spec
        return specs
    for cls in modules:
        spec = module_spec(cls)
        other = specs.get(spec.name)
        if other is not None and other.cls is not cls:
            raise ModuleDeclarationError(
                f"two module classes are named '{spec.name}': "
                f"{other.cls.__qualname__} and {cls.__qualname__}"
            )
        specs[spec.name] = spec
    return specs
