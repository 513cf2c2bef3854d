"""Module declaration: the ``Module`` base class, the ``@module`` decorator and capabilities.

A module is a class with a no-argument constructor and four optional async lifecycle hooks.
``@module`` attaches its name, dependencies and config model as a frozen ``ModuleSpec``;
capabilities are structural (``RestCapable``, ``BackgroundCapable``), so a module states them
by having the method, and the host checks them with ``isinstance``.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

from plugway.modkit._errors import ModuleDeclarationError

if TYPE_CHECKING:
    from plugway.modkit._context import ModuleContext


_NAME_RE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_SPEC_ATTR = "__plugway_module__"
_HOOKS = ("init", "post_init", "start", "stop")


class ModuleConfig(BaseModel):
    """Convenient base for module config models: unknown keys refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EmptyConfig(ModuleConfig):
    """The config of a module that declares none: it accepts no keys at all."""


class Module:
    """Base class of every module. All hooks are optional async no-ops.

    Order: ``init`` (all modules, dependency order) -> the registry switches to ready ->
    ``post_init`` -> ``start`` -> ... -> ``stop`` (reverse order). Register types and clients
    in ``init``; the registry validates them together before ``post_init``.
    """

    async def init(self, ctx: ModuleContext) -> None:
        """Wire the module: read config, register clients in the hub, register GTS entities."""

    async def post_init(self, ctx: ModuleContext) -> None:
        """Runs after every module's init and after the registry is ready."""

    async def start(self, ctx: ModuleContext) -> None:
        """Start serving; a BackgroundCapable module's ``run`` is launched right after this."""

    async def stop(self, ctx: ModuleContext) -> None:
        """Release resources; called after the module's background task has ended."""


@runtime_checkable
class RestCapable(Protocol):
    """A module that contributes HTTP routes. The host calls ``rest_router`` after init."""

    def rest_router(self) -> Any:
        """Return the module's router (a FastAPI ``APIRouter``; typed Any in this layer)."""
        ...


@runtime_checkable
class BackgroundCapable(Protocol):
    """A module with long-running work. ``run`` is started as a task after ``start``; it
    should return soon after ``ctx.cancellation`` is set, or it is cancelled after the grace
    window."""

    async def run(self, ctx: ModuleContext) -> None:
        """Do the background work until ``ctx.cancellation`` is set."""
        ...


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    """What ``@module`` declared about a module class."""

    name: str
    deps: tuple[str, ...]
    config: type[BaseModel]
    cls: type[Module]
    capabilities: frozenset[str]


M = TypeVar("M", bound=type[Module])


def module(
    *,
    name: str,
    deps: Sequence[str] = (),
    config: type[BaseModel] | None = None,
) -> Callable[[M], M]:
    """Declare a module class: its name (snake_case, the key of its config section), the
    names of the modules it depends on and its pydantic config model.

    The config model (and every model nested in it) must refuse unknown keys
    (``extra="forbid"``; ``ModuleConfig`` does so): a typo in the config is an error, never
    silently ignored.
    """
    _check_name(name, "module name")
    if isinstance(deps, str):
        raise ModuleDeclarationError(
            f"module '{name}': deps must be a sequence of names, not the string {deps!r}"
        )
    dep_names = tuple(deps)
    for dep in dep_names:
        _check_name(dep, f"module '{name}': dependency")
    dupes = sorted({d for d in dep_names if dep_names.count(d) > 1})
    if dupes:
        raise ModuleDeclarationError(f"module '{name}': dependency listed twice: {dupes[0]}")
    if name in dep_names:
        raise ModuleDeclarationError(f"module '{name}' depends on itself")
    config_model = EmptyConfig if config is None else config
    if not (isinstance(config_model, type) and issubclass(config_model, BaseModel)):
        raise ModuleDeclarationError(
            f"module '{name}': config must be a pydantic BaseModel subclass, got {config_model!r}"
        )
    for path, model in _models_in(config_model, config_model.__name__, set()):
        if model.model_config.get("extra") != "forbid":
            raise ModuleDeclarationError(
                f"module '{name}': config model {path} must refuse unknown keys "
                f'(model_config = ConfigDict(extra="forbid"), or derive from ModuleConfig)'
            )

    def decorate(cls: M) -> M:
        if not (isinstance(cls, type) and issubclass(cls, Module)):
            raise ModuleDeclarationError(
                f"module '{name}': @module applies to subclasses of Module, got {cls!r}"
            )
        for hook in (*_HOOKS, "run"):
            fn = getattr(cls, hook, None)
            if fn is not None and not inspect.iscoroutinefunction(fn):
                raise ModuleDeclarationError(
                    f"module '{name}': {cls.__qualname__}.{hook} must be async"
                )
        rest = getattr(cls, "rest_router", None)
        if rest is not None and not callable(rest):
            raise ModuleDeclarationError(
                f"module '{name}': {cls.__qualname__}.rest_router must be a method"
            )
        caps = set()
        if rest is not None:
            caps.add("rest")
        if getattr(cls, "run", None) is not None:
            caps.add("background")
        spec = ModuleSpec(
            name=name,
            deps=dep_names,
            config=config_model,
            cls=cls,
            capabilities=frozenset(caps),
        )
        setattr(cls, _SPEC_ATTR, spec)
        return cls

    return decorate


def module_spec(cls: type[Module]) -> ModuleSpec:
    """Return the spec ``@module`` attached to ``cls`` (not one inherited from a base class)."""
    spec = cls.__dict__.get(_SPEC_ATTR) if isinstance(cls, type) else None
    if not isinstance(spec, ModuleSpec):
        raise ModuleDeclarationError(f"{cls!r} is not declared with @module(name=...)")
    return spec


def _check_name(name: object, what: str) -> None:
    if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
        raise ModuleDeclarationError(
            f"{what} {name!r} is invalid: use lowercase snake_case "
            f"(a letter, then letters, digits and single underscores)"
        )


def _models_in(
    model: type[BaseModel], path: str, seen: set[type[BaseModel]]
) -> Iterator[tuple[str, type[BaseModel]]]:
    """Yield ``model`` and every pydantic model reachable through its field annotations."""
    if model in seen:
        return
    seen.add(model)
    yield path, model
    for field_name, field in model.model_fields.items():
        for nested in _models_in_annotation(field.annotation):
            yield from _models_in(nested, f"{path}.{field_name}", seen)


def _models_in_annotation(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return
    for arg in typing.get_args(annotation):
        yield from _models_in_annotation(arg)
